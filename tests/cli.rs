//! The `matchbox` binary end to end: render, check, presets, bench, live, compare, help and the
//! documented exit codes (0 ok, 2 usage, 3 preset, 4 audio file, 5 not in this build), and
//! `analyze --report` as SVG or PNG.

mod common;

use common::{busy, code, matchbox, read_wav, stderr, stdout, write_f32_wav};
use std::f32::consts::TAU;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn presets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")
}

fn sine(freq_hz: f32, sample_rate: u32, frames: usize, amplitude: f32) -> Vec<f32> {
    (0..frames)
        .map(|i| amplitude * (TAU * freq_hz * i as f32 / sample_rate as f32).sin())
        .collect()
}

fn rms_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64;
    10.0 * ms.log10()
}

fn flat_round_trip(sample_rate: u32, channels: usize) {
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<Vec<f32>> = (0..channels)
        .map(|c| busy(sample_rate, sample_rate as usize / 2, c as u32 + 1))
        .collect();
    write_f32_wav(&dir.path().join("in.wav"), sample_rate, &input);
    let o = matchbox(
        &["render", "--preset", "Flat", "in.wav", "out.wav"],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (spec, output) = read_wav(&dir.path().join("out.wav"));
    assert_eq!(spec.sample_rate, sample_rate);
    assert_eq!(spec.channels as usize, channels);
    assert_eq!(spec.bits_per_sample, 32);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(output.len(), channels);
    for (x, y) in input.iter().zip(&output) {
        assert_eq!(x.len(), y.len());
        let max_diff = x
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_diff <= 1e-6, "max difference {max_diff}");
    }
}

#[test]
fn flat_render_reproduces_44k1_mono() {
    flat_round_trip(44_100, 1);
}

#[test]
fn flat_render_reproduces_48k_stereo() {
    flat_round_trip(48_000, 2);
}

/// Level change (dB) of a steady sine at `freq_hz`, −20 dBFS, through `preset`, measured
/// over the second half of one second (after the compressor has settled).
fn sine_gain_db(preset: &str, freq_hz: f32) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let x = sine(freq_hz, 48_000, 48_000, 0.1);
    write_f32_wav(&dir.path().join("in.wav"), 48_000, std::slice::from_ref(&x));
    let o = matchbox(&["render", "-p", preset, "in.wav", "out.wav"], dir.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (_, y) = read_wav(&dir.path().join("out.wav"));
    rms_db(&y[0][24_000..]) - rms_db(&x[24_000..])
}

#[test]
fn telephone_removes_lows_and_highs_but_keeps_the_voice_band() {
    let at_100 = sine_gain_db("Telephone", 100.0);
    let at_1k = sine_gain_db("Telephone", 1_000.0);
    let at_8k = sine_gain_db("Telephone", 8_000.0);
    assert!(at_100 <= -20.0, "100 Hz: {at_100:.1} dB");
    assert!(at_8k <= -15.0, "8 kHz: {at_8k:.1} dB");
    assert!(at_1k.abs() <= 6.0, "1 kHz: {at_1k:.1} dB");
}

#[test]
fn compressed_formats_render_at_their_own_rate_and_channels() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = tempfile::tempdir().unwrap();
    for (file, rate, channels) in [
        ("sine-44k1-mono.flac", 44_100, 1),
        ("sine-48k-stereo.mp3", 48_000, 2),
        ("sine-22k05-stereo.ogg", 22_050, 2),
    ] {
        let out = dir.path().join(format!("{file}.wav"));
        let o = matchbox(
            &[
                "render",
                "-p",
                "Vocal Warm",
                data.join(file).to_str().unwrap(),
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_eq!(code(&o), 0, "{file}: {}", stderr(&o));
        let (spec, y) = read_wav(&out);
        assert_eq!(
            (spec.sample_rate, spec.channels),
            (rate, channels),
            "{file}"
        );
        let level = rms_db(&y[0]);
        // A −6 dBFS sine (−9 dB RMS) comes out within a few dB: no silence, no blow-up.
        assert!((-16.0..-3.0).contains(&level), "{file}: {level:.1} dB RMS");
    }
}

#[test]
fn block_size_does_not_change_the_rendered_sound() {
    let dir = tempfile::tempdir().unwrap();
    let input = [busy(48_000, 24_000, 7), busy(48_000, 24_000, 8)];
    write_f32_wav(&dir.path().join("in.wav"), 48_000, &input);
    let mut outputs = Vec::new();
    for block in ["1", "7", "4096"] {
        let out = format!("out-{block}.wav");
        let o = matchbox(
            &[
                "render",
                "-p",
                "Beatbox Punch",
                "--block",
                block,
                "in.wav",
                &out,
            ],
            dir.path(),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        outputs.push(read_wav(&dir.path().join(out)).1);
    }
    for other in &outputs[1..] {
        for (a, b) in outputs[0].iter().zip(other) {
            let max_diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(max_diff <= 1e-6, "max difference {max_diff}");
        }
    }
    // And the preset really did something.
    let changed = input[0]
        .iter()
        .zip(&outputs[0][0])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(changed > 0.01, "{changed}");
}

#[test]
fn three_channel_input_is_an_audio_error() {
    let dir = tempfile::tempdir().unwrap();
    let ch = vec![0.1f32; 1000];
    write_f32_wav(
        &dir.path().join("three.wav"),
        48_000,
        &[ch.clone(), ch.clone(), ch],
    );
    let o = matchbox(
        &["render", "-p", "Flat", "three.wav", "out.wav"],
        dir.path(),
    );
    assert_eq!(code(&o), 4);
    assert_eq!(
        stderr(&o),
        "error: three.wav: 3 channels; only mono and stereo are supported\n"
    );
    assert!(!dir.path().join("out.wav").exists());
}

#[test]
fn missing_and_corrupt_inputs_are_one_line_audio_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.wav"), "not audio\n".repeat(50)).unwrap();
    let mut truncated = Vec::new();
    write_f32_wav(&dir.path().join("full.wav"), 48_000, &[vec![0.5; 4800]]);
    truncated.extend_from_slice(&std::fs::read(dir.path().join("full.wav")).unwrap()[..30]);
    std::fs::write(dir.path().join("cut.wav"), truncated).unwrap();
    for (file, expected_start) in [
        ("gone.wav", "error: gone.wav: cannot open: "),
        ("notes.wav", "error: notes.wav: "),
        ("cut.wav", "error: cut.wav: "),
    ] {
        let o = matchbox(&["render", "-p", "Flat", file, "out.wav"], dir.path());
        assert_eq!(code(&o), 4, "{file}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with(expected_start), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn output_equal_to_input_is_refused_and_input_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write_f32_wav(&dir.path().join("take.wav"), 48_000, &[vec![0.25; 480]]);
    let before = std::fs::read(dir.path().join("take.wav")).unwrap();
    for out in ["take.wav", "./sub/../take.wav"] {
        let o = matchbox(&["render", "-p", "Telephone", "take.wav", out], dir.path());
        assert_eq!(code(&o), 2, "{out}");
        assert!(
            stderr(&o).contains("is the same file as IN"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read(dir.path().join("take.wav")).unwrap(), before);
}

#[test]
fn bad_preset_or_block_size_exit_with_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    write_f32_wav(&dir.path().join("in.wav"), 48_000, &[vec![0.25; 480]]);
    let o = matchbox(&["render", "-p", "Kazoo", "in.wav", "out.wav"], dir.path());
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("factory presets: Flat, Beatbox Punch"),
        "{}",
        stderr(&o)
    );
    for block in ["0", "65537", "x"] {
        let o = matchbox(
            &[
                "render", "-p", "Flat", "--block", block, "in.wav", "out.wav",
            ],
            dir.path(),
        );
        assert_eq!(code(&o), 2, "--block {block}");
    }
    // The extremes are allowed and give the same result as the default.
    for block in ["1", "65536"] {
        let o = matchbox(
            &[
                "render", "-p", "Flat", "--block", block, "in.wav", "out.wav",
            ],
            dir.path(),
        );
        assert_eq!(code(&o), 0, "--block {block}: {}", stderr(&o));
    }
}

#[test]
fn render_reads_a_preset_file_and_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        presets_dir().join("flat.json"),
        dir.path().join("mine.json"),
    )
    .unwrap();
    write_f32_wav(&dir.path().join("in.wav"), 22_050, &[vec![0.25; 2205]]);
    let o = matchbox(
        &["render", "-p", "mine.json", "in.wav", "out.wav"],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "rendered in.wav (22050 Hz, mono, 0.10 s) through \"Flat\" to out.wav\n"
    );
}

const BAD_FREQ: &str = r#"{"schema": "matchbox-preset", "version": 1, "name": "Beat",
 "description": "", "settings": {"input_gain_db": 0, "eq": {"bands": [
  {"enabled": false, "type": "bell", "freq_hz": 100, "gain_db": 0, "q": 1, "slope_db_per_oct": 12},
  {"enabled": false, "type": "bell", "freq_hz": 100, "gain_db": 0, "q": 1, "slope_db_per_oct": 12},
  {"enabled": false, "type": "bell", "freq_hz": 100, "gain_db": 0, "q": 1, "slope_db_per_oct": 12},
  {"enabled": true, "type": "bell", "freq_hz": 30000, "gain_db": 3, "q": 1, "slope_db_per_oct": 12}]},
 "compressor": {"enabled": false, "threshold_db": -20, "ratio": 4, "knee_db": 6, "attack_ms": 5,
  "release_ms": 80, "makeup_db": 0, "auto_makeup": false, "detector": "peak", "sidechain_hpf": false,
  "sidechain_hpf_hz": 100, "stereo_link_pct": 100, "mix_pct": 100},
 "output_gain_db": 0, "ceiling": {"enabled": true, "ceiling_db": -1}}}"#;

#[test]
fn check_accepts_every_factory_file() {
    let dir = presets_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let args: Vec<&str> = std::iter::once("check")
        .chain(files.iter().map(String::as_str))
        .collect();
    let o = matchbox(&args, &dir);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let expected: String = files.iter().map(|f| format!("ok: {f}\n")).collect();
    assert_eq!(stdout(&o), expected);
    assert_eq!(stderr(&o), "");
}

#[test]
fn check_names_each_bad_file_field_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("beat.json"), BAD_FREQ).unwrap();
    std::fs::write(
        dir.path().join("typo.json"),
        BAD_FREQ
            .replace("30000", "1000")
            .replace(r#""knee_db": 6"#, r#""knee_db": "soft""#),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("good.json"),
        BAD_FREQ.replace("30000", "1000"),
    )
    .unwrap();
    let o = matchbox(
        &[
            "check",
            "beat.json",
            "good.json",
            "typo.json",
            "absent.json",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 3);
    assert_eq!(stdout(&o), "ok: good.json\n");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(
        lines[0],
        "beat.json: settings.eq.bands[3].freq_hz: 30000 is above 20000"
    );
    assert_eq!(
        lines[1],
        "typo.json: settings.compressor.knee_db: invalid type: string \"soft\", expected f32"
    );
    assert!(lines[2].starts_with("absent.json: cannot read: "), "{err}");
}

#[test]
fn check_migrates_a_version_0_file_and_refuses_a_newer_one() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let o = matchbox(&["check", "preset-v0.json"], &data);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok: preset-v0.json\n");
    let dir = tempfile::tempdir().unwrap();
    let v0 = std::fs::read_to_string(data.join("preset-v0.json")).unwrap();
    let v9 = v0.replace("\"version\": 0", "\"version\": 9");
    std::fs::write(dir.path().join("future.json"), v9).unwrap();
    let o = matchbox(&["check", "future.json"], dir.path());
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "future.json: version: was written by a newer Matchbox (version 9; this one reads up to 1)\n"
    );
}

#[test]
fn presets_lists_every_factory_preset_with_a_description() {
    let dir = tempfile::tempdir().unwrap();
    let o = matchbox(&["presets"], dir.path());
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    let names: Vec<String> = matchbox::preset::factory_names();
    assert_eq!(out.lines().count(), names.len());
    for (line, name) in out.lines().zip(&names) {
        assert!(line.starts_with(name.as_str()), "{line}");
        assert!(line.len() > name.len() + 20, "no description: {line}");
    }
    assert_eq!(stdout(&matchbox(&["presets", "list"], dir.path())), out);
}

#[test]
fn presets_show_prints_the_shipped_json() {
    let dir = tempfile::tempdir().unwrap();
    for query in ["Beatbox Punch", "beatbox-punch"] {
        let o = matchbox(&["presets", "show", query], dir.path());
        assert_eq!(code(&o), 0);
        let shipped = std::fs::read_to_string(presets_dir().join("beatbox-punch.json")).unwrap();
        assert_eq!(stdout(&o), shipped);
    }
    let o = matchbox(&["presets", "show", "Kazoo"], dir.path());
    assert_eq!(code(&o), 3);
    assert_eq!(stdout(&o), "");
}

/// `plugin-params` prints the parameter table as JSON that a host test can parse (one
/// parameter per host parameter, each with its stable ID).
#[test]
fn plugin_params_prints_parseable_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = matchbox(&["plugin-params"], dir.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let params: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(params.len() > 60, "{} parameters", params.len());
    assert!(
        params
            .iter()
            .all(|p| p["id"].as_str().is_some_and(|id| !id.is_empty()))
    );
    assert_eq!(params[0]["id"], "ingain");
}

#[test]
fn bench_prints_a_line_per_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let o = matchbox(&["bench", "--seconds", "0.2"], dir.path());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("block=")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, prefix) in lines.iter().zip([
        "matchbox block=64: ",
        "matchbox block=512: ",
        "matchbox silence-after-burst block=512: ",
    ]) {
        let rest = line
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line}"));
        let (ns, rest) = rest.split_once(" ns/sample/ch, ").unwrap();
        let ns: f64 = ns.parse().unwrap();
        assert!(ns.is_finite() && ns >= 0.0, "{line}");
        assert!(rest.ends_with("x realtime"), "{line}");
    }
    let o = matchbox(
        &[
            "bench",
            "-p",
            "Telephone",
            "--seconds",
            "0.1",
            "--block",
            "7",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("preset \"Telephone\""));
    assert!(stdout(&o).contains("matchbox block=7: "));
    assert_eq!(code(&matchbox(&["bench", "--seconds", "0"], dir.path())), 2);
}

#[test]
fn help_works_everywhere_and_lists_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["render", "--help"],
        vec!["check", "--help"],
        vec!["compare", "--help"],
        vec!["presets", "--help"],
        vec!["presets", "list", "--help"],
        vec!["presets", "show", "--help"],
        vec!["bench", "--help"],
        vec!["live", "--help"],
        vec!["devices", "--help"],
        vec!["help", "render"],
    ] {
        let o = matchbox(&args, dir.path());
        assert_eq!(code(&o), 0, "{args:?}");
        let out = stdout(&o);
        assert!(out.contains("Usage: matchbox"), "{args:?}: {out}");
        assert!(
            out.contains("Exit codes:\n  0  success\n"),
            "{args:?}: {out}"
        );
        assert!(out.contains("  4  audio file"), "{args:?}");
    }
    assert_eq!(code(&matchbox(&["render"], dir.path())), 2);
    assert_eq!(code(&matchbox(&["frobnicate"], dir.path())), 2);
}

fn check_fallback_render(path: &Path) {
    let (spec, y) = read_wav(path);
    assert_eq!((spec.sample_rate, spec.channels), (48_000, 2));
    assert_eq!(y[0].len(), 460_800); // 9.6 s
    let level = rms_db(&y[0]);
    assert!(level > -40.0 && level < 0.0, "{level} dBFS");
}

#[test]
fn live_falls_back_to_a_render_without_a_sound_card() {
    // With no arguments `matchbox` runs `live`. On a machine with no sound card and no JACK
    // server (CI) it must say so and render the loop. A JACK server of the developer's is kept
    // out of it by naming a server that does not exist; a machine with a sound card would
    // start live monitoring instead, so there the test has nothing to check.
    let cards = std::fs::read_to_string("/proc/asound/cards").unwrap_or_default();
    if cards.lines().any(|l| l.contains("]: ")) {
        eprintln!("this machine has a sound card: the fallback is not what `matchbox` does here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .current_dir(dir.path())
        .env("JACK_DEFAULT_SERVER", "matchbox-test-no-such-server")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("no sound card found: "), "{out}");
    assert!(out.contains("and no JACK server is running"), "{out}");
    assert!(out.contains("through \"Beatbox Punch\""));
    check_fallback_render(&dir.path().join("matchbox-live-fallback.wav"));
}

#[test]
fn live_fallback_can_be_forced_with_any_preset() {
    let dir = tempfile::tempdir().unwrap();
    let o = matchbox(
        &[
            "live",
            "--fallback",
            "--preset",
            "telephone",
            "--fallback-output",
            "phone.wav",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("through \"Telephone\" to phone.wav"));
    check_fallback_render(&dir.path().join("phone.wav"));
    let o = matchbox(&["live", "--preset", "Kazoo"], dir.path());
    assert_eq!(code(&o), 3);
}

#[test]
fn devices_says_what_there_is_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .arg("devices")
        .current_dir(dir.path())
        .env("JACK_DEFAULT_SERVER", "matchbox-test-no-such-server")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("JACK: no server is running\nALSA: "),
        "{out}"
    );
    assert!(
        out.contains("ALSA input devices") && out.contains("ALSA output devices"),
        "{out}"
    );
    // ALSA's own diagnostics stay off the terminal.
    assert!(!stderr(&o).contains("ALSA lib"), "{}", stderr(&o));
}

/// A 3 s mono take (`dry.wav`) and the same through "Vocal Presence" (`ref.wav`) in `dir`.
fn analysis_inputs(dir: &Path) {
    let sample_rate = 44_100;
    let dry: Vec<f32> = busy(sample_rate, 3 * sample_rate as usize, 5)
        .iter()
        .enumerate()
        // Two levels 12 dB apart, so the level histograms have some spread.
        .map(|(i, v)| {
            if (i / 11_025).is_multiple_of(2) {
                *v
            } else {
                v / 4.0
            }
        })
        .collect();
    write_f32_wav(&dir.join("dry.wav"), sample_rate, &[dry]);
    let o = matchbox(
        &["render", "-p", "Vocal Presence", "dry.wav", "ref.wav"],
        dir,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

fn analyze_with_report(dir: &Path, report: &str) -> Output {
    matchbox(
        &[
            "analyze",
            "--reference",
            "ref.wav",
            "--source",
            "dry.wav",
            "--output",
            "m.json",
            "--report",
            report,
        ],
        dir,
    )
}

/// A paired analysis says what its polish did: the waveform SNR on the stretches that check it
/// rises, and the polish is kept (the reference is the source through a factory preset, a
/// chain the polish can copy).
#[test]
fn analyze_says_how_close_the_polish_brought_the_waveform() {
    let dir = tempfile::tempdir().unwrap();
    analysis_inputs(dir.path());
    let o = matchbox(
        &["analyze", "-r", "ref.wav", "-s", "dry.wav", "-o", "m.json"],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("polish: "))
        .unwrap_or_else(|| panic!("no polish line in {out}"));
    // "... waveform SNR 25.1 dB before, 44.5 dB after (8 iterations) ...": the figure two
    // words before `word`.
    let snr = |word: &str| -> f64 {
        let words: Vec<&str> = line.split(' ').collect();
        let i = words
            .iter()
            .position(|w| w.trim_end_matches(',') == word)
            .unwrap();
        words[i - 2].parse().unwrap()
    };
    let (before, after) = (snr("before"), snr("after"));
    // Measured: 25.1 dB before, 44.5 dB after.
    assert!(line.ends_with("; kept"), "{line}");
    assert!(after >= 40.0 && after > before + 15.0, "{line}");
}

/// Pixels (RGBA) of a PNG file, with its width and height, via the `png` crate.
fn decode_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info, pixels)
}

#[test]
fn analyze_report_png_is_the_report_drawn_on_white_at_twice_the_svg_size() {
    let dir = tempfile::tempdir().unwrap();
    analysis_inputs(dir.path());
    // The extension picks the format in any case.
    let o = analyze_with_report(dir.path(), "report.PNG");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("wrote m.json and report.PNG"),
        "{}",
        stdout(&o)
    );
    let o = analyze_with_report(dir.path(), "report.Svg");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let svg = std::fs::read_to_string(dir.path().join("report.Svg")).unwrap();
    let attribute = |name: &str| -> f64 {
        let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[start..].split('"').next().unwrap().parse().unwrap()
    };
    let (svg_w, svg_h) = (attribute("width"), attribute("height"));

    let (info, pixels) = decode_png(&dir.path().join("report.PNG"));
    assert_eq!(
        (info.width, info.height),
        ((2.0 * svg_w) as u32, (2.0 * svg_h) as u32)
    );
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgba, png::BitDepth::Eight)
    );
    let (w, h) = (info.width as usize, info.height as usize);
    let px = |x: usize, y: usize| -> [u8; 4] {
        let i = 4 * (y * w + x);
        pixels[i..i + 4].try_into().unwrap()
    };
    let all = || (0..h).flat_map(move |y| (0..w).map(move |x| (x, y)));
    // White and opaque: the corners, and most of the picture.
    for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
        assert_eq!(px(x, y), [255; 4], "({x}, {y})");
    }
    assert!(all().all(|(x, y)| px(x, y)[3] == 255), "transparent pixels");
    let white = all().filter(|&(x, y)| px(x, y) == [255; 4]).count();
    assert!(white > w * h / 2, "{white} of {} px white", w * h);
    // Each series colour (reference blue, fitted red, source grey): a line 3 px thick over
    // two panels 1120 px wide would be up to 6700 px; the fitted curve hides some blue.
    for (name, rgb) in [
        ("blue", [0x1f, 0x77, 0xb4]),
        ("red", [0xd6, 0x27, 0x28]),
        ("grey", [0x7f, 0x7f, 0x7f]),
    ] {
        let n = all()
            .filter(|&(x, y)| (0..3).all(|i| px(x, y)[i].abs_diff(rgb[i]) <= 24))
            .count();
        assert!(n > 2_000, "{name}: {n} px");
    }
    // Text: the titles above the top panels, found as the first row mostly dark (the panel
    // frames' top edges).
    let dark = |x: usize, y: usize| px(x, y)[..3].iter().all(|&c| c < 0x80);
    let top = (0..h)
        .find(|&y| (0..w).filter(|&x| dark(x, y)).count() > w / 3)
        .expect("a panel frame");
    let ink = (0..top)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| dark(x, y))
        .count();
    assert!(top > 40 && ink > 2_000, "{ink} dark px above y = {top}");
}

#[test]
fn analyze_refuses_a_report_name_it_cannot_draw_before_analysing() {
    let dir = tempfile::tempdir().unwrap();
    analysis_inputs(dir.path());
    for name in ["report.pdf", "report", "report.png.txt"] {
        let o = analyze_with_report(dir.path(), name);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(name) && err.contains(".svg or .png") && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(stdout(&o).is_empty());
        assert!(!dir.path().join(name).exists());
        assert!(!dir.path().join("m.json").exists());
    }
}

/// `busy` under a level that alternates every 0.5 s between 0 and −12 dB, stereo.
fn bursts(sample_rate: u32, seconds: usize) -> Vec<Vec<f32>> {
    let frames = sample_rate as usize * seconds;
    (0..2)
        .map(|c| {
            busy(sample_rate, frames, c + 1)
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let quiet = (i / (sample_rate as usize / 2)) % 2 == 1;
                    if quiet { v * 0.25 } else { v }
                })
                .collect()
        })
        .collect()
}

fn compare_json(out: &str, reference: &str, cwd: &Path) -> serde_json::Value {
    let o = matchbox(&["compare", out, reference], cwd);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("compare prints JSON")
}

#[test]
fn compare_scores_a_gain_change_and_a_tilt() {
    let dir = tempfile::tempdir().unwrap();
    let fs = 44_100;
    let reference = bursts(fs, 6);
    write_f32_wav(&dir.path().join("ref.wav"), fs, &reference);
    // Half the amplitude: −6.02 dB of loudness, the same spectrum shape, spread and crest;
    // the waveform error is half the reference, so SNR = 20·log10(2) = 6.02 dB.
    let half: Vec<Vec<f32>> = reference
        .iter()
        .map(|c| c.iter().map(|v| v * 0.5).collect())
        .collect();
    write_f32_wav(&dir.path().join("half.wav"), fs, &half);
    let j = compare_json("half.wav", "ref.wav", dir.path());
    let f = |key: &str| j[key].as_f64().unwrap_or_else(|| panic!("{key}: {j}"));
    assert!((f("loudness_diff_lu") + 6.02).abs() < 0.01, "{j}");
    assert!(f("ltas_error_rms_db") < 0.01, "{j}");
    assert!(f("level_spread_diff_db").abs() < 0.01, "{j}");
    assert!(f("crest_factor_diff_db").abs() < 0.01, "{j}");
    assert!((f("snr_db") - 6.02).abs() < 0.01, "{j}");
    // The reference's own spread: 12 dB between its loud and quiet halves.
    let spread = j["reference"]["level_spread_db"].as_f64().unwrap();
    assert!((spread - 12.04).abs() < 0.5, "{j}");
    assert_eq!(j["channels"].as_u64(), Some(2));
    assert_eq!(j["common_frames"].as_u64(), Some(6 * fs as u64));

    // A first difference tilts the spectrum by 6 dB/octave: a large spectrum error.
    let tilted: Vec<Vec<f32>> = reference
        .iter()
        .map(|c| {
            let mut prev = 0.0;
            c.iter()
                .map(|&v| {
                    let d = v - prev;
                    prev = v;
                    d
                })
                .collect()
        })
        .collect();
    write_f32_wav(&dir.path().join("tilted.wav"), fs, &tilted);
    let j = compare_json("tilted.wav", "ref.wav", dir.path());
    assert!(j["ltas_error_rms_db"].as_f64().unwrap() > 5.0, "{j}");
}

#[test]
fn compare_refuses_different_rates_or_channels_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = busy(44_100, 44_100, 1);
    write_f32_wav(&dir.path().join("a.wav"), 44_100, &[a.clone(), a.clone()]);
    write_f32_wav(
        &dir.path().join("mono.wav"),
        44_100,
        std::slice::from_ref(&a),
    );
    write_f32_wav(&dir.path().join("b.wav"), 48_000, &[a.clone(), a]);
    let o = matchbox(&["compare", "b.wav", "a.wav"], dir.path());
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("48000 Hz"), "{}", stderr(&o));
    let o = matchbox(&["compare", "mono.wav", "a.wav"], dir.path());
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("channel"), "{}", stderr(&o));
    let o = matchbox(&["compare", "nothing.wav", "a.wav"], dir.path());
    assert_eq!(code(&o), 4);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
}

/// `analyze --timings` prints each stage's wall-clock and CPU seconds, and the figures add up:
/// the analysis' stages to its row, the command's rows to the total (each printed to 0.01 s).
#[test]
fn analyze_timings_add_up_to_the_run() {
    struct Row {
        depth: usize,
        name: String,
        /// Wall clock, then CPU (a part of a stage has only the first).
        seconds: Vec<f64>,
    }
    let dir = tempfile::tempdir().unwrap();
    analysis_inputs(dir.path());
    let o = matchbox(
        &[
            "analyze",
            "-r",
            "ref.wav",
            "-s",
            "dry.wav",
            "-o",
            "m.json",
            "--timings",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    // "    polish        0.81   1.49": the depth by the indent, the name, the figures.
    let rows: Vec<Row> = out
        .lines()
        .skip_while(|l| !l.starts_with("timings, s "))
        .skip(1)
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let name = words.iter().take_while(|w| w.parse::<f64>().is_err());
            let name: Vec<&str> = name.copied().collect();
            Row {
                depth: (l.len() - l.trim_start().len()) / 2,
                seconds: words[name.len()..]
                    .iter()
                    .map(|w| w.parse().unwrap())
                    .collect(),
                name: name.join(" "),
            }
        })
        .collect();
    let named = |depth: usize| -> Vec<&str> {
        rows.iter()
            .filter(|r| r.depth == depth)
            .map(|r| r.name.as_str())
            .collect()
    };
    assert_eq!(
        named(1),
        ["decoding", "analysis", "writing", "total"],
        "{out}"
    );
    assert_eq!(
        named(2),
        [
            "input checks",
            "lining up",
            "ceiling, spectra",
            "EQ and compressor stages",
            "whole files' metrics (rest)",
            "polish",
            "level stage",
            "prediction"
        ],
        "{out}"
    );
    let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    let sum = |depth: usize, column: usize| -> f64 {
        rows.iter()
            .filter(|r| r.depth == depth && r.name != "total")
            .map(|r| r.seconds[column])
            .sum()
    };
    // Rounding: half a hundredth per figure; and the call around the analysis' stages.
    for column in [0, 1] {
        let (stages, analysis) = (sum(2, column), row("analysis").seconds[column]);
        assert!((stages - analysis).abs() <= 0.005 * 9.0 + 0.002, "{out}");
        let (command, total) = (sum(1, column), row("total").seconds[column]);
        assert!((command - total).abs() <= 0.005 * 4.0, "{out}");
    }
    assert!(row("polish").seconds[0] > 0.0, "{out}");
    // Where the trial made them, its fits to the linear response were part of the polish.
    if let Some(fits) = rows.iter().find(|r| r.depth == 3) {
        assert!(fits.seconds[0] <= row("polish").seconds[0] + 0.01, "{out}");
    }
}
