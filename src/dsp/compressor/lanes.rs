//! The compressor's gain path for several settings side by side, for the analysis: it fits
//! the compressor by simulating candidate settings on one signal's detector levels
//! ([`Compressor::detector_levels_db`]). Each lane runs the compressor's own gain computer
//! ([`Knee`]) and attack/release ([`Ballistics`]) for one settings, so a lane's reduction is
//! the compressor's, sample for sample. The lanes' recursions are independent: the smoothing
//! is bound by its latency, not its arithmetic, so four settings cost little more than one.
//!
//! [`Compressor::detector_levels_db`]: super::Compressor::detector_levels_db

use super::ballistics::Ballistics;
use super::curve::{Curve, Knee, Real};
use crate::dsp::settings::CompressorSettings;

/// Settings a [`GainLanes`] carries side by side.
pub const LANES: usize = 4;

/// One value per lane: the gain computer and the smoothing run on these as on plain numbers
/// ([`Real`]), each operation lane by lane, which the compiler turns into vector instructions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lanes<T>([T; LANES]);

impl<T: Copy> Lanes<T> {
    #[inline(always)]
    fn zip(self, other: Self, f: impl Fn(T, T) -> T) -> Self {
        Lanes(std::array::from_fn(|l| f(self.0[l], other.0[l])))
    }
}

macro_rules! lanes_of {
    ($t:ty) => {
        impl std::ops::Add for Lanes<$t> {
            type Output = Self;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.zip(other, |a, b| a + b)
            }
        }

        impl std::ops::Sub for Lanes<$t> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, other: Self) -> Self {
                self.zip(other, |a, b| a - b)
            }
        }

        impl std::ops::Mul for Lanes<$t> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self.zip(other, |a, b| a * b)
            }
        }

        impl Real for Lanes<$t> {
            const ZERO: Self = Lanes([<$t as Real>::ZERO; LANES]);
            const GR_FLOOR: Self = Lanes([<$t as Real>::GR_FLOOR; LANES]);

            #[inline(always)]
            fn select_ge(a: Self, b: Self, x: Self, y: Self) -> Self {
                Lanes(std::array::from_fn(|l| {
                    <$t as Real>::select_ge(a.0[l], b.0[l], x.0[l], y.0[l])
                }))
            }

            #[inline(always)]
            fn select_gt(a: Self, b: Self, x: Self, y: Self) -> Self {
                Lanes(std::array::from_fn(|l| {
                    <$t as Real>::select_gt(a.0[l], b.0[l], x.0[l], y.0[l])
                }))
            }
        }
    };
}

lanes_of!(f32);
lanes_of!(f64);

/// The gain computer and attack/release of up to [`LANES`] settings, from rest.
#[derive(Debug, Clone)]
pub struct GainLanes {
    /// Run the AVX2 + FMA build of the loop (detected once, in `new`).
    fma: bool,
    threshold_db: Lanes<f32>,
    knee: Knee<Lanes<f32>>,
    ballistics: Ballistics<Lanes<f64>>,
    /// Smoothed gain reduction of each lane, dB (≥ 0).
    reduction_db: Lanes<f64>,
}

impl GainLanes {
    /// `settings` (1 to [`LANES`]; lanes past them repeat the last) at `sample_rate`, at rest.
    /// Threshold, ratio, knee, attack and release count, clamped and snapped as the compressor
    /// does; detector, sidechain and link are the levels' business, make-up and mix the
    /// caller's.
    ///
    /// # Panics
    /// With no settings, or more than [`LANES`].
    pub fn new(settings: &[CompressorSettings], sample_rate: f64) -> Self {
        assert!(
            (1..=LANES).contains(&settings.len()),
            "1 to {LANES} settings per pass"
        );
        let lane = |l: usize| &settings[l.min(settings.len() - 1)];
        let curves: [Curve; LANES] = std::array::from_fn(|l| Curve::new(lane(l)));
        let knees: [Knee<f32>; LANES] = curves.map(|c| c.knee.to_f32());
        let ballistics: [Ballistics; LANES] =
            std::array::from_fn(|l| Ballistics::new(lane(l), sample_rate));
        #[cfg(target_arch = "x86_64")]
        let fma = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let fma = false;
        Self {
            fma,
            threshold_db: Lanes(curves.map(|c| c.threshold_db as f32)),
            knee: Knee {
                slope: Lanes(knees.map(|k| k.slope)),
                half_width_db: Lanes(knees.map(|k| k.half_width_db)),
                inv_twice_width: Lanes(knees.map(|k| k.inv_twice_width)),
            },
            ballistics: Ballistics {
                attack: Lanes(ballistics.map(|b| b.attack)),
                release: Lanes(ballistics.map(|b| b.release)),
                attack_rest: Lanes(ballistics.map(|b| b.attack_rest)),
                release_rest: Lanes(ballistics.map(|b| b.release_rest)),
            },
            reduction_db: Lanes([0.0; LANES]),
        }
    }

    /// Each lane's smoothed gain reduction (dB, ≥ 0) after each of `levels_db`, into `out`
    /// (frame by frame; the shorter of the two counts).
    pub fn run(&mut self, levels_db: &[f32], out: &mut [[f32; LANES]]) {
        #[cfg(target_arch = "x86_64")]
        if self.fma {
            // SAFETY: `fma` is only set when the CPU reports AVX2 and FMA (see `new`).
            return unsafe { self.run_fma(levels_db, out) };
        }
        self.run_with(levels_db, out);
    }

    /// [`Self::run`] compiled for AVX2: the four lanes' f64 smoothing in one register.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_fma(&mut self, levels_db: &[f32], out: &mut [[f32; LANES]]) {
        self.run_with(levels_db, out);
    }

    #[inline(always)]
    fn run_with(&mut self, levels_db: &[f32], out: &mut [[f32; LANES]]) {
        let (knee, ballistics, threshold_db) = (self.knee, self.ballistics, self.threshold_db);
        let mut y = self.reduction_db;
        for (o, &level_db) in out.iter_mut().zip(levels_db) {
            let target = knee.reduction_db(Lanes([level_db; LANES]) - threshold_db);
            y = ballistics.step(y, Lanes(target.0.map(f64::from)));
            *o = y.0.map(|v| v as f32);
        }
        self.reduction_db = y;
    }

    /// One frame: each lane's smoothed gain reduction (dB, ≥ 0) after a detector level
    /// `level_db`.
    pub fn step(&mut self, level_db: f32) -> [f32; LANES] {
        let mut out = [[0.0; LANES]];
        self.run_with(&[level_db], &mut out);
        out[0]
    }
}
