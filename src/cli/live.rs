//! `matchbox live`, the default subcommand: the live monitor (microphone in, processed sound in
//! the headphones), run by [`crate::live`] inside nice-plug's standalone wrapper.
//!
//! On a machine with no sound card and no JACK server (a fresh VM, CI), `--backend auto`
//! says so and falls back, clearly, to rendering a built-in beatbox loop through the preset to
//! a WAV file, so the first command of the README always does something useful.

use super::synth::beatbox_loop;
use super::{CliError, process_in_blocks};
use crate::audio_io::{Audio, write_wav_f32};
use crate::dsp::{Chain, ChainSettings};
use crate::preset;
use std::path::PathBuf;

/// Sample rate of the fallback render, Hz.
pub const FALLBACK_SAMPLE_RATE_HZ: u32 = 48_000;
/// Length of the fallback render: four bars at the loop's 100 bpm, seconds.
pub const FALLBACK_SECONDS: f32 = 9.6;
/// Block size of the fallback render, frames (a typical live buffer).
const FALLBACK_BLOCK: usize = 128;

#[cfg(feature = "standalone")]
pub use crate::live::{Backend, Layout};

/// Stand-ins for a build without the live monitor (`--no-default-features`).
#[cfg(not(feature = "standalone"))]
mod no_standalone {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
    pub enum Backend {
        Auto,
        Jack,
        Alsa,
        Dummy,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
    pub enum Layout {
        Mono,
        Stereo,
    }
}
#[cfg(not(feature = "standalone"))]
pub use no_standalone::{Backend, Layout};

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox live                                   # JACK if running, else ALSA\n  \
     matchbox live --preset Telephone --record takes/\n  \
     matchbox live --backend alsa --period 64 --input-device \"USB Audio Device\"\n  \
     matchbox live --backend jack --connect-input system:capture_2 --headless\n  \
     matchbox live --remote 0.0.0.0:7878          # turn it from a phone on this network\n  \
     matchbox live -- --input-capacity 0.2         # an option of nice-plug's wrapper\n"
))]
pub struct LiveArgs {
    /// Audio backend. `auto`: JACK when a server runs, else ALSA when there is a sound card,
    /// else (no audio hardware at all) a render of a built-in loop to a file.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: Backend,
    /// Preset: a JSON file, or a factory preset's name.
    #[arg(long, value_name = "FILE|NAME", default_value = "Beatbox Punch")]
    pub preset: String,
    /// ALSA capture device, as `matchbox devices` lists it (default: the default device).
    #[arg(long, value_name = "NAME")]
    pub input_device: Option<String>,
    /// ALSA playback device, as `matchbox devices` lists it (default: the default device).
    #[arg(long, value_name = "NAME")]
    pub output_device: Option<String>,
    /// Sample rate, Hz (8000…192000; default 48000). Under JACK the server's rate is used.
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Period (buffer) size, frames (32…2048; default 128). Under JACK the server's is used.
    #[arg(long, value_name = "FRAMES")]
    pub period: Option<u32>,
    /// ALSA: the ring joining capture to playback, frames (one period…1 s; default 2
    /// periods). Longer rides out a late capture thread, at the cost of its length in latency.
    #[arg(long, value_name = "FRAMES")]
    pub ring: Option<u32>,
    /// `mono`: one input channel, the processed sound on both outputs. `stereo`: 2 in, 2 out.
    #[arg(long, value_enum, default_value = "mono")]
    pub layout: Layout,
    /// JACK port to take the input from, or `none` (default: the first capture port, two for
    /// the stereo layout).
    #[arg(long, value_name = "PORT|none")]
    pub connect_input: Option<String>,
    /// Leave the safety ceiling as the preset has it (by default live mode turns it on).
    #[arg(long)]
    pub no_ceiling: bool,
    /// Run without opening the editor's window (also when there is no display).
    #[arg(long)]
    pub headless: bool,
    /// Record the dry input and the processed output as two WAV files in DIR.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Play a built-in beatbox loop instead of the input (try Matchbox without a microphone).
    #[arg(long)]
    pub demo: bool,
    /// Serve the remote-control page (a phone's or any browser's) at ADDR:PORT; without a
    /// value 127.0.0.1:7878, this machine only (0.0.0.0:7878: every network interface). The
    /// address with its access token is printed, and drawn as a QR code.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:7878"
    )]
    pub remote: Option<String>,
    /// The remote control's token from FILE (22 to 256 characters of A–Z a–z 0–9 - _ . ~)
    /// instead of a new random one at each start: the same address from show to show.
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub remote_token_file: Option<PathBuf>,
    /// Show the audio wrapper's own messages.
    #[arg(long)]
    pub verbose: bool,
    /// Render the fallback loop even when audio devices are present.
    #[arg(long)]
    pub fallback: bool,
    /// Where the no-sound-card fallback writes its render.
    #[arg(long, value_name = "WAV", default_value = "matchbox-live-fallback.wav")]
    pub fallback_output: PathBuf,
    /// Options for nice-plug's standalone wrapper, after `--` (its `--help` lists them).
    #[arg(last = true, value_name = "WRAPPER OPTIONS")]
    pub wrapper_args: Vec<String>,
}

/// The sound live mode runs: the preset's, with the safety ceiling on unless `--no-ceiling`
/// (at the preset's ceiling level). `matchbox render` of a live take uses the same rule to
/// reproduce it.
pub fn live_settings(preset: &ChainSettings, no_ceiling: bool) -> ChainSettings {
    let mut settings = preset.clone();
    if !no_ceiling {
        settings.ceiling.enabled = true;
    }
    settings
}

pub fn run(args: &LiveArgs) -> Result<(), CliError> {
    // Load the preset first: a typo in its name is worth reporting whatever the devices.
    let preset = preset::resolve(&args.preset)?;
    if args.fallback {
        say!("fallback requested (--fallback)");
        return write_fallback(args, &preset);
    }
    run_live(args, preset)
}

#[cfg(feature = "standalone")]
fn run_live(args: &LiveArgs, preset: preset::Preset) -> Result<(), CliError> {
    use crate::live::{self, InputConnection, LiveError, LiveOptions};
    let connect_input = match &args.connect_input {
        // The demo loop replaces the input: nothing to connect.
        _ if args.demo => InputConnection::None,
        None => InputConnection::Default,
        Some(port) => port
            .parse()
            .map_err(|e| CliError::Usage(format!("--connect-input: {e}")))?,
    };
    let remote = match &args.remote {
        Some(addr) => Some(live::remote::RemoteOptions {
            addr: live::remote::parse_addr(addr).map_err(CliError::Usage)?,
            token_file: args.remote_token_file.clone(),
        }),
        None => None,
    };
    let no_window = if args.headless {
        None
    } else {
        window_problem()
    };
    let options = LiveOptions {
        backend: args.backend,
        layout: args.layout,
        input_device: args.input_device.clone(),
        output_device: args.output_device.clone(),
        sample_rate: args.sample_rate,
        period: args.period,
        ring: args.ring,
        connect_input,
        settings: live_settings(&preset.settings, args.no_ceiling),
        preset_name: preset.name.clone(),
        record: args.record.clone(),
        verbose: args.verbose,
        headless: args.headless || no_window.is_some(),
        no_window,
        wrapper_args: args.wrapper_args.clone(),
        demo: args.demo.then_some(demo_loop as fn(f32) -> Vec<f32>),
        remote,
    };
    // The session ends the process itself (see `live::run`); this reports how it ended.
    let finish: live::Finish = Box::new(|outcome| {
        let code = match outcome {
            Ok(_) => super::EXIT_OK,
            Err(error) => {
                let line = format!("error: {error}");
                eprintln!("{}", crate::text::escape(&line));
                live_exit_code(&error)
            }
        };
        live::quit(code);
    });
    match live::run(options, finish) {
        Ok(never) => match never {},
        Err(LiveError::NoAudio(reason)) if args.backend == Backend::Auto => {
            say!("{reason}");
            write_fallback(args, &preset)
        }
        Err(error) => Err(CliError::Live(live_exit_code(&error), error.to_string())),
    }
}

/// Why the editor's window cannot open, if it cannot: on Linux the window (baseview's) speaks
/// X11 only, so it needs a `DISPLAY` whose server answers (under Wayland, XWayland's). Asked
/// once, by connecting; without it the session would run with no window and no word of why.
#[cfg(feature = "standalone")]
fn window_problem() -> Option<String> {
    #[cfg(all(feature = "gui", target_os = "linux"))]
    {
        let display = std::env::var("DISPLAY").unwrap_or_default();
        if display.is_empty() {
            return Some(
                "no window: DISPLAY is not set (the editor needs an X11 display; under Wayland, \
                 XWayland's); running without it"
                    .into(),
            );
        }
        if let Err(e) = x11rb::connect(Some(&display)) {
            return Some(format!(
                "no window: the X11 display {display} does not answer ({e}); running without it"
            ));
        }
    }
    None
}

/// The `--demo` input: the fallback's beatbox loop at `sample_rate`, peaking at −12 dBFS.
#[cfg(feature = "standalone")]
pub fn demo_loop(sample_rate: f32) -> Vec<f32> {
    let mut x = beatbox_loop(sample_rate, FALLBACK_SECONDS);
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    x.iter_mut().for_each(|v| *v *= 0.25 / peak);
    x
}

#[cfg(feature = "standalone")]
fn live_exit_code(error: &crate::live::LiveError) -> i32 {
    use crate::live::LiveError;
    match error {
        LiveError::Usage(_) => super::EXIT_USAGE,
        LiveError::Record(_) => super::EXIT_AUDIO,
        LiveError::NoAudio(_)
        | LiveError::Server(_)
        | LiveError::DeviceNotFound(_)
        | LiveError::DeviceLost(_)
        | LiveError::Failed(_) => super::EXIT_DEVICE,
    }
}

#[cfg(not(feature = "standalone"))]
fn run_live(args: &LiveArgs, preset: preset::Preset) -> Result<(), CliError> {
    let cards = std::fs::read_to_string("/proc/asound/cards").unwrap_or_default();
    if args.backend == Backend::Auto && !cards.lines().any(|l| l.contains("]: ")) {
        say!("no sound card found, and this build has no live monitor");
        return write_fallback(args, &preset);
    }
    Err(CliError::NotAvailable(
        "this build has no live monitor (built without the `standalone` feature); use \
         `matchbox render`, or `matchbox live --fallback`"
            .into(),
    ))
}

/// Render the loop through `preset` to `args.fallback_output` and say so.
fn write_fallback(args: &LiveArgs, preset: &preset::Preset) -> Result<(), CliError> {
    let preset_file: Vec<_> = preset::file_of(&args.preset)
        .map(|p| ("--preset", p))
        .into_iter()
        .collect();
    super::refuse_overwriting(
        &preset_file,
        &[("--fallback-output", &args.fallback_output)],
    )?;
    let audio = render_loop(&preset.settings);
    write_wav_f32(&args.fallback_output, &audio)?;
    say!(
        "falling back: rendered {FALLBACK_SECONDS} s of a built-in beatbox loop through \"{}\" \
         to {} ({FALLBACK_SAMPLE_RATE_HZ} Hz, stereo, 32-bit float); play it with any audio player",
        preset.name,
        args.fallback_output.display()
    );
    Ok(())
}

/// The built-in loop, stereo, processed by a chain with `settings` in live-sized blocks.
pub fn render_loop(settings: &ChainSettings) -> Audio {
    let mono = beatbox_loop(FALLBACK_SAMPLE_RATE_HZ as f32, FALLBACK_SECONDS);
    let mut channels = vec![mono.clone(), mono];
    let mut chain = Chain::new(settings, FALLBACK_SAMPLE_RATE_HZ as f32);
    process_in_blocks(&mut chain, &mut channels, FALLBACK_BLOCK, |_| {});
    Audio {
        sample_rate: FALLBACK_SAMPLE_RATE_HZ,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_mode_turns_the_ceiling_on_unless_told_not_to() {
        let mut preset = ChainSettings::default();
        preset.ceiling.enabled = false;
        preset.ceiling.ceiling_db = -1.5;
        let live = live_settings(&preset, false);
        assert!(live.ceiling.enabled);
        assert_eq!(live.ceiling.ceiling_db, -1.5);
        assert_eq!(live_settings(&preset, true), preset);
    }
}
