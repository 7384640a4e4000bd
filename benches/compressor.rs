//! Compressor and safety ceiling speed, stereo 48 kHz, at 64- and 512-frame blocks.
//! Figures: criterion's time per block ÷ (frames × 2 channels) = ns per sample per channel.
//! And the analysis' simulation of four and of eight settings side by side
//! (`compressor_lanes/4`, `/8`; ns per detector level, all lanes at once), which the
//! compressor fit runs in 1 ms blocks.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use matchbox::dsp::ceiling::Ceiling;
use matchbox::dsp::compressor::{Compressor, GainLanes, LANES};
use matchbox::dsp::{CeilingSettings, CompressorSettings, Detector};
use std::hint::black_box;

/// Beat-like stereo test signal: loud noisy hits with a 60 Hz body, quiet gaps.
fn signal(n: usize) -> [Vec<f32>; 2] {
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut ch = || {
        (0..n)
            .map(|i| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                let r = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1 << 23) as f32;
                let t = i as f32 / 48_000.0;
                let env = if (t * 4.0).fract() < 0.3 { 0.8 } else { 0.05 };
                env * (0.5 * (r - 1.0) + 0.7 * (std::f32::consts::TAU * 60.0 * t).sin())
            })
            .collect()
    };
    [ch(), ch()]
}

fn settings(detector: Detector, hpf: bool, link_pct: f32) -> CompressorSettings {
    CompressorSettings {
        enabled: true,
        threshold_db: -24.0,
        ratio: 4.0,
        knee_db: 6.0,
        attack_ms: 5.0,
        release_ms: 120.0,
        makeup_db: 3.0,
        auto_makeup: false,
        detector,
        sidechain_hpf: hpf,
        sidechain_hpf_hz: 120.0,
        stereo_link_pct: link_pct,
        mix_pct: 100.0,
    }
}

fn bench(c: &mut Criterion) {
    let total = 48_000;
    let input = signal(total);
    let cases = [
        ("rms_hpf_link100", settings(Detector::Rms, true, 100.0)),
        ("rms_hpf_link50", settings(Detector::Rms, true, 50.0)),
        ("peak_link100", settings(Detector::Peak, false, 100.0)),
    ];
    for block in [64usize, 512] {
        let mut group = c.benchmark_group(format!("compressor/{block}"));
        group.throughput(Throughput::Elements((block * 2) as u64));
        for (name, s) in &cases {
            let mut comp = Compressor::new();
            comp.prepare(48_000.0);
            comp.set_settings(s);
            comp.reset();
            let [mut l, mut r] = input.clone();
            let mut pos = 0;
            group.bench_function(*name, |b| {
                b.iter(|| {
                    if pos + block > total {
                        pos = 0;
                        l.copy_from_slice(&input[0]);
                        r.copy_from_slice(&input[1]);
                    }
                    let gr =
                        comp.process(&mut [&mut l[pos..pos + block], &mut r[pos..pos + block]]);
                    pos += block;
                    black_box(gr)
                })
            });
        }
        // Silence after a loud burst: must cost no more than music (no subnormal slow-down).
        let mut comp = Compressor::new();
        comp.set_settings(&cases[0].1);
        comp.reset();
        let [mut l, mut r] = input.clone();
        comp.process(&mut [&mut l[..24_000], &mut r[..24_000]]);
        let (mut l, mut r) = (vec![0.0f32; block], vec![0.0f32; block]);
        group.bench_function("rms_hpf_link100_silence_after_burst", |b| {
            b.iter(|| black_box(comp.process(&mut [&mut l, &mut r])))
        });
        group.finish();

        let mut group = c.benchmark_group(format!("ceiling/{block}"));
        group.throughput(Throughput::Elements((block * 2) as u64));
        for (name, gain) in [("below", 0.5f32), ("limiting", 4.0)] {
            let mut lim = Ceiling::new();
            lim.set_settings(&CeilingSettings {
                enabled: true,
                ceiling_db: -1.0,
            });
            let [l0, r0] = input.clone();
            let l0: Vec<f32> = l0.iter().map(|v| v * gain).collect();
            let r0: Vec<f32> = r0.iter().map(|v| v * gain).collect();
            let (mut l, mut r) = (l0.clone(), r0.clone());
            let mut pos = 0;
            group.bench_function(name, |b| {
                b.iter(|| {
                    if pos + block > total {
                        pos = 0;
                        l.copy_from_slice(&l0);
                        r.copy_from_slice(&r0);
                    }
                    lim.process(&mut [&mut l[pos..pos + block], &mut r[pos..pos + block]]);
                    pos += block;
                })
            });
        }
        group.finish();
    }
}

/// [`GainLanes`] of `N` settings over a second of detector levels, 1 ms (48 levels) a call.
fn bench_lanes<const N: usize>(c: &mut Criterion, levels_db: &[f32]) {
    let all: Vec<CompressorSettings> = (0..LANES)
        .map(|l| CompressorSettings {
            threshold_db: -30.0 + 2.0 * l as f32,
            attack_ms: 1.0 + l as f32,
            ..settings(Detector::Peak, false, 100.0)
        })
        .collect();
    let mut lanes = GainLanes::<N>::new(&all[..N], 48_000.0);
    let mut out = [[0.0f32; N]; 48];
    let mut group = c.benchmark_group("compressor_lanes");
    group.throughput(Throughput::Elements(levels_db.len() as u64));
    group.bench_function(format!("{N}"), |b| {
        b.iter(|| {
            for block in levels_db.chunks(48) {
                lanes.run(black_box(block), &mut out[..block.len()]);
            }
            black_box(out[0][0])
        })
    });
    group.finish();
}

fn bench_simulation(c: &mut Criterion) {
    let [left, right] = signal(48_000);
    let mut levels_db = vec![0.0; left.len()];
    let mut comp = Compressor::new();
    comp.set_settings(&settings(Detector::Peak, false, 100.0));
    comp.prepare(48_000.0);
    comp.detector_levels_db(&[&left, &right], &mut levels_db);
    bench_lanes::<4>(c, &levels_db);
    bench_lanes::<LANES>(c, &levels_db);
}

criterion_group!(benches, bench, bench_simulation);
criterion_main!(benches);
