//! Quality of `matchbox analyze` on synthesised material (issue 4).
//!
//! Dry beat-like takes are made here (kicks, snares, hi-hats, a hummed voice with formants,
//! chirps: all from a seeded generator), pushed through a known Matchbox preset with the real
//! chain to make the "reference", analysed, and the learned preset rendered on the dry take.
//! The result is measured with the project's metrics (research/matching.md §5) against the
//! reference.

use matchbox::analysis::{self, AnalysisError, AnalysisWarning, AnalyzeOptions, metrics};
use matchbox::audio_io::Audio;
use matchbox::dsp::{ChainSettings, Detector, EqBandSettings, FilterKind};

const FS: f64 = 44_100.0;

/// Seeded uniform noise in [−1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

/// A dry beatbox-like take of `seconds`: a 16-step pattern at 100 BPM with random variation
/// in level (±10 dB), timing and timbre, a hummed voice line and a chirp every bar.
fn dry_take(seconds: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let len = (seconds * FS) as usize;
    let mut x = vec![0.0f64; len];
    let step = (60.0 / 100.0 / 4.0 * FS) as usize;
    let pattern = [
        'k', '.', 'h', '.', 's', '.', 'h', 'k', 'k', '.', 'h', '.', 's', '.', 'h', 'h',
    ];
    let mut t = 0;
    let mut i = 0;
    while t < len {
        let jitter = ((rng.next() * 0.01) * FS) as i64;
        let start = (t as i64 + jitter).max(0) as usize;
        let level = 10f64.powf((rng.next() * 10.0 - 4.0) / 20.0);
        match pattern[i % pattern.len()] {
            'k' => {
                // Kick: a pitch drop from 160 to 50 Hz with a click.
                let mut phase = 0.0;
                for n in 0..(0.35 * FS) as usize {
                    let ts = n as f64 / FS;
                    let f = 50.0 + 110.0 * (-ts / 0.03).exp();
                    phase += std::f64::consts::TAU * f / FS;
                    let env = (-ts / 0.12).exp();
                    if let Some(v) = x.get_mut(start + n) {
                        *v += 0.5 * level * env * phase.sin()
                            + 0.1 * level * (-ts / 0.002).exp() * rng.next();
                    }
                }
            }
            's' => {
                // Snare: band-limited noise burst plus a 190 Hz body.
                let mut lp = 0.0;
                for n in 0..(0.25 * FS) as usize {
                    let ts = n as f64 / FS;
                    let noise = rng.next();
                    lp += 0.35 * (noise - lp);
                    let env = (-ts / 0.06).exp();
                    let body = (std::f64::consts::TAU * 190.0 * ts).sin() * (-ts / 0.04).exp();
                    if let Some(v) = x.get_mut(start + n) {
                        *v += 0.3 * level * (env * (noise - 0.5 * lp) + 0.5 * body);
                    }
                }
            }
            'h' => {
                // Hi-hat: differentiated noise, very short.
                let mut prev = 0.0;
                for n in 0..(0.06 * FS) as usize {
                    let ts = n as f64 / FS;
                    let noise = rng.next();
                    let env = (-ts / 0.015).exp();
                    if let Some(v) = x.get_mut(start + n) {
                        *v += 0.12 * level * env * (noise - prev);
                    }
                    prev = noise;
                }
            }
            _ => {}
        }
        t += step;
        i += 1;
    }
    // A hummed voice: a sawtooth-like tone at 110–220 Hz, phrases of 1–2 s, through two
    // resonances (formants) at 500 and 1500 Hz.
    let mut t = 0;
    let (mut y1, mut y2) = ([0.0f64; 2], [0.0f64; 2]);
    let resonator = |f: f64, bw: f64| {
        let r = (-std::f64::consts::PI * bw / FS).exp();
        (
            2.0 * r * (std::f64::consts::TAU * f / FS).cos(),
            -r * r,
            1.0 - r,
        )
    };
    let (a1, b1, g1) = resonator(500.0, 120.0);
    let (a2, b2, g2) = resonator(1500.0, 200.0);
    while t < len {
        let dur = ((1.0 + rng.next().abs()) * FS) as usize;
        let f0 = 110.0 * 2f64.powf(rng.next().abs());
        let level = 0.05 * 10f64.powf(rng.next() * 6.0 / 20.0);
        let mut phase = 0.0;
        for n in 0..dur.min(len - t) {
            let ts = n as f64 / FS;
            phase = (phase + f0 * (1.0 + 0.01 * (6.0 * ts).sin()) / FS) % 1.0;
            let saw = 2.0 * phase - 1.0;
            let env = (ts / 0.05).min(1.0) * ((dur as f64 / FS - ts) / 0.1).clamp(0.0, 1.0);
            let o1 = a1 * y1[0] + b1 * y1[1] + g1 * saw;
            y1 = [o1, y1[0]];
            let o2 = a2 * y2[0] + b2 * y2[1] + g2 * saw;
            y2 = [o2, y2[0]];
            x[t + n] += level * env * (3.0 * o1 + 2.0 * o2 + 0.1 * saw);
        }
        t += dur + (0.5 * FS * (1.0 + rng.next())) as usize;
    }
    // A chirp (100 Hz → 8 kHz in 0.5 s) every 2.4 s: energy across the whole band.
    let mut t = (0.7 * FS) as usize;
    while t < len {
        let mut phase = 0.0;
        for n in 0..(0.5 * FS) as usize {
            let ts = n as f64 / FS;
            let f = 100.0 * 80f64.powf(ts / 0.5);
            phase += std::f64::consts::TAU * f / FS;
            if let Some(v) = x.get_mut(t + n) {
                *v += 0.03 * phase.sin() * (ts / 0.01).min(1.0) * ((0.5 - ts) / 0.01).min(1.0);
            }
        }
        t += (2.4 * FS) as usize;
    }
    // A quiet mic noise floor (−70 dBFS).
    x.iter().map(|v| (v + 3e-4 * rng.next()) as f32).collect()
}

fn band(kind: FilterKind, freq_hz: f32, gain_db: f32, q: f32) -> EqBandSettings {
    EqBandSettings::on(kind, freq_hz, gain_db, q)
}

/// The "engineer's" preset the reference is made with.
fn known_preset(detector: Detector) -> ChainSettings {
    let mut s = ChainSettings::default();
    s.eq.bands[0] = band(FilterKind::LowShelf, 120.0, 4.0, 0.707);
    s.eq.bands[1] = band(FilterKind::Bell, 400.0, -5.0, 1.4);
    s.eq.bands[2] = band(FilterKind::Bell, 3000.0, 6.0, 1.0);
    s.eq.bands[3] = band(FilterKind::HighShelf, 9000.0, 3.0, 0.707);
    let c = &mut s.compressor;
    c.enabled = true;
    c.threshold_db = -24.0;
    c.ratio = 4.0;
    c.knee_db = 6.0;
    c.attack_ms = 5.0;
    c.release_ms = 120.0;
    c.detector = detector;
    s.output_gain_db = 4.0;
    assert!(s.validate().is_empty());
    s
}

fn mono(x: Vec<f32>) -> Audio {
    Audio {
        sample_rate: FS as u32,
        channels: vec![x],
    }
}

/// The figures the issue bounds, of `out` against `reference`.
#[derive(Debug)]
struct Figures {
    ltas_rms_db: f64,
    loudness_lu: f64,
    spread_db: f64,
    crest_db: f64,
    snr_db: f64,
}

fn figures(out: &[f32], reference: &[f32]) -> Figures {
    let (ltas_rms_db, _) = metrics::ltas_error_db(out, reference, FS);
    let m_out = metrics::SignalMetrics::measure(&[out], FS);
    let m_ref = metrics::SignalMetrics::measure(&[reference], FS);
    Figures {
        ltas_rms_db,
        loudness_lu: (m_out.loudness_lufs - m_ref.loudness_lufs).abs(),
        spread_db: (m_out.level_spread_db - m_ref.level_spread_db).abs(),
        crest_db: (m_out.crest_factor_db - m_ref.crest_factor_db).abs(),
        snr_db: metrics::snr_db(out, reference),
    }
}

fn paired_case(detector: Detector, seed: u64) {
    let dry = dry_take(30.0, seed);
    let truth = known_preset(detector);
    let reference = analysis::render(&truth, std::slice::from_ref(&dry), FS).remove(0);
    let result = analysis::analyze(
        &mono(reference.clone()),
        Some(&mono(dry.clone())),
        &AnalyzeOptions::default(),
    )
    .expect("analysis runs");
    assert!(result.paired, "{:?}", result.alignment);
    assert!(result.settings.validate().is_empty());
    let out = analysis::render(&result.settings, std::slice::from_ref(&dry), FS).remove(0);
    let f = figures(&out, &reference);
    let before = figures(&dry, &reference);
    eprintln!(
        "paired {detector:?}: {f:?}\n  unprocessed: {before:?}\n  settings: {:?}",
        result.settings
    );
    assert!(f.ltas_rms_db <= 0.5, "{f:?}");
    assert!(f.loudness_lu <= 0.3, "{f:?}");
    assert!(f.spread_db <= 1.0, "{f:?}");
    assert!(f.crest_db <= 0.5, "{f:?}");
    assert!(f.snr_db >= 20.0, "{f:?}");
    // The unprocessed take is far off on every figure, so the bounds mean something.
    assert!(
        before.ltas_rms_db > 2.0 && before.snr_db < 10.0,
        "{before:?}"
    );
}

#[test]
fn paired_peak_detector_preset_is_matched_within_the_issue_bounds() {
    paired_case(Detector::Peak, 1);
}

#[test]
fn paired_rms_detector_preset_is_matched_within_the_issue_bounds() {
    paired_case(Detector::Rms, 2);
}

/// Unpaired: the reference is ANOTHER take through the same preset. The learned preset is
/// judged the DeepAFx way: the dry take through it against the dry take through the true
/// preset (its ground truth). Bounds are looser because only statistics can be matched:
/// two takes' long-term spectra differ by their content (measured below as the floor), and
/// level distribution and crest factor fix ratio and threshold only up to a trade-off.
#[test]
fn unpaired_take_is_matched_within_looser_bounds() {
    let truth = known_preset(Detector::Peak);
    let dry = dry_take(30.0, 3);
    let other = dry_take(30.0, 4);
    let reference = analysis::render(&truth, std::slice::from_ref(&other), FS).remove(0);
    let ground_truth = analysis::render(&truth, std::slice::from_ref(&dry), FS).remove(0);
    let result = analysis::analyze(
        &mono(reference.clone()),
        Some(&mono(dry.clone())),
        &AnalyzeOptions::default(),
    )
    .expect("analysis runs");
    assert!(!result.paired, "{:?}", result.alignment);
    assert!(result.settings.validate().is_empty());
    let out = analysis::render(&result.settings, std::slice::from_ref(&dry), FS).remove(0);
    let f = figures(&out, &ground_truth);
    let before = figures(&dry, &ground_truth);
    let content_floor = figures(&other, &dry).ltas_rms_db;
    eprintln!(
        "unpaired: {f:?}\n  unprocessed: {before:?}\n  take-to-take LTAS: {content_floor:.2} dB\n  pairing: {:?}\n  settings: {:?}",
        result.alignment, result.settings
    );
    assert!(f.ltas_rms_db <= 1.0 + content_floor, "{f:?}");
    assert!(f.loudness_lu <= 0.5, "{f:?}");
    assert!(f.spread_db <= 1.5, "{f:?}");
    assert!(f.crest_db <= 1.5, "{f:?}");
    assert!(
        f.ltas_rms_db < 0.5 * before.ltas_rms_db,
        "{f:?} vs {before:?}"
    );
}

#[test]
fn same_inputs_give_the_same_preset_byte_for_byte() {
    let dry = dry_take(6.0, 5);
    let reference =
        analysis::render(&known_preset(Detector::Rms), std::slice::from_ref(&dry), FS).remove(0);
    let run = || {
        let a = analysis::analyze(
            &mono(reference.clone()),
            Some(&mono(dry.clone())),
            &AnalyzeOptions::default(),
        )
        .unwrap();
        serde_json::to_string(&a.settings).unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn without_a_source_the_preset_is_low_confidence_but_valid() {
    let reference =
        analysis::render(&known_preset(Detector::Peak), &[dry_take(5.0, 6)], FS).remove(0);
    let a = analysis::analyze(&mono(reference), None, &AnalyzeOptions::default()).unwrap();
    assert!(a.low_confidence);
    assert!(a.warnings.contains(&AnalysisWarning::NoSource));
    assert!(a.settings.validate().is_empty());
    assert!(
        a.settings
            .eq
            .bands
            .iter()
            .all(|b| !b.enabled || b.gain_db <= 6.5)
    );
}

#[test]
fn bad_inputs_give_one_line_errors_or_warnings() {
    let dry = dry_take(4.0, 7);
    let opts = AnalyzeOptions::default();
    let short = mono(dry[..(1.5 * FS) as usize].to_vec());
    let e = analysis::analyze(&short, None, &opts).unwrap_err();
    assert!(matches!(e, AnalysisError::TooShort { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "reference: 1.50 s long; at least 2 s are needed"
    );
    let silent = mono(vec![0.0; (3.0 * FS) as usize]);
    let e = analysis::analyze(&mono(dry.clone()), Some(&silent), &opts).unwrap_err();
    assert_eq!(e.to_string(), "source: silent (nothing above -70 dBFS)");
    for bands in [0, 9, 100] {
        let e = analysis::analyze(&mono(dry.clone()), None, &AnalyzeOptions { bands, ..opts })
            .unwrap_err();
        assert_eq!(e, AnalysisError::Bands(bands));
    }
    let e = analysis::analyze(
        &mono(dry.clone()),
        None,
        &AnalyzeOptions {
            amount: 1.5,
            ..opts
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("allowed 0 to 1"), "{e}");
    // Clipped reference: a warning, and a valid preset.
    let clipped: Vec<f32> = dry.iter().map(|v| (v * 8.0).clamp(-1.0, 1.0)).collect();
    let a = analysis::analyze(&mono(clipped), Some(&mono(dry.clone())), &opts).unwrap();
    assert!(
        a.warnings
            .iter()
            .any(|w| matches!(w, AnalysisWarning::ClippedReference { .. })),
        "{:?}",
        a.warnings
    );
    assert!(a.settings.validate().is_empty());
    // Stereo reference, mono source: a warning, and a valid preset.
    let stereo = Audio {
        sample_rate: FS as u32,
        channels: vec![dry.clone(), dry.iter().map(|v| v * 0.5).collect()],
    };
    let a = analysis::analyze(&stereo, Some(&mono(dry.clone())), &opts).unwrap();
    assert!(
        a.warnings
            .iter()
            .any(|w| matches!(w, AnalysisWarning::ChannelMismatch { .. }))
    );
    assert!(a.settings.validate().is_empty());
}

fn write_wav(path: &std::path::Path, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: FS as u32,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

fn matchbox(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_writes_a_checked_preset_report_and_documented_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let dry = dry_take(8.0, 8);
    let reference = analysis::render(
        &known_preset(Detector::Peak),
        std::slice::from_ref(&dry),
        FS,
    )
    .remove(0);
    write_wav(&p("dry.wav"), &dry);
    write_wav(&p("ref.wav"), &reference);
    write_wav(&p("short.wav"), &dry[..FS as usize]);
    let os = |s: &str| std::ffi::OsString::from(s);
    let run = |extra: &[std::ffi::OsString]| {
        let mut args = vec![
            os("analyze"),
            os("--reference"),
            p("ref.wav").into_os_string(),
        ];
        args.extend_from_slice(extra);
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        matchbox(&refs)
    };
    let out = run(&[
        os("--source"),
        p("dry.wav").into_os_string(),
        os("--output"),
        p("m.json").into_os_string(),
        os("--report"),
        p("m.svg").into_os_string(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("same performance") && stdout.contains("expected:"),
        "{stdout}"
    );
    let check = matchbox(&[os("check").as_os_str(), p("m.json").as_os_str()]);
    assert_eq!(check.status.code(), Some(0));
    let json = std::fs::read_to_string(p("m.json")).unwrap();
    assert!(
        json.contains("\"predicted_snr_db\"") && json.contains("\"ref.wav\""),
        "{json}"
    );
    let svg = std::fs::read_to_string(p("m.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    // Bad input: documented exit codes, one-line messages.
    let cases: [(&[std::ffi::OsString], i32, &str); 4] = [
        (
            &[
                os("--output"),
                p("x.json").into_os_string(),
                os("--bands"),
                os("9"),
            ],
            2,
            "--bands 9: allowed 1 to 8",
        ),
        (
            &[
                os("--source"),
                p("missing.wav").into_os_string(),
                os("--output"),
                p("x.json").into_os_string(),
            ],
            4,
            "missing.wav",
        ),
        (
            &[
                os("--source"),
                p("short.wav").into_os_string(),
                os("--output"),
                p("x.json").into_os_string(),
            ],
            6,
            "source: 1.00 s long",
        ),
        (
            &[
                os("--output"),
                p("x.json").into_os_string(),
                os("--report"),
                p("x.pdf").into_os_string(),
            ],
            2,
            ".svg or .png",
        ),
    ];
    for (extra, code, message) in cases {
        let out = run(extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains(message) && stderr.trim().lines().count() == 1,
            "{stderr}"
        );
    }
    assert!(!p("x.json").exists());
}

#[test]
fn odd_but_valid_inputs_give_valid_presets() {
    let fs = FS as u32;
    let sine: Vec<f32> = (0..3 * fs as usize)
        .map(|n| (0.5 * (std::f64::consts::TAU * 440.0 * n as f64 / FS).sin()) as f32)
        .collect();
    let dry = dry_take(3.0, 9);
    let opts = AnalyzeOptions::default();
    // A pure tone against noisy beats; a source that is a short piece of the reference; the
    // same take at another sample rate; amount 0; one band, no compressor.
    let piece = mono(dry[(0.5 * FS) as usize..(2.8 * FS) as usize].to_vec());
    let other_rate = Audio {
        sample_rate: 48_000,
        channels: vec![dry.clone(), dry.clone()],
    };
    let cases: Vec<(Audio, Audio, AnalyzeOptions)> = vec![
        (mono(sine.clone()), mono(dry.clone()), opts),
        (mono(dry.clone()), piece, opts),
        (mono(dry.clone()), other_rate, opts),
        (
            mono(dry.clone()),
            mono(sine),
            AnalyzeOptions {
                amount: 0.0,
                ..opts
            },
        ),
        (
            mono(dry.clone()),
            mono(dry.clone()),
            AnalyzeOptions {
                bands: 1,
                compressor: false,
                ..opts
            },
        ),
    ];
    for (reference, source, options) in cases {
        let a = analysis::analyze(&reference, Some(&source), &options).unwrap();
        assert!(
            a.settings.validate().is_empty(),
            "{:?}",
            a.settings.validate()
        );
        assert!(a.settings.eq.bands.iter().filter(|b| b.enabled).count() <= options.bands);
        if options.amount == 0.0 {
            assert!(a.settings.eq.bands.iter().all(|b| !b.enabled));
        }
    }
}

/// What the analysis achieves on each factory preset, paired, on the varied take and on the
/// periodic loop: (take, preset, [spectrum dB, loudness LU, spread dB, crest dB, SNR dB]).
/// `every_factory_preset_is_learned_from_a_paired_take` prints this table afresh (run it with
/// `--nocapture`); update it, with the reason, whenever the analysis changes its results.
/// SNRs above 99 dB (Flat: exact) are written as 99.
///
/// Last changed by the waveform polish (issue 12, point 5; `src/analysis/polish/`): the
/// SNR rose on 12 of the 16 cases other than Flat and stayed on 4 (where the polish's check
/// kept the chain as it was). Varied take: Beatbox Punch 19.3 → 33.7 dB, Telephone 20.3 →
/// 31.4 dB (spectrum 3.83 → 0.95 dB), Vocal Presence 36.9 → 44.5 dB; loop: Broadcast 14.6 →
/// 40.3 dB, Beatbox Sub 16.0 → 35.1 dB, Telephone 18.6 → 38.1 dB (spectrum 1.97 → 0.65 dB).
/// What got worse: Gentle Leveler's take (loudness 0.05 → 0.15 LU, spread 0.01 → 0.38 dB,
/// crest 1.06 → 1.14 dB, for SNR 28.8 → 29.4 dB), the level spread of Vocal Presence's loop
/// (0.12 → 0.77 dB), Vocal Warm's take (0.24 → 0.35 dB) and Beatbox Sub's take (0.11 →
/// 0.20 dB), and spectrum errors by at most 0.05 dB (Beatbox Sub's loop, 0.08 → 0.13 dB).
/// The ceiling brought down to the reference's peak level where the output's crest factor
/// reads high (level stage) changed four cases, the table not updated then: crest errors on
/// the take through Vocal Warm 0.92 → 0.08 dB, Telephone 0.81 → 0.03 dB, Gentle Leveler
/// 1.14 → 0.16 dB, and on Vocal Warm's loop 1.06 → 0.49 dB (SNR up by 0.1–0.4 dB). Last
/// changed by the polish's trial of the ceiling at the reference's peak level: the take
/// through Broadcast 13.3 → 23.3 dB (spread 0.40 → 0.05 dB; worse: spectrum 0.19 → 0.25 dB,
/// crest 0.19 → 0.27 dB), Vocal Warm's loop 20.5 → 40.4 dB (every figure better: loudness
/// 0.32 → 0.08 LU, spread 0.27 → 0.01 dB, crest 0.49 → 0.01 dB), Beatbox Sub's take crest
/// 0.014 → 0.021 dB. Then by its trial of the chain fitted to the linear response: the take
/// through Vocal Warm 29.4 → 37.7 dB (spread 0.35 → 0.11 dB; worse: loudness 0.058 → 0.068
/// LU), Vocal Presence's loop 29.2 → 43.2 dB (spread 0.77 → 0.15 dB, crest 0.39 → 0.01 dB).
/// Last changed by the output gain moved to the whole take's loudness (after being set on
/// segments with their pre-roll) and the linear-response trial's two chains, each with both
/// detectors: mean loudness error 0.058 → 0.005 LU, mean SNR 42.7 → 46.8 dB, mean crest error
/// 0.12 → 0.11 dB; the take through Beatbox Sub 27.2 → 39.8 dB, Vocal Warm's loop 40.4 → 60.2
/// dB, Live Safety Limiter's loop 41.3 → 71.7 dB. Worse: the take through Beatbox Sub, crest
/// 0.021 → 0.095 dB (spread 0.20 → 0.10 dB better), the take through Broadcast, spread 0.054 →
/// 0.298 dB (SNR 23.3 → 25.4 dB, loudness 0.24 → 0.00 LU, crest 0.27 → 0.14 dB better).
/// Last changed by the polish's trial going on after three iterations with only the closest
/// start of each kind and the closest of the rest (`polish::trial_descents`): the take through
/// Broadcast ends on another of the linear response's four chains (25.33 dB on the check,
/// against 25.37 dB for the one that polishing every start to the end chose): SNR 25.4 → 25.3
/// dB, spectrum 0.220 → 0.209 dB, crest 0.140 → 0.118 dB; worse: spread 0.298 → 0.307 dB.
const FACTORY_MEASURED: &[(&str, &str, [f64; 5])] = &[
    ("varied take", "Flat", [0.000, 0.000, 0.000, 0.000, 99.0]),
    (
        "varied take",
        "Beatbox Punch",
        [0.110, 0.025, 0.262, 0.021, 33.9],
    ),
    (
        "varied take",
        "Beatbox Sub",
        [0.094, 0.000, 0.102, 0.095, 39.8],
    ),
    (
        "varied take",
        "Vocal Warm",
        [0.036, 0.002, 0.110, 0.006, 39.5],
    ),
    (
        "varied take",
        "Vocal Presence",
        [0.065, 0.000, 0.006, 0.075, 45.2],
    ),
    (
        "varied take",
        "Telephone",
        [0.958, 0.028, 0.137, 0.020, 31.6],
    ),
    (
        "varied take",
        "Broadcast",
        [0.209, 0.000, 0.307, 0.118, 25.3],
    ),
    (
        "varied take",
        "Gentle Leveler",
        [0.082, 0.038, 0.339, 0.042, 30.9],
    ),
    (
        "varied take",
        "Live Safety Limiter",
        [0.009, 0.000, 0.014, 0.055, 48.0],
    ),
    ("periodic loop", "Flat", [0.000, 0.000, 0.000, 0.000, 99.0]),
    (
        "periodic loop",
        "Beatbox Punch",
        [0.093, 0.000, 0.024, 0.074, 38.5],
    ),
    (
        "periodic loop",
        "Beatbox Sub",
        [0.130, 0.000, 0.038, 0.020, 39.3],
    ),
    (
        "periodic loop",
        "Vocal Warm",
        [0.012, 0.000, 0.014, 0.009, 60.2],
    ),
    (
        "periodic loop",
        "Vocal Presence",
        [0.079, 0.000, 0.151, 0.010, 43.2],
    ),
    (
        "periodic loop",
        "Telephone",
        [0.648, 0.000, 0.014, 0.000, 38.1],
    ),
    (
        "periodic loop",
        "Broadcast",
        [0.151, 0.000, 0.060, 0.005, 40.4],
    ),
    (
        "periodic loop",
        "Gentle Leveler",
        [0.517, 0.000, 1.428, 1.355, 18.4],
    ),
    (
        "periodic loop",
        "Live Safety Limiter",
        [0.002, 0.000, 0.005, 0.001, 71.7],
    ),
];

/// How far outside [`FACTORY_MEASURED`] the bounds sit: an error may grow by 5 % plus 0.02
/// (dB or LU), the SNR may fall by 0.5 dB. The analysis is deterministic; the margin absorbs
/// the last digits another CPU's floating-point paths (FMA, vector widths) may change.
const FACTORY_MARGIN: (f64, f64, f64) = (0.05, 0.02, 0.5);

/// Every factory preset, on the varied take and on a strictly periodic loop (the live demo's:
/// the same kick and bass note every bar), paired: the pairing search must line the takes
/// up whatever the preset does to them, and every figure must hold its bound
/// ([`FACTORY_MEASURED`], [`FACTORY_MARGIN`]).
#[test]
fn every_factory_preset_is_learned_from_a_paired_take() {
    let takes = [
        ("varied take", dry_take(20.0, 11)),
        (
            "periodic loop",
            matchbox::cli::synth::beatbox_loop(FS as f32, 20.0),
        ),
    ];
    let mut measured = Vec::new();
    let mut misses = Vec::new();
    for (take, dry) in &takes {
        for (_, preset) in matchbox::preset::factory::factory_presets() {
            let reference =
                analysis::render(&preset.settings, std::slice::from_ref(dry), FS).remove(0);
            let result = analysis::analyze(
                &mono(reference.clone()),
                Some(&mono(dry.clone())),
                &AnalyzeOptions::default(),
            )
            .expect("analysis runs");
            let alignment = result.alignment.expect("same rate");
            assert!(result.paired, "{take}, {}: {alignment:?}", preset.name);
            assert!(
                alignment.lag_samples.abs() <= 4,
                "{take}, {}: {alignment:?}",
                preset.name
            );
            let out = analysis::render(&result.settings, std::slice::from_ref(dry), FS).remove(0);
            let f = figures(&out, &reference);
            let got = [
                f.ltas_rms_db,
                f.loudness_lu,
                f.spread_db,
                f.crest_db,
                f.snr_db.min(99.0),
            ];
            measured.push(format!(
                "    (\"{take}\", \"{}\", [{:.3}, {:.3}, {:.3}, {:.3}, {:.1}]),",
                preset.name, got[0], got[1], got[2], got[3], got[4]
            ));
            let Some((_, _, want)) = FACTORY_MEASURED
                .iter()
                .find(|(t, p, _)| t == take && *p == preset.name)
            else {
                misses.push(format!("{take}, {}: not in FACTORY_MEASURED", preset.name));
                continue;
            };
            let (relative, absolute, snr_db) = FACTORY_MARGIN;
            let names = ["spectrum", "loudness", "spread", "crest"];
            for ((name, g), w) in names.iter().zip(&got).zip(want) {
                if *g > w * (1.0 + relative) + absolute {
                    misses.push(format!(
                        "{take}, {}: {name} {g:.3} (measured {w})",
                        preset.name
                    ));
                }
            }
            if got[4] < want[4] - snr_db {
                misses.push(format!(
                    "{take}, {}: SNR {:.1} dB (measured {})",
                    preset.name, got[4], want[4]
                ));
            }
        }
    }
    eprintln!(
        "const FACTORY_MEASURED: &[(&str, &str, [f64; 5])] = &[\n{}\n];",
        measured.join("\n")
    );
    assert!(misses.is_empty(), "beyond the bounds: {misses:#?}");
}

/// A first-order section by the bilinear transform, as JUCE's `makeFirstOrderHighPass` /
/// `makeFirstOrderLowPass` (what Pedalboard's HighpassFilter and LowpassFilter run):
/// K = tan(π f / fs); b, a of H(z) = (b0 + b1 z⁻¹) / (1 + a1 z⁻¹).
fn juce_first_order(x: &[f32], freq_hz: f64, high_pass: bool) -> Vec<f32> {
    let k = (std::f64::consts::PI * freq_hz / FS).tan();
    let (b0, b1) = if high_pass {
        (1.0 / (1.0 + k), -1.0 / (1.0 + k))
    } else {
        (k / (1.0 + k), k / (1.0 + k))
    };
    let a1 = (k - 1.0) / (k + 1.0);
    let (mut x1, mut y1) = (0.0f64, 0.0f64);
    x.iter()
        .map(|&v| {
            let y = b0 * v as f64 + b1 * x1 - a1 * y1;
            (x1, y1) = (v as f64, y);
            y as f32
        })
        .collect()
}

/// A peaking filter by the bilinear transform, as JUCE's `makePeakFilter` (RBJ cookbook).
fn juce_peak(x: &[f32], freq_hz: f64, q: f64, gain_db: f64) -> Vec<f32> {
    let a = 10f64.powf(gain_db / 40.0);
    let w0 = std::f64::consts::TAU * freq_hz / FS;
    let alpha = w0.sin() / (2.0 * q);
    let a0 = 1.0 + alpha / a;
    let b = [
        (1.0 + alpha * a) / a0,
        -2.0 * w0.cos() / a0,
        (1.0 - alpha * a) / a0,
    ];
    let den = [-2.0 * w0.cos() / a0, (1.0 - alpha / a) / a0];
    let (mut x1, mut x2, mut y1, mut y2) = (0.0f64, 0.0, 0.0, 0.0);
    x.iter()
        .map(|&v| {
            let v = v as f64;
            let y = b[0] * v + b[1] * x1 + b[2] * x2 - den[0] * y1 - den[1] * y2;
            (x2, x1, y2, y1) = (x1, v, y1, y);
            y as f32
        })
        .collect()
}

/// References that went through cuts, with no compressor: a JUCE chain (first-order low cut
/// at 80 Hz and high cut at 16 kHz around two peaking bells), and the factory presets with
/// 24 dB/oct cuts, compressor off. Learned from a paired take, the preset must meet the
/// issue's bounds on the spectrum and on the waveform: the waveform only matches when the
/// cut is learned as a cut (a shelf copies the magnitude, not the phase).
#[test]
fn references_with_cuts_are_matched_in_spectrum_and_waveform() {
    let dry = dry_take(20.0, 11);
    let juce = {
        let x = juce_first_order(&dry, 80.0, true);
        let x = juce_peak(&x, 300.0, 1.0, -3.0);
        let x = juce_peak(&x, 3_000.0, 1.2, 4.0);
        juce_first_order(&x, 16_000.0, false)
    };
    let mut cases = vec![("JUCE chain".to_owned(), juce)];
    for (_, preset) in matchbox::preset::factory::factory_presets() {
        if ["Vocal Presence", "Telephone", "Beatbox Sub"].contains(&preset.name.as_str()) {
            let mut settings = preset.settings.clone();
            settings.compressor.enabled = false;
            let reference = analysis::render(&settings, std::slice::from_ref(&dry), FS).remove(0);
            cases.push((preset.name.clone(), reference));
        }
    }
    assert_eq!(cases.len(), 4);
    for (name, reference) in cases {
        let result = analysis::analyze(
            &mono(reference.clone()),
            Some(&mono(dry.clone())),
            &AnalyzeOptions::default(),
        )
        .expect("analysis runs");
        assert!(result.paired, "{name}: {:?}", result.alignment);
        let out = analysis::render(&result.settings, std::slice::from_ref(&dry), FS).remove(0);
        let f = figures(&out, &reference);
        let bands: Vec<String> = result
            .settings
            .eq
            .bands
            .iter()
            .filter(|b| b.enabled)
            .map(|b| {
                format!(
                    "{} {:.0} Hz {:+.1} dB Q {:.2} {} dB/oct",
                    b.kind.name(),
                    b.freq_hz,
                    b.gain_db,
                    b.q,
                    b.slope_db_per_oct
                )
            })
            .collect();
        eprintln!(
            "{name}: spectrum {:.2} dB, SNR {:.1} dB, compressor {}\n  {bands:?}",
            f.ltas_rms_db, f.snr_db, result.settings.compressor.enabled
        );
        assert!(f.ltas_rms_db <= 0.5, "{name}: {f:?}");
        assert!(f.snr_db >= 20.0, "{name}: {f:?}");
        assert!(
            result.settings.eq.bands.iter().any(|b| b.kind.uses_slope()),
            "{name}: no cut learned"
        );
    }
}

/// The ceiling follows the reference: at its peak when a limiter made the peaks pile up
/// against one level, out of the way (0 dBFS) when the peaks are natural, off when the
/// reference goes above full scale.
#[test]
fn the_ceiling_is_learned_from_how_the_reference_peaks() {
    let dry = dry_take(10.0, 12);
    let peak_db = |x: &[f32]| 20.0 * x.iter().fold(0.0f32, |m, v| m.max(v.abs())).log10();
    let mut limiter = ChainSettings::default();
    limiter.input_gain_db = 6.0;
    limiter.ceiling.ceiling_db = -3.0;
    let limited = analysis::render(&limiter, std::slice::from_ref(&dry), FS).remove(0);
    let c = analysis::fit_ceiling(&mono(limited)).settings;
    assert!(c.enabled && (c.ceiling_db + 3.0).abs() < 0.01, "{c:?}");

    let natural: Vec<f32> = dry.iter().map(|v| v * 0.25).collect();
    assert!(peak_db(&natural) < -3.0, "{}", peak_db(&natural));
    let c = analysis::fit_ceiling(&mono(natural)).settings;
    assert!(c.enabled && c.ceiling_db == 0.0, "{c:?}");

    let hot: Vec<f32> = dry.iter().map(|v| v * 2.0).collect();
    assert!(peak_db(&hot) > 0.5, "{}", peak_db(&hot));
    assert!(!analysis::fit_ceiling(&mono(hot)).settings.enabled);
}

/// Writes the material of these tests as WAV pairs (`NAME.ref.wav`, `NAME.src.wav`) into the
/// directory `MATCHBOX_MATERIAL` names, for checking that a restructuring of the analysis
/// leaves its presets byte-identical: `matchbox analyze` every pair before and after, then
/// `cmp` the presets.
///
/// `MATCHBOX_MATERIAL=dir cargo test --release --test analysis_quality write_material -- --ignored`
#[test]
#[ignore = "writes files; run by hand with MATCHBOX_MATERIAL set"]
fn write_material() {
    let dir =
        std::path::PathBuf::from(std::env::var("MATCHBOX_MATERIAL").expect("MATCHBOX_MATERIAL"));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, reference: &[f32], source: &[f32]| {
        write_wav(&dir.join(format!("{name}.ref.wav")), reference);
        write_wav(&dir.join(format!("{name}.src.wav")), source);
    };
    let through = |settings: &ChainSettings, x: &[f32]| {
        analysis::render(settings, &[x.to_vec()], FS).remove(0)
    };
    for (detector, seed) in [(Detector::Peak, 1), (Detector::Rms, 2)] {
        let dry = dry_take(30.0, seed);
        write(
            &format!("paired-{detector:?}"),
            &through(&known_preset(detector), &dry),
            &dry,
        );
    }
    let (dry, other) = (dry_take(30.0, 3), dry_take(30.0, 4));
    write(
        "unpaired",
        &through(&known_preset(Detector::Peak), &other),
        &dry,
    );
    let takes = [
        ("varied", dry_take(20.0, 11)),
        ("loop", matchbox::cli::synth::beatbox_loop(FS as f32, 20.0)),
    ];
    for (take, dry) in &takes {
        for (file, preset) in matchbox::preset::factory::factory_presets() {
            let slug = file.file_name.trim_end_matches(".json");
            write(
                &format!("factory-{take}-{slug}"),
                &through(&preset.settings, dry),
                dry,
            );
        }
    }
}
