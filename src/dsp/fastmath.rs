//! Fast base-2 logarithm and exponential for the compressor's per-sample level and gain math,
//! and a fast f64 decibel conversion for the analysis's EQ fit ([`power_db`]).
//!
//! Both are branch-free (bit tricks on the IEEE-754 layout + a short polynomial), so loops over
//! them vectorise. Polynomials are Chebyshev-node interpolants (near-minimax) of
//! `log2(1 + t)/t` on `t ∈ [√½ − 1, √2 − 1]` and `(2^f − 1)/f` on `f ∈ [−½, ½]`.
//! Errors (measured by the tests below, in f32): `log2` ≤ 1e-5 absolute (3e-5 dB on a power),
//! `exp2` ≤ 1e-5 relative (9e-5 dB) — far below the 0.01 dB the compressor needs.

/// `10·log10(2)`: dB per unit of `log2` of a power (mean square).
pub const DB_PER_LOG2_POWER: f32 = 3.010_3;
/// `log2(10)/20`: `log2` of an amplitude per dB.
pub const LOG2_AMPLITUDE_PER_DB: f32 = 0.166_096_4;

/// `log2(x)` for positive, normal, finite `x`; exact at powers of two. Edge cases stay finite,
/// so callers need not clamp a power: 0 → −127, subnormals → between −127 and −126,
/// +∞ → 128. (Negative numbers and NaN give meaningless finite values.)
#[inline(always)]
pub fn log2(x: f32) -> f32 {
    let bits = x.to_bits() as i32;
    // Exponent chosen so the mantissa lands in [√½, √2): the polynomial then only has to
    // cover a short interval around 1, where it is exact at 1.
    let e = (bits.wrapping_sub(0x3f35_04f3)) >> 23;
    let m = f32::from_bits(bits.wrapping_sub(e << 23) as u32);
    let t = m - 1.0;
    let q = 1.442_700_4
        + t * (-0.721_195_75
            + t * (0.479_925_57 + t * (-0.366_925_77 + t * (0.316_898_2 + t * -0.202_289_26))));
    e as f32 + t * q
}

/// `2^x`, for `x` in [−125, 125] (clamped to it), relative error ≤ 1e-5 (9e-5 dB). Exact at integers.
#[inline(always)]
pub fn exp2(x: f32) -> f32 {
    // 1.5·2^23: adding it rounds x to the nearest integer, which then sits in the low
    // mantissa bits (x is clamped far inside ±2^22).
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-125.0, 125.0);
    let t = x + MAGIC;
    let i = (t.to_bits() as i32).wrapping_sub(0x4b40_0000);
    let f = x - (t - MAGIC);
    let p = 1.0 + f * (0.693_136_7 + f * (0.240_225_3 + f * (0.055_838_28 + f * 0.009_656_71)));
    f32::from_bits((p.to_bits() as i32).wrapping_add(i << 23) as u32)
}

/// `10·log10(x)` for positive, normal, finite `x`, in f64 to within 1e-12 dB (between ±400 dB;
/// relative 1e-14 beyond): fast enough
/// for the EQ fit's millions of curve points and exact enough for its finite-difference
/// derivatives (steps of 1e-4 see changes of 1e-6 dB). Branch-free and free of 64-bit integer
/// shifts and conversions x86-64 lacks in vector form, so loops over it vectorise.
#[inline(always)]
pub fn power_db(x: f64) -> f64 {
    // √½'s bits: the exponent is counted from there, so the mantissa m lands in [√½, √2).
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    const BIAS: u64 = 1023 << 52;
    // 2^52: adding an integer below 2^52 into its mantissa bits converts it exactly.
    const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;
    const DB_PER_LN: f64 = 10.0 / std::f64::consts::LN_10;
    let bits = x.to_bits();
    // e + 1023 (never negative for positive normal x), then m = x / 2^e.
    let biased = (bits.wrapping_add(BIAS).wrapping_sub(SQRT_HALF_BITS)) >> 52;
    let m = f64::from_bits(bits.wrapping_sub((biased << 52).wrapping_sub(BIAS)));
    let e = f64::from_bits(TWO_52_BITS | biased) - (4_503_599_627_370_496.0 + 1023.0);
    // ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …) with s = (m − 1)/(m + 1), |s| ≤ 0.172: the
    // terms up to s¹⁵ leave less than 1e-14.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0
                    + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 / 15.0))))));
    DB_PER_LN * (e * std::f64::consts::LN_2 + 2.0 * s * series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_error_is_below_1e_5_over_the_detector_range() {
        let mut worst = 0.0f64;
        // 1e-20 … 1e30 is the power range the compressor clamps to.
        let mut x = 1e-20f64;
        while x < 1e30 {
            let got = log2(x as f32) as f64;
            let want = (x as f32 as f64).log2();
            worst = worst.max((got - want).abs());
            x *= 1.000_37;
        }
        assert!(worst < 1e-5, "worst log2 error {worst}");
        assert_eq!(log2(1.0), 0.0);
        assert_eq!(log2(0.25), -2.0);
        assert_eq!(log2(1024.0), 10.0);
        assert_eq!(log2(0.0), -127.0);
        assert_eq!(log2(f32::INFINITY), 128.0);
        let sub = log2(1e-40);
        assert!((-127.0..=-126.0).contains(&sub), "{sub}");
    }

    #[test]
    fn exp2_relative_error_is_below_1e_5() {
        let mut worst = 0.0f64;
        let mut x = -120.0f64;
        while x < 120.0 {
            let got = exp2(x as f32) as f64;
            let want = (x as f32 as f64).exp2();
            worst = worst.max((got / want - 1.0).abs());
            x += 0.000_913;
        }
        assert!(worst < 1e-5, "worst exp2 relative error {worst}");
        assert_eq!(exp2(0.0), 1.0);
        assert_eq!(exp2(-3.0), 0.125);
        assert_eq!(exp2(7.0), 128.0);
    }

    #[test]
    fn power_db_is_within_1e_12_db_of_libm() {
        // ±400 dB (where the fit's curves live), at steps that land on every mantissa region;
        // beyond that, to the ends of the normal range, relative to the value.
        let (mut worst, mut worst_relative) = (0.0f64, 0.0f64);
        let mut x = f64::MIN_POSITIVE;
        while x < 1e300 {
            let (got, want) = (power_db(x), 10.0 * x.log10());
            if want.abs() <= 400.0 {
                worst = worst.max((got - want).abs());
            } else {
                worst_relative = worst_relative.max((got / want - 1.0).abs());
            }
            x *= 1.000_913_7;
        }
        assert!(worst < 1e-12, "worst power_db error {worst} dB");
        assert!(
            worst_relative < 1e-14,
            "worst relative error {worst_relative}"
        );
        assert_eq!(power_db(1.0), 0.0);
        assert!((power_db(100.0) - 20.0).abs() < 1e-13);
        assert!((power_db(f64::MIN_POSITIVE) + 3076.526555685888).abs() < 1e-9);
    }

    #[test]
    fn exp2_clamps_instead_of_overflowing() {
        assert!(exp2(1e9).is_finite());
        assert!(exp2(-1e9) > 0.0 && exp2(-1e9).is_normal());
    }
}
