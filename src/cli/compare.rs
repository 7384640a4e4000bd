//! `matchbox compare`: how far a processed file is from a reference, in the metrics that the
//! preset's `analysis` block predicts and the quality tests bound (research/matching.md §5,
//! [`crate::analysis::metrics`]), printed as one JSON object. Lets outside harnesses (other
//! tools' outputs, other processors' references) be scored with the very same code.

use super::CliError;
use crate::analysis::metrics;
use crate::audio_io::{Audio, read_audio};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox compare my-take-matched.wav pro-take.wav\n"
))]
pub struct CompareArgs {
    /// The file to score (e.g. `matchbox render`'s output).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// The reference it should sound like. Same sample rate and channel count as OUT.
    #[arg(value_name = "REF")]
    pub reference: PathBuf,
}

/// One file's own figures.
#[derive(Debug, Serialize)]
struct FileFigures {
    /// Integrated loudness (ITU-R BS.1770-4, all channels), LUFS; −70 when nothing passes
    /// the gate.
    loudness_lufs: f64,
    /// P95 − P10 of the gated 50 ms levels of the mid, dB.
    level_spread_db: f64,
    /// Sample peak over gated RMS of the mid, dB.
    crest_factor_db: f64,
}

/// OUT against REF. Differences are OUT − REF (signed); the spectrum error has the mean
/// band difference over 100 Hz–8 kHz removed, as [`metrics::ltas_error_db`] defines it.
#[derive(Debug, Serialize)]
struct Comparison {
    sample_rate_hz: u32,
    channels: usize,
    /// Frames both files have (the SNR's span).
    common_frames: usize,
    output: FileFigures,
    reference: FileFigures,
    /// 1/3-octave long-term spectrum error of the mids, RMS over 50 Hz–16 kHz, dB.
    ltas_error_rms_db: f64,
    /// The same, largest band, dB.
    ltas_error_max_db: f64,
    loudness_diff_lu: f64,
    level_spread_diff_db: f64,
    crest_factor_diff_db: f64,
    /// `10·log10(Σref² / Σ(ref−out)²)` over every channel and the common frames, dB.
    snr_db: f64,
}

fn figures(audio: &Audio) -> FileFigures {
    let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    let rate = audio.sample_rate as f64;
    let m = metrics::SignalMetrics::measure(&channels, rate);
    FileFigures {
        loudness_lufs: m.loudness_lufs,
        level_spread_db: m.level_spread_db,
        crest_factor_db: m.crest_factor_db,
    }
}

/// Channels cut to `frames` and laid end to end, so one [`metrics::snr_db`] sums over all.
fn concatenated(audio: &Audio, frames: usize) -> Vec<f32> {
    audio
        .channels
        .iter()
        .flat_map(|c| c[..frames].iter().copied())
        .collect()
}

fn mid_of(audio: &Audio) -> Vec<f32> {
    let channels: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    metrics::mid(&channels)
}

/// Shortest file compared, seconds: one BS.1770 gating block (400 ms); anything shorter has
/// no loudness, spread or crest factor to report.
pub const MIN_COMPARE_S: f64 = 0.4;

pub fn run(args: &CompareArgs) -> Result<(), CliError> {
    let output = read_audio(&args.output)?;
    let reference = read_audio(&args.reference)?;
    for (path, audio) in [(&args.output, &output), (&args.reference, &reference)] {
        if audio.duration_s() < MIN_COMPARE_S {
            return Err(CliError::Unusable(format!(
                "{}: {:.3} s long; compare needs at least {MIN_COMPARE_S} s",
                path.display(),
                audio.duration_s()
            )));
        }
    }
    if output.sample_rate != reference.sample_rate {
        return Err(CliError::Usage(format!(
            "{} is {} Hz but {} is {} Hz; compare files at the same rate",
            args.output.display(),
            output.sample_rate,
            args.reference.display(),
            reference.sample_rate
        )));
    }
    if output.channels.len() != reference.channels.len() {
        return Err(CliError::Usage(format!(
            "{} has {} channel(s) but {} has {}; compare files with the same channels",
            args.output.display(),
            output.channels.len(),
            args.reference.display(),
            reference.channels.len()
        )));
    }
    let rate = output.sample_rate as f64;
    let common_frames = output.frames().min(reference.frames());
    let (ltas_rms, ltas_max) = metrics::ltas_error_db(&mid_of(&output), &mid_of(&reference), rate);
    let (out_fig, ref_fig) = (figures(&output), figures(&reference));
    let comparison = Comparison {
        sample_rate_hz: output.sample_rate,
        channels: output.channels.len(),
        common_frames,
        ltas_error_rms_db: ltas_rms,
        ltas_error_max_db: ltas_max,
        loudness_diff_lu: out_fig.loudness_lufs - ref_fig.loudness_lufs,
        level_spread_diff_db: out_fig.level_spread_db - ref_fig.level_spread_db,
        crest_factor_diff_db: out_fig.crest_factor_db - ref_fig.crest_factor_db,
        snr_db: metrics::snr_db(
            &concatenated(&output, common_frames),
            &concatenated(&reference, common_frames),
        ),
        output: out_fig,
        reference: ref_fig,
    };
    let json = serde_json::to_string_pretty(&comparison)
        .map_err(|e| CliError::Runtime(format!("cannot format the comparison: {e}")))?;
    super::output::lines(super::output::Stream::Stdout, &json)
}
