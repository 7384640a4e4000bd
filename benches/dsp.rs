//! Speed of one EQ band and of the full chain, stereo 48 kHz, at 64- and 512-frame blocks,
//! plus the full chain on digital silence after a loud burst (denormal safety: the figure must
//! not rise). Throughput elements are samples × channels, so criterion's time per element is
//! the ns per sample per channel.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use matchbox::dsp::{Chain, ChainSettings, EqBandSettings, FilterKind};
use matchbox::preset::bench::bench_settings;
use std::hint::black_box;

const FS: f32 = 48_000.0;

/// Deterministic stereo noise with a beat envelope.
fn signal(frames: usize) -> [Vec<f32>; 2] {
    let mut s = 0x9e37_79b9u32;
    let mut ch = || {
        (0..frames)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let env = (-((i as f32 / FS * 4.0).fract()) * 10.0).exp();
                env * (s as f32 / u32::MAX as f32 - 0.5)
            })
            .collect()
    };
    [ch(), ch()]
}

/// Runs `chain` over `input` in `block`-frame blocks (the input is re-used; content matters
/// little for speed once the chain is warm).
fn run(chain: &mut Chain, input: &mut [Vec<f32>; 2], block: usize) {
    let [l, r] = input;
    for (a, b) in l.chunks_mut(block).zip(r.chunks_mut(block)) {
        chain.process(&mut [a, b]);
    }
    black_box(&input[0][0]);
}

fn bench(c: &mut Criterion) {
    let frames = 4096;
    let mut one_band = ChainSettings::default();
    one_band.ceiling.enabled = false;
    one_band.eq.bands[0] = EqBandSettings {
        enabled: true,
        kind: FilterKind::Bell,
        freq_hz: 2_500.0,
        gain_db: 4.0,
        q: 1.2,
        slope_db_per_oct: 12,
    };
    for block in [64usize, 512] {
        let mut group = c.benchmark_group(format!("block{block}"));
        group.throughput(Throughput::Elements((frames * 2) as u64));
        for (name, settings) in [("band", &one_band), ("chain", &bench_settings())] {
            let mut chain = Chain::new(settings, FS);
            let mut input = signal(frames);
            group.bench_function(name, |b| b.iter(|| run(&mut chain, &mut input, block)));
        }
        group.finish();
        // Half a second of silence right after a loud burst: every state decays through the
        // range where subnormal numbers would make each operation slow. Each iteration gets a
        // freshly burst chain (set-up not timed).
        let silence_frames = FS as usize / 2;
        let mut group = c.benchmark_group(format!("block{block}"));
        group.throughput(Throughput::Elements((silence_frames * 2) as u64));
        group.sample_size(20);
        let burst = signal(FS as usize).map(|c| c.iter().map(|x| x * 4.0).collect::<Vec<_>>());
        group.bench_function("chain_silence_after_burst", |b| {
            b.iter_batched(
                || {
                    let mut chain = Chain::new(&bench_settings(), FS);
                    run(&mut chain, &mut burst.clone(), block);
                    (
                        chain,
                        [vec![0.0f32; silence_frames], vec![0.0f32; silence_frames]],
                    )
                },
                |(mut chain, mut silence)| run(&mut chain, &mut silence, block),
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
