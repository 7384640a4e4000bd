//! The paired fit (matching.md §6.2 A, the Barchiesi route): the source is the same
//! performance as the reference, so the gain the reference shows against the (EQ'd) source,
//! block by block, is the compressor's; the model's block gains are fitted to that trace by
//! a coarse grid, then Nelder–Mead. Make-up is the closed-form weighted mean of what is left.

use super::search::{grid_search, lane_costs, nelder_mead_model};
use super::simulation::{Excerpt, LaneOutput, detector_levels_db};
use super::{BLOCK_RANGE_DB, CompFit, CompModel, GRID_S};
use crate::dsp::Detector;
use crate::dsp::compressor::LANES;
use realfft::RealFftPlanner;

/// Attack/release pairs of the grid, ms: a fast pair (JUCE-like 0.2/15), a medium and a slow.
const TIME_CONSTANTS_MS: [(f64, f64); 3] = [(0.2, 15.0), (1.0, 60.0), (10.0, 150.0)];
/// Nelder–Mead evaluations that refine each detector's grid winner (on the whole excerpt).
const DETECTOR_EVALS: usize = 35;
/// Evaluations that refine the better detector's model further.
const FINAL_EVALS: usize = 80;
/// Evaluations that refine a model from an earlier round (it starts close).
const REFINE_EVALS: usize = 30;
/// Evaluations spent refining the per-channel variant, on the grid's sub-excerpt.
const UNLINKED_EVALS: usize = 30;
/// The per-channel variant is taken when its cost is below this share of the linked one's
/// (linking keeps the stereo image steady, so unlinked must be clearly better).
const UNLINKED_GAIN: f64 = 0.9;
/// Sidechain high-pass corners the first round's grid tries, Hz (the plugin's range is
/// 20–500 Hz; the factory presets use 80–150). The Nelder–Mead search keeps the corner.
const SIDECHAIN_CORNERS_HZ: [f64; 6] = [50.0, 80.0, 110.0, 150.0, 220.0, 320.0];
/// A sidechain filter is taken when its grid cost is below this share of the best cost
/// without one.
const SIDECHAIN_GAIN: f64 = 0.9;

/// A compressor is kept when its cost is below this share of a constant gain's ...
const KEEP_COST_RATIO: f64 = 0.8;
/// ... and a constant gain leaves at least this much to explain (mean square, dB²): below
/// it the trace is flat and there is nothing to fit.
const MIN_COST_WITHOUT_DB2: f64 = 0.01;

/// What the paired fit matches: the observed gain of every scored block (dB) and its weight.
struct Trace {
    observed: Vec<f64>,
    weights: Vec<f64>,
}

impl Trace {
    /// `10·log10(E_ref/E_src)` per block of `source` (after the EQ) and `reference`. The weight
    /// √energy favours the loud blocks that dominate the waveform error without letting one
    /// transient decide everything; blocks over [`BLOCK_RANGE_DB`] below the loudest count 0.
    fn new(source_block_energy: &[f64], reference_block_energy: &[f64]) -> Self {
        let loudest = source_block_energy.iter().fold(0.0f64, |m, &e| m.max(e));
        let floor = loudest * 10f64.powf(-BLOCK_RANGE_DB / 10.0);
        let (observed, weights) = source_block_energy
            .iter()
            .zip(reference_block_energy)
            .map(|(&e, &er)| {
                if e > floor && er > 0.0 {
                    (10.0 * (er / e).log10(), (e / loudest).sqrt())
                } else {
                    (0.0, 0.0)
                }
            })
            .unzip();
        Self { observed, weights }
    }
}

/// Weighted mean square of `observed − predicted − makeup` over the (trace, predicted gains)
/// pairs, with the one make-up that minimises it: (cost dB², make-up dB). `predicted` may
/// cover only the first blocks (the grid's sub-excerpt).
fn trace_cost(parts: &[(&Trace, &[f64])]) -> (f64, f64) {
    let (mut sw, mut swd) = (0.0, 0.0);
    for (trace, predicted) in parts {
        for ((o, p), w) in trace.observed.iter().zip(*predicted).zip(&trace.weights) {
            sw += w;
            swd += w * (o - p);
        }
    }
    let makeup = swd / sw.max(1e-30);
    let mut cost = 0.0;
    for (trace, predicted) in parts {
        for ((o, p), w) in trace.observed.iter().zip(*predicted).zip(&trace.weights) {
            cost += w * (o - p - makeup).powi(2);
        }
    }
    (cost / sw.max(1e-30), makeup)
}

/// Each channel on its own: its excerpt, its trace, and its own detector levels, for
/// comparing a linked compressor with one that works per channel (as JUCE's does).
struct PerChannel {
    excerpts: Vec<Excerpt>,
    traces: Vec<Trace>,
    /// Simulation output per channel, kept between evaluations.
    scratch: Vec<LaneOutput>,
}

impl PerChannel {
    fn new(source: &Excerpt, reference: &Excerpt) -> Self {
        let excerpts: Vec<Excerpt> = (0..source.channels.len())
            .map(|k| source.channel(k))
            .collect();
        let traces = excerpts
            .iter()
            .enumerate()
            .map(|(k, ex)| Trace::new(&ex.block_energy, &reference.channel_block_energy(k)))
            .collect();
        let scratch = excerpts.iter().map(|_| LaneOutput::default()).collect();
        Self {
            excerpts,
            traces,
            scratch,
        }
    }

    /// (Cost, make-up) of each of `models` (up to [`LANES`]) when channel k's detector reads
    /// `levels[k]` (the same levels for all channels: linked). Lanes past the models read
    /// infinite cost.
    fn costs(
        &mut self,
        levels: &[&[f32]],
        models: &[CompModel],
        sample_rate: f64,
        blocks: usize,
    ) -> [(f64, f64); LANES] {
        for ((ex, l), out) in self.excerpts.iter().zip(levels).zip(&mut self.scratch) {
            ex.simulated_block_gains(l, models, sample_rate, blocks, &[], out);
        }
        let (traces, scratch) = (&self.traces, &self.scratch);
        lane_costs(models.len(), |k| {
            let parts: Vec<(&Trace, &[f64])> = traces
                .iter()
                .zip(scratch)
                .map(|(t, out)| (t, out.gains[k].as_slice()))
                .collect();
            trace_cost(&parts)
        })
    }

    fn cost(
        &mut self,
        levels: &[&[f32]],
        m: &CompModel,
        sample_rate: f64,
        blocks: usize,
    ) -> (f64, f64) {
        self.costs(levels, std::slice::from_ref(m), sample_rate, blocks)[0]
    }

    /// [`decide`] for the per-channel model `m` (each channel's detector reading `own`). The
    /// per-channel traces are another yardstick than the summed one (`without`: cost and
    /// make-up with no compressor there): the cost is carried over as its ratio to "no
    /// compressor" on its own yardstick.
    fn decide(
        &mut self,
        own: &[&[f32]],
        m: CompModel,
        sample_rate: f64,
        without: (f64, f64),
    ) -> CompFit {
        let blocks = self.excerpts.first().map_or(0, |e| e.blocks.len());
        let (cost, makeup) = self.cost(own, &m, sample_rate, blocks);
        let (off, _) = self.cost(own, &CompModel::OFF, sample_rate, blocks);
        decide(
            cost * without.0 / off.max(1e-30),
            m,
            makeup,
            without.0,
            without.1,
        )
    }
}

/// The reference's side of a paired fit, prepared once for all rounds: segments of the
/// reference (lists of channels) with their envelopes, and the FFT plans that made them, which
/// the same stretches of the source use in every round.
pub struct PairedReference {
    excerpt: Excerpt,
    planner: RealFftPlanner<f32>,
}

/// A copy with the same envelopes and a planner of its own, which plans the same FFTs again as
/// the source's excerpts need them (a planner cannot be copied).
impl Clone for PairedReference {
    fn clone(&self) -> Self {
        Self {
            excerpt: self.excerpt.clone(),
            planner: RealFftPlanner::new(),
        }
    }
}

impl PairedReference {
    pub fn new(segments: &[Vec<Vec<f32>>], sample_rate: f64) -> Self {
        let mut planner = RealFftPlanner::new();
        let excerpt = Excerpt::new(segments, sample_rate, &mut planner);
        Self { excerpt, planner }
    }
}

/// Paired identification from segments of `source_eq` (the source after the fitted EQ) and
/// the same segments of the reference (the same performance, aligned sample for sample), at
/// `sample_rate`. Segments are lists of channels.
///
/// With `start` (a model from an earlier round), only a short Nelder–Mead from it is run.
pub fn fit_paired(
    source_eq: &[Vec<Vec<f32>>],
    reference: &mut PairedReference,
    sample_rate: f64,
    start: Option<CompModel>,
) -> CompFit {
    let ex = Excerpt::new(source_eq, sample_rate, &mut reference.planner);
    let ref_ex = &reference.excerpt;
    let trace = Trace::new(&ex.block_energy, &ref_ex.block_energy);
    let search = PairedSearch::new(&ex, &trace, sample_rate);
    // A constant gain that leaves nothing to explain is the fit whatever model a search would
    // find ([`decide`] keeps none there): a reference with no compressor in its chain costs
    // no search (three rounds of it per fit, and the polish's trial fits twice more).
    if !has_dynamics(search.without.0) {
        return without_compressor(search.without);
    }
    // Stereo with channels that differ: the compressor may work per channel instead.
    let channels = ex.channel_refs();
    let mut per_channel = (channels.len() > 1 && channels.windows(2).any(|w| w[0] != w[1]))
        .then(|| PerChannel::new(&ex, ref_ex));
    match start {
        Some(start) if !start.linked => {
            let pc = per_channel
                .as_mut()
                .expect("unlinked only where channels differ");
            search.refine_unlinked(pc, start)
        }
        Some(start) => search.refine_linked(start),
        None => search.search_afresh(per_channel.as_mut()),
    }
}

/// One paired search: the excerpt, its trace, and what a constant gain achieves.
struct PairedSearch<'a> {
    ex: &'a Excerpt,
    trace: &'a Trace,
    sample_rate: f64,
    all_blocks: usize,
    grid_blocks: usize,
    /// Cost and make-up with no compressor (a constant gain).
    without: (f64, f64),
}

impl<'a> PairedSearch<'a> {
    fn new(ex: &'a Excerpt, trace: &'a Trace, sample_rate: f64) -> Self {
        Self {
            ex,
            trace,
            sample_rate,
            all_blocks: ex.blocks.len(),
            grid_blocks: ex.blocks_within(GRID_S, sample_rate),
            without: trace_cost(&[(trace, &vec![0.0; ex.blocks.len()])]),
        }
    }

    /// An evaluator with its own scratch, so independent searches can run on separate cores:
    /// (cost, make-up) of up to [`LANES`] models on detector levels, over the first blocks.
    fn evaluator(&self) -> impl FnMut(&[f32], &[CompModel], usize) -> [(f64, f64); LANES] + '_ {
        let mut lanes = LaneOutput::default();
        let (ex, trace, sample_rate) = (self.ex, self.trace, self.sample_rate);
        move |levels: &[f32], models: &[CompModel], blocks: usize| -> [(f64, f64); LANES] {
            ex.simulated_block_gains(levels, models, sample_rate, blocks, &[], &mut lanes);
            lane_costs(models.len(), |k| trace_cost(&[(trace, &lanes.gains[k])]))
        }
    }

    /// Each channel's own detector levels as `model` reads them.
    fn own_levels(&self, model: &CompModel) -> Vec<Vec<f32>> {
        self.ex
            .channel_refs()
            .iter()
            .map(|c| model.levels_db(&[c], self.sample_rate))
            .collect()
    }

    /// A linked model from an earlier round, moved a little.
    fn refine_linked(&self, start: CompModel) -> CompFit {
        let mut evaluate = self.evaluator();
        let channels = self.ex.channel_refs();
        let levels = start.levels_db(&channels, self.sample_rate);
        let all = self.all_blocks;
        let refined = nelder_mead_model(
            start,
            &mut |ms| evaluate(&levels, ms, all).map(|(cost, _)| cost),
            REFINE_EVALS,
        );
        let (cost, makeup) = evaluate(&levels, &[refined], all)[0];
        decide(cost, refined, makeup, self.without.0, self.without.1)
    }

    /// A per-channel model from an earlier round, moved a little.
    fn refine_unlinked(&self, pc: &mut PerChannel, start: CompModel) -> CompFit {
        let own = self.own_levels(&start);
        let own: Vec<&[f32]> = own.iter().map(Vec::as_slice).collect();
        let refined = nelder_mead_model(
            start,
            &mut |ms| {
                pc.costs(&own, ms, self.sample_rate, self.all_blocks)
                    .map(|(cost, _)| cost)
            },
            REFINE_EVALS,
        );
        pc.decide(&own, refined, self.sample_rate, self.without)
    }

    /// The first round: a coarse grid on the first seconds and a short refinement for both
    /// detectors (the grid alone cannot tell them apart reliably), side by side, one per core;
    /// then the better one refined further, and (stereo) its per-channel variant tried.
    fn search_afresh(&self, per_channel: Option<&mut PerChannel>) -> CompFit {
        let all = self.all_blocks;
        let search = |detector: Detector| {
            let mut evaluate = self.evaluator();
            let (model, levels) = self.grid_over_sidechains(detector, &mut evaluate);
            let model = nelder_mead_model(
                model,
                &mut |ms| evaluate(&levels, ms, all).map(|(cost, _)| cost),
                DETECTOR_EVALS,
            );
            let (cost, _) = evaluate(&levels, &[model], all)[0];
            (cost, model, levels)
        };
        let mut candidates = std::thread::scope(|scope| {
            let rms = scope.spawn(|| search(Detector::Rms));
            let peak = search(Detector::Peak);
            vec![peak, rms.join().expect("the search does not panic")]
        });
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, start, levels) = candidates.swap_remove(0);
        let mut evaluate = self.evaluator();
        let refined = nelder_mead_model(
            start,
            &mut |ms| evaluate(&levels, ms, all).map(|(cost, _)| cost),
            FINAL_EVALS,
        );
        let (cost, makeup) = evaluate(&levels, &[refined], all)[0];
        if let Some(pc) = per_channel
            && let Some(fit) = self.per_channel_instead(pc, refined, &levels)
        {
            return fit;
        }
        decide(cost, refined, makeup, self.without.0, self.without.1)
    }

    /// The grid's best model for `detector`, without a sidechain filter and with each of
    /// [`SIDECHAIN_CORNERS_HZ`], and the levels it reads. A filter is taken when its grid cost
    /// is clearly lower ([`SIDECHAIN_GAIN`]): a filter the data do not ask for would only move
    /// the threshold.
    fn grid_over_sidechains(
        &self,
        detector: Detector,
        evaluate: &mut impl FnMut(&[f32], &[CompModel], usize) -> [(f64, f64); LANES],
    ) -> (CompModel, Vec<f32>) {
        let channels = self.ex.channel_refs();
        let grid = self.grid_blocks;
        let mut best: Option<(f64, CompModel, Vec<f32>)> = None;
        for corner in std::iter::once(None).chain(SIDECHAIN_CORNERS_HZ.map(Some)) {
            let levels = detector_levels_db(&channels, self.sample_rate, detector, corner);
            let (cost, model) = grid_search(&levels, detector, &TIME_CONSTANTS_MS, &mut |ms| {
                evaluate(&levels, ms, grid).map(|(cost, _)| cost)
            });
            let model = CompModel {
                sidechain_hpf_hz: corner,
                ..model
            };
            // The first (no filter) sets the bar the filters must clear.
            let bar = best.as_ref().map_or(f64::INFINITY, |b| {
                if b.1.sidechain_hpf_hz.is_none() {
                    SIDECHAIN_GAIN * b.0
                } else {
                    b.0
                }
            });
            if cost < bar {
                best = Some((cost, model, levels));
            }
        }
        let (_, model, levels) = best.expect("the grid runs at least once");
        (model, levels)
    }

    /// The per-channel variant of `refined` (linked, on `levels`), when it explains the
    /// per-channel traces clearly better ([`UNLINKED_GAIN`]). Both variants are scored on the
    /// per-channel traces.
    fn per_channel_instead(
        &self,
        pc: &mut PerChannel,
        refined: CompModel,
        levels: &[f32],
    ) -> Option<CompFit> {
        let (all, grid) = (self.all_blocks, self.grid_blocks);
        let own = self.own_levels(&refined);
        let own: Vec<&[f32]> = own.iter().map(Vec::as_slice).collect();
        let shared: Vec<&[f32]> = vec![levels; own.len()];
        let (linked_cost, _) = pc.cost(&shared, &refined, self.sample_rate, all);
        let unlinked = CompModel {
            linked: false,
            ..refined
        };
        let unlinked = nelder_mead_model(
            unlinked,
            &mut |ms| {
                pc.costs(&own, ms, self.sample_rate, grid)
                    .map(|(cost, _)| cost)
            },
            UNLINKED_EVALS,
        );
        let (unlinked_cost, _) = pc.cost(&own, &unlinked, self.sample_rate, all);
        (unlinked_cost < UNLINKED_GAIN * linked_cost)
            .then(|| pc.decide(&own, unlinked, self.sample_rate, self.without))
    }
}

/// The fit, or no compressor where compression does not explain clearly more than a constant
/// gain does ([`KEEP_COST_RATIO`]). Costs are on the summed trace's scale.
fn decide(
    cost: f64,
    model: CompModel,
    makeup: f64,
    cost_without: f64,
    makeup_without: f64,
) -> CompFit {
    if cost < KEEP_COST_RATIO * cost_without && has_dynamics(cost_without) {
        CompFit {
            model: Some(model),
            makeup_db: makeup,
            error_db: cost.sqrt(),
            error_without_db: cost_without.sqrt(),
        }
    } else {
        without_compressor((cost_without, makeup_without))
    }
}

/// Whether a constant gain, at `cost_without`, leaves anything for a compressor to explain
/// ([`MIN_COST_WITHOUT_DB2`]).
fn has_dynamics(cost_without: f64) -> bool {
    cost_without > MIN_COST_WITHOUT_DB2
}

/// No compressor: the constant gain's (cost, make-up).
fn without_compressor((cost, makeup): (f64, f64)) -> CompFit {
    CompFit {
        model: None,
        makeup_db: makeup,
        error_db: cost.sqrt(),
        error_without_db: cost.sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_noise;

    /// Where a constant gain leaves nothing to explain, the fit is not searched: it is what the
    /// first round's search and both refinements end in, field for field.
    #[test]
    fn a_trace_a_constant_gain_explains_is_not_searched() {
        let fs = 44_100.0;
        let dry = vec![test_noise(88_200, 1), test_noise(88_200, 2)];
        let wet: Vec<Vec<f32>> = dry
            .iter()
            .map(|c| c.iter().map(|v| v * 0.5).collect())
            .collect();
        let mut reference = PairedReference::new(&[wet], fs);
        let fit = fit_paired(std::slice::from_ref(&dry), &mut reference, fs, None);
        assert!(fit.model.is_none(), "{fit:?}");
        assert!((fit.makeup_db + 6.02).abs() < 0.01, "{fit:?}");

        let ex = Excerpt::new(&[dry], fs, &mut reference.planner);
        let trace = Trace::new(&ex.block_energy, &reference.excerpt.block_energy);
        let search = PairedSearch::new(&ex, &trace, fs);
        assert!(!has_dynamics(search.without.0), "{:?}", search.without);
        let mut per_channel = PerChannel::new(&ex, &reference.excerpt);
        let start = CompModel {
            threshold_db: -20.0,
            ratio: 3.0,
            knee_db: 6.0,
            attack_ms: 5.0,
            release_ms: 100.0,
            detector: Detector::Peak,
            linked: true,
            sidechain_hpf_hz: None,
        };
        let unlinked = CompModel {
            linked: false,
            ..start
        };
        assert_eq!(search.search_afresh(Some(&mut per_channel)), fit);
        assert_eq!(search.refine_linked(start), fit);
        assert_eq!(search.refine_unlinked(&mut per_channel, unlinked), fit);
    }
}
