//! Is the source the same performance as the reference, and how far apart are they?
//!
//! Both steps use the phase transform (GCC-PHAT, matching.md §6.2 A.1): the cross-spectrum
//! is divided by its magnitude, so every frequency counts alike. A steady bass note or a
//! repeated kick, which dominate a plain correlation and repeat every beat, then weigh no more
//! than the hiss that tells one beat from the next, and an EQ changes only the phase.
//!
//! 1. Coarse: block-averaged copies of the whole takes give a few candidate lags, and so do
//!    their block energy envelopes (which keep the timing of material whose content lies
//!    above the block averages' band, a telephone band-pass say).
//! 2. Fine: each candidate is refined at the full rate on three excerpts spread over the
//!    overlap; the candidate with the highest mean whitened peak wins, to the sample. Where
//!    the takes repeat (a loop station's), several lags peak alike: of those within
//!    [`TIE_SHARE`] of the best, the one with the most overlap wins (0 when they start
//!    together).
//!
//! 3. Decision: at that lag, the share of the reference's energy that a linear filter of the
//!    source explains (energy-weighted magnitude-squared coherence). An EQ leaves it at 1, a
//!    compressor lowers it a little; unrelated takes give about 0.005, and a small shared
//!    part (a click track, a repeated sample) only its share of the energy.

use std::ops::Range;

use realfft::RealFftPlanner;

use super::inputs::{AnalysisWarning, MIN_DURATION_S};
use super::phase::CrossSpectrum;
use super::spectrum::{TOP_FREQ_RATIO, padded_spectrum};
use crate::audio_io::Audio;
use realfft::num_complex::Complex;

/// Explained share of the reference's energy from which two recordings count as the same
/// performance. Unrelated noise gives 0.005 and two takes sharing identical chirps 0.03; the
/// same take through any factory preset 0.84 or more (see the tests).
pub const PAIRED_MIN_COHERENCE: f64 = 0.3;
/// The coarse search uses at most this many seconds of the reference.
const COARSE_REFERENCE_S: f64 = 60.0;
/// Coarse signals are block averages short enough for an FFT of at most 2^19 points.
const MAX_COARSE_LEN: usize = 1 << 18;
/// Candidate lags from each coarse search verified at the full rate.
const CANDIDATES: usize = 3;
/// Coarse peaks examined for the one with the most overlap among near-equals.
const TIED_CANDIDATES: usize = 12;
/// Peaks at least this share of the best count as equally good (a repeated loop's copies);
/// of those the lag with the most overlap is taken.
const TIE_SHARE: f64 = 0.9;
/// Band of the energy envelopes' correlation, Hz: from phrase and beat rates up to where an
/// envelope's fluctuations are the carrier's noise.
const ENVELOPE_BAND_HZ: (f64, f64) = (0.5, 60.0);
/// Samples searched either side of a coarse lag at the full rate, beyond one block.
const FINE_MARGIN: usize = 8;
/// Length of each full-rate excerpt, seconds (at most; rounded down to suit the FFT), and how
/// many are spread over the overlap.
const FINE_EXCERPT_S: f64 = 1.5;
const FINE_EXCERPTS: usize = 3;
/// Lowest frequency that takes part, Hz: below it rumble and DC offsets carry no timing.
const LOW_HZ: f64 = 40.0;
/// Highest frequency that takes part, Hz (or 0.45·fs): above it lossy codecs and low-passes
/// leave little but noise.
const HIGH_HZ: f64 = 12_000.0;
/// Frame of the coherence estimate, seconds (rounded up to a power of two): short enough
/// that a compressor's gain is nearly steady within it and 4.5 s give some 200 frames
/// (a bias of about 1/200 for unrelated signals).
const COHERENCE_FRAME_S: f64 = 0.04;
/// Bins weaker than this fraction of the median cross-spectrum magnitude are weighted down
/// in proportion: where one of the two is silent its phase is noise.
const FLOOR_OF_MEDIAN: f64 = 0.02;

/// Where the source sits in the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// `reference[n]` lines up with `source[n − lag_samples]`.
    pub lag_samples: i64,
    /// Share of the reference's energy a linear filter of the source explains at that lag,
    /// 0…1: 1 for a filtered copy, near 0 when unrelated.
    pub coherence: f64,
}

impl Alignment {
    /// Whether the two are the same performance.
    pub fn is_paired(&self) -> bool {
        self.coherence >= PAIRED_MIN_COHERENCE
    }
}

/// Block means of `x` in blocks of `factor` samples.
fn block_average(x: &[f32], factor: usize) -> Vec<f32> {
    x.chunks_exact(factor)
        .map(|c| c.iter().sum::<f32>() / factor as f32)
        .collect()
}

/// Block energies of `x` in blocks of `factor` samples, as levels (dB) with their mean removed:
/// the envelope, whatever band the content lies in.
fn block_envelope(x: &[f32], factor: usize) -> Vec<f32> {
    let levels: Vec<f32> = x
        .chunks_exact(factor)
        .map(|c| 10.0 * (c.iter().map(|v| v * v).sum::<f32>() / factor as f32 + 1e-10).log10())
        .collect();
    let mean = levels.iter().sum::<f32>() / levels.len().max(1) as f32;
    levels.iter().map(|l| l - mean).collect()
}

/// `n` with its overlap: how many samples the two takes share at lag `lag`.
fn overlap(reference_len: usize, source_len: usize, lag: i64) -> i64 {
    (reference_len as i64).min(source_len as i64 + lag) - lag.max(0)
}

/// Of `peaks` (lag, value), the best by value and, of those within [`TIE_SHARE`] of it, the
/// one with the most overlap; then the best others, `count` in all.
fn with_most_overlap<T: Copy + Into<f64>>(
    mut peaks: Vec<(i64, T)>,
    count: usize,
    overlap_of: impl Fn(i64) -> i64,
) -> Vec<(i64, T)> {
    let Some(best) = peaks.iter().map(|p| p.1.into()).reduce(f64::max) else {
        return peaks;
    };
    let widest = peaks
        .iter()
        .filter(|p| p.1.into() >= TIE_SHARE * best)
        .max_by_key(|p| (overlap_of(p.0), std::cmp::Reverse(p.0.abs())))
        .copied();
    if let Some(w) = widest {
        peaks.retain(|p| p.0 != w.0);
        peaks.insert(0, w);
    }
    peaks.truncate(count);
    peaks
}

/// Whitened cross-correlation `c[k] ∝ Σ r[n]·s[n−k]` over frequencies `band_hz`, scaled so a
/// pure delay peaks at 1. Index `k mod len` holds lag `k`; `len` ≥ `r.len() + s.len()` keeps
/// lags −(len s − 1)…(len r − 1) apart.
fn whitened_xcorr(
    planner: &mut RealFftPlanner<f32>,
    r: &[f32],
    s: &[f32],
    sample_rate: f64,
    band_hz: (f64, f64),
) -> Vec<f32> {
    let len = (r.len() + s.len()).next_power_of_two();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let (fr, fs) = (padded_spectrum(&*forward, r), padded_spectrum(&*forward, s));
    let bin_hz = sample_rate / len as f64;
    let first = ((band_hz.0 / bin_hz).ceil() as usize).max(1);
    let last = ((band_hz.1 / bin_hz) as usize).min(len / 2 - 1);
    let mut cross = vec![Complex::new(0.0f32, 0.0); fr.len()];
    if first > last {
        return vec![0.0; len];
    }
    for k in first..=last {
        cross[k] = fr[k] * fs[k].conj();
    }
    let mut magnitudes: Vec<f32> = cross[first..=last].iter().map(|c| c.norm()).collect();
    let mid = magnitudes.len() / 2;
    let median = *magnitudes.select_nth_unstable_by(mid, f32::total_cmp).1;
    let floor = (FLOOR_OF_MEDIAN as f32 * median).max(f32::MIN_POSITIVE);
    for c in &mut cross[first..=last] {
        *c /= c.norm() + floor;
    }
    let mut out = inverse.make_output_vec();
    inverse
        .process(&mut cross, &mut out)
        .expect("sizes from plan");
    // The inverse sums each bin and its mirror image: a pure delay adds up to 2·bins.
    let scale = 1.0 / (2 * (last - first + 1)) as f32;
    out.iter_mut().for_each(|v| *v *= scale);
    out
}

/// The `count` highest local maxima of `c` among lags `lags`, best first, as (lag, value).
fn best_peaks(c: &[f32], lags: Range<i64>, count: usize) -> Vec<(i64, f32)> {
    let len = c.len();
    let at = |lag: i64| c[lag.rem_euclid(len as i64) as usize];
    let mut peaks: Vec<(i64, f32)> = lags
        .clone()
        .filter(|&lag| {
            let v = at(lag);
            (lag == lags.start || v > at(lag - 1)) && (lag + 1 == lags.end || v >= at(lag + 1))
        })
        .map(|lag| (lag, at(lag)))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.abs().cmp(&b.0.abs())));
    peaks.truncate(count);
    peaks
}

/// Reference samples `n` that meet source samples `n − lag` for every `lag` in
/// `centre ± margin`, as excerpts of about [`FINE_EXCERPT_S`] centred at 1/4, 2/4 and 3/4 of
/// that overlap (recordings often start and end in silence). Empty when the overlap is too
/// short.
fn excerpts(
    reference: &[f32],
    source: &[f32],
    sample_rate: f64,
    centre: i64,
    margin: i64,
) -> Vec<Range<usize>> {
    let start = (centre + margin).max(0);
    let end = (reference.len() as i64).min(source.len() as i64 + centre - margin);
    // At most half the power of two below 2·FINE_EXCERPT_S, less the margins: the excerpt and
    // its source span then fit one FFT of that size.
    let fft_len = 1i64 << (2.0 * FINE_EXCERPT_S * sample_rate).log2().floor() as u32;
    let excerpt = (fft_len / 2 - 2 * margin).min(end - start);
    if excerpt < 2 * margin + 1 {
        return Vec::new();
    }
    (0..FINE_EXCERPTS as i64)
        .map(|i| {
            let middle = start + (end - start) * (i + 1) / (FINE_EXCERPTS as i64 + 1);
            let a = (middle - excerpt / 2).clamp(start, end - excerpt);
            a as usize..(a + excerpt) as usize
        })
        .collect()
}

/// The band the full-rate measures use: [`LOW_HZ`] to [`HIGH_HZ`] (at most
/// [`TOP_FREQ_RATIO`]·fs).
fn fine_band_hz(sample_rate: f64) -> (f64, f64) {
    (LOW_HZ, HIGH_HZ.min(TOP_FREQ_RATIO * sample_rate))
}

/// Refines `centre` to the sample on [`excerpts`]: the lag and its whitened peak (the mean
/// over the excerpts that are not silent).
fn refine(
    planner: &mut RealFftPlanner<f32>,
    reference: &[f32],
    source: &[f32],
    sample_rate: f64,
    centre: i64,
    margin: i64,
) -> Option<(i64, f64)> {
    let band = fine_band_hz(sample_rate);
    let mut sum = vec![0.0f64; (2 * margin + 1) as usize];
    let mut used = 0;
    for range in excerpts(reference, source, sample_rate, centre, margin) {
        let r = &reference[range.clone()];
        // Source from start − centre − margin: r[n] meets s[n + d] at lag centre + margin − d.
        let b = (range.start as i64 - centre - margin) as usize;
        let s = &source[b..b + r.len() + 2 * margin as usize];
        if r.iter().all(|&v| v == 0.0) || s.iter().all(|&v| v == 0.0) {
            continue;
        }
        let c = whitened_xcorr(planner, r, s, sample_rate, band);
        let len = c.len();
        for (d, total) in sum.iter_mut().enumerate() {
            *total += c[(len - d) % len] as f64;
        }
        used += 1;
    }
    if used == 0 {
        return None;
    }
    let (d, peak) = sum
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .expect("2·margin + 1 lags");
    Some((centre + margin - d as i64, peak / used as f64))
}

/// The share of the reference's energy (within the band that takes part) that a linear
/// filter of the source explains at `lag` ([`CrossSpectrum::explained_share`]), from Welch
/// averages over [`excerpts`].
fn explained_share(reference: &[f32], source: &[f32], sample_rate: f64, lag: i64) -> f64 {
    let frame = ((COHERENCE_FRAME_S * sample_rate) as usize).next_power_of_two();
    let mut cross = CrossSpectrum::new(frame);
    for range in excerpts(reference, source, sample_rate, lag, 0) {
        let b = (range.start as i64 - lag) as usize;
        cross.add(&source[b..b + range.len()], &reference[range]);
    }
    cross.explained_share(fine_band_hz(sample_rate), sample_rate)
}

/// Find the lag of `source` in `reference` (both mono, same rate).
pub fn align(reference: &[f32], source: &[f32], sample_rate: f64) -> Alignment {
    let unrelated = Alignment {
        lag_samples: 0,
        coherence: 0.0,
    };
    if reference.is_empty() || source.is_empty() {
        return unrelated;
    }
    let ref_len = reference
        .len()
        .min((COARSE_REFERENCE_S * sample_rate) as usize);
    let factor = ((ref_len + source.len()) / MAX_COARSE_LEN).max(4);
    let mut planner = RealFftPlanner::<f32>::new();
    let coarse_fs = sample_rate / factor as f64;
    let lags = -(source.len() as i64 / factor as i64) + 1..(ref_len / factor) as i64;
    let overlap_of = |lag: i64| overlap(reference.len(), source.len(), lag * factor as i64);
    // The block means (the content below the coarse rate's Nyquist) and the envelopes, one on
    // each core.
    let coarse = |block: fn(&[f32], usize) -> Vec<f32>,
                  band: (f64, f64),
                  planner: &mut RealFftPlanner<f32>| {
        let (r, s) = (block(&reference[..ref_len], factor), block(source, factor));
        let c = whitened_xcorr(planner, &r, &s, coarse_fs, band);
        with_most_overlap(
            best_peaks(&c, lags.clone(), TIED_CANDIDATES),
            CANDIDATES,
            overlap_of,
        )
    };
    let envelope_band = (ENVELOPE_BAND_HZ.0, ENVELOPE_BAND_HZ.1.min(coarse_fs / 2.0));
    let (means, envelopes) = std::thread::scope(|scope| {
        let envelopes =
            scope.spawn(|| coarse(block_envelope, envelope_band, &mut RealFftPlanner::new()));
        let means = coarse(block_average, (LOW_HZ, coarse_fs / 2.0), &mut planner);
        (means, envelopes.join().expect("the search does not panic"))
    });
    let mut candidates = Vec::new();
    for (lag, _) in means.into_iter().chain(envelopes) {
        if !candidates.contains(&lag) {
            candidates.push(lag);
        }
    }
    let margin = (factor + FINE_MARGIN) as i64;
    // The candidates are refined independently: half of them on a second core.
    let refined = |lags: &[i64], planner: &mut RealFftPlanner<f32>| -> Vec<(i64, f64)> {
        lags.iter()
            .filter_map(|&lag| {
                let centre = lag * factor as i64;
                refine(planner, reference, source, sample_rate, centre, margin)
            })
            .collect()
    };
    let (first, rest) = candidates.split_at(candidates.len() / 2);
    let refinements: Vec<(i64, f64)> = std::thread::scope(|scope| {
        let first = scope.spawn(|| refined(first, &mut RealFftPlanner::new()));
        let rest = refined(rest, &mut planner);
        let mut all = first.join().expect("refining does not panic");
        all.extend(rest);
        all
    });
    let best = with_most_overlap(refinements, 1, |lag| {
        overlap(reference.len(), source.len(), lag)
    })
    .into_iter()
    .next();
    best.map_or(unrelated, |(lag_samples, _)| Alignment {
        lag_samples,
        coherence: explained_share(reference, source, sample_rate, lag_samples),
    })
}

/// The two recordings as the fits see them: channels and mid at their rates, the alignment and
/// the pairing decision. When paired, both cover exactly their overlap, lined up (views into
/// the inputs, no copies).
#[derive(Clone)]
pub struct Takes<'a> {
    pub ref_channels: Vec<&'a [f32]>,
    pub src_channels: Vec<&'a [f32]>,
    pub ref_mid: &'a [f32],
    pub src_mid: &'a [f32],
    pub ref_fs: f64,
    pub src_fs: f64,
    /// Where the source sits in the reference, when their rates agree.
    pub alignment: Option<Alignment>,
    /// The same performance: the coherence says so and the overlap is long enough to analyse
    /// ([`MIN_DURATION_S`]).
    pub paired: bool,
    /// The whole inputs, for lining them up again ([`Takes::realigned`]).
    whole: (&'a Audio, &'a Audio, &'a [f32], &'a [f32]),
}

/// Samples either side of the pairing's lag searched once the EQ is known
/// ([`residual_lag`]): a steep band-pass's group delay is a few samples.
pub const RESIDUAL_LAG_SAMPLES: i64 = 8;

impl<'a> Takes<'a> {
    /// Lines `source` up with `reference` (when their sample rates agree; otherwise warns) and
    /// decides whether they are the same performance. `ref_mid` and `src_mid` are their mids.
    pub fn pair(
        reference: &'a Audio,
        source: &'a Audio,
        ref_mid: &'a [f32],
        src_mid: &'a [f32],
        warnings: &mut Vec<AnalysisWarning>,
    ) -> Self {
        let ref_fs = reference.sample_rate as f64;
        let alignment = if source.sample_rate == reference.sample_rate {
            Some(align(ref_mid, src_mid, ref_fs))
        } else {
            warnings.push(AnalysisWarning::RateMismatch {
                reference: reference.sample_rate,
                source: source.sample_rate,
            });
            None
        };
        // Paired also needs an overlap long enough to analyse.
        let paired = alignment.is_some_and(|a| {
            a.is_paired()
                && overlap(reference.frames(), source.frames(), a.lag_samples) as f64
                    >= MIN_DURATION_S * ref_fs
        });
        Self::lined_up((reference, source, ref_mid, src_mid), alignment, paired)
    }

    /// The same takes lined up at `lag_samples` instead (still paired).
    pub fn realigned(&self, lag_samples: i64) -> Takes<'a> {
        let alignment = self.alignment.map(|a| Alignment { lag_samples, ..a });
        Self::lined_up(self.whole, alignment, self.paired)
    }

    /// The views: when paired, both cover exactly the overlap at the alignment's lag.
    fn lined_up(
        whole: (&'a Audio, &'a Audio, &'a [f32], &'a [f32]),
        alignment: Option<Alignment>,
        paired: bool,
    ) -> Self {
        let (reference, source, ref_mid, src_mid) = whole;
        let (ref_range, src_range) = match alignment {
            Some(a) if paired => {
                let lag = a.lag_samples;
                let start = lag.max(0) as usize;
                let end = (reference.frames() as i64).min(source.frames() as i64 + lag) as usize;
                let shift = |n: usize| (n as i64 - lag) as usize;
                (start..end, shift(start)..shift(end))
            }
            _ => (0..reference.frames(), 0..source.frames()),
        };
        let view = |audio: &'a Audio, range: &Range<usize>| -> Vec<&'a [f32]> {
            audio.channels.iter().map(|c| &c[range.clone()]).collect()
        };
        Self {
            ref_channels: view(reference, &ref_range),
            src_channels: view(source, &src_range),
            ref_mid: &ref_mid[ref_range],
            src_mid: &src_mid[src_range],
            ref_fs: reference.sample_rate as f64,
            src_fs: source.sample_rate as f64,
            alignment,
            paired,
            whole,
        }
    }

    /// The whole reference's and source's mids (not only the overlap).
    pub fn whole_mids(&self) -> (&'a [f32], &'a [f32]) {
        (self.whole.2, self.whole.3)
    }
}

/// The lag at which the reference lines up with the source through the fitted EQ
/// (`eq_source_mid`, the whole source's mid), near `lag` (±[`RESIDUAL_LAG_SAMPLES`]). The
/// pairing's lag includes the reference chain's group delay (a few samples for a steep
/// band-pass); once the EQ reproduces that delay, what remains is the takes' own offset,
/// which is what the waveform comparisons need.
pub fn residual_lag(
    reference_mid: &[f32],
    eq_source_mid: &[f32],
    sample_rate: f64,
    lag: i64,
) -> i64 {
    let mut planner = RealFftPlanner::<f32>::new();
    refine(
        &mut planner,
        reference_mid,
        eq_source_mid,
        sample_rate,
        lag,
        RESIDUAL_LAG_SAMPLES,
    )
    .map_or(lag, |(l, _)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analysis::test_noise as noise;
    use crate::cli::synth::beatbox_loop;
    use crate::dsp::ChainSettings;
    use crate::preset::factory::factory_presets;

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
            assert!(a.coherence > 0.9, "{a:?}");
            assert!(a.is_paired());
        }
    }

    #[test]
    fn different_takes_are_not_paired() {
        let fs = 44_100.0;
        let a = align(&noise(441_000, 1), &noise(441_000, 2), fs);
        assert!(a.coherence < 0.02, "{a:?}");
        assert!(!a.is_paired());
    }

    fn processed(settings: &ChainSettings, dry: &[f32], fs: f64) -> Vec<f32> {
        crate::analysis::render(settings, &[dry.to_vec()], fs).remove(0)
    }

    /// A strictly periodic loop (the same kick and bass note every bar, fresh noise in the
    /// snares and hats) through every factory preset, at several offsets and lengths: the
    /// repeats must not pull the lag off by a beat, nor the bass note by a fraction of its
    /// period.
    /// A loop station's take: a 40 s loop played 4½ times (3 minutes). Every copy of the loop
    /// lines up as well as the first; the lag with the most overlap is the one (0 when both
    /// takes start together, the other shifts when one starts later).
    #[test]
    fn a_repeated_loop_lines_up_at_the_lag_with_the_most_overlap() {
        let fs = 22_050.0;
        let period = (40.0 * fs) as usize;
        let one = noise(period, 41);
        let take: Vec<f32> = one.iter().cycle().take(period * 9 / 2).copied().collect();
        let wet: Vec<f32> = take.iter().map(|v| 0.7 * v).collect();
        assert_eq!(align(&wet, &take, fs).lag_samples, 0);
        // The reference starts 5 s into the take: lined up at −5 s, not a loop earlier.
        let late = (5.0 * fs) as usize;
        assert_eq!(align(&wet[late..], &take, fs).lag_samples, -(late as i64));
    }

    #[test]
    fn a_periodic_loop_through_any_preset_lines_up_to_the_sample() {
        let fs = 44_100.0;
        for seconds in [30.0, 90.0] {
            let dry = beatbox_loop(fs as f32, seconds);
            for (_, preset) in factory_presets() {
                let wet = processed(&preset.settings, &dry, fs);
                // A band-pass below 4 kHz (Telephone) delays its whole band by a few samples
                // of group delay; that is where the whitened peak sits. Every other preset
                // must line up exactly.
                let band_pass = preset.settings.eq.bands.iter().any(|b| {
                    b.enabled && b.kind == crate::dsp::FilterKind::HighCut && b.freq_hz < 4_000.0
                });
                let tolerance = if band_pass { 4 } else { 0 };
                for lag in [0i64, 3_000, -20_000] {
                    let (r, s) = if lag >= 0 {
                        let mut r = vec![0.0; lag as usize];
                        r.extend(&wet);
                        (r, dry.clone())
                    } else {
                        (wet[(-lag) as usize..].to_vec(), dry.clone())
                    };
                    let a = align(&r, &s, fs);
                    assert!(
                        (a.lag_samples - lag).abs() <= tolerance,
                        "{} {seconds} s, lag {lag}: {a:?}",
                        preset.name
                    );
                    assert!(a.coherence > 0.8, "{} {seconds} s: {a:?}", preset.name);
                }
            }
        }
    }
}
