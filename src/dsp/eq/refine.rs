//! Final polish of a band's design: all five biquad coefficients adjusted together.
//!
//! The closed-form match of `design.rs` fixes the poles by impulse invariance and fits only the
//! numerator. Letting the poles move too removes most of what is left of the error near
//! Nyquist. The fit is Levenberg–Marquardt on the error in dB at the fit grid's points plus
//! points around the band frequency, inside a few rounds of Lawson's reweighting towards the
//! smallest *worst* error, each error measured against its tolerance (0.085 dB below fs/4,
//! 1 dB above). It starts from the closed form and accepts only steps that lower the error
//! and keep the filter stable.
//!
//! A full polish costs around a hundred microseconds: too much for one audio block when
//! eight bands settle at once. [`Polisher`] therefore advances one step at a time; a running
//! band takes one step every few samples and glides onto the result when it is done.

use super::design::{Analog, Biquad, FIT_POINTS, FitGrid, phis};
use std::f64::consts::{FRAC_PI_2, LN_10, PI};

/// Levenberg–Marquardt steps per reweighting round at most.
const ITERATIONS: u8 = 10;
/// Lawson reweighting rounds after the first fit.
const ROUNDS: u8 = 6;
/// Weight of a fit point below fs/4 relative to one above in the first round: the error
/// allowed there is ten times smaller, and squared errors are weighted.
const LOW_WEIGHT: f64 = 1000.0;
/// Weight of the extra points around the band frequency, which keep narrow bells exact
/// where the log-spaced grid is too coarse to see them.
const PEAK_WEIGHT: f64 = 200.0;
/// Extra points: band frequency × 2^(k / (4 Q)) for k in −PEAK_SPAN..=PEAK_SPAN.
const PEAK_SPAN: i32 = 4;
/// Error aimed at below fs/4 relative to 1 dB above, dB: under the 0.1 dB goal with a
/// margin, since the fit sees only its grid points and the worst error lies between them.
const LOW_TOLERANCE_DB: f64 = 0.085;
const MAX_POINTS: usize = FIT_POINTS + 2 * PEAK_SPAN as usize + 1;

/// An in-progress polish of one biquad.
#[derive(Debug, Clone)]
pub struct Polisher {
    /// (ω radians per sample, weight, target dB, tolerance dB)
    points: [(f64, f64, f64, f64); MAX_POINTS],
    count: usize,
    best: Biquad,
    best_cost: f64,
    lambda: f64,
    iterations_left: u8,
    rounds_left: u8,
    done: bool,
}

impl Polisher {
    /// Start polishing `start` towards the magnitude of `analog` (normalised to the band
    /// frequency `w0`, radians per sample).
    pub fn new(start: &Biquad, analog: &Analog, w0: f64, grid: &FitGrid) -> Polisher {
        let mut points = [(0.0, 0.0, 0.0, 0.0); MAX_POINTS];
        let mut count = 0;
        let target_db = |w: f64| 10.0 * analog.magnitude_sq(w / w0).max(1e-300).log10();
        for w in grid.frequencies() {
            let (weight, tolerance) = if w < FRAC_PI_2 {
                (LOW_WEIGHT, LOW_TOLERANCE_DB)
            } else {
                (1.0, 1.0)
            };
            points[count] = (w, weight, target_db(w), tolerance);
            count += 1;
        }
        let zeta_of = |c: [f64; 3]| c[1] / (2.0 * (c[0] * c[2]).sqrt());
        let q = 0.5 / zeta_of(analog.d).min(zeta_of(analog.n)).max(1e-3);
        for k in -PEAK_SPAN..=PEAK_SPAN {
            let w = w0 * 2f64.powf(k as f64 / (4.0 * q));
            if w < 0.98 * PI {
                let tolerance = if w < FRAC_PI_2 { LOW_TOLERANCE_DB } else { 1.0 };
                points[count] = (w, PEAK_WEIGHT, target_db(w), tolerance);
                count += 1;
            }
        }
        let mut polisher = Polisher {
            points,
            count,
            best: *start,
            best_cost: 0.0,
            lambda: 1e-3,
            iterations_left: ITERATIONS,
            rounds_left: ROUNDS,
            done: false,
        };
        polisher.best_cost = polisher.cost(start);
        polisher.done = !polisher.best_cost.is_finite();
        polisher
    }

    /// The best design so far (the final one once [`step`](Self::step) has returned true).
    pub fn result(&self) -> Biquad {
        self.best
    }

    /// Run to the end.
    pub fn finish(mut self) -> Biquad {
        while !self.done {
            self.step();
        }
        self.best
    }

    /// One Levenberg–Marquardt iteration (or one reweighting); returns whether it is done.
    pub fn step(&mut self) -> bool {
        if self.done {
            return true;
        }
        if self.iterations_left > 0 && self.iterate() {
            self.iterations_left -= 1;
        } else if self.rounds_left > 0 {
            self.reweight();
            self.rounds_left -= 1;
            self.iterations_left = ITERATIONS;
            self.lambda = 1e-3;
        } else {
            self.done = true;
        }
        self.done
    }

    fn points(&self) -> &[(f64, f64, f64, f64)] {
        &self.points[..self.count]
    }

    fn cost(&self, bq: &Biquad) -> f64 {
        self.points()
            .iter()
            .map(|&(w, weight, target, _)| {
                let e = 10.0 * bq.magnitude_sq(w).max(1e-300).log10() - target;
                weight * e * e
            })
            .sum()
    }

    /// Lawson's update: each weight grows with its point's error relative to its tolerance,
    /// so the least-squares fit moves towards the smallest largest error.
    fn reweight(&mut self) {
        let best = self.best;
        let mut sum = 0.0;
        for p in &mut self.points[..self.count] {
            let e = (10.0 * best.magnitude_sq(p.0).max(1e-300).log10() - p.2).abs() / p.3;
            p.1 *= e.max(0.05);
            sum += p.1;
        }
        for p in &mut self.points[..self.count] {
            p.1 /= sum;
        }
        self.best_cost = self.cost(&best);
    }

    /// A damped Gauss–Newton step; false when no step lowers the error.
    fn iterate(&mut self) -> bool {
        let (jtj, jte) = normal_equations(&self.best, self.points());
        for _ in 0..6 {
            if let Some(step) = solve_damped(jtj, jte, self.lambda) {
                let [b0, b1, b2] = self.best.b;
                let [a1, a2] = self.best.a;
                let candidate = Biquad {
                    b: [b0 + step[0], b1 + step[1], b2 + step[2]],
                    a: [a1 + step[3], a2 + step[4]],
                };
                if candidate.is_stable() {
                    let c = self.cost(&candidate);
                    if c < self.best_cost {
                        (self.best, self.best_cost) = (candidate, c);
                        self.lambda = (self.lambda * 0.3).max(1e-9);
                        return true;
                    }
                }
            }
            self.lambda *= 10.0;
        }
        false
    }
}

/// Jᵀ W J and Jᵀ W e for the dB error, J the derivatives by (b0, b1, b2, a1, a2). In
/// Vicanek's φ form |H|² = N / D with N = (b0+b1+b2)² φ0 + (b0−b1+b2)² φ1 − 4 b0 b2 φ2 and
/// D likewise in (1, a1, a2), so every derivative is closed form.
fn normal_equations(bq: &Biquad, points: &[(f64, f64, f64, f64)]) -> ([[f64; 5]; 5], [f64; 5]) {
    let db = 10.0 / LN_10;
    let [b0, b1, b2] = bq.b;
    let [a1, a2] = bq.a;
    let (mut jtj, mut jte) = ([[0.0; 5]; 5], [0.0; 5]);
    for &(w, weight, target, _) in points {
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
