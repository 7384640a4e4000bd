//! The fitter's coordinates ([`Param`]), the error it minimises (level free, the target's
//! floor one-sided) and the joint refinement of all bands: Levenberg–Marquardt with a
//! forward-difference Jacobian, Marquardt's diagonal damping and projection onto the bounds
//! after every step (matching.md §6.1(d)).

use super::{BandResponse, FitLimits, FitTarget};
use crate::analysis::on_two_cores;
use crate::analysis::target::MAX_CUT_DB;
use crate::dsp::{EqBandSettings, FilterKind};

/// Forward-difference steps of the Jacobian per coordinate: log2 f, gain dB, ln Q.
const JACOBIAN_STEPS: [f64; 3] = [1e-4, 1e-3, 1e-4];
/// Marquardt's damping at the first step; it shrinks by [`DAMPING_DOWN`] after a step that
/// lowers the cost and grows by [`DAMPING_UP`] after one that does not, at most
/// [`DAMPING_TRIES`] times per iteration.
const INITIAL_DAMPING: f64 = 1e-3;
const DAMPING_DOWN: f64 = 3.0;
const DAMPING_UP: f64 = 4.0;
const DAMPING_TRIES: usize = 8;
/// Smallest damping, and smallest diagonal the damping scales (keeps the system solvable).
const MIN_DAMPING: f64 = 1e-9;
/// The refinement stops when a step lowers the cost by less than this share.
const MIN_RELATIVE_IMPROVEMENT: f64 = 1e-7;

/// A band in the fitter's coordinates: `[log2 f, gain dB, ln Q]`, and a cut's slope.
#[derive(Debug, Clone, Copy)]
pub(super) struct Param {
    pub(super) kind: FilterKind,
    pub(super) slope_db_per_oct: u32,
    pub(super) x: [f64; 3],
}

impl Param {
    pub(super) fn new(kind: FilterKind, x: [f64; 3]) -> Self {
        Self {
            kind,
            slope_db_per_oct: 12,
            x,
        }
    }

    pub(super) fn from_band(b: &EqBandSettings) -> Self {
        Self {
            kind: b.kind,
            slope_db_per_oct: b.slope_db_per_oct,
            x: [
                (b.freq_hz as f64).log2(),
                b.gain_db as f64,
                (b.q as f64).ln(),
            ],
        }
    }

    pub(super) fn band(&self) -> EqBandSettings {
        EqBandSettings {
            enabled: true,
            kind: self.kind,
            freq_hz: 2f64.powf(self.x[0]) as f32,
            gain_db: self.x[1] as f32,
            q: self.x[2].exp() as f32,
            slope_db_per_oct: self.slope_db_per_oct,
        }
    }

    pub(super) fn is_cut(&self) -> bool {
        self.kind.uses_slope()
    }

    /// Whether coordinate `d` shapes the band (a cut has no gain; a first-order one no Q).
    fn is_free(&self, d: usize) -> bool {
        match d {
            1 => self.kind.uses_gain(),
            2 => self.kind.uses_q(self.slope_db_per_oct),
            _ => true,
        }
    }

    pub(super) fn clamp(&mut self, limits: &FitLimits) {
        let b = limits.bounds(self.kind);
        self.x[0] = self.x[0].clamp(b.min_hz.log2(), b.max_hz.log2());
        self.x[1] = self.x[1].clamp(b.min_gain_db, b.max_gain_db);
        self.x[2] = if self.is_free(2) {
            self.x[2].clamp(b.min_q.ln(), b.max_q.ln())
        } else {
            std::f64::consts::FRAC_1_SQRT_2.ln()
        };
    }
}

pub(super) fn total_curve<R: BandResponse>(
    params: &[Param],
    freqs_hz: &[f64],
    response: &R,
) -> Vec<f64> {
    let mut curve = vec![0.0; freqs_hz.len()];
    let mut one = vec![0.0; freqs_hz.len()];
    for p in params {
        response(&p.band(), freqs_hz, &mut one);
        for (c, o) in curve.iter_mut().zip(&one) {
            *c += o;
        }
    }
    curve
}

/// Target values at or below this are the analysis's clamp ([`MAX_CUT_DB`]): they say
/// "at least this much cut" (a cut's stop band, or a null), so a curve below them is no error.
pub(super) const FLOOR_DB: f64 = MAX_CUT_DB;

fn is_floor(target_db: f64) -> bool {
    target_db <= FLOOR_DB + 1e-9
}

/// The level shift that brings `curve` closest to the target (the weighted mean of
/// target − curve over the points that are not at the floor), and the errors
/// curve + shift − target, 0 where the target is at the floor and the curve below it.
pub(super) fn errors(target: &FitTarget, curve: &[f64], out: &mut [f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for ((t, c), w) in target.target_db.iter().zip(curve).zip(&target.weights) {
        if !is_floor(*t) {
            num += w * (t - c);
            den += w;
        }
    }
    let shift = if den > 0.0 { num / den } else { 0.0 };
    for ((o, t), c) in out.iter_mut().zip(&target.target_db).zip(curve) {
        let e = c + shift - t;
        *o = if is_floor(*t) { e.max(0.0) } else { e };
    }
    shift
}

/// The level shift of [`errors`].
pub(super) fn offset(target: &FitTarget, curve: &[f64]) -> f64 {
    errors(target, curve, &mut vec![0.0; curve.len()])
}

/// Weighted RMS of the [`errors`], dB.
pub(super) fn weighted_rms(target: &FitTarget, curve: &[f64]) -> f64 {
    let mut e = vec![0.0; curve.len()];
    errors(target, curve, &mut e);
    let (mut num, mut den) = (0.0, 0.0);
    for (e, w) in e.iter().zip(&target.weights) {
        num += w * e * e;
        den += w;
    }
    (num / den.max(1e-12)).sqrt()
}

/// Weight of the ridge on gains (per grid point, on dB²): keeps bands that fight each other
/// from growing without bound (matching.md §6.1(d), λ_g ≈ 1e-3).
const GAIN_RIDGE: f64 = 1e-4;

/// One refinement's fixed parts: the target, the weights' roots, the ridge.
struct Problem<'a, R> {
    target: &'a FitTarget,
    response: &'a R,
    sqrt_w: Vec<f64>,
    ridge: f64,
}

impl<'a, R: BandResponse> Problem<'a, R> {
    fn new(target: &'a FitTarget, response: &'a R) -> Self {
        let n = target.freqs_hz.len();
        Self {
            target,
            response,
            sqrt_w: target.weights.iter().map(|w| w.sqrt()).collect(),
            ridge: (GAIN_RIDGE * n as f64).sqrt(),
        }
    }

    fn points(&self) -> usize {
        self.target.freqs_hz.len()
    }

    /// Weighted curve errors ([`errors`]: level free, floor one-sided) of a summed curve.
    fn weighted_errors(&self, sum: &[f64], out: &mut [f64]) {
        errors(self.target, sum, out);
        out.iter_mut().zip(&self.sqrt_w).for_each(|(e, w)| *e *= w);
    }

    /// Residual vector: the weighted errors, then one ridge row per band.
    fn residuals(&self, params: &[Param], per_band: &[Vec<f64>]) -> Vec<f64> {
        let n = self.points();
        let sum: Vec<f64> = (0..n)
            .map(|i| per_band.iter().map(|b| b[i]).sum::<f64>())
            .collect();
        let mut r = vec![0.0; n];
        self.weighted_errors(&sum, &mut r);
        r.extend(params.iter().map(|p| self.ridge * p.x[1]));
        r
    }

    fn band_curve(&self, p: &Param) -> Vec<f64> {
        let mut curve = vec![0.0; self.points()];
        (self.response)(&p.band(), &self.target.freqs_hz, &mut curve);
        curve
    }

    /// Each band's curve, where `columns` says the Jacobian's columns are computed (a band's
    /// curve costs what a column does).
    fn band_curves(&self, params: &[Param], columns: Columns) -> Vec<Vec<f64>> {
        match columns {
            Columns::InTurn => params.iter().map(|p| self.band_curve(p)).collect(),
            Columns::OnTwoCores => on_two_cores(params, |p| self.band_curve(p)),
        }
    }

    /// JᵀJ and Jᵀr at `params` (curves `per_band`, residuals `r`). The Jacobian is built
    /// column by column: only the perturbed band's curve changes.
    fn normal_equations(
        &self,
        params: &[Param],
        per_band: &[Vec<f64>],
        r: &[f64],
        columns: Columns,
    ) -> (Vec<f64>, Vec<f64>) {
        let (n, m) = (self.points(), params.len() * 3);
        let rows = n + params.len();
        let mut jac = vec![0.0; rows * m];
        let sum: Vec<f64> = (0..n)
            .map(|i| per_band.iter().map(|b| b[i]).sum::<f64>())
            .collect();
        let free: Vec<(usize, usize)> = params
            .iter()
            .enumerate()
            .flat_map(|(k, p)| (0..3).filter(|&d| p.is_free(d)).map(move |d| (k, d)))
            .collect();
        // Column (k, d) into `out`: the errors' change when band k's coordinate d moves a step
        // (`moved`: scratch).
        let column_into = |&(k, d): &(usize, usize), moved: &mut [f64], out: &mut [f64]| {
            let mut q = params[k];
            q.x[d] += JACOBIAN_STEPS[d];
            let curve = self.band_curve(&q);
            for i in 0..n {
                moved[i] = sum[i] + curve[i] - per_band[k][i];
            }
            self.weighted_errors(moved, out);
            for i in 0..n {
                out[i] = (out[i] - r[i]) / JACOBIAN_STEPS[d];
            }
        };
        let mut place = |(k, d): (usize, usize), values: &[f64]| {
            let col = 3 * k + d;
            for (i, &v) in values.iter().enumerate() {
                jac[i * m + col] = v;
            }
            if d == 1 {
                jac[(n + k) * m + col] = self.ridge;
            }
        };
        match columns {
            Columns::InTurn => {
                let (mut moved, mut out) = (vec![0.0; n], vec![0.0; n]);
                for kd in &free {
                    column_into(kd, &mut moved, &mut out);
                    place(*kd, &out);
                }
            }
            Columns::OnTwoCores => {
                let computed = on_two_cores(&free, |kd| {
                    let (mut moved, mut out) = (vec![0.0; n], vec![0.0; n]);
                    column_into(kd, &mut moved, &mut out);
                    out
                });
                for (&kd, values) in free.iter().zip(&computed) {
                    place(kd, values);
                }
            }
        }
        let mut jtj = vec![0.0; m * m];
        let mut jtr = vec![0.0; m];
        for i in 0..rows {
            let row = &jac[i * m..(i + 1) * m];
            for a in 0..m {
                if row[a] == 0.0 {
                    continue;
                }
                jtr[a] += row[a] * r[i];
                for b in a..m {
                    jtj[a * m + b] += row[a] * row[b];
                }
            }
        }
        for a in 0..m {
            for b in 0..a {
                jtj[a * m + b] = jtj[b * m + a];
            }
        }
        (jtj, jtr)
    }
}

/// Where the Jacobian's columns (and a step's band curves) are computed. They are independent,
/// and the result is the same bits either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// One after another: for a response of a few flops per point (the prototype's), whose
    /// columns take less time than starting a thread.
    InTurn,
    /// On two cores ([`on_two_cores`]): for a response that designs the band (the digital
    /// one, [`super::digital_curve`]).
    OnTwoCores,
}

/// Joint refinement of all bands for at most `max_iterations` steps (see the module doc), the
/// Jacobian's columns computed as `columns` says.
pub(super) fn levenberg_marquardt<R: BandResponse>(
    params: &mut [Param],
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
    max_iterations: usize,
    columns: Columns,
) {
    let m = params.len() * 3;
    if m == 0 {
        return;
    }
    let problem = Problem::new(target, response);
    let mut per_band = problem.band_curves(params, columns);
    let mut r = problem.residuals(params, &per_band);
    let mut cost: f64 = r.iter().map(|v| v * v).sum();
    let mut mu = -1.0;
    for _ in 0..max_iterations {
        let (jtj, jtr) = problem.normal_equations(params, &per_band, &r, columns);
        if mu < 0.0 {
            mu = INITIAL_DAMPING;
        }
        let mut improved = false;
        for _ in 0..DAMPING_TRIES {
            let mut lhs = jtj.clone();
            for a in 0..m {
                lhs[a * m + a] += mu * jtj[a * m + a].max(MIN_DAMPING);
                if !params[a / 3].is_free(a % 3) {
                    // A coordinate that shapes nothing stays where it is.
                    lhs[a * m + a] = 1.0;
                }
            }
            let rhs: Vec<f64> = jtr.iter().map(|v| -v).collect();
            let Some(step) = crate::analysis::lsq::solve(&mut lhs, rhs, m) else {
                mu *= DAMPING_UP;
                continue;
            };
            let mut trial: Vec<Param> = params.to_vec();
            for (k, p) in trial.iter_mut().enumerate() {
                for d in 0..3 {
                    p.x[d] += step[3 * k + d];
                }
                p.clamp(limits);
            }
            let trial_bands = problem.band_curves(&trial, columns);
            let trial_r = problem.residuals(&trial, &trial_bands);
            let trial_cost: f64 = trial_r.iter().map(|v| v * v).sum();
            if trial_cost < cost {
                let relative = (cost - trial_cost) / cost.max(1e-30);
                params.copy_from_slice(&trial);
                per_band = trial_bands;
                r = trial_r;
                cost = trial_cost;
                mu = (mu / DAMPING_DOWN).max(MIN_DAMPING);
                improved = relative > MIN_RELATIVE_IMPROVEMENT;
                break;
            }
            mu *= DAMPING_UP;
        }
        if !improved {
            break;
        }
    }
}
