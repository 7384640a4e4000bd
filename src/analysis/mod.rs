//! Learn an EQ + compressor preset from a reference recording (issue 4; method in
//! research/matching.md §6).
//!
//! 1. Check the inputs (supported range, length, silence, clipping, channels).
//! 2. If a source (the user's dry mic) is given, find out by a whitened cross-correlation
//!    whether it is the same performance as the reference, and where ([`align`]).
//! 3. Long-term spectra of both over active frames ([`spectrum`]); the target EQ curve is
//!    their difference with the level offset removed, unreliable regions masked, boosts capped.
//!    Without a source, the reference is compared with [`neutral_source_db`] (low confidence).
//! 4. Fit up to N bands to it with the DSP's own band responses ([`eq_fit`]).
//! 5. Identify the compressor on excerpts of the EQ'd source ([`comp_fit`]): from the gain
//!    trace when paired, from level statistics otherwise. When paired, refit the EQ to what
//!    the compressor leaves of the spectral difference.
//! 6. Set the output gain so integrated loudness (BS.1770) matches, render the excerpts with
//!    the real [`Chain`] and predict the metrics ([`metrics`]).
//!
//! Deterministic: no threads, no randomness, fixed iteration orders.

// The fitters index parameter vectors, Jacobian columns and simplex points by dimension;
// iterator chains over zipped slices would hide which dimension is meant.
#![allow(clippy::needless_range_loop)]

pub mod align;
pub mod comp_fit;
pub mod eq_fit;
pub mod loudness;
pub mod metrics;
mod phase;
pub mod report;
pub mod spectrum;

use crate::audio_io::Audio;
use crate::dsp::ranges::OUT_GAIN_DB;
use crate::dsp::{CeilingSettings, Chain, ChainSettings, EqBandSettings, NUM_BANDS};
use align::Alignment;
use comp_fit::CompFit;
use eq_fit::{EqFit, FitTarget};
use metrics::SignalMetrics;
use spectrum::PowerSpectrum;
use std::fmt;

/// Shortest usable recording, seconds.
pub const MIN_DURATION_S: f64 = 2.0;
/// Largest boost the EQ target may ask for, dB (a dry mic without energy somewhere cannot be
/// boosted into having it; Matchering has no cap, matching.md §1.5).
pub const MAX_BOOST_DB: f64 = 12.0;
/// Boost cap when there is no source recording and the target is a guess, dB.
pub const MAX_BOOST_LOW_CONFIDENCE_DB: f64 = 6.0;
/// Deepest cut the EQ target may ask for, dB.
pub const MAX_CUT_DB: f64 = -24.0;
/// Welch frames averaged at most per spectrum (strided evenly over the active frames): enough
/// for a smooth LTAS, and keeps a 3-minute file fast.
pub const MAX_WELCH_FRAMES: usize = 240;
/// A sample at or above this magnitude counts as clipped.
const CLIP_LEVEL: f32 = 0.999;
/// Runs of this many clipped samples in a row count as clipping (Matchering uses 8 samples).
const CLIP_RUN: usize = 3;
/// This many clipped runs trigger the warning.
const CLIP_RUNS_WARN: usize = 8;

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

/// Why the inputs cannot be analysed. One line each, naming the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("{what}: {seconds:.2} s long; at least {MIN_DURATION_S} s are needed")]
    TooShort { what: String, seconds: f64 },
    #[error("{what}: silent (nothing above {} dBFS)", metrics::SILENCE_DB)]
    Silent { what: String },
    #[error("--bands {0}: allowed 1 to {NUM_BANDS}")]
    Bands(usize),
    #[error("--amount {0}: allowed 0 to 1")]
    Amount(f64),
    /// Outside the supported input range ([`crate::audio_io`]): rate, channels, samples.
    #[error("{0}")]
    Unsupported(String),
}

/// Something the user should know; the result is still usable.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisWarning {
    /// The reference has runs of full-scale samples: its spectrum and dynamics include
    /// clipping distortion.
    ClippedReference { runs: usize },
    /// Reference and source have different channel counts; the mono one is analysed as dual
    /// mono (both channels the same).
    ChannelMismatch { reference: usize, source: usize },
    /// No source recording: the EQ targets the reference against a neutral spectrum.
    NoSource,
    /// Sample rates differ, so the two cannot be compared sample by sample (treated as
    /// different performances).
    RateMismatch { reference: u32, source: u32 },
}

impl fmt::Display for AnalysisWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisWarning::ClippedReference { runs } => write!(
                f,
                "reference is clipped ({runs} runs of full-scale samples); the match includes the distortion"
            ),
            AnalysisWarning::ChannelMismatch { reference, source } => write!(
                f,
                "reference has {reference} channel(s), source {source}; the mono one is analysed as dual mono, as two speakers play it"
            ),
            AnalysisWarning::NoSource => write!(
                f,
                "no --source: EQ targets a neutral voice spectrum; low confidence"
            ),
            AnalysisWarning::RateMismatch { reference, source } => write!(
                f,
                "reference at {reference} Hz, source at {source} Hz; matched as different performances"
            ),
        }
    }
}

/// Expected differences between the source through the preset and the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// 1/3-octave LTAS error (M1), RMS over 50 Hz–16 kHz, dB.
    pub ltas_error_db: f64,
    /// |ΔLUFS|, LU.
    pub loudness_error_lu: f64,
    /// |Δ(P95 − P10)| of 50 ms levels, dB.
    pub spread_error_db: f64,
    /// |Δ crest factor|, dB.
    pub crest_error_db: f64,
    /// Waveform SNR against the reference, dB (paired only).
    pub snr_db: Option<f64>,
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
    /// Active 50 ms levels (dB) of reference and source, for the report's histograms.
    pub reference_levels_db: Vec<f64>,
    pub source_levels_db: Vec<f64>,
    pub warnings: Vec<AnalysisWarning>,
}

/// Channel slices of an [`Audio`].
fn refs(audio: &Audio) -> Vec<&[f32]> {
    audio.channels.iter().map(Vec::as_slice).collect()
}

/// `audio` as dual mono when it is mono and `other` is stereo; `None` otherwise.
fn dual_mono_beside(audio: &Audio, other: Option<&Audio>) -> Option<Audio> {
    (audio.channels.len() == 1 && other?.channels.len() == 2).then(|| Audio {
        sample_rate: audio.sample_rate,
        channels: vec![audio.channels[0].clone(); 2],
    })
}

/// Length, silence and clipping checks of one input.
fn check_input(audio: &Audio, what: &str) -> Result<Vec<f32>, AnalysisError> {
    audio
        .check_supported(what)
        .map_err(|e| AnalysisError::Unsupported(e.to_string()))?;
    let seconds = audio.duration_s();
    if seconds < MIN_DURATION_S || audio.sample_rate == 0 {
        return Err(AnalysisError::TooShort {
            what: what.to_owned(),
            seconds,
        });
    }
    let mid = metrics::mid(&refs(audio));
    let levels = metrics::frame_levels_db(&mid, audio.sample_rate as f64, 0.05, 0.01);
    if levels.iter().all(|&l| l <= metrics::SILENCE_DB) {
        return Err(AnalysisError::Silent {
            what: what.to_owned(),
        });
    }
    Ok(mid)
}

/// Runs of at least [`CLIP_RUN`] samples at full scale, over all channels.
pub fn clipped_runs(audio: &Audio) -> usize {
    let mut runs = 0;
    for c in &audio.channels {
        let mut run = 0;
        for chunk in c.chunks(1024) {
            // Most audio never gets near full scale: skip such chunks with a fast maximum.
            if run == 0 && chunk.iter().fold(0.0f32, |m, v| m.max(v.abs())) < CLIP_LEVEL {
                continue;
            }
            for &v in chunk {
                if v.abs() >= CLIP_LEVEL {
                    run += 1;
                    if run == CLIP_RUN {
                        runs += 1;
                    }
                } else {
                    run = 0;
                }
            }
        }
    }
    runs
}

/// Separate peaks (more than 1 ms apart) within [`LIMITED_WITHIN_DB`] of the reference's
/// highest sample from which the reference counts as limited there: one natural peak gives
/// one such event (a kick's crest can hold 20 samples within 0.1 dB), a limiter dozens.
const LIMITED_MIN_PEAKS: usize = 8;
const LIMITED_WITHIN_DB: f32 = 0.1;

/// The safety ceiling that reproduces `reference`: at its peak level when its peaks pile up
/// against one level (a limiter or a ceiling made it), otherwise at 0 dBFS, out of the way of
/// anything the fit reproduces but still a guard on stage. A reference that goes above
/// 0 dBFS (a float file) was not limited within the ceiling's range: the ceiling is off.
pub fn fit_ceiling(reference: &Audio) -> CeilingSettings {
    // Chunk maxima first (a loop that vectorises); only chunks that reach the level are
    // looked at sample by sample.
    const CHUNK: usize = 1024;
    let chunk_peaks: Vec<Vec<f32>> = reference
        .channels
        .iter()
        .map(|c| {
            c.chunks(CHUNK)
                .map(|ch| ch.iter().fold(0.0f32, |m, v| m.max(v.abs())))
                .collect()
        })
        .collect();
    let peak = chunk_peaks.iter().flatten().fold(0.0f32, |m, &v| m.max(v));
    let peak_db = 20.0 * peak.max(1e-10).log10();
    let level = peak * 10f32.powf(-LIMITED_WITHIN_DB / 20.0);
    let gap = (reference.sample_rate as usize / 1000).max(1);
    let events = |(c, peaks): (&Vec<f32>, &Vec<f32>)| {
        let (mut count, mut last) = (0, None::<usize>);
        for (i, _) in peaks.iter().enumerate().filter(|&(_, &p)| p >= level) {
            for (n, v) in c.iter().enumerate().skip(i * CHUNK).take(CHUNK) {
                if v.abs() >= level {
                    if last.is_none_or(|l| n - l > gap) {
                        count += 1;
                    }
                    last = Some(n);
                }
            }
        }
        count
    };
    let limited = reference
        .channels
        .iter()
        .zip(&chunk_peaks)
        .map(events)
        .max()
        .unwrap_or(0)
        >= LIMITED_MIN_PEAKS;
    let range = crate::dsp::ranges::CEILING_DB;
    CeilingSettings {
        enabled: peak_db <= range.max,
        ceiling_db: if limited {
            range.clamp(peak_db)
        } else {
            range.max
        },
    }
}

/// The documented neutral spectrum used when there is no source recording, dB/Hz up to an
/// offset: flat 100–500 Hz, falling 12 dB/octave below 60 Hz (mic and voice have little
/// there), and 5 dB/octave above 500 Hz — the long-term average speech spectrum's slope
/// (Byrne et al., JASA 96(4), 1994 [mem]), which beatbox shares above the kick region.
pub fn neutral_source_db(freq_hz: f64) -> f64 {
    let mut db = 0.0;
    if freq_hz < 60.0 {
        db -= 12.0 * (60.0 / freq_hz).log2();
    }
    if freq_hz > 500.0 {
        db -= 5.0 * (freq_hz / 500.0).log2();
    }
    db
}

/// Welch frame starts of `x` (length `fft_len`, hop half a frame): the active frames (M0
/// gate), at most [`MAX_WELCH_FRAMES`], evenly strided; and all non-silent frames, strided the
/// same way, for the noise floor.
fn frame_starts(x: &[f32], fft_len: usize) -> (Vec<usize>, Vec<usize>) {
    let hop = fft_len / 2;
    let levels: Vec<f64> = metrics::window_energies(x, fft_len, hop)
        .into_iter()
        .map(|e| 10.0 * (e / fft_len as f64 + 1e-12).log10())
        .collect();
    let starts: Vec<usize> = (0..levels.len()).map(|i| i * hop).collect();
    let gate = metrics::activity_gate_db(&levels);
    let pick = |min_db: f64| -> Vec<usize> {
        let chosen: Vec<usize> = starts
            .iter()
            .zip(&levels)
            .filter(|(_, l)| **l > min_db)
            .map(|(s, _)| *s)
            .collect();
        stride(&chosen, MAX_WELCH_FRAMES)
    };
    (pick(gate), pick(-120.0))
}

/// At most `max` items of `v`, evenly spaced.
fn stride(v: &[usize], max: usize) -> Vec<usize> {
    if v.len() <= max {
        v.to_vec()
    } else {
        (0..max).map(|i| v[i * v.len() / max]).collect()
    }
}

/// Smoothed LTAS of `x` on `grid_hz` over the frames at `starts`.
fn ltas_db(
    x: &[f32],
    sample_rate: f64,
    starts: &[usize],
    grid_hz: &[f64],
    width_octaves: fn(f64) -> f64,
) -> Vec<f64> {
    let spectrum: PowerSpectrum =
        spectrum::welch_power(x, sample_rate, spectrum::fft_len_for(sample_rate), starts);
    spectrum::smoothed_db(&spectrum, grid_hz, width_octaves)
}

/// Compressor fit and EQ refit alternate this many times when the source is the same
/// performance (the second round corrects the EQ for what the compressor does to the
/// spectrum, and the compressor for the corrected EQ).
pub const PAIRED_ROUNDS: usize = 3;

/// The paired EQ correction compares spectra on this much of the source, in this many
/// segments.
pub const SPECTRUM_EXCERPT: (f64, usize) = (20.0, 4);

/// Unpaired loudness is measured on this much of the source, in this many segments: more than
/// the compressor fit needs, because integrated loudness depends on the whole level
/// distribution.
pub const LOUDNESS_EXCERPT: (f64, usize) = (30.0, 6);

/// Levenberg–Marquardt steps on the exact digital band responses after the search on the
/// analog prototypes (they differ by hundredths of a dB below fs/4, so a few steps settle it).
pub const EXACT_ITERATIONS: usize = 8;
/// Levenberg–Marquardt steps that move the bands to a corrected target between paired rounds.
const WARM_ITERATIONS: usize = 30;
/// Waveform SNR by which the chain without its compressor must beat the chain with it for the
/// compressor to be dropped, dB.
const COMPRESSOR_MIN_SNR_GAIN_DB: f64 = 1.0;

/// Most a bell's Q may be when the two recordings are different performances: the
/// difference of their spectra is content as much as EQ, and narrow bands would chase it.
pub const MAX_BELL_Q_UNPAIRED: f64 = 2.5;

/// Reliability of each grid point from a spectrum and its noise floor: 0 at ≤ 6 dB above the
/// floor, 1 at ≥ 18 dB (matching.md §6.1(a)4).
fn reliability(signal_db: &[f64], floor_db: &[f64]) -> Vec<f64> {
    signal_db
        .iter()
        .zip(floor_db)
        .map(|(s, n)| ((s - n - 6.0) / 12.0).clamp(0.0, 1.0))
        .collect()
}

/// Perceptual weight of a grid point: equal per octave, tapered to 0.3 below 40 Hz and
/// above 14 kHz, where hearing and playback care less (matching.md §6.1(d)).
fn perceptual_weight(freq_hz: f64) -> f64 {
    if !(40.0..=14_000.0).contains(&freq_hz) {
        0.3
    } else {
        1.0
    }
}

/// Target = reference − source with the weighted mean over 100 Hz–8 kHz removed, clamped to
/// [`MAX_CUT_DB`]…`max_boost_db`, times `amount`.
fn target_curve(
    grid_hz: &[f64],
    reference_db: &[f64],
    source_db: &[f64],
    weights: &[f64],
    max_boost_db: f64,
    amount: f64,
) -> Vec<f64> {
    let diff: Vec<f64> = reference_db
        .iter()
        .zip(source_db)
        .map(|(r, s)| r - s)
        .collect();
    let (mut sum, mut total) = (0.0, 0.0);
    for ((f, d), w) in grid_hz.iter().zip(&diff).zip(weights) {
        if (100.0..=8000.0).contains(f) {
            sum += w * d;
            total += w;
        }
    }
    let offset = if total > 0.0 { sum / total } else { 0.0 };
    diff.iter()
        .map(|d| (d - offset).clamp(MAX_CUT_DB, max_boost_db) * amount)
        .collect()
}

/// The EQ fit's target on `grid_hz`: [`target_curve`] with its weights.
fn fit_target(
    grid_hz: &[f64],
    reference_db: &[f64],
    source_db: &[f64],
    weights: Vec<f64>,
    max_boost_db: f64,
    amount: f64,
) -> FitTarget {
    FitTarget {
        target_db: target_curve(
            grid_hz,
            reference_db,
            source_db,
            &weights,
            max_boost_db,
            amount,
        ),
        freqs_hz: grid_hz.to_vec(),
        weights,
    }
}

/// Render `channels` (1 or 2) through `settings` with the real chain, state from rest.
pub fn render(settings: &ChainSettings, channels: &[Vec<f32>], sample_rate: f64) -> Vec<Vec<f32>> {
    let mut out = channels.to_vec();
    let mut chain = Chain::new(settings, sample_rate as f32);
    let mut slices: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    chain.process(&mut slices);
    out
}

/// The cross spectrum of the paired takes on [`comp_fit::PAIRED_EXCERPT`] of both.
fn paired_cross_spectrum(
    source: &[f32],
    reference: &[f32],
    sample_rate: f64,
) -> phase::CrossSpectrum {
    let mut cross = phase::CrossSpectrum::new(spectrum::fft_len_for(sample_rate));
    let segments = comp_fit::excerpt_segments(source.len(), sample_rate, comp_fit::PAIRED_EXCERPT);
    for (start, len) in segments {
        let end = (start + len).min(source.len()).min(reference.len());
        cross.add(&source[start..end], &reference[start..end]);
    }
    cross
}

/// `base` with `bands` in its EQ (the rest off).
fn with_bands(base: &ChainSettings, bands: &[EqBandSettings]) -> ChainSettings {
    let mut s = base.clone();
    s.eq.bands = [EqBandSettings::default(); NUM_BANDS];
    for (dst, b) in s.eq.bands.iter_mut().zip(bands) {
        *dst = *b;
    }
    s
}

/// `base` with the fitted bands, and the fit's level as input gain: the fit's level is free,
/// and the input gain puts the EQ'd source where the target has it, so the compressor sees
/// the level it will see.
fn with_eq_fit(base: &ChainSettings, fit: &EqFit) -> ChainSettings {
    let mut s = with_bands(base, &fit.bands);
    s.input_gain_db = crate::dsp::ranges::IN_GAIN_DB.clamp(fit.offset_db as f32);
    s
}

/// Analyse `reference` (and optionally the user's `source`) into a preset's settings.
pub fn analyze(
    reference: &Audio,
    source: Option<&Audio>,
    options: &AnalyzeOptions,
) -> Result<Analysis, AnalysisError> {
    if options.bands == 0 || options.bands > NUM_BANDS {
        return Err(AnalysisError::Bands(options.bands));
    }
    if !(0.0..=1.0).contains(&options.amount) {
        return Err(AnalysisError::Amount(options.amount));
    }
    // Different channel counts: the mono one becomes dual mono, as a player plays it on two
    // speakers, so both sides have the same channels and loudness compares like with like.
    let channel_mismatch = source
        .map(|s| (reference.channels.len(), s.channels.len()))
        .filter(|(r, s)| r != s);
    let wide_reference = dual_mono_beside(reference, source);
    let wide_source = source.and_then(|s| dual_mono_beside(s, Some(reference)));
    let reference = wide_reference.as_ref().unwrap_or(reference);
    let source = wide_source.as_ref().or(source);
    // The two files are checked side by side, one per core.
    let (ref_mid, src_mid) = std::thread::scope(|scope| {
        let src_mid = scope.spawn(|| source.map(|s| check_input(s, "source")).transpose());
        let ref_mid = check_input(reference, "reference");
        (ref_mid, src_mid.join().expect("checks do not panic"))
    });
    let (ref_mid, src_mid) = (ref_mid?, src_mid?);
    let ref_fs = reference.sample_rate as f64;
    let mut warnings = Vec::new();
    let runs = clipped_runs(reference);
    if runs >= CLIP_RUNS_WARN {
        warnings.push(AnalysisWarning::ClippedReference { runs });
    }
    let Some((source, src_mid)) = source.zip(src_mid) else {
        warnings.push(AnalysisWarning::NoSource);
        return Ok(analyze_without_source(
            reference, &ref_mid, options, warnings,
        ));
    };
    let src_fs = source.sample_rate as f64;
    if let Some((reference, source)) = channel_mismatch {
        warnings.push(AnalysisWarning::ChannelMismatch { reference, source });
    }
    let alignment = if source.sample_rate == reference.sample_rate {
        Some(align::align(&ref_mid, &src_mid, ref_fs))
    } else {
        warnings.push(AnalysisWarning::RateMismatch {
            reference: reference.sample_rate,
            source: source.sample_rate,
        });
        None
    };
    // Paired also needs an overlap long enough to analyse.
    let overlap = |a: &Alignment| {
        let start = a.lag_samples.max(0);
        let end = (reference.frames() as i64).min(source.frames() as i64 + a.lag_samples);
        end - start
    };
    let paired =
        alignment.is_some_and(|a| a.is_paired() && overlap(&a) as f64 >= MIN_DURATION_S * ref_fs);
    let grid_hz = spectrum::log_grid_hz(src_fs.min(ref_fs));

    // Aligned views: when paired, both cover exactly the overlap (no copies).
    let (ref_range, src_range) = match alignment {
        Some(a) if paired => {
            let lag = a.lag_samples;
            let start = lag.max(0) as usize;
            let end = (reference.frames() as i64).min(source.frames() as i64 + lag) as usize;
            let shift = |n: usize| (n as i64 - lag) as usize;
            (start..end, shift(start)..shift(end))
        }
        _ => (0..reference.frames(), 0..source.frames()),
    };
    let ref_refs: Vec<&[f32]> = reference
        .channels
        .iter()
        .map(|c| &c[ref_range.clone()])
        .collect();
    let src_refs: Vec<&[f32]> = source
        .channels
        .iter()
        .map(|c| &c[src_range.clone()])
        .collect();
    let (ref_mid, src_mid) = (&ref_mid[ref_range], &src_mid[src_range]);
    let takes = Takes {
        ref_channels: &ref_refs,
        src_channels: &src_refs,
        ref_mid,
        src_mid,
        ref_fs,
        src_fs,
    };
    // The whole files' loudness and level metrics are needed only at the end: measured on a
    // core of their own while the fits run (they mostly use one).
    let ((reference_metrics, source_metrics), (reference_levels_db, source_levels_db), fitted) =
        std::thread::scope(|scope| {
            let whole = scope.spawn(|| {
                let metrics = |refs: &[&[f32]], mid: &[f32], fs: f64| {
                    let lufs =
                        loudness::integrated_loudness(refs, fs).unwrap_or(metrics::SILENCE_DB);
                    SignalMetrics::from_mid(lufs, mid, fs)
                };
                (
                    (
                        metrics(&ref_refs, ref_mid, ref_fs),
                        metrics(&src_refs, src_mid, src_fs),
                    ),
                    // The level histograms of the report.
                    (
                        metrics::active_levels_db(ref_mid, ref_fs),
                        metrics::active_levels_db(src_mid, src_fs),
                    ),
                )
            });
            let fitted = fit_chain(reference, &takes, paired, &grid_hz, options);
            let (metrics, levels) = whole.join().expect("metrics do not panic");
            (metrics, levels, fitted)
        });
    let Fitted {
        reference_db,
        source_db,
        target,
        eq_fit,
        mut comp_fit,
        settings,
        src_segments,
        ref_segments,
    } = fitted;
    // Loudness: output gain so the source through the chain reads the reference's LUFS.
    // Paired: on the excerpts, against the same excerpts of the reference (exact). Unpaired:
    // on up to [`LOUDNESS_EXCERPT`] of the source, offset by how that excerpt's loudness
    // differs from the whole source's, against the whole reference.
    let (ref_lufs, src_lufs) = (
        reference_metrics.loudness_lufs,
        source_metrics.loudness_lufs,
    );
    let (loudness_segments, goal_lufs) = if paired {
        (src_segments, segments_loudness(&ref_segments, ref_fs))
    } else {
        let segments = comp_fit::excerpt_segments(src_mid.len(), src_fs, LOUDNESS_EXCERPT);
        (comp_fit::gather(&src_refs, &segments), ref_lufs)
    };
    let correction = if paired {
        0.0
    } else {
        src_lufs - segments_loudness(&loudness_segments, src_fs)
    };
    let render_all = |s: &ChainSettings| -> Vec<Vec<Vec<f32>>> {
        loudness_segments
            .iter()
            .map(|seg| render(s, seg, src_fs))
            .collect()
    };
    // The output gain is linear up to the ceiling: one render without the ceiling gives the
    // gain; one with it checks (and corrects for) what the ceiling takes off.
    let with_output_gain = |mut settings: ChainSettings| {
        let mut open = settings.clone();
        open.ceiling.enabled = false;
        open.output_gain_db = 0.0;
        let open_lufs = segments_loudness(&render_all(&open), src_fs) + correction;
        settings.output_gain_db = OUT_GAIN_DB.clamp((goal_lufs - open_lufs) as f32);
        let mut rendered = render_all(&settings);
        let change = goal_lufs - (segments_loudness(&rendered, src_fs) + correction);
        if change.abs() > 0.02 {
            settings.output_gain_db = OUT_GAIN_DB.clamp(settings.output_gain_db + change as f32);
            rendered = render_all(&settings);
        }
        (settings, rendered)
    };
    // Paired, a last check that the compressor earns its place: the same chain without it
    // must not match the reference's waveform clearly better (a fit that ran off into a
    // corner, say a threshold under the whole take with make-up beyond the output gain's
    // range, loses here; where neither matches the waveform, the spectra and levels the
    // compressor does match decide). The two chains are set up side by side.
    let check = paired && settings.compressor.enabled;
    let mut plain = settings.clone();
    plain.compressor.enabled = false;
    let ((mut settings, mut rendered), plain) = std::thread::scope(|scope| {
        let plain = check.then(|| scope.spawn(|| with_output_gain(plain)));
        let chosen = with_output_gain(settings);
        (
            chosen,
            plain.map(|p| p.join().expect("rendering does not panic")),
        )
    });
    if let Some((plain, plain_rendered)) = plain {
        let ref_mid_x = concat_mid(&ref_segments);
        let snr = |r: &[Vec<Vec<f32>>]| metrics::snr_db(&concat_mid(r), &ref_mid_x);
        if snr(&plain_rendered) > snr(&rendered) + COMPRESSOR_MIN_SNR_GAIN_DB {
            (settings, rendered) = (plain, plain_rendered);
            comp_fit = comp_fit.map(|c| CompFit { model: None, ..c });
        }
    }
    let settings = settings.clamped();

    // Predictions on the excerpts: against the same excerpts of the reference when paired,
    // against the whole reference otherwise.
    let out_concat = concat_channels(&rendered);
    let out_refs: Vec<&[f32]> = out_concat.iter().map(Vec::as_slice).collect();
    let mut predicted = SignalMetrics::measure(&out_refs, src_fs);
    predicted.loudness_lufs += correction;
    let (compare_metrics, ltas_error, snr) = if paired {
        let ref_concat = concat_channels(&ref_segments);
        let rr: Vec<&[f32]> = ref_concat.iter().map(Vec::as_slice).collect();
        let m = SignalMetrics::measure(&rr, ref_fs);
        let (rm, om) = (metrics::mid(&rr), metrics::mid(&out_refs));
        let (ltas, _) = metrics::ltas_error_db(&om, &rm, ref_fs);
        (m, ltas, Some(metrics::snr_db(&om, &rm)))
    } else {
        let om = metrics::mid(&out_refs);
        let (ltas, _) = metrics::ltas_error_db(&om, ref_mid, src_fs.min(ref_fs));
        (reference_metrics, ltas, None)
    };
    let prediction = Prediction {
        ltas_error_db: ltas_error,
        loudness_error_lu: (predicted.loudness_lufs - compare_metrics.loudness_lufs).abs(),
        spread_error_db: (predicted.level_spread_db - compare_metrics.level_spread_db).abs(),
        crest_error_db: (predicted.crest_factor_db - compare_metrics.crest_factor_db).abs(),
        snr_db: snr,
    };
    Ok(Analysis {
        settings,
        options: *options,
        alignment,
        paired,
        low_confidence: false,
        grid_hz,
        reference_db,
        source_db,
        target,
        eq_fit,
        comp_fit,
        reference_metrics,
        source_metrics: Some(source_metrics),
        predicted_metrics: Some(predicted),
        prediction: Some(prediction),
        reference_levels_db,
        source_levels_db,
        warnings,
    })
}

/// The two recordings as the fits see them: channels and mid, aligned (when paired, both
/// cover exactly their overlap; no copies).
struct Takes<'a> {
    ref_channels: &'a [&'a [f32]],
    src_channels: &'a [&'a [f32]],
    ref_mid: &'a [f32],
    src_mid: &'a [f32],
    ref_fs: f64,
    src_fs: f64,
}

/// What the EQ and compressor fits leave for the loudness match and the predictions.
struct Fitted {
    reference_db: Vec<f64>,
    source_db: Vec<f64>,
    target: FitTarget,
    eq_fit: EqFit,
    comp_fit: Option<CompFit>,
    /// The chain so far: EQ, input gain, compressor and ceiling; output gain still 0.
    settings: ChainSettings,
    /// The excerpts of the source the compressor was fitted on, and the same of the reference.
    src_segments: Vec<Vec<Vec<f32>>>,
    ref_segments: Vec<Vec<Vec<f32>>>,
}

/// How the EQ search treats cuts.
enum Cuts<'a> {
    /// Choose them: by `score` where given (paired: the one whose phase matches), else by
    /// the magnitude.
    Choose(Option<&'a eq_fit::BandsScore<'a>>),
    /// Keep these (a choice already made) and fit the other bands around them.
    Keep(&'a [EqBandSettings]),
}

/// At most `bands` EQ bands for `target`: the search on the analog prototype (cheap), then
/// the exact digital response at `sample_rate` polishes.
fn fit_bands(
    target: &FitTarget,
    bands: usize,
    limits: &eq_fit::FitLimits,
    cuts: Cuts<'_>,
    sample_rate: f64,
) -> EqFit {
    let prototype = &eq_fit::prototype_curve;
    let coarse = match cuts {
        Cuts::Choose(score) => eq_fit::fit_eq_scored(target, bands, limits, prototype, score),
        Cuts::Keep(cuts) => eq_fit::fit_eq_with_cuts(target, bands, limits, prototype, cuts),
    };
    let exact = eq_fit::digital_curve(sample_rate);
    eq_fit::refine(&coarse, target, limits, &exact, EXACT_ITERATIONS)
}

/// The EQ from the long-term spectra, then (unless `options` say not) the compressor, and
/// when paired further rounds that correct each for the other.
fn fit_chain(
    reference: &Audio,
    takes: &Takes<'_>,
    paired: bool,
    grid_hz: &[f64],
    options: &AnalyzeOptions,
) -> Fitted {
    let &Takes {
        ref_channels: ref_refs,
        src_channels: src_refs,
        ref_mid,
        src_mid,
        ref_fs,
        src_fs,
    } = takes;
    let bands = options.bands;
    // Spectra: when paired, the very same frames of both (the reference's activity decides).
    let (ref_starts, ref_quiet) = frame_starts(ref_mid, spectrum::fft_len_for(ref_fs));
    let (src_starts, src_quiet) = if paired {
        (ref_starts.clone(), ref_quiet.clone())
    } else {
        frame_starts(src_mid, spectrum::fft_len_for(src_fs))
    };
    let width: fn(f64) -> f64 = if paired {
        spectrum::smoothing_octaves_paired
    } else {
        spectrum::smoothing_octaves_unpaired
    };
    // The reference's and the source's spectra are independent: one on each core.
    let spectra = |mid: &[f32], fs: f64, starts: &[usize], quiet: &[usize]| {
        let db = ltas_db(mid, fs, starts, grid_hz, width);
        let floor_db = spectrum::noise_floor_db(mid, fs, spectrum::fft_len_for(fs), quiet, grid_hz);
        (db, floor_db)
    };
    let ((reference_db, ref_floor_db), (source_db, src_floor_db)) = std::thread::scope(|scope| {
        let reference = scope.spawn(|| spectra(ref_mid, ref_fs, &ref_starts, &ref_quiet));
        let source = spectra(src_mid, src_fs, &src_starts, &src_quiet);
        (reference.join().expect("spectra do not panic"), source)
    });
    let rel_src = reliability(&source_db, &src_floor_db);
    let rel_ref = reliability(&reference_db, &ref_floor_db);
    let weights: Vec<f64> = grid_hz
        .iter()
        .zip(rel_src.iter().zip(&rel_ref))
        .map(|(&f, (a, b))| perceptual_weight(f) * a * b)
        .collect();
    let target = fit_target(
        grid_hz,
        &reference_db,
        &source_db,
        weights,
        MAX_BOOST_DB,
        options.amount,
    );
    let top_hz = 0.45 * src_fs;
    let limits = eq_fit::FitLimits {
        max_gain_db: MAX_BOOST_DB,
        max_bell_q: if paired {
            eq_fit::BELL_BOUNDS.max_q
        } else {
            MAX_BELL_Q_UNPAIRED
        },
        top_hz,
    };
    let mut eq_fit = if paired {
        // Fits that differ in their cuts match the magnitude alike; the paired takes show
        // whose phase is right.
        let cross = paired_cross_spectrum(src_mid, ref_mid, src_fs);
        let score = |bands: &[EqBandSettings]| cross.correlation(bands, src_fs);
        fit_bands(&target, bands, &limits, Cuts::Choose(Some(&score)), src_fs)
    } else {
        fit_bands(&target, bands, &limits, Cuts::Choose(None), src_fs)
    };
    // Excerpts for the compressor fit and the predictions.
    let excerpt = if paired {
        comp_fit::PAIRED_EXCERPT
    } else {
        comp_fit::UNPAIRED_EXCERPT
    };
    let segments = comp_fit::excerpt_segments(src_mid.len(), src_fs, excerpt);
    let src_segments = comp_fit::gather(src_refs, &segments);
    let mut settings = with_eq_fit(&ChainSettings::default(), &eq_fit);
    settings.compressor.enabled = false;
    settings.ceiling = fit_ceiling(reference);
    let mut comp_fit = None;
    let ref_segments = comp_fit::gather(ref_refs, &segments);
    // Paired: once the compressor is known, what it does to the spectrum is known too; refit
    // the EQ to the remaining difference on the excerpts (the very same frames of both), then
    // the compressor to the new EQ.
    let rounds = if paired { PAIRED_ROUNDS } else { 1 };
    let mut paired_reference = None;
    let mut paired_goal = None;
    // The EQ correction reads spectra, which need more material than the gain trace.
    let spectrum_segments = comp_fit::excerpt_segments(src_mid.len(), src_fs, SPECTRUM_EXCERPT);
    let spectrum_src = comp_fit::gather(src_refs, &spectrum_segments);
    let spectrum_ref = if paired {
        comp_fit::gather(ref_refs, &spectrum_segments)
    } else {
        Vec::new()
    };
    for round in 0..rounds {
        if options.compressor {
            let eq_only = {
                let mut s = settings.clone();
                s.compressor.enabled = false;
                s.ceiling.enabled = false;
                s
            };
            let src_eq: Vec<Vec<Vec<f32>>> = src_segments
                .iter()
                .map(|seg| render(&eq_only, seg, src_fs))
                .collect();
            let fit = if paired {
                let previous = comp_fit.as_ref().and_then(|c: &CompFit| c.model);
                let reference = paired_reference
                    .get_or_insert_with(|| comp_fit::PairedReference::new(&ref_segments, ref_fs));
                comp_fit::fit_paired(&src_eq, reference, src_fs, previous)
            } else {
                // The excerpt is not the whole source: shift the goal by how the excerpt's
                // statistics differ from the whole source's.
                let part = comp_fit::measure_stats(
                    &concat_channels(&src_segments)
                        .iter()
                        .map(Vec::as_slice)
                        .collect::<Vec<_>>(),
                    src_fs,
                );
                let full = comp_fit::measure_stats(src_refs, src_fs);
                let goal = comp_fit::measure_stats(ref_refs, ref_fs).shifted(&part, &full);
                comp_fit::fit_unpaired(&src_eq, &goal, src_fs)
            };
            settings.compressor.enabled = false;
            if let Some(model) = fit.model {
                settings.compressor = model.settings(0.0);
                settings.compressor.mix_pct = (100.0 * options.amount) as f32;
            }
            comp_fit = Some(fit);
        }
        // Unpaired, the compressor's own effect on the spectrum is what is left to undo.
        if !settings.compressor.enabled && (round + 1 == rounds || !paired) {
            break;
        }
        let render_mid = |s: &ChainSettings| {
            let rendered: Vec<Vec<Vec<f32>>> = spectrum_src
                .iter()
                .map(|seg| render(s, seg, src_fs))
                .collect();
            concat_mid(&rendered)
        };
        let out_x = render_mid(&settings);
        // The spectrum to aim at, and the frames it is read on: the reference's when paired
        // (the same in every round); unpaired, the source through the EQ alone, which the
        // first fit matched to the reference.
        let goal = |x: &[f32]| {
            let (starts, _) = frame_starts(x, spectrum::fft_len_for(ref_fs));
            let db = ltas_db(x, src_fs, &starts, grid_hz, width);
            (starts, db)
        };
        let (starts, r_db) = if paired {
            paired_goal
                .get_or_insert_with(|| goal(&concat_mid(&spectrum_ref)))
                .clone()
        } else {
            let mut eq_only = settings.clone();
            eq_only.compressor.enabled = false;
            goal(&render_mid(&eq_only))
        };
        let o_db = ltas_db(&out_x, src_fs, &starts, grid_hz, width);
        let residual = target_curve(grid_hz, &r_db, &o_db, &target.weights, MAX_BOOST_DB, 1.0);
        let refined = FitTarget {
            target_db: eq_fit
                .curve_db
                .iter()
                .zip(&residual)
                .map(|(c, r)| (c + options.amount * r).clamp(MAX_CUT_DB, MAX_BOOST_DB))
                .collect(),
            ..target.clone()
        };
        // Between rounds the bands only move (the compressor's next fit needs them close);
        // the last round fits them afresh around the chosen cuts.
        eq_fit = if round + 1 < rounds {
            let moved = eq_fit::refine(
                &eq_fit,
                &refined,
                &limits,
                &eq_fit::prototype_curve,
                WARM_ITERATIONS,
            );
            let exact = eq_fit::digital_curve(src_fs);
            eq_fit::refine(&moved, &refined, &limits, &exact, EXACT_ITERATIONS)
        } else {
            fit_bands(&refined, bands, &limits, Cuts::Keep(&eq_fit.bands), src_fs)
        };
        settings = with_eq_fit(&settings, &eq_fit);
    }
    Fitted {
        reference_db,
        source_db,
        target,
        eq_fit,
        comp_fit,
        settings,
        src_segments,
        ref_segments,
    }
}

/// No source: EQ against the neutral spectrum, no compressor estimate (nothing to compare
/// dynamics with), gain left at 0 dB.
fn analyze_without_source(
    reference: &Audio,
    ref_mid: &[f32],
    options: &AnalyzeOptions,
    warnings: Vec<AnalysisWarning>,
) -> Analysis {
    let fs = reference.sample_rate as f64;
    let grid_hz = spectrum::log_grid_hz(fs);
    let (starts, quiet) = frame_starts(ref_mid, spectrum::fft_len_for(fs));
    let width = spectrum::smoothing_octaves_unpaired;
    let reference_db = ltas_db(ref_mid, fs, &starts, &grid_hz, width);
    let floor_db =
        spectrum::noise_floor_db(ref_mid, fs, spectrum::fft_len_for(fs), &quiet, &grid_hz);
    let source_db: Vec<f64> = grid_hz.iter().map(|&f| neutral_source_db(f)).collect();
    let weights: Vec<f64> = grid_hz
        .iter()
        .zip(reliability(&reference_db, &floor_db))
        .map(|(&f, r)| perceptual_weight(f) * r)
        .collect();
    let target = fit_target(
        &grid_hz,
        &reference_db,
        &source_db,
        weights,
        MAX_BOOST_LOW_CONFIDENCE_DB,
        options.amount,
    );
    let limits = eq_fit::FitLimits {
        max_gain_db: MAX_BOOST_LOW_CONFIDENCE_DB,
        max_bell_q: MAX_BELL_Q_UNPAIRED,
        top_hz: 0.45 * fs,
    };
    let eq_fit = fit_bands(&target, options.bands, &limits, Cuts::Choose(None), fs);
    let mut settings = with_bands(&ChainSettings::default(), &eq_fit.bands);
    settings.compressor.enabled = false;
    settings.ceiling = fit_ceiling(reference);
    let refs = refs(reference);
    Analysis {
        settings: settings.clamped(),
        options: *options,
        alignment: None,
        paired: false,
        low_confidence: true,
        grid_hz,
        reference_db,
        source_db,
        target,
        eq_fit,
        comp_fit: None,
        reference_metrics: SignalMetrics::measure(&refs, fs),
        source_metrics: None,
        predicted_metrics: None,
        prediction: None,
        reference_levels_db: metrics::active_levels_db(ref_mid, fs),
        source_levels_db: Vec::new(),
        warnings,
    }
}

/// Integrated loudness of segments played one after another, LUFS.
fn segments_loudness(segments: &[Vec<Vec<f32>>], sample_rate: f64) -> f64 {
    let all = concat_channels(segments);
    let r: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
    loudness::integrated_loudness(&r, sample_rate).unwrap_or(metrics::SILENCE_DB)
}

/// Segments (each a list of channels) joined channel by channel.
fn concat_channels(segments: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let n = segments.first().map_or(0, Vec::len);
    (0..n)
        .map(|c| segments.iter().flat_map(|s| s[c].iter().copied()).collect())
        .collect()
}

/// Mid of segments joined.
fn concat_mid(segments: &[Vec<Vec<f32>>]) -> Vec<f32> {
    let all = concat_channels(segments);
    let r: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
    metrics::mid(&r)
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
