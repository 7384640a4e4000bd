//! Stage 6, paired only: the whole chain polished against the reference's waveform. The
//! stages before it fit the EQ to spectra and the compressor to a block gain trace, each with
//! the other held still; what they leave is close but not the same processing (on recorded
//! drums and voice through the factory presets, where the answer is representable, a third
//! of the cases stayed between 2 and 23 dB of waveform SNR). Here every
//! continuous setting moves at once to bring the chain's output onto the reference sample for
//! sample: Levenberg–Marquardt on the waveform residual over excerpts of the takes, the
//! Jacobian by forward differences through the real chain ([`Warmed::render_joined`]), its
//! columns on both cores. Files: [`descent`] (one run of it), [`trial`] (the other starts tried
//! where the first result falls short).
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
//!
//! [`ceiling_at_peak`]: trial::ceiling_at_peak

mod descent;
#[cfg(test)]
mod tests;
mod trial;

use super::align::Takes;
use super::excerpts::{Fronts, Loudest, Warmed, excerpt_segments, gather};
use super::{lsq, metrics, on_two_cores};
use crate::dsp::ChainSettings;
use descent::descend;
use std::sync::OnceLock;
pub use trial::{SLOPES_TRIED_BELOW_DB, Start, Trial};
use trial::{Starts, trial_descents};

/// Audio the residual covers, seconds, in this many segments spread over the takes.
pub const POLISH_EXCERPT: (f64, usize) = (4.0, 4);
/// The stretches that check the result: the whole take up to 20 s, else 10 stretches
/// spread over it (a limiter that acts on a few peaks must be judged where they are).
const CHECK_EXCERPT: (f64, usize) = (20.0, 10);

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
    /// How many other cut slopes were polished too ([`trial::slope_neighbours`]).
    pub slopes_tried: usize,
    /// Whether the chain was polished with the ceiling at the reference's peak level too
    /// ([`trial::ceiling_at_peak`]).
    pub ceiling_tried: bool,
    /// Whether the chain fitted to the linear response was polished too ([`Trial`]).
    pub linear_tried: bool,
    /// Where the chosen polish started: `None` for the chain the stages fitted, else the
    /// trial's start it came from.
    pub start: Option<Start>,
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

/// The least residual energy [`Residual::best_gain`] counts, as a share of the reference's: an
/// output closer than that (the same chain, to f32's rounding) reads 120 dB.
const RESIDUAL_FLOOR: f64 = 1e-12;

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
        (
            20.0 * (yr / yy).log10(),
            self.floored_snr_db(rr - explained),
        )
    }

    /// The highest waveform SNR [`Residual::best_gain`] reads, dB: that of an output that leaves
    /// no residual, floored at [`RESIDUAL_FLOOR`] (the same bits as `best_gain` there).
    fn top_snr_db(&self) -> f64 {
        self.floored_snr_db(0.0)
    }

    /// The waveform SNR of a residual whose energy is `residual`, dB, the residual counted at
    /// no less than [`RESIDUAL_FLOOR`] of the reference's energy.
    fn floored_snr_db(&self, residual: f64) -> f64 {
        let rr = self.energy;
        10.0 * (rr / residual.max(rr * RESIDUAL_FLOOR)).log10()
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
/// Not where the check reads the settings at its top SNR already ([`Residual::top_snr_db`]):
/// no polish could read higher, and none would be kept.
///
/// [`slope_neighbours`]: trial::slope_neighbours
/// [`ceiling_at_peak`]: trial::ceiling_at_peak
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
    let mut tried = vec![(check.judge(&first.settings), None, first)];
    let judged = &tried[0].0;
    // Where the check reads the fitted chain at its top SNR (Flat: the source is the
    // reference), no polish can read higher and be kept: the trial would only spend time.
    let short = !judged.better_than(&before) || judged.snr_db < SLOPES_TRIED_BELOW_DB;
    let starts = if short && before.snr_db < check.top_snr_db() {
        let starts = trial::starts(&settings, trial);
        let others = trial_descents(&problem, &starts.list, &first_run);
        let judged = on_two_cores(&others, |(_, other)| check.judge(&other.settings));
        tried.extend(
            judged
                .into_iter()
                .zip(others)
                .map(|(judged, (kind, other))| (judged, Some(kind), other)),
        );
        starts
    } else {
        Starts::default()
    };
    let snr_before_db = tried[0].2.snr_before_db;
    // The closest waveform of those the check keeps; the first polish reports when none is.
    let kept = (0..tried.len())
        .filter(|&i| tried[i].0.better_than(&before))
        .max_by(|&a, &b| tried[a].0.snr_db.total_cmp(&tried[b].0.snr_db));
    let (after, start, chosen) = tried.swap_remove(kept.unwrap_or(0));
    let polish = Polish {
        snr_before_db,
        snr_after_db: chosen.snr_after_db,
        check_before_db: before.snr_db,
        check_after_db: after.snr_db,
        iterations: chosen.iterations,
        slopes_tried: starts.slopes,
        ceiling_tried: starts.ceiling,
        linear_tried: starts.linear,
        start,
        kept: kept.is_some(),
    };
    let result = if kept.is_some() {
        chosen.settings
    } else {
        settings
    };
    (result, Some(polish))
}

/// the reference exactly.
pub fn applies(amount: f64) -> bool {
    amount >= 1.0
}
