//! Stage 6, paired only: the whole chain polished against the reference's waveform. The
//! stages before it fit the EQ to spectra and the compressor to a block gain trace, each with
//! the other held still; what they leave is close but not the same processing (on recorded
//! drums and voice through the factory presets, where the answer is representable, a third
//! of the cases stayed between 2 and 23 dB of waveform SNR). Here every
//! continuous setting moves at once to bring the chain's output onto the reference sample for
//! sample: Levenberg–Marquardt on the waveform residual over excerpts of the takes, the
//! Jacobian by forward differences through the real chain ([`excerpts::render`]), its columns
//! on both cores.
//!
//! What it moves: each band's frequency, gain and Q (where the kind uses them), the
//! compressor's threshold, ratio, knee, attack, release and sidechain corner, and the output
//! gain (input gain and make-up are fixed: with the threshold and the output gain they would
//! only say the same thing twice). What it keeps: the band kinds, the detector, the stereo
//! link, the ceiling: choices the earlier stages made. The cuts' slopes, also theirs, it
//! tries one step either way where its first result falls short ([`SLOPES_TRIED_BELOW_DB`]);
//! there it also tries the ceiling at the reference's peak level ([`ceiling_at_peak`]) and
//! the chains the stages fit to the reference chain's linear response, each with both
//! detectors ([`Trial`]): every such start runs a few iterations, then only the closest to the
//! reference of each kind and the closest of the rest go on ([`trial_descents`]).

use super::align::Takes;
use super::excerpts::{Fronts, Loudest, Warmed, excerpt_segments, gather};
use super::{lsq, metrics, on_two_cores};
use crate::dsp::{ChainSettings, Detector, ranges};
use std::sync::OnceLock;

/// Audio the residual covers, seconds, in this many segments spread over the takes.
pub const POLISH_EXCERPT: (f64, usize) = (4.0, 4);
/// The stretches that check the result: the whole take up to 20 s, else 10 stretches
/// spread over it (a limiter that acts on a few peaks must be judged where they are).
const CHECK_EXCERPT: (f64, usize) = (20.0, 10);
/// Most Levenberg–Marquardt iterations; each costs one render per setting moved.
const MAX_ITERATIONS: usize = 12;
/// The polish stops when an iteration lowers the residual's energy by less than this share.
const MIN_RELATIVE_IMPROVEMENT: f64 = 0.01;
/// ... or moves no knob by more than this many of its difference steps ([`Knob::step`]): a
/// step finer than the differences' own is as much their error as the way to the minimum.
/// On the bench's paired take (a chain Matchbox can copy) the polish excerpt's SNR climbed
/// 64.9 → 80.3 → 88.5 → 88.6 dB, the last iteration's step 0.36 of a difference step, and
/// the iteration after it moved every knob by at most 0.012 steps and gained nothing.
const MIN_STEPS_MOVED: f64 = 1.0;
/// Marquardt's damping at the first step, how it shrinks after a step that lowers the cost
/// and grows after one that does not, and how many tries an iteration gets.
const INITIAL_DAMPING: f64 = 1e-2;
const DAMPING_DOWN: f64 = 3.0;
const DAMPING_UP: f64 = 5.0;
const DAMPING_TRIES: usize = 6;
/// Smallest diagonal the damping scales (a band whose gain is near 0 has no frequency to
/// speak of; this keeps the system solvable).
const MIN_DIAGONAL: f64 = 1e-9;

/// One continuous setting, in the coordinate the fit moves: log2 Hz for frequencies, ln for
/// Q, ratio and times, dB for levels.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Knob {
    BandFreq(usize),
    BandGain(usize),
    BandQ(usize),
    Threshold,
    Ratio,
    Knee,
    Attack,
    Release,
    SidechainHz,
    OutputGain,
}

impl Knob {
    /// The settings `s` moves: its enabled bands' shapes, its compressor when on, the output.
    fn all(s: &ChainSettings) -> Vec<Knob> {
        let mut knobs = Vec::new();
        for (i, b) in s.eq.bands.iter().enumerate().filter(|(_, b)| b.enabled) {
            knobs.push(Knob::BandFreq(i));
            if b.kind.uses_gain() {
                knobs.push(Knob::BandGain(i));
            }
            if b.uses_q() {
                knobs.push(Knob::BandQ(i));
            }
        }
        let c = &s.compressor;
        if c.enabled {
            knobs.push(Knob::Threshold);
            if c.ratio.is_finite() {
                knobs.push(Knob::Ratio);
            }
            knobs.extend([Knob::Knee, Knob::Attack, Knob::Release]);
            if c.sidechain_hpf {
                knobs.push(Knob::SidechainHz);
            }
        }
        knobs.push(Knob::OutputGain);
        knobs
    }

    fn read(self, s: &ChainSettings) -> f64 {
        let c = &s.compressor;
        let v = match self {
            Knob::BandFreq(i) => s.eq.bands[i].freq_hz.log2(),
            Knob::BandGain(i) => s.eq.bands[i].gain_db,
            Knob::BandQ(i) => s.eq.bands[i].q.ln(),
            Knob::Threshold => c.threshold_db,
            Knob::Ratio => c.ratio.ln(),
            Knob::Knee => c.knee_db,
            Knob::Attack => c.attack_ms.ln(),
            Knob::Release => c.release_ms.ln(),
            Knob::SidechainHz => c.sidechain_hpf_hz.log2(),
            Knob::OutputGain => s.output_gain_db,
        };
        v as f64
    }

    /// Set to `x` (unclamped: [`Knobs::settings`] clamps the whole chain once).
    fn write(self, s: &mut ChainSettings, x: f64) {
        let x = x as f32;
        let c = &mut s.compressor;
        match self {
            Knob::BandFreq(i) => s.eq.bands[i].freq_hz = x.exp2(),
            Knob::BandGain(i) => s.eq.bands[i].gain_db = x,
            Knob::BandQ(i) => s.eq.bands[i].q = x.exp(),
            Knob::Threshold => c.threshold_db = x,
            Knob::Ratio => c.ratio = x.exp(),
            Knob::Knee => c.knee_db = x,
            Knob::Attack => c.attack_ms = x.exp(),
            Knob::Release => c.release_ms = x.exp(),
            Knob::SidechainHz => c.sidechain_hpf_hz = x.exp2(),
            Knob::OutputGain => s.output_gain_db = x,
        }
    }

    /// Forward-difference step: small against what the waveform notices, large against f32's
    /// last digits.
    fn step(self) -> f64 {
        match self {
            Knob::BandFreq(_) | Knob::SidechainHz => 2e-3,
            Knob::BandQ(_) | Knob::Ratio | Knob::Attack | Knob::Release => 3e-3,
            Knob::BandGain(_) | Knob::Threshold | Knob::Knee | Knob::OutputGain => 0.02,
        }
    }
}

/// The knobs of one chain: what the polish moves, and the settings around them.
#[derive(Clone)]
struct Knobs<'a> {
    base: &'a ChainSettings,
    list: Vec<Knob>,
}

impl<'a> Knobs<'a> {
    fn new(base: &'a ChainSettings) -> Self {
        Self {
            base,
            list: Knob::all(base),
        }
    }

    /// The knobs' coordinates in `s`.
    fn read(&self, s: &ChainSettings) -> Vec<f64> {
        self.list.iter().map(|k| k.read(s)).collect()
    }

    /// The base settings with the knobs at `x`, clamped into the plugin's ranges.
    fn settings(&self, x: &[f64]) -> ChainSettings {
        let mut s = self.base.clone();
        for (k, &v) in self.list.iter().zip(x) {
            k.write(&mut s, v);
        }
        s.clamped()
    }
}

/// What the polish did: the waveform SNR on its excerpt before and after, and on the check
/// excerpt (at the best output gain each), dB; the iterations the chosen polish took (the
/// first when none is kept); whether the result was kept (it is when the check excerpt
/// agrees: [`Judgement::better_than`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polish {
    pub snr_before_db: f64,
    pub snr_after_db: f64,
    pub check_before_db: f64,
    pub check_after_db: f64,
    pub iterations: usize,
    /// How many other cut slopes were polished too ([`slope_neighbours`]).
    pub slopes_tried: usize,
    /// Whether the chain was polished with the ceiling at the reference's peak level too
    /// ([`ceiling_at_peak`]).
    pub ceiling_tried: bool,
    /// Whether the chain fitted to the linear response was polished too ([`Trial`]).
    pub linear_tried: bool,
    pub kept: bool,
}

/// How the chain's output compares with the reference on the check excerpt.
#[derive(Debug, Clone, Copy)]
struct Judgement {
    /// Waveform SNR at the best output gain, dB.
    snr_db: f64,
    /// 1/3-octave spectrum error, dB RMS ([`metrics::ltas_error_db`]).
    spectrum_db: f64,
    /// Crest-factor error, dB.
    crest_db: f64,
}

impl Judgement {
    /// The polish is kept when it matches the waveform better without making what is heard
    /// worse: where the reference's chain is not one Matchbox can copy exactly (another
    /// plugin's compressor), the closest waveform may buy SNR with a duller spectrum or
    /// flatter peaks, and those are what the user hears.
    fn better_than(&self, before: &Judgement) -> bool {
        self.snr_db > before.snr_db
            && self.spectrum_db <= before.spectrum_db * SPECTRUM_SLACK.0 + SPECTRUM_SLACK.1
            && self.crest_db <= before.crest_db * CREST_SLACK.0 + CREST_SLACK.1
    }
}

/// How much the check's spectrum error and crest-factor error may grow (each a share of where
/// it starts, plus dB) for a polish that raises the SNR to be kept. Set between what the two
/// kinds of material show: on chains Matchbox can copy the check's figures move by hundredths
/// (a short excerpt's spectrum is noisy), on JUCE's the closest waveform costs 0.15–1.3 dB of
/// spectrum error and up to 0.5 dB of crest factor (`tests/juce_match.py`). The crest factor's
/// share: a start already far off moves further with any change (Telephone on the recorded
/// 3-minute mono voice: the check's crest error 0.99 dB at 3.7 dB of SNR, 1.16 dB at 23.7 dB;
/// with 0.1 dB of slack and no share that polish was turned down).
const SPECTRUM_SLACK: (f64, f64) = (1.25, 0.1);
const CREST_SLACK: (f64, f64) = (1.25, 0.1);

/// The excerpt the residual is read on: segments of the source with their pre-roll, and the
/// reference's samples that the scored part must meet.
struct Residual {
    segments: Warmed,
    /// The reference's scored samples, segment by segment, channel by channel, and their
    /// energy.
    reference: Vec<f32>,
    energy: f64,
    sample_rate: f64,
    /// The reference's third-octave levels and crest factor, which [`Residual::judge`] compares
    /// with: made on its first call.
    judged_against: OnceLock<(Vec<f64>, f64)>,
}

impl Residual {
    /// `budget` (seconds, segments) of the takes, each segment with its pre-roll.
    fn new(takes: &Takes<'_>, budget: (f64, usize)) -> Self {
        let fs = takes.src_fs;
        // Paired takes are lined up over the same overlap: one length for both.
        let scored = excerpt_segments(takes.src_mid.len(), fs, budget);
        let reference: Vec<f32> = gather(&takes.ref_channels, &scored)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        Self {
            segments: Warmed::of(&takes.src_channels, &scored, fs),
            energy: lsq::dot(&reference, &reference),
            reference,
            sample_rate: fs,
            judged_against: OnceLock::new(),
        }
    }

    /// `settings`' output on the scored samples, into `out`; the loudest sample of the render,
    /// pre-roll included.
    fn render(&self, settings: &ChainSettings, out: &mut Vec<f32>) -> Loudest {
        self.segments.render_joined(settings, out)
    }

    /// `settings`' output minus the reference on the scored samples, into `out`; the loudest
    /// sample of the render.
    fn compute(&self, settings: &ChainSettings, out: &mut Vec<f32>) -> Loudest {
        let loudest = self.render(settings, out);
        self.subtract_reference(out);
        loudest
    }

    /// [`Residual::compute`] (the same bits), the chain's first half taken from `fronts`
    /// where `settings` share it ([`Warmed::render_joined_after`]).
    fn compute_after(
        &self,
        fronts: &Fronts,
        settings: &ChainSettings,
        out: &mut Vec<f32>,
    ) -> Loudest {
        let loudest = self.segments.render_joined_after(fronts, settings, out);
        self.subtract_reference(out);
        loudest
    }

    fn subtract_reference(&self, out: &mut [f32]) {
        for (o, r) in out.iter_mut().zip(&self.reference) {
            *o -= r;
        }
    }

    /// The waveform SNR of a residual whose energy is `cost`, dB.
    fn snr_db(&self, cost: f64) -> f64 {
        10.0 * (self.energy / cost.max(1e-30)).log10()
    }

    /// The output gain change (dB) that brings `output` closest to the reference, and the
    /// waveform SNR there (dB).
    fn best_gain(&self, output: &[f32]) -> (f64, f64) {
        let (yy, yr) = (lsq::dot(output, output), lsq::dot(output, &self.reference));
        let rr = self.energy;
        if yy <= 0.0 || yr <= 0.0 {
            return (0.0, 0.0);
        }
        let explained = yr * yr / yy;
        let snr_db = 10.0 * (rr / (rr - explained).max(rr * 1e-12)).log10();
        (20.0 * (yr / yy).log10(), snr_db)
    }

    /// What `settings` make of the scored samples: the waveform SNR at the output gain that
    /// suits them best, the spectrum error and the crest-factor error against the reference.
    fn judge(&self, settings: &ChainSettings) -> Judgement {
        // On two cores: the judgements after the first run between polishes, with a core idle.
        let mut output = Vec::new();
        for channel in self.segments.render(settings).iter().flatten() {
            output.extend_from_slice(channel);
        }
        let fs = self.sample_rate;
        let (reference_ltas_db, reference_crest_db) = self.judged_against.get_or_init(|| {
            (
                metrics::ltas_levels_db(&self.reference, fs),
                metrics::crest_factor_db(&self.reference, fs),
            )
        });
        let output_ltas_db = metrics::ltas_levels_db(&output, fs);
        Judgement {
            snr_db: self.best_gain(&output).1,
            spectrum_db: metrics::ltas_error_from_levels(&output_ltas_db, reference_ltas_db, fs).0,
            crest_db: (metrics::crest_factor_db(&output, fs) - reference_crest_db).abs(),
        }
    }
}

/// `settings` polished against the reference's waveform on paired `takes`, kept when other
/// stretches of the takes ([`CHECK_EXCERPT`]) agree; unchanged (and `None`) when the takes
/// are not paired. Where that polish is not kept, or still misses the waveform by more than
/// [`SLOPES_TRIED_BELOW_DB`], the settings are also polished with each cut one slope steeper
/// and one gentler ([`slope_neighbours`]), with the ceiling at the reference's peak level
/// ([`ceiling_at_peak`]), and from the chain fitted to the linear response
/// ([`Trial::linear_start`]); of the polishes the check would keep, the closest waveform wins.
pub fn polish(
    takes: &Takes<'_>,
    settings: ChainSettings,
    trial: &Trial<'_>,
) -> (ChainSettings, Option<Polish>) {
    if !takes.paired {
        return (settings, None);
    }
    let problem = Residual::new(takes, POLISH_EXCERPT);
    if problem.energy <= 0.0 {
        return (settings, None);
    }
    // The excerpt is a few seconds: what it does not hold (a louder passage, a quieter one)
    // may disagree. Other stretches of the takes decide.
    // The check's stretches and its reading of the start beside the first polish (which
    // leaves a core idle between its Jacobians).
    let ((check, before), first_run) = std::thread::scope(|scope| {
        let check = scope.spawn(|| {
            let check = Residual::new(takes, CHECK_EXCERPT);
            let before = check.judge(&settings);
            (check, before)
        });
        let first = descend(&problem, &settings);
        (check.join().expect("judging does not panic"), first)
    });
    let first = first_run.end(&problem);
    let mut tried = vec![(check.judge(&first.settings), first)];
    let judged = &tried[0].0;
    let mut slopes_tried = 0;
    let mut ceiling_tried = false;
    let mut linear_tried = false;
    if !judged.better_than(&before) || judged.snr_db < SLOPES_TRIED_BELOW_DB {
        let slopes = slope_neighbours(&settings);
        slopes_tried = slopes.len();
        let ceiling = ceiling_at_peak(&settings, trial.reference_peak_db);
        ceiling_tried = ceiling.is_some();
        let linear = (trial.linear_start)();
        linear_tried = !linear.is_empty();
        let linear_detectors = linear.into_iter().flat_map(|s| {
            let other = other_detector(&s);
            [Some(s), other].into_iter().flatten()
        });
        let kinds = slopes
            .into_iter()
            .map(|s| (Start::Slope, s))
            .chain(ceiling.map(|s| (Start::Ceiling, s)))
            .chain(linear_detectors.map(|s| (Start::Linear, s)));
        let mut starts: Vec<(Start, ChainSettings)> = Vec::new();
        // A start equal to the first one, or to one before it, would polish to the same end,
        // and after the pause it could take the place of another start going on.
        for (kind, start) in kinds {
            if start != settings && !starts.iter().any(|(_, s)| *s == start) {
                starts.push((kind, start));
            }
        }
        let others = trial_descents(&problem, &starts, &first_run);
        let judged = on_two_cores(&others, |other| check.judge(&other.settings));
        tried.extend(judged.into_iter().zip(others));
    }
    let snr_before_db = tried[0].1.snr_before_db;
    // The closest waveform of those the check keeps; the first polish reports when none is.
    let kept = (0..tried.len())
        .filter(|&i| tried[i].0.better_than(&before))
        .max_by(|&a, &b| tried[a].0.snr_db.total_cmp(&tried[b].0.snr_db));
    let (after, chosen) = tried.swap_remove(kept.unwrap_or(0));
    let polish = Polish {
        snr_before_db,
        snr_after_db: chosen.snr_after_db,
        check_before_db: before.snr_db,
        check_after_db: after.snr_db,
        iterations: chosen.iterations,
        slopes_tried,
        ceiling_tried,
        linear_tried,
        kept: kept.is_some(),
    };
    let result = if kept.is_some() {
        chosen.settings
    } else {
        settings
    };
    (result, Some(polish))
}

/// What a start of the trial changes in the chain the stages fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// A cut one slope steeper or gentler ([`slope_neighbours`]).
    Slope,
    /// The ceiling at the reference's peak level ([`ceiling_at_peak`]).
    Ceiling,
    /// A chain fitted to the linear response, with either detector ([`Trial::linear_start`]).
    Linear,
}

/// The trial's polishes from `starts`: each start's first [`TRIAL_PAUSE_ITERATIONS`], then
/// the closest to the reference on the polish excerpt of each kind of start, and the
/// [`TRIAL_GOING_ON_BESIDE`] closest of the rest, on to the end; those that stopped by then are
/// whole, the others are left. A start that is `first`'s own but for a ceiling none of its
/// renders reached is not polished: `first`'s run stands for it ([`Descending::under_ceiling`];
/// the ceiling's start on 6 of the JUCE harness's 11 paired takes that run the trial, 17 of
/// `recorded_material`'s 28). The runs are independent: on two cores, each core taking the
/// next as it comes free (each one's Jacobian shares its columns between the cores as well).
fn trial_descents(
    problem: &Residual,
    starts: &[(Start, ChainSettings)],
    first: &Descending<'_>,
) -> Vec<Descent> {
    let all: Vec<usize> = (0..starts.len()).collect();
    let mut runs = on_two_cores(&all, |&i| {
        let start = &starts[i].1;
        first
            .under_ceiling(start)
            .unwrap_or_else(|| Descending::new(problem, start).go(problem, TRIAL_PAUSE_ITERATIONS))
    });
    let mut closest_first: Vec<usize> = all.into_iter().filter(|&i| !runs[i].stopped).collect();
    closest_first.sort_by(|&a, &b| runs[a].cost.total_cmp(&runs[b].cost));
    let mut going: Vec<usize> = [Start::Slope, Start::Ceiling, Start::Linear]
        .iter()
        .filter_map(|&kind| closest_first.iter().copied().find(|&i| starts[i].0 == kind))
        .collect();
    let beside: Vec<usize> = closest_first
        .iter()
        .copied()
        .filter(|i| !going.contains(i))
        .take(TRIAL_GOING_ON_BESIDE)
        .collect();
    going.extend(beside);
    // Each goes on from a copy of where it paused (a few megabytes; an iteration renders
    // dozens of excerpts).
    let gone_on = on_two_cores(&going, |&i| runs[i].clone().go(problem, MAX_ITERATIONS));
    for (&i, run) in going.iter().zip(gone_on) {
        runs[i] = run;
    }
    runs.into_iter()
        .filter(|run| run.stopped)
        .map(|run| run.end(problem))
        .collect()
}

/// Iterations every start of the trial runs before only the most promising go on, and how
/// many go on beside the closest of each kind ([`trial_descents`]). On the takes below, the
/// start the polish chose in the end was the closest of its kind after three iterations, but
/// not always the closest of all: a cut given its right slope starts furthest off and climbs
/// last (Beatbox Sub on the recorded 20 s mono drums: 7.3 dB at the start, the lowest of seven
/// starts, and 14.5 dB after three iterations, the sixth; 33.5 dB on the check at the end, the
/// highest). On the 47 takes where the trial runs (28 of `recorded_material`'s 72, 11 of the
/// JUCE harness's 12 paired, 8 of `analysis_quality`'s 18 factory round trips) the trial ran
/// 1,355 of the 1,833 iterations that polishing every start to the end takes, and the polish
/// chose the same chain on 46: on the synthesised take through Broadcast another of the linear
/// response's four chains, 0.04 dB lower on the check. The two closest alone missed on four
/// takes, the three closest on two (a cut's right slope both times).
const TRIAL_PAUSE_ITERATIONS: usize = 3;
const TRIAL_GOING_ON_BESIDE: usize = 1;

/// What the polish may try beside its first start where that falls short.
pub struct Trial<'a> {
    /// The reference's peak level, dBFS ([`ceiling_at_peak`]).
    pub reference_peak_db: f32,
    /// The chains fitted to the reference chain's linear response, made only when needed
    /// (none: nothing to try); each is polished with its compressor's detector and with the
    /// other one ([`other_detector`]).
    pub linear_start: &'a dyn Fn() -> Vec<ChainSettings>,
}

/// Where one run of Levenberg–Marquardt on the waveform residual ended.
#[derive(Debug)]
struct Descent {
    settings: ChainSettings,
    /// Waveform SNR on the polish excerpt at the start (at its best output gain) and at the
    /// end, dB.
    snr_before_db: f64,
    snr_after_db: f64,
    iterations: usize,
}

/// Every knob of `start` moved at once to bring the output onto the reference on `problem`'s
/// excerpt, until an iteration gains less than [`MIN_RELATIVE_IMPROVEMENT`], moves no knob by
/// [`MIN_STEPS_MOVED`], or [`MAX_ITERATIONS`] have run: the run at its end
/// ([`Descending::end`] reads it).
fn descend<'a>(problem: &Residual, start: &'a ChainSettings) -> Descending<'a> {
    Descending::new(problem, start).go(problem, MAX_ITERATIONS)
}

/// A run of Levenberg–Marquardt on the waveform residual that can stop after any iteration
/// and go on later as if it had not stopped (the same arithmetic in the same order): the
/// trial runs every start a few iterations, then only the most promising on
/// ([`TRIAL_PAUSE_ITERATIONS`]).
#[derive(Clone)]
struct Descending<'a> {
    knobs: Knobs<'a>,
    /// The knobs' coordinates, the residual there and its energy.
    x: Vec<f64>,
    residual: Vec<f32>,
    cost: f64,
    /// A trial step's residual (kept to reuse its memory).
    trial: Vec<f32>,
    damping: f64,
    iterations: usize,
    /// The run has met one of its stopping rules.
    stopped: bool,
    snr_before_db: f64,
    /// The loudest sample any render on the way put out, pre-roll included
    /// ([`Descending::under_ceiling`]).
    loudest: Loudest,
}

impl<'a> Descending<'a> {
    /// At `start`, with the output gain where it matches the reference best (the level stage
    /// has not set it yet): the least-squares gain of the rendered output, rendered again at
    /// that gain (the ceiling follows the output gain).
    fn new(problem: &Residual, start: &'a ChainSettings) -> Self {
        let knobs = Knobs::new(start);
        let mut x = knobs.read(start);
        let mut residual = Vec::new();
        let mut loudest = problem.render(&knobs.settings(&x), &mut residual);
        let gain_knob = knobs.list.len() - 1;
        x[gain_knob] += problem.best_gain(&residual).0;
        loudest = loudest.max(problem.compute(&knobs.settings(&x), &mut residual));
        let cost = lsq::dot(&residual, &residual);
        Self {
            knobs,
            x,
            residual,
            cost,
            trial: Vec::new(),
            damping: INITIAL_DAMPING,
            iterations: 0,
            stopped: false,
            snr_before_db: problem.snr_db(cost),
            loudest,
        }
    }

    /// Iterations until `until` have run (at most [`MAX_ITERATIONS`]) or a stopping rule
    /// holds.
    fn go(mut self, problem: &Residual, until: usize) -> Self {
        let (knobs, m) = (&self.knobs, self.knobs.list.len());
        while !self.stopped && self.iterations < until.min(MAX_ITERATIONS) {
            self.iterations += 1;
            let (columns, loudest) = jacobian(problem, knobs, &self.x, &self.residual);
            self.loudest = self.loudest.max(loudest);
            let (normal, gradient) = lsq::normal_equations(&columns, &self.residual);
            let rhs: Vec<f64> = gradient.iter().map(|g| -g).collect();
            let mut improved = None;
            for _ in 0..DAMPING_TRIES {
                let mut lhs = normal.clone();
                for j in 0..m {
                    lhs[j * m + j] += self.damping * normal[j * m + j].max(MIN_DIAGONAL);
                }
                let Some(step) = lsq::solve(&mut lhs, rhs.clone(), m) else {
                    self.damping *= DAMPING_UP;
                    continue;
                };
                // Clamped into range, then read back: the coordinates the settings really hold.
                let moved: Vec<f64> = self.x.iter().zip(&step).map(|(a, d)| a + d).collect();
                let moved = knobs.settings(&moved);
                self.loudest = self.loudest.max(problem.compute(&moved, &mut self.trial));
                let trial_cost = lsq::dot(&self.trial, &self.trial);
                if trial_cost < self.cost {
                    improved = Some((knobs.read(&moved), trial_cost));
                    self.damping = (self.damping / DAMPING_DOWN).max(1e-7);
                    break;
                }
                self.damping *= DAMPING_UP;
            }
            let Some((candidate, new_cost)) = improved else {
                self.stopped = true;
                break;
            };
            let gain = (self.cost - new_cost) / self.cost;
            let steps_moved = candidate
                .iter()
                .zip(&self.x)
                .zip(&knobs.list)
                .map(|((to, from), knob)| ((to - from) / knob.step()).abs())
                .fold(0.0, f64::max);
            self.x = candidate;
            self.cost = new_cost;
            std::mem::swap(&mut self.residual, &mut self.trial);
            self.stopped = gain < MIN_RELATIVE_IMPROVEMENT || steps_moved < MIN_STEPS_MOVED;
        }
        self.stopped |= self.iterations >= MAX_ITERATIONS;
        self
    }

    fn end(&self, problem: &Residual) -> Descent {
        Descent {
            settings: self.knobs.settings(&self.x),
            snr_before_db: self.snr_before_db,
            snr_after_db: problem.snr_db(self.cost),
            iterations: self.iterations,
        }
    }

    /// This run as it would have gone from `start`: its own start with another ceiling that
    /// none of its renders reached, where its own ceiling turned no sample down either. Every
    /// render on the way is then the same, bit for bit ([`Loudest`]), and so are the steps,
    /// the costs and the stops. `None` where a render reached either ceiling, or where
    /// `start` differs in more than its ceiling.
    fn under_ceiling(&self, start: &'a ChainSettings) -> Option<Self> {
        let own = self.knobs.base;
        // A sample its own ceiling turned down comes out at that level, within f32's rounding.
        let reached_own = own.ceiling.enabled && self.loudest >= own.ceiling.level() * (1.0 - 1e-6);
        let reaches_new = start.ceiling.enabled && self.loudest > start.ceiling.level();
        let mut same = start.clone();
        same.ceiling = own.ceiling;
        (same == *own && !reached_own && !reaches_new).then(|| Self {
            knobs: Knobs::new(start),
            ..self.clone()
        })
    }
}

/// Below this waveform SNR on the check excerpt, dB, the polish also tries the cuts' other
/// slopes. The slope is a choice the polish cannot slide along, and the spectra that chose it
/// see little of a cut below the material's lowest notes: a 25 Hz cut at 24 dB/oct under a
/// low-shelf boost is matched in magnitude by a resonant 12 dB/oct cut at 40 Hz, whose phase
/// leaves the waveform at 22–24 dB (recorded drums through Beatbox Sub; 33–36 dB with the
/// right slope). Above it the match is close enough that two more polishes are not worth
/// their time (each is about as long as the first).
const SLOPES_TRIED_BELOW_DB: f64 = 30.0;

/// `settings` with one cut one slope steeper or gentler ([`ranges::CUT_SLOPES_DB_PER_OCT`]),
/// each way each cut can go, the cut's Q back to Butterworth's (a resonance chosen to make up
/// for one slope is no start for another).
fn slope_neighbours(settings: &ChainSettings) -> Vec<ChainSettings> {
    let mut starts = Vec::new();
    for (i, band) in settings.eq.bands.iter().enumerate() {
        if !band.enabled || !band.kind.uses_slope() {
            continue;
        }
        for step in [-1, 1] {
            if let Some(slope) = ranges::cut_slope_beside(band.slope_db_per_oct, step) {
                let mut start = settings.clone();
                start.eq.bands[i].slope_db_per_oct = slope;
                start.eq.bands[i].q = std::f32::consts::FRAC_1_SQRT_2;
                starts.push(start);
            }
        }
    }
    starts
}

/// `settings` with the ceiling at the reference's peak level, where that is lower than theirs
/// (by more than [`CEILING_TRIED_BELOW_DB`]). The ceiling stage puts it there only when the
/// reference's peaks pile up against one level, and a limiter that caught only a few peaks
/// (a factory preset's ceiling on drums whose hits vary) leaves too few to tell; the level
/// stage lowers it again where the output's crest factor reads high, but after the polish has
/// fitted the compressor to peaks the reference never had. Polished from there, the waveform
/// decides (recorded drums through Broadcast and Live Safety Limiter: 19–24 dB with the
/// ceiling at 0 dBFS, 30–34 dB at the peak).
fn ceiling_at_peak(settings: &ChainSettings, reference_peak_db: f32) -> Option<ChainSettings> {
    let ceiling = &settings.ceiling;
    let peak_db = ranges::CEILING_DB.clamp(reference_peak_db);
    (ceiling.enabled && peak_db < ceiling.ceiling_db - CEILING_TRIED_BELOW_DB).then(|| {
        let mut start = settings.clone();
        start.ceiling.ceiling_db = peak_db;
        start
    })
}

/// `settings` with the compressor's other detector (peak for RMS, RMS for peak); `None` with
/// the compressor off. The compressor stage chooses the detector by the block gain trace,
/// where on a voice the two read alike (they differ inside a 5 ms window), and the polish
/// keeps it; the waveform tells them apart. Recorded 3-minute mono voice through Telephone
/// (a peak detector, 6:1, 3 ms attack): both chains fitted to the linear response chose RMS,
/// and the check read 23.9 and 24.1 dB from them; with the peak detector, 28.0 and 84.2 dB.
fn other_detector(settings: &ChainSettings) -> Option<ChainSettings> {
    settings.compressor.enabled.then(|| {
        let mut other = settings.clone();
        other.compressor.detector = match other.compressor.detector {
            Detector::Peak => Detector::Rms,
            Detector::Rms => Detector::Peak,
        };
        other
    })
}

/// How far below the chain's ceiling the reference's peak must be for [`ceiling_at_peak`] to
/// try it, dB: a tenth of a dB changes a few samples.
const CEILING_TRIED_BELOW_DB: f32 = 0.1;

/// The residual's derivative along each knob, by forward differences, one column per knob;
/// the columns are rendered on two cores ([`on_two_cores`]: a column past the EQ costs less,
/// and a core that finishes one takes the next). A knob past the EQ (the compressor's, the
/// output gain) leaves the chain's first half as it is at `x`: its column runs the second half
/// only, from the first half's output made once ([`Warmed::fronts`]).
/// Returns the columns and the loudest sample of their renders.
fn jacobian(
    problem: &Residual,
    knobs: &Knobs<'_>,
    x: &[f64],
    residual: &[f32],
) -> (Vec<Vec<f32>>, Loudest) {
    let fronts = problem.segments.fronts(&knobs.settings(x));
    let column = |j: usize| {
        let knob = knobs.list[j];
        let at = |h: f64| {
            let mut moved = x.to_vec();
            moved[j] += h;
            knobs.settings(&moved)
        };
        // Step away from the nearer bound, so the step stays inside the range.
        let mut settings = at(knob.step());
        if knob.read(&settings) < x[j] + 0.5 * knob.step() {
            settings = at(-knob.step());
        }
        let h = knob.read(&settings) - x[j];
        let mut col = Vec::with_capacity(residual.len());
        let loudest = problem.compute_after(&fronts, &settings, &mut col);
        if h.abs() < 1e-12 {
            col.iter_mut().for_each(|c| *c = 0.0);
        } else {
            let inv = (1.0 / h) as f32;
            for (c, r) in col.iter_mut().zip(residual) {
                *c = (*c - r) * inv;
            }
        }
        (col, loudest)
    };
    let m = knobs.list.len();
    let columns = on_two_cores(&(0..m).collect::<Vec<_>>(), |&j| column(j));
    let loudest = columns.iter().map(|c| c.1).fold(0.0, f32::max);
    (columns.into_iter().map(|c| c.0).collect(), loudest)
}

/// Whether the polish may run: all of the learned processing (`amount` 1), since it chases
/// the reference exactly.
pub fn applies(amount: f64) -> bool {
    amount >= 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{metrics, test_noise};
    use crate::audio_io::Audio;
    use crate::dsp::{Detector, EqBandSettings, FilterKind};

    /// A trial with no ceiling to try (a reference peaking at 0 dBFS) and no linear start.
    const NOTHING_ELSE: Trial<'static> = Trial {
        reference_peak_db: 0.0,
        linear_start: &Vec::new,
    };

    /// The check's figures on Telephone's recorded 3-minute mono voice (rounded): a polish
    /// that takes the SNR from 3.7 to 23.7 dB while the crest error goes 0.99 → 1.16 dB is
    /// kept (0.1 dB of slack alone turned it down); one that doubles the crest error is not,
    /// nor one whose SNR does not rise.
    #[test]
    fn the_crest_slack_takes_a_share_of_where_it_starts() {
        let judgement = |snr_db, spectrum_db, crest_db| Judgement {
            snr_db,
            spectrum_db,
            crest_db,
        };
        let before = judgement(3.70, 0.431, 0.989);
        assert!(judgement(23.68, 0.421, 1.162).better_than(&before));
        assert!(!judgement(23.68, 0.421, 1.98).better_than(&before));
        assert!(!judgement(3.60, 0.421, 0.989).better_than(&before));
        // Where the crest error starts near 0 the slack is about the 0.1 dB it was.
        let close = judgement(20.0, 0.2, 0.01);
        assert!(judgement(30.0, 0.2, 0.11).better_than(&close));
        assert!(!judgement(30.0, 0.2, 0.125).better_than(&close));
    }

    #[test]
    fn knobs_read_back_what_they_write() {
        let mut s = ChainSettings::default();
        s.eq.bands[0] = EqBandSettings::on(FilterKind::Bell, 1000.0, 3.0, 1.2);
        s.compressor.enabled = true;
        s.compressor.sidechain_hpf = true;
        let knobs = Knob::all(&s);
        // Bell: frequency, gain, Q; compressor: threshold, ratio, knee, attack, release,
        // sidechain; the output gain.
        assert_eq!(knobs.len(), 3 + 6 + 1);
        for k in knobs {
            let x = k.read(&s);
            let mut t = s.clone();
            k.write(&mut t, x + 0.1);
            assert!((k.read(&t) - (x + 0.1)).abs() < 1e-5, "{k:?}");
        }
    }

    /// Noise bursts 4 to 20 dB apart, 150 ms each: the compressor acts on some and not others.
    fn bursts(seconds: f64, fs: f64) -> Vec<f32> {
        let noise = test_noise((seconds * fs) as usize, 7);
        let burst = (0.15 * fs) as usize;
        noise
            .iter()
            .enumerate()
            .map(|(n, v)| {
                let level_db = -4.0 * ((n / burst) % 5) as f32 - 6.0;
                v * 10f32.powf(level_db / 20.0)
            })
            .collect()
    }

    /// 16 s of [`bursts`] at 48 kHz and the same through `truth`, with their mids.
    struct Pair {
        source: Audio,
        reference: Audio,
        src_mid: Vec<f32>,
        ref_mid: Vec<f32>,
    }

    impl Pair {
        const FS: f64 = 48_000.0;

        fn through(truth: &ChainSettings) -> Self {
            let fs = Self::FS;
            let source = Audio {
                sample_rate: fs as u32,
                channels: vec![bursts(16.0, fs)],
            };
            let reference = Audio {
                sample_rate: fs as u32,
                channels: crate::analysis::render(truth, &source.channels, fs),
            };
            Self {
                src_mid: mid(&source),
                ref_mid: mid(&reference),
                source,
                reference,
            }
        }

        fn takes(&self) -> Takes<'_> {
            let (r, s) = (&self.reference, &self.source);
            let takes = Takes::pair(r, s, &self.ref_mid, &self.src_mid, &mut Vec::new());
            assert!(takes.paired);
            takes
        }
    }

    fn mid(a: &Audio) -> Vec<f32> {
        metrics::mid(&crate::analysis::inputs::refs(a))
    }

    /// An RMS compressor, 4:1 from −20 dB with a 6 dB knee, 5 ms / 80 ms.
    fn compressed() -> ChainSettings {
        let mut s = ChainSettings::default();
        let c = &mut s.compressor;
        (c.enabled, c.detector) = (true, Detector::Rms);
        (c.threshold_db, c.ratio, c.knee_db) = (-20.0, 4.0, 6.0);
        (c.attack_ms, c.release_ms) = (5.0, 80.0);
        s
    }

    /// A start off the truth (a third of an octave, 1.5 dB, 4 dB of threshold, half the
    /// ratio), on [`Pair::through`] `truth`.
    fn moved_off(truth: &ChainSettings) -> ChainSettings {
        let mut start = truth.clone();
        start.eq.bands[0].freq_hz = 126.0;
        start.eq.bands[1] = EqBandSettings::on(FilterKind::Bell, 1260.0, 2.5, 1.5);
        let c = &mut start.compressor;
        (c.threshold_db, c.ratio, c.attack_ms, c.release_ms) = (-16.0, 2.0, 10.0, 150.0);
        start.output_gain_db = 1.5;
        start
    }

    fn cut_and_bell() -> ChainSettings {
        let mut truth = compressed();
        truth.eq.bands[0] = EqBandSettings::on(FilterKind::LowCut, 100.0, 0.0, 0.707);
        truth.eq.bands[1] = EqBandSettings::on(FilterKind::Bell, 1000.0, 4.0, 1.0);
        truth
    }

    /// A descent stopped after every iteration and gone on from a copy ends where one left
    /// alone ends, bit for bit. The trial goes on after [`TRIAL_PAUSE_ITERATIONS`] with the
    /// closest start of each kind and the closest of the rest, and leaves the others.
    #[test]
    fn a_descent_goes_on_after_a_pause_as_if_it_had_not_stopped() {
        let truth = cut_and_bell();
        let pair = Pair::through(&truth);
        let takes = pair.takes();
        let problem = Residual::new(&takes, POLISH_EXCERPT);
        let start = moved_off(&truth);
        let whole = descend(&problem, &start).end(&problem);
        let mut run = Descending::new(&problem, &start);
        for until in 1..=MAX_ITERATIONS {
            run = run.clone().go(&problem, until);
        }
        let paused = run.end(&problem);
        assert!(whole.iterations > 3, "{whole:?}");
        assert_eq!(paused.iterations, whole.iterations);
        assert_eq!(paused.settings, whole.settings);
        assert_eq!(paused.snr_after_db.to_bits(), whole.snr_after_db.to_bits());
        // Five starts, each further off than the one before.
        let kinds = [
            Start::Linear,
            Start::Linear,
            Start::Linear,
            Start::Slope,
            Start::Ceiling,
        ];
        let starts: Vec<(Start, ChainSettings)> = [0.0f32, 2.0, 3.5, 5.0, 9.0]
            .iter()
            .zip(kinds)
            .map(|(&more_db, kind)| {
                let mut s = start.clone();
                s.compressor.threshold_db += more_db;
                s.eq.bands[1].gain_db -= more_db / 3.0;
                (kind, s)
            })
            .collect();
        let paused: Vec<Descending> = starts
            .iter()
            .map(|(_, s)| Descending::new(&problem, s).go(&problem, TRIAL_PAUSE_ITERATIONS))
            .collect();
        let snr: Vec<f64> = paused.iter().map(|run| problem.snr_db(run.cost)).collect();
        // Measured: 26.8, 29.6, 21.3, 17.4 dB after three iterations; the furthest stopped at
        // 10.9 dB. The closest linear start goes on (1), and the closest of the rest (0); the
        // cut's start (3) goes on as the only one of its kind though it is the furthest; the
        // ceiling's stopped and is whole; the linear start at 21.3 dB (2) is left.
        assert!(paused[4].stopped, "{snr:?}");
        assert!(paused[..4].iter().all(|run| !run.stopped), "{snr:?}");
        assert!(
            snr[1] > snr[0] && snr[0] > snr[2] && snr[2] > snr[3],
            "{snr:?}"
        );
        // A first run none of them shares its start with (the first of them is `start`
        // itself, which `polish` never hands the trial): each is polished.
        let elsewhere = Descending::new(&problem, &truth);
        let trial = trial_descents(&problem, &starts, &elsewhere);
        let kept = [0, 1, 3, 4];
        assert_eq!(trial.len(), kept.len());
        for (descent, &i) in trial.iter().zip(&kept) {
            let alone = descend(&problem, &starts[i].1).end(&problem);
            assert_eq!(descent.settings, alone.settings, "start {i}");
            assert_eq!(descent.iterations, alone.iterations, "start {i}");
        }
    }

    /// A descent's renders that all stay under a lower ceiling stand for the descent from the
    /// start with that ceiling, bit for bit; one a render reached is polished afresh.
    #[test]
    fn a_ceiling_no_render_reached_leaves_the_descent_as_it_was() {
        let truth = cut_and_bell();
        let pair = Pair::through(&truth);
        let takes = pair.takes();
        let problem = Residual::new(&takes, POLISH_EXCERPT);
        let mut start = moved_off(&truth);
        start.ceiling.enabled = true;
        start.ceiling.ceiling_db = ranges::CEILING_DB.max;
        let run = descend(&problem, &start);
        let loudest_db = 20.0 * run.loudest.log10();
        // Measured: the loudest sample of all the renders of its six iterations, −2.7 dBFS.
        assert!(loudest_db < -1.0, "{loudest_db}");
        let with_ceiling = |ceiling_db: f32| {
            let mut s = start.clone();
            s.ceiling.ceiling_db = ceiling_db;
            s
        };
        let (above, below) = (
            with_ceiling(loudest_db + 0.01),
            with_ceiling(loudest_db - 0.3),
        );
        let known = run.under_ceiling(&above).expect("no render reached it");
        let (known, afresh) = (known.end(&problem), descend(&problem, &above).end(&problem));
        assert_eq!(known.settings, afresh.settings);
        assert_eq!(known.iterations, afresh.iterations);
        assert_eq!(known.snr_after_db.to_bits(), afresh.snr_after_db.to_bits());
        assert_eq!(known.settings.ceiling, above.ceiling);
        assert!(run.under_ceiling(&below).is_none());
        let afresh = descend(&problem, &below).end(&problem);
        assert_ne!(afresh.snr_after_db, run.end(&problem).snr_after_db);
        // A start that differs in more than its ceiling is not this run's.
        let mut other = above.clone();
        other.compressor.ratio += 1.0;
        assert!(run.under_ceiling(&other).is_none());
    }

    #[test]
    fn a_chain_moved_off_its_settings_is_brought_back_by_the_waveform() {
        let fs = Pair::FS;
        let truth = cut_and_bell();
        let pair = Pair::through(&truth);
        let (reference, ref_mid) = (&pair.reference, &pair.ref_mid);
        let takes = pair.takes();
        let start = moved_off(&truth);
        let (polished, report) = polish(&takes, start, &NOTHING_ELSE);
        let report = report.expect("paired takes are polished");
        assert!(report.kept, "{report:?}");
        // Close enough that no other slope is tried, and the cut keeps its own.
        assert_eq!(report.slopes_tried, 0);
        assert_eq!(polished.eq.bands[0].slope_db_per_oct, 12);
        // Measured: 15.0 dB before, 85.3 dB after on the check excerpt; every setting back
        // within a few parts in 10⁴.
        assert!(report.check_before_db < 16.0, "{report:?}");
        assert!(report.check_after_db > 80.0, "{report:?}");
        let (b, c) = (&polished.eq.bands, &polished.compressor);
        assert!((b[0].freq_hz / 100.0).log2().abs() < 1e-3, "{:?}", b[0]);
        assert!((b[1].freq_hz / 1000.0).log2().abs() < 1e-3, "{:?}", b[1]);
        assert!((b[1].gain_db - 4.0).abs() < 0.01, "{:?}", b[1]);
        assert!((b[1].q - 1.0).abs() < 1e-3, "{:?}", b[1]);
        assert!((c.threshold_db + 20.0).abs() < 0.01, "{c:?}");
        assert!((c.ratio / 4.0).ln().abs() < 1e-3, "{c:?}");
        assert!((c.knee_db - 6.0).abs() < 0.02, "{c:?}");
        assert!((c.attack_ms / 5.0).ln().abs() < 1e-3, "{c:?}");
        assert!((c.release_ms / 80.0).ln().abs() < 1e-3, "{c:?}");
        // Unpaired takes are left alone.
        let other = Audio {
            sample_rate: fs as u32,
            channels: vec![test_noise(16 * 48_000, 99)],
        };
        let other_mid = mid(&other);
        let unpaired = Takes::pair(reference, &other, ref_mid, &other_mid, &mut Vec::new());
        assert!(!unpaired.paired);
        assert_eq!(
            polish(&unpaired, truth.clone(), &NOTHING_ELSE),
            (truth, None)
        );
    }

    #[test]
    fn a_cut_given_the_wrong_slope_gets_its_own_back() {
        // A steep cut under a shelf boost (as in Beatbox Sub), started at 12 dB/oct where the
        // truth is 24, and off: no corner or Q of the gentler cut has the steeper one's phase.
        let mut truth = compressed();
        truth.eq.bands[0] = EqBandSettings::on(FilterKind::LowCut, 300.0, 0.0, 0.707);
        truth.eq.bands[0].slope_db_per_oct = 24;
        truth.eq.bands[1] = EqBandSettings::on(FilterKind::LowShelf, 600.0, 5.0, 0.707);
        let pair = Pair::through(&truth);
        let mut start = truth.clone();
        start.eq.bands[0].slope_db_per_oct = 12;
        start.eq.bands[0].freq_hz = 360.0;
        start.eq.bands[1] = EqBandSettings::on(FilterKind::LowShelf, 700.0, 3.5, 0.707);
        let takes = pair.takes();
        // The gentler cut polished alone stays far from the waveform.
        let problem = Residual::new(&takes, POLISH_EXCERPT);
        let alone = descend(&problem, &start).end(&problem);
        let alone_db = Residual::new(&takes, CHECK_EXCERPT)
            .judge(&alone.settings)
            .snr_db;
        let (polished, report) = polish(&takes, start, &NOTHING_ELSE);
        let report = report.expect("paired takes are polished");
        // Measured: 17.8 dB before, 23.9 dB polished at 12 dB/oct, 81.3 dB at 24 dB/oct.
        assert!(alone_db < 25.0, "{alone_db}");
        assert!(report.kept, "{report:?}");
        assert!(report.check_after_db > 80.0, "{report:?}");
        assert_eq!(report.slopes_tried, 2, "{report:?}");
        let (cut, shelf) = (&polished.eq.bands[0], &polished.eq.bands[1]);
        assert_eq!(cut.slope_db_per_oct, 24, "{cut:?}");
        assert!((cut.freq_hz / 300.0).log2().abs() < 1e-3, "{cut:?}");
        assert!((shelf.gain_db - 5.0).abs() < 0.01, "{shelf:?}");
    }

    #[test]
    fn a_ceiling_the_reference_met_is_tried_at_its_peak_level() {
        // The truth's ceiling 4 dB under the peaks its compressor leaves; the chain to polish
        // has it at the top of its range, as the ceiling stage leaves a reference whose
        // peaks do not pile up against one level.
        let mut truth = compressed();
        truth.ceiling.enabled = false;
        let open_peak_db = peak_db(&Pair::through(&truth).reference);
        truth.ceiling = crate::dsp::CeilingSettings {
            enabled: true,
            ceiling_db: open_peak_db - 4.0,
        };
        let pair = Pair::through(&truth);
        let reference_peak_db = peak_db(&pair.reference);
        let takes = pair.takes();
        let mut start = truth.clone();
        start.ceiling.ceiling_db = ranges::CEILING_DB.max;
        start.compressor.threshold_db -= 2.0;
        // Without the trial the ceiling stays where it was.
        let (alone, alone_report) = polish(&takes, start.clone(), &NOTHING_ELSE);
        let alone_report = alone_report.expect("paired takes are polished");
        assert!(!alone_report.ceiling_tried);
        assert_eq!(alone.ceiling.ceiling_db, ranges::CEILING_DB.max);
        let trial = Trial {
            reference_peak_db,
            ..NOTHING_ELSE
        };
        let (polished, report) = polish(&takes, start, &trial);
        let report = report.expect("paired takes are polished");
        // Measured on the check excerpt: 17.8 dB before; 24.4 dB polished with the ceiling
        // at 0 dBFS; 120 dB (the readout's top) with it at the reference's peak.
        assert!(report.ceiling_tried, "{report:?}");
        assert!(report.kept, "{report:?}");
        assert!(alone_report.check_after_db < 26.0, "{alone_report:?}");
        assert!(report.check_after_db > 100.0, "{report:?}");
        assert!(
            (polished.ceiling.ceiling_db - truth.ceiling.ceiling_db).abs() < 0.01,
            "{:?} against {:?}",
            polished.ceiling,
            truth.ceiling
        );
    }

    #[test]
    fn the_linear_start_is_tried_with_the_other_detector_too() {
        // A peak detector at 20:1 with a hard knee and a 0.3 ms attack, started with an RMS
        // detector.
        let mut truth = compressed();
        let c = &mut truth.compressor;
        (c.detector, c.threshold_db, c.ratio, c.knee_db) = (Detector::Peak, -24.0, 20.0, 0.0);
        (c.attack_ms, c.release_ms) = (0.3, 40.0);
        let pair = Pair::through(&truth);
        let takes = pair.takes();
        let mut start = truth.clone();
        let c = &mut start.compressor;
        (c.detector, c.threshold_db, c.attack_ms) = (Detector::Rms, -20.0, 5.0);
        let (alone, alone_report) = polish(&takes, start.clone(), &NOTHING_ELSE);
        let alone_report = alone_report.expect("paired takes are polished");
        let linear = || vec![start.clone()];
        let trial = Trial {
            linear_start: &linear,
            ..NOTHING_ELSE
        };
        let (polished, report) = polish(&takes, start.clone(), &trial);
        let report = report.expect("paired takes are polished");
        // Measured on the check excerpt: 12.3 dB before; 15.7 dB polished with the RMS
        // detector; 120 dB (the readout's top) with the peak detector, every setting back.
        assert!(alone_report.check_after_db < 20.0, "{alone_report:?}");
        assert_eq!(alone.compressor.detector, Detector::Rms);
        assert!(report.linear_tried && report.kept, "{report:?}");
        assert!(report.check_after_db > 100.0, "{report:?}");
        let c = &polished.compressor;
        assert_eq!(c.detector, Detector::Peak);
        assert!((c.threshold_db + 24.0).abs() < 0.01, "{c:?}");
        assert!((c.attack_ms / 0.3).ln().abs() < 1e-3, "{c:?}");
    }

    fn peak_db(a: &Audio) -> f32 {
        let peak = a
            .channels
            .iter()
            .flatten()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        20.0 * peak.log10()
    }
}
