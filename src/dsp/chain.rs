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

/// Levels for meters, readable from any thread without locks. The audio thread keeps the
/// peaks since the last [`ChainMeters::take`] (so a meter read 30 times a second misses no
/// block) and publishes RMS levels smoothed over [`RMS_WINDOW_MS`].
#[derive(Debug)]
pub struct ChainMeters {
    /// Peak |x| since the last take: input, the compressor's input (after gain and EQ), output.
    input_peak: AtomicU32,
    compressor_input_peak: AtomicU32,
    output_peak: AtomicU32,
    /// Largest reductions since the last take, dB (≥ 0): compressor, safety ceiling.
    gain_reduction_db: AtomicU32,
    ceiling_reduction_db: AtomicU32,
    /// Mean squares smoothed over [`RMS_WINDOW_MS`].
    input_mean_square: AtomicU32,
    output_mean_square: AtomicU32,
}

/// Level reported for silence, dBFS.
pub const METER_FLOOR_DB: f32 = -120.0;
/// Time constant of the RMS meters, ms (a VU-like 300 ms).
pub const RMS_WINDOW_MS: f64 = 300.0;

/// One reading of the meters, dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterReading {
    pub input_peak_db: f32,
    pub input_rms_db: f32,
    /// The level the compressor's static curve sees (after input gain and EQ), peak dBFS.
    pub compressor_input_db: f32,
    pub output_peak_db: f32,
    pub output_rms_db: f32,
    /// Compressor gain reduction, dB (≥ 0).
    pub gain_reduction_db: f32,
    /// Safety ceiling gain reduction, dB (≥ 0).
    pub ceiling_reduction_db: f32,
}

impl Default for ChainMeters {
    fn default() -> Self {
        let zero = || AtomicU32::new(0.0f32.to_bits());
        Self {
            input_peak: zero(),
            compressor_input_peak: zero(),
            output_peak: zero(),
            gain_reduction_db: zero(),
            ceiling_reduction_db: zero(),
            input_mean_square: zero(),
            output_mean_square: zero(),
        }
    }
}

/// `|x|` as dBFS, floored.
fn amplitude_db(a: f32) -> f32 {
    (20.0 * a.log10()).max(METER_FLOOR_DB)
}

/// Raise the non-negative f32 in `cell` to at least `value` (non-negative floats order like
/// their bit patterns).
fn raise(cell: &AtomicU32, value: f32) {
    cell.fetch_max(value.max(0.0).to_bits(), Ordering::Relaxed);
}

fn take_f32(cell: &AtomicU32) -> f32 {
    f32::from_bits(cell.swap(0.0f32.to_bits(), Ordering::Relaxed))
}

fn load_f32(cell: &AtomicU32) -> f32 {
    f32::from_bits(cell.load(Ordering::Relaxed))
}

impl ChainMeters {
    /// The levels since the previous take (peaks and reductions restart from nothing).
    pub fn take(&self) -> MeterReading {
        let rms_db = |ms: f32| (10.0 * ms.log10()).max(METER_FLOOR_DB);
        MeterReading {
            input_peak_db: amplitude_db(take_f32(&self.input_peak)),
            input_rms_db: rms_db(load_f32(&self.input_mean_square)),
            compressor_input_db: amplitude_db(take_f32(&self.compressor_input_peak)),
            output_peak_db: amplitude_db(take_f32(&self.output_peak)),
            output_rms_db: rms_db(load_f32(&self.output_mean_square)),
            gain_reduction_db: take_f32(&self.gain_reduction_db),
            ceiling_reduction_db: take_f32(&self.ceiling_reduction_db),
        }
    }
}

/// What the audio thread measures in one block.
struct BlockLevels {
    input_peak: f32,
    input_mean_square: f32,
    compressor_input_peak: f32,
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
    /// The smoothed mean squares behind the RMS meters (input, output).
    mean_squares: [f32; 2],
    /// Largest |x| of input or output in the last metered block.
    last_peak: f32,
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
            mean_squares: [0.0; 2],
            last_peak: 0.0,
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

    /// Largest |x| of input or output in the last block processed with metering on: whether
    /// the meters have anything to show.
    pub fn last_peak(&self) -> f32 {
        self.last_peak
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
        let mut levels = self.metering.then(|| BlockLevels {
            input_peak: peak(channels),
            input_mean_square: mean_square(channels),
            compressor_input_peak: 0.0,
        });
        self.input_gain.process(channels);
        self.eq.process(channels);
        if let Some(levels) = levels.as_mut() {
            levels.compressor_input_peak = peak(channels);
        }
        let gain_reduction_db = self.compressor.process(channels);
        self.output_gain.process(channels);
        self.ceiling.process(channels);
        // Gains below 1 can turn the tiniest normal numbers subnormal; hosts (and
        // clap-validator's fuzzer) must never receive one.
        flush_subnormal(channels);
        if let Some(levels) = levels {
            self.publish(&levels, channels, gain_reduction_db);
        }
    }

    /// Hand this block's levels to the meters (atomics only).
    fn publish(&mut self, levels: &BlockLevels, output: &[&mut [f32]], gain_reduction_db: f32) {
        let frames = output.first().map_or(0, |c| c.len());
        // One-pole smoothing of the mean square, block by block.
        let keep = (-(frames as f64) / (RMS_WINDOW_MS * 1e-3 * self.sample_rate)).exp() as f32;
        let block = [levels.input_mean_square, mean_square(output)];
        for (ms, new) in self.mean_squares.iter_mut().zip(block) {
            *ms = keep * *ms + (1.0 - keep) * new;
            // Let the smoothed level reach true silence instead of crawling through subnormals.
            if *ms < 1e-14 {
                *ms = 0.0;
            }
        }
        let output_peak = peak(output);
        self.last_peak = levels.input_peak.max(output_peak);
        let m = &self.meters;
        raise(&m.input_peak, levels.input_peak);
        raise(&m.compressor_input_peak, levels.compressor_input_peak);
        raise(&m.output_peak, output_peak);
        raise(&m.gain_reduction_db, gain_reduction_db);
        raise(&m.ceiling_reduction_db, self.ceiling.gain_reduction_db());
        m.input_mean_square
            .store(self.mean_squares[0].to_bits(), Ordering::Relaxed);
        m.output_mean_square
            .store(self.mean_squares[1].to_bits(), Ordering::Relaxed);
    }
}

/// Mean of x² over all channels.
fn mean_square(channels: &[&mut [f32]]) -> f32 {
    let count: usize = channels.iter().map(|c| c.len()).sum();
    let sum: f32 = channels
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f32>())
        .sum();
    sum / count.max(1) as f32
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
