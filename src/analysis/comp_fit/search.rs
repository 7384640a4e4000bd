//! The search over compressor models: a coarse grid, then Nelder–Mead, each evaluating up to
//! [`LANES`] models per simulation pass.

use super::CompModel;
use crate::dsp::compressor::LANES;
use crate::dsp::{Detector, ranges};

/// Detector-level percentiles the grid puts thresholds at.
const GRID_THRESHOLD_PERCENTILES: [f64; 7] = [0.2, 0.35, 0.5, 0.7, 0.85, 0.95, 0.99];
/// Ratios of the grid.
const GRID_RATIOS: [f64; 4] = [1.5, 2.5, 4.0, 8.0];
/// Knee of the grid's models, dB (the search moves it).
const GRID_KNEE_DB: f64 = 6.0;
/// Detector levels at or below this are silence, not material for thresholds, dB.
const GRID_SILENCE_DB: f32 = -100.0;
/// Threshold of the grid when the levels are all silence, dB.
const GRID_SILENT_THRESHOLD_DB: f64 = -30.0;
/// Widest knee the search allows, dB: wider knees trade off against threshold and ratio.
const MAX_FIT_KNEE_DB: f64 = 18.0;
/// The first simplex's steps from the start: threshold dB, ln ratio, knee dB, ln attack,
/// ln release.
const SIMPLEX_STEPS: [f64; 5] = [3.0, 0.3, 3.0, 0.7, 0.5];
/// Nelder–Mead stops when the simplex's costs agree to this (relative) tolerance.
const SIMPLEX_TOLERANCE: f64 = 1e-6;

/// Costs of up to [`LANES`] models at once, in their order (infinite past them).
pub(super) type BatchCost<'a> = dyn FnMut(&[CompModel]) -> [f64; LANES] + 'a;

/// `cost(k)` for the first `used` lanes, infinite (never the best) for the padding.
pub(super) fn lane_costs(used: usize, cost: impl Fn(usize) -> (f64, f64)) -> [(f64, f64); LANES] {
    std::array::from_fn(|k| {
        if k < used {
            cost(k)
        } else {
            (f64::INFINITY, 0.0)
        }
    })
}

/// Coarse grid: thresholds at percentiles of the detector level, four ratios, two time-constant
/// pairs, knee 6 dB. Returns the best model.
pub(super) fn grid_search(
    levels_db: &[f32],
    detector: Detector,
    time_constants_ms: &[(f64, f64)],
    cost: &mut BatchCost<'_>,
) -> (f64, CompModel) {
    let thresholds = grid_thresholds_db(levels_db);
    let mut best = (
        f64::INFINITY,
        CompModel {
            threshold_db: -20.0,
            ratio: 3.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 100.0,
            detector,
            linked: true,
            sidechain_hpf_hz: None,
        },
    );
    let mut grid = Vec::new();
    let (lowest, highest) = (
        ranges::THRESHOLD_DB.min as f64,
        ranges::THRESHOLD_DB.max as f64,
    );
    for threshold_db in thresholds {
        for ratio in GRID_RATIOS {
            for &(attack_ms, release_ms) in time_constants_ms {
                grid.push(CompModel {
                    threshold_db: threshold_db.clamp(lowest, highest),
                    ratio,
                    knee_db: GRID_KNEE_DB,
                    attack_ms,
                    release_ms,
                    detector,
                    linked: true,
                    sidechain_hpf_hz: None,
                });
            }
        }
    }
    for models in grid.chunks(LANES) {
        for (c, &m) in cost(models).into_iter().zip(models) {
            if c < best.0 {
                best = (c, m);
            }
        }
    }
    best
}

/// The grid's thresholds: the detector levels at [`GRID_THRESHOLD_PERCENTILES`] (ignoring
/// silence), dB. Found by selection, not a full sort: the grid runs once per detector and
/// sidechain filter.
pub(super) fn grid_thresholds_db(levels_db: &[f32]) -> [f64; GRID_THRESHOLD_PERCENTILES.len()] {
    let mut active: Vec<f32> = levels_db
        .iter()
        .copied()
        .filter(|l| *l > GRID_SILENCE_DB)
        .collect();
    let last = active.len().saturating_sub(1);
    // The percentiles rise: each is selected among what lies above the last one.
    let mut above = 0;
    GRID_THRESHOLD_PERCENTILES.map(|p| {
        if active.is_empty() {
            GRID_SILENT_THRESHOLD_DB
        } else {
            let k = (last as f64 * p) as usize;
            let level = *active[above..]
                .select_nth_unstable_by(k - above, f32::total_cmp)
                .1;
            above = k;
            level as f64
        }
    })
}

/// The model as a point for Nelder–Mead: threshold dB, ln ratio, knee dB, ln attack, ln release.
fn to_point(m: &CompModel) -> [f64; 5] {
    [
        m.threshold_db,
        m.ratio.ln(),
        m.knee_db,
        m.attack_ms.ln(),
        m.release_ms.ln(),
    ]
}

/// The model at point `p`, its discrete choices (detector, link, sidechain) from `template`.
fn from_point(p: &[f64; 5], template: &CompModel) -> CompModel {
    let r = |range: &crate::dsp::Range, v: f64| v.clamp(range.min as f64, range.max as f64);
    CompModel {
        threshold_db: r(&ranges::THRESHOLD_DB, p[0]),
        ratio: r(&ranges::RATIO, p[1].exp()),
        knee_db: p[2].clamp(0.0, MAX_FIT_KNEE_DB),
        attack_ms: r(&ranges::ATTACK_MS, p[3].exp()),
        release_ms: r(&ranges::RELEASE_MS, p[4].exp()),
        ..*template
    }
}

/// Nelder–Mead (standard coefficients 1, 2, ½, ½) over the model's five parameters.
///
/// Each step evaluates the four points it may need (reflection, expansion, outside and inside
/// contraction) in one pass of the simulation; the steps taken, and the evaluations counted
/// against `max_evals`, are the standard method's.
pub(super) fn nelder_mead_model(
    start: CompModel,
    cost: &mut BatchCost<'_>,
    max_evals: usize,
) -> CompModel {
    let mut f = |points: &[[f64; 5]]| -> Vec<f64> {
        points
            .chunks(LANES)
            .flat_map(|chunk| {
                let models: Vec<CompModel> = chunk.iter().map(|p| from_point(p, &start)).collect();
                cost(&models).into_iter().take(chunk.len())
            })
            .collect()
    };
    let x0 = to_point(&start);
    let mut points = vec![x0];
    for (d, step) in SIMPLEX_STEPS.iter().enumerate() {
        let mut x = x0;
        x[d] += step;
        points.push(x);
    }
    let values = f(&points);
    let mut simplex: Vec<([f64; 5], f64)> = points.into_iter().zip(values).collect();
    let mut evals = simplex.len();
    while evals < max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[5].1 - simplex[0].1).abs() < SIMPLEX_TOLERANCE * (1.0 + simplex[0].1.abs()) {
            break;
        }
        let mut centroid = [0.0; 5];
        for (x, _) in &simplex[..5] {
            for d in 0..5 {
                centroid[d] += x[d] / 5.0;
            }
        }
        let along = |t: f64| -> [f64; 5] {
            let mut p = [0.0; 5];
            for d in 0..5 {
                p[d] = centroid[d] + t * (simplex[5].0[d] - centroid[d]);
            }
            p
        };
        let trial = [along(-1.0), along(-2.0), along(-0.5), along(0.5)];
        let values = f(&trial);
        let (reflected, fr) = (trial[0], values[0]);
        evals += 1;
        if fr < simplex[0].1 {
            let (expanded, fe) = (trial[1], values[1]);
            evals += 1;
            simplex[5] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[4].1 {
            simplex[5] = (reflected, fr);
        } else {
            let (contracted, fc) = if fr < simplex[5].1 {
                (trial[2], values[2])
            } else {
                (trial[3], values[3])
            };
            evals += 1;
            if fc < simplex[5].1.min(fr) {
                simplex[5] = (contracted, fc);
            } else {
                let best = simplex[0].0;
                let shrunk: Vec<[f64; 5]> = simplex[1..]
                    .iter()
                    .map(|(x, _)| std::array::from_fn(|d| best[d] + 0.5 * (x[d] - best[d])))
                    .collect();
                let values = f(&shrunk);
                for (entry, (x, v)) in simplex[1..].iter_mut().zip(shrunk.into_iter().zip(values)) {
                    *entry = (x, v);
                }
                evals += 5;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    from_point(&simplex[0].0, &start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each threshold selected among the levels above the last one is the percentile a full
    /// sort reads, silence left out.
    #[test]
    fn the_grid_thresholds_are_the_sorted_levels_percentiles() {
        assert!(GRID_THRESHOLD_PERCENTILES.is_sorted());
        let mut state = 7u32;
        let levels: Vec<f32> = (0..50_001)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                // One level in ten is silence.
                if i % 10 == 0 {
                    GRID_SILENCE_DB - 20.0
                } else {
                    -60.0 + 60.0 * (state as f32 / u32::MAX as f32)
                }
            })
            .collect();
        let mut sorted: Vec<f32> = levels
            .iter()
            .copied()
            .filter(|l| *l > GRID_SILENCE_DB)
            .collect();
        sorted.sort_by(f32::total_cmp);
        let last = sorted.len() - 1;
        let thresholds = grid_thresholds_db(&levels);
        for (p, threshold) in GRID_THRESHOLD_PERCENTILES.iter().zip(thresholds) {
            let expected = sorted[(last as f64 * p) as usize] as f64;
            assert_eq!(threshold, expected, "percentile {p}");
        }
        assert!(
            thresholds[0] > -50.0 && thresholds[6] > -1.0,
            "{thresholds:?}"
        );
    }
}
