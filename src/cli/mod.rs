//! The `matchbox` command line: argument parsing, exit codes, and the dispatch to one file
//! per subcommand.

/// `println!` that ignores a closed stdout (`matchbox presets | head -1`) instead of
/// panicking: the work is done, only its report has nowhere to go.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod analyze;
pub mod bench;
pub mod check;
pub mod compare;
pub mod devices;
pub mod live;
pub mod plugin_params;
pub mod presets;
pub mod render;
pub mod synth;

use crate::audio_io::AudioError;
use crate::dsp::Chain;
use crate::preset::PresetError;
use clap::{Parser, Subcommand};

/// Success.
pub const EXIT_OK: i32 = 0;
/// Processing or runtime failure (a bug, or the machine refused something).
pub const EXIT_RUNTIME: i32 = 1;
/// Bad command line (clap's own code), including OUT the same file as IN.
pub const EXIT_USAGE: i32 = 2;
/// A preset is invalid, unreadable or unknown.
pub const EXIT_PRESET: i32 = 3;
/// An audio file is missing, undecodable, unsupported, or cannot be written.
pub const EXIT_AUDIO: i32 = 4;
/// The feature is not in this build (the live monitor without the `standalone` feature).
pub const EXIT_NOT_AVAILABLE: i32 = 5;
/// `analyze`: an input decodes but cannot be analysed (shorter than 2 s, or silent).
pub const EXIT_ANALYSIS: i32 = 6;
/// `live`: the audio server or device is missing, busy, failed or went away.
pub const EXIT_DEVICE: i32 = 7;

/// Every exit code with its meaning: the one place they are documented (shown by `--help`).
pub const EXIT_CODES: &[(i32, &str)] = &[
    (EXIT_OK, "success"),
    (EXIT_RUNTIME, "processing or runtime error"),
    (
        EXIT_USAGE,
        "usage error: bad arguments, or OUT is the same file as IN",
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
        "analyze: input unusable for analysis (shorter than 2 s, or silent)",
    ),
    (
        EXIT_DEVICE,
        "live: no such device or JACK port, JACK server not running or already used by \
         Matchbox, or the device failed or went away",
    ),
];

/// `examples` (may be empty) followed by the exit-code table: the footer of every `--help`.
pub fn help_footer(examples: &str) -> String {
    if examples.is_empty() {
        exit_codes_help()
    } else {
        format!("Examples:\n{examples}\n{}", exit_codes_help())
    }
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
    after_help = exit_codes_help()
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
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    NotAvailable(String),
    /// The live monitor failed; the exit code says how ([`EXIT_DEVICE`] mostly).
    #[error("{1}")]
    Live(i32, String),
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
            CliError::Runtime(_) => EXIT_RUNTIME,
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
        Err(e) => {
            // Help and version go to stdout with 0; real usage errors to stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
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
                eprintln!("error: {e}");
            }
            e.exit_code()
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

/// "mono", "stereo" or "N channels".
pub fn channels_name(count: usize) -> String {
    match count {
        1 => "mono".into(),
        2 => "stereo".into(),
        n => format!("{n} channels"),
    }
}
