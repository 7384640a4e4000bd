//! Feed-forward compressor. STUB: being implemented on branch `comp`; the API below is the
//! contract the chain uses.

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

/// The compressor processor (stub: passes audio through).
#[derive(Debug, Clone, Default)]
pub struct Compressor {}

impl Compressor {
    pub fn new() -> Self {
        Self {}
    }
    pub fn prepare(&mut self, _sample_rate: f64) {}
    pub fn reset(&mut self) {}
    pub fn set_settings(&mut self, _s: &CompressorSettings) {}
    /// Returns the largest gain reduction in the block, dB.
    pub fn process(&mut self, _channels: &mut [&mut [f32]]) -> f32 {
        0.0
    }
}
