//! `matchbox analyze`: learn a preset from a reference recording (and optionally the user's
//! own dry take), write it, print a short summary, optionally draw a report.

use super::output::{self, Stream};
use super::{CliError, channels_name, refuse_overwriting};
use crate::analysis::timings::Stopwatch;
use crate::analysis::{self, Analysis, AnalysisError, AnalyzeOptions};
use crate::audio_io::{Audio, MAX_IN_MEMORY_FRAMES, read_audio_prefix};
use crate::dsp::{FilterKind, NUM_BANDS};
use crate::preset::{self, MAX_NAME_CHARS, Preset};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox analyze --reference pro-take.wav --source my-take.wav --output my-sound.json\n  \
     matchbox analyze --reference track.mp3 --output track.json --bands 5 --report track.png\n"
))]
pub struct AnalyzeArgs {
    /// The sound to imitate: WAV, FLAC, MP3 or Ogg Vorbis; mono or stereo; 8 to 384 kHz.
    #[arg(long, short, value_name = "REF")]
    pub reference: PathBuf,
    /// A recording of your own dry mic (the same performance or another one). Without it the
    /// EQ aims at the reference from a neutral voice spectrum (low confidence) and no
    /// compressor is fitted.
    #[arg(long, short, value_name = "SRC")]
    pub source: Option<PathBuf>,
    /// Where to write the preset (JSON; overwritten).
    #[arg(long, short, value_name = "PRESET.json")]
    pub output: PathBuf,
    /// Most EQ bands to use, 1 to 8.
    #[arg(long, value_name = "N", default_value_t = NUM_BANDS as i64, allow_negative_numbers = true)]
    pub bands: i64,
    /// How much of the learned processing to apply, 0 to 1 (scales the EQ curve, sets the
    /// compressor's mix).
    #[arg(
        long,
        value_name = "0..1",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub amount: f64,
    /// Fit EQ and gain only.
    #[arg(long)]
    pub no_compressor: bool,
    /// Also draw the analysis (spectra, EQ fit, compressor curve, level histograms): SVG or
    /// PNG by the name's extension.
    #[arg(long, value_name = "REPORT.svg|png")]
    pub report: Option<PathBuf>,
    /// Name of the preset (default: "Match: " and the reference's file name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Also print where the time went: each stage's wall-clock and CPU seconds.
    #[arg(long)]
    pub timings: bool,
}

pub fn run(args: &AnalyzeArgs) -> Result<(), CliError> {
    let bands = usize::try_from(args.bands)
        .ok()
        .filter(|b| (1..=NUM_BANDS).contains(b))
        .ok_or_else(|| {
            CliError::Usage(AnalysisError::Bands(args.bands.max(0) as usize).to_string())
        })?;
    if !(0.0..=1.0).contains(&args.amount) {
        return Err(CliError::Usage(
            AnalysisError::Amount(args.amount).to_string(),
        ));
    }
    let report_format = args.report.as_deref().map(ReportFormat::of).transpose()?;
    let mut inputs = vec![("--reference", args.reference.as_path())];
    inputs.extend(args.source.as_deref().map(|s| ("--source", s)));
    let mut outputs = vec![("--output", args.output.as_path())];
    outputs.extend(args.report.as_deref().map(|r| ("--report", r)));
    refuse_overwriting(&inputs, &outputs)?;
    keep_freed_memory();
    let mut watch = Stopwatch::start();
    // Decode both files at once (a 3-minute WAV takes about 0.1 s), each up to the in-memory
    // limit: that bounds the analysis' memory whatever the files' lengths.
    let (reference, source) = std::thread::scope(|scope| {
        let source = scope.spawn(|| args.source.as_deref().map(read_audio_prefix).transpose());
        let reference = read_audio_prefix(&args.reference);
        (reference, source.join().expect("decoding does not panic"))
    });
    let (reference, source) = (reference?, source?);
    watch.lap("decoding");
    for (path, prefix) in std::iter::once((&args.reference, &reference))
        .chain(args.source.as_ref().zip(source.as_ref()))
    {
        if let Some(damage) = &prefix.damage {
            tell!(
                "warning: {}: {damage} skipped; the audio on either side is joined up",
                path.display()
            );
        }
        if prefix.cut {
            let a = &prefix.audio;
            let of = prefix.stated_frames.map_or_else(
                || "a longer file".to_owned(),
                |frames| format!("{:.1} min", frames as f64 / f64::from(a.sample_rate) / 60.0),
            );
            tell!(
                "warning: {}: analysing its first {:.1} min of {of} (analyze reads at most {MAX_IN_MEMORY_FRAMES} frames of a file)",
                path.display(),
                a.duration_s() / 60.0
            );
        }
    }
    let (reference, source) = (reference.audio, source.map(|s| s.audio));
    let options = AnalyzeOptions {
        bands,
        amount: args.amount,
        compressor: !args.no_compressor,
    };
    let result = analysis::analyze(&reference, source.as_ref(), &options).map_err(|e| match e {
        AnalysisError::Bands(_) | AnalysisError::Amount(_) => CliError::Usage(e.to_string()),
        AnalysisError::Unsupported(_) => CliError::Runtime(e.to_string()),
        _ => CliError::Analysis(e),
    })?;
    watch.lap_with_inner("analysis", result.timings.clone());
    for w in &result.warnings {
        tell!("warning: {w}");
    }
    let preset = build_preset(args, &reference, source.as_ref(), &result);
    preset::save(&args.output, &preset)?;
    if let (Some(report), Some(format)) = (&args.report, report_format) {
        write_report(report, format, &result)?;
    }
    watch.lap("writing");
    let mut text = summary(args, &reference, source.as_ref(), &result);
    if args.timings {
        for row in crate::report::summary::timing_rows(&watch.timings()) {
            text.push_str(&row);
            text.push('\n');
        }
    }
    output::lines(Stream::Stdout, &text)
}

/// Keep the memory the analysis frees for its next allocations (glibc's malloc). The analysis
/// renders excerpts of megabytes over and over (each a few seconds of audio); by default glibc
/// maps every block from 128 KB up afresh and gives it back when freed, and the kernel zeroes
/// every page of it again on first touch. Blocks up to 32 MB (the most this setting allows)
/// now come from malloc's heap, which is not trimmed; a 3-minute channel at 44.1 kHz (31.8 MB)
/// is within it. Measured on the bench's 3-minute paired take (README, Speed): 120,000 page
/// faults before, 79,000 after. The command ends after one analysis, so nothing is held for
/// long.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers; called before the analysis' threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MALLOC_HEAP_UP_TO_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MALLOC_TRIM_ABOVE_BYTES);
    }
}

/// Blocks up to this size come from malloc's heap ([`keep_freed_memory`]): glibc's largest.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_HEAP_UP_TO_BYTES: libc::c_int = 32 << 20;
/// ... and the heap gives memory back to the system only above this much free at its top.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TRIM_ABOVE_BYTES: libc::c_int = 1 << 30;

/// What `--report` writes, from its name's extension (any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Svg,
    Png,
}

impl ReportFormat {
    fn of(path: &Path) -> Result<Self, CliError> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match extension.to_ascii_lowercase().as_str() {
            "svg" => Ok(Self::Svg),
            "png" => Ok(Self::Png),
            _ => Err(CliError::Usage(format!(
                "--report {}: unknown picture format; use a name ending in .svg or .png",
                path.display()
            ))),
        }
    }
}

/// Draw the report to `path`; a PNG without fonts is still written, with a warning.
fn write_report(path: &Path, format: ReportFormat, result: &Analysis) -> Result<(), CliError> {
    let data = match format {
        ReportFormat::Svg => crate::report::svg(result).into_bytes(),
        ReportFormat::Png => {
            let png = crate::report::png(result)
                .map_err(|e| CliError::Runtime(format!("{}: cannot draw: {e}", path.display())))?;
            if !png.labelled {
                tell!(
                    "warning: {}: no font found, so the picture has no labels; install one (e.g. apt install fonts-dejavu-core) or use --report with a .svg name",
                    path.display()
                );
            }
            png.data
        }
    };
    crate::files::write_atomically(path, &data)
        .map_err(|e| CliError::Runtime(format!("{}: cannot write: {e}", path.display())))
}

/// File name of `path` for the preset (not the full path: presets get shared).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The preset with its `analysis` block.
fn build_preset(
    args: &AnalyzeArgs,
    reference: &Audio,
    source: Option<&Audio>,
    a: &Analysis,
) -> Preset {
    let default_name = format!("Match: {}", file_name(&args.reference));
    let name: String = args
        .name
        .clone()
        .unwrap_or(default_name)
        .chars()
        .filter(|&c| crate::text::is_printable(c))
        .take(MAX_NAME_CHARS)
        .collect();
    let name = if name.trim().is_empty() {
        "Match".to_owned()
    } else {
        name
    };
    let description = match (&args.source, a.paired) {
        (None, _) => format!(
            "EQ learned from {} against a neutral voice spectrum (low confidence; no source take given).",
            file_name(&args.reference)
        ),
        (Some(src), true) => format!(
            "EQ and compressor learned from {} and the same performance recorded dry ({}).",
            file_name(&args.reference),
            file_name(src)
        ),
        (Some(src), false) => format!(
            "EQ and dynamics matched from {} to the dry take {} (different performances: statistics only).",
            file_name(&args.reference),
            file_name(src)
        ),
    };
    let mut preset = Preset::new(&name, &description, a.settings.clone());
    let metrics = preset_metrics(reference, source, a);
    let mut sources = Vec::new();
    if let Some(s) = &args.source {
        sources.push(file_name(s));
    }
    preset.analysis = Some(preset::Analysis {
        generator: Some(format!("matchbox analyze {}", env!("CARGO_PKG_VERSION"))),
        reference_files: Some(vec![file_name(&args.reference)]),
        source_files: (!sources.is_empty()).then_some(sources),
        duration_s: Some(round(reference.duration_s(), 3)),
        sample_rate_hz: Some(reference.sample_rate),
        eq_fit_rms_error_db: Some(round(a.eq_fit.rms_error_db, 3)),
        eq_fit_max_error_db: Some(round(a.eq_fit.max_error_db, 3)),
        compressor_fit_error_db: a
            .comp_fit
            .as_ref()
            .filter(|c| c.model.is_some())
            .map(|c| round(c.error_db, 3)),
        metrics: Some(metrics),
        notes: Some(match (a.low_confidence, a.paired) {
            (true, _) => {
                "confidence: low (no source recording; EQ against a neutral spectrum)".into()
            }
            (false, true) => {
                "confidence: high (same performance; compressor from the gain trace)".into()
            }
            (false, false) => {
                "confidence: medium (different performances; dynamics from level statistics)".into()
            }
        }),
    });
    preset
}

/// The figures the preset's `analysis.metrics` records: the inputs', and the prediction's.
fn preset_metrics(
    reference: &Audio,
    source: Option<&Audio>,
    a: &Analysis,
) -> BTreeMap<String, f64> {
    let mut metrics = BTreeMap::new();
    metrics.insert(
        "reference_duration_s".into(),
        round(reference.duration_s(), 3),
    );
    metrics.insert(
        "reference_sample_rate_hz".into(),
        reference.sample_rate as f64,
    );
    metrics.insert("reference_channels".into(), reference.channels.len() as f64);
    metrics.insert(
        "reference_loudness_lufs".into(),
        round(a.reference_metrics.loudness_lufs, 2),
    );
    metrics.insert(
        "reference_level_spread_db".into(),
        round(a.reference_metrics.level_spread_db, 2),
    );
    metrics.insert(
        "reference_crest_factor_db".into(),
        round(a.reference_metrics.crest_factor_db, 2),
    );
    if let Some(s) = source {
        metrics.insert("source_duration_s".into(), round(s.duration_s(), 3));
        metrics.insert("source_sample_rate_hz".into(), s.sample_rate as f64);
        metrics.insert("source_channels".into(), s.channels.len() as f64);
    }
    if let Some(m) = &a.source_metrics {
        metrics.insert("source_loudness_lufs".into(), round(m.loudness_lufs, 2));
        metrics.insert("source_level_spread_db".into(), round(m.level_spread_db, 2));
        metrics.insert("source_crest_factor_db".into(), round(m.crest_factor_db, 2));
    }
    if let Some(al) = &a.alignment {
        metrics.insert("source_coherence".into(), round(al.coherence, 3));
        metrics.insert("source_lag_samples".into(), al.lag_samples as f64);
    }
    if let Some(p) = &a.prediction {
        metrics.insert("predicted_ltas_error_db".into(), round(p.ltas_error_db, 2));
        metrics.insert(
            "predicted_loudness_error_lu".into(),
            round(p.loudness_error_lu, 2),
        );
        metrics.insert(
            "predicted_level_spread_error_db".into(),
            round(p.spread_error_db, 2),
        );
        metrics.insert(
            "predicted_crest_factor_error_db".into(),
            round(p.crest_error_db, 2),
        );
        if let Some(snr) = p.snr_db {
            metrics.insert("predicted_snr_db".into(), round(snr, 1));
        }
    }
    metrics
}

/// `v` rounded to `digits` decimals (keeps the JSON readable; the analysis is deterministic
/// either way).
fn round(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

fn kind_name(kind: FilterKind) -> &'static str {
    kind.name()
}

/// `path` escaped, so that a name holding a line break cannot start a line of its own in the
/// multi-line summary.
fn shown(path: &Path) -> String {
    crate::text::escape(&path.display().to_string()).into_owned()
}

/// The human summary printed on success.
fn summary(args: &AnalyzeArgs, reference: &Audio, source: Option<&Audio>, a: &Analysis) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "reference: {} ({} Hz, {}, {:.1} s, {:.1} LUFS)\n",
        shown(&args.reference),
        reference.sample_rate,
        channels_name(reference.channels.len()),
        reference.duration_s(),
        a.reference_metrics.loudness_lufs
    ));
    if let (Some(path), Some(s)) = (&args.source, source) {
        let relation = match &a.alignment {
            Some(al) if a.paired => format!(
                "same performance (coherence {:.2}, offset {:.1} ms)",
                al.coherence,
                al.lag_samples as f64 * 1000.0 / s.sample_rate as f64
            ),
            _ => "a different performance".to_owned(),
        };
        out.push_str(&format!(
            "source:    {} ({} Hz, {}, {:.1} s): {relation}\n",
            shown(path),
            s.sample_rate,
            channels_name(s.channels.len()),
            s.duration_s()
        ));
    }
    let s = &a.settings;
    let bands: Vec<_> = s.eq.bands.iter().filter(|b| b.enabled).collect();
    out.push_str(&format!(
        "EQ: {} band(s), fit error {:.2} dB RMS (max {:.2} dB)\n",
        bands.len(),
        a.eq_fit.rms_error_db,
        a.eq_fit.max_error_db
    ));
    for b in bands {
        out.push_str(&format!(
            "  {:<10} {:>7.0} Hz {:>+6.1} dB  Q {:.2}\n",
            kind_name(b.kind),
            b.freq_hz,
            b.gain_db,
            b.q
        ));
    }
    let c = &s.compressor;
    if c.enabled {
        out.push_str(&format!(
            "compressor: threshold {:.1} dB, ratio {:.1}:1, knee {:.1} dB, attack {:.1} ms, release {:.0} ms, {} detector, mix {:.0} %\n",
            c.threshold_db,
            c.ratio,
            c.knee_db,
            c.attack_ms,
            c.release_ms,
            match c.detector {
                crate::dsp::Detector::Peak => "peak",
                crate::dsp::Detector::Rms => "RMS",
            },
            c.mix_pct
        ));
    } else {
        out.push_str("compressor: off\n");
    }
    out.push_str(&format!("output gain: {:+.1} dB\n", s.output_gain_db));
    if let Some(p) = &a.polish {
        for line in crate::report::summary::polish_lines(p) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if let Some(p) = &a.prediction {
        out.push_str(&format!(
            "expected: spectrum {:.2} dB RMS (1/3 oct), loudness {:.2} LU, level spread {:.2} dB, crest factor {:.2} dB",
            p.ltas_error_db, p.loudness_error_lu, p.spread_error_db, p.crest_error_db
        ));
        if let Some(snr) = p.snr_db {
            out.push_str(&format!(", waveform SNR {snr:.1} dB"));
        }
        out.push('\n');
    }
    if a.low_confidence {
        out.push_str("confidence: low (no --source)\n");
    }
    out.push_str(&format!("wrote {}", shown(&args.output)));
    if let Some(r) = &args.report {
        out.push_str(&format!(" and {}", shown(r)));
    }
    out.push('\n');
    out
}
