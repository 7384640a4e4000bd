//! The compressor's gain path for several settings side by side, for the analysis: it fits
//! the compressor by simulating candidate settings on one signal's detector levels
//! ([`Compressor::detector_levels_db`]). Each lane runs the compressor's own gain computer
//! ([`Knee`]) and attack/release ([`Ballistics`]) for one settings, so a lane's reduction is
//! the compressor's, sample for sample. The lanes' recursions are independent: the smoothing
//! is bound by its latency, not its arithmetic, so four settings (one register of f64) cost
//! little more than one; eight cost little more than four in one AVX-512 register, and about
//! twice as much in two AVX2 registers, where the arithmetic fills the core.
//!
//! [`Compressor::detector_levels_db`]: super::Compressor::detector_levels_db

use super::ballistics::Ballistics;
use super::curve::{Curve, Knee, Real};
use crate::dsp::Simd;
use crate::dsp::settings::CompressorSettings;

/// Most settings a [`GainLanes`] carries side by side.
pub const LANES: usize = 8;

/// One value per lane: the gain computer and the smoothing run on these as on plain numbers
/// ([`Real`]), each operation lane by lane, which the compiler turns into vector instructions.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lanes<T, const N: usize>([T; N]);

impl<T: Copy, const N: usize> Lanes<T, N> {
    #[inline(always)]
    fn zip(self, other: Self, f: impl Fn(T, T) -> T) -> Self {
        Lanes(std::array::from_fn(|l| f(self.0[l], other.0[l])))
    }
}

macro_rules! lanes_of {
    ($t:ty) => {
        impl<const N: usize> std::ops::Add for Lanes<$t, N> {
            type Output = Self;
            #[inline(always)]
            fn add(self, other: Self) -> Self {
                self.zip(other, |a, b| a + b)
            }
        }

        impl<const N: usize> std::ops::Sub for Lanes<$t, N> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, other: Self) -> Self {
                self.zip(other, |a, b| a - b)
            }
        }

        impl<const N: usize> std::ops::Mul for Lanes<$t, N> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, other: Self) -> Self {
                self.zip(other, |a, b| a * b)
            }
        }

        impl<const N: usize> Real for Lanes<$t, N> {
            const ZERO: Self = Lanes([<$t as Real>::ZERO; N]);
            const GR_FLOOR: Self = Lanes([<$t as Real>::GR_FLOOR; N]);

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

/// The gain computer and attack/release of up to `N` (at most [`LANES`]) settings, from rest.
#[derive(Debug, Clone)]
pub struct GainLanes<const N: usize> {
    /// The build of the loop that runs (the fastest the CPU has, chosen in `new`): the same
    /// operations lane by lane in each, so the same bits. AVX2 holds four lanes' f64
    /// smoothing in one register; AVX-512 holds eight, and its selects go through mask
    /// registers, quicker than AVX2's blends. On a 2-core Xeon with AVX-512, `cargo bench
    /// --bench compressor -- compressor_lanes`: 3.8 ns a level for four lanes, 4.4 ns for
    /// eight; the AVX2 build read 4.6 and 8.3 ns on the same machine.
    simd: Simd,
    threshold_db: Lanes<f32, N>,
    knee: Knee<Lanes<f32, N>>,
    ballistics: Ballistics<Lanes<f64, N>>,
    /// Smoothed gain reduction of each lane, dB (≥ 0).
    reduction_db: Lanes<f64, N>,
}

impl<const N: usize> GainLanes<N> {
    /// `settings` (1 to `N`; lanes past them repeat the last) at `sample_rate`, at rest.
    /// Threshold, ratio, knee, attack and release count, clamped and snapped as the compressor
    /// does; detector, sidechain and link are the levels' business, make-up and mix the
    /// caller's. A lane's reductions do not depend on `N`, on the other lanes or on the
    /// build that runs, to the bit.
    ///
    /// # Panics
    /// With no settings, or more than `N`.
    pub fn new(settings: &[CompressorSettings], sample_rate: f64) -> Self {
        assert!(
            (1..=N).contains(&settings.len()),
            "1 to {N} settings per pass"
        );
        let lane = |l: usize| &settings[l.min(settings.len() - 1)];
        let curves: [Curve; N] = std::array::from_fn(|l| Curve::new(lane(l)));
        let knees: [Knee<f32>; N] = curves.map(|c| c.knee.to_f32());
        let ballistics: [Ballistics; N] =
            std::array::from_fn(|l| Ballistics::new(lane(l), sample_rate));
        Self {
            simd: Simd::detect(),
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
            reduction_db: Lanes([0.0; N]),
        }
    }

    /// The same lanes run by the build for `simd` (one of [`Simd::available`]), for the tests.
    ///
    /// # Panics
    /// With a level this CPU does not run.
    #[cfg(test)]
    fn with_simd(self, simd: Simd) -> Self {
        assert!(
            Simd::available().contains(&simd),
            "{simd:?} does not run on this CPU"
        );
        Self { simd, ..self }
    }

    /// Each lane's smoothed gain reduction (dB, ≥ 0) after each of `levels_db`, into `out`
    /// (frame by frame; the shorter of the two counts).
    pub fn run(&mut self, levels_db: &[f32], out: &mut [[f32; N]]) {
        match self.simd {
            // SAFETY: `simd` is the CPU's own level (`Simd::detect`), or below it in the tests.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.run_avx512(levels_db, out) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.run_avx2(levels_db, out) },
            _ => self.run_with(levels_db, out),
        }
    }

    /// [`Self::run`] compiled for AVX2 + FMA ([`Simd::Avx2`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&mut self, levels_db: &[f32], out: &mut [[f32; N]]) {
        self.run_with(levels_db, out);
    }

    /// [`Self::run`] compiled for AVX-512 ([`Simd::Avx512`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn run_avx512(&mut self, levels_db: &[f32], out: &mut [[f32; N]]) {
        self.run_with(levels_db, out);
    }

    #[inline(always)]
    fn run_with(&mut self, levels_db: &[f32], out: &mut [[f32; N]]) {
        let (knee, ballistics, threshold_db) = (self.knee, self.ballistics, self.threshold_db);
        let mut y = self.reduction_db;
        for (o, &level_db) in out.iter_mut().zip(levels_db) {
            let target = knee.reduction_db(Lanes([level_db; N]) - threshold_db);
            y = ballistics.step(y, Lanes(target.0.map(f64::from)));
            *o = y.0.map(|v| v as f32);
        }
        self.reduction_db = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::settings::Detector;

    /// Eight settings far apart (threshold, ratio, knee, attack, release).
    fn eight_settings() -> Vec<CompressorSettings> {
        (0..LANES)
            .map(|l| CompressorSettings {
                enabled: true,
                threshold_db: -40.0 + 5.0 * l as f32,
                ratio: [1.5, 2.0, 4.0, 8.0, 20.0, 3.0, f32::INFINITY, 1.2][l],
                knee_db: [0.0, 6.0, 12.0, 1.0, 0.0, 24.0, 3.0, 9.0][l],
                attack_ms: [0.1, 1.0, 5.0, 30.0, 0.5, 80.0, 2.0, 10.0][l],
                release_ms: [15.0, 60.0, 150.0, 1000.0, 40.0, 300.0, 5.0, 2500.0][l],
                detector: Detector::Peak,
                ..CompressorSettings::default()
            })
            .collect()
    }

    /// Detector levels that rise and fall through every threshold: a slow sweep with bursts.
    fn levels_db(len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| {
                let t = n as f32 / 48_000.0;
                -45.0 + 20.0 * (t * 3.1).sin() + if (n / 700) % 5 == 0 { 18.0 } else { 0.0 }
            })
            .collect()
    }

    /// A lane's reductions are its own whatever the width, the other lanes and the build, to
    /// the bit (four models run narrow, five to eight wide; every build this CPU runs), and
    /// each equals the smoothing written as its definition, one branch's coefficients chosen
    /// first (`α·y + (1 − α)·x`): the both-branches form [`Ballistics::step`] runs changes no
    /// bit.
    #[test]
    fn a_lane_is_the_same_at_every_width_and_build_and_as_defined() {
        let fs = 48_000.0;
        let settings = eight_settings();
        let levels = levels_db(30_000);
        let mut wide = GainLanes::<LANES>::new(&settings, fs).with_simd(Simd::Portable);
        let mut out_wide = vec![[0.0f32; LANES]; levels.len()];
        wide.run(&levels, &mut out_wide);
        let builds = Simd::available();
        println!("builds on this CPU: {builds:?}");
        for build in builds {
            let mut wide = GainLanes::<LANES>::new(&settings, fs).with_simd(build);
            let mut out = vec![[0.0f32; LANES]; levels.len()];
            wide.run(&levels, &mut out);
            for (w, o) in out_wide.iter().zip(&out) {
                for l in 0..LANES {
                    assert_eq!(w[l].to_bits(), o[l].to_bits(), "{build:?} wide, lane {l}");
                }
            }
            for (half, lanes) in settings.chunks(4).enumerate() {
                let mut narrow = GainLanes::<4>::new(lanes, fs).with_simd(build);
                let mut out = vec![[0.0f32; 4]; levels.len()];
                narrow.run(&levels, &mut out);
                for (w, n) in out_wide.iter().zip(&out) {
                    for l in 0..4 {
                        assert_eq!(w[4 * half + l].to_bits(), n[l].to_bits(), "{build:?}");
                    }
                }
            }
        }
        let mut busy = 0;
        for (l, s) in settings.iter().enumerate() {
            let curve = Curve::new(s);
            let knee = curve.knee.to_f32();
            let b = Ballistics::new(s, fs);
            let mut y = 0.0f64;
            for (frame, &level) in out_wide.iter().zip(&levels) {
                let x = knee.reduction_db(level - curve.threshold_db as f32) as f64;
                let (a, rest) = if x > y {
                    (b.attack, b.attack_rest)
                } else {
                    (b.release, b.release_rest)
                };
                y = a * y + rest * x;
                assert_eq!(frame[l].to_bits(), (y as f32).to_bits(), "lane {l}");
                busy += usize::from(y > 1.0);
            }
        }
        // The levels drive the lanes well into compression (not a comparison of zeros).
        assert!(busy > 50_000, "{busy} frames over 1 dB of reduction");
    }
}
