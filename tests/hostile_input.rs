//! Issue 13, class by class, with the built binary: no panic, no silent nonsense, no user's
//! file lost. Exit codes: 1 runtime (incl. a failed write to stdout), 2 usage (incl. an output
//! that is an input), 3 preset, 4 audio, 6 unusable input. The randomised counterpart is
//! tests/fuzz_cli.rs.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// `seconds` of a busy mono signal as 32-bit float WAV bytes with header `h` (`h.channels`
/// copies of it).
fn busy_wav(h: RawWav, seconds: f32) -> Vec<u8> {
    let frames = (seconds * h.sample_rate.clamp(1, 400_000) as f32) as usize;
    let x = busy(h.sample_rate.max(1), frames, 3);
    let interleaved: Vec<f32> = x
        .iter()
        .flat_map(|&v| std::iter::repeat_n(v, usize::from(h.channels)))
        .collect();
    h.bytes(&h.encode(&interleaved))
}

/// Runs `args` in `dir` and checks the exit code and that stderr is one line starting with
/// `error: ` and holding `needle`.
fn refused(dir: &Path, args: &[&str], exit: i32, needle: &str) {
    let o = matchbox(args, dir);
    let err = stderr(&o);
    assert_eq!(code(&o), exit, "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1 && err.contains(needle),
        "{args:?}: {err}"
    );
}

#[test]
fn headers_outside_the_supported_range_are_refused_by_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Sample rate 0 panicked inside symphonia; 100 Hz, 1 kHz and 536 MHz gave nonsense.
    for (rate, needle) in [
        (0, "the decoder failed on it"),
        (
            100,
            "sample rate 100 Hz is outside the supported 8000 to 384000 Hz",
        ),
        (1_000, "sample rate 1000 Hz is outside"),
        (7_999, "sample rate 7999 Hz is outside"),
        (384_001, "sample rate 384001 Hz is outside"),
        (536_870_912, "sample rate 536870912 Hz is outside"),
    ] {
        write(&d.join("bad.wav"), &busy_wav(RawWav::float(1, rate), 0.01));
        refused(
            d,
            &["render", "-p", "Flat", "bad.wav", "out.wav"],
            4,
            "bad.wav: ",
        );
        refused(
            d,
            &["render", "-p", "Flat", "bad.wav", "out.wav"],
            4,
            needle,
        );
        refused(d, &["analyze", "-r", "bad.wav", "-o", "p.json"], 4, needle);
        refused(d, &["compare", "bad.wav", "bad.wav"], 4, needle);
        assert!(!d.join("out.wav").exists() && !d.join("p.json").exists());
    }
    // Both ends of the range render.
    for rate in [8_000, 384_000] {
        write(&d.join("edge.wav"), &busy_wav(RawWav::float(2, rate), 0.05));
        let o = matchbox(&["render", "-p", "Telephone", "edge.wav", "out.wav"], d);
        assert_eq!(code(&o), 0, "{rate}: {}", stderr(&o));
        let (spec, y) = read_wav(&d.join("out.wav"));
        assert_eq!(
            (spec.sample_rate, y.len(), y[0].len()),
            (rate, 2, rate as usize / 20)
        );
    }
}

#[test]
fn a_header_that_disagrees_with_its_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = RawWav {
        format_tag: 1,
        channels: 1,
        sample_rate: 48_000,
        bits: 16,
        block_align: None,
        data_len: None,
    };
    // 2 s of audio; a block alignment of 40000 made it render as 5 frames.
    write(
        &d.join("align.wav"),
        &busy_wav(
            RawWav {
                block_align: Some(40_000),
                ..good
            },
            2.0,
        ),
    );
    refused(
        d,
        &["render", "-p", "Flat", "align.wav", "out.wav"],
        4,
        "align.wav: corrupt audio: the data does not fit the header's block alignment (a packet of 4 frames decodes to",
    );
    // The header states 2 s, the file holds 1 s (a cut-off recording).
    let one_second = busy_wav(good, 1.0);
    let mut long_header = RawWav {
        data_len: Some(2 * 48_000 * 2),
        ..good
    }
    .bytes(&[]);
    long_header.extend_from_slice(&one_second[44..]);
    write(&d.join("cut.wav"), &long_header);
    refused(
        d,
        &["compare", "cut.wav", "cut.wav"],
        4,
        "cut.wav: corrupt audio: the file ends after 48000 of the 96000 frames its header states",
    );
    refused(
        d,
        &["render", "-p", "Flat", "cut.wav", "out.wav"],
        4,
        "the file ends after 48000 of the 96000 frames",
    );
    assert!(!d.join("out.wav").exists());
}

#[test]
fn non_finite_or_huge_samples_are_refused_naming_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fs = 22_050;
    let x = busy(fs, 3 * fs as usize, 9);
    write_f32_wav(&d.join("good.wav"), fs, std::slice::from_ref(&x));
    for (value, shown) in [
        (f32::NAN, "is NaN"),
        (f32::INFINITY, "is inf"),
        (f32::NEG_INFINITY, "is -inf"),
        (3e38, "is 3e38"),
        (1000.5, "is 1000.5"),
    ] {
        let mut y = x.clone();
        y[12_345] = value;
        write_f32_wav(&d.join("bad.wav"), fs, &[x.clone(), y]);
        let needle = format!(
            "bad.wav: sample 12345 of channel 2 {shown}; only finite samples within ±1000 (+60 dBFS) are supported"
        );
        refused(d, &["analyze", "-r", "bad.wav", "-o", "p.json"], 4, &needle);
        refused(
            d,
            &["analyze", "-r", "good.wav", "-s", "bad.wav", "-o", "p.json"],
            4,
            &needle,
        );
        refused(d, &["compare", "good.wav", "bad.wav"], 4, &needle);
        refused(d, &["compare", "bad.wav", "good.wav"], 4, &needle);
        refused(
            d,
            &["render", "-p", "Flat", "bad.wav", "out.wav"],
            4,
            &needle,
        );
        assert!(!d.join("p.json").exists() && !d.join("out.wav").exists());
    }
    // ±1000 itself is in range (a float file far above full scale still renders).
    let mut loud = x.clone();
    loud[7] = -1000.0;
    write_f32_wav(&d.join("loud.wav"), fs, &[loud]);
    let o = matchbox(&["render", "-p", "Flat", "loud.wav", "out.wav"], d);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // An all-NaN reference is refused at its first sample.
    write_f32_wav(&d.join("nan.wav"), fs, &[vec![f32::NAN; 3 * fs as usize]]);
    refused(
        d,
        &["analyze", "-r", "nan.wav", "-s", "good.wav", "-o", "p.json"],
        4,
        "nan.wav: sample 0 of channel 1 is NaN",
    );
}

#[test]
fn compare_refuses_files_too_short_to_measure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_f32_wav(&d.join("long.wav"), 44_100, &[busy(44_100, 44_100, 1)]);
    write_f32_wav(&d.join("short.wav"), 44_100, &[busy(44_100, 17_639, 1)]);
    refused(
        d,
        &["compare", "long.wav", "short.wav"],
        6,
        "short.wav: 0.400 s long; compare needs at least 0.4 s",
    );
    write(&d.join("empty.wav"), &RawWav::float(1, 44_100).bytes(&[]));
    refused(
        d,
        &["compare", "empty.wav", "long.wav"],
        6,
        "empty.wav: 0.000 s long",
    );
}

/// A 4 s paired take: `dry` mono and the same through "Vocal Presence" as stereo (`wet`).
fn paired_takes(dir: &Path) {
    let fs = 44_100;
    let dry: Vec<f32> = busy(fs, 4 * fs as usize, 5)
        .iter()
        .enumerate()
        .map(|(i, v)| if (i / 11_025) % 2 == 0 { *v } else { v / 4.0 })
        .collect();
    write_f32_wav(&dir.join("dry-mono.wav"), fs, std::slice::from_ref(&dry));
    write_f32_wav(&dir.join("dry-stereo.wav"), fs, &[dry.clone(), dry]);
    let o = matchbox(
        &[
            "render",
            "-p",
            "Vocal Presence",
            "dry-stereo.wav",
            "wet-stereo.wav",
        ],
        dir,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = matchbox(
        &[
            "render",
            "-p",
            "Vocal Presence",
            "dry-mono.wav",
            "wet-mono.wav",
        ],
        dir,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// A directory with [`paired_takes`] and a copy of the factory preset file `preset`.
fn paired_takes_and_preset(preset: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    paired_takes(dir.path());
    let factory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("presets")
        .join(preset);
    std::fs::copy(factory, dir.path().join(preset)).unwrap();
    dir
}

#[test]
fn analyze_matches_mono_and_stereo_takes_either_way_round() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    paired_takes(d);
    // Mono reference, stereo source panicked (index out of bounds in comp_fit).
    let mut gains = Vec::new();
    for (reference, source) in [
        ("wet-mono.wav", "dry-stereo.wav"),
        ("wet-stereo.wav", "dry-mono.wav"),
        ("wet-stereo.wav", "dry-stereo.wav"),
    ] {
        let o = matchbox(
            &["analyze", "-r", reference, "-s", source, "-o", "p.json"],
            d,
        );
        assert_eq!(code(&o), 0, "{reference} {source}: {}", stderr(&o));
        if reference != "wet-stereo.wav" || source != "dry-stereo.wav" {
            assert!(
                stderr(&o).contains("the mono one is analysed as dual mono"),
                "{}",
                stderr(&o)
            );
        }
        assert!(stdout(&o).contains("same performance"), "{}", stdout(&o));
        let preset: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("p.json")).unwrap()).unwrap();
        gains.push(preset["settings"]["output_gain_db"].as_f64().unwrap());
        assert_eq!(code(&matchbox(&["check", "p.json"], d)), 0);
    }
    // A mono file plays as dual mono: the same performance in mono or stereo needs the same
    // output gain (it read 3 dB apart when mono was measured as one channel).
    for g in &gains {
        assert!((g - gains[2]).abs() < 0.5, "output gains {gains:?}");
    }
}

/// `matchbox args` with stdout going to `stdout`.
fn with_stdout(args: &[&str], dir: &Path, stdout: impl Into<Stdio>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .args(args)
        .current_dir(dir)
        .stdout(stdout)
        .output()
        .unwrap()
}

#[test]
fn a_closed_or_full_stdout_is_an_error_never_a_panic_or_a_success() {
    let dir = paired_takes_and_preset("flat.json");
    let d = dir.path();
    let commands: [&[&str]; 6] = [
        &[
            "analyze",
            "-r",
            "wet-stereo.wav",
            "-s",
            "dry-mono.wav",
            "-o",
            "p.json",
        ],
        &["compare", "wet-stereo.wav", "dry-stereo.wav"],
        &["presets", "show", "Beatbox Punch"],
        &["presets", "show", "flat.json"],
        &["check", "flat.json"],
        &["presets"],
    ];
    for args in commands {
        #[cfg(target_os = "linux")]
        {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            let o = with_stdout(args, d, full);
            assert_eq!(code(&o), 1, "{args:?} > /dev/full: {}", stderr(&o));
            assert!(
                stderr(&o).ends_with(
                    "error: cannot write to stdout: No space left on device (os error 28)\n"
                ),
                "{args:?}: {}",
                stderr(&o)
            );
        }
        // `| true`: the reading end is closed before matchbox writes.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = with_stdout(args, d, writer);
        assert_eq!(code(&o), 1, "{args:?} | true: {}", stderr(&o));
        assert!(
            stderr(&o).contains("error: cannot write to stdout: Broken pipe"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = with_stdout(&["--help"], d, writer);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

const CHAIN: &str = r#""settings": {"input_gain_db": 0, "eq": {"bands": []},
 "compressor": {"enabled": true, "threshold_db": -20, "ratio": 4, "knee_db": 6, "attack_ms": 5,
  "release_ms": 80, "makeup_db": 0, "auto_makeup": false, "detector": "peak", "sidechain_hpf": false,
  "sidechain_hpf_hz": 100, "stereo_link_pct": 100, "mix_pct": 100},
 "output_gain_db": 0, "ceiling": {"enabled": true, "ceiling_db": -1}}"#;

fn preset_text(name: &str) -> String {
    format!(
        r#"{{"schema": "matchbox-preset", "version": 1, "name": "{name}", "description": "", {CHAIN}}}"#
    )
}

#[test]
fn check_refuses_duplicates_huge_numbers_control_characters_and_huge_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = preset_text("Fine");
    write(
        &d.join("dup.json"),
        good.replace(r#""ratio": 4"#, r#""ratio": 4, "ratio": 20"#)
            .as_bytes(),
    );
    write(
        &d.join("huge.json"),
        good.replace(r#""ratio": 4"#, r#""ratio": 1e39"#).as_bytes(),
    );
    write(
        &d.join("esc.json"),
        preset_text("\\u001b]0;owned\\u0007Evil").as_bytes(),
    );
    let mut padded = good.clone().into_bytes();
    padded.resize((1 << 20) + 1, b' ');
    write(&d.join("big.json"), &padded);
    let o = matchbox(
        &[
            "check",
            "dup.json",
            "huge.json",
            "esc.json",
            "big.json",
            "/dev/zero",
        ],
        d,
    );
    assert_eq!(code(&o), 3);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "dup.json: settings.compressor.ratio: given twice; each field may appear once",
            "huge.json: settings.compressor.ratio: ratio 1e39 is out of range; use 1 to 20, or \"inf\"",
            "esc.json: name: holds the control character U+001B; a name is one line of printable text",
            "big.json: larger than 1024 KiB; not a preset file",
            "/dev/zero: larger than 1024 KiB; not a preset file",
        ]
    );
    // "inf" still asks for a limiter.
    write(
        &d.join("limit.json"),
        good.replace(r#""ratio": 4"#, r#""ratio": "inf""#)
            .as_bytes(),
    );
    assert_eq!(code(&matchbox(&["check", "limit.json"], d)), 0);
}

#[test]
fn file_names_and_file_contents_reach_the_terminal_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let evil = "take\u{1b}[2J\u{7}\u{202e}.json";
    write(&d.join(evil), preset_text("Fine").as_bytes());
    let o = matchbox(&["check", evil], d);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), "ok: take\\u001b[2J\\u0007\\u202e.json\n");
    // An unknown field's name comes from the file: escaped in the error.
    write(
        &d.join("field.json"),
        preset_text("Fine")
            .replacen('{', "{\"x\\u009b31m\": 1, ", 1)
            .as_bytes(),
    );
    let o = matchbox(&["check", "field.json", evil], d);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).starts_with("field.json: x\\u009b31m: unknown field `x\\u009b31m`"),
        "{}",
        stderr(&o)
    );
    let o = matchbox(
        &["render", "-p", "Flat", "\u{1b}[31mmissing.wav", "out.wav"],
        d,
    );
    assert_eq!(code(&o), 4);
    assert!(
        stderr(&o).starts_with("error: \\u001b[31mmissing.wav: cannot open: "),
        "{}",
        stderr(&o)
    );
    assert_printable(&stderr(&o), "stderr");
    // A line break in a file name cannot fake a line of the analysis summary.
    let take = "take\nwrote everything.wav";
    write_f32_wav(&d.join(take), 16_000, &[busy(16_000, 40_000, 3)]);
    let o = matchbox(&["analyze", "-r", take, "-o", "p.json"], d);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("reference: take\\u000awrote everything.wav (16000 Hz, mono, 2.5 s, "),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("wrote everything")),
        "{out}"
    );
    assert_printable(&out, "stdout");
}

#[test]
fn no_output_may_be_an_input_through_links_or_other_outputs() {
    let dir = paired_takes_and_preset("vocal-warm.json");
    let d = dir.path();
    std::fs::rename(d.join("vocal-warm.json"), d.join("mine.json")).unwrap();
    std::fs::hard_link(d.join("dry-mono.wav"), d.join("hard.wav")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("wet-mono.wav"), d.join("soft.wav")).unwrap();
    std::fs::write(d.join("old.svg"), b"old").unwrap();
    let inputs = ["dry-mono.wav", "wet-mono.wav", "mine.json", "old.svg"];
    let before: Vec<_> = inputs.iter().map(|f| fingerprint(&d.join(f))).collect();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["render", "-p", "Flat", "dry-mono.wav", "hard.wav"],
            "OUT (hard.wav) is the same file as IN (dry-mono.wav)",
        ),
        (
            vec!["render", "-p", "mine.json", "dry-mono.wav", "mine.json"],
            "OUT (mine.json) is the same file as --preset (mine.json)",
        ),
        (
            vec!["analyze", "-r", "wet-mono.wav", "-o", "wet-mono.wav"],
            "--output (wet-mono.wav) is the same file as --reference (wet-mono.wav)",
        ),
        (
            vec![
                "analyze",
                "-r",
                "wet-mono.wav",
                "-s",
                "dry-mono.wav",
                "-o",
                "hard.wav",
            ],
            "--output (hard.wav) is the same file as --source (dry-mono.wav)",
        ),
        (
            vec![
                "analyze",
                "-r",
                "wet-mono.wav",
                "-o",
                "new.svg",
                "--report",
                "./new.svg",
            ],
            "--report (./new.svg) is the same file as --output (new.svg)",
        ),
        (
            vec![
                "analyze",
                "-r",
                "wet-mono.wav",
                "-o",
                "old.svg",
                "--report",
                "old.svg",
            ],
            "--report (old.svg) is the same file as --output (old.svg)",
        ),
        (
            vec![
                "live",
                "--fallback",
                "--preset",
                "mine.json",
                "--fallback-output",
                "mine.json",
            ],
            "--fallback-output (mine.json) is the same file as --preset (mine.json)",
        ),
    ];
    for (args, needle) in &cases {
        let o = matchbox(args, d);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    #[cfg(unix)]
    {
        let o = matchbox(&["render", "-p", "Flat", "wet-mono.wav", "soft.wav"], d);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
    }
    let after: Vec<_> = inputs.iter().map(|f| fingerprint(&d.join(f))).collect();
    assert_eq!(before, after);
    assert!(!d.join("new.svg").exists() && !d.join("p.json").exists());
}

#[test]
fn a_failed_render_leaves_the_previous_output_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fs = 48_000;
    let mut x = busy(fs, 5 * fs as usize, 4);
    write_f32_wav(&d.join("in.wav"), fs, std::slice::from_ref(&x));
    assert_eq!(
        code(&matchbox(&["render", "-p", "Flat", "in.wav", "out.wav"], d)),
        0
    );
    let previous = fingerprint(&d.join("out.wav"));
    // A NaN near the end: found only after most of the output is written.
    *x.last_mut().unwrap() = f32::NAN;
    write_f32_wav(&d.join("in.wav"), fs, &[x]);
    let o = matchbox(&["render", "-p", "Telephone", "in.wav", "out.wav"], d);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(fingerprint(&d.join("out.wav")), previous);
    assert_eq!(entries(d), ["in.wav", "out.wav"]);
}

/// Starts a render of a 5-minute file (with `signal` ignored from the start if `ignored`, as
/// `nohup` does for SIGHUP), sends `signal` as soon as its temporary output exists (long
/// before the render can be done), and checks what is left.
#[cfg(unix)]
fn interrupted_render(signal: i32, ignored: bool) {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("out.wav"), b"the previous good output").unwrap();
    let h = RawWav::float(2, 48_000);
    let x = busy(48_000, 300 * 48_000, 2);
    let stereo: Vec<f32> = x.iter().flat_map(|&v| [v, v]).collect();
    write(&d.join("in.wav"), &h.bytes(&h.encode(&stereo)));
    let trap = if ignored {
        format!("trap '' {signal}; ")
    } else {
        String::new()
    };
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!(
            "{trap}exec \"$0\" render -p 'Beatbox Punch' in.wav out.wav"
        ))
        .arg(env!("CARGO_BIN_EXE_matchbox"))
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // The signal's default action in the child, whatever the test inherited: a test run
    // started in the background by a shell without job control ignores SIGINT, and an
    // ignored signal stays ignored (which is what `ignored` tests).
    // SAFETY: signal(2) is async-signal-safe, as code between fork and exec must be.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            libc::signal(signal, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    let started = std::time::Instant::now();
    while !entries(d).iter().any(|n| n.ends_with(".matchbox-tmp")) {
        assert!(
            started.elapsed().as_secs() < 30,
            "no temporary: {:?}",
            entries(d)
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the render ended first"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let kill = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    if ignored {
        assert_eq!(status.code(), Some(0), "{status:?}");
        let (spec, y) = read_wav(&d.join("out.wav"));
        assert_eq!((spec.channels, y[0].len()), (2, 300 * 48_000));
    } else {
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert_eq!(
            std::fs::read(d.join("out.wav")).unwrap(),
            b"the previous good output"
        );
    }
    assert_eq!(entries(d), ["in.wav", "out.wav"]);
}

#[cfg(unix)]
#[test]
fn ctrl_c_or_sigterm_while_rendering_removes_the_temporary_and_keeps_the_old_output() {
    interrupted_render(2, false); // SIGINT
    interrupted_render(15, false); // SIGTERM
}

#[cfg(unix)]
#[test]
fn an_ignored_hangup_stays_ignored_while_rendering() {
    interrupted_render(1, true); // SIGHUP under nohup
}

#[test]
fn concurrent_renders_to_one_output_each_leave_a_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fs = 48_000;
    write_f32_wav(
        &d.join("in.wav"),
        fs,
        &[busy(fs, 4 * fs as usize, 1), busy(fs, 4 * fs as usize, 2)],
    );
    let presets = ["Telephone", "Beatbox Punch"];
    for (i, p) in presets.iter().enumerate() {
        assert_eq!(
            code(&matchbox(
                &["render", "-p", p, "in.wav", &format!("alone-{i}.wav")],
                d
            )),
            0
        );
    }
    let alone: Vec<_> = (0..2)
        .map(|i| fingerprint(&d.join(format!("alone-{i}.wav"))))
        .collect();
    for _ in 0..3 {
        let children: Vec<_> = presets
            .iter()
            .map(|p| {
                Command::new(env!("CARGO_BIN_EXE_matchbox"))
                    .args(["render", "-p", p, "in.wav", "out.wav"])
                    .current_dir(d)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let o = child.wait_with_output().unwrap();
            assert_eq!(code(&o), 0, "{}", stderr(&o));
        }
        let got = fingerprint(&d.join("out.wav"));
        assert!(alone.contains(&got), "a mixed file: {got:?} vs {alone:?}");
        assert!(!entries(d).iter().any(|n| n.contains("matchbox-tmp")));
    }
}

#[test]
fn damaged_packets_are_reported_and_never_measured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sine-48k-stereo.mp3");
    let mut bytes = std::fs::read(fixture).unwrap();
    bytes[3000..3100].fill(0x55);
    write(&d.join("damaged.mp3"), &bytes);
    let o = matchbox(&["render", "-p", "Flat", "damaged.mp3", "out.wav"], d);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("warning: damaged.mp3: 2 damaged packet(s) (first: corrupt audio: ")
            && stderr(&o).ends_with(" skipped; the audio on either side is joined up\n"),
        "{}",
        stderr(&o)
    );
    refused(
        d,
        &["compare", "out.wav", "damaged.mp3"],
        4,
        "damaged.mp3: 2 damaged packet(s) (first: ",
    );
}
