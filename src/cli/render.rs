//! `matchbox render`: decode a file, run it through the chain at its own sample rate in
//! host-sized blocks, write 32-bit float WAV.

use super::{CliError, channels_name, process_in_blocks, refuse_overwriting};
use crate::audio_io::{read_audio, write_wav_f32};
use crate::dsp::Chain;
use crate::preset;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Largest `--block`, frames (hosts rarely go past 8192; this leaves room).
pub const MAX_BLOCK_FRAMES: u32 = 65_536;

/// Files at least this long get a progress bar (on a terminal), seconds.
const PROGRESS_MIN_S: f64 = 30.0;

#[derive(Debug, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox render --preset \"Beatbox Punch\" take.wav take-punch.wav\n  \
     matchbox render --preset my-voice.json --block 64 in.flac out.wav\n"
))]
pub struct RenderArgs {
    /// Preset: a JSON file, or a factory preset's name (see `matchbox presets`).
    #[arg(long, short, value_name = "FILE|NAME")]
    pub preset: String,
    /// Input audio: WAV, FLAC, MP3 or Ogg Vorbis; mono or stereo; any sample rate.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Output: 32-bit float WAV with the input's sample rate and channels (overwritten).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Frames per processing block, as a plugin host would call it (1 to 65536).
    #[arg(long, value_name = "N", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=MAX_BLOCK_FRAMES as i64))]
    pub block: u32,
}

pub fn run(args: &RenderArgs) -> Result<(), CliError> {
    let preset = preset::resolve(&args.preset)?;
    let mut inputs = vec![("IN", args.input.as_path())];
    inputs.extend(preset::file_of(&args.preset).map(|p| ("--preset", p)));
    refuse_overwriting(&inputs, &[("OUT", &args.output)])?;
    let mut audio = read_audio(&args.input)?;
    let frames = audio.frames();
    let bar = progress_bar(audio.duration_s(), frames);
    let mut chain = Chain::new(&preset.settings, audio.sample_rate as f32);
    process_in_blocks(
        &mut chain,
        &mut audio.channels,
        args.block as usize,
        |done| {
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    write_wav_f32(&args.output, &audio)?;
    say!(
        "rendered {} ({} Hz, {}, {:.2} s) through \"{}\" to {}",
        args.input.display(),
        audio.sample_rate,
        channels_name(audio.channels.len()),
        audio.duration_s(),
        preset.name,
        args.output.display()
    );
    Ok(())
}

/// A bar on stderr for long files, when stderr is a terminal (never in pipes or logs).
fn progress_bar(duration_s: f64, frames: usize) -> Option<ProgressBar> {
    if duration_s < PROGRESS_MIN_S || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(frames as u64);
    if let Ok(style) = ProgressStyle::with_template("rendering {bar:40} {percent:>3}% (eta {eta})")
    {
        bar.set_style(style);
    }
    Some(bar)
}
