//! The full chain: in gain → EQ → compressor → out gain → safety ceiling.
//!
//! Zero latency, mono or stereo, block-size invariant: every stage runs sample by sample with
//! its own state, so how a host slices the stream changes nothing for static settings.

use super::ceiling::Ceiling;
use super::compressor::Compressor;
use super::eq::Eq;
use super::settings::{ChainSettings, ranges};
use super::smoother::{Ramp, SMOOTHING_MS};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Channels the chain can process (mono or stereo).
pub const MAX_CHANNELS: usize = 2;

/// Levels for meters, readable from any thread without locks. Values are dB, stored as f32
/// bits; updated once per processed block while metering is on.
#[derive(Debug)]
pub struct ChainMeters {
    input_peak_db: AtomicU32,
    output_peak_db: AtomicU32,
    gain_reduction_db: AtomicU32,
}

/// Level reported for silence, dBFS.
pub const METER_FLOOR_DB: f32 = -120.0;

impl Default for ChainMeters {
    fn default() -> Self {
        let floor = METER_FLOOR_DB.to_bits();
        Self {
            input_peak_db: AtomicU32::new(floor),
            output_peak_db: AtomicU32::new(floor),
            gain_reduction_db: AtomicU32::new(0.0f32.to_bits()),
        }
    }
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

    fn publish(&self, input_peak: f32, output_peak: f32, gain_reduction_db: f32) {
        let db = |peak: f32| (20.0 * peak.log10()).max(METER_FLOOR_DB);
        self.input_peak_db
            .store(db(input_peak).to_bits(), Ordering::Relaxed);
        self.output_peak_db
            .store(db(output_peak).to_bits(), Ordering::Relaxed);
        self.gain_reduction_db
            .store(gain_reduction_db.to_bits(), Ordering::Relaxed);
    }
}

/// A gain stage whose level glides in dB.
#[derive(Debug, Clone)]
struct Gain {
    db: Ramp,
    linear: f32,
}

impl Gain {
    fn new() -> Self {
        Self {
            db: Ramp::new(0.0),
            linear: 1.0,
        }
    }

    fn set_db(&mut self, db: f32) {
        self.db.set_target(db as f64);
    }

    fn snap(&mut self) {
        self.db.snap();
        self.linear = super::db_to_gain(self.db.value()) as f32;
    }

    fn process(&mut self, channels: &mut [&mut [f32]]) {
        if !self.db.is_moving() {
            if self.linear != 1.0 {
                for ch in channels.iter_mut() {
                    ch.iter_mut().for_each(|x| *x *= self.linear);
                }
            }
            return;
        }
        let frames = channels.first().map_or(0, |c| c.len());
        for i in 0..frames {
            let g = super::db_to_gain(self.db.tick()) as f32;
            for ch in channels.iter_mut() {
                ch[i] *= g;
            }
        }
        self.linear = super::db_to_gain(self.db.value()) as f32;
    }
}

/// Frames the bypass cross-fade handles at a time (its copy of the input).
const BYPASS_CHUNK: usize = 256;

/// The Matchbox processor. Zero latency; mono or stereo.
pub struct Chain {
    settings: ChainSettings,
    sample_rate: f64,
    /// 0 = processed, 1 = bypassed; glides, so switching is a cross-fade.
    bypass: Ramp,
    /// The input of the current chunk while the bypass is on or moving.
    dry: [Vec<f32>; MAX_CHANNELS],
    input_gain: Gain,
    eq: Eq,
    compressor: Compressor,
    output_gain: Gain,
    ceiling: Ceiling,
    metering: bool,
    meters: Arc<ChainMeters>,
}

impl Chain {
    /// A chain for `sample_rate` Hz with `settings` applied at once (no glide).
    /// Allocates (the shared meters); call off the audio thread.
    pub fn new(settings: &ChainSettings, sample_rate: f32) -> Self {
        let sample_rate = sample_rate as f64;
        let mut chain = Self {
            settings: settings.clone(),
            sample_rate,
            bypass: Ramp::new(0.0),
            dry: std::array::from_fn(|_| vec![0.0; BYPASS_CHUNK]),
            input_gain: Gain::new(),
            eq: Eq::new(sample_rate),
            compressor: Compressor::new(),
            output_gain: Gain::new(),
            ceiling: Ceiling::new(),
            metering: false,
            meters: Arc::new(ChainMeters::default()),
        };
        chain.prepare(sample_rate as f32);
        chain
    }

    /// Set the sample rate, apply the current settings at once and clear all state.
    /// No allocation.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate as f64;
        for gain in [&mut self.input_gain, &mut self.output_gain] {
            gain.db.set_time(SMOOTHING_MS, self.sample_rate);
        }
        self.bypass.set_time(SMOOTHING_MS, self.sample_rate);
        self.eq.prepare(self.sample_rate);
        self.compressor.prepare(self.sample_rate);
        self.ceiling.prepare(self.sample_rate);
        let settings = self.settings.clone();
        self.set_settings(&settings);
        self.reset();
    }

    /// Sample rate the chain runs at, Hz.
    pub fn sample_rate(&self) -> f32 {
        self.sample_rate as f32
    }

    /// Clear filter and envelope state; parameter glides jump to their targets.
    pub fn reset(&mut self) {
        self.bypass.snap();
        self.input_gain.snap();
        self.output_gain.snap();
        self.eq.reset();
        self.compressor.reset();
        self.ceiling.reset();
    }

    /// New settings; continuous values glide there (click-free), switches cross-fade.
    /// Real-time safe (no allocation). Values outside their ranges are clamped.
    pub fn set_settings(&mut self, settings: &ChainSettings) {
        self.settings.clone_from(settings);
        self.input_gain
            .set_db(ranges::IN_GAIN_DB.clamp(settings.input_gain_db));
        self.output_gain
            .set_db(ranges::OUT_GAIN_DB.clamp(settings.output_gain_db));
        self.eq.set_settings(&settings.eq);
        self.compressor.set_settings(&settings.compressor);
        self.ceiling.set_settings(&settings.ceiling);
    }

    /// Bypass on (the output is the input) or off, cross-fading over [`SMOOTHING_MS`]. The
    /// chain keeps processing while bypassed, so switching back is as smooth: its state is
    /// current. Real-time safe.
    pub fn set_bypass(&mut self, bypassed: bool) {
        self.bypass.set_target(if bypassed { 1.0 } else { 0.0 });
    }

    /// Whether the bypass is on (or fading in).
    pub fn bypassed(&self) -> bool {
        self.bypass.target() > 0.5
    }

    /// The settings last given.
    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// The EQ (its bands know their current response).
    pub fn eq(&self) -> &Eq {
        &self.eq
    }

    /// Shared meters (input/output peak, gain reduction).
    pub fn meters(&self) -> Arc<ChainMeters> {
        self.meters.clone()
    }

    /// Turn meter publishing on or off (off costs nothing).
    pub fn set_metering(&mut self, on: bool) {
        self.metering = on;
    }

    /// Process one block in place. `channels` holds 1 or 2 slices of equal length (any length,
    /// including 0); further channels are left alone. Real-time safe: no allocation, locks or
    /// I/O. Non-finite and subnormal input samples are treated as silence, so they cannot
    /// poison the state, and no output sample is ever subnormal.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let n = channels.len().min(MAX_CHANNELS);
        let channels = &mut channels[..n];
        let frames = channels.first().map_or(0, |c| c.len());
        if frames == 0 || channels.iter().any(|c| c.len() != frames) {
            return;
        }
        sanitize(channels);
        if self.bypass.value() == 0.0 && !self.bypass.is_moving() {
            self.process_wet(channels);
            return;
        }
        // Bypassed or switching: process a chunk, then mix it with the input it came from.
        let mut start = 0;
        while start < frames {
            let end = (start + BYPASS_CHUNK).min(frames);
            let mut piece: [&mut [f32]; MAX_CHANNELS] = [&mut [], &mut []];
            for ((slot, ch), dry) in piece.iter_mut().zip(channels.iter_mut()).zip(&mut self.dry) {
                dry[..end - start].copy_from_slice(&ch[start..end]);
                *slot = &mut ch[start..end];
            }
            self.process_wet(&mut piece[..n]);
            for i in 0..end - start {
                let b = self.bypass.tick() as f32;
                for (ch, dry) in piece[..n].iter_mut().zip(&self.dry) {
                    // Exactly the input when fully bypassed.
                    ch[i] = b * dry[i] + (1.0 - b) * ch[i];
                }
            }
            start = end;
        }
    }

    /// The chain proper over sanitised `channels`.
    fn process_wet(&mut self, channels: &mut [&mut [f32]]) {
        let input_peak = if self.metering { peak(channels) } else { 0.0 };
        self.input_gain.process(channels);
        self.eq.process(channels);
        let gain_reduction_db = self.compressor.process(channels);
        self.output_gain.process(channels);
        self.ceiling.process(channels);
        // Gains below 1 can turn the tiniest normal numbers subnormal; hosts (and
        // clap-validator's fuzzer) must never receive one.
        flush_subnormal(channels);
        if self.metering {
            let output_peak = peak(channels);
            self.meters
                .publish(input_peak, output_peak, gain_reduction_db);
        }
    }
}

/// Replace NaN/±inf and subnormal samples (below −758 dBFS) by 0, branch-free so it
/// vectorises: nothing unusual enters the state.
fn sanitize(channels: &mut [&mut [f32]]) {
    for ch in channels.iter_mut() {
        for x in ch.iter_mut() {
            let a = x.abs();
            *x = if (f32::MIN_POSITIVE..=f32::MAX).contains(&a) {
                *x
            } else {
                0.0
            };
        }
    }
}

/// Replace subnormal samples by 0.
fn flush_subnormal(channels: &mut [&mut [f32]]) {
    for ch in channels.iter_mut() {
        for x in ch.iter_mut() {
            *x = if x.abs() < f32::MIN_POSITIVE { 0.0 } else { *x };
        }
    }
}

/// Largest |x| over all channels.
fn peak(channels: &[&mut [f32]]) -> f32 {
    let mut peak = 0.0f32;
    for ch in channels {
        for x in ch.iter() {
            // A plain comparison (not f32::max, whose NaN rule blocks vectorising); the
            // samples are finite here.
            let a = x.abs();
            peak = if a > peak { a } else { peak };
        }
    }
    peak
}
