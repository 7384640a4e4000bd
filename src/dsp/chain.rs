//! The full chain: in gain → EQ → compressor → out gain → safety ceiling.
//! STUB: being implemented; the public API below is the contract.

use super::settings::ChainSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Channels the chain can process (mono or stereo).
pub const MAX_CHANNELS: usize = 2;

/// Levels for meters, readable from any thread without locks. Values are dB, stored as f32
/// bits; updated once per processed block while metering is on.
#[derive(Debug, Default)]
pub struct ChainMeters {
    input_peak_db: AtomicU32,
    output_peak_db: AtomicU32,
    gain_reduction_db: AtomicU32,
}

impl ChainMeters {
    /// Peak input level of the last block, dBFS.
    pub fn input_peak_db(&self) -> f32 {
        f32::from_bits(self.input_peak_db.load(Ordering::Relaxed))
    }
    /// Peak output level of the last block, dBFS.
    pub fn output_peak_db(&self) -> f32 {
        f32::from_bits(self.output_peak_db.load(Ordering::Relaxed))
    }
    /// Largest compressor gain reduction in the last block, dB (≥ 0).
    pub fn gain_reduction_db(&self) -> f32 {
        f32::from_bits(self.gain_reduction_db.load(Ordering::Relaxed))
    }
}

/// The Matchbox processor. Zero latency; mono or stereo.
pub struct Chain {
    settings: ChainSettings,
    sample_rate: f64,
    meters: Arc<ChainMeters>,
}

impl Chain {
    /// A chain for `sample_rate` Hz with `settings` applied at once (no smoothing ramp).
    /// Allocates; call off the audio thread.
    pub fn new(settings: &ChainSettings, sample_rate: f32) -> Self {
        let mut chain = Self {
            settings: settings.clone(),
            sample_rate: sample_rate as f64,
            meters: Arc::new(ChainMeters::default()),
        };
        chain.prepare(sample_rate);
        chain
    }

    /// Set the sample rate and clear all state. No allocation.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate as f64;
        self.reset();
    }

    /// Clear filter and envelope state; parameter ramps jump to their targets.
    pub fn reset(&mut self) {}

    /// New settings; continuous values glide there (click-free), switches cross-fade.
    /// Real-time safe. Values outside their ranges are clamped.
    pub fn set_settings(&mut self, settings: &ChainSettings) {
        self.settings = settings.clone();
    }

    /// The settings last given.
    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// Shared meters (input/output peak, gain reduction).
    pub fn meters(&self) -> Arc<ChainMeters> {
        self.meters.clone()
    }

    /// Turn meter publishing on or off (off costs nothing).
    pub fn set_metering(&mut self, _on: bool) {}

    /// Process one block in place. `channels` holds 1 or 2 slices of equal length (any length,
    /// including 0). Real-time safe: no allocation, locks or I/O.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let _ = channels;
    }
}
