//! The steady stereo loop with x86-64 vector instructions: left and right share one 128-bit
//! register, so every multiply-add serves both channels.

use super::svf::Tdf2;
use std::arch::x86_64::{
    __m128d, _mm_fmadd_pd, _mm_loadu_pd, _mm_mul_pd, _mm_set_pd, _mm_set1_pd, _mm_setzero_pd,
    _mm_storeu_pd,
};

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
    const MAX: usize = super::design::MAX_SECTIONS * crate::dsp::NUM_BANDS;
    let n = sections.len().min(state.len()).min(MAX);
    let zero = _mm_setzero_pd();
    let (mut z0, mut z1) = ([zero; MAX], [zero; MAX]);
    let (mut b0, mut b1, mut b2, mut na1, mut na2) = (
        [zero; MAX],
        [zero; MAX],
        [zero; MAX],
        [zero; MAX],
        [zero; MAX],
    );
    for k in 0..n {
        let s = &sections[k];
        (b0[k], b1[k], b2[k]) = (_mm_set1_pd(s.b0), _mm_set1_pd(s.b1), _mm_set1_pd(s.b2));
        (na1[k], na2[k]) = (_mm_set1_pd(s.na1), _mm_set1_pd(s.na2));
        // SAFETY: each state entry is two contiguous f64.
        unsafe {
            z0[k] = _mm_loadu_pd(state[k][0].as_ptr());
            z1[k] = _mm_loadu_pd(state[k][1].as_ptr());
        }
    }
    for (l, r) in left.iter_mut().zip(right.iter_mut()) {
        let mut x: __m128d = _mm_set_pd(*r as f64, *l as f64);
        for k in 0..n {
            let y = _mm_fmadd_pd(b0[k], x, z0[k]);
            z0[k] = _mm_fmadd_pd(na1[k], y, _mm_fmadd_pd(b1[k], x, z1[k]));
            z1[k] = _mm_fmadd_pd(na2[k], y, _mm_mul_pd(b2[k], x));
            x = y;
        }
        let mut out = [0.0f64; 2];
        // SAFETY: `out` has room for the two doubles stored.
        unsafe { _mm_storeu_pd(out.as_mut_ptr(), x) };
        (*l, *r) = (out[0] as f32, out[1] as f32);
    }
    for k in 0..n {
        // SAFETY: as above.
        unsafe {
            _mm_storeu_pd(state[k][0].as_mut_ptr(), z0[k]);
            _mm_storeu_pd(state[k][1].as_mut_ptr(), z1[k]);
        }
    }
}
