//! Zero-latency safety ceiling: the last stage of the chain, so no sample ever leaves
//! Matchbox above the ceiling.
//!
//! An instantaneous-attack peak limiter, stereo-linked: `g[n] = min(g_rel[n], c/|x[n]|)`, where
//! `g_rel` recovers towards 1 with a one-pole (linear gain, [`CEILING_RELEASE_MS`]). A sustained
//! over-level is therefore turned down smoothly instead of being clipped on every peak; a short
//! spike costs one sample of gain change and a quick recovery. After the gain, every sample is
//! clamped to ±c, which makes the guarantee exact even where the multiplication rounds up.
//! Without lookahead the first over-level sample is cut abruptly — the price of zero latency.

use super::settings::CeilingSettings;

/// Release of the limiter: time for the gain to recover 63 % of the way to unity (in linear
/// gain), ms.
pub const CEILING_RELEASE_MS: f64 = 50.0;

/// Frames per pass: the over-level check and the gain run over this many frames at a time.
const CHUNK: usize = 64;
/// A recovering gain this close to 1 is 1 (−9e-9 dB), so signals below the ceiling go
/// through bit-identical again once the release is over.
const UNITY_SNAP: f64 = 1.0 - 1e-9;

/// The safety ceiling. Fixed-size state, no heap.
#[derive(Debug, Clone)]
pub struct Ceiling {
    sample_rate: f64,
    enabled: bool,
    /// Ceiling as a linear amplitude, exactly the bound the output keeps.
    ceiling: f32,
    /// `1 − α` of the release one-pole.
    release_coef: f64,
    /// Current gain (≤ 1).
    gain: f64,
    peak: [f32; CHUNK],
    gains: [f64; CHUNK],
}

impl Default for Ceiling {
    fn default() -> Self {
        Self::new()
    }
}

impl Ceiling {
    /// A ceiling with default settings (on, −0.3 dBFS), prepared for 48 kHz.
    pub fn new() -> Self {
        let mut c = Self {
            sample_rate: 48_000.0,
            enabled: true,
            ceiling: 1.0,
            release_coef: 0.0,
            gain: 1.0,
            peak: [0.0; CHUNK],
            gains: [1.0; CHUNK],
        };
        c.set_settings(&CeilingSettings::default());
        c.prepare(48_000.0);
        c
    }

    /// Set the sample rate (Hz), then [`reset`](Self::reset).
    pub fn prepare(&mut self, sample_rate: f64) {
        self.sample_rate = sample_rate;
        self.release_coef = 1.0 - (-1.0 / (CEILING_RELEASE_MS * 1e-3 * sample_rate)).exp();
        self.reset();
    }

    /// Back to unity gain.
    pub fn reset(&mut self) {
        self.gain = 1.0;
    }

    /// New settings (ceiling clamped into −24…0 dBFS). They apply at once: a lower ceiling is
    /// enforced from the next sample.
    pub fn set_settings(&mut self, s: &CeilingSettings) {
        self.enabled = s.enabled;
        self.ceiling = s.level();
    }

    /// The linear amplitude no output sample exceeds while enabled.
    pub fn ceiling(&self) -> f32 {
        self.ceiling
    }

    /// Current gain reduction of the limiter, dB (≥ 0).
    pub fn gain_reduction_db(&self) -> f32 {
        // At rest (most of the time) without the logarithm: the meters ask every block.
        if self.gain >= 1.0 {
            0.0
        } else {
            (-20.0 * self.gain.log10()) as f32
        }
    }

    /// Limit one block in place; all slices are linked (the shortest length counts). While
    /// enabled, every output sample satisfies `|y| ≤ ceiling()`; non-finite samples become 0.
    /// Disabled: the samples are not touched. Real-time safe.
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        if !self.enabled || channels.is_empty() {
            return;
        }
        let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut start = 0;
        while start < len {
            let n = (len - start).min(CHUNK);
            self.process_chunk(channels, start, n);
            start += n;
        }
    }

    fn process_chunk(&mut self, channels: &mut [&mut [f32]], start: usize, n: usize) {
        let c = self.ceiling;
        let over = channels.iter().any(|ch| {
            ch[start..start + n]
                .iter()
                .fold(false, |o, v| o | (v.abs() > c) | v.is_nan())
        });
        if self.gain == 1.0 && !over {
            // Exactly what the general path below would do at unity gain: nothing.
            return;
        }

        let peak = &mut self.peak[..n];
        peak.fill(0.0);
        for ch in channels.iter() {
            for (p, v) in peak.iter_mut().zip(&ch[start..start + n]) {
                let a = v.abs();
                // Non-finite samples are output as 0, so they do not count.
                let a = if a <= f32::MAX { a } else { 0.0 };
                *p = if a > *p { a } else { *p };
            }
        }

        // The gain that puts each frame exactly at the ceiling (∞ for silence); the division
        // is done here, off the loop-carried path below.
        let c64 = c as f64;
        for (limit, &p) in self.gains[..n].iter_mut().zip(peak.iter()) {
            *limit = c64 / p as f64;
        }
        let (k, a) = (self.release_coef, 1.0 - self.release_coef);
        let mut g = self.gain;
        for gain in &mut self.gains[..n] {
            // Recover towards 1, but never above what keeps this frame under the ceiling.
            let recovered = a * g + k;
            g = if *gain < recovered { *gain } else { recovered };
            *gain = g;
        }
        // Checked once per chunk: the snap changes the gain by at most 1e-9.
        self.gain = if g > UNITY_SNAP { 1.0 } else { g };

        for ch in channels.iter_mut() {
            for (v, &g) in ch[start..start + n].iter_mut().zip(&self.gains[..n]) {
                let y = if v.abs() <= f32::MAX {
                    (*v as f64 * g) as f32
                } else {
                    0.0
                };
                // A tiny sample turned down could become subnormal.
                let y = if g < 1.0 && y.abs() < f32::MIN_POSITIVE {
                    0.0
                } else {
                    y
                };
                // The multiplication may round a hair above c; the clamp makes the bound exact.
                *v = y.clamp(-c, c);
            }
        }
    }
}

#[cfg(test)]
mod tests;
