//! The static curve: the soft-knee gain computer of Giannoulis, Massberg & Reiss 2012
//! (research/dsp.md §4.1), with make-up.

use super::{AUTO_MAKEUP_REF_DB, GR_FLOOR_DB, MIN_KNEE_DB};
use crate::dsp::settings::{CompressorSettings, ranges};

/// The settings the audio path uses: clamped into range, knee snapped, ratio as a slope.
#[derive(Debug, Clone, Copy)]
pub(super) struct Curve {
    pub(super) threshold_db: f64,
    pub(super) knee: Knee<f64>,
}

impl Curve {
    pub(super) fn new(c: &CompressorSettings) -> Self {
        let ratio = if c.ratio == f32::INFINITY {
            f64::INFINITY
        } else {
            ranges::RATIO.clamp(c.ratio) as f64
        };
        let knee_db = ranges::KNEE_DB.clamp(c.knee_db) as f64;
        let knee_db = if knee_db < MIN_KNEE_DB { 0.0 } else { knee_db };
        Self {
            threshold_db: ranges::THRESHOLD_DB.clamp(c.threshold_db) as f64,
            knee: Knee {
                slope: 1.0 - 1.0 / ratio,
                half_width_db: knee_db / 2.0,
                inv_twice_width: if knee_db > 0.0 { 0.5 / knee_db } else { 0.0 },
            },
        }
    }

    /// Gain reduction x_G − y_G (dB, ≥ 0) of the static curve at `input_db`.
    pub(super) fn reduction_db(&self, input_db: f64) -> f64 {
        self.knee.reduction_db(input_db - self.threshold_db)
    }
}

/// The soft-knee gain computer of Giannoulis, Massberg & Reiss 2012 (eq. 4, as gain
/// reduction): the one gain computer of Matchbox. The static curve evaluates it in f64, the
/// audio path and the analysis' simulation ([`super::lanes`]) in f32.
#[derive(Debug, Clone, Copy)]
pub(super) struct Knee<T> {
    /// `1 − 1/ratio`: 0 for 1:1, 1 for ∞:1.
    pub(super) slope: T,
    /// `W/2`, dB.
    pub(super) half_width_db: T,
    /// `1/(2W)`, 0 for a hard knee (the knee's quadratic then never applies).
    pub(super) inv_twice_width: T,
}

impl Knee<f64> {
    /// The same knee in f32, as the audio path runs it.
    pub(super) fn to_f32(self) -> Knee<f32> {
        Knee {
            slope: self.slope as f32,
            half_width_db: self.half_width_db as f32,
            inv_twice_width: self.inv_twice_width as f32,
        }
    }
}

impl<T: Real> Knee<T> {
    /// Gain reduction (dB, ≥ 0) for a level `over_db` above the threshold: 0 below the knee,
    /// `slope·over` above it, `slope·(over + W/2)²/(2W)` inside; below [`GR_FLOOR_DB`], 0.
    /// Written with selects, not branches, so it runs on several lanes at once
    /// ([`super::lanes`]) and loops over it vectorise.
    #[inline(always)]
    pub(super) fn reduction_db(&self, over_db: T) -> T {
        let k = over_db + self.half_width_db;
        let inside = self.slope * k * k * self.inv_twice_width;
        let above = self.slope * over_db;
        let r = T::select_ge(over_db, self.half_width_db, above, inside);
        // Below the knee (over ≤ −W/2), nothing; then nothing below the floor.
        let r = T::select_ge(T::ZERO - self.half_width_db, over_db, T::ZERO, r);
        T::select_ge(r, T::GR_FLOOR, r, T::ZERO)
    }
}

/// The arithmetic the gain computer and the attack/release smoothing need: f32 and f64, and
/// several lanes of either at once ([`super::lanes`]). Comparisons are selects, lane by lane.
pub(super) trait Real:
    Copy + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self>
{
    const ZERO: Self;
    const GR_FLOOR: Self;
    /// `if a >= b { x } else { y }`.
    fn select_ge(a: Self, b: Self, x: Self, y: Self) -> Self;
    /// `if a > b { x } else { y }`.
    fn select_gt(a: Self, b: Self, x: Self, y: Self) -> Self;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const GR_FLOOR: f32 = GR_FLOOR_DB;

    #[inline(always)]
    fn select_ge(a: f32, b: f32, x: f32, y: f32) -> f32 {
        if a >= b { x } else { y }
    }

    #[inline(always)]
    fn select_gt(a: f32, b: f32, x: f32, y: f32) -> f32 {
        if a > b { x } else { y }
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const GR_FLOOR: f64 = GR_FLOOR_DB as f64;

    #[inline(always)]
    fn select_ge(a: f64, b: f64, x: f64, y: f64) -> f64 {
        if a >= b { x } else { y }
    }

    #[inline(always)]
    fn select_gt(a: f64, b: f64, x: f64, y: f64) -> f64 {
        if a > b { x } else { y }
    }
}

/// The static curve's gain reduction (dB, ≥ 0) at a steady detector level `input_db`, without
/// make-up or mix.
pub fn static_reduction_db(c: &CompressorSettings, input_db: f64) -> f64 {
    Curve::new(c).reduction_db(input_db)
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
