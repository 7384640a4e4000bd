//! `matchbox analyze` speed: a 3-minute stereo 44.1 kHz reference plus a 3-minute source,
//! in memory (decoding excluded), paired (the same performance) and unpaired.
//!
//! `cargo bench --bench analysis`. Issue 4 asks for under 1 s per analysis.

use criterion::{Criterion, criterion_group, criterion_main};
use matchbox::analysis::{self, AnalyzeOptions, timings};
use matchbox::audio_io::Audio;
use matchbox::dsp::{ChainSettings, Detector, EqBandSettings, FilterKind};
use std::hint::black_box;

const FS: f64 = 44_100.0;
const SECONDS: f64 = 180.0;

/// Stereo beat-like material: decaying noise bursts at 100 BPM sixteenths with random levels
/// and two colours, a different seed per take.
fn take(seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut rand = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let len = (SECONDS * FS) as usize;
    let step = (0.15 * FS) as usize;
    let (mut left, mut right) = (vec![0.0f32; len], vec![0.0f32; len]);
    let mut t = 0;
    let mut lp = 0.0;
    while t < len {
        let level = 10f64.powf((rand() * 12.0 - 6.0) / 20.0) * 0.3;
        let decay = 0.03 + 0.05 * (rand() + 1.0);
        let dark = rand() > 0.0;
        for n in 0..step.min(len - t) {
            let ts = n as f64 / FS;
            let noise = rand();
            lp += 0.1 * (noise - lp);
            let v = level * (-ts / decay).exp() * if dark { 3.0 * lp } else { noise };
            left[t + n] = v as f32;
            right[t + n] = (0.8 * v + 0.02 * rand()) as f32;
        }
        t += step;
    }
    vec![left, right]
}

fn preset() -> ChainSettings {
    let mut s = ChainSettings::default();
    let band = |kind, freq_hz, gain_db, q| EqBandSettings::on(kind, freq_hz, gain_db, q);
    s.eq.bands[0] = band(FilterKind::LowShelf, 150.0, 3.0, 0.707);
    s.eq.bands[1] = band(FilterKind::Bell, 2500.0, 5.0, 1.2);
    s.compressor.enabled = true;
    s.compressor.threshold_db = -22.0;
    s.compressor.ratio = 3.0;
    s.compressor.detector = Detector::Peak;
    s
}

/// Mean CPU time of `runs` calls of `f`, ms, this thread's ([`timings::thread_cpu_s`]: on a
/// shared machine wall-clock times include waiting for a core; CPU time does not).
fn cpu_ms(runs: usize, mut f: impl FnMut()) -> Option<f64> {
    let start = timings::thread_cpu_s()?;
    for _ in 0..runs {
        f();
    }
    Some((timings::thread_cpu_s()? - start) * 1000.0 / runs as f64)
}

/// With `MATCHBOX_MATERIAL` set, the material is also written there as stereo float WAVs
/// (`bench-paired.ref.wav`, `bench-unpaired.ref.wav`, `bench.src.wav`), for checking that a
/// restructuring of the analysis leaves its presets byte-identical.
fn write_material(dir: &std::path::Path, files: &[(&str, &Audio)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, audio) in files {
        matchbox::audio_io::write_wav_f32(&dir.join(name), audio).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let dry = take(1);
    let other = take(2);
    let audio = |channels| Audio {
        sample_rate: FS as u32,
        channels,
    };
    let source = audio(dry.clone());
    let paired_ref = audio(analysis::render(&preset(), &dry, FS));
    let unpaired_ref = audio(analysis::render(&preset(), &other, FS));
    if let Some(dir) = std::env::var_os("MATCHBOX_MATERIAL") {
        let files = [
            ("bench-paired.ref.wav", &paired_ref),
            ("bench-unpaired.ref.wav", &unpaired_ref),
            ("bench.src.wav", &source),
        ];
        write_material(std::path::Path::new(&dir), &files);
    }
    let options = AnalyzeOptions::default();
    let cases: [(&str, &Audio, Option<&Audio>); 3] = [
        ("paired", &paired_ref, Some(&source)),
        ("unpaired", &unpaired_ref, Some(&source)),
        ("no source", &paired_ref, None),
    ];
    for (name, reference, src) in cases {
        let mut last = None;
        let ms = cpu_ms(5, || {
            last = Some(black_box(
                analysis::analyze(reference, src, &options).unwrap(),
            ));
        });
        if let Some(ms) = ms {
            println!(
                "analyze 3 min stereo 44.1 kHz/{name}: CPU time {ms:.0} ms per analysis (mean of 5)"
            );
        }
        // Where the last of them spent its time, as `matchbox analyze --timings` prints it.
        if let Some(last) = last {
            for row in matchbox::report::summary::timing_rows(&last.timings) {
                println!("  {row}");
            }
        }
    }
    let mut group = c.benchmark_group("analyze 3 min stereo 44.1 kHz");
    group.sample_size(10);
    group.bench_function("paired", |b| {
        b.iter(|| analysis::analyze(black_box(&paired_ref), Some(&source), &options).unwrap())
    });
    group.bench_function("unpaired", |b| {
        b.iter(|| analysis::analyze(black_box(&unpaired_ref), Some(&source), &options).unwrap())
    });
    group.bench_function("no source", |b| {
        b.iter(|| analysis::analyze(black_box(&paired_ref), None, &options).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
