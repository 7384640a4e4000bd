//! Pure signal processing: numbers and slices, std only (plus serde derives on settings).
//!
//! Rules (enforced by `tests/dsp_purity.rs`): no plugin framework, GUI, locks, logging or
//! I/O in here, and no allocation after construction. Every processor follows one lifecycle:
//! construct (may allocate) → `prepare(sample_rate)` → cheap setters → `process` → `reset()`.

// Sample loops index several parallel channel and state arrays by the same counter; iterator
// chains over zipped slices would hide that and not be faster.
#![allow(clippy::needless_range_loop)]

pub mod ceiling;
pub mod chain;
#[cfg(test)]
mod chain_tests;
pub mod compressor;
pub mod eq;
pub mod fastmath;
pub mod meters;
pub mod settings;
pub mod smoother;

pub use chain::{Chain, MAX_CHANNELS};
pub use meters::{ChainMeters, METER_FLOOR_DB, MeterReader, MeterReading};
pub use settings::{
    CeilingSettings, ChainSettings, CompressorSettings, Detector, EqBandSettings, EqSettings,
    FieldError, FilterKind, NUM_BANDS, Range, ranges,
};

/// The vector instructions this CPU has, as the processors' builds need them: each level has
/// everything the ones before it have (detected by the standard library, once per process).
/// The EQ's kernels, the compressor's loops and the analysis' simulation of the compressor
/// choose their builds by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Simd {
    /// Plain arithmetic, any CPU.
    Portable,
    /// Fused multiply-add.
    Fma,
    /// AVX2 and FMA.
    Avx2,
    /// AVX2, FMA and AVX-512 (F and VL).
    Avx512,
}

impl Simd {
    pub(crate) fn detect() -> Simd {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if !has!("fma") {
                Simd::Portable
            } else if !has!("avx2") {
                Simd::Fma
            } else if !(has!("avx512f") && has!("avx512vl")) {
                Simd::Avx2
            } else {
                Simd::Avx512
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Simd::Portable
    }

    /// Every level this CPU runs, lowest first: for tests that compare the builds.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Simd> {
        let best = Simd::detect();
        [Simd::Portable, Simd::Fma, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&level| level <= best)
            .collect()
    }
}

/// The largest magnitude in `x` (0 for none; NaN is passed over). Eight running maxima side
/// by side, which the compiler turns into vector instructions (a fold through `f32::max`,
/// whose NaN rule blocks vectorising, goes one sample at a time). The maximum does not depend
/// on the order it is taken in: the same value either way.
#[inline]
pub fn peak_magnitude(x: &[f32]) -> f32 {
    let mut top = [0.0f32; 8];
    let eights = x.chunks_exact(8);
    let rest = eights.remainder();
    for eight in eights {
        for l in 0..8 {
            let v = eight[l].abs();
            top[l] = if v > top[l] { v } else { top[l] };
        }
    }
    rest.iter()
        .map(|v| v.abs())
        .chain(top)
        .fold(0.0, |m, v| if v > m { v } else { m })
}

/// Whether the CPU has AVX2: the simple scans around the chain (meters, the editor's scope)
/// then run in their AVX2 builds.
pub fn cpu_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// dB → linear amplitude.
#[inline]
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Linear amplitude → dB (−inf for 0).
#[inline]
pub fn gain_to_db(gain: f64) -> f64 {
    20.0 * gain.log10()
}

#[cfg(test)]
mod tests {
    /// The side-by-side maxima find what one pass over the samples finds, wherever the peak
    /// lies (in the eights or in the remainder, positive or negative).
    #[test]
    fn the_sample_peak_is_the_largest_magnitude() {
        use super::peak_magnitude as sample_peak;
        let fold = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert_eq!(sample_peak(&[]), 0.0);
        // Scattered values in ±1, none of them 1.5.
        let x: Vec<f32> = (0..1_003).map(|i| (i as f32 * 12.9898).sin()).collect();
        for len in [1, 7, 8, 9, 100, 1_003] {
            for at in [0, len / 2, len - 1] {
                for sign in [1.0, -1.0] {
                    let mut y = x[..len].to_vec();
                    y[at] = 1.5 * sign;
                    assert_eq!(sample_peak(&y), 1.5, "len {len}, peak at {at}");
                    y[at] = 0.0;
                    assert_eq!(sample_peak(&y).to_bits(), fold(&y).to_bits(), "len {len}");
                }
            }
        }
    }
}
