//! Is the source the same performance as the reference, and how far apart are they?
//!
//! A coarse cross-correlation (FFT, realfft) of block-averaged copies finds the lag over the
//! whole take; a direct search at the full rate around it refines the lag to one sample. The
//! normalised correlation at that lag decides whether the pair is the same take
//! (matching.md §6.2 A.1).

use realfft::RealFftPlanner;

/// Normalised correlation above which two recordings count as the same performance. Two
/// different takes of noise-like material correlate near 0; the same take through an EQ of
/// ±12 dB and a compressor stays well above 0.5 in the block-averaged (low-passed) domain.
pub const PAIRED_MIN_CORRELATION: f64 = 0.4;
/// The coarse search uses at most this many seconds of the reference.
const COARSE_REFERENCE_S: f64 = 60.0;
/// Coarse signals are block averages short enough for an FFT of at most 2^20 points.
const MAX_COARSE_LEN: usize = 1 << 18;
/// Samples searched either side of the coarse lag at the full rate: one block and a margin.
const FINE_MARGIN: usize = 8;
/// Seconds of audio used for the full-rate refinement.
const FINE_EXCERPT_S: f64 = 3.0;

/// Where the source sits in the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// `reference[n]` lines up with `source[n − lag_samples]`.
    pub lag_samples: i64,
    /// Normalised correlation at that lag over the overlap, −1…1.
    pub correlation: f64,
}

impl Alignment {
    /// Whether the two are the same performance.
    pub fn is_paired(&self) -> bool {
        self.correlation >= PAIRED_MIN_CORRELATION
    }
}

/// Block means of `x` in blocks of `factor` samples.
fn block_average(x: &[f32], factor: usize) -> Vec<f32> {
    x.chunks_exact(factor)
        .map(|c| c.iter().sum::<f32>() / factor as f32)
        .collect()
}

/// Cross-correlation `c[k] = Σ r[n]·s[n−k]` for lags −(len s − 1)…(len r − 1), returned as
/// (lag, value) of the maximum.
fn best_lag_fft(r: &[f32], s: &[f32]) -> (i64, f64) {
    let len = (r.len() + s.len()).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let mut a = forward.make_input_vec();
    a.iter_mut().zip(r).for_each(|(d, &v)| *d = v as f64);
    let mut b = forward.make_input_vec();
    b.iter_mut().zip(s).for_each(|(d, &v)| *d = v as f64);
    let mut fa = forward.make_output_vec();
    let mut fb = forward.make_output_vec();
    forward.process(&mut a, &mut fa).expect("sizes from plan");
    forward.process(&mut b, &mut fb).expect("sizes from plan");
    for (x, y) in fa.iter_mut().zip(&fb) {
        *x *= y.conj();
    }
    let mut c = inverse.make_output_vec();
    inverse.process(&mut fa, &mut c).expect("sizes from plan");
    let mut best = (0i64, f64::NEG_INFINITY);
    for (k, &v) in c.iter().enumerate() {
        let lag = if k < len / 2 {
            k as i64
        } else {
            k as i64 - len as i64
        };
        if lag > -(s.len() as i64) && lag < r.len() as i64 && v > best.1 {
            best = (lag, v);
        }
    }
    best
}

/// Normalised correlation of `r[n]` and `s[n − lag]` over `n` in `range` of the overlap.
fn correlation_at(r: &[f32], s: &[f32], lag: i64, max_len: usize) -> f64 {
    let start = lag.max(0) as usize;
    correlation_over(r, s, lag, start..start.saturating_add(max_len))
}

/// Normalised correlation of `r[n]` and `s[n − lag]` for `n` in `range` (cut to the overlap).
fn correlation_over(r: &[f32], s: &[f32], lag: i64, range: std::ops::Range<usize>) -> f64 {
    let start = range.start.max(lag.max(0) as usize);
    let end = (r.len() as i64).min(s.len() as i64 + lag).max(0) as usize;
    let end = end.min(range.end);
    let (mut rs, mut rr, mut ss) = (0.0f64, 0.0f64, 0.0f64);
    for n in start..end {
        let a = r[n] as f64;
        let b = s[(n as i64 - lag) as usize] as f64;
        rs += a * b;
        rr += a * a;
        ss += b * b;
    }
    if rr == 0.0 || ss == 0.0 {
        0.0
    } else {
        rs / (rr * ss).sqrt()
    }
}

/// Find the lag of `source` in `reference` (both mono, same rate).
pub fn align(reference: &[f32], source: &[f32], sample_rate: f64) -> Alignment {
    if reference.is_empty() || source.is_empty() {
        return Alignment {
            lag_samples: 0,
            correlation: 0.0,
        };
    }
    let ref_len = reference
        .len()
        .min((COARSE_REFERENCE_S * sample_rate) as usize);
    let factor = ((ref_len + source.len()) / MAX_COARSE_LEN).max(4);
    let r_all = block_average(reference, factor);
    let s_all = block_average(source, factor);
    let (coarse_lag, _) = best_lag_fft(&r_all[..ref_len / factor], &s_all);
    let centre = coarse_lag * factor as i64;
    let margin = (factor + FINE_MARGIN) as i64;
    let excerpt = (FINE_EXCERPT_S * sample_rate) as usize;
    // The refinement looks at the middle of the overlap: recordings often start in silence.
    let overlap_start = centre.max(0) as usize;
    let overlap_end = (reference.len() as i64)
        .min(source.len() as i64 + centre)
        .max(0) as usize;
    let middle = (overlap_start + overlap_end) / 2;
    let window = middle.saturating_sub(excerpt / 2)..middle + excerpt / 2;
    let mut best = (centre, f64::NEG_INFINITY);
    for lag in centre - margin..=centre + margin {
        let c = correlation_over(reference, source, lag, window.clone());
        if c > best.1 {
            best = (lag, c);
        }
    }
    // The decision uses the block-averaged (low-passed) signals over the whole overlap:
    // robust to treble EQ, and a long overlap keeps chance correlation near zero.
    let coarse_corr = correlation_at(&r_all, &s_all, best.0.div_euclid(factor as i64), usize::MAX);
    Alignment {
        lag_samples: best.0,
        correlation: coarse_corr.max(best.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analysis::test_noise as noise;

    #[test]
    fn finds_a_delay_to_the_sample_in_either_direction() {
        let fs = 48_000.0;
        let x = noise(10 * 48_000, 7);
        for lag in [0i64, 1234, -5_001] {
            let (r, s): (Vec<f32>, Vec<f32>) = if lag >= 0 {
                let mut r = vec![0.0; lag as usize];
                r.extend(x.iter().map(|v| v * 0.5));
                (r, x.clone())
            } else {
                (x[(-lag) as usize..].to_vec(), x.clone())
            };
            let a = align(&r, &s, fs);
            assert_eq!(a.lag_samples, lag);
            assert!(a.correlation > 0.99, "{a:?}");
            assert!(a.is_paired());
        }
    }

    #[test]
    fn different_takes_are_not_paired() {
        let fs = 44_100.0;
        let a = align(&noise(441_000, 1), &noise(441_000, 2), fs);
        assert!(a.correlation.abs() < 0.1, "{a:?}");
        assert!(!a.is_paired());
    }
}
