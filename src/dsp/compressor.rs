//! Feed-forward compressor. STUB: being implemented; the public API below is the contract.

use super::settings::CompressorSettings;

/// RMS detector window (one-pole mean square time constant), ms.
pub const RMS_WINDOW_MS: f64 = 5.0;
/// Auto make-up makes a steady level of this many dBFS come out unchanged.
pub const AUTO_MAKEUP_REF_DB: f64 = -10.0;

/// Static curve: output level (dB) for a steady input level (dB), including make-up.
pub fn static_curve_db(c: &CompressorSettings, input_db: f64) -> f64 {
    let _ = c;
    input_db
}
