//! Stage 1, the inputs: what the user asked for is in range, each recording is in the supported
//! range, long enough and not silent, and what the result should carry as warnings (clipping, channel counts).

use super::AnalyzeOptions;
use super::metrics;
use crate::audio_io::Audio;
use crate::dsp::NUM_BANDS;
use std::fmt;

/// Shortest usable recording, seconds.
pub const MIN_DURATION_S: f64 = 2.0;
/// A sample at or above this magnitude counts as clipped.
const CLIP_LEVEL: f32 = 0.999;
/// Runs of this many clipped samples in a row count as clipping (Matchering uses 8 samples).
const CLIP_RUN: usize = 3;
/// This many clipped runs trigger the warning.
const CLIP_RUNS_WARN: usize = 8;
/// The silence check reads 50 ms frames every 10 ms ([`metrics::frame_levels_db`]).
const SILENCE_FRAME_S: (f64, f64) = (0.05, 0.01);

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

/// The checked inputs: each recording's mid, and the warnings so far.
pub struct Inputs {
    pub reference_mid: Vec<f32>,
    /// With a source given.
    pub source_mid: Option<Vec<f32>>,
    pub warnings: Vec<AnalysisWarning>,
}

/// `options` in range, then both recordings checked (side by side, one per core, the
/// reference's clipped runs counted on its own): long enough, not silent; clipping and channel
/// counts noted.
pub fn check(
    reference: &Audio,
    source: Option<&Audio>,
    options: &AnalyzeOptions,
) -> Result<Inputs, AnalysisError> {
    if options.bands == 0 || options.bands > NUM_BANDS {
        return Err(AnalysisError::Bands(options.bands));
    }
    if !(0.0..=1.0).contains(&options.amount) {
        return Err(AnalysisError::Amount(options.amount));
    }
    let (reference_checked, source_mid) = std::thread::scope(|scope| {
        let src_mid = scope.spawn(|| source.map(|s| check_input(s, "source")).transpose());
        let reference_checked =
            check_input(reference, "reference").map(|mid| (mid, clipped_runs(reference)));
        (
            reference_checked,
            src_mid.join().expect("checks do not panic"),
        )
    });
    let ((reference_mid, runs), source_mid) = (reference_checked?, source_mid?);
    let mut warnings = Vec::new();
    if runs >= CLIP_RUNS_WARN {
        warnings.push(AnalysisWarning::ClippedReference { runs });
    }
    match source {
        None => warnings.push(AnalysisWarning::NoSource),
        Some(source) if source.channels.len() != reference.channels.len() => {
            warnings.push(AnalysisWarning::ChannelMismatch {
                reference: reference.channels.len(),
                source: source.channels.len(),
            });
        }
        Some(_) => {}
    }
    Ok(Inputs {
        reference_mid,
        source_mid,
        warnings,
    })
}

/// Channel slices of an [`Audio`].
pub fn refs(audio: &Audio) -> Vec<&[f32]> {
    audio.channels.iter().map(Vec::as_slice).collect()
}

/// `audio` as dual mono when it is mono and `other` is stereo; `None` otherwise. A player
/// plays a mono file on two speakers: widened, both sides have the same channels and loudness
/// compares like with like (the mid, which the checks use, is the same either way).
pub fn dual_mono_beside(audio: &Audio, other: Option<&Audio>) -> Option<Audio> {
    (audio.channels.len() == 1 && other?.channels.len() == 2).then(|| Audio {
        sample_rate: audio.sample_rate,
        channels: vec![audio.channels[0].clone(); 2],
    })
}

/// Supported range, length and silence checks of one input; its mid.
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
    let (frame_s, hop_s) = SILENCE_FRAME_S;
    let levels = metrics::frame_levels_db(&mid, audio.sample_rate as f64, frame_s, hop_s);
    if levels.iter().all(|&l| l <= metrics::SILENCE_DB) {
        return Err(AnalysisError::Silent {
            what: what.to_owned(),
        });
    }
    Ok(mid)
}

/// Runs of at least [`CLIP_RUN`] samples at full scale, over all channels.
pub fn clipped_runs(audio: &Audio) -> usize {
    // Most audio never gets near full scale: chunks of this many samples whose fast maximum
    // stays below the clip level are skipped.
    const CHUNK: usize = 1024;
    let mut runs = 0;
    for c in &audio.channels {
        let mut run = 0;
        for chunk in c.chunks(CHUNK) {
            if run == 0 && crate::dsp::peak_magnitude(chunk) < CLIP_LEVEL {
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
