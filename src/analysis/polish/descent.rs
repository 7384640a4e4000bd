//! One run of Levenberg–Marquardt on the waveform residual: the knobs it moves, each in the
//! coordinate it moves in; the Jacobian by forward differences through the real chain; a run
//! that can pause after any iteration and go on later as if it had not stopped (the trial
//! runs every start a few iterations first).

use super::Residual;
use crate::analysis::excerpts::Loudest;
use crate::analysis::{lsq, on_two_cores};
use crate::dsp::ChainSettings;

/// Most Levenberg–Marquardt iterations; each costs one render per setting moved.
pub(super) const MAX_ITERATIONS: usize = 12;
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
pub(super) enum Knob {
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
    pub(super) fn all(s: &ChainSettings) -> Vec<Knob> {
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

    pub(super) fn read(self, s: &ChainSettings) -> f64 {
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
    pub(super) fn write(self, s: &mut ChainSettings, x: f64) {
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
    pub(super) fn step(self) -> f64 {
        match self {
            Knob::BandFreq(_) | Knob::SidechainHz => 2e-3,
            Knob::BandQ(_) | Knob::Ratio | Knob::Attack | Knob::Release => 3e-3,
            Knob::BandGain(_) | Knob::Threshold | Knob::Knee | Knob::OutputGain => 0.02,
        }
    }
}

/// The knobs of one chain: what the polish moves, and the settings around them.
#[derive(Clone)]
pub(super) struct Knobs<'a> {
    pub(super) base: &'a ChainSettings,
    pub(super) list: Vec<Knob>,
}

impl<'a> Knobs<'a> {
    pub(super) fn new(base: &'a ChainSettings) -> Self {
        Self {
            base,
            list: Knob::all(base),
        }
    }

    /// The knobs' coordinates in `s`.
    pub(super) fn read(&self, s: &ChainSettings) -> Vec<f64> {
        self.list.iter().map(|k| k.read(s)).collect()
    }

    /// The base settings with the knobs at `x`, clamped into the plugin's ranges.
    pub(super) fn settings(&self, x: &[f64]) -> ChainSettings {
        let mut s = self.base.clone();
        for (k, &v) in self.list.iter().zip(x) {
            k.write(&mut s, v);
        }
        s.clamped()
    }
}

/// Where one run of Levenberg–Marquardt on the waveform residual ended.
#[derive(Debug)]
pub(super) struct Descent {
    pub(super) settings: ChainSettings,
    /// Waveform SNR on the polish excerpt at the start (at its best output gain) and at the
    /// end, dB.
    pub(super) snr_before_db: f64,
    pub(super) snr_after_db: f64,
    pub(super) iterations: usize,
}

/// Every knob of `start` moved at once to bring the output onto the reference on `problem`'s
/// excerpt, until an iteration gains less than [`MIN_RELATIVE_IMPROVEMENT`], moves no knob by
/// [`MIN_STEPS_MOVED`], or [`MAX_ITERATIONS`] have run: the run at its end
/// ([`Descending::end`] reads it).
pub(super) fn descend<'a>(problem: &Residual, start: &'a ChainSettings) -> Descending<'a> {
    Descending::new(problem, start).go(problem, MAX_ITERATIONS)
}

/// A run of Levenberg–Marquardt on the waveform residual that can stop after any iteration
/// and go on later as if it had not stopped (the same arithmetic in the same order): the
/// trial runs every start a few iterations, then only the most promising on
/// ([`TRIAL_PAUSE_ITERATIONS`](super::trial::TRIAL_PAUSE_ITERATIONS)).
#[derive(Clone)]
pub(super) struct Descending<'a> {
    knobs: Knobs<'a>,
    /// The knobs' coordinates, the residual there and its energy.
    x: Vec<f64>,
    residual: Vec<f32>,
    pub(super) cost: f64,
    /// A trial step's residual (kept to reuse its memory).
    trial: Vec<f32>,
    damping: f64,
    iterations: usize,
    /// The run has met one of its stopping rules.
    pub(super) stopped: bool,
    snr_before_db: f64,
    /// The loudest sample any render on the way put out, pre-roll included
    /// ([`Descending::under_ceiling`]).
    pub(super) loudest: Loudest,
}

impl<'a> Descending<'a> {
    /// At `start`, with the output gain where it matches the reference best (the level stage
    /// has not set it yet): the least-squares gain of the rendered output, rendered again at
    /// that gain (the ceiling follows the output gain).
    pub(super) fn new(problem: &Residual, start: &'a ChainSettings) -> Self {
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
    pub(super) fn go(mut self, problem: &Residual, until: usize) -> Self {
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

    pub(super) fn end(&self, problem: &Residual) -> Descent {
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
    pub(super) fn under_ceiling(&self, start: &'a ChainSettings) -> Option<Self> {
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

/// The residual's derivative along each knob, by forward differences, one column per knob;
/// the columns are rendered on two cores ([`on_two_cores`]: a column past the EQ costs less,
/// and a core that finishes one takes the next). A knob past the EQ (the compressor's, the
/// output gain) leaves the chain's first half as it is at `x`: its column runs the second half
/// only, from the first half's output made once ([`Warmed::fronts`]).
/// Returns the columns and the loudest sample of their renders.
///
/// [`Warmed::fronts`]: crate::analysis::excerpts::Warmed::fronts
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
