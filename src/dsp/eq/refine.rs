//! Final polish of a band's design: all five biquad coefficients adjusted together.
//!
//! The closed-form match of `design.rs` fixes the poles by impulse invariance and fits only the
//! numerator. Letting the poles move too removes most of what is left of the error near
//! Nyquist. The fit is Levenberg–Marquardt on the error in dB at the fit grid's points plus
//! points around the band frequency, weighted so that the response below fs/4 stays within
//! hundredths of a dB while the top octave gets within half a dB. It starts from the closed
//! form, accepts only steps that lower the error and keep the filter stable, and costs some
//! tens of microseconds, so it runs once per settled setting, not while parameters glide.

use super::design::{Analog, Biquad, FitGrid, phis};
use std::f64::consts::{FRAC_PI_2, LN_10, PI};

/// Gauss–Newton steps at most.
const ITERATIONS: usize = 10;
/// Weight of a fit point below fs/4 relative to one above: the error allowed there is ten
/// times smaller, and squared errors are weighted.
const LOW_WEIGHT: f64 = 1000.0;
/// Weight of the extra points around the band frequency, which keep narrow bells exact
/// where the log-spaced grid is too coarse to see them.
const PEAK_WEIGHT: f64 = 200.0;
/// Extra points: band frequency × 2^(k / (4 Q)) for k in −PEAK_SPAN..=PEAK_SPAN.
const PEAK_SPAN: i32 = 4;

/// `start` refined towards the magnitude of `analog` (normalised to the band frequency `w0`,
/// radians per sample). Never returns anything worse than `start`, nor anything unstable.
pub fn refine(start: &Biquad, analog: &Analog, w0: f64, grid: &FitGrid) -> Biquad {
    // Fit points: (ω, weight, target dB).
    let mut points = [(0.0, 0.0, 0.0); super::design::FIT_POINTS + 2 * PEAK_SPAN as usize + 1];
    let mut n = 0;
    let target_db = |w: f64| 10.0 * analog.magnitude_sq(w / w0).max(1e-300).log10();
    for w in grid.frequencies() {
        let weight = if w < FRAC_PI_2 { LOW_WEIGHT } else { 1.0 };
        points[n] = (w, weight, target_db(w));
        n += 1;
    }
    let zeta_of = |c: [f64; 3]| c[1] / (2.0 * (c[0] * c[2]).sqrt());
    let q = 0.5 / zeta_of(analog.d).min(zeta_of(analog.n)).max(1e-3);
    for k in -PEAK_SPAN..=PEAK_SPAN {
        let w = w0 * 2f64.powf(k as f64 / (4.0 * q));
        if w < 0.98 * PI {
            points[n] = (w, PEAK_WEIGHT, target_db(w));
            n += 1;
        }
    }
    let points = &points[..n];

    let cost = |bq: &Biquad| -> f64 {
        points
            .iter()
            .map(|&(w, weight, t)| {
                let e = 10.0 * bq.magnitude_sq(w).max(1e-300).log10() - t;
                weight * e * e
            })
            .sum()
    };
    let mut best = *start;
    let mut best_cost = cost(&best);
    if !best_cost.is_finite() {
        return *start;
    }
    let mut lambda = 1e-3;
    for _ in 0..ITERATIONS {
        let (jtj, jte) = normal_equations(&best, points);
        let mut improved = false;
        for _ in 0..6 {
            let Some(step) = solve_damped(jtj, jte, lambda) else {
                lambda *= 10.0;
                continue;
            };
            let [b0, b1, b2] = best.b;
            let [a1, a2] = best.a;
            let candidate = Biquad {
                b: [b0 + step[0], b1 + step[1], b2 + step[2]],
                a: [a1 + step[3], a2 + step[4]],
            };
            if candidate.is_stable() {
                let c = cost(&candidate);
                if c < best_cost {
                    (best, best_cost) = (candidate, c);
                    lambda = (lambda * 0.3).max(1e-9);
                    improved = true;
                    break;
                }
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    best
}

/// Jᵀ W J and Jᵀ W e for the dB error, J the derivatives by (b0, b1, b2, a1, a2). In
/// Vicanek's φ form |H|² = N / D with N = (b0+b1+b2)² φ0 + (b0−b1+b2)² φ1 − 4 b0 b2 φ2 and
/// D likewise in (1, a1, a2), so every derivative is closed form.
fn normal_equations(bq: &Biquad, points: &[(f64, f64, f64)]) -> ([[f64; 5]; 5], [f64; 5]) {
    let db = 10.0 / LN_10;
    let [b0, b1, b2] = bq.b;
    let [a1, a2] = bq.a;
    let (mut jtj, mut jte) = ([[0.0; 5]; 5], [0.0; 5]);
    for &(w, weight, target) in points {
        let (p0, p1, p2) = phis(w);
        let (sp, sm) = (b0 + b1 + b2, b0 - b1 + b2);
        let num = (sp * sp * p0 + sm * sm * p1 - 4.0 * b0 * b2 * p2).max(1e-300);
        let (dp, dm) = (1.0 + a1 + a2, 1.0 - a1 + a2);
        let den = dp * dp * p0 + dm * dm * p1 - 4.0 * a2 * p2;
        let e = db * (num.ln() - den.ln()) - target;
        let j = [
            db * (2.0 * sp * p0 + 2.0 * sm * p1 - 4.0 * b2 * p2) / num,
            db * (2.0 * sp * p0 - 2.0 * sm * p1) / num,
            db * (2.0 * sp * p0 + 2.0 * sm * p1 - 4.0 * b0 * p2) / num,
            -db * (2.0 * dp * p0 - 2.0 * dm * p1) / den,
            -db * (2.0 * dp * p0 + 2.0 * dm * p1 - 4.0 * p2) / den,
        ];
        for r in 0..5 {
            for c in 0..5 {
                jtj[r][c] += weight * j[r] * j[c];
            }
            jte[r] += weight * j[r] * e;
        }
    }
    (jtj, jte)
}

/// The Levenberg–Marquardt step: (JᵀWJ + λ·diag) δ = −JᵀWe, by Gaussian elimination with
/// partial pivoting. None when singular.
fn solve_damped(mut m: [[f64; 5]; 5], jte: [f64; 5], lambda: f64) -> Option<[f64; 5]> {
    let mut rhs = jte.map(|v| -v);
    for (r, row) in m.iter_mut().enumerate() {
        row[r] *= 1.0 + lambda;
    }
    for col in 0..5 {
        let pivot = (col..5).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 || !m[pivot][col].is_finite() {
            return None;
        }
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        for r in col + 1..5 {
            let f = m[r][col] / m[col][col];
            for c in col..5 {
                m[r][c] -= f * m[col][c];
            }
            rhs[r] -= f * rhs[col];
        }
    }
    let mut x = [0.0; 5];
    for r in (0..5).rev() {
        let tail: f64 = (r + 1..5).map(|c| m[r][c] * x[c]).sum();
        x[r] = (rhs[r] - tail) / m[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}
