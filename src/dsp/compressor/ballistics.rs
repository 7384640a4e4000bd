//! Attack and release.

use super::curve::Real;
use super::madd;
use crate::dsp::peak_magnitude;
use crate::dsp::settings::{CompressorSettings, ranges};

/// Attack/release smoothing of the gain reduction in dB: the "smooth branching" peak detector
/// of Giannoulis et al. 2012 (research/dsp.md §4.2), attack while the reduction rises, release
/// while it falls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ballistics<T = f64> {
    /// One-pole coefficients `α = exp(−1/(τ·fs))` of attack and release.
    pub(super) attack: T,
    pub(super) release: T,
    /// `1 − α` of each.
    pub(super) attack_rest: T,
    pub(super) release_rest: T,
}

impl<T: Real> Ballistics<T> {
    /// One sample: the smoothed reduction after `y` when the gain computer asks for `x`
    /// (attack while the reduction rises, release otherwise). [`Ballistics::run`] computes the
    /// same recursion two samples per step.
    ///
    /// Both branches are computed and the comparison picks one, so from one sample to the
    /// next the recursion is a multiply, an add and a select, the comparison beside the
    /// multiply (choosing the coefficients first would put the comparison and the select in
    /// front of the multiply). The result is the same, bit for bit: `α·y + β·x` of the branch.
    #[inline(always)]
    pub(super) fn step(&self, y: T, x: T) -> T {
        let attack = self.attack * y + self.attack_rest * x;
        let release = self.release * y + self.release_rest * x;
        T::select_gt(x, y, attack, release)
    }
}

impl Ballistics {
    /// The attack and release of `s` (clamped into their ranges) at `sample_rate`.
    pub(super) fn new(s: &CompressorSettings, sample_rate: f64) -> Self {
        let one_pole = |ms: f32| (-1.0 / (ms as f64 * 1e-3 * sample_rate)).exp();
        let attack = one_pole(ranges::ATTACK_MS.clamp(s.attack_ms));
        let release = one_pole(ranges::RELEASE_MS.clamp(s.release_ms));
        Self {
            attack,
            release,
            attack_rest: 1.0 - attack,
            release_rest: 1.0 - release,
        }
    }

    /// Smooth the reduction of each channel in place, carrying the envelopes in `state`;
    /// returns the largest smoothed value.
    ///
    /// Pairs of samples are done in one step so that the loop-carried chain is one
    /// multiply-add and a select per *two* samples: which branch the second sample takes,
    /// `x1 > y1` with `y1 = α·y + β·x0`, is the same as `y < (x1 − β·x0)/α` — a comparison
    /// against a bound known before `y` is.
    #[inline(always)]
    pub(super) fn run<const N: usize, const FMA: bool>(
        &self,
        reduction_db: [&mut [f32]; N],
        state: [&mut f64; N],
    ) -> f32 {
        let (aa, ba) = (self.attack, self.attack_rest);
        let (ar, br) = (self.release, self.release_rest);
        let (inv_aa, inv_ar) = (1.0 / aa, 1.0 / ar);
        let (aa2, ar2, aar) = (aa * aa, ar * ar, aa * ar);
        let mut y: [f64; N] = std::array::from_fn(|c| *state[c]);
        let n = reduction_db[0].len();
        let data = reduction_db;
        for j in 0..n / 2 {
            let i = 2 * j;
            for c in 0..N {
                let (x0, x1) = (data[c][i] as f64, data[c][i + 1] as f64);
                let y0 = y[c];
                let up0 = x0 > y0;
                let one = if up0 {
                    aa * y0 + ba * x0
                } else {
                    ar * y0 + br * x0
                };
                // Both branches for the second sample, and all four two-sample candidates,
                // are computed from y0 in parallel; the compares pick one at the end.
                let up1_after_up = y0 < (x1 - ba * x0) * inv_aa;
                let up1_after_down = y0 < (x1 - br * x0) * inv_ar;
                let uu = madd::<FMA>(aa2, y0, aa * ba * x0 + ba * x1);
                let ud = madd::<FMA>(aar, y0, ar * ba * x0 + br * x1);
                let du = madd::<FMA>(aar, y0, aa * br * x0 + ba * x1);
                let dd = madd::<FMA>(ar2, y0, ar * br * x0 + br * x1);
                let after_up = if up1_after_up { uu } else { ud };
                let after_down = if up1_after_down { du } else { dd };
                let two = if up0 { after_up } else { after_down };
                data[c][i] = one as f32;
                data[c][i + 1] = two as f32;
                y[c] = two;
            }
        }
        if n % 2 == 1 {
            for c in 0..N {
                y[c] = self.step(y[c], data[c][n - 1] as f64);
                data[c][n - 1] = y[c] as f32;
            }
        }
        for c in 0..N {
            *state[c] = y[c];
        }
        // A pass of its own (the reductions are ≥ 0, so their largest magnitude is their
        // largest value): tracking it inside the loop above would lengthen its chain.
        data.iter().map(|d| peak_magnitude(d)).fold(0.0, f32::max)
    }
}
