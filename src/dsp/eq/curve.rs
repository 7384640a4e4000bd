//! A band's magnitude response, designed once and evaluated at many frequencies: as the DSP
//! runs it ([`BandCurve`]) and as its analog prototype ([`PrototypeCurve`], what the design
//! matches). The GUI draws these, the tests check the audio against them, and the analysis
//! fits its EQ with them, so all three read one response.
//!
//! Each point multiplies the sections' squared magnitudes (each floored at
//! [`MAGNITUDE_FLOOR`], −300 dB, so a perfect notch reads as a number) and takes one
//! logarithm ([`fastmath::power_db`], exact to 1e-12 dB); over many points the logarithms run
//! in a loop of their own, side by side.

use super::design::{self, Analog, Biquad, FitGrid, MAX_SECTIONS};
use crate::dsp::fastmath;
use crate::dsp::settings::EqBandSettings;
use std::f64::consts::TAU;

/// Smallest |H|² a section contributes (−300 dB).
pub const MAGNITUDE_FLOOR: f64 = 1e-30;

/// One band's response as the DSP runs it at one sample rate (a disabled band is flat).
#[derive(Debug, Clone)]
pub struct BandCurve {
    sections: [Biquad; MAX_SECTIONS],
    count: usize,
    sample_rate: f64,
}

impl BandCurve {
    /// The settled design of `band` at `sample_rate`.
    pub fn new(band: &EqBandSettings, sample_rate: f64) -> BandCurve {
        BandCurve::with_grid(band, sample_rate, &FitGrid::new(sample_rate))
    }

    /// [`BandCurve::new`] with the sample rate's fit grid made once by the caller (the
    /// analysis designs thousands of bands at one rate).
    pub fn with_grid(band: &EqBandSettings, sample_rate: f64, grid: &FitGrid) -> BandCurve {
        let mut sections = [Biquad::IDENTITY; MAX_SECTIONS];
        let count = if band.enabled {
            design::design_band(&band.clamped_for_dsp(), sample_rate, grid, &mut sections)
        } else {
            0
        };
        BandCurve {
            sections,
            count,
            sample_rate,
        }
    }

    /// |H|² at `freq_hz`.
    fn power(&self, freq_hz: f64) -> f64 {
        let w = TAU * freq_hz / self.sample_rate;
        self.sections[..self.count]
            .iter()
            .map(|s| s.magnitude_sq(w).max(MAGNITUDE_FLOOR))
            .product()
    }

    /// Magnitude at `freq_hz`, dB.
    pub fn magnitude_db(&self, freq_hz: f64) -> f64 {
        fastmath::power_db(self.power(freq_hz))
    }

    /// Magnitude at each of `freqs_hz`, dB, into `out`.
    pub fn magnitudes_db(&self, freqs_hz: &[f64], out: &mut [f64]) {
        magnitudes_db(|f| self.power(f), freqs_hz, out);
    }
}

/// One band's analog prototype (gain, Q and slope applied; the design matches its magnitude).
#[derive(Debug, Clone)]
pub struct PrototypeCurve {
    sections: [Analog; MAX_SECTIONS],
    count: usize,
    freq_hz: f64,
}

impl PrototypeCurve {
    /// The prototype of `band` as the DSP designs it (values clamped into range; a disabled
    /// band is flat).
    pub fn new(band: &EqBandSettings) -> PrototypeCurve {
        let band = band.clamped_for_dsp();
        let mut sections = [Analog {
            n: [0.0; 3],
            d: [1.0; 3],
        }; MAX_SECTIONS];
        let count = if band.enabled {
            design::analog_sections(&band, &mut sections)
        } else {
            0
        };
        PrototypeCurve {
            sections,
            count,
            freq_hz: band.freq_hz as f64,
        }
    }

    /// |H|² at `freq_hz`.
    fn power(&self, freq_hz: f64) -> f64 {
        let omega = freq_hz / self.freq_hz;
        self.sections[..self.count]
            .iter()
            .map(|s| s.magnitude_sq(omega).max(MAGNITUDE_FLOOR))
            .product()
    }

    /// Magnitude at `freq_hz`, dB.
    pub fn magnitude_db(&self, freq_hz: f64) -> f64 {
        fastmath::power_db(self.power(freq_hz))
    }

    /// Magnitude at each of `freqs_hz`, dB, into `out`: a few flops per point.
    pub fn magnitudes_db(&self, freqs_hz: &[f64], out: &mut [f64]) {
        magnitudes_db(|f| self.power(f), freqs_hz, out);
    }
}

/// `power` (|H|²) at each of `freqs_hz`, as dB into `out`: the powers first, then the
/// logarithms in a loop of their own so the points run side by side.
#[inline(always)]
fn magnitudes_db(power: impl Fn(f64) -> f64, freqs_hz: &[f64], out: &mut [f64]) {
    for (o, &f) in out.iter_mut().zip(freqs_hz) {
        *o = power(f);
    }
    out.iter_mut().for_each(|p| *p = fastmath::power_db(*p));
}
