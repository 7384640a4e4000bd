//! The full chain: in gain → EQ → compressor → out gain → safety ceiling.
//!
//! Zero latency, mono or stereo, block-size invariant: every stage runs sample by sample with
//! its own state, so how a host slices the stream changes nothing for static settings.

use super::ceiling::Ceiling;
use super::compressor::Compressor;
use super::eq::Eq;
use super::meters::{ChainMeters, RMS_WINDOW_MS, raise};
use super::settings::{ChainSettings, ranges};
use super::smoother::{Ramp, SMOOTHING_MS};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Channels the chain can process (mono or stereo).
pub const MAX_CHANNELS: usize = 2;

/// What the audio thread measures in one block.
struct BlockLevels {
    input_peak: f32,
    input_mean_square: f32,
    compressor_input_peak: f32,
    output_peak: f32,
    output_mean_square: f32,
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
    /// The RMS smoothing coefficient and the block length it is for.
    rms_keep: (usize, f32),
    /// Largest |x| of input or output in the last metered block.
    last_peak: f32,
    /// The CPU has AVX2: the meters' level scans run in their AVX2 build.
    avx2: bool,
}

/// A copy of the chain as it stands, state and all: it processes what the original would from
/// here, to the bit. Its meters are its own, reading nothing yet. Allocates; off the audio
/// thread. Copying a fresh chain skips designing its EQ again (the analysis renders several
/// excerpts through the same settings).
impl Clone for Chain {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            sample_rate: self.sample_rate,
            bypass: self.bypass,
            dry: self.dry.clone(),
            input_gain: self.input_gain.clone(),
            eq: self.eq.clone(),
            compressor: self.compressor.clone(),
            output_gain: self.output_gain.clone(),
            ceiling: self.ceiling.clone(),
            metering: self.metering,
            meters: Arc::new(ChainMeters::default()),
            mean_squares: self.mean_squares,
            rms_keep: self.rms_keep,
            last_peak: self.last_peak,
            avx2: self.avx2,
        }
    }
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
            rms_keep: (0, 0.0),
            last_peak: 0.0,
            avx2: super::cpu_has_avx2(),
        };
        chain.prepare(sample_rate as f32);
        chain
    }

    /// [`Chain::new`] for `settings` at `like`'s sample rate, the same chain bit for bit, where
    /// `like` is fresh from [`Chain::new`] and has not run since: each EQ band whose settings
    /// are `like`'s is copied from it instead of designed again. A band's design, polished at
    /// once, is most of what a new chain costs; the analysis renders many chains that differ
    /// from one another in a knob or two. Allocates, as [`Chain::new`] does.
    pub fn new_like(like: &Chain, settings: &ChainSettings) -> Self {
        let same = |i: usize| settings.eq.bands[i] == like.settings.eq.bands[i];
        let mut others = settings.clone();
        for (i, band) in others.eq.bands.iter_mut().enumerate() {
            if same(i) {
                // Off: not designed here, copied below.
                band.enabled = false;
            }
        }
        let mut chain = Self::new(&others, like.sample_rate as f32);
        chain.eq.copy_bands(&like.eq, same);
        chain.settings.clone_from(settings);
        chain
    }

    /// Set the sample rate, apply the current settings at once and clear all state.
    /// No allocation.
    pub fn prepare(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate as f64;
        self.rms_keep = (0, 0.0);
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
        let Some(channels) = processed(channels) else {
            return;
        };
        let n = channels.len();
        let frames = channels[0].len();
        // With the meters on, the input is measured in the same pass that sanitises it.
        let input = if self.metering {
            Some(level_pass::<SANITIZE>(channels, self.avx2))
        } else {
            sanitize(channels);
            None
        };
        if self.bypass.value() == 0.0 && !self.bypass.is_moving() {
            self.process_wet(channels, input);
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
            self.process_wet(&mut piece[..n], None);
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

    /// The chain proper over sanitised `channels`; `input` is their peak and mean square when
    /// the meters are on and the caller measured them already.
    fn process_wet(&mut self, channels: &mut [&mut [f32]], input: Option<(f32, f32)>) {
        let input = self
            .metering
            .then(|| input.unwrap_or_else(|| level_pass::<MEASURE>(channels, self.avx2)));
        let avx2 = self.avx2;
        let (mut front, mut back) = self.split();
        front.run(channels);
        let before_compressor =
            input.map(|levels| (levels, level_pass::<MEASURE>(channels, avx2).0));
        let gain_reduction_db = back.run(channels);
        // Gains below 1 can turn the tiniest normal numbers subnormal; hosts (and
        // clap-validator's fuzzer) must never receive one. With the meters on, the output is
        // measured in the same pass.
        let Some(((input_peak, input_mean_square), compressor_input_peak)) = before_compressor
        else {
            flush_subnormal(channels);
            return;
        };
        let (output_peak, output_mean_square) = level_pass::<FLUSH>(channels, self.avx2);
        let levels = BlockLevels {
            input_peak,
            input_mean_square,
            compressor_input_peak,
            output_peak,
            output_mean_square,
        };
        let frames = channels.first().map_or(0, |c| c.len());
        self.publish(&levels, frames, gain_reduction_db);
    }

    /// The chain's two halves, for an offline render that runs them on two threads a block
    /// apart: block by block, [`Front::process`] then [`Back::process`] is exactly
    /// [`Chain::process`]. `None` while the meters or the bypass are on, or the bypass moves
    /// (those need the whole chain at once).
    pub fn halves(&mut self) -> Option<(Front<'_>, Back<'_>)> {
        let plain = !self.metering && self.bypass.value() == 0.0 && !self.bypass.is_moving();
        plain.then(|| self.split())
    }

    fn split(&mut self) -> (Front<'_>, Back<'_>) {
        (
            Front {
                input_gain: &mut self.input_gain,
                eq: &mut self.eq,
            },
            Back {
                compressor: &mut self.compressor,
                output_gain: &mut self.output_gain,
                ceiling: &mut self.ceiling,
            },
        )
    }

    /// Hand this block's levels to the meters (atomics only).
    fn publish(&mut self, levels: &BlockLevels, frames: usize, gain_reduction_db: f32) {
        // One-pole smoothing of the mean square, block by block; the coefficient for this
        // block length is worked out once, not per block.
        if self.rms_keep.0 != frames {
            let keep = (-(frames as f64) / (RMS_WINDOW_MS * 1e-3 * self.sample_rate)).exp();
            self.rms_keep = (frames, keep as f32);
        }
        let keep = self.rms_keep.1;
        let block = [levels.input_mean_square, levels.output_mean_square];
        for (ms, new) in self.mean_squares.iter_mut().zip(block) {
            *ms = keep * *ms + (1.0 - keep) * new;
            // Let the smoothed level reach true silence instead of crawling through subnormals.
            if *ms < 1e-14 {
                *ms = 0.0;
            }
        }
        self.last_peak = levels.input_peak.max(levels.output_peak);
        let m = &self.meters;
        raise(&m.input_peak, levels.input_peak);
        raise(&m.compressor_input_peak, levels.compressor_input_peak);
        raise(&m.output_peak, levels.output_peak);
        raise(&m.gain_reduction_db, gain_reduction_db);
        raise(&m.ceiling_reduction_db, self.ceiling.gain_reduction_db());
        m.input_mean_square
            .store(self.mean_squares[0].to_bits(), Ordering::Relaxed);
        m.output_mean_square
            .store(self.mean_squares[1].to_bits(), Ordering::Relaxed);
    }
}

/// What a [`level_pass`] does to the samples before measuring them.
const MEASURE: u8 = 0;
/// [`sanitize`] them.
const SANITIZE: u8 = 1;
/// [`flush_subnormal`] them.
const FLUSH: u8 = 2;

/// Largest |x| and mean of x² over all channels in one pass, after cleaning the samples as
/// `CLEAN` says ([`MEASURE`]: left alone; [`SANITIZE`]; [`FLUSH`]); in its AVX2 build when
/// `avx2` (the same lanes in the same order: the same samples and levels to the bit).
fn level_pass<const CLEAN: u8>(channels: &mut [&mut [f32]], avx2: bool) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is only true where the CPU was found to have it.
        return unsafe { level_pass_avx2::<CLEAN>(channels) };
    }
    let _ = avx2;
    level_pass_lanes::<CLEAN>(channels)
}

/// [`level_pass_lanes`] in AVX2 registers: the same eight lanes, the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn level_pass_avx2<const CLEAN: u8>(channels: &mut [&mut [f32]]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let smallest = _mm256_set1_ps(f32::MIN_POSITIVE);
    let largest = _mm256_set1_ps(f32::MAX);
    let mut peaks = [0.0f32; 8];
    let mut sums = [0.0f32; 8];
    let mut count = 0;
    for ch in channels.iter_mut() {
        count += ch.len();
        // SAFETY: unaligned loads and stores of eight floats from and to eight-float arrays
        // and chunks.
        let (mut peak, mut sum) = unsafe {
            (
                _mm256_loadu_ps(peaks.as_ptr()),
                _mm256_loadu_ps(sums.as_ptr()),
            )
        };
        let mut lanes = ch.chunks_exact_mut(8);
        for lane in &mut lanes {
            let mut x = unsafe { _mm256_loadu_ps(lane.as_ptr()) };
            let mut a = _mm256_and_ps(x, abs_mask);
            if CLEAN != MEASURE {
                // All ones where the sample stays, as `clean` decides: ordered comparisons
                // are false for NaN (sanitised away); "not less than" is true for it (flush
                // keeps it, as `clean` does).
                let keep = if CLEAN == SANITIZE {
                    _mm256_and_ps(
                        _mm256_cmp_ps::<_CMP_GE_OQ>(a, smallest),
                        _mm256_cmp_ps::<_CMP_LE_OQ>(a, largest),
                    )
                } else {
                    _mm256_cmp_ps::<_CMP_NLT_UQ>(a, smallest)
                };
                x = _mm256_and_ps(x, keep);
                a = _mm256_and_ps(a, keep);
                unsafe { _mm256_storeu_ps(lane.as_mut_ptr(), x) };
            }
            peak = _mm256_max_ps(a, peak);
            sum = _mm256_add_ps(sum, _mm256_mul_ps(x, x));
        }
        unsafe {
            _mm256_storeu_ps(peaks.as_mut_ptr(), peak);
            _mm256_storeu_ps(sums.as_mut_ptr(), sum);
        }
        let rest = lanes.into_remainder();
        clean::<CLEAN>(rest);
        add_lanes(&mut peaks, &mut sums, rest);
    }
    finish_lanes(&peaks, &sums, count)
}

/// [`level_pass`] written in eight lanes (each channel's samples 8k + i go to lane i), so it
/// vectorises.
#[inline(always)]
fn level_pass_lanes<const CLEAN: u8>(channels: &mut [&mut [f32]]) -> (f32, f32) {
    let mut peaks = [0.0f32; 8];
    let mut sums = [0.0f32; 8];
    let mut count = 0;
    for ch in channels.iter_mut() {
        count += ch.len();
        let mut lanes = ch.chunks_exact_mut(8);
        for lane in &mut lanes {
            clean::<CLEAN>(lane);
            add_lanes(&mut peaks, &mut sums, lane);
        }
        let rest = lanes.into_remainder();
        clean::<CLEAN>(rest);
        add_lanes(&mut peaks, &mut sums, rest);
    }
    finish_lanes(&peaks, &sums, count)
}

/// Up to eight samples into the lanes' peaks and sums of squares.
#[inline(always)]
fn add_lanes(peaks: &mut [f32; 8], sums: &mut [f32; 8], samples: &[f32]) {
    for ((peak, sum), &x) in peaks.iter_mut().zip(sums.iter_mut()).zip(samples) {
        let a = x.abs();
        // A plain comparison (not f32::max, whose NaN rule blocks vectorising); the samples
        // are finite here.
        *peak = if a > *peak { a } else { *peak };
        *sum += x * x;
    }
}

/// The lanes' peaks and sums of squares over `count` samples → (peak, mean square); pairwise
/// (a tree, not a chain of eight dependent steps: it runs once a block, so its latency counts).
#[inline(always)]
fn finish_lanes(peaks: &[f32; 8], sums: &[f32; 8], count: usize) -> (f32, f32) {
    let max = |a: f32, b: f32| if a > b { a } else { b };
    let p: [f32; 4] = std::array::from_fn(|i| max(peaks[i], peaks[i + 4]));
    let q: [f32; 4] = std::array::from_fn(|i| sums[i] + sums[i + 4]);
    let peak = max(max(p[0], p[2]), max(p[1], p[3]));
    let sum = (q[0] + q[2]) + (q[1] + q[3]);
    (peak, sum / count.max(1) as f32)
}

/// The first half of a [`Chain`] ([`Chain::halves`]): input gain and EQ.
pub struct Front<'a> {
    input_gain: &'a mut Gain,
    eq: &'a mut Eq,
}

impl Front<'_> {
    /// Sanitise one block in place (as [`Chain::process`] does), then run this half over it.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if let Some(channels) = processed(channels) {
            sanitize(channels);
            self.run(channels);
        }
    }

    fn run(&mut self, channels: &mut [&mut [f32]]) {
        self.input_gain.process(channels);
        self.eq.process(channels);
    }
}

/// The second half of a [`Chain`] ([`Chain::halves`]): compressor, output gain and ceiling.
pub struct Back<'a> {
    compressor: &'a mut Compressor,
    output_gain: &'a mut Gain,
    ceiling: &'a mut Ceiling,
}

impl Back<'_> {
    /// Run this half over one block in place (the [`Front`]'s output), then flush subnormals
    /// as [`Chain::process`] does.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if let Some(channels) = processed(channels) {
            self.run(channels);
            flush_subnormal(channels);
        }
    }

    /// The gain reduction, dB.
    fn run(&mut self, channels: &mut [&mut [f32]]) -> f32 {
        let gain_reduction_db = self.compressor.process(channels);
        self.output_gain.process(channels);
        self.ceiling.process(channels);
        gain_reduction_db
    }
}

/// The channels [`Chain::process`] works on: the first [`MAX_CHANNELS`], when they have one
/// length and it is not 0.
fn processed<'c, 'd>(channels: &'c mut [&'d mut [f32]]) -> Option<&'c mut [&'d mut [f32]]> {
    let n = channels.len().min(MAX_CHANNELS);
    let channels = &mut channels[..n];
    let frames = channels.first().map_or(0, |c| c.len());
    (frames > 0 && channels.iter().all(|c| c.len() == frames)).then_some(channels)
}

/// Clean `samples` as `CLEAN` says, branch-free so it vectorises.
#[inline(always)]
fn clean<const CLEAN: u8>(samples: &mut [f32]) {
    for x in samples.iter_mut() {
        let a = x.abs();
        let zero = match CLEAN {
            SANITIZE => !(f32::MIN_POSITIVE..=f32::MAX).contains(&a),
            FLUSH => a < f32::MIN_POSITIVE,
            _ => false,
        };
        *x = if zero { 0.0 } else { *x };
    }
}

/// Replace NaN/±inf and subnormal samples (below −758 dBFS) by 0: nothing unusual enters the
/// state.
fn sanitize(channels: &mut [&mut [f32]]) {
    for ch in channels.iter_mut() {
        clean::<SANITIZE>(ch);
    }
}

/// Replace subnormal samples by 0.
fn flush_subnormal(channels: &mut [&mut [f32]]) {
    for ch in channels.iter_mut() {
        clean::<FLUSH>(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level pass, in both builds, cleans the samples as `sanitize` and
    /// `flush_subnormal` do and measures what it leaves, to the bit, on lengths with and
    /// without a remainder past the eight lanes and with NaN, infinities, subnormals and −0
    /// (for the measuring-only pass, which meets sanitised samples, the sanitised block).
    #[test]
    fn level_passes_agree_in_every_build() {
        let mut state = 0x1234_5678u32;
        let mut noise = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as f32 / u32::MAX as f32 - 0.5
                })
                .collect()
        };
        let odd = [
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            1e-40,
            -1e-42,
            -0.0,
            1.5e-38,
        ];
        let builds: &[bool] = if crate::dsp::cpu_has_avx2() {
            &[false, true]
        } else {
            &[false]
        };
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for frames in [1, 7, 64, 67, 1000] {
            let mut raw = [noise(frames), noise(frames)];
            raw[1][frames / 2] = -0.75;
            for (i, &x) in odd.iter().enumerate() {
                raw[0][(i * 13) % frames] = x;
            }
            let mut clean = raw.clone();
            sanitize(&mut clean.each_mut().map(|c| &mut c[..]));
            for mode in [MEASURE, SANITIZE, FLUSH] {
                let input = if mode == MEASURE { &clean } else { &raw };
                let mut want = if mode == FLUSH {
                    raw.clone()
                } else {
                    clean.clone()
                };
                if mode == FLUSH {
                    flush_subnormal(&mut want.each_mut().map(|c| &mut c[..]));
                }
                let mut first: Option<(f32, f32)> = None;
                for &avx2 in builds {
                    let what = format!("{frames} frames, mode {mode}, avx2 {avx2}");
                    let mut got = input.clone();
                    let mut channels = got.each_mut().map(|c| &mut c[..]);
                    let levels = match mode {
                        MEASURE => level_pass::<MEASURE>(&mut channels, avx2),
                        SANITIZE => level_pass::<SANITIZE>(&mut channels, avx2),
                        _ => level_pass::<FLUSH>(&mut channels, avx2),
                    };
                    for (got, want) in got.iter().zip(&want) {
                        assert_eq!(bits(got), bits(want), "{what}");
                    }
                    if mode == FLUSH {
                        // NaN and infinities pass through a flush: its levels say nothing.
                        continue;
                    }
                    assert_eq!(levels.0, 0.75, "{what}");
                    let all: Vec<f64> = want.iter().flatten().map(|&x| x as f64).collect();
                    let exact = all.iter().map(|x| x * x).sum::<f64>() / all.len() as f64;
                    assert!(((levels.1 as f64) / exact - 1.0).abs() < 1e-5, "{what}");
                    if let Some(first) = first {
                        assert_eq!(first.0.to_bits(), levels.0.to_bits(), "{what}");
                        assert_eq!(first.1.to_bits(), levels.1.to_bits(), "{what}");
                    }
                    first = Some(levels);
                }
            }
        }
        // The flush's levels on finite samples, both builds alike.
        let mut block = [noise(67), noise(67)];
        block[0][3] = 1e-41;
        let runs: Vec<_> = builds
            .iter()
            .map(|&avx2| {
                let mut b = block.clone();
                level_pass::<FLUSH>(&mut b.each_mut().map(|c| &mut c[..]), avx2)
            })
            .collect();
        for r in &runs {
            assert_eq!(r.0.to_bits(), runs[0].0.to_bits());
            assert_eq!(r.1.to_bits(), runs[0].1.to_bits());
        }
    }
}
