//! The unpaired fit (matching.md §6.2 B): the source is another performance, so only
//! statistics can match. The simulation gives the output's 50 ms level distribution, spread
//! and crest factors, and those are fitted to the reference's under weak priors (ratio 3,
//! attack 10 ms, release 150 ms), because attack and release are weakly identifiable from
//! statistics alone (§3, the LA-2A fits).

use super::search::{grid_search, nelder_mead_model};
use super::simulation::{Excerpt, LaneOutput, detector_levels_db};
use super::{BLOCK_S, CompFit, CompModel};
use crate::analysis::metrics;
use crate::dsp::Detector;
use crate::dsp::compressor::{LANES, static_reduction_db};

/// Blocks of 1 ms in a 50 ms level frame, in a 10 ms frame hop, in a 400 ms crest window and
/// in its 100 ms hop (matching.md M0 and M4).
const FRAME_BLOCKS: usize = 50;
const FRAME_HOP_BLOCKS: usize = 10;
const CREST_BLOCKS: usize = 400;
const CREST_HOP_BLOCKS: usize = 100;
/// Quantiles 0.05, 0.10 … 0.95 of the active levels: this many.
const QUANTILES: usize = 19;
/// The spread is P95 − P10: the last quantile minus the second.
const SPREAD_QUANTILES: (usize, usize) = (18, 1);
/// Weight of the spread's difference in [`stats_distance_db`] beside W1's mean over the
/// quantiles (which weighs every quantile alike).
const SPREAD_WEIGHT: f64 = 1.5;
/// Weight of each crest factor's difference (the median and the 95th percentile of CF_400,
/// and the peak over the active level).
const CREST_WEIGHT: f64 = 0.5;
/// The 95th percentile of the 400 ms crest factors: whether the loudest transients come
/// through.
const CREST_TOP_PERCENTILE: f64 = 0.95;

/// How much lower (dB of statistics distance) the peak detector's unpaired cost must be to
/// be chosen over the RMS detector's.
const PEAK_DETECTOR_MARGIN_DB: f64 = 0.1;
/// Gain reduction at the median active level beyond which the unpaired fit pays, dB.
const MAX_MEDIAN_REDUCTION_DB: f64 = 15.0;
/// A compressor is kept when it lowers the statistics distance by more than this, dB.
const MIN_IMPROVEMENT_DB: f64 = 0.1;
/// Nelder–Mead evaluations after each detector's grid.
const SEARCH_EVALS: usize = 70;
/// Where each detector's search starts its time constants (attack, release ms): at the
/// priors' neighbourhood, as statistics barely see them.
const PEAK_TIME_CONSTANTS_MS: [(f64, f64); 1] = [(1.0, 60.0)];
const RMS_TIME_CONSTANTS_MS: [(f64, f64); 1] = [(10.0, 150.0)];

/// The weak priors (matching.md §6.2 B.5): the centre of each and the weight of its squared
/// (log) distance. They only decide between settings the statistics cannot tell apart.
struct Prior {
    ratio: (f64, f64),
    attack_ms: (f64, f64),
    release_ms: (f64, f64),
    knee_db: (f64, f64),
}

const PRIOR: Prior = Prior {
    ratio: (3.0, 0.02),
    attack_ms: (10.0, 0.01),
    release_ms: (150.0, 0.01),
    knee_db: (6.0, 0.002),
};

/// What the unpaired fit's cost charges for leaving the levels the threshold belongs in: per
/// dB of threshold under the 10th percentile of active levels, and per dB of reduction at
/// the median level beyond [`MAX_MEDIAN_REDUCTION_DB`].
const BELOW_ACTIVE_WEIGHT: f64 = 0.2;
const EXCESS_REDUCTION_WEIGHT: f64 = 0.1;

/// Level statistics the unpaired fit matches, from 1 ms block energies and peaks.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelStats {
    /// Quantiles p = 0.05, 0.10 … 0.95 of the gated 50 ms levels, median removed, dB.
    pub quantiles_db: Vec<f64>,
    /// Median over active 400 ms windows of peak − RMS, dB (CF_400, matching.md M4).
    pub crest_400_db: f64,
    /// 95th percentile of the same: whether the loudest transients come through.
    pub crest_top_db: f64,
    /// The sample peak over the RMS of the active 50 ms frames, dB: the crest factor
    /// `compare` reads (M4).
    pub crest_db: f64,
}

/// 50 ms frames (hop 10 ms) and 400 ms windows (hop 100 ms) built from 1 ms blocks.
fn level_stats(block_energy: &[f64], block_peak_db: &[f64], block_len: usize) -> LevelStats {
    let frame_levels: Vec<f64> = (0..)
        .map(|i| i * FRAME_HOP_BLOCKS)
        .take_while(|&s| s + FRAME_BLOCKS <= block_energy.len())
        .map(|s| {
            let e: f64 = block_energy[s..s + FRAME_BLOCKS].iter().sum();
            10.0 * (e / (FRAME_BLOCKS * block_len) as f64 + 1e-12).log10()
        })
        .collect();
    let gate = metrics::activity_gate_db(&frame_levels);
    let active = metrics::sorted(
        &frame_levels
            .iter()
            .copied()
            .filter(|&l| l > gate)
            .collect::<Vec<_>>(),
    );
    if active.is_empty() {
        return LevelStats {
            quantiles_db: vec![0.0; QUANTILES],
            crest_400_db: 0.0,
            crest_top_db: 0.0,
            crest_db: 0.0,
        };
    }
    let median = metrics::percentile(&active, 0.5);
    let quantiles_db = (1..=QUANTILES)
        .map(|i| metrics::percentile(&active, i as f64 * 0.05) - median)
        .collect();
    let mut crests: Vec<f64> = (0..)
        .map(|i| i * CREST_HOP_BLOCKS)
        .take_while(|&s| s + CREST_BLOCKS <= block_energy.len())
        .filter_map(|s| {
            let e: f64 = block_energy[s..s + CREST_BLOCKS].iter().sum();
            let rms_db = 10.0 * (e / (CREST_BLOCKS * block_len) as f64 + 1e-12).log10();
            let peak_db = block_peak_db[s..s + CREST_BLOCKS]
                .iter()
                .fold(f64::NEG_INFINITY, |m, &p| m.max(p));
            (rms_db > gate).then_some(peak_db - rms_db)
        })
        .collect();
    crests.sort_by(f64::total_cmp);
    let crest = |p: f64| {
        if crests.is_empty() {
            0.0
        } else {
            metrics::percentile(&crests, p)
        }
    };
    let peak_db = block_peak_db
        .iter()
        .fold(f64::NEG_INFINITY, |m, &p| m.max(p));
    let active_power =
        active.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / active.len() as f64;
    LevelStats {
        quantiles_db,
        crest_400_db: crest(0.5),
        crest_top_db: crest(CREST_TOP_PERCENTILE),
        crest_db: peak_db - 10.0 * active_power.log10(),
    }
}

/// Level statistics of `channels` (energy summed, peak = max over channels).
pub fn measure_stats(channels: &[&[f32]], sample_rate: f64) -> LevelStats {
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let block = ((BLOCK_S * sample_rate) as usize).max(1);
    let mut energy = Vec::with_capacity(len / block);
    let mut peak = Vec::with_capacity(len / block);
    let mut b = 0;
    while b + block <= len {
        let (mut e, mut p) = (0.0f64, 0.0f32);
        for c in channels {
            // Eight independent lanes, so the loop vectorises (a single f32 sum cannot be
            // reordered by the compiler).
            let (mut acc, mut top) = ([0.0f32; 8], [0.0f32; 8]);
            let x = &c[b..b + block];
            let mut lanes = x.chunks_exact(8);
            for ch in &mut lanes {
                for i in 0..8 {
                    acc[i] += ch[i] * ch[i];
                    top[i] = top[i].max(ch[i].abs());
                }
            }
            for &v in lanes.remainder() {
                acc[0] += v * v;
                top[0] = top[0].max(v.abs());
            }
            e += acc.iter().map(|&a| a as f64).sum::<f64>();
            p = top.iter().fold(p, |m, &t| m.max(t));
        }
        energy.push(e);
        peak.push(20.0 * (p.max(1e-6) as f64).log10());
        b += block;
    }
    level_stats(&energy, &peak, block)
}

impl LevelStats {
    /// `self + (full − part)`: moves statistics measured on a whole recording to what they
    /// would read on an excerpt, given how the excerpt (`part`) of another recording differs
    /// from that recording in `full`. Corrects the unpaired fit for its excerpt not being the
    /// whole source.
    pub fn shifted(&self, part: &LevelStats, full: &LevelStats) -> LevelStats {
        LevelStats {
            quantiles_db: self
                .quantiles_db
                .iter()
                .zip(part.quantiles_db.iter().zip(&full.quantiles_db))
                .map(|(q, (p, f))| q + p - f)
                .collect(),
            crest_400_db: self.crest_400_db + part.crest_400_db - full.crest_400_db,
            crest_top_db: self.crest_top_db + part.crest_top_db - full.crest_top_db,
            crest_db: self.crest_db + part.crest_db - full.crest_db,
        }
    }
}

/// Distance between two level statistics: mean |Δquantile| (W1, M5) plus the crest factors'
/// differences, dB.
///
/// The spread P95 − P10 (quantiles 19 and 2) is added on its own: W1 weighs every quantile
/// alike, so tails a few dB apart barely move it, yet the spread is what listeners (and the
/// quality tests) judge dynamics by. Each crest term counts half: a reference that went
/// through a safety limiter has its peaks shaved by something other than the compressor.
/// The 95th percentile of CF_400 tells whether the loudest transients come through, which
/// the median cannot see; the peak over the active level is the crest factor `compare`
/// reads (without it, a beatbox take through JUCE's 4:1 compressor with a 5 ms attack was
/// fitted 10.9:1 at 0.9 ms, whose output's crest factor read 0.68 dB under the reference's).
pub fn stats_distance_db(a: &LevelStats, b: &LevelStats) -> f64 {
    let (qa, qb) = (&a.quantiles_db, &b.quantiles_db);
    let w1 = qa.iter().zip(qb).map(|(x, y)| (x - y).abs()).sum::<f64>() / qa.len().max(1) as f64;
    let (top, bottom) = SPREAD_QUANTILES;
    let spread =
        |q: &[f64]| q.get(top).copied().unwrap_or(0.0) - q.get(bottom).copied().unwrap_or(0.0);
    w1 + SPREAD_WEIGHT * (spread(qa) - spread(qb)).abs()
        + CREST_WEIGHT * (a.crest_400_db - b.crest_400_db).abs()
        + CREST_WEIGHT * (a.crest_top_db - b.crest_top_db).abs()
        + CREST_WEIGHT * (a.crest_db - b.crest_db).abs()
}

/// 10th percentile and median of the active 50 ms levels (dB, mean square) of 1 ms
/// `block_energy` sums of `block_len` samples: the range a compressor's threshold belongs in.
fn active_levels_db(block_energy: &[f64], block_len: usize) -> (f64, f64) {
    let frame_levels: Vec<f64> = block_energy
        .chunks_exact(FRAME_BLOCKS)
        .map(|c| 10.0 * (c.iter().sum::<f64>() / (FRAME_BLOCKS * block_len) as f64 + 1e-12).log10())
        .collect();
    let gate = metrics::activity_gate_db(&frame_levels);
    let active = metrics::sorted(
        &frame_levels
            .into_iter()
            .filter(|&l| l > gate)
            .collect::<Vec<_>>(),
    );
    if active.is_empty() {
        let lowest = crate::dsp::ranges::THRESHOLD_DB.min as f64;
        return (lowest, lowest);
    }
    (
        metrics::percentile(&active, 0.1),
        metrics::percentile(&active, 0.5),
    )
}

/// Unpaired identification: make the level distribution and crest factor of segments of
/// `source_eq` after the compressor match `target` (the reference's [`measure_stats`]).
/// Make-up is left at 0: the caller matches integrated loudness afterwards.
pub fn fit_unpaired(source_eq: &[Vec<Vec<f32>>], target: &LevelStats, sample_rate: f64) -> CompFit {
    let fit = UnpairedSearch::new(source_eq, target, sample_rate);
    let cost_without = stats_distance_db(&fit.stats_of()(&[CompModel::OFF])[0], target);
    // Both detectors, one per core: an RMS detector evens out phrases, a peak detector with a
    // short attack also shaves transients (the crest factor tells them apart). Time constants
    // start at the priors: statistics barely see them.
    let search = |detector: Detector, levels: &[f32], pairs: &[(f64, f64)]| {
        let mut cost = fit.cost();
        let (_, start) = grid_search(levels, detector, pairs, &mut cost);
        let model = nelder_mead_model(start, &mut cost, SEARCH_EVALS);
        (cost(&[model])[0], model)
    };
    let (error, model) = std::thread::scope(|scope| {
        let peak =
            scope.spawn(|| search(Detector::Peak, &fit.peak_levels, &PEAK_TIME_CONSTANTS_MS));
        let rms = search(Detector::Rms, &fit.rms_levels, &RMS_TIME_CONSTANTS_MS);
        let peak = peak.join().expect("the search does not panic");
        // The RMS detector unless the peak detector is clearly better: level statistics are
        // what an RMS detector shapes directly.
        if peak.0 < rms.0 - PEAK_DETECTOR_MARGIN_DB {
            peak
        } else {
            rms
        }
    });
    if error < cost_without - MIN_IMPROVEMENT_DB {
        CompFit {
            model: Some(model),
            makeup_db: 0.0,
            error_db: error,
            error_without_db: cost_without,
        }
    } else {
        CompFit {
            model: None,
            makeup_db: 0.0,
            error_db: cost_without,
            error_without_db: cost_without,
        }
    }
}

/// The unpaired search's material: the excerpt, its detector levels, and the range its
/// threshold belongs in.
struct UnpairedSearch<'a> {
    ex: Excerpt,
    target: &'a LevelStats,
    sample_rate: f64,
    /// Samples in a 1 ms block.
    block: usize,
    peak_levels: Vec<f32>,
    rms_levels: Vec<f32>,
    /// The 10th percentile and median of the active 50 ms levels, dB. The statistics are
    /// relative to the median active level, so they cannot see a threshold under the whole
    /// performance turning the compressor into a slow gain rider that lifts the noise between
    /// phrases by the make-up: the cost keeps the threshold above the quieter part of what is
    /// played (in the RMS detector's terms) and the reduction at the median level moderate.
    active_p10_db: f64,
    active_median_db: f64,
}

impl<'a> UnpairedSearch<'a> {
    fn new(source_eq: &[Vec<Vec<f32>>], target: &'a LevelStats, sample_rate: f64) -> Self {
        let ex = Excerpt::new(source_eq, sample_rate, &mut realfft::RealFftPlanner::new());
        let channels = ex.channel_refs();
        let block = ((BLOCK_S * sample_rate) as usize).max(1);
        let peak_levels = detector_levels_db(&channels, sample_rate, Detector::Peak, None);
        let rms_levels = detector_levels_db(&channels, sample_rate, Detector::Rms, None);
        let (active_p10_db, active_median_db) = active_levels_db(&ex.block_energy, block);
        Self {
            ex,
            target,
            sample_rate,
            block,
            peak_levels,
            rms_levels,
            active_p10_db,
            active_median_db,
        }
    }

    /// Statistics of the excerpt through each of up to [`LANES`] models (all with one
    /// detector), with scratch of its own so the two detectors can be searched side by side.
    fn stats_of(&self) -> impl FnMut(&[CompModel]) -> Vec<LevelStats> + '_ {
        let mut lanes = LaneOutput::default();
        let all_blocks = self.ex.blocks.len();
        move |models: &[CompModel]| -> Vec<LevelStats> {
            let levels = match models[0].detector {
                Detector::Peak => &self.peak_levels,
                Detector::Rms => &self.rms_levels,
            };
            self.ex.simulated_block_gains(
                levels,
                models,
                self.sample_rate,
                all_blocks,
                &self.peak_levels,
                &mut lanes,
            );
            (0..models.len())
                .map(|k| {
                    let energy: Vec<f64> = self
                        .ex
                        .block_energy
                        .iter()
                        .zip(&lanes.gains[k])
                        .map(|(e, g)| e * 10f64.powf(g / 10.0))
                        .collect();
                    level_stats(&energy, &lanes.peaks[k], self.block)
                })
                .collect()
        }
    }

    /// The cost of up to [`LANES`] models: statistics distance, priors and the threshold's
    /// bounds.
    fn cost(&self) -> impl FnMut(&[CompModel]) -> [f64; LANES] + '_ {
        let mut stats_of = self.stats_of();
        move |models: &[CompModel]| -> [f64; LANES] {
            let mut costs = [f64::INFINITY; LANES];
            for ((m, stats), c) in models.iter().zip(stats_of(models)).zip(&mut costs) {
                *c = stats_distance_db(&stats, self.target) + prior(m) + self.bounds(m);
            }
            costs
        }
    }

    /// What `m` pays for leaving the range its threshold belongs in.
    fn bounds(&self, m: &CompModel) -> f64 {
        let below = (self.active_p10_db - m.threshold_db).max(0.0);
        let reduction = static_reduction_db(&m.settings(0.0), self.active_median_db);
        BELOW_ACTIVE_WEIGHT * below
            + EXCESS_REDUCTION_WEIGHT * (reduction - MAX_MEDIAN_REDUCTION_DB).max(0.0)
    }
}

/// The weak priors' cost of `m` ([`PRIOR`]).
fn prior(m: &CompModel) -> f64 {
    let log_distance =
        |value: f64, (centre, weight): (f64, f64)| weight * (value / centre).ln().powi(2);
    let (knee_centre, knee_weight) = PRIOR.knee_db;
    log_distance(m.ratio, PRIOR.ratio)
        + log_distance(m.attack_ms, PRIOR.attack_ms)
        + log_distance(m.release_ms, PRIOR.release_ms)
        + knee_weight * (m.knee_db - knee_centre).powi(2)
}
