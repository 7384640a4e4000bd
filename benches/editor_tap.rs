//! What an open editor costs the audio thread: the plugin's per-block work with the editor
//! closed (the chain alone) against open (the chain metering, and the scope fed with mono
//! mixes of input and output for the analyzer). Stereo, 48 kHz, 64-frame blocks, the
//! heaviest factory preset. The bound: open within 5 % of closed. Throughput
//! elements are samples × channels, so criterion's time per element is ns per sample per
//! channel. Times are the thread's CPU time, not the wall clock: on a busy machine the
//! comparison stays about the work, not about who else ran meanwhile.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matchbox::dsp::Chain;
use matchbox::plugin::taps::Taps;
use matchbox::preset::bench::bench_settings;
use std::hint::black_box;
use std::time::Duration;

const FS: f32 = 48_000.0;
const BLOCK: usize = 64;
const FRAMES: usize = 4096;

/// Deterministic stereo noise at a moderate level.
fn signal() -> [Vec<f32>; 2] {
    let mut s = 0x2545_f491u32;
    let mut ch = || {
        (0..FRAMES)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                0.5 * (s as f32 / u32::MAX as f32 - 0.5)
            })
            .collect::<Vec<f32>>()
    };
    [ch(), ch()]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("editor_block64");
    group.throughput(Throughput::Elements((FRAMES * 2) as u64));
    // The two halves of "open" apart too, to tell which one costs.
    for (name, metering, scope_on) in [
        ("closed", false, false),
        ("meters only", true, false),
        ("scope only", false, true),
        ("open", true, true),
    ] {
        let mut chain = Chain::new(&bench_settings(), FS);
        chain.set_metering(metering);
        let (mut taps, mut scope) = Taps::new(None);
        let mut input = signal();
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let start = thread_cpu_time();
                for _ in 0..iterations {
                    let [l, r] = &mut input;
                    for (a, b) in l.chunks_mut(BLOCK).zip(r.chunks_mut(BLOCK)) {
                        taps.run(&mut [a, b], 2, scope_on, |channels| chain.process(channels));
                    }
                    // The editor empties the scope on its own thread; here it is emptied at once
                    // (constant time for plain frames) so the ring never fills and drops work.
                    let all = scope.slots();
                    if let Ok(chunk) = scope.read_chunk(all) {
                        chunk.commit_all();
                    }
                    black_box(&input[0][0]);
                }
                thread_cpu_time() - start
            })
        });
    }
    group.finish();
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let seconds = matchbox::analysis::timings::thread_cpu_s();
    Duration::from_secs_f64(seconds.expect("the system has a thread CPU clock"))
}

criterion_group!(benches, bench);
criterion_main!(benches);
