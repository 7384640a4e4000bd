//! Pure signal processing: numbers and slices, std only (plus serde derives on settings).
//!
//! Rules (enforced by `tests/dsp_purity.rs`): no plugin framework, GUI, locks, logging or
//! I/O in here, and no allocation after construction. Every processor follows one lifecycle:
//! construct (may allocate) → `prepare(sample_rate)` → cheap setters → `process` → `reset()`.

// Sample loops index several parallel channel and state arrays by the same counter; iterator
// chains over zipped slices would hide that and not be faster.
#![allow(clippy::needless_range_loop)]

pub mod ceiling;
pub mod chain;
#[cfg(test)]
mod chain_tests;
pub mod compressor;
pub mod eq;
pub mod fastmath;
pub mod settings;
pub mod smoother;

pub use chain::{Chain, ChainMeters, MAX_CHANNELS, METER_FLOOR_DB, MeterReading};
pub use settings::{
    CeilingSettings, ChainSettings, CompressorSettings, Detector, EqBandSettings, EqSettings,
    FieldError, FilterKind, NUM_BANDS, Range, ranges,
};

/// dB → linear amplitude.
#[inline]
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude → dB (−inf for 0).
#[inline]
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.log10()
}
