//! Which EQ the paired takes' waveforms agree with. Fits that differ in their cuts can match
//! the magnitude alike where the reference is seen (a shelf for a gentle cut, one slope for
//! another under a noise floor); their phase differs, and the waveform follows the phase.
//! The cross spectrum of source and reference carries the reference chain's phase, so each
//! candidate's complex response is scored against it: the correlation its render would have
//! with the reference (research/matching.md §5: the waveform SNR is what a paired match is
//! judged by), without rendering, and allowing for the pairing's last fraction of a sample.

use super::spectrum::hann;
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
}
