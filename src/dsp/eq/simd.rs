//! The steady stereo loop with x86-64 vector instructions: left and right share one 128-bit
//! register, so every multiply-add serves both channels.

use super::band::{FLUSH_BELOW, FLUSH_EVERY};
use super::svf::Tdf2;
use std::arch::x86_64::{
    __m128d, _mm_and_pd, _mm_andnot_pd, _mm_cmpge_pd, _mm_fmadd_pd, _mm_loadu_pd, _mm_mul_pd,
    _mm_set_pd, _mm_set1_pd, _mm_setzero_pd, _mm_storeu_pd,
};

/// Sections handled by one unrolled kernel; longer cascades run in several passes.
const UNROLL: usize = 8;

/// A stereo kernel entry point: `$inner` compiled with `$features` enabled.
macro_rules! stereo_kernel {
    ($(#[$doc:meta])* $name:ident, $features:literal, $inner:expr) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        pub unsafe fn $name(
            sections: &[Tdf2],
            state: &mut [[[f64; 2]; 2]],
            left: &mut [f32],
            right: &mut [f32],
        ) {
            // SAFETY: the features are available, as this function requires.
            unsafe { ($inner)(sections, state, left, right) }
        }
    };
}

stereo_kernel!(
    /// Runs `sections` in series over `left`/`right` (same length), states
    /// `state[k][j] = [L, R]`, two channels per 128-bit vector.
    ///
    /// # Safety
    /// The CPU must support FMA (checked by the caller with `is_x86_feature_detected!`).
    run_stereo_fma,
    "fma",
    run_passes::<false>
);

/// `sections` in passes of at most [`UNROLL`], each pass fully unrolled so its states live in
/// registers for the whole block: section after section (`PIPELINED` false, needs FMA), or as
/// the two-sections-per-vector pipeline of [`run_pipe`] (needs AVX2 and FMA).
#[inline(always)]
unsafe fn run_passes<const PIPELINED: bool>(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    for (sections, state) in sections.chunks(UNROLL).zip(state.chunks_mut(UNROLL)) {
        // SAFETY (all arms): the features each kernel needs are available, as the callers
        // require.
        unsafe {
            match (PIPELINED, sections.len()) {
                (_, 1) => run_k::<1>(sections, state, left, right),
                (true, 2) => run_pipe::<1>(sections, state, left, right),
                (true, 3 | 4) => run_pipe::<2>(sections, state, left, right),
                (true, 5 | 6) => run_pipe::<3>(sections, state, left, right),
                (true, _) => run_pipe::<4>(sections, state, left, right),
                (false, 2) => run_k::<2>(sections, state, left, right),
                (false, 3) => run_k::<3>(sections, state, left, right),
                (false, 4) => run_k::<4>(sections, state, left, right),
                (false, 5) => run_k::<5>(sections, state, left, right),
                (false, 6) => run_k::<6>(sections, state, left, right),
                (false, 7) => run_k::<7>(sections, state, left, right),
                (false, _) => run_k::<8>(sections, state, left, right),
            }
        }
    }
}

#[inline(always)]
unsafe fn run_k<const K: usize>(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    // SAFETY: the caller guarantees FMA; state entries are two contiguous f64, `out` holds
    // the two doubles stored.
    unsafe {
        let zero = _mm_setzero_pd();
        let (mut z0, mut z1) = ([zero; K], [zero; K]);
        let (mut b0, mut b1, mut b2, mut na1, mut na2) =
            ([zero; K], [zero; K], [zero; K], [zero; K], [zero; K]);
        for k in 0..K {
            let s = &sections[k];
            (b0[k], b1[k], b2[k]) = (_mm_set1_pd(s.b0), _mm_set1_pd(s.b1), _mm_set1_pd(s.b2));
            (na1[k], na2[k]) = (_mm_set1_pd(s.na1), _mm_set1_pd(s.na2));
            z0[k] = _mm_loadu_pd(state[k][0].as_ptr());
            z1[k] = _mm_loadu_pd(state[k][1].as_ptr());
        }
        for (t, (l, r)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
            if t % FLUSH_EVERY == FLUSH_EVERY - 1 {
                let floor = _mm_set1_pd(FLUSH_BELOW);
                let sign = _mm_set1_pd(-0.0);
                for z in z0.iter_mut().chain(z1.iter_mut()) {
                    let big = _mm_cmpge_pd(_mm_andnot_pd(sign, *z), floor);
                    *z = _mm_and_pd(*z, big);
                }
            }
            let mut x: __m128d = _mm_set_pd(*r as f64, *l as f64);
            for k in 0..K {
                let y = _mm_fmadd_pd(b0[k], x, z0[k]);
                z0[k] = _mm_fmadd_pd(na1[k], y, _mm_fmadd_pd(b1[k], x, z1[k]));
                z1[k] = _mm_fmadd_pd(na2[k], y, _mm_mul_pd(b2[k], x));
                x = y;
            }
            let mut out = [0.0f64; 2];
            _mm_storeu_pd(out.as_mut_ptr(), x);
            (*l, *r) = (out[0] as f32, out[1] as f32);
        }
        for k in 0..K {
            _mm_storeu_pd(state[k][0].as_mut_ptr(), z0[k]);
            _mm_storeu_pd(state[k][1].as_mut_ptr(), z1[k]);
        }
    }
}

stereo_kernel!(
    /// As [`run_stereo_fma`] with 256-bit vectors: two sections × two channels per
    /// instruction. The sections of a pass form a pipeline in which section k works on sample
    /// t − k at step t, so neighbouring sections are independent within a step and share one
    /// vector; each step shifts every section's output one place up to become the next
    /// section's input. The first and last steps of a block fill and drain the pipeline with
    /// masks, so the block ends with every section caught up: no latency, and the same
    /// arithmetic as section after section, sample by sample.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    run_stereo_avx2,
    "avx2,fma",
    run_passes::<true>
);

stereo_kernel!(
    /// [`run_stereo_avx2`] compiled with AVX-512's 32 registers.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA and AVX-512F/VL.
    run_stereo_avx2_512,
    "avx2,fma,avx512f,avx512vl",
    run_passes::<true>
);

/// The pipeline over `P` pairs of sections (the last one padded with an identity section
/// when `sections` is odd).
///
/// One function of some 160 lines on purpose: the pipeline's prologue, steady state and
/// epilogue share the vector registers that hold every section's coefficients and state, and
/// the compiler keeps them in registers only while they live in one function body.
#[inline(always)]
unsafe fn run_pipe<const P: usize>(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    use std::arch::x86_64::*;
    let k_used = sections.len();
    let depth = 2 * P;
    let frames = left.len().min(right.len());
    // SAFETY: the caller guarantees AVX2 + FMA; every pointer below points into an array or
    // slice of at least the length read or written.
    unsafe {
        let coef = |f: fn(&Tdf2) -> f64| -> [__m256d; P] {
            std::array::from_fn(|p| {
                let c = |k: usize| sections.get(k).map_or(f(&Tdf2::IDENTITY), f);
                _mm256_set_pd(c(2 * p + 1), c(2 * p + 1), c(2 * p), c(2 * p))
            })
        };
        let (b0, b1, b2) = (coef(|s| s.b0), coef(|s| s.b1), coef(|s| s.b2));
        let (na1, na2) = (coef(|s| s.na1), coef(|s| s.na2));
        let load = |j: usize| -> [__m256d; P] {
            std::array::from_fn(|p| {
                let lane = |k: usize| {
                    state
                        .get(k)
                        .map_or(_mm_setzero_pd(), |s| _mm_loadu_pd(s[j].as_ptr()))
                };
                _mm256_set_m128d(lane(2 * p + 1), lane(2 * p))
            })
        };
        let (mut z0, mut z1) = (load(0), load(1));
        let mut out = [_mm256_setzero_pd(); P];
        // Section index of each lane pair, for the fill/drain masks.
        let index: [__m256d; P] = std::array::from_fn(|p| {
            let (lo, hi) = ((2 * p) as f64, (2 * p + 1) as f64);
            _mm256_set_pd(hi, hi, lo, lo)
        });
        // One step of the pipeline: section k takes sample t − k.
        #[inline(always)]
        unsafe fn step<const P: usize>(
            x: __m128d,
            c: &[[__m256d; P]; 5],
            z0: &mut [__m256d; P],
            z1: &mut [__m256d; P],
            out: &mut [__m256d; P],
        ) {
            let [b0, b1, b2, na1, na2] = c;
            // SAFETY: the caller guarantees AVX2 + FMA.
            unsafe {
                // Inputs: section 0 takes the new sample, section k the previous output of k − 1.
                let mut input = [_mm256_setzero_pd(); P];
                input[0] = _mm256_set_m128d(_mm256_castpd256_pd128(out[0]), x);
                for p in 1..P {
                    input[p] = _mm256_permute2f128_pd(out[p - 1], out[p], 0x21);
                }
                for p in 0..P {
                    let y = _mm256_fmadd_pd(b0[p], input[p], z0[p]);
                    z0[p] = _mm256_fmadd_pd(na1[p], y, _mm256_fmadd_pd(b1[p], input[p], z1[p]));
                    z1[p] = _mm256_fmadd_pd(na2[p], y, _mm256_mul_pd(b2[p], input[p]));
                    out[p] = y;
                }
            }
        }
        let c = [b0, b1, b2, na1, na2];
        // Sample t is read at step t and its output written at step t + depth − 1: the write
        // never overtakes the reads, so the block is processed in place.
        let (lp, rp) = (left.as_mut_ptr(), right.as_mut_ptr());
        #[inline(always)]
        unsafe fn sample(lp: *const f32, rp: *const f32, t: usize, frames: usize) -> __m128d {
            // SAFETY: t < frames, the length of both channels.
            unsafe {
                if t < frames {
                    _mm_set_pd(*rp.add(t) as f64, *lp.add(t) as f64)
                } else {
                    _mm_setzero_pd()
                }
            }
        }
        #[inline(always)]
        unsafe fn emit(lp: *mut f32, rp: *mut f32, i: usize, y: __m256d) {
            // SAFETY: i < frames, the length of both channels; AVX is available.
            unsafe {
                let y = _mm256_extractf128_pd(y, 1);
                *lp.add(i) = _mm_cvtsd_f64(y) as f32;
                *rp.add(i) = _mm_cvtsd_f64(_mm_unpackhi_pd(y, y)) as f32;
            }
        }
        // Fill and drain: section k works on sample t − k only if that sample exists; the
        // others keep their states.
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn masked<const P: usize>(
            x: __m128d,
            t: usize,
            frames: usize,
            c: &[[__m256d; P]; 5],
            index: &[__m256d; P],
            z0: &mut [__m256d; P],
            z1: &mut [__m256d; P],
            out: &mut [__m256d; P],
        ) {
            // SAFETY: the caller guarantees AVX2 + FMA.
            unsafe {
                let (old0, old1) = (*z0, *z1);
                step::<P>(x, c, z0, z1, out);
                let first = _mm256_set1_pd(t as f64 - (frames as f64 - 1.0));
                let last = _mm256_set1_pd(t as f64);
                for p in 0..P {
                    let live = _mm256_and_pd(
                        _mm256_cmp_pd(index[p], first, _CMP_GE_OQ),
                        _mm256_cmp_pd(index[p], last, _CMP_LE_OQ),
                    );
                    z0[p] = _mm256_blendv_pd(old0[p], z0[p], live);
                    z1[p] = _mm256_blendv_pd(old1[p], z1[p], live);
                }
            }
        }
        let total = frames + depth - 1;
        for t in 0..(depth - 1).min(total) {
            let x = sample(lp, rp, t, frames);
            masked::<P>(x, t, frames, &c, &index, &mut z0, &mut z1, &mut out);
        }
        // The steady middle, in runs of FLUSH_EVERY with the denormal flush between runs.
        let mut t = depth - 1;
        while t < frames {
            let end = (t + FLUSH_EVERY).min(frames);
            let (mut s0, mut s1, mut o) = (z0, z1, out);
            for tt in t..end {
                step::<P>(sample(lp, rp, tt, frames), &c, &mut s0, &mut s1, &mut o);
                emit(lp, rp, tt + 1 - depth, o[P - 1]);
            }
            (z0, z1, out) = (s0, s1, o);
            let floor = _mm256_set1_pd(FLUSH_BELOW);
            let sign = _mm256_set1_pd(-0.0);
            for z in z0.iter_mut().chain(z1.iter_mut()) {
                let big = _mm256_cmp_pd(_mm256_andnot_pd(sign, *z), floor, _CMP_GE_OQ);
                *z = _mm256_and_pd(*z, big);
            }
            t = end;
        }
        for t in (depth - 1).max(frames)..total {
            let x = sample(lp, rp, t, frames);
            masked::<P>(x, t, frames, &c, &index, &mut z0, &mut z1, &mut out);
            emit(lp, rp, t + 1 - depth, out[P - 1]);
        }
        for k in 0..k_used {
            let (p, hi) = (k / 2, k % 2 == 1);
            let pick = |v: __m256d| {
                if hi {
                    _mm256_extractf128_pd(v, 1)
                } else {
                    _mm256_castpd256_pd128(v)
                }
            };
            _mm_storeu_pd(state[k][0].as_mut_ptr(), pick(z0[p]));
            _mm_storeu_pd(state[k][1].as_mut_ptr(), pick(z1[p]));
        }
    }
}
