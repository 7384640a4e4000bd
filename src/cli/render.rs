//! `matchbox render`: decode a file, run it through the chain at its own sample rate in
//! host-sized blocks, write 32-bit float WAV; streamed, so memory does not grow with the
//! file's length, and atomic, so OUT is either the whole result or what it was before.

use super::{CliError, channels_name, process_in_blocks, refuse_overwriting};
use crate::audio_io::{AudioError, AudioReader, MAX_WAV_SAMPLES, WavOut, minutes_at};
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
    /// Input audio: WAV, FLAC, MP3 or Ogg Vorbis; mono or stereo; 8 to 384 kHz.
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
    let mut reader = AudioReader::open(&args.input)?;
    let (sample_rate, count) = (reader.sample_rate(), reader.channels());
    if let Some(stated) = reader.stated_frames()
        && stated.saturating_mul(count as u64) > MAX_WAV_SAMPLES
    {
        return Err(AudioError::TooLong {
            path: args.input.clone(),
            message: format!(
                "{stated} frames; a WAV output holds at most {MAX_WAV_SAMPLES} samples ({})",
                minutes_at(MAX_WAV_SAMPLES, count, sample_rate)
            ),
        }
        .into());
    }
    let bar = progress_bar(reader.stated_frames(), sample_rate);
    let mut chain = Chain::new(&preset.settings, sample_rate as f32);
    let mut out = WavOut::create(&args.output, sample_rate, count)?;
    // Decoded packets come in the codec's sizes; the chain sees `--block` frames at a time,
    // as from a host. Memory: one packet and one block, whatever the file's length.
    let block = args.block as usize;
    let mut work: Vec<Vec<f32>> = vec![Vec::with_capacity(block); count];
    let mut done = 0u64;
    while let Some(decoded) = reader.next_block()? {
        let mut at = 0;
        while at < decoded.frames() {
            let take = (block - work[0].len()).min(decoded.frames() - at);
            for (k, w) in work.iter_mut().enumerate() {
                w.extend_from_slice(&decoded.channel(k)[at..at + take]);
            }
            at += take;
            if work[0].len() == block {
                done += process_and_write(&mut chain, &mut work, &mut out)?;
                if let Some(bar) = &bar {
                    bar.set_position(done);
                }
            }
        }
    }
    done += process_and_write(&mut chain, &mut work, &mut out)?;
    out.finish()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(damage) = reader.damage() {
        tell!(
            "warning: {}: {damage} skipped; the audio on either side is joined up",
            args.input.display()
        );
    }
    say!(
        "rendered {} ({} Hz, {}, {:.2} s) through \"{}\" to {}",
        args.input.display(),
        sample_rate,
        channels_name(count),
        done as f64 / f64::from(sample_rate),
        preset.name,
        args.output.display()
    );
    Ok(())
}

/// Run the chain over the frames gathered in `work` (one block) and write them; empties
/// `work`. Returns the frames written.
fn process_and_write(
    chain: &mut Chain,
    work: &mut [Vec<f32>],
    out: &mut WavOut,
) -> Result<u64, AudioError> {
    let frames = work[0].len();
    if frames == 0 {
        return Ok(0);
    }
    process_in_blocks(chain, work, frames, |_| {});
    let planar: Vec<&[f32]> = work.iter().map(Vec::as_slice).collect();
    out.write(&planar)?;
    for w in work.iter_mut() {
        w.clear();
    }
    Ok(frames as u64)
}

/// A bar on stderr for files that state a long length, when stderr is a terminal (never in
/// pipes or logs).
fn progress_bar(stated_frames: Option<u64>, sample_rate: u32) -> Option<ProgressBar> {
    let frames = stated_frames?;
    if (frames as f64) < PROGRESS_MIN_S * f64::from(sample_rate) || !std::io::stderr().is_terminal()
    {
        return None;
    }
    let bar = ProgressBar::new(frames);
    if let Ok(style) = ProgressStyle::with_template("rendering {bar:40} {percent:>3}% (eta {eta})")
    {
        bar.set_style(style);
    }
    Some(bar)
}
