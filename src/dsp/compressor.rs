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
//! reduction is rising (attack) or falling (release) — "smooth branching", eq. 17 of the paper.
//! Because the smoothing sits after the gain computer, attack and release do not depend on how
//! far the signal is above the threshold.
//!
//! **Auto make-up** adds the static gain reduction at [`AUTO_MAKEUP_REF_DB`] (−10 dBFS), so a
//! steady signal at that level comes out at that level; louder signals come out quieter, quieter
//! ones unchanged (below the knee) or louder (inside it). The same idea as x42-darc's "unity at
//! −10 dBFS", which keeps loudness roughly constant while ratio and threshold are tweaked.
//!
//! Work is done in chunks of [`CHUNK`] frames, stage by stage (detector, dB, gain computer,
//! smoothing, gain), so the stages without feedback vectorise. Every stage is per sample, so
//! the result does not depend on the host's block size.

use super::chain::MAX_CHANNELS;
use super::fastmath::{self, DB_PER_LOG2_POWER, LOG2_AMPLITUDE_PER_DB};
use super::settings::{CompressorSettings, Detector, ranges};

/// RMS detector window (one-pole mean square time constant), ms.
pub const RMS_WINDOW_MS: f64 = 5.0;
/// Auto make-up makes a steady level of this many dBFS come out unchanged.
pub const AUTO_MAKEUP_REF_DB: f64 = -10.0;
/// Glide time of threshold, make-up, stereo link and mix, and of the on/off cross-fade, ms.
pub const GLIDE_MS: f64 = 10.0;
/// Knees narrower than this, dB, are treated as hard (avoids dividing by a vanishing width).
pub const MIN_KNEE_DB: f64 = 0.01;

/// Frames processed per stage pass.
const CHUNK: usize = 64;
/// Detector power is kept within −200…+300 dB so its logarithm is finite and normal.
const POWER_FLOOR: f64 = 1e-20;
const POWER_CEIL: f64 = 1e30;
/// Envelope and filter states below this are set to 0 so they never go subnormal.
const STATE_FLOOR: f64 = 1e-15;
/// Gain reductions below this, dB, are 0 (keeps the f32 scratch data normal).
const GR_FLOOR_DB: f32 = 1e-12;

/// The settings the audio path uses: clamped into range, knee snapped, ratio as a slope.
#[derive(Debug, Clone, Copy)]
struct Curve {
    threshold_db: f64,
    /// `1 − 1/ratio`: 0 for 1:1, 1 for ∞:1.
    slope: f64,
    knee_db: f64,
}

impl Curve {
    fn new(c: &CompressorSettings) -> Self {
        let ratio = if c.ratio == f32::INFINITY {
            f64::INFINITY
        } else {
            ranges::RATIO.clamp(c.ratio) as f64
        };
        let knee_db = ranges::KNEE_DB.clamp(c.knee_db) as f64;
        Self {
            threshold_db: ranges::THRESHOLD_DB.clamp(c.threshold_db) as f64,
            slope: 1.0 - 1.0 / ratio,
            knee_db: if knee_db < MIN_KNEE_DB { 0.0 } else { knee_db },
        }
    }

    /// Gain reduction x_G − y_G (dB, ≥ 0) of the static curve, eq. 4 of Giannoulis et al.
    fn reduction_db(&self, input_db: f64) -> f64 {
        let over = input_db - self.threshold_db;
        let w = self.knee_db;
        if 2.0 * over <= -w {
            0.0
        } else if 2.0 * over >= w {
            self.slope * over
        } else {
            let k = over + w / 2.0;
            self.slope * k * k / (2.0 * w)
        }
    }
}

/// Make-up (manual + automatic) in dB for these settings.
fn makeup_total_db(c: &CompressorSettings) -> f64 {
    ranges::MAKEUP_DB.clamp(c.makeup_db) as f64 + auto_makeup_db(c)
}

/// The automatic make-up these settings apply, dB: the static gain reduction at
/// [`AUTO_MAKEUP_REF_DB`], or 0 when `auto_makeup` is off.
pub fn auto_makeup_db(c: &CompressorSettings) -> f64 {
    if c.auto_makeup {
        Curve::new(c).reduction_db(AUTO_MAKEUP_REF_DB)
    } else {
        0.0
    }
}

/// Static curve: output level (dB) for a steady input level (dB), including make-up,
/// auto make-up and the dry/wet mix (`y = x·(1 − m + m·g)`). Describes the settings whether or
/// not `enabled` is set. With mix 100 % this is eq. 4 of Giannoulis et al. plus make-up.
pub fn static_curve_db(c: &CompressorSettings, input_db: f64) -> f64 {
    let gain_db = makeup_total_db(c) - Curve::new(c).reduction_db(input_db);
    let mix = ranges::MIX_PCT.clamp(c.mix_pct) as f64 / 100.0;
    input_db + 20.0 * (1.0 - mix + mix * 10f64.powf(gain_db / 20.0)).log10()
}

/// The gain computer in the form the audio path evaluates (f32, branch-free so it vectorises).
#[derive(Debug, Clone, Copy)]
struct Knee {
    slope: f32,
    half_width_db: f32,
    /// `1/(2W)`, 0 for a hard knee (the knee branch is then never taken).
    inv_twice_width: f32,
}

impl Knee {
    fn new(curve: &Curve) -> Self {
        Self {
            slope: curve.slope as f32,
            half_width_db: (curve.knee_db / 2.0) as f32,
            inv_twice_width: if curve.knee_db > 0.0 {
                (0.5 / curve.knee_db) as f32
            } else {
                0.0
            },
        }
    }

    /// Gain reduction (dB, ≥ 0) for a level `over_db` above the threshold.
    #[inline(always)]
    fn reduction_db(&self, over_db: f32) -> f32 {
        let k = over_db + self.half_width_db;
        let inside = self.slope * k * k * self.inv_twice_width;
        let above = self.slope * over_db;
        let r = if over_db >= self.half_width_db {
            above
        } else {
            inside
        };
        if over_db <= -self.half_width_db || r < GR_FLOOR_DB {
            0.0
        } else {
            r
        }
    }
}

/// 2nd-order Butterworth high-pass as a TPT state-variable filter (Simper,
/// "SvfLinearTrapOptimised2", research/dsp.md §4.6), rewritten in state-space form so each
/// sample is two independent multiply-add rows. The states are the SVF's integrator states,
/// so a cutoff change never disturbs them.
#[derive(Debug, Clone, Copy, Default)]
struct Highpass {
    // ic' = A·ic + B·x ; y = a1·(x − ic2) − c1·ic1
    a11: f64,
    a12: f64,
    a21: f64,
    a22: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    c1: f64,
}

impl Highpass {
    fn new(cutoff_hz: f64, sample_rate: f64) -> Self {
        let k = std::f64::consts::SQRT_2; // 1/Q, Q = 1/√2: Butterworth
        let g = (std::f64::consts::PI * cutoff_hz.min(0.45 * sample_rate) / sample_rate).tan();
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        Self {
            a11: 2.0 * a1 - 1.0,
            a12: -2.0 * a2,
            a21: 2.0 * a2,
            a22: 1.0 - 2.0 * a3,
            b1: 2.0 * a2,
            b2: 2.0 * a3,
            a1,
            c1: k * a1 + a2,
        }
    }

    #[inline(always)]
    fn tick(&self, s: &mut [f64; 2], x: f64) -> f64 {
        let [ic1, ic2] = *s;
        let y = self.a1 * (x - ic2) - self.c1 * ic1;
        s[0] = self.a11 * ic1 + (self.a12 * ic2 + self.b1 * x);
        s[1] = self.a22 * ic2 + (self.a21 * ic1 + self.b2 * x);
        y
    }
}

/// A value that moves linearly to its target in a fixed number of samples.
#[derive(Debug, Clone, Copy)]
struct Glide {
    value: f64,
    target: f64,
    step: f64,
    remaining: u32,
}

impl Glide {
    fn at(value: f64) -> Self {
        Self {
            value,
            target: value,
            step: 0.0,
            remaining: 0,
        }
    }

    fn set(&mut self, target: f64, samples: u32) {
        if target != self.target {
            self.target = target;
            self.remaining = samples.max(1);
            self.step = (target - self.value) / self.remaining as f64;
        }
    }

    fn jump(&mut self) {
        self.value = self.target;
        self.remaining = 0;
    }

    fn is_steady_at(&self, v: f64) -> bool {
        self.remaining == 0 && self.value == v
    }

    #[inline]
    fn next(&mut self) -> f64 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.value = if self.remaining == 0 {
                self.target
            } else {
                self.value + self.step
            };
        }
        self.value
    }

    /// The next `out.len()` values.
    fn fill(&mut self, out: &mut [f32]) {
        if self.remaining == 0 {
            out.fill(self.value as f32);
        } else {
            for o in out {
                *o = self.next() as f32;
            }
        }
    }
}

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
    sample_rate: f64,
    settings: CompressorSettings,
    glide_samples: u32,
    /// One-pole coefficients `α = exp(−1/(τ·fs))` of attack and release.
    attack_coef: f64,
    release_coef: f64,
    /// `1 − α` of the RMS mean-square one-pole.
    rms_coef: f64,
    highpass: Highpass,
    knee: Knee,
    threshold_db: Glide,
    makeup_db: Glide,
    /// Stereo link, 0…1.
    link: Glide,
    /// Dry/wet mix, 0…1.
    mix: Glide,
    /// On/off cross-fade, 0…1 (multiplies the mix).
    enable: Glide,
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
        let mut c = Self {
            sample_rate: 48_000.0,
            settings,
            glide_samples: 1,
            attack_coef: 0.0,
            release_coef: 0.0,
            rms_coef: 1.0,
            highpass: Highpass::default(),
            knee: Knee::new(&Curve::new(&settings)),
            threshold_db: Glide::at(0.0),
            makeup_db: Glide::at(0.0),
            link: Glide::at(1.0),
            mix: Glide::at(1.0),
            enable: Glide::at(0.0),
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
        self.glide_samples = ((GLIDE_MS * 1e-3 * sample_rate).round() as u32).max(1);
        let s = self.settings;
        self.set_settings(&s);
        self.reset();
    }

    /// Clear envelopes and filters; smoothed parameters jump to their targets.
    pub fn reset(&mut self) {
        self.clear_envelopes();
        for g in [
            &mut self.threshold_db,
            &mut self.makeup_db,
            &mut self.link,
            &mut self.mix,
            &mut self.enable,
        ] {
            g.jump();
        }
    }

    fn clear_envelopes(&mut self) {
        self.highpass_state = [[0.0; 2]; MAX_CHANNELS];
        self.mean_square = [0.0; MAX_CHANNELS];
        self.reduction_db = [0.0; MAX_CHANNELS];
    }

    /// New settings (clamped into range). Cheap and real-time safe. Threshold, make-up, link
    /// and mix glide there in [`GLIDE_MS`]; ratio, knee, times, detector and sidechain apply at
    /// once; switching on or off cross-fades through the mix in [`GLIDE_MS`].
    pub fn set_settings(&mut self, s: &CompressorSettings) {
        let fs = self.sample_rate;
        let n = self.glide_samples;
        let one_pole = |ms: f32| (-1.0 / (ms as f64 * 1e-3 * fs)).exp();
        self.attack_coef = one_pole(ranges::ATTACK_MS.clamp(s.attack_ms));
        self.release_coef = one_pole(ranges::RELEASE_MS.clamp(s.release_ms));
        self.rms_coef = 1.0 - (-1.0 / (RMS_WINDOW_MS * 1e-3 * fs)).exp();
        self.highpass = Highpass::new(
            ranges::SIDECHAIN_HPF_HZ.clamp(s.sidechain_hpf_hz) as f64,
            fs,
        );
        if !s.sidechain_hpf {
            // Re-enabling then starts from rest instead of from stale state.
            self.highpass_state = [[0.0; 2]; MAX_CHANNELS];
        }
        let curve = Curve::new(s);
        self.knee = Knee::new(&curve);
        self.threshold_db.set(curve.threshold_db, n);
        self.makeup_db.set(makeup_total_db(s), n);
        self.link.set(
            ranges::STEREO_LINK_PCT.clamp(s.stereo_link_pct) as f64 / 100.0,
            n,
        );
        self.mix
            .set(ranges::MIX_PCT.clamp(s.mix_pct) as f64 / 100.0, n);
        if s.enabled && self.enable.is_steady_at(0.0) {
            // Coming back from bypass: start from rest, not from the envelope of long ago.
            self.clear_envelopes();
        }
        self.enable.set(if s.enabled { 1.0 } else { 0.0 }, n);
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
    /// reduction in the block, dB (≥ 0). Real-time safe. When off (and the fade-out is over)
    /// the samples are not touched.
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
        let mut max_reduction = 0.0f32;
        let mut start = 0;
        while start < len {
            let n = (len - start).min(CHUNK);
            let r = if num_channels == 2 {
                let (left, right) = channels.split_at_mut(1);
                self.process_chunk::<2>(
                    [
                        &mut left[0][start..start + n],
                        &mut right[0][start..start + n],
                    ],
                    n,
                )
            } else {
                self.process_chunk::<1>([&mut channels[0][start..start + n]], n)
            };
            max_reduction = max_reduction.max(r);
            start += n;
        }
        max_reduction
    }

    fn process_chunk<const N: usize>(&mut self, x: [&mut [f32]; N], n: usize) -> f32 {
        self.fill_parameters(n);
        {
            let inputs: [&[f32]; N] = std::array::from_fn(|c| &*x[c]);
            match (
                self.settings.sidechain_hpf,
                self.settings.detector == Detector::Rms,
            ) {
                (false, false) => self.detect::<N, false, false>(inputs, n),
                (false, true) => self.detect::<N, false, true>(inputs, n),
                (true, false) => self.detect::<N, true, false>(inputs, n),
                (true, true) => self.detect::<N, true, true>(inputs, n),
            }
        }
        let s = &mut self.scratch;
        for w in &mut s.work[..N] {
            for v in &mut w[..n] {
                *v = DB_PER_LOG2_POWER * fastmath::log2(*v);
            }
        }

        // With full link and equal envelopes both channels get the same gain: compute it once.
        // The per-channel path gives bit-identical numbers, so switching paths is seamless.
        let shared =
            N == 1 || (self.link.is_steady_at(1.0) && self.reduction_db[0] == self.reduction_db[1]);
        let knee = self.knee;
        let [w0, w1] = s.work.each_mut();
        if shared {
            for i in 0..n {
                let level = if N == 2 { w0[i].max(w1[i]) } else { w0[i] };
                w0[i] = knee.reduction_db(level - s.threshold_db[i]);
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

        let ballistics = Ballistics {
            attack: self.attack_coef,
            release: self.release_coef,
        };
        let max_reduction_db = if shared {
            let r = ballistics.run(&mut w0[..n], &mut self.reduction_db[0]);
            self.reduction_db[N - 1] = self.reduction_db[0];
            r
        } else {
            let [r0, r1] = self.reduction_db.each_mut();
            ballistics
                .run(&mut w0[..n], r0)
                .max(ballistics.run(&mut w1[..n], r1))
        };

        let gains: &mut [[f32; CHUNK]] = if shared {
            &mut s.work[..1]
        } else {
            &mut s.work[..N]
        };
        for g in gains {
            for i in 0..n {
                let m = s.mix[i];
                let wet = fastmath::exp2((s.makeup_db[i] - g[i]) * LOG2_AMPLITUDE_PER_DB);
                g[i] = (1.0 - m) + m * wet;
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

    fn fill_parameters(&mut self, n: usize) {
        let s = &mut self.scratch;
        self.threshold_db.fill(&mut s.threshold_db[..n]);
        self.makeup_db.fill(&mut s.makeup_db[..n]);
        self.link.fill(&mut s.link[..n]);
        self.mix.fill(&mut s.mix[..n]);
        if !self.enable.is_steady_at(1.0) {
            for m in &mut s.mix[..n] {
                *m *= self.enable.next() as f32;
            }
        }
    }

    /// Sidechain high-pass, then power (|s|²) or mean square, into `scratch.work`.
    fn detect<const N: usize, const HPF: bool, const RMS: bool>(
        &mut self,
        inputs: [&[f32]; N],
        n: usize,
    ) {
        let hp = self.highpass;
        let k = self.rms_coef;
        let mut hs: [[f64; 2]; N] = std::array::from_fn(|c| self.highpass_state[c]);
        let mut ms: [f64; N] = std::array::from_fn(|c| self.mean_square[c]);
        let out = &mut self.scratch.work;
        for i in 0..n {
            for c in 0..N {
                let x = inputs[c][i];
                // A non-finite sample must not poison the envelope: the detector hears silence.
                let x = if x.is_finite() { x as f64 } else { 0.0 };
                let s = if HPF { hp.tick(&mut hs[c], x) } else { x };
                let mut p = s * s;
                if RMS {
                    ms[c] += k * (p - ms[c]);
                    p = ms[c];
                } else {
                    ms[c] = p;
                }
                out[c][i] = p.clamp(POWER_FLOOR, POWER_CEIL) as f32;
            }
        }
        for c in 0..N {
            self.highpass_state[c] = hs[c].map(flush);
            self.mean_square[c] = flush(ms[c]);
        }
    }
}

/// Attack/release smoothing of the gain reduction in dB ("smooth branching", Giannoulis et
/// al. eq. 17): attack while the reduction rises, release while it falls.
#[derive(Debug, Clone, Copy)]
struct Ballistics {
    attack: f64,
    release: f64,
}

impl Ballistics {
    /// Smooth `reduction_db` in place, carrying the envelope in `state`; returns the largest
    /// smoothed value.
    #[inline(always)]
    fn run(&self, reduction_db: &mut [f32], state: &mut f64) -> f32 {
        let (a, b) = (self.attack, 1.0 - self.attack);
        let (r, q) = (self.release, 1.0 - self.release);
        let mut y = *state;
        let mut max = 0.0f64;
        for v in reduction_db {
            let x = *v as f64;
            // Both candidates are computed so the loop-carried path is one multiply-add and a
            // select.
            let up = a * y + b * x;
            let down = r * y + q * x;
            y = if x > y { up } else { down };
            max = max.max(y);
            *v = y as f32;
        }
        *state = y;
        max as f32
    }
}

/// `v`, or 0 when it is too small to matter (so it never becomes subnormal).
#[inline]
fn flush(v: f64) -> f64 {
    if v.abs() < STATE_FLOOR { 0.0 } else { v }
}

#[cfg(test)]
impl Compressor {
    /// Every envelope and filter state, for tests that look for subnormals or NaN.
    fn state_for_tests(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.highpass_state.iter().flatten().copied().collect();
        v.extend(self.mean_square);
        v.extend(self.reduction_db);
        v
    }
}

#[cfg(test)]
mod tests;
