//! Feed-forward compressor with a log-domain gain computer and smoothing of the gain
//! reduction in dB.
//!
//! Signal flow per channel (Giannoulis, Massberg & Reiss, "Digital Dynamic Range Compressor
//! Design — A Tutorial and Analysis", JAES 60(6), 2012, Fig. 7c):
//!
//! ```text
//! x ─┬──────────────────────────────────────────────────────────────(× gain, mix)──→ y
//!    └→ sidechain HPF → |s|² or mean square → dB → stereo link → gain computer (soft knee)
//!       → attack/release smoothing of the reduction (dB) → make-up → gain
//! ```
//!
//! **Time-constant convention**: attack is the time for the gain change in dB to reach 63 %
//! (1 − 1/e) of a step's final value; release likewise for the recovery. Each is a one-pole
//! with `α = exp(−1/(τ·fs))` on the gain reduction in dB, switched per sample by whether the
//! reduction is rising (attack) or falling (release) — the paper's "smooth branching" detector.
//! Because the smoothing sits after the gain computer, attack and release do not depend on how
//! far the signal is above the threshold.
//!
//! **Auto make-up** adds the static gain reduction at [`AUTO_MAKEUP_REF_DB`] (−10 dBFS), so a
//! steady signal at that level comes out at that level; louder signals come out quieter, quieter
//! ones unchanged (below the knee) or louder (inside it). The same idea as x42-darc's "unity at
//! −10 dBFS", which keeps loudness roughly constant while ratio and threshold are tweaked.
//!
//! **Detector**: peak is `|s|`; RMS is the true RMS over a one-pole mean square with
//! τ = [`RMS_WINDOW_MS`]. The sidechain high-pass (2nd-order Butterworth, TPT/SVF) acts on the
//! detector path only. **Stereo link** works on levels in dB: `used = own + link·(max − own)`.
//! **Mix**: `y = x·(1 − m) + x·g·m`. Threshold, make-up, link and mix glide linearly (in dB and
//! %) over [`GLIDE_MS`]; switching on or off cross-fades through the mix, so nothing clicks.
//!
//! **Speed**: work is done in chunks of 64 frames, stage by stage (detector, dB, gain
//! computer, smoothing, gain), so the stages without feedback vectorise; level and gain use
//! [`fastmath`]'s log2/exp2 (error < 1e-4 dB) instead of libm; the recursive filters advance two
//! samples per step; with full link both channels share one gain computation; on x86-64 CPUs
//! with AVX2 + FMA an extra build of the loops is chosen at run time. All of it is per sample,
//! so the host's block size changes the output only by rounding (≤ 1e-6, tested).
//!
//! **Real-time**: no allocation, locks or I/O; fixed-size state. Denormal-safe by
//! construction: states below 1e-15 are set to 0 every chunk and subnormal output
//! samples are flushed to 0. Non-finite input samples count as silence in the detector.

use super::chain::MAX_CHANNELS;
use super::fastmath::{self, DB_PER_LOG2_POWER, LOG2_AMPLITUDE_PER_DB};
use super::settings::{CompressorSettings, Detector, ranges};
pub use crate::dsp::compressor::curve::{auto_makeup_db, static_curve_db, static_reduction_db};
use crate::dsp::compressor::{
    ballistics::Ballistics,
    curve::{Curve, Knee, makeup_total_db},
    detector::Highpass,
};
use crate::dsp::smoother::Ramp;

/// RMS detector window (one-pole mean square time constant), ms.
pub const RMS_WINDOW_MS: f64 = 5.0;
/// Auto make-up makes a steady level of this many dBFS come out unchanged.
pub const AUTO_MAKEUP_REF_DB: f64 = -10.0;
/// Ramp time of threshold, make-up, stereo link and mix, and of the on/off cross-fade, ms.
pub const GLIDE_MS: f64 = crate::dsp::smoother::SMOOTHING_MS;
/// Knees narrower than this, dB, are treated as hard (avoids dividing by a vanishing width).
pub const MIN_KNEE_DB: f64 = 0.01;

/// Frames processed per stage pass.
const CHUNK: usize = 64;
/// Envelope and filter states below this are set to 0 so they never go subnormal.
const STATE_FLOOR: f64 = 1e-15;
/// Gain reductions below this, dB, are 0 (keeps the f32 scratch data normal).
const GR_FLOOR_DB: f32 = 1e-12;

/// Per-chunk working data, kept in the struct so nothing is allocated or zeroed per call.
#[derive(Clone)]
struct Scratch {
    /// Detector power, then level (dB), then gain reduction (dB), then smoothed reduction
    /// (dB), then gain factor: each stage overwrites the previous one in place.
    work: [[f32; CHUNK]; MAX_CHANNELS],
    threshold_db: [f32; CHUNK],
    makeup_db: [f32; CHUNK],
    link: [f32; CHUNK],
    mix: [f32; CHUNK],
}

/// The compressor. Fixed-size state for up to [`MAX_CHANNELS`] channels; no heap.
#[derive(Clone)]
pub struct Compressor {
    /// Run the AVX2 + FMA build of the loops (detected once, in `new`).
    fma: bool,
    sample_rate: f64,
    settings: CompressorSettings,
    ballistics: Ballistics,
    /// `1 − α` of the RMS mean-square one-pole.
    rms_coef: f64,
    highpass: Highpass,
    knee: Knee<f32>,
    threshold_db: Ramp,
    makeup_db: Ramp,
    /// Stereo link, 0…1.
    link: Ramp,
    /// Dry/wet mix, 0…1.
    mix: Ramp,
    /// On/off cross-fade, 0…1 (multiplies the mix).
    enable: Ramp,
    highpass_state: [[f64; 2]; MAX_CHANNELS],
    mean_square: [f64; MAX_CHANNELS],
    /// Smoothed gain reduction per channel, dB (≥ 0).
    reduction_db: [f64; MAX_CHANNELS],
    scratch: Scratch,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with default settings, prepared for 48 kHz.
    pub fn new() -> Self {
        let settings = CompressorSettings::default();
        let fma = super::Simd::detect() >= super::Simd::Avx2;
        let mut c = Self {
            fma,
            sample_rate: 48_000.0,
            settings,
            ballistics: Ballistics::new(&settings, 48_000.0),
            rms_coef: 1.0,
            highpass: Highpass::default(),
            knee: Curve::new(&settings).knee.to_f32(),
            threshold_db: Ramp::new(0.0),
            makeup_db: Ramp::new(0.0),
            link: Ramp::new(1.0),
            mix: Ramp::new(1.0),
            enable: Ramp::new(0.0),
            highpass_state: [[0.0; 2]; MAX_CHANNELS],
            mean_square: [0.0; MAX_CHANNELS],
            reduction_db: [0.0; MAX_CHANNELS],
            scratch: Scratch {
                work: [[0.0; CHUNK]; MAX_CHANNELS],
                threshold_db: [0.0; CHUNK],
                makeup_db: [0.0; CHUNK],
                link: [0.0; CHUNK],
                mix: [0.0; CHUNK],
            },
        };
        c.prepare(48_000.0);
        c
    }

    /// Set the sample rate (Hz), recompute coefficients, then [`reset`](Self::reset).
    pub fn prepare(&mut self, sample_rate: f64) {
        self.sample_rate = sample_rate;
        for r in self.ramps() {
            r.set_time(GLIDE_MS, sample_rate);
        }
        self.rms_coef = 1.0 - (-1.0 / (RMS_WINDOW_MS * 1e-3 * sample_rate)).exp();
        let s = self.settings;
        self.apply(&s, true);
        self.reset();
    }

    /// Clear envelopes and filters; smoothed parameters jump to their targets.
    pub fn reset(&mut self) {
        self.clear_envelopes();
        self.jump_glides();
    }

    fn clear_envelopes(&mut self) {
        self.highpass_state = [[0.0; 2]; MAX_CHANNELS];
        self.mean_square = [0.0; MAX_CHANNELS];
        self.reduction_db = [0.0; MAX_CHANNELS];
    }

    fn ramps(&mut self) -> [&mut Ramp; 5] {
        [
            &mut self.threshold_db,
            &mut self.makeup_db,
            &mut self.link,
            &mut self.mix,
            &mut self.enable,
        ]
    }

    fn jump_glides(&mut self) {
        for r in self.ramps() {
            r.snap();
        }
    }

    /// New settings (clamped into range). Cheap and real-time safe: only what changed is
    /// recomputed. Threshold, make-up, link and mix glide there in [`GLIDE_MS`]; ratio, knee,
    /// times, detector and sidechain apply at once; switching on or off cross-fades through the
    /// mix in [`GLIDE_MS`].
    pub fn set_settings(&mut self, s: &CompressorSettings) {
        self.apply(s, false);
    }

    fn apply(&mut self, s: &CompressorSettings, everything: bool) {
        let old = self.settings;
        let fs = self.sample_rate;
        if everything || s.attack_ms != old.attack_ms || s.release_ms != old.release_ms {
            self.ballistics = Ballistics::new(s, fs);
        }
        if everything || s.sidechain_hpf_hz != old.sidechain_hpf_hz {
            let hz = ranges::SIDECHAIN_HPF_HZ.clamp(s.sidechain_hpf_hz) as f64;
            self.highpass = Highpass::new(hz, fs);
        }
        if !s.sidechain_hpf {
            // Re-enabling then starts from rest instead of from stale state.
            self.highpass_state = [[0.0; 2]; MAX_CHANNELS];
        }
        let curve = Curve::new(s);
        self.knee = curve.knee.to_f32();
        self.threshold_db.set_target(curve.threshold_db);
        self.makeup_db.set_target(makeup_total_db(s));
        let link = ranges::STEREO_LINK_PCT.clamp(s.stereo_link_pct) as f64 / 100.0;
        self.link.set_target(link);
        self.mix
            .set_target(ranges::MIX_PCT.clamp(s.mix_pct) as f64 / 100.0);
        self.enable.set_target(if s.enabled { 1.0 } else { 0.0 });
        if s.enabled && self.enable.value() == 0.0 {
            // Coming back from bypass: start from rest, not from the envelope and parameters
            // of long ago (the fade-in hides the jump).
            self.clear_envelopes();
            let enable = self.enable;
            self.jump_glides();
            self.enable = enable;
        }
        self.settings = *s;
    }

    /// Current smoothed gain reduction, dB (≥ 0; 0 while bypassed), for meters.
    pub fn gain_reduction_db(&self) -> f32 {
        if self.enable.is_steady_at(0.0) {
            0.0
        } else {
            self.reduction_db.iter().fold(0.0f64, |a, &b| a.max(b)) as f32
        }
    }

    /// Process one block in place: 1 or 2 slices (extra slices are left alone), of equal length
    /// (the shortest counts), any length including 0. Returns the largest smoothed gain
    /// reduction in the block, dB (≥ 0; the wet path's reduction, not scaled by the mix; 0 while
    /// bypassed). Real-time safe. When off (and the fade-out is over) the samples are not
    /// touched.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) -> f32 {
        let num_channels = channels.len().min(MAX_CHANNELS);
        if num_channels == 0 || self.enable.is_steady_at(0.0) {
            return 0.0;
        }
        let len = channels[..num_channels]
            .iter()
            .map(|c| c.len())
            .min()
            .unwrap_or(0);
        let channels = &mut channels[..num_channels];
        #[cfg(target_arch = "x86_64")]
        if self.fma {
            // SAFETY: `fma` is only set when the CPU reports AVX2 and FMA (see `new`).
            return unsafe { self.process_fma(channels, len) };
        }
        self.process_frames::<false>(channels, len)
    }

    /// [`Self::process_frames`] compiled for AVX2 + FMA: wider vectors for the stages without
    /// feedback, fused multiply-adds in the recursive ones.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn process_fma(&mut self, channels: &mut [&mut [f32]], len: usize) -> f32 {
        self.process_frames::<true>(channels, len)
    }

    #[inline(always)]
    fn process_frames<const FMA: bool>(&mut self, channels: &mut [&mut [f32]], len: usize) -> f32 {
        let mut max_reduction = 0.0f32;
        let mut start = 0;
        while start < len {
            let n = (len - start).min(CHUNK);
            let r = if channels.len() == 2 {
                let (left, right) = channels.split_at_mut(1);
                self.process_chunk::<2, FMA>(
                    [
                        &mut left[0][start..start + n],
                        &mut right[0][start..start + n],
                    ],
                    n,
                )
            } else {
                self.process_chunk::<1, FMA>([&mut channels[0][start..start + n]], n)
            };
            max_reduction = max_reduction.max(r);
            start += n;
        }
        max_reduction
    }

    #[inline(always)]
    fn process_chunk<const N: usize, const FMA: bool>(
        &mut self,
        x: [&mut [f32]; N],
        n: usize,
    ) -> f32 {
        self.fill_parameters(n);
        self.detect_chunk::<N, FMA>(std::array::from_fn(|c| &*x[c]), n);
        let s = &mut self.scratch;
        // With full link and equal envelopes both channels get the same gain: compute it once,
        // from the louder channel's power (the logarithm of the larger power is the larger
        // logarithm, to the fast log2's 1e-5: one log2 per frame instead of two). The
        // per-channel path agrees within 1e-4 dB, so switching paths is seamless.
        let shared =
            N == 1 || (self.link.is_steady_at(1.0) && self.reduction_db[0] == self.reduction_db[1]);
        if shared {
            linked_level_db::<N>(&mut s.work, n);
        } else {
            for w in &mut s.work[..N] {
                power_to_db(&mut w[..n]);
            }
        }
        let knee = self.knee;
        let [w0, w1] = s.work.each_mut();
        if shared {
            for i in 0..n {
                w0[i] = knee.reduction_db(w0[i] - s.threshold_db[i]);
            }
        } else {
            for i in 0..n {
                let linked = w0[i].max(w1[i]);
                // Written so that link = 1 gives exactly `linked`, as the shared path does.
                let unlink = 1.0 - s.link[i];
                let own0 = linked - unlink * (linked - w0[i]);
                let own1 = linked - unlink * (linked - w1[i]);
                w0[i] = knee.reduction_db(own0 - s.threshold_db[i]);
                w1[i] = knee.reduction_db(own1 - s.threshold_db[i]);
            }
        }

        let ballistics = self.ballistics;
        let max_reduction_db = if shared {
            let r = ballistics.run::<1, FMA>([&mut w0[..n]], [&mut self.reduction_db[0]]);
            self.reduction_db[N - 1] = self.reduction_db[0];
            r
        } else {
            let [r0, r1] = self.reduction_db.each_mut();
            ballistics.run::<2, FMA>([&mut w0[..n], &mut w1[..n]], [r0, r1])
        };

        let gains: &mut [[f32; CHUNK]] = if shared {
            &mut s.work[..1]
        } else {
            &mut s.work[..N]
        };
        for g in gains {
            for ((g, &m), &makeup_db) in g[..n].iter_mut().zip(&s.mix).zip(&s.makeup_db) {
                let wet = fastmath::exp2((makeup_db - *g) * LOG2_AMPLITUDE_PER_DB);
                *g = (1.0 - m) + m * wet;
            }
        }
        for (c, xc) in x.into_iter().enumerate() {
            let g = &s.work[if shared { 0 } else { c }];
            for (v, &g) in xc.iter_mut().zip(&g[..n]) {
                let y = *v * g;
                // Tiny inputs times a gain below 1 could otherwise leave subnormal samples.
                *v = if y.abs() < f32::MIN_POSITIVE { 0.0 } else { y };
            }
        }
        for r in &mut self.reduction_db {
            *r = flush(*r);
        }
        max_reduction_db
    }

    /// The detector's power (sidechain high-pass when on, |s|² or mean square) of each channel
    /// into `scratch.work`.
    #[inline(always)]
    fn detect_chunk<const N: usize, const FMA: bool>(&mut self, inputs: [&[f32]; N], n: usize) {
        match (
            self.settings.sidechain_hpf,
            self.settings.detector == Detector::Rms,
        ) {
            (false, false) => self.detect::<N, false, false, FMA>(inputs, n),
            (false, true) => self.detect::<N, false, true, FMA>(inputs, n),
            (true, false) => self.detect::<N, true, false, FMA>(inputs, n),
            (true, true) => self.detect::<N, true, true, FMA>(inputs, n),
        }
    }

    /// The detector's level (dB) for every frame of `channels` (1 or 2 slices; the shortest,
    /// and `out`, bound the frames), written to `out`: the level `process` hands the gain
    /// computer for one channel or fully linked stereo (sidechain high-pass when on, power or
    /// mean square, the louder channel). Advances the detector's state as `process` would;
    /// the gain path does not run. For the analysis, which simulates candidate settings'
    /// gain on these levels ([`GainLanes`]).
    pub fn detector_levels_db(&mut self, channels: &[&[f32]], out: &mut [f32]) {
        let len = channels
            .iter()
            .take(MAX_CHANNELS)
            .map(|c| c.len())
            .fold(out.len(), usize::min);
        let mut start = 0;
        while start < len {
            let n = (len - start).min(CHUNK);
            let end = start + n;
            match channels {
                [] => return,
                [mono] => {
                    self.detect_chunk::<1, false>([&mono[start..end]], n);
                    linked_level_db::<1>(&mut self.scratch.work, n);
                }
                [left, right, ..] => {
                    self.detect_chunk::<2, false>([&left[start..end], &right[start..end]], n);
                    linked_level_db::<2>(&mut self.scratch.work, n);
                }
            }
            out[start..end].copy_from_slice(&self.scratch.work[0][..n]);
            start = end;
        }
    }

    fn fill_parameters(&mut self, n: usize) {
        let s = &mut self.scratch;
        self.threshold_db.fill(&mut s.threshold_db[..n]);
        self.makeup_db.fill(&mut s.makeup_db[..n]);
        self.link.fill(&mut s.link[..n]);
        self.mix.fill(&mut s.mix[..n]);
        if !self.enable.is_steady_at(1.0) {
            for m in &mut s.mix[..n] {
                *m *= self.enable.tick() as f32;
            }
        }
    }
}

/// The louder of the first `N` channels' powers in `work` (the first `n` frames), as a level in
/// dB, into `work[0]`.
#[inline(always)]
fn linked_level_db<const N: usize>(work: &mut [[f32; CHUNK]; MAX_CHANNELS], n: usize) {
    let [w0, w1] = work.each_mut();
    if N == 2 {
        for (a, &b) in w0[..n].iter_mut().zip(&w1[..n]) {
            *a = a.max(b);
        }
    }
    power_to_db(&mut w0[..n]);
}

/// Powers (mean squares) to levels in dB, in place.
#[inline(always)]
fn power_to_db(values: &mut [f32]) {
    for v in values {
        *v = DB_PER_LOG2_POWER * fastmath::log2(*v);
    }
}

/// `a·b + c`, fused (one rounding, one instruction) in the FMA build.
#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `v`, or 0 when it is too small to matter (so it never becomes subnormal).
#[inline]
fn flush(v: f64) -> f64 {
    if v.abs() < STATE_FLOOR { 0.0 } else { v }
}

#[cfg(test)]
impl Compressor {
    /// Use the portable loops even where AVX2 + FMA are available.
    fn force_portable(&mut self) {
        self.fma = false;
    }

    /// Whether the AVX2 + FMA loops run.
    fn uses_fma(&self) -> bool {
        self.fma
    }

    /// Every envelope and filter state, for tests that look for subnormals or NaN.
    fn state_for_tests(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.highpass_state.iter().flatten().copied().collect();
        v.extend(self.mean_square);
        v.extend(self.reduction_db);
        v
    }
}

mod ballistics;
mod curve;
mod detector;
pub mod lanes;

pub use lanes::{GainLanes, LANES};
#[cfg(test)]
mod tests;
