//! The static curve: the soft-knee gain computer of Giannoulis, Massberg & Reiss 2012
//! (research/dsp.md §4.1), with make-up.

use super::{AUTO_MAKEUP_REF_DB, GR_FLOOR_DB, MIN_KNEE_DB};
use crate::dsp::settings::{CompressorSettings, ranges};

/// The settings the audio path uses: clamped into range, knee snapped, ratio as a slope.
#[derive(Debug, Clone, Copy)]
pub(super) struct Curve {
    pub(super) threshold_db: f64,
    /// `1 − 1/ratio`: 0 for 1:1, 1 for ∞:1.
    slope: f64,
    knee_db: f64,
}

impl Curve {
    pub(super) fn new(c: &CompressorSettings) -> Self {
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

    /// Gain reduction x_G − y_G (dB, ≥ 0) of the static curve (Giannoulis et al.'s soft knee).
    pub(super) fn reduction_db(&self, input_db: f64) -> f64 {
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
pub(super) fn makeup_total_db(c: &CompressorSettings) -> f64 {
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
/// not `enabled` is set. With mix 100 % this is Giannoulis et al.'s soft-knee curve plus make-up.
pub fn static_curve_db(c: &CompressorSettings, input_db: f64) -> f64 {
    let gain_db = makeup_total_db(c) - Curve::new(c).reduction_db(input_db);
    let mix = ranges::MIX_PCT.clamp(c.mix_pct) as f64 / 100.0;
    input_db + 20.0 * (1.0 - mix + mix * 10f64.powf(gain_db / 20.0)).log10()
}

/// The gain computer in the form the audio path evaluates (f32, branch-free so it vectorises).
#[derive(Debug, Clone, Copy)]
pub(super) struct Knee {
    slope: f32,
    half_width_db: f32,
    /// `1/(2W)`, 0 for a hard knee (the knee branch is then never taken).
    inv_twice_width: f32,
}

impl Knee {
    pub(super) fn new(curve: &Curve) -> Self {
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
    pub(super) fn reduction_db(&self, over_db: f32) -> f32 {
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
