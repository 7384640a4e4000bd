//! The steady stereo loop with x86-64 vector instructions: left and right share one 128-bit
//! register, so every multiply-add serves both channels.

use super::svf::Tdf2;
use std::arch::x86_64::{
    __m128d, _mm_fmadd_pd, _mm_loadu_pd, _mm_mul_pd, _mm_set_pd, _mm_set1_pd, _mm_setzero_pd,
    _mm_storeu_pd,
};

/// Sections handled by one unrolled kernel; longer cascades run in several passes.
const UNROLL: usize = 8;

/// Runs `sections` in series over `left`/`right` (same length), states `state[k][j] = [L, R]`.
///
/// # Safety
/// The CPU must support FMA (checked by the caller with `is_x86_feature_detected!`).
#[target_feature(enable = "fma")]
pub unsafe fn run_stereo_fma(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    // SAFETY: FMA is available, as this function requires.
    unsafe { run_passes(sections, state, left, right) }
}

/// As [`run_stereo_fma`], compiled for AVX-512, whose 32 vector registers hold every state of
/// an 8-section pass at once.
///
/// # Safety
/// The CPU must support AVX-512F/VL and FMA.
#[target_feature(enable = "fma,avx512f,avx512vl")]
pub unsafe fn run_stereo_avx512(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    // SAFETY: the features are available, as this function requires.
    unsafe { run_passes(sections, state, left, right) }
}

#[inline(always)]
unsafe fn run_passes(
    sections: &[Tdf2],
    state: &mut [[[f64; 2]; 2]],
    left: &mut [f32],
    right: &mut [f32],
) {
    // The section count is fixed per pass, so each pass is fully unrolled and its states can
    // live in registers for the whole block.
    for (sections, state) in sections.chunks(UNROLL).zip(state.chunks_mut(UNROLL)) {
        // SAFETY (all arms): FMA is available, as this function requires.
        unsafe {
            match sections.len() {
                1 => run_k::<1>(sections, state, left, right),
                2 => run_k::<2>(sections, state, left, right),
                3 => run_k::<3>(sections, state, left, right),
                4 => run_k::<4>(sections, state, left, right),
                5 => run_k::<5>(sections, state, left, right),
                6 => run_k::<6>(sections, state, left, right),
                7 => run_k::<7>(sections, state, left, right),
                _ => run_k::<8>(sections, state, left, right),
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
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
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
