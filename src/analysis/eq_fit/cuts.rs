//! Which cuts to try: the ones the target plainly asks for, and ones hidden next to other
//! bands where the target falls away at an end.

use super::lm::{Param, weighted_rms};
use super::{BandResponse, CUT_MIN_GAIN_DB, FitLimits, FitTarget};
use crate::dsp::{FilterKind, ranges};

/// Cut corners are tried every this many octaves.
const CORNER_STEP_OCTAVES: f64 = 1.0 / 6.0;
/// The end region [`end_seeds`] looks at: the lowest or highest this-many-times in frequency
/// (an octave and a half) that is seen.
const END_REGION_RATIO: f64 = 2.8;
/// A hidden cut's corner is where the fall passes this, dB.
const CORNER_FALL_DB: f64 = 3.0;

/// The cuts the target asks for: at each end, the cut (kind, slope, corner) that alone
/// explains most of the weighted target, if it lowers the error by [`CUT_MIN_GAIN_DB`].
/// Only weighted points count, so a roll-off into the noise floor is judged where it is seen.
pub(super) fn choose_cuts<R: BandResponse>(
    target: &FitTarget,
    limits: &FitLimits,
    response: &R,
) -> Vec<Param> {
    let n = target.freqs_hz.len();
    let mut chosen: Vec<Param> = Vec::new();
    let mut curve = vec![0.0; n];
    let mut shape = vec![0.0; n];
    let mut trial = vec![0.0; n];
    for kind in [FilterKind::LowCut, FilterKind::HighCut] {
        let before = weighted_rms(target, &curve);
        let b = limits.bounds(kind);
        let mut best: Option<(f64, Param)> = None;
        for slope in ranges::CUT_SLOPES_DB_PER_OCT {
            let mut u = b.min_hz.log2();
            while u <= b.max_hz.log2() {
                let mut p = Param {
                    kind,
                    slope_db_per_oct: slope,
                    x: [u, 0.0, std::f64::consts::FRAC_1_SQRT_2.ln()],
                };
                p.clamp(limits);
                response(&p.band(), &target.freqs_hz, &mut shape);
                for ((t, c), s) in trial.iter_mut().zip(&curve).zip(&shape) {
                    *t = c + s;
                }
                let error = weighted_rms(target, &trial);
                if best.as_ref().is_none_or(|(e, _)| error < *e) {
                    best = Some((error, p));
                }
                u += CORNER_STEP_OCTAVES;
            }
        }
        if let Some((error, p)) = best
            && before - error >= CUT_MIN_GAIN_DB
        {
            response(&p.band(), &target.freqs_hz, &mut shape);
            for (c, s) in curve.iter_mut().zip(&shape) {
                *c += s;
            }
            chosen.push(p);
        }
    }
    chosen
}

/// Where the target falls by [`END_FALL_DB`] towards an end of its weighted range (the lowest
/// or highest octave and a half that is seen), a cut there: at the corner where the fall
/// passes 3 dB, one per slope of [`SEED_SLOPES`]. These find the cuts that bands next to them
/// hide from [`choose_cuts`] (a 25 Hz cut under a low-shelf boost).
pub(super) fn end_seeds(target: &FitTarget, limits: &FitLimits) -> Vec<Param> {
    let seen: Vec<(f64, f64)> = target
        .freqs_hz
        .iter()
        .zip(&target.target_db)
        .zip(&target.weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|((f, t), _)| (*f, *t))
        .collect();
    let (Some(&(lo, _)), Some(&(hi, _))) = (seen.first(), seen.last()) else {
        return Vec::new();
    };
    let mut seeds = Vec::new();
    for kind in [FilterKind::LowCut, FilterKind::HighCut] {
        // The end region, walked from the inside towards the end.
        let region: Vec<(f64, f64)> = if kind == FilterKind::LowCut {
            seen.iter()
                .rev()
                .filter(|(f, _)| *f <= lo * END_REGION_RATIO)
                .copied()
                .collect()
        } else {
            seen.iter()
                .filter(|(f, _)| *f >= hi / END_REGION_RATIO)
                .copied()
                .collect()
        };
        let Some(peak) = region.iter().map(|p| p.1).reduce(f64::max) else {
            continue;
        };
        let end = region.last().map_or(peak, |p| p.1);
        if peak - end < END_FALL_DB {
            continue;
        }
        let start = region.iter().position(|p| p.1 == peak).unwrap_or(0);
        let Some(&(corner_hz, _)) = region[start..]
            .iter()
            .find(|p| p.1 <= peak - CORNER_FALL_DB)
        else {
            continue;
        };
        for slope in SEED_SLOPES {
            let mut p = Param {
                kind,
                slope_db_per_oct: slope,
                x: [corner_hz.log2(), 0.0, std::f64::consts::FRAC_1_SQRT_2.ln()],
            };
            p.clamp(limits);
            seeds.push(p);
        }
    }
    seeds
}

/// How far the target must fall towards an end for [`end_seeds`] to try a cut there, dB.
const END_FALL_DB: f64 = 4.0;

/// The slopes [`end_seeds`] tries (the others are walked to from the best fit).
const SEED_SLOPES: [u32; 1] = [12];
