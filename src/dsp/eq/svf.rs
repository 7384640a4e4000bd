//! The filter structure every EQ section runs in: a trapezoidal state-variable filter.
//!
//! A.Simper, "Linear Trap Optimised SVF" (cytomic.com/files/dsp/SvfLinearTrapOptimised2.pdf).
//! Its two integrator states are physical quantities (band-pass and low-pass memories), so
//! coefficients may change every sample without the bursts a direct-form biquad produces.
//! Any stable digital biquad maps exactly onto it: the trapezoidal SVF is the bilinear
//! transform of s'² + k s' + 1 with s' = (z − 1) / (g (z + 1)), so g and k follow from the
//! poles and the output mix (m0, m1, m2) from the numerator. That lets the matched designs of
//! `design.rs` run in a modulation-safe structure.

use super::design::Biquad;

/// One section's per-sample recurrence, written out as a 2×2 state-space system:
/// y = d·x + c1·s1 + c2·s2 ; s1' = p11·s1 + p12·s2 + q1·x ; s2' = p21·s1 + p22·s2 + q2·x.
/// Derived from Simper's tick (v3 = x − s2, v1 = a1 s1 + a2 v3, v2 = s2 + a2 s1 + a3 v3,
/// s1' = 2 v1 − s1, s2' = 2 v2 − s2, y = m0 x + m1 v1 + m2 v2) by substitution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvfCoeffs {
    pub d: f64,
    pub c1: f64,
    pub c2: f64,
    pub p11: f64,
    pub p12: f64,
    pub p21: f64,
    pub p22: f64,
    pub q1: f64,
    pub q2: f64,
}

impl SvfCoeffs {
    /// Passes the input through; the states stay at rest.
    pub const IDENTITY: SvfCoeffs = SvfCoeffs {
        d: 1.0,
        c1: 0.0,
        c2: 0.0,
        p11: 0.0,
        p12: 0.0,
        p21: 0.0,
        p22: 0.0,
        q1: 0.0,
        q2: 0.0,
    };

    /// The SVF that realises `biquad` exactly. The biquad must be stable.
    pub fn from_biquad(biquad: &Biquad) -> SvfCoeffs {
        SvfParams::from_biquad(biquad).coeffs()
    }

    /// One sample through the section with states `s`.
    #[inline(always)]
    pub fn tick(&self, x: f64, s: &mut [f64; 2]) -> f64 {
        let [s1, s2] = *s;
        let y = self.d * x + self.c1 * s1 + self.c2 * s2;
        s[0] = self.p11 * s1 + self.p12 * s2 + self.q1 * x;
        s[1] = self.p21 * s1 + self.p22 * s2 + self.q2 * x;
        y
    }

    /// One sample of `N` independent channels; `s[j][lane]` is integrator j of each channel.
    /// With `FMA` the products are fused (only call it so where the CPU has FMA, or it falls
    /// back to a slow software fma).
    #[inline(always)]
    pub fn tick_lanes<const N: usize, const FMA: bool>(
        &self,
        x: [f64; N],
        s: &mut [[f64; N]; 2],
    ) -> [f64; N] {
        let [s1, s2] = *s;
        let mut y = [0.0; N];
        for lane in 0..N {
            y[lane] = madd::<FMA>(
                self.c2,
                s2[lane],
                madd::<FMA>(self.c1, s1[lane], self.d * x[lane]),
            );
            s[0][lane] = madd::<FMA>(
                self.p12,
                s2[lane],
                madd::<FMA>(self.p11, s1[lane], self.q1 * x[lane]),
            );
            s[1][lane] = madd::<FMA>(
                self.p22,
                s2[lane],
                madd::<FMA>(self.p21, s1[lane], self.q2 * x[lane]),
            );
        }
        y
    }
}

/// A section in transposed direct form II: the cheapest structure (five multiply-adds per
/// sample), used while coefficients stand still. It realises the same transfer function as
/// the SVF it was made from, and its state converts exactly to and from the SVF's, so a
/// section switches structure without a seam when a glide starts or ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tdf2 {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    /// −a1 and −a2 of H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²).
    pub na1: f64,
    pub na2: f64,
    /// Maps SVF state s to TDF2 state z = T·s.
    t: [[f64; 2]; 2],
}

impl Tdf2 {
    pub const IDENTITY: Tdf2 = Tdf2 {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        na1: 0.0,
        na2: 0.0,
        t: [[0.0; 2]; 2],
    };

    /// The direct form of an SVF section. With state space (P, q, c, d):
    /// a1 = −tr P, a2 = det P, b0 = d, b1 = a1·d + c·q, b2 = a2·d + c·adj(P)·q; and the states
    /// relate by z1 = c·s (= y − b0 x), z2 = (c·P + a1·c)·s.
    pub fn from_svf(k: &SvfCoeffs) -> Tdf2 {
        let a1 = -(k.p11 + k.p22);
        let a2 = k.p11 * k.p22 - k.p12 * k.p21;
        let u = k.c1 * k.q1 + k.c2 * k.q2;
        let v =
            -k.c1 * k.p22 * k.q1 + k.c1 * k.p12 * k.q2 + k.c2 * k.p21 * k.q1 - k.c2 * k.p11 * k.q2;
        Tdf2 {
            b0: k.d,
            b1: a1 * k.d + u,
            b2: a2 * k.d + v,
            na1: -a1,
            na2: -a2,
            t: [
                [k.c1, k.c2],
                [
                    k.c1 * k.p11 + k.c2 * k.p21 + a1 * k.c1,
                    k.c1 * k.p12 + k.c2 * k.p22 + a1 * k.c2,
                ],
            ],
        }
    }

    /// SVF state → TDF2 state.
    pub fn state_from_svf(&self, s: [f64; 2]) -> [f64; 2] {
        let t = &self.t;
        [
            t[0][0] * s[0] + t[0][1] * s[1],
            t[1][0] * s[0] + t[1][1] * s[1],
        ]
    }

    /// TDF2 state → SVF state. Where the section does not depend on its state (a band at
    /// 0 dB: numerator = denominator) the SVF state cannot be recovered and starts from rest;
    /// its output weight is zero at that moment, so nothing is heard. A first-order section
    /// (6 dB/oct cut) runs as an SVF whose second pole, at z = 0, is cancelled by a zero: T
    /// has rank one, and the least-norm state (T⁺ = Tᵀ / ‖T‖² for rank one) gives the same
    /// output; the unseen part decays within a sample (its pole is at 0).
    pub fn state_to_svf(&self, z: [f64; 2]) -> [f64; 2] {
        let t = &self.t;
        let det = t[0][0] * t[1][1] - t[0][1] * t[1][0];
        let scale = t.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        if det.abs() <= 1e-12 * scale * scale || det == 0.0 {
            // Only a pole at 0 (a2 = 0) makes the rank-one case; anything else is a
            // state-independent band, whose T is rounding noise.
            if self.na2.abs() > 1e-12 || scale == 0.0 {
                return [0.0; 2];
            }
            let norm_sq: f64 = t.iter().flatten().map(|v| v * v).sum();
            return [
                (t[0][0] * z[0] + t[1][0] * z[1]) / norm_sq,
                (t[0][1] * z[0] + t[1][1] * z[1]) / norm_sq,
            ];
        }
        [
            (t[1][1] * z[0] - t[0][1] * z[1]) / det,
            (t[0][0] * z[1] - t[1][0] * z[0]) / det,
        ]
    }

    /// One sample of `N` independent channels; `z[j][lane]` is state j of each channel.
    #[inline(always)]
    pub fn tick_lanes<const N: usize, const FMA: bool>(
        &self,
        x: [f64; N],
        z: &mut [[f64; N]; 2],
    ) -> [f64; N] {
        let mut y = [0.0; N];
        for lane in 0..N {
            y[lane] = madd::<FMA>(self.b0, x[lane], z[0][lane]);
            z[0][lane] = madd::<FMA>(self.na1, y[lane], madd::<FMA>(self.b1, x[lane], z[1][lane]));
            z[1][lane] = madd::<FMA>(self.na2, y[lane], self.b2 * x[lane]);
        }
        y
    }
}

/// a·b + c, fused when `FMA`.
#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Simper's parameters: g = tan(π fc / fs), k = 1/Q, output mix m0, m1, m2. Linear
/// interpolation between two stable sets stays stable (g, k > 0), which is how coefficients
/// move between control-rate redesigns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SvfParams {
    pub g: f64,
    pub k: f64,
    pub m: [f64; 3],
}

impl SvfParams {
    /// The parameters that realise `biquad` exactly. The biquad must be stable.
    pub fn from_biquad(biquad: &Biquad) -> SvfParams {
        let [b0, b1, b2] = biquad.b;
        let [a1, a2] = biquad.a;
        let c0 = 1.0 + a1 + a2; // D(z = 1)
        let cn = 1.0 - a1 + a2; // D(z = −1)
        // Substituting z = (1 + g s') / (1 − g s') into D(z):
        // D ∝ c0 + 2g(1 − a2) s' + g² cn s'²  ⇒  g² = c0 / cn, k = 2g(1 − a2) / c0.
        let g = (c0 / cn).sqrt();
        let k = 2.0 * g * (1.0 - a2) / c0;
        // Same substitution in N(z), divided by c0, gives n2 s'² + n1 s' + n0, and
        // m0 (s'² + k s' + 1) + m1 s' + m2 = n2 s'² + n1 s' + n0.
        let n0 = (b0 + b1 + b2) / c0;
        let n1 = 2.0 * g * (b0 - b2) / c0;
        let n2 = g * g * (b0 - b1 + b2) / c0;
        SvfParams {
            g,
            k,
            m: [n2, n1 - n2 * k, n0 - n2],
        }
    }

    /// `self` moved a fraction `t` (0…1) of the way to `to`; exactly `to` at t = 1.
    #[inline]
    pub fn lerp(&self, to: &SvfParams, t: f64) -> SvfParams {
        if t >= 1.0 {
            return *to;
        }
        let l = |a: f64, b: f64| a + (b - a) * t;
        SvfParams {
            g: l(self.g, to.g),
            k: l(self.k, to.k),
            m: [
                l(self.m[0], to.m[0]),
                l(self.m[1], to.m[1]),
                l(self.m[2], to.m[2]),
            ],
        }
    }

    /// The per-sample state-space coefficients.
    #[inline]
    pub fn coeffs(&self) -> SvfCoeffs {
        let (g, k, [m0, m1, m2]) = (self.g, self.k, self.m);
        let a1 = 1.0 / (1.0 + g * (g + k));
        let a2 = g * a1;
        let a3 = g * a2;
        SvfCoeffs {
            d: m0 + m1 * a2 + m2 * a3,
            c1: m1 * a1 + m2 * a2,
            c2: -m1 * a2 + m2 * (1.0 - a3),
            p11: 2.0 * a1 - 1.0,
            p12: -2.0 * a2,
            p21: 2.0 * a2,
            p22: 1.0 - 2.0 * a3,
            q1: 2.0 * a2,
            q2: 2.0 * a3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct-form reference for comparison.
    fn run_biquad(bq: &Biquad, x: &[f64]) -> Vec<f64> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = bq.b[0] * x0 + bq.b[1] * x1 + bq.b[2] * x2 - bq.a[0] * y1 - bq.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }

    #[test]
    fn svf_reproduces_any_stable_biquad() {
        let cases = [
            Biquad {
                b: [1.2, -1.5, 0.6],
                a: [-1.6, 0.7],
            },
            Biquad {
                b: [0.3, 0.1, -0.05],
                a: [0.4, 0.2],
            },
            Biquad {
                b: [0.9, 1.7, 0.85],
                a: [1.7, 0.8],
            },
        ];
        let x: Vec<f64> = (0..512)
            .map(|i| ((i * 7919) % 97) as f64 / 48.0 - 1.0)
            .collect();
        for bq in &cases {
            let reference = run_biquad(bq, &x);
            let svf = SvfCoeffs::from_biquad(bq);
            let mut s = [0.0; 2];
            for (i, &xi) in x.iter().enumerate() {
                let y = svf.tick(xi, &mut s);
                assert!(
                    (y - reference[i]).abs() < 1e-9,
                    "{bq:?} sample {i}: {y} vs {}",
                    reference[i]
                );
            }
        }
    }

    #[test]
    fn identity_passes_input() {
        let mut s = [0.0; 2];
        for x in [1.0, -0.5, 0.25] {
            assert_eq!(SvfCoeffs::IDENTITY.tick(x, &mut s), x);
        }
        assert_eq!(s, [0.0, 0.0]);
    }
}
