//! The objective metrics of matching.md §5 that the quality tests and the preset's
//! `analysis` block report: activity gating (M0), 1/3-octave LTAS error (M1), integrated
//! loudness (M2, in [`super::loudness`]), level spread and crest factor (M4/M5), waveform SNR.
//!
//! Stereo signals are measured on their mid `(L+R)/2` ([`mid`]); loudness uses all channels.

use super::spectrum::{PowerSpectrum, TOP_FREQ_RATIO, welch_power_f32_on_two_cores};

/// Short-term level frame (M0), seconds.
pub const FRAME_S: f64 = 0.050;
/// Short-term level hop (M0), seconds.
pub const HOP_S: f64 = 0.010;
/// Frames quieter than this are silence, dBFS.
pub const SILENCE_DB: f64 = -70.0;
/// Frames more than this far below the 95th percentile are inactive, dB.
pub const ACTIVITY_RANGE_DB: f64 = 30.0;

/// Mid channel: the mean of all channels.
pub fn mid(channels: &[&[f32]]) -> Vec<f32> {
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut out = vec![0.0; len];
    mid_into(channels, &mut out);
    out
}

/// [`mid`] into `out`, as long as the shortest channel.
pub fn mid_into(channels: &[&[f32]], out: &mut [f32]) {
    match channels {
        [only] => out.iter_mut().zip(*only).for_each(|(m, v)| *m = *v),
        // The common case, in a loop that vectorises.
        [left, right] => {
            for ((m, l), r) in out.iter_mut().zip(*left).zip(*right) {
                *m = (l + r) * 0.5;
            }
        }
        _ => {
            out.fill(0.0);
            for c in channels {
                out.iter_mut().zip(*c).for_each(|(s, v)| *s += v);
            }
            let scale = 1.0 / channels.len().max(1) as f32;
            out.iter_mut().for_each(|s| *s *= scale);
        }
    }
}

/// Σ x², in f64 over four lanes (a single running sum cannot be reordered, so it would not
/// vectorise).
pub fn sum_of_squares(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(c) {
            *lane += (v * v) as f64;
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|&v| (v * v) as f64).sum();
    lanes.iter().sum::<f64>() + rest
}

/// Running sum of squares: `out[i]` = Σ x[..i]², so any window's energy is one subtraction.
pub fn cumulative_energy(x: &[f32]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + 1);
    let mut sum = 0.0;
    out.push(0.0);
    for &v in x {
        sum += v as f64 * v as f64;
        out.push(sum);
    }
    out
}

/// Mean-square level (dB) of each `frame_s` window, one every `hop_s`.
pub fn frame_levels_db(x: &[f32], sample_rate: f64, frame_s: f64, hop_s: f64) -> Vec<f64> {
    let frame = ((frame_s * sample_rate).round() as usize).max(1);
    let hop = ((hop_s * sample_rate).round() as usize).max(1);
    window_energies(x, frame, hop)
        .into_iter()
        .map(|e| 10.0 * (e / frame as f64 + 1e-12).log10())
        .collect()
}

/// Energy of each `frame`-sample window of `x`, one every `hop` samples. When the frame is a
/// whole number of hops, sums per hop are added up (no full-length running sum: a 3-minute
/// file would need 64 MB for it).
pub fn window_energies(x: &[f32], frame: usize, hop: usize) -> Vec<f64> {
    let count = if x.len() >= frame {
        (x.len() - frame) / hop + 1
    } else {
        0
    };
    if frame.is_multiple_of(hop) {
        let per = frame / hop;
        let chunks: Vec<f64> = x.chunks(hop).map(sum_of_squares).collect();
        (0..count)
            .map(|i| chunks[i..i + per].iter().sum())
            .collect()
    } else {
        let energy = cumulative_energy(x);
        (0..count)
            .map(|i| energy[i * hop + frame] - energy[i * hop])
            .collect()
    }
}

/// Value at fraction `p` of the sorted data, index `round((n−1)·p)` (libebur128's
/// convention). `sorted` must be ascending and non-empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sorted copy (NaN-free input).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// The activity gate (M0) for frame levels: above [`SILENCE_DB`] and within
/// [`ACTIVITY_RANGE_DB`] of the 95th percentile. Returns the gate level, dB.
pub fn activity_gate_db(levels_db: &[f64]) -> f64 {
    let loud: Vec<f64> = levels_db
        .iter()
        .copied()
        .filter(|&l| l > SILENCE_DB)
        .collect();
    if loud.is_empty() {
        return f64::INFINITY;
    }
    (percentile(&sorted(&loud), 0.95) - ACTIVITY_RANGE_DB).max(SILENCE_DB)
}

/// Gated 50 ms levels (M0), dB, in time order.
pub fn active_levels_db(x: &[f32], sample_rate: f64) -> Vec<f64> {
    let levels = frame_levels_db(x, sample_rate, FRAME_S, HOP_S);
    let gate = activity_gate_db(&levels);
    levels.into_iter().filter(|&l| l > gate).collect()
}

/// Spread of short-term levels: 95th minus 10th percentile of the gated 50 ms levels, dB.
pub fn level_spread_db(x: &[f32], sample_rate: f64) -> f64 {
    spread_of_levels_db(&active_levels_db(x, sample_rate))
}

/// [`level_spread_db`] from the gated levels ([`active_levels_db`]).
fn spread_of_levels_db(levels: &[f64]) -> f64 {
    let levels = sorted(levels);
    if levels.is_empty() {
        return 0.0;
    }
    percentile(&levels, 0.95) - percentile(&levels, 0.10)
}

/// Crest factor (M4): sample peak over the RMS of the active 50 ms frames, dB.
pub fn crest_factor_db(x: &[f32], sample_rate: f64) -> f64 {
    crest_of_levels_db(x, &active_levels_db(x, sample_rate))
}

/// [`crest_factor_db`] from `x`'s gated levels ([`active_levels_db`]).
fn crest_of_levels_db(x: &[f32], levels: &[f64]) -> f64 {
    let peak = crate::dsp::peak_magnitude(x) as f64;
    if levels.is_empty() || peak == 0.0 {
        return 0.0;
    }
    let mean_square =
        levels.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / levels.len() as f64;
    20.0 * peak.log10() - 10.0 * mean_square.log10()
}

/// Waveform SNR of `x` against the reference `r` over their common length, dB:
/// `10·log10(Σr² / Σ(r−x)²)`.
pub fn snr_db(x: &[f32], r: &[f32]) -> f64 {
    let (mut signal, mut noise) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(r) {
        signal += b as f64 * b as f64;
        noise += (b as f64 - a as f64).powi(2);
    }
    10.0 * (signal.max(1e-30) / noise.max(1e-30)).log10()
}

/// Welch long-term spectrum over the active frames of `x` (M1 step 1: Hann, 75 % overlap,
/// a frame is active when its level passes the M0 gate among all frames), on two cores, its
/// FFTs in f32 ([`welch_power_f32_on_two_cores`]).
pub fn gated_spectrum(x: &[f32], sample_rate: f64, fft_len: usize) -> PowerSpectrum {
    let hop = fft_len / 4;
    let levels: Vec<f64> = window_energies(x, fft_len, hop)
        .into_iter()
        .map(|e| 10.0 * (e / fft_len as f64 + 1e-12).log10())
        .collect();
    let starts: Vec<usize> = (0..levels.len()).map(|i| i * hop).collect();
    let gate = activity_gate_db(&levels);
    let active: Vec<usize> = starts
        .iter()
        .zip(&levels)
        .filter(|(_, l)| **l > gate)
        .map(|(s, _)| *s)
        .collect();
    welch_power_f32_on_two_cores(x, sample_rate, fft_len, &active)
}

/// The LTAS error's differences have their mean over this band removed, Hz (M1 step 3; the
/// target curve's level is set over the same band).
pub const LEVEL_BAND_HZ: (f64, f64) = (100.0, 8000.0);
/// ... and are judged over this band, Hz (M1 step 4; below [`TOP_FREQ_RATIO`]·fs too).
pub const LTAS_BAND_HZ: (f64, f64) = (50.0, 16_000.0);

/// ISO 266 third-octave centres from 25 Hz to 20 kHz (`1000·2^(b/3)`, b = −16…13), Hz.
pub fn third_octave_centres_hz() -> Vec<f64> {
    (-16..=13)
        .map(|b| 1000.0 * 2f64.powf(b as f64 / 3.0))
        .collect()
}

/// Band levels (dB) of a spectrum at the third-octave centres, edges `fc·2^(±1/6)`.
pub fn third_octave_levels_db(s: &PowerSpectrum) -> Vec<f64> {
    third_octave_centres_hz()
        .iter()
        .map(|&fc| {
            let edge = 2f64.powf(1.0 / 6.0);
            10.0 * s.band_power(fc / edge, fc * edge).max(1e-20).log10()
        })
        .collect()
}

/// 1/3-octave LTAS error of `x` against `r` (M1 steps 3–4): the band differences with their
/// mean over [`LEVEL_BAND_HZ`] removed, then RMS and maximum over [`LTAS_BAND_HZ`] (and below
/// [`TOP_FREQ_RATIO`]·fs).
/// Returns `(rms_db, max_db)`.
pub fn ltas_error_db(x: &[f32], r: &[f32], sample_rate: f64) -> (f64, f64) {
    // One spectrum after the other: each sums its frames on both cores.
    let (lx, lr) = (
        ltas_levels_db(x, sample_rate),
        ltas_levels_db(r, sample_rate),
    );
    ltas_error_from_levels(&lx, &lr, sample_rate)
}

/// The third-octave levels of `x`'s gated long-term spectrum, dB: what [`ltas_error_db`]
/// compares.
pub fn ltas_levels_db(x: &[f32], sample_rate: f64) -> Vec<f64> {
    let fft_len = super::spectrum::fft_len_for(sample_rate);
    third_octave_levels_db(&gated_spectrum(x, sample_rate, fft_len))
}

/// [`ltas_error_db`] from the two signals' [`ltas_levels_db`].
pub fn ltas_error_from_levels(lx: &[f64], lr: &[f64], sample_rate: f64) -> (f64, f64) {
    let centres = third_octave_centres_hz();
    let diffs: Vec<(f64, f64)> = centres
        .iter()
        .zip(lx.iter().zip(lr))
        .map(|(&f, (a, b))| (f, a - b))
        .collect();
    let (mid_lo, mid_hi) = LEVEL_BAND_HZ;
    let in_mids: Vec<f64> = diffs
        .iter()
        .filter(|(f, _)| (mid_lo..=mid_hi).contains(f))
        .map(|(_, d)| *d)
        .collect();
    let offset = in_mids.iter().sum::<f64>() / in_mids.len() as f64;
    let (low_hz, high_hz) = LTAS_BAND_HZ;
    let top_hz = high_hz.min(TOP_FREQ_RATIO * sample_rate);
    let errors: Vec<f64> = diffs
        .iter()
        .filter(|(f, _)| *f >= low_hz && *f <= top_hz)
        .map(|(_, d)| d - offset)
        .collect();
    let rms = (errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64).sqrt();
    let max = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    (rms, max)
}

/// The metrics the quality tests bound, for one signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalMetrics {
    /// Integrated loudness, LUFS (−70 when nothing passes the gate).
    pub loudness_lufs: f64,
    /// P95 − P10 of gated 50 ms levels, dB.
    pub level_spread_db: f64,
    /// Peak over gated RMS, dB.
    pub crest_factor_db: f64,
}

impl SignalMetrics {
    /// Measure `channels` (loudness over all channels, the rest on the mid).
    pub fn measure(channels: &[&[f32]], sample_rate: f64) -> Self {
        Self::with_mid(channels, &mid(channels), sample_rate)
    }

    /// The same, with the mid of `channels` already made.
    pub fn with_mid(channels: &[&[f32]], mid: &[f32], sample_rate: f64) -> Self {
        Self::with_levels(
            channels,
            mid,
            &active_levels_db(mid, sample_rate),
            sample_rate,
        )
    }

    /// The same, with the mid's gated levels ([`active_levels_db`]) already made.
    pub fn with_levels(
        channels: &[&[f32]],
        mid: &[f32],
        levels_db: &[f64],
        sample_rate: f64,
    ) -> Self {
        let loudness = super::loudness::integrated_loudness(channels, sample_rate);
        Self::with_loudness(loudness, mid, levels_db)
    }

    /// The same, with the channels' integrated loudness already read (`None`: all below the
    /// gate).
    pub fn with_loudness(loudness_lufs: Option<f64>, mid: &[f32], levels_db: &[f64]) -> Self {
        Self {
            loudness_lufs: loudness_lufs.unwrap_or(SILENCE_DB),
            level_spread_db: spread_of_levels_db(levels_db),
            crest_factor_db: crest_of_levels_db(mid, levels_db),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analysis::test_noise as noise;

    #[test]
    fn spread_of_alternating_levels_is_their_difference() {
        let fs = 48_000.0;
        // 1 s at full scale, 1 s at −12 dB, repeated: P95 − P10 is 12 dB.
        let mut x = noise(480_000, 1);
        for (i, v) in x.iter_mut().enumerate() {
            if (i / 48_000) % 2 == 1 {
                *v *= 0.25;
            }
        }
        let spread = level_spread_db(&x, fs);
        assert!((spread - 12.04).abs() < 0.3, "{spread}");
    }

    #[test]
    fn crest_factor_of_a_sine_is_3_db() {
        let fs = 48_000.0;
        let x: Vec<f32> = (0..96_000)
            .map(|n| (0.5 * (std::f64::consts::TAU * 440.0 * n as f64 / fs).sin()) as f32)
            .collect();
        let cf = crest_factor_db(&x, fs);
        assert!((cf - 3.01).abs() < 0.05, "{cf}");
    }

    #[test]
    fn ltas_error_ignores_gain_and_sees_a_tilt() {
        let fs = 48_000.0;
        let x = noise(240_000, 2);
        let louder: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        let (rms, max) = ltas_error_db(&louder, &x, fs);
        assert!(rms < 0.01 && max < 0.01, "{rms} {max}");
        // A first-difference filter tilts the spectrum by 6 dB/octave: a large error.
        let diff: Vec<f32> = x.windows(2).map(|w| w[1] - w[0]).collect();
        let (rms, _) = ltas_error_db(&diff, &x[1..], fs);
        assert!(rms > 10.0, "{rms}");
    }

    #[test]
    fn snr_of_a_10_percent_error_is_20_db() {
        let x = noise(10_000, 3);
        let y: Vec<f32> = x.iter().map(|v| v * 0.9).collect();
        let snr = snr_db(&y, &x);
        assert!((snr - 20.0).abs() < 1e-3, "{snr}");
    }
}
