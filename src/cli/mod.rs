//! The `matchbox` command line: argument parsing, exit codes, and the dispatch to one file
//! per subcommand.

/// One line to stdout, escaped and checked ([`output::line`]): a failed write (a closed pipe,
/// a full disk) returns [`CliError::Output`] from the enclosing function.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::line($crate::cli::output::Stream::Stdout, format_args!($($arg)*))?
    };
}

/// [`say!`] for diagnostics: one line to stderr, escaped and checked.
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::cli::output::line($crate::cli::output::Stream::Stderr, format_args!($($arg)*))?
    };
}

pub mod analyze;
pub mod bench;
pub mod check;
pub mod compare;
pub mod devices;
pub mod live;
pub mod output;
pub mod plugin_params;
pub mod presets;
pub mod render;
pub mod synth;

use crate::audio_io::AudioError;
pub use crate::audio_io::channels_name;
use crate::dsp::Chain;
use crate::files::same_file;
use crate::preset::PresetError;
use clap::{Parser, Subcommand};
use std::path::Path;

/// Success.
pub const EXIT_OK: i32 = 0;
/// Processing or runtime failure (a bug, or the machine refused something, such as a write
/// to a closed or full stdout).
pub const EXIT_RUNTIME: i32 = 1;
/// Bad command line (clap's own code), including an output that is the same file as an input.
pub const EXIT_USAGE: i32 = 2;
/// A preset is invalid, unreadable or unknown.
pub const EXIT_PRESET: i32 = 3;
/// An audio file is missing, undecodable, unsupported, or cannot be written.
pub const EXIT_AUDIO: i32 = 4;
/// The feature is not in this build (the live monitor without the `standalone` feature).
pub const EXIT_NOT_AVAILABLE: i32 = 5;
/// An input decodes but cannot be measured: `analyze` (shorter than 2 s, or silent),
/// `compare` (shorter than 0.4 s).
pub const EXIT_ANALYSIS: i32 = 6;
/// `live`: the audio server or device is missing, busy, failed or went away.
pub const EXIT_DEVICE: i32 = 7;

/// Every exit code with its meaning: the one place they are documented (shown by `--help`).
pub const EXIT_CODES: &[(i32, &str)] = &[
    (EXIT_OK, "success"),
    (
        EXIT_RUNTIME,
        "processing or runtime error, including a failed write to stdout or stderr",
    ),
    (
        EXIT_USAGE,
        "usage error: bad arguments, or an output is the same file as an input",
    ),
    (EXIT_PRESET, "invalid, unreadable or unknown preset"),
    (
        EXIT_AUDIO,
        "audio file missing, undecodable, unsupported or unwritable",
    ),
    (
        EXIT_NOT_AVAILABLE,
        "not available in this build (live monitoring without the `standalone` feature)",
    ),
    (
        EXIT_ANALYSIS,
        "input unusable: for analyze shorter than 2 s or silent, for compare shorter than 0.4 s",
    ),
    (
        EXIT_DEVICE,
        "live: no such device or JACK port, JACK server not running or already used by \
         Matchbox, or the device failed or went away",
    ),
];

/// `examples` (may be empty) followed by the exit-code table: the footer of every `--help`.
pub fn help_footer(examples: &str) -> String {
    let rest = format!("{}\n{}", supported_input_help(), exit_codes_help());
    if examples.is_empty() {
        rest
    } else {
        format!("Examples:\n{examples}\n{rest}")
    }
}

/// The supported input range as `--help` shows it, from the constants that enforce it (the
/// README's "Supported input" table says the same at more length).
pub fn supported_input_help() -> String {
    use crate::audio_io::{
        MAX_IN_MEMORY_FRAMES, MAX_SAMPLE_ABS, MAX_SAMPLE_RATE_HZ, MAX_WAV_SAMPLES,
        MIN_SAMPLE_RATE_HZ,
    };
    format!(
        "Supported input:\n  \
         audio: WAV (integer or float PCM), FLAC, MP3 or Ogg Vorbis; {MIN_SAMPLE_RATE_HZ} to \
         {MAX_SAMPLE_RATE_HZ} Hz; mono or stereo; finite samples within ±{MAX_SAMPLE_ABS}; the \
         header must agree with the data\n  \
         length: render streams up to {MAX_WAV_SAMPLES} samples (one WAV file); analyze reads \
         the first {MAX_IN_MEMORY_FRAMES} frames of a file, compare refuses longer files\n  \
         presets: JSON of at most {} KiB, no key given twice, every value in its range\n",
        crate::preset::MAX_PRESET_BYTES / 1024
    )
}

/// The exit-code table as `--help` shows it.
pub fn exit_codes_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code}  {meaning}\n"));
    }
    text
}

/// EQ + compressor for beatbox and voice.
///
/// Without a subcommand, runs `matchbox live`.
#[derive(Debug, Parser)]
#[command(
    name = "matchbox",
    version,
    about,
    args_conflicts_with_subcommands = true,
    after_help = help_footer("")
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `matchbox live`, the default subcommand.
    #[command(flatten)]
    pub live: live::LiveArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Learn a preset (EQ bands, compressor, gain) from a reference recording, optionally
    /// matched to a recording of your own dry mic.
    Analyze(analyze::AnalyzeArgs),
    /// Apply a preset to an audio file and write the result as 32-bit float WAV.
    Render(render::RenderArgs),
    /// Validate preset files: `ok: FILE` for each good one, one line per bad one.
    Check(check::CheckArgs),
    /// Score a file against a reference: 1/3-octave spectrum error, loudness, level spread,
    /// crest factor and waveform SNR, printed as JSON.
    Compare(compare::CompareArgs),
    /// List the factory presets, or print one as JSON.
    Presets(presets::PresetsArgs),
    /// Time the full chain on synthetic stereo audio in memory.
    ///
    /// Prints ns per sample per channel and × real time per block size, best of 3 runs, in
    /// the same terms as benches/pedalboard_chain.py. Without --preset every part of the
    /// chain is on: 8 EQ bands, the compressor (RMS detector, sidechain high-pass), output
    /// gain +3 dB and the ceiling. A last line times silence after a loud burst (at the last
    /// block size), where denormal numbers would show up as a slowdown. Build with --release
    /// for meaningful figures.
    Bench(bench::BenchArgs),
    /// Live monitoring (the default): microphone in, processed sound in the headphones, on
    /// JACK or ALSA. With no sound card and no JACK server, renders a built-in beatbox loop
    /// through the preset to a file instead, and says so.
    Live(live::LiveArgs),
    /// List the audio backends and devices the live monitor can use, with the names
    /// `matchbox live --input-device/--output-device/--connect-input` accept.
    Devices(devices::DevicesArgs),
    /// The plugin's host parameters as JSON (for the VST3 host test).
    #[command(hide = true)]
    PluginParams,
}

/// Why a subcommand failed; each maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// `analyze`: the inputs decode but cannot be analysed.
    #[error(transparent)]
    Analysis(#[from] crate::analysis::AnalysisError),
    /// `compare`: an input decodes but is too short to measure.
    #[error("{0}")]
    Unusable(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    NotAvailable(String),
    /// The live monitor failed; the exit code says how ([`EXIT_DEVICE`] mostly).
    #[error("{1}")]
    Live(i32, String),
    /// Writing to stdout or stderr failed (a closed pipe, a full disk).
    #[error("cannot write to {stream}: {source}")]
    Output {
        stream: &'static str,
        source: std::io::Error,
    },
    /// The subcommand already printed its diagnostics; exit with this code.
    #[error("")]
    Reported(i32),
}

impl CliError {
    /// The documented exit code (see [`EXIT_CODES`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Preset(_) => EXIT_PRESET,
            CliError::Audio(_) => EXIT_AUDIO,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Analysis(_) | CliError::Unusable(_) => EXIT_ANALYSIS,
            CliError::Runtime(_) | CliError::Output { .. } => EXIT_RUNTIME,
            CliError::NotAvailable(_) => EXIT_NOT_AVAILABLE,
            CliError::Live(code, _) => *code,
            CliError::Reported(code) => *code,
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let result = match cli.command {
        Some(Command::Analyze(args)) => analyze::run(&args),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Presets(args)) => presets::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Live(args)) => live::run(&args),
        Some(Command::Devices(args)) => devices::run(&args),
        Some(Command::PluginParams) => plugin_params::run(),
        None => live::run(&cli.live),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            if !matches!(e, CliError::Reported(_)) {
                // Nothing is left to tell a failure to write this to.
                let _ = output::line(output::Stream::Stderr, format_args!("error: {e}"));
            }
            e.exit_code()
        }
    }
}

/// Help and version go to stdout with 0 (styled by clap; no user input in them), a failed
/// write to stdout making it [`EXIT_RUNTIME`]; usage errors go to stderr with clap's code 2,
/// as plain text through [`output`], since they can quote arguments (file names) back.
fn clap_exit(e: &clap::Error) -> i32 {
    if e.use_stderr() {
        let _ = output::lines(output::Stream::Stderr, &e.render().to_string());
        return e.exit_code();
    }
    use std::io::Write as _;
    match e.print().and_then(|()| std::io::stdout().flush()) {
        Ok(()) => e.exit_code(),
        Err(source) => {
            let failure = CliError::Output {
                stream: "stdout",
                source,
            };
            let _ = output::line(output::Stream::Stderr, format_args!("error: {failure}"));
            failure.exit_code()
        }
    }
}

/// Run `chain` in place over planar `channels` (1 or 2, equal lengths), `block` frames at a
/// time as a host would call it, calling `progress(frames_done)` after each block.
/// Allocation-free, so `bench` times only the chain.
///
/// # Panics
/// With more than two channels (callers check; `audio_io` refuses such files).
pub fn process_in_blocks(
    chain: &mut Chain,
    channels: &mut [Vec<f32>],
    block: usize,
    mut progress: impl FnMut(usize),
) {
    let block = block.max(1);
    let mut done = 0;
    match channels {
        [mono] => {
            for chunk in mono.chunks_mut(block) {
                done += chunk.len();
                chain.process(&mut [chunk]);
                progress(done);
            }
        }
        [left, right] => {
            for (l, r) in left.chunks_mut(block).zip(right.chunks_mut(block)) {
                done += l.len();
                chain.process(&mut [l, r]);
                progress(done);
            }
        }
        [] => {}
        more => panic!("{} channels; the chain takes 1 or 2", more.len()),
    }
}

/// Refuse, before any work, an output that is the same file as an input or as another
/// output: by identity (device and inode), so `..`, symbolic and hard links are seen
/// through. `inputs` and `outputs` are (what the user calls it, path): `("IN", in.wav)`.
pub fn refuse_overwriting(
    inputs: &[(&str, &Path)],
    outputs: &[(&str, &Path)],
) -> Result<(), CliError> {
    for (i, &(out_name, out)) in outputs.iter().enumerate() {
        let earlier = inputs.iter().chain(&outputs[..i]);
        if let Some((in_name, input)) = earlier.into_iter().find(|(_, p)| same_file(p, out)) {
            return Err(CliError::Usage(format!(
                "{out_name} ({}) is the same file as {in_name} ({}); choose another output file",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}
