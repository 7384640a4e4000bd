//! Which EQ the paired takes' waveforms agree with. Fits that differ in their cuts can match
//! the magnitude alike where the reference is seen (a shelf for a gentle cut, one slope for
//! another under a noise floor); their phase differs, and the waveform follows the phase.
//! The cross spectrum of source and reference carries the reference chain's phase, so each
//! candidate's complex response is scored against it: the correlation its render would have
//! with the reference (research/matching.md §5: the waveform SNR is what a paired match is
//! judged by), without rendering, and allowing for the pairing's last fraction of a sample.

use super::spectrum::{hann, smoothing_window_hz};
use crate::dsp::EqBandSettings;
use crate::dsp::eq::design::{Biquad, FitGrid, MAX_SECTIONS, design_band};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

/// Largest misalignment of the paired takes allowed for, samples (the pairing is exact to a
/// sample or two; a steep band-pass reference can leave it a few off).
const MAX_LAG_SAMPLES: f64 = 4.0;

/// What the paired takes say about the reference chain, per FFT bin: the cross spectrum
/// Σ R(k)·conj(S(k)) (its phase is the chain's phase) and the source's and reference's
/// power, summed over Hann frames (Welch).
#[derive(Debug, Clone)]
pub struct CrossSpectrum {
    cross: Vec<Complex<f64>>,
    source_power: Vec<f64>,
    reference_power: Vec<f64>,
    fft_len: usize,
}

impl CrossSpectrum {
    pub fn new(fft_len: usize) -> Self {
        Self {
            cross: vec![Complex::new(0.0, 0.0); fft_len / 2 + 1],
            source_power: vec![0.0; fft_len / 2 + 1],
            reference_power: vec![0.0; fft_len / 2 + 1],
            fft_len,
        }
    }

    /// Add `source` and `reference` (aligned; the shorter length counts), in frames with
    /// half-frame hops.
    pub fn add(&mut self, source: &[f32], reference: &[f32]) {
        let fft_len = self.fft_len;
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(fft_len);
        let window = hann(fft_len);
        let (mut s_in, mut r_in) = (fft.make_input_vec(), fft.make_input_vec());
        let (mut s_out, mut r_out) = (fft.make_output_vec(), fft.make_output_vec());
        let mut scratch = fft.make_scratch_vec();
        let len = source.len().min(reference.len());
        let mut start = 0;
        while start + fft_len <= len {
            for (i, w) in window.iter().enumerate() {
                s_in[i] = source[start + i] as f64 * w;
                r_in[i] = reference[start + i] as f64 * w;
            }
            fft.process_with_scratch(&mut s_in, &mut s_out, &mut scratch)
                .expect("buffer sizes come from the same plan");
            fft.process_with_scratch(&mut r_in, &mut r_out, &mut scratch)
                .expect("buffer sizes come from the same plan");
            for k in 0..self.cross.len() {
                self.cross[k] += r_out[k] * s_out[k].conj();
                self.source_power[k] += s_out[k].norm_sqr();
                self.reference_power[k] += r_out[k].norm_sqr();
            }
            start += fft_len / 2;
        }
    }

    /// Normalised correlation of the source through `bands` (as the DSP runs them at
    /// `sample_rate`, at any level) with the reference, from the spectra, at the best lag
    /// within ±[`MAX_LAG_SAMPLES`]: max over τ of Σ Re(X·conj H·e^(jωτ)) / √(Σ|H|²·Pss · Σ Prr).
    /// 1 when the bands are the reference chain; lower for a wrong magnitude and for a wrong
    /// phase alike.
    pub fn correlation(&self, bands: &[EqBandSettings], sample_rate: f64) -> f64 {
        let grid = FitGrid::new(sample_rate);
        let mut sections: Vec<Biquad> = Vec::new();
        for band in bands.iter().filter(|b| b.enabled) {
            let mut out = [Biquad::IDENTITY; MAX_SECTIONS];
            let n = design_band(&band.clamped_for_dsp(), sample_rate, &grid, &mut out);
            sections.extend_from_slice(&out[..n]);
        }
        let mut out_power = 0.0;
        let products: Vec<Complex<f64>> = self
            .cross
            .iter()
            .zip(&self.source_power)
            .enumerate()
            .map(|(k, (x, p))| {
                let z1 = Complex::from_polar(1.0, -self.omega(k));
                let z2 = z1 * z1;
                let h = sections.iter().fold(Complex::new(1.0, 0.0), |h, s| {
                    h * (s.b[0] + s.b[1] * z1 + s.b[2] * z2) / (1.0 + s.a[0] * z1 + s.a[1] * z2)
                });
                out_power += h.norm_sqr() * p;
                x * h.conj()
            })
            .collect();
        let norm = (out_power * self.reference_power.iter().sum::<f64>()).sqrt();
        if norm <= 0.0 {
            return 0.0;
        }
        let at = |lag: f64| -> f64 {
            products
                .iter()
                .enumerate()
                .map(|(k, p)| (p * Complex::from_polar(1.0, self.omega(k) * lag)).re)
                .sum()
        };
        // Whole samples, then eighths around the best.
        let whole = (-MAX_LAG_SAMPLES as i64..=MAX_LAG_SAMPLES as i64)
            .map(|l| l as f64)
            .max_by(|a, b| at(*a).total_cmp(&at(*b)))
            .unwrap_or(0.0);
        let best = (-4..=4)
            .map(|i| at(whole + i as f64 / 8.0))
            .fold(f64::MIN, f64::max);
        best / norm
    }

    /// The share of the reference's power within `band_hz` that a linear filter of the
    /// source explains: Σ γ²(f)·P_ref(f) / Σ P_ref(f), with γ² the magnitude-squared
    /// coherence |S_rs|² / (S_rr·S_ss). An EQ leaves γ² at 1 and a compressor's slow gain
    /// changes lower it only a little; a small shared part (a click, a repeated sample)
    /// counts only with its share of the power.
    pub fn explained_share(&self, band_hz: (f64, f64), sample_rate: f64) -> f64 {
        let bin_hz = sample_rate / self.fft_len as f64;
        let (mut explained, mut total) = (0.0, 0.0);
        for (k, ((x, &ss), &rr)) in self
            .cross
            .iter()
            .zip(&self.source_power)
            .zip(&self.reference_power)
            .enumerate()
        {
            let f = k as f64 * bin_hz;
            if f < band_hz.0 || f > band_hz.1 || ss == 0.0 || rr == 0.0 {
                continue;
            }
            explained += x.norm_sqr() / ss;
            total += rr;
        }
        if total > 0.0 { explained / total } else { 0.0 }
    }

    /// The linear part of the reference chain's response on `grid_hz`, dB, and how much of
    /// the reference it explains there (the magnitude-squared coherence, 0…1), each over a
    /// `width_octaves(f)`-wide window: Σ|S_rs| / ΣS_ss (the H1 estimate's magnitude) and
    /// (Σ|S_rs|)² / (ΣS_ss·ΣS_rr). What the chain adds that is not a filter of the source (a
    /// fast compressor's distortion) is in S_rr but averages out of S_rs, so a band the chain
    /// cuts reads cut here even where the reference's spectrum is filled by distortion.
    pub fn linear_response_db(
        &self,
        grid_hz: &[f64],
        sample_rate: f64,
        width_octaves: fn(f64) -> f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let bin_hz = sample_rate / self.fft_len as f64;
        let last = self.cross.len() - 1;
        grid_hz
            .iter()
            .map(|&f| {
                let (lo, hi) = smoothing_window_hz(f, width_octaves, bin_hz, sample_rate);
                let to_bin = |f: f64| ((f / bin_hz).round().max(0.0) as usize).min(last);
                let (mut cross, mut ss, mut rr) = (0.0, 0.0, 0.0);
                for k in to_bin(lo)..=to_bin(hi) {
                    cross += self.cross[k].norm();
                    ss += self.source_power[k];
                    rr += self.reference_power[k];
                }
                if ss <= 0.0 || rr <= 0.0 || cross <= 0.0 {
                    return (-200.0, 0.0);
                }
                let db = 20.0 * (cross / ss).log10();
                (db, (cross * cross / (ss * rr)).min(1.0))
            })
            .unzip()
    }

    /// Bin `k`'s frequency, radians per sample.
    fn omega(&self, k: usize) -> f64 {
        std::f64::consts::TAU * k as f64 / self.fft_len as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::FilterKind;

    #[test]
    fn the_cut_that_made_the_reference_correlates_best_even_a_sample_late() {
        // Noise through a 24 dB/oct low cut at 100 Hz, one sample late: that cut correlates
        // fully, a 12 dB/oct one at the same corner less, no cut less still.
        let fs = 48_000.0;
        let source = crate::analysis::test_noise(96_000, 3);
        let cut = |slope| EqBandSettings {
            slope_db_per_oct: slope,
            ..EqBandSettings::on(FilterKind::LowCut, 100.0, 0.0, 0.707)
        };
        let mut settings = crate::dsp::ChainSettings::default();
        settings.compressor.enabled = false;
        settings.ceiling.enabled = false;
        settings.eq.bands[0] = cut(24);
        let mut reference =
            crate::analysis::render(&settings, std::slice::from_ref(&source), fs).remove(0);
        reference.insert(0, 0.0);
        let mut cross = CrossSpectrum::new(8192);
        cross.add(&source, &reference);
        let right = cross.correlation(&[cut(24)], fs);
        let gentler = cross.correlation(&[cut(12)], fs);
        let none = cross.correlation(&[], fs);
        assert!(right > 0.999, "{right}");
        assert!(
            gentler < right - 0.001 && none < gentler,
            "{right} {gentler} {none}"
        );
    }

    #[test]
    fn the_linear_response_reads_a_cut_that_noise_fills() {
        // 20 s of noise through a 24 dB/oct low cut at 300 Hz (−48 dB two octaves down), then
        // noise the source does not explain added 40 dB down (as a fast compressor's
        // distortion): the spectra's ratio at 75 Hz reads that noise, the linear response
        // the cut.
        let fs = 48_000.0;
        let source = crate::analysis::test_noise(20 * 48_000, 3);
        let mut settings = crate::dsp::ChainSettings::default();
        (settings.compressor.enabled, settings.ceiling.enabled) = (false, false);
        settings.eq.bands[0] = EqBandSettings {
            slope_db_per_oct: 24,
            ..EqBandSettings::on(FilterKind::LowCut, 300.0, 0.0, 0.707)
        };
        let clean = crate::analysis::render(&settings, std::slice::from_ref(&source), fs).remove(0);
        let other = crate::analysis::test_noise(source.len(), 11);
        let noisy: Vec<f32> = clean
            .iter()
            .zip(&other)
            .map(|(c, o)| c + 0.01 * o)
            .collect();
        let grid = [75.0, 150.0, 1000.0];
        let width = crate::analysis::spectrum::smoothing_octaves_paired;
        let read = |reference: &[f32]| {
            let mut cross = CrossSpectrum::new(8192);
            cross.add(&source, reference);
            let (db, coherence) = cross.linear_response_db(&grid, fs, width);
            // The spectra's ratio on the same bins, dB.
            let bin = (75.0 * 8192.0 / fs).round() as usize;
            let ratio = (cross.reference_power[bin] / cross.source_power[bin]).log10() * 10.0;
            (db, coherence, ratio)
        };
        let (truth, _, _) = read(&clean);
        let (db, coherence, ratio) = read(&noisy);
        // Measured at 75 Hz: the cut −48.6 dB, read through the noise −49.1 dB, the spectra's
        // ratio −39.4 dB; coherence 0.11 there, 1.00 at 1 kHz.
        assert!((truth[0] + 48.0).abs() < 2.0, "{truth:?}");
        for k in 0..3 {
            assert!((db[k] - truth[k]).abs() < 1.0, "{db:?} against {truth:?}");
        }
        assert!(ratio > truth[0] + 6.0, "{ratio} against {truth:?}");
        assert!(coherence[0] < 0.2 && coherence[2] > 0.99, "{coherence:?}");
    }
}
