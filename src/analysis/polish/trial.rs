//! The polish's trial, where its first result falls short: other starts than the chain the
//! stages fitted (a cut's other slopes, the ceiling at the reference's peak, the chains fitted
//! to the reference chain's linear response with either detector), each polished a few
//! iterations, then only the most promising on to the end.

use super::Residual;
use super::descent::{Descending, Descent, MAX_ITERATIONS};
use crate::analysis::on_two_cores;
use crate::dsp::{ChainSettings, Detector, ranges};

/// What the polish may try beside its first start where that falls short.
pub struct Trial<'a> {
    /// The reference's peak level, dBFS ([`ceiling_at_peak`]).
    pub reference_peak_db: f32,
    /// The chains fitted to the reference chain's linear response, made only when needed
    /// (none: nothing to try); each is polished with its compressor's detector and with the
    /// other one ([`other_detector`]).
    pub linear_start: &'a dyn Fn() -> Vec<ChainSettings>,
}

/// The trial's starts beside `settings` and how many of each kind there were.
#[derive(Default)]
pub(super) struct Starts {
    /// Each start once, none equal to `settings`.
    pub(super) list: Vec<(Start, ChainSettings)>,
    /// How many cut slopes beside `settings`' there were ([`slope_neighbours`]).
    pub(super) slopes: usize,
    /// Whether there was a ceiling at the reference's peak level ([`ceiling_at_peak`]).
    pub(super) ceiling: bool,
    /// Whether there were chains fitted to the linear response ([`Trial::linear_start`]).
    pub(super) linear: bool,
}

/// The starts the trial polishes beside `settings`: each cut one slope steeper and one gentler
/// ([`slope_neighbours`]), the ceiling at the reference's peak level ([`ceiling_at_peak`]), the
/// chains fitted to the linear response with either detector ([`other_detector`]).
pub(super) fn starts(settings: &ChainSettings, trial: &Trial<'_>) -> Starts {
    let slopes = slope_neighbours(settings);
    let ceiling = ceiling_at_peak(settings, trial.reference_peak_db);
    let linear = (trial.linear_start)();
    let mut starts = Starts {
        list: Vec::new(),
        slopes: slopes.len(),
        ceiling: ceiling.is_some(),
        linear: !linear.is_empty(),
    };
    let linear_detectors = linear.into_iter().flat_map(|s| {
        let other = other_detector(&s);
        [Some(s), other].into_iter().flatten()
    });
    let kinds = slopes
        .into_iter()
        .map(|s| (Start::Slope, s))
        .chain(ceiling.map(|s| (Start::Ceiling, s)))
        .chain(linear_detectors.map(|s| (Start::Linear, s)));
    // A start equal to the first one, or to one before it, would polish to the same end,
    // and after the pause it could take the place of another start going on.
    for (kind, start) in kinds {
        if start != *settings && !starts.list.iter().any(|(_, s)| *s == start) {
            starts.list.push((kind, start));
        }
    }
    starts
}

/// What a start of the trial changes in the chain the stages fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
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
/// Each whole run comes with its start's kind, in the starts' order.
pub(super) fn trial_descents(
    problem: &Residual,
    starts: &[(Start, ChainSettings)],
    first: &Descending<'_>,
) -> Vec<(Start, Descent)> {
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
        .zip(starts)
        .filter(|(run, _)| run.stopped)
        .map(|(run, (kind, _))| (*kind, run.end(problem)))
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
pub(super) const TRIAL_PAUSE_ITERATIONS: usize = 3;
pub(super) const TRIAL_GOING_ON_BESIDE: usize = 1;

/// Below this waveform SNR on the check excerpt, dB, the polish also tries the cuts' other
/// slopes. The slope is a choice the polish cannot slide along, and the spectra that chose it
/// see little of a cut below the material's lowest notes: a 25 Hz cut at 24 dB/oct under a
/// low-shelf boost is matched in magnitude by a resonant 12 dB/oct cut at 40 Hz, whose phase
/// leaves the waveform at 22–24 dB (recorded drums through Beatbox Sub; 33–36 dB with the
/// right slope). Above it the match is close enough that two more polishes are not worth
/// their time (each is about as long as the first).
pub const SLOPES_TRIED_BELOW_DB: f64 = 30.0;

/// `settings` with one cut one slope steeper or gentler ([`ranges::CUT_SLOPES_DB_PER_OCT`]),
/// each way each cut can go, the cut's Q back to Butterworth's (a resonance chosen to make up
/// for one slope is no start for another).
pub(super) fn slope_neighbours(settings: &ChainSettings) -> Vec<ChainSettings> {
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
pub(super) fn ceiling_at_peak(
    settings: &ChainSettings,
    reference_peak_db: f32,
) -> Option<ChainSettings> {
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
pub(super) fn other_detector(settings: &ChainSettings) -> Option<ChainSettings> {
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
