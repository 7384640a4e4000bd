//! Learn an EQ + compressor preset from a reference recording (issue 4; method in
//! research/matching.md §6). [`analyze`] runs the stages in order, one file each:
//!
//! 1. [`inputs`]: the options in range; each recording in the supported range, long enough and
//!    not silent; clipping and channel counts noted (a mono file beside a stereo one becomes
//!    dual mono).
//! 2. [`align`]: whether the source (the user's dry mic) is the same performance as the
//!    reference, and where (whitened cross-correlation); the aligned views ([`Takes`]).
//! 3. [`target`]: long-term spectra of both; the target EQ curve between them (or against a
//!    neutral spectrum without a source: low confidence).
//! 4. [`eq_stage`]: up to N bands fitted to the target with the DSP's own responses
//!    ([`eq_fit`]).
//! 5. [`comp_stage`]: the compressor on excerpts of the EQ'd source ([`comp_fit`]): from the
//!    gain trace when paired, from level statistics otherwise. Paired, the EQ is corrected for
//!    what the compressor does to the spectrum and the compressor refitted, in rounds; unpaired,
//!    the EQ once.
//! 6. [`polish`] (paired only): every continuous setting of the chain moved at once to bring
//!    its output onto the reference's waveform (Levenberg–Marquardt through the real chain on
//!    excerpts), kept when other stretches of the takes show a closer waveform without a
//!    worse spectrum or crest factor.
//! 7. [`level`]: the output gain that matches integrated loudness (BS.1770) on an excerpt, the
//!    compressor's last check (paired), and the safety ceiling.
//! 8. [`predict`]: the whole source through the final chain, its output gain moved to match
//!    the whole reference's loudness ([`level::whole_take_loudness`]), measured against the
//!    reference.
//!
//! The fits use the plugin's own model (`dsp`'s gain computer, attack/release and band
//! responses; `tests/one_model.rs`).
//!
//! Threads: the work is split in two where it has two independent parts (the two inputs'
//! checks, the alignment's two coarse searches, the two spectra, EQ seeds, the two detectors'
//! searches, the compressor check's second chain, the polish's Jacobian columns, normal
//! equations and its check beside its first descent, the prediction's spectrum beside its
//! other metrics), and the whole-file render runs the chain's two halves a block apart
//! ([`predict::Output::render`]). The whole files' loudness and levels are measured on a third
//! thread of the lowest priority while the fits run ([`spawn_behind`]), in the core time they
//! leave. Nothing depends on which finishes first: the same inputs give the same preset, byte
//! for byte.

// The fitters index parameter vectors, Jacobian columns and simplex points by dimension;
// iterator chains over zipped slices would hide which dimension is meant.
#![allow(clippy::needless_range_loop)]

pub mod align;
pub mod comp_fit;
pub mod comp_stage;
mod cores;
pub mod eq_fit;
pub mod eq_stage;
pub mod excerpts;
pub mod inputs;
pub mod level;
pub mod loudness;
pub mod lsq;
pub mod metrics;
mod phase;
pub mod polish;
pub mod predict;
pub mod spectrum;
pub mod target;
pub mod timings;

pub use align::{Alignment, Takes};
pub use excerpts::render;
pub use inputs::{AnalysisError, AnalysisWarning, MIN_DURATION_S, clipped_runs};
pub use level::{CeilingFit, fit_ceiling};
pub use predict::Prediction;
pub use target::{MAX_BOOST_DB, MAX_BOOST_LOW_CONFIDENCE_DB, MAX_CUT_DB, neutral_source_db};

pub(crate) use cores::on_two_cores;
use cores::spawn_behind;

use crate::audio_io::Audio;
use crate::dsp::{CeilingSettings, ChainSettings, NUM_BANDS};
use comp_fit::CompFit;
use comp_stage::CompressorStage;
use eq_fit::{EqFit, FitTarget};
use eq_stage::EqRefit;
use metrics::SignalMetrics;
use timings::{Stopwatch, Timings};

/// Compressor fit and EQ refit alternate this many times when the source is the same
/// performance (the second round corrects the EQ for what the compressor does to the
/// spectrum, and the compressor for the corrected EQ).
pub const PAIRED_ROUNDS: usize = 3;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyzeOptions {
    /// Most EQ bands to use, 1…[`NUM_BANDS`].
    pub bands: usize,
    /// How much of the learned processing to apply, 0…1: scales the EQ curve and sets the
    /// compressor's dry/wet mix.
    pub amount: f64,
    /// Fit a compressor (otherwise EQ and gain only).
    pub compressor: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            bands: NUM_BANDS,
            amount: 1.0,
            compressor: true,
        }
    }
}

/// Everything the analysis found: the settings, and what the report and summary show.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub settings: ChainSettings,
    pub options: AnalyzeOptions,
    /// Alignment with the source, when one was given at the same rate.
    pub alignment: Option<Alignment>,
    /// Whether the source is the same performance (compressor from the gain trace).
    pub paired: bool,
    /// No source: the EQ is a guess against a neutral spectrum.
    pub low_confidence: bool,
    /// Frequencies of the curves below, Hz.
    pub grid_hz: Vec<f64>,
    /// Smoothed LTAS of the reference and of the source (or the neutral prior), dB/Hz.
    pub reference_db: Vec<f64>,
    pub source_db: Vec<f64>,
    /// The target EQ curve and the weight of each point.
    pub target: FitTarget,
    pub eq_fit: EqFit,
    pub comp_fit: Option<CompFit>,
    pub reference_metrics: SignalMetrics,
    pub source_metrics: Option<SignalMetrics>,
    /// The source through the preset (on the analysed excerpts).
    pub predicted_metrics: Option<SignalMetrics>,
    pub prediction: Option<Prediction>,
    /// Paired: what the waveform polish did ([`polish`]).
    pub polish: Option<polish::Polish>,
    /// Active 50 ms levels (dB) of reference and source, for the report's histograms.
    pub reference_levels_db: Vec<f64>,
    pub source_levels_db: Vec<f64>,
    pub warnings: Vec<AnalysisWarning>,
    /// Where the time went, stage by stage (measured only: no result depends on it).
    pub timings: Timings,
}

/// Analyse `reference` (and optionally the user's `source`) into a preset's settings.
pub fn analyze(
    reference: &Audio,
    source: Option<&Audio>,
    options: &AnalyzeOptions,
) -> Result<Analysis, AnalysisError> {
    let mut watch = Stopwatch::start();
    let inputs::Inputs {
        reference_mid,
        source_mid,
        mut warnings,
    } = inputs::check(reference, source, options)?;
    // Different channel counts: the mono one becomes dual mono.
    let wide_reference = inputs::dual_mono_beside(reference, source);
    let wide_source = source.and_then(|s| inputs::dual_mono_beside(s, Some(reference)));
    let reference = wide_reference.as_ref().unwrap_or(reference);
    let source = wide_source.as_ref().or(source);
    watch.lap("input checks");
    let Some((source, source_mid)) = source.zip(source_mid) else {
        return Ok(analyze_without_source(
            reference,
            &reference_mid,
            options,
            warnings,
            watch,
        ));
    };
    let takes = Takes::pair(
        reference,
        source,
        &reference_mid,
        &source_mid,
        &mut warnings,
    );
    let grid_hz = spectrum::log_grid_hz(takes.src_fs.min(takes.ref_fs));
    watch.lap("lining up");
    // The whole files' loudness and level metrics are needed only at the end: measured on a
    // thread of the lowest priority while the fits run, in the core time they leave (at
    // times they use both cores, at times one).
    let ceiling = level::fit_ceiling(reference);
    let (whole, spectra, fitted) = std::thread::scope(|scope| {
        let whole = spawn_behind(scope, || WholeFiles::measure(&takes));
        let spectra = target::spectra(&takes, &grid_hz, options.amount);
        watch.lap("ceiling, spectra");
        let fitted = fit_chain(
            ceiling.settings,
            &takes,
            &spectra.target,
            eq_stage::Measure::Spectra,
            options,
        );
        watch.lap("EQ and compressor stages");
        (whole.join().expect("metrics do not panic"), spectra, fitted)
    });
    watch.lap("whole files' metrics (rest)");
    let as_paired = takes.clone();
    // Lined up again after the EQ: the whole files' figures are measured again on the new
    // overlap (a frame grid moved by a few samples moves the level statistics by hundredths
    // of a dB, and the prediction must read what `compare` reads on the same files).
    let (takes, whole) = match fitted.lag_samples {
        Some(lag) => {
            let takes = takes.realigned(lag);
            let whole = WholeFiles::measure(&takes);
            watch.lap("lining up again, metrics");
            (takes, whole)
        }
        None => (takes, whole),
    };
    let (polished, polish, linear_fits) = polish_stage(
        &takes,
        &as_paired,
        &grid_hz,
        &ceiling,
        fitted.settings,
        options,
    );
    watch.lap_with_inner("polish", linear_fits);
    let (leveled, mut output) = level_stage(&takes, polished, &whole, ceiling.peak_db);
    watch.lap("level stage");
    let (predicted, prediction) = output.measure(&takes, whole.reference, &whole.reference_ltas_db);
    watch.lap("prediction");
    Ok(Analysis {
        comp_fit: level::after_level(fitted.comp_fit, &leveled),
        settings: leveled.settings,
        options: *options,
        alignment: takes.alignment,
        paired: takes.paired,
        low_confidence: false,
        grid_hz,
        reference_db: spectra.reference_db,
        source_db: spectra.source_db,
        target: spectra.target,
        eq_fit: fitted.eq_fit,
        reference_metrics: whole.reference,
        source_metrics: Some(whole.source),
        predicted_metrics: Some(predicted),
        prediction: Some(prediction),
        polish,
        reference_levels_db: whole.reference_levels_db,
        source_levels_db: whole.source_levels_db,
        warnings,
        timings: watch.timings(),
    })
}

/// Stage 6, [`polish`]: at the full amount, the chain polished against the reference's
/// waveform. The trial's chains fitted to the reference chain's linear response are made only
/// where the first polish falls short: fitted afresh, on the takes as the pairing lined them
/// up (`as_paired`), the first round once ([`FirstRound`]) and the refits by spectra and by
/// the response on a core each. Also returns the time those fits took, where they were made
/// (no laps where they were not).
fn polish_stage(
    takes: &Takes<'_>,
    as_paired: &Takes<'_>,
    grid_hz: &[f64],
    ceiling: &level::CeilingFit,
    settings: ChainSettings,
    options: &AnalyzeOptions,
) -> (ChainSettings, Option<polish::Polish>, Timings) {
    if !polish::applies(options.amount) {
        return (settings, None, Timings::default());
    }
    let linear_fits = std::sync::OnceLock::new();
    let linear = || {
        let mut watch = Stopwatch::start();
        let target = target::linear_target(as_paired, grid_hz, options.amount);
        let first = FirstRound::fit(ceiling.settings, as_paired, &target, options);
        let finish = |first: FirstRound<'_>, measure| {
            first.finish(as_paired, &target, measure, options).settings
        };
        let chains = std::thread::scope(|scope| {
            let spectra_first = first.clone();
            let by_spectra = scope.spawn(|| finish(spectra_first, eq_stage::Measure::Spectra));
            let by_response = finish(first, eq_stage::Measure::LinearResponse);
            vec![by_response, by_spectra.join().expect("fits do not panic")]
        });
        watch.lap("fits to the linear response");
        let _ = linear_fits.set(watch.timings());
        chains
    };
    let trial = polish::Trial {
        reference_peak_db: ceiling.peak_db,
        linear_start: &linear,
    };
    let (settings, polish) = polish::polish(takes, settings, &trial);
    (
        settings,
        polish,
        linear_fits.into_inner().unwrap_or_default(),
    )
}

/// Stage 7, [`level`]: the output gain set by loudness (the compressor dropped where its last
/// check says so), the peaks capped at the reference's, the loudness brought onto the whole
/// reference's; with the output rendered on the way, which the prediction measures.
fn level_stage(
    takes: &Takes<'_>,
    settings: ChainSettings,
    whole: &WholeFiles,
    reference_peak_db: f32,
) -> (level::Leveled, predict::Output) {
    let output_level = level::OutputLevel::new(
        takes,
        whole.reference.loudness_lufs,
        whole.source.loudness_lufs,
    );
    let mut leveled = output_level.set(settings);
    let output = predict::Output::render(takes, &leveled.settings);
    let output = match output_level.cap_peaks(
        takes,
        &leveled.settings,
        &output,
        &whole.reference,
        reference_peak_db,
    ) {
        Some((capped, capped_output)) => {
            leveled.settings = capped;
            capped_output
        }
        None => output,
    };
    let (settings, output) = level::whole_take_loudness(
        takes,
        leveled.settings,
        output,
        whole.reference.loudness_lufs,
    );
    leveled.settings = settings;
    (leveled, output)
}

/// The whole (aligned) files' metrics, the level histograms of the report, and the
/// reference's long-term spectrum that the prediction compares with.
struct WholeFiles {
    reference: SignalMetrics,
    source: SignalMetrics,
    reference_levels_db: Vec<f64>,
    source_levels_db: Vec<f64>,
    reference_ltas_db: Vec<f64>,
}

impl WholeFiles {
    fn measure(takes: &Takes<'_>) -> Self {
        let measure = |channels: &[&[f32]], mid: &[f32], fs: f64| {
            let levels_db = metrics::active_levels_db(mid, fs);
            (
                SignalMetrics::with_levels(channels, mid, &levels_db, fs),
                levels_db,
            )
        };
        let (reference, reference_levels_db) =
            measure(&takes.ref_channels, takes.ref_mid, takes.ref_fs);
        let (source, source_levels_db) = measure(&takes.src_channels, takes.src_mid, takes.src_fs);
        Self {
            reference,
            source,
            reference_levels_db,
            source_levels_db,
            reference_ltas_db: metrics::ltas_levels_db(takes.ref_mid, predict::ltas_rate(takes)),
        }
    }
}

/// What the EQ and compressor stages leave for the level stage and the result.
struct Fitted {
    /// The lag the takes were lined up at again after the EQ, when it moved.
    lag_samples: Option<i64>,
    eq_fit: EqFit,
    comp_fit: Option<CompFit>,
    /// The chain so far: EQ, input gain, compressor and ceiling; output gain still 0.
    settings: ChainSettings,
}

/// Stages 4 and 5: the EQ fitted to `target` (the spectra's, [`target::spectra`], or paired
/// the linear response's, [`target::linear_target`]), then (unless `options` say not) the
/// compressor, and when paired further rounds that correct each for the other (the EQ by what
/// `measure` compares); the chain runs with `ceiling`.
fn fit_chain(
    ceiling: CeilingSettings,
    takes: &Takes<'_>,
    target: &FitTarget,
    measure: eq_stage::Measure,
    options: &AnalyzeOptions,
) -> Fitted {
    FirstRound::fit(ceiling, takes, target, options).finish(takes, target, measure, options)
}

/// [`fit_chain`] up to its first EQ refit: the EQ, the takes lined up again after it, the
/// first compressor fit. None of it depends on what the refits measure, so the polish's trial
/// fits it once for both of its chains fitted to the linear response ([`polish_stage`]).
#[derive(Clone)]
struct FirstRound<'a> {
    /// The takes as the EQ leaves them, when it moved them.
    realigned: Option<Takes<'a>>,
    limits: eq_fit::FitLimits,
    eq_fit: EqFit,
    settings: ChainSettings,
    compressor: CompressorStage,
    comp_fit: Option<CompFit>,
}

impl<'a> FirstRound<'a> {
    fn fit(
        ceiling: CeilingSettings,
        takes: &Takes<'a>,
        target: &FitTarget,
        options: &AnalyzeOptions,
    ) -> Self {
        let limits = eq_stage::limits(takes);
        let eq_fit = eq_stage::fit(target, takes, options.bands, &limits);
        let mut settings = eq_stage::with_eq_fit(&ChainSettings::default(), &eq_fit);
        settings.compressor.enabled = false;
        settings.ceiling = ceiling;
        // Paired, the compressor and the waveform comparisons need the takes lined up as the
        // EQ leaves them (a band-pass's group delay is the EQ's, not the takes' offset).
        let realigned = eq_stage::realign(takes, &settings);
        let lined_up = realigned.as_ref().unwrap_or(takes);
        let mut compressor = CompressorStage::new(lined_up);
        let comp_fit = options
            .compressor
            .then(|| compressor.fit(lined_up, &mut settings, None, options.amount));
        Self {
            realigned,
            limits,
            eq_fit,
            settings,
            compressor,
            comp_fit,
        }
    }

    /// The rounds from the first refit on, the EQ refitted by what `measure` compares; `takes`
    /// as [`FirstRound::fit`] had them.
    fn finish(
        self,
        takes: &Takes<'a>,
        target: &FitTarget,
        measure: eq_stage::Measure,
        options: &AnalyzeOptions,
    ) -> Fitted {
        let Self {
            realigned,
            limits,
            mut eq_fit,
            mut settings,
            mut compressor,
            mut comp_fit,
        } = self;
        let takes = realigned.as_ref().unwrap_or(takes);
        let mut refit = EqRefit::new(takes, limits, options.bands, options.amount, measure);
        let rounds = if takes.paired { PAIRED_ROUNDS } else { 1 };
        for round in 0..rounds {
            // Round 0's compressor fit is the first round's.
            if round > 0 && options.compressor {
                let fit = compressor.fit(takes, &mut settings, comp_fit.as_ref(), options.amount);
                comp_fit = Some(fit);
            }
            // Unpaired, the compressor's own effect on the spectrum is what is left to undo.
            if !settings.compressor.enabled && (round + 1 == rounds || !takes.paired) {
                break;
            }
            eq_fit = refit.refit(&eq_fit, target, &settings, round + 1 == rounds);
            settings = eq_stage::with_eq_fit(&settings, &eq_fit);
        }
        Fitted {
            lag_samples: realigned.map(|t| t.alignment.map_or(0, |a| a.lag_samples)),
            eq_fit,
            comp_fit,
            settings,
        }
    }
}

/// No source: EQ against the neutral spectrum, no compressor estimate (nothing to compare
/// dynamics with), gain left at 0 dB.
fn analyze_without_source(
    reference: &Audio,
    ref_mid: &[f32],
    options: &AnalyzeOptions,
    warnings: Vec<AnalysisWarning>,
    mut watch: Stopwatch,
) -> Analysis {
    let fs = reference.sample_rate as f64;
    let grid_hz = spectrum::log_grid_hz(fs);
    let spectra = target::spectra_without_source(ref_mid, fs, &grid_hz, options.amount);
    watch.lap("spectra");
    let limits = eq_fit::FitLimits {
        max_gain_db: MAX_BOOST_LOW_CONFIDENCE_DB,
        max_bell_q: eq_stage::MAX_BELL_Q_UNPAIRED,
        top_hz: spectrum::TOP_FREQ_RATIO * fs,
    };
    let cuts = eq_stage::Cuts::Choose(None);
    let eq_fit = eq_stage::fit_bands(&spectra.target, options.bands, &limits, cuts, fs);
    let mut settings = eq_stage::with_bands(&ChainSettings::default(), &eq_fit.bands);
    settings.compressor.enabled = false;
    settings.ceiling = fit_ceiling(reference).settings;
    watch.lap("EQ stage, ceiling");
    let refs = inputs::refs(reference);
    let reference_metrics = SignalMetrics::measure(&refs, fs);
    let reference_levels_db = metrics::active_levels_db(ref_mid, fs);
    watch.lap("the reference's metrics");
    Analysis {
        settings: settings.clamped(),
        options: *options,
        alignment: None,
        paired: false,
        low_confidence: true,
        grid_hz,
        reference_db: spectra.reference_db,
        source_db: spectra.source_db,
        target: spectra.target,
        eq_fit,
        comp_fit: None,
        reference_metrics,
        source_metrics: None,
        predicted_metrics: None,
        prediction: None,
        polish: None,
        reference_levels_db,
        source_levels_db: Vec::new(),
        warnings,
        timings: watch.timings(),
    }
}

/// Deterministic white noise in ±1 for the analysis tests.
#[cfg(test)]
pub(crate) fn test_noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 32) as f64 / (1u64 << 31) as f64 - 1.0) as f32
        })
        .collect()
}

/// [`test_noise`] in bursts of 4,800 samples (100 ms at 48 kHz), one at 0.05 of full scale
/// then two at 0.6: a compressor acts on the loud ones and lets the quiet ones through.
#[cfg(test)]
pub(crate) fn test_bursts(len: usize) -> Vec<f32> {
    test_noise(len, 5)
        .iter()
        .enumerate()
        .map(|(n, v)| v * if (n / 4_800) % 3 == 0 { 0.05 } else { 0.6 })
        .collect()
}
