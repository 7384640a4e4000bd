//! `matchbox bench`: time the full chain on synthetic stereo audio in memory, per block size,
//! in the same terms as `benches/pedalboard_chain.py` (best of 3 runs, ns per sample per
//! channel, × real time) so the two can be run back to back and compared.

use super::synth::bench_signal;
use super::{CliError, process_in_blocks};
use crate::dsp::Chain;
use crate::preset::{self, bench::bench_settings};
use std::time::Instant;

/// Sample rate of the synthetic audio, Hz.
pub const BENCH_SAMPLE_RATE_HZ: f32 = 48_000.0;
/// Runs per block size; the fastest counts (the least disturbed by other processes).
pub const BENCH_RUNS: usize = 3;
/// Longest `--seconds`.
const MAX_SECONDS: f64 = 3_600.0;

#[derive(Debug, clap::Args)]
/// Arguments of `matchbox bench` (its help text is on [`super::Command::Bench`]).
#[command(after_help = super::help_footer(
    "  matchbox bench\n  \
     matchbox bench --preset Telephone --seconds 30 --block 32 --block 1024\n"
))]
pub struct BenchArgs {
    /// Preset to time (file or factory name); default: the full chain, every band on.
    #[arg(long, short, value_name = "FILE|NAME")]
    pub preset: Option<String>,
    /// Seconds of synthetic stereo 48 kHz audio per run (up to 3600).
    #[arg(long, value_name = "S", default_value_t = 10.0, value_parser = parse_seconds)]
    pub seconds: f64,
    /// Block size in frames; repeat for several (1 to 65536).
    #[arg(long = "block", value_name = "N", default_values_t = [64u32, 512],
          value_parser = clap::value_parser!(u32).range(1..=super::render::MAX_BLOCK_FRAMES as i64))]
    pub blocks: Vec<u32>,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text} is not a number"))?;
    if seconds > 0.0 && seconds <= MAX_SECONDS {
        Ok(seconds)
    } else {
        Err(format!("{text} is outside 0 (exclusive) to {MAX_SECONDS}"))
    }
}

/// One block size's result.
#[derive(Debug, Clone, Copy)]
pub struct BenchResult {
    pub block: usize,
    /// Best run's time per sample per channel, ns.
    pub ns_per_sample_per_channel: f64,
    /// Audio duration / best run's time.
    pub times_real_time: f64,
}

pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let (name, settings) = match &args.preset {
        Some(arg) => {
            let p = preset::resolve(arg)?;
            (format!("preset \"{}\"", p.name), p.settings)
        }
        None => (
            "the full chain (all 8 bands, compressor, ceiling)".to_owned(),
            bench_settings(),
        ),
    };
    if cfg!(debug_assertions) {
        tell!("note: this is a debug build; build with --release for meaningful timings");
    }
    let frames = (args.seconds * f64::from(BENCH_SAMPLE_RATE_HZ)).round() as usize;
    say!(
        "matchbox bench: {name}, {:.1} s of stereo noise beats at {} Hz, best of {BENCH_RUNS} runs",
        args.seconds,
        BENCH_SAMPLE_RATE_HZ
    );
    let input = bench_signal(BENCH_SAMPLE_RATE_HZ, frames.max(1));
    let mut chain = Chain::new(&settings, BENCH_SAMPLE_RATE_HZ);
    for &block in &args.blocks {
        let r = time_block_size(&mut chain, &input, block as usize);
        say!(
            "matchbox block={}: {:.1} ns/sample/ch, {:.0}x realtime",
            r.block,
            r.ns_per_sample_per_channel,
            r.times_real_time
        );
    }
    // Denormals: if filter or envelope state decays into subnormal numbers, silence after a
    // loud burst costs far more than signal does. This line makes that visible.
    let block = args.blocks.last().copied().unwrap_or(512) as usize;
    let r = time_silence_after_burst(&mut chain, frames.max(1), block);
    say!(
        "matchbox silence-after-burst block={}: {:.1} ns/sample/ch, {:.0}x realtime",
        r.block,
        r.ns_per_sample_per_channel,
        r.times_real_time
    );
    Ok(())
}

/// Like [`time_block_size`] on `frames` of digital silence, each run preceded (untimed) by
/// half a second of full-scale noise that fills every filter and envelope.
pub fn time_silence_after_burst(chain: &mut Chain, frames: usize, block: usize) -> BenchResult {
    let burst_frames = (BENCH_SAMPLE_RATE_HZ / 2.0) as usize;
    let burst: Vec<Vec<f32>> = bench_signal(BENCH_SAMPLE_RATE_HZ, burst_frames)
        .into_iter()
        .map(|c| c.into_iter().map(|v| (v * 2.0).clamp(-1.0, 1.0)).collect())
        .collect();
    let mut work = burst.clone();
    let mut silence = vec![vec![0.0f32; frames]; 2];
    let mut best_s = f64::INFINITY;
    for _ in 0..BENCH_RUNS {
        chain.reset();
        for (w, b) in work.iter_mut().zip(&burst) {
            w.copy_from_slice(b);
        }
        process_in_blocks(chain, &mut work, block, |_| {});
        for channel in &mut silence {
            channel.fill(0.0);
        }
        let start = Instant::now();
        process_in_blocks(chain, &mut silence, block, |_| {});
        best_s = best_s.min(start.elapsed().as_secs_f64());
        std::hint::black_box(&silence);
    }
    result(block, frames, best_s)
}

/// Figures for `frames` stereo frames processed in `best_s` seconds.
fn result(block: usize, frames: usize, best_s: f64) -> BenchResult {
    let best_s = best_s.max(1e-12);
    let samples = (2 * frames).max(1) as f64;
    BenchResult {
        block,
        ns_per_sample_per_channel: best_s * 1e9 / samples,
        times_real_time: frames as f64 / f64::from(BENCH_SAMPLE_RATE_HZ) / best_s,
    }
}

/// Best of [`BENCH_RUNS`] passes of stereo `input` through `chain` (reset before each) in
/// blocks of `block` frames. Only the processing is timed, not the copy of the input.
pub fn time_block_size(chain: &mut Chain, input: &[Vec<f32>], block: usize) -> BenchResult {
    let mut work = input.to_vec();
    let mut best_s = f64::INFINITY;
    for _ in 0..BENCH_RUNS {
        for (w, x) in work.iter_mut().zip(input) {
            w.copy_from_slice(x);
        }
        chain.reset();
        let start = Instant::now();
        process_in_blocks(chain, &mut work, block, |_| {});
        best_s = best_s.min(start.elapsed().as_secs_f64());
        // Keep the output observable so the work cannot be optimised away.
        std::hint::black_box(&work);
    }
    result(block, input.first().map_or(0, Vec::len), best_s)
}
