//! The band-by-band fit: each new band the dictionary shape that explains most of what is
//! left, then all bands refined together; bands that do little are pruned.

use super::lm::{Columns, Param, errors, levenberg_marquardt, total_curve, weighted_rms};
use super::{
    BandResponse, EqFit, FitLimits, FitTarget, GOOD_ENOUGH_DB, MIN_IMPROVEMENT_DB, PRUNE_GAIN_DB,
    finish,
};
use crate::dsp::FilterKind;

/// Levenberg–Marquardt steps that settle rough cut seeds before bands are added.
const SETTLE_ITERATIONS: usize = 30;
/// Steps after each added band.
const ADD_ITERATIONS: usize = 60;
/// Steps after pruning.
const PRUNE_ITERATIONS: usize = 30;
/// Dictionary shapes: centres every this many octaves ...
const CENTRE_STEP_OCTAVES: f64 = 1.0 / 6.0;
/// ... from this frequency up, Hz (below it a bell is mostly outside the fit's band) ...
const LOWEST_CENTRE_HZ: f64 = 25.0;
/// ... at this gain, dB, divided out again (the response is nearly linear in gain there,
/// matching.md §6.1(b)).
const ATOM_GAIN_DB: f64 = 6.0;
/// Bell and shelf Qs of the dictionary.
const BELL_QS: [f64; 6] = [0.5, 0.8, 1.2, 1.8, 2.7, 4.0];
const SHELF_QS: [f64; 2] = [0.5, 0.71];

/// The greedy fit with `initial` bands (the cuts) in place from the start; they are refined
/// with the rest and never pruned. `settle`: refine them alone first (rough seeds).
pub(super) fn fit_around<R: BandResponse>(
    target: &FitTarget,
    max_bands: usize,
    limits: &FitLimits,
    response: &R,
    dictionary: &Dictionary,
    initial: Vec<Param>,
    settle: bool,
) -> EqFit {
    // The search runs on the analog prototype, whose columns take less time than starting a
    // thread: in turn.
    let refine = |params: &mut [Param], iterations| {
        levenberg_marquardt(
            params,
            target,
            limits,
            response,
            iterations,
            Columns::InTurn,
        );
    };
    let mut params = initial;
    if settle && !params.is_empty() {
        refine(&mut params, SETTLE_ITERATIONS);
    }
    let curve = total_curve(&params, &target.freqs_hz, response);
    let mut best_error = weighted_rms(target, &curve);
    let mut best = params.clone();
    while params.len() < max_bands {
        let curve = total_curve(&params, &target.freqs_hz, response);
        let mut residual = vec![0.0; curve.len()];
        errors(target, &curve, &mut residual);
        residual.iter_mut().for_each(|r| *r = -*r);
        let Some(atom) = dictionary.best_atom(&residual, &target.weights, &params, limits) else {
            break;
        };
        params.push(atom);
        refine(&mut params, ADD_ITERATIONS);
        let curve = total_curve(&params, &target.freqs_hz, response);
        let error = weighted_rms(target, &curve);
        let improvement = best_error - error;
        if error < best_error {
            best_error = error;
            best = params.clone();
        }
        if error <= GOOD_ENOUGH_DB || improvement < MIN_IMPROVEMENT_DB {
            break;
        }
    }
    let mut params = best;
    let before = params.len();
    params.retain(|p| p.is_cut() || p.x[1].abs() >= PRUNE_GAIN_DB);
    if params.len() != before {
        refine(&mut params, PRUNE_ITERATIONS);
    }
    // Low to high: the order people read an EQ in.
    finish(params, target, response)
}

/// Unit-gain shapes (the response at +6 dB divided by 6: nearly linear in gain, matching.md
/// §6.1(b)) of every candidate band, for the greedy choice.
pub(super) struct Dictionary {
    atoms: Vec<(Param, Vec<f64>)>,
}

impl Dictionary {
    pub(super) fn new<R: BandResponse>(freqs_hz: &[f64], limits: &FitLimits, response: &R) -> Self {
        let mut atoms = Vec::new();
        let kinds: [(FilterKind, &[f64]); 3] = [
            (FilterKind::Bell, &BELL_QS),
            (FilterKind::LowShelf, &SHELF_QS),
            (FilterKind::HighShelf, &SHELF_QS),
        ];
        for (kind, qs) in kinds {
            let b = limits.bounds(kind);
            let mut u = b.min_hz.max(LOWEST_CENTRE_HZ).log2();
            while u <= b.max_hz.log2() {
                for &q in qs.iter().filter(|q| **q <= b.max_q) {
                    let param = Param::new(kind, [u, ATOM_GAIN_DB, f64::ln(q)]);
                    let band = param.band();
                    let mut shape = vec![0.0; freqs_hz.len()];
                    response(&band, freqs_hz, &mut shape);
                    shape.iter_mut().for_each(|v| *v /= ATOM_GAIN_DB);
                    atoms.push((param, shape));
                }
                u += CENTRE_STEP_OCTAVES;
            }
        }
        Self { atoms }
    }

    /// The atom (with its least-squares gain) that removes most weighted residual energy.
    /// A kind already used for a shelf is not offered again (one low and one high shelf).
    fn best_atom(
        &self,
        residual: &[f64],
        weights: &[f64],
        used: &[Param],
        limits: &FitLimits,
    ) -> Option<Param> {
        let mut best: Option<(f64, Param)> = None;
        // The level is free: residual and shapes count with their weighted means removed.
        let total: f64 = weights.iter().sum::<f64>().max(1e-12);
        let residual_sum: f64 = residual.iter().zip(weights).map(|(r, w)| w * r).sum();
        for (param, shape) in &self.atoms {
            if param.kind != FilterKind::Bell && used.iter().any(|p| p.kind == param.kind) {
                continue;
            }
            let (mut dot, mut norm, mut shape_sum) = (0.0, 0.0, 0.0);
            for ((r, s), w) in residual.iter().zip(shape).zip(weights) {
                dot += w * r * s;
                norm += w * s * s;
                shape_sum += w * s;
            }
            dot -= residual_sum * shape_sum / total;
            norm -= shape_sum * shape_sum / total;
            if norm < 1e-12 {
                continue;
            }
            let gain = dot / norm;
            let explained = dot * dot / norm;
            if best.as_ref().is_none_or(|(e, _)| explained > *e) {
                let mut p = *param;
                p.x[1] = gain;
                best = Some((explained, p));
            }
        }
        best.map(|(_, mut p)| {
            p.clamp(limits);
            p
        })
    }
}
