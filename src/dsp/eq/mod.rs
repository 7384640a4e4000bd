//! The parametric EQ: [`NUM_BANDS`] bands in series, zero latency, analogue-matched.
//!
//! Each band is one to four second-order sections designed by magnitude matching to an
//! analog prototype (`design.rs`) and run as trapezoidal state-variable filters (`svf.rs`),
//! which stay stable and quiet under per-sample modulation (`band.rs`).

pub mod band;
pub mod design;
pub mod svf;
#[cfg(test)]
mod tests;

use super::settings::{EqBandSettings, EqSettings, NUM_BANDS};
use band::Band;
use design::{Biquad, MAX_SECTIONS};
use std::f64::consts::PI;

/// Smallest |H|² reported (−300 dB), so a perfect notch reads as a number, not −∞.
const MAGNITUDE_FLOOR: f64 = 1e-30;

/// Magnitude of one band as the digital filter really runs it at `sample_rate`, dB.
/// A disabled band is 0 dB.
pub fn band_magnitude_db(band: &EqBandSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    if !band.enabled {
        return 0.0;
    }
    let mut sections = [Biquad::IDENTITY; MAX_SECTIONS];
    let grid = design::FitGrid::new(sample_rate);
    let n = design::design_band(&band.clamped_for_dsp(), sample_rate, &grid, &mut sections);
    let w = 2.0 * PI * freq_hz / sample_rate;
    sections[..n]
        .iter()
        .map(|s| 10.0 * s.magnitude_sq(w).max(MAGNITUDE_FLOOR).log10())
        .sum()
}

/// Magnitude of the whole EQ at `sample_rate`, dB (sum of the bands).
pub fn magnitude_db(eq: &EqSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    eq.bands
        .iter()
        .map(|b| band_magnitude_db(b, freq_hz, sample_rate))
        .sum()
}

/// Magnitude of a band's analog prototype, dB: the response the design matches.
pub fn analog_band_magnitude_db(band: &EqBandSettings, freq_hz: f64) -> f64 {
    design::analog_band_magnitude_db(&band.clamped_for_dsp(), freq_hz)
}

impl EqBandSettings {
    /// The values the DSP runs: each forced into its range.
    pub fn clamped_for_dsp(&self) -> EqBandSettings {
        use super::settings::ranges;
        EqBandSettings {
            freq_hz: ranges::BAND_FREQ_HZ.clamp(self.freq_hz),
            gain_db: ranges::BAND_GAIN_DB.clamp(self.gain_db),
            q: ranges::BAND_Q.clamp(self.q),
            slope_db_per_oct: if ranges::CUT_SLOPES_DB_PER_OCT.contains(&self.slope_db_per_oct) {
                self.slope_db_per_oct
            } else {
                12
            },
            ..*self
        }
    }
}

/// The EQ processor.
#[derive(Debug, Clone)]
pub struct Eq {
    bands: [Band; NUM_BANDS],
}

impl Eq {
    pub fn new(sample_rate: f64) -> Self {
        Self {
            bands: std::array::from_fn(|_| Band::new(sample_rate)),
        }
    }

    /// New sample rate; state cleared.
    pub fn prepare(&mut self, sample_rate: f64) {
        for b in &mut self.bands {
            b.prepare(sample_rate);
        }
    }

    /// Clear filter state; glides jump to their targets.
    pub fn reset(&mut self) {
        for b in &mut self.bands {
            b.reset();
        }
    }

    /// Aim at new settings; values glide, switches cross-fade. Real-time safe.
    pub fn set_settings(&mut self, eq: &EqSettings) {
        for (band, s) in self.bands.iter_mut().zip(&eq.bands) {
            band.set_settings(s);
        }
    }

    /// Filter 1 or 2 equal-length channels in place. With every band off the samples are
    /// left untouched (bit-identical).
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        for band in &mut self.bands {
            band.process(channels);
        }
    }

    /// The band processors (for meters and the GUI).
    pub fn bands(&self) -> &[Band; NUM_BANDS] {
        &self.bands
    }
}
