//! The parametric EQ. STUB: being implemented; the public API below is the contract.

use super::settings::{EqBandSettings, EqSettings};

/// Magnitude of one band as the digital filter really runs it at `sample_rate`, dB.
/// A disabled band is 0 dB.
pub fn band_magnitude_db(band: &EqBandSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    let _ = (band, freq_hz, sample_rate);
    0.0
}

/// Magnitude of the whole EQ at `sample_rate`, dB (sum of the bands).
pub fn magnitude_db(eq: &EqSettings, freq_hz: f64, sample_rate: f64) -> f64 {
    eq.bands
        .iter()
        .map(|b| band_magnitude_db(b, freq_hz, sample_rate))
        .sum()
}
