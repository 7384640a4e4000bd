//! The hostile-input harness (issue 13): proptest-generated preset mutants and audio files
//! (headers, formats, rates, channels, samples, truncation, file names) through `check`,
//! `presets show`, `render`, `compare` and `analyze`, as processes of the built binary.
//!
//! Every run must: never exit 101 (a panic) or die by a signal; exit with the documented code
//! for what it was given (0 ok, 3 preset, 4 audio, 6 unusable; an oracle computes which when
//! the input is clean); leave its inputs byte for byte as they were; leave no output and no
//! temporary behind when it fails; print no raw control character.
//!
//! Bounded for CI: 512 preset, 512 audio and 192 damaged-compressed cases by default (about
//! 15 s with a debug build on 2 cores); `MATCHBOX_FUZZ_PRESET_CASES`,
//! `MATCHBOX_FUZZ_AUDIO_CASES` and `MATCHBOX_FUZZ_COMPRESSED_CASES` change them, and every
//! process is killed (failing the test) after a minute. `cargo test --test fuzz_cli --
//! --nocapture` shows the tally of exit codes.

mod common;

use common::{
    RawWav, assert_printable, busy, code, entries, fingerprint, read_wav, stderr, stdout,
    write_f32_wav,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;

fn cases(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How often each (subcommand, exit code) came up: the harness prints it, to show what the
/// cases covered.
static TALLY: Mutex<BTreeMap<String, BTreeMap<i32, usize>>> = Mutex::new(BTreeMap::new());

/// Run `test` on `cases` values of `strategy` (failures shrink, and are saved beside this file
/// as proptest does), then print the case count and the tally of exit codes for `name`.
fn run_cases<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let started = std::time::Instant::now();
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        // Failing cases are saved to tests/fuzz_cli.proptest-regressions and run first.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    let tally = TALLY.lock().unwrap();
    let counts: Vec<String> = tally
        .iter()
        .filter(|(what, _)| what.starts_with(name))
        .map(|(what, codes)| {
            let codes: Vec<String> = codes
                .iter()
                .map(|(c, n)| format!("exit {c} ×{n}"))
                .collect();
            format!("{what}: {}", codes.join(", "))
        })
        .collect();
    eprintln!(
        "{name}: {cases} cases in {:.1} s; {}",
        started.elapsed().as_secs_f64(),
        counts.join("; ")
    );
}

/// `matchbox args` in `dir`, killed (and the test failed) if it runs over a minute: a decoder
/// that loops on a hostile file must show up as a failure, not as a CI job that never ends.
fn matchbox(args: &[&str], dir: &Path) -> Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run matchbox");
    let id = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let watchdog = std::thread::spawn(move || {
        if finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
        {
            let _ = std::process::Command::new("kill")
                .args(["-9", &id.to_string()])
                .status();
        }
    });
    let output = child.wait_with_output().expect("wait for matchbox");
    let _ = done.send(());
    watchdog.join().unwrap();
    output
}

/// The checks every run gets: no panic or signal, a code from `allowed`, printable output.
fn ran(o: &Output, allowed: &[i32], what: &str) -> i32 {
    let code = o
        .status
        .code()
        .unwrap_or_else(|| panic!("{what}: killed by a signal: {:?}", o.status));
    assert_ne!(code, 101, "{what}: panicked: {}", stderr(o));
    assert!(
        allowed.contains(&code),
        "{what}: exit {code}, expected one of {allowed:?}: {}",
        stderr(o)
    );
    assert_printable(&stdout(o), what);
    assert_printable(&stderr(o), what);
    *TALLY
        .lock()
        .unwrap()
        .entry(what.to_owned())
        .or_default()
        .entry(code)
        .or_default() += 1;
    code
}

// ---------------------------------------------------------------- presets

/// One change to a valid preset document.
#[derive(Debug, Clone)]
enum PresetMutation {
    /// Set the `n`-th leaf (mod the leaf count) to this JSON value.
    SetLeaf(usize, Value),
    /// Move the `n`-th leaf within what it allows: a number to this fraction of its declared
    /// range, a boolean flipped, a filter type or detector to another one (valid mutants).
    Within(usize, f64),
    /// Remove the `n`-th leaf's key.
    RemoveLeaf(usize),
    /// Add a field with this name to the `n`-th object.
    AddField(usize, String),
    /// Give the `n`-th scalar line of the pretty text a second time.
    DuplicateLine(usize),
    /// The name.
    Name(String),
    /// Cut the text at this fraction of its length.
    Truncate(f64),
    /// Pad past the 1 MiB cap.
    Pad,
}

/// Text for names and field names: letters and the characters a terminal obeys.
fn hostile_text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => prop::sample::select(vec!['\u{7f}', '\u{9b}', '\u{2028}', '\u{202e}', '\u{feff}', 'ß', '🥁', ' ']),
    ];
    prop::collection::vec(c, 0..max).prop_map(|v| v.into_iter().collect())
}

fn leaf_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-1e5f64..1e5).prop_map(Value::from),
        2 => prop::sample::select(vec![
            0.0, -0.0, 1.0, 20.0, 20.000_001, 1e39, -1e39, 3.4e38, 1e308, 5e-324, 0.05, 2500.0
        ])
        .prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![
            Just(Value::from("inf")),
            Just(Value::from("-inf")),
            Just(Value::from("NaN")),
            Just(Value::Null),
            Just(Value::from(true)),
            Just(serde_json::json!([1, 2])),
            Just(serde_json::json!({"x": 1})),
        ],
        1 => hostile_text(12).prop_map(Value::from),
    ]
}

fn preset_mutation() -> impl Strategy<Value = PresetMutation> {
    prop_oneof![
        6 => (any::<usize>(), leaf_value()).prop_map(|(n, v)| PresetMutation::SetLeaf(n, v)),
        12 => (any::<usize>(), prop_oneof![1 => Just(0.0), 1 => Just(1.0), 6 => 0.0f64..=1.0])
            .prop_map(|(n, f)| PresetMutation::Within(n, f)),
        1 => any::<usize>().prop_map(PresetMutation::RemoveLeaf),
        1 => (any::<usize>(), hostile_text(10)).prop_map(|(n, k)| PresetMutation::AddField(n, k)),
        2 => any::<usize>().prop_map(PresetMutation::DuplicateLine),
        2 => hostile_text(80).prop_map(PresetMutation::Name),
        1 => (0.0f64..1.0).prop_map(PresetMutation::Truncate),
        1 => prop::bool::weighted(0.3).prop_map(|_| PresetMutation::Pad),
    ]
}

/// Paths (as JSON pointers) of every scalar and of every object in `v`.
fn pointers(v: &Value, at: String, leaves: &mut Vec<String>, objects: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            objects.push(at.clone());
            for (k, child) in map {
                pointers(child, format!("{at}/{k}"), leaves, objects);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), leaves, objects);
            }
        }
        _ => leaves.push(at),
    }
}

/// `value` of the field `key` moved to `f` (0…1) of what it allows (unchanged if nothing is
/// known about the field).
fn moved_within(key: &str, value: &Value, f: f64) -> Value {
    use matchbox::dsp::ranges::*;
    let range = match key {
        "input_gain_db" => IN_GAIN_DB,
        "output_gain_db" => OUT_GAIN_DB,
        "freq_hz" => BAND_FREQ_HZ,
        "gain_db" => BAND_GAIN_DB,
        "q" => BAND_Q,
        "threshold_db" => THRESHOLD_DB,
        "ratio" if f > 0.95 => return Value::from("inf"),
        "ratio" => RATIO,
        "knee_db" => KNEE_DB,
        "attack_ms" => ATTACK_MS,
        "release_ms" => RELEASE_MS,
        "makeup_db" => MAKEUP_DB,
        "sidechain_hpf_hz" => SIDECHAIN_HPF_HZ,
        "stereo_link_pct" => STEREO_LINK_PCT,
        "mix_pct" => MIX_PCT,
        "ceiling_db" => CEILING_DB,
        "slope_db_per_oct" => {
            let i = (f * (CUT_SLOPES_DB_PER_OCT.len() - 1) as f64).round() as usize;
            return Value::from(CUT_SLOPES_DB_PER_OCT[i]);
        }
        "type" => {
            let kinds = matchbox::dsp::FilterKind::ALL;
            let i = (f * (kinds.len() - 1) as f64).round() as usize;
            return Value::from(kinds[i].name());
        }
        "detector" => return Value::from(if f < 0.5 { "peak" } else { "rms" }),
        _ => {
            return match value {
                Value::Bool(b) => Value::from(!b),
                other => other.clone(),
            };
        }
    };
    let v = f64::from(range.min) + f * f64::from(range.max - range.min);
    Value::from(v.clamp(f64::from(range.min), f64::from(range.max)))
}

/// The preset text after `mutations`, starting from a factory preset.
fn mutated_preset(base: usize, mutations: &[PresetMutation]) -> Vec<u8> {
    let file = matchbox::preset::FACTORY[base % matchbox::preset::FACTORY.len()];
    let mut doc: Value = serde_json::from_str(file.json).unwrap();
    let mut text_edits = Vec::new();
    for m in mutations {
        let (mut leaves, mut objects) = (Vec::new(), Vec::new());
        pointers(&doc, String::new(), &mut leaves, &mut objects);
        match m {
            PresetMutation::SetLeaf(n, v) => {
                *doc.pointer_mut(&leaves[n % leaves.len()]).unwrap() = v.clone()
            }
            PresetMutation::Within(n, f) => {
                let ptr = &leaves[n % leaves.len()];
                let leaf = doc.pointer_mut(ptr).unwrap();
                *leaf = moved_within(ptr.rsplit('/').next().unwrap(), leaf, *f);
            }
            PresetMutation::RemoveLeaf(n) => {
                let ptr = &leaves[n % leaves.len()];
                let (parent, key) = ptr.rsplit_once('/').unwrap();
                match doc.pointer_mut(parent).unwrap() {
                    Value::Object(map) => drop(map.remove(key)),
                    Value::Array(items) => drop(items.remove(key.parse::<usize>().unwrap())),
                    _ => {}
                }
            }
            PresetMutation::AddField(n, key) => {
                if let Value::Object(map) = doc.pointer_mut(&objects[n % objects.len()]).unwrap() {
                    map.insert(key.clone(), Value::from(1));
                }
            }
            PresetMutation::Name(name) => doc["name"] = Value::from(name.clone()),
            other => text_edits.push(other.clone()),
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    for edit in text_edits {
        match edit {
            PresetMutation::DuplicateLine(n) => {
                let lines: Vec<&str> = text.lines().collect();
                let scalars: Vec<usize> = (0..lines.len())
                    .filter(|&i| {
                        lines[i].trim_start().starts_with('"')
                            && !lines[i].trim_end().ends_with(['{', '['])
                    })
                    .collect();
                if let Some(&i) = scalars.get(n % scalars.len().max(1)) {
                    let line = format!("{},", lines[i].trim_end().trim_end_matches(','));
                    let mut out: Vec<&str> = lines[..i].to_vec();
                    out.push(&line);
                    out.extend_from_slice(&lines[i..]);
                    text = out.join("\n");
                }
            }
            PresetMutation::Truncate(f) => {
                let mut at = (text.len() as f64 * f) as usize;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
            }
            PresetMutation::Pad => text.push_str(&" ".repeat(1 << 20)),
            _ => unreachable!(),
        }
    }
    text.into_bytes()
}

#[test]
fn preset_mutants() {
    let mutants = (
        any::<usize>(),
        prop::collection::vec(preset_mutation(), 1..4),
    );
    run_cases(
        "preset",
        cases("MATCHBOX_FUZZ_PRESET_CASES", 512),
        mutants,
        |(base, mutations)| {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let preset = d.join("mutant.json");
            std::fs::write(&preset, mutated_preset(base, &mutations)).unwrap();
            let fs = 16_000;
            write_f32_wav(&d.join("in.wav"), fs, &[busy(fs, 800, 1), busy(fs, 800, 2)]);
            let before = (fingerprint(&preset), fingerprint(&d.join("in.wav")));
            // The library's verdict is the oracle for the exit code.
            let valid = matchbox::preset::load(&preset).is_ok();
            let o = matchbox(&["check", "mutant.json"], d);
            let code = ran(&o, &[0, 3], "preset/check");
            prop_assert_eq!(code, if valid { 0 } else { 3 }, "{}", stderr(&o));
            if valid {
                prop_assert_eq!(stdout(&o), "ok: mutant.json\n");
            } else {
                prop_assert!(stderr(&o).starts_with("mutant.json"), "{}", stderr(&o));
                prop_assert_eq!(stderr(&o).lines().count(), 1);
            }
            let o = matchbox(&["presets", "show", "mutant.json"], d);
            ran(&o, &[if valid { 0 } else { 3 }], "preset/presets show");
            if valid {
                let shown: Value =
                    serde_json::from_str(&stdout(&o)).expect("presets show prints JSON");
                prop_assert!(shown["name"].is_string());
            }
            let o = matchbox(&["render", "-p", "mutant.json", "in.wav", "out.wav"], d);
            ran(&o, &[if valid { 0 } else { 3 }], "preset/render");
            if valid {
                let (spec, y) = read_wav(&d.join("out.wav"));
                prop_assert_eq!((spec.sample_rate, y.len(), y[0].len()), (fs, 2, 800));
                prop_assert!(y.iter().flatten().all(|v| v.is_finite()));
            }
            prop_assert_eq!(
                (fingerprint(&preset), fingerprint(&d.join("in.wav"))),
                before
            );
            let left: Vec<String> = entries(d)
                .into_iter()
                .filter(|n| n.contains("matchbox-tmp"))
                .collect();
            prop_assert!(left.is_empty(), "{:?}", left);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- audio

/// A WAV file to make: header fields, content, and damage.
#[derive(Debug, Clone)]
struct AudioCase {
    /// (format tag, bits): supported PCM/float, or not.
    format: (u16, u16),
    channels: u16,
    sample_rate: u32,
    seconds: f32,
    /// 0: digital silence; else the busy signal at this gain.
    gain: f32,
    /// (position as a fraction of the samples, value) written over the signal.
    specials: Vec<(f64, f32)>,
    block_align: Option<u16>,
    /// Stated data length as a fraction of the real one.
    data_len: Option<f64>,
    /// Keep this fraction of the file's bytes.
    truncate: Option<f64>,
    name: String,
}

const SUPPORTED_FORMATS: [(u16, u16); 4] = [(1, 8), (1, 16), (3, 32), (3, 64)];

fn wav_format() -> impl Strategy<Value = (u16, u16)> {
    prop_oneof![
        8 => prop::sample::select(SUPPORTED_FORMATS.to_vec()),
        1 => prop::sample::select(vec![(2, 4), (0x55, 16), (3, 16), (1, 12), (0, 16), (0xfffe, 16)]),
    ]
}

fn sample_rate() -> impl Strategy<Value = u32> {
    prop_oneof![
        8 => prop::sample::select(vec![8_000u32, 11_025, 16_000, 22_050]),
        2 => prop::sample::select(vec![44_100u32, 48_000, 96_000, 384_000]),
        2 => prop::sample::select(vec![0u32, 1, 100, 1_000, 7_999, 384_001, 536_870_912, u32::MAX]),
    ]
}

/// (where, as a fraction of the samples; what) to write over the signal.
fn special_sample() -> impl Strategy<Value = (f64, f32)> {
    let values = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3e38,
        -1000.5,
        1000.0,
        999.9,
        1e-40,
    ];
    (0.0f64..1.0, prop::sample::select(values))
}

prop_compose! {
    fn audio_case()(
        format in wav_format(),
        channels in prop_oneof![8 => 1u16..=2, 1 => prop::sample::select(vec![0u16, 3, 8, u16::MAX])],
        sample_rate in sample_rate(),
        seconds in prop_oneof![2 => Just(0.0f32), 4 => 0.001f32..0.6, 3 => 2.05f32..2.3],
        gain in prop_oneof![1 => Just(0.0f32), 4 => 0.05f32..2.0],
        specials in prop::collection::vec(special_sample(), 0..3),
        block_align in prop::option::weighted(0.1, any::<u16>()),
        data_len in prop::option::weighted(0.1, 0.0f64..2.0),
        truncate in prop::option::weighted(0.1, 0.0f64..1.0),
        name in hostile_text(6),
    ) -> AudioCase {
        // File names may hold anything but '/' and NUL.
        let name = format!("in-{}.wav", name.replace(['/', '\0'], "_"));
        AudioCase { format, channels, sample_rate, seconds, gain, specials, block_align, data_len, truncate, name }
    }
}

impl AudioCase {
    /// The interleaved samples (before encoding) and the file's bytes.
    fn build(&self) -> (Vec<f32>, Vec<u8>) {
        let rate_for_length = self.sample_rate.clamp(8_000, 96_000);
        let frames = (self.seconds * rate_for_length as f32) as usize;
        let n = frames * usize::from(self.channels.min(4));
        let x = busy(rate_for_length, frames.max(1), 7);
        let mut samples: Vec<f32> = (0..n)
            .map(|i| self.gain * x[i / usize::from(self.channels.max(1))])
            .collect();
        for &(at, value) in &self.specials {
            if n > 0 {
                samples[((at * n as f64) as usize).min(n - 1)] = value;
            }
        }
        let header = RawWav {
            format_tag: self.format.0,
            channels: self.channels,
            sample_rate: self.sample_rate,
            bits: self.format.1,
            block_align: self.block_align,
            data_len: None,
        };
        let data = header.encode(&samples);
        let header = RawWav {
            data_len: self.data_len.map(|f| (data.len() as f64 * f) as u32),
            ..header
        };
        let mut bytes = header.bytes(&data);
        if let Some(keep) = self.truncate {
            bytes.truncate((bytes.len() as f64 * keep) as usize);
        }
        (samples, bytes)
    }

    /// Nothing damaged, and a format the header can honestly describe.
    fn clean(&self) -> bool {
        self.block_align.is_none()
            && self.data_len.is_none()
            && self.truncate.is_none()
            && SUPPORTED_FORMATS.contains(&self.format)
    }

    fn in_range(&self) -> bool {
        (1..=2).contains(&self.channels) && (8_000..=384_000).contains(&self.sample_rate)
    }
}

#[test]
fn audio_mutants() {
    run_cases(
        "audio",
        cases("MATCHBOX_FUZZ_AUDIO_CASES", 512),
        audio_case(),
        |case| {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let (samples, bytes) = case.build();
            let input = d.join(&case.name);
            std::fs::write(&input, &bytes).unwrap();
            let name = case.name.as_str();
            let before = fingerprint(&input);
            let float = case.format.0 == 3;
            let samples_ok = !float || samples.iter().all(|v| v.abs() <= 1000.0);
            let frames = samples.len() / usize::from(case.channels.max(1));
            // The documented code when the oracle can tell; else any documented one.
            let expect = |ok: &[i32]| -> Vec<i32> {
                match (case.clean(), case.in_range()) {
                    (true, true) if samples_ok => ok.to_vec(),
                    (true, _) => vec![4],
                    (false, _) => vec![0, 4, 6],
                }
            };
            let long_enough = |s: f64| frames as f64 >= s * f64::from(case.sample_rate);
            // What the decoder hands on: integer PCM clamps to full scale and turns NaN into 0.
            let heard = |v: f32| {
                if float {
                    v
                } else if v.is_nan() {
                    0.0
                } else {
                    v.clamp(-1.0, 1.0)
                }
            };
            let silent = samples.iter().all(|&v| heard(v).abs() < 1e-6);

            let o = matchbox(&["render", "-p", "Beatbox Punch", name, "out.wav"], d);
            let render = ran(
                &o,
                &expect(&[0])
                    .into_iter()
                    .filter(|&c| c != 6)
                    .collect::<Vec<_>>(),
                "audio/render",
            );
            if render == 0 {
                let (spec, y) = read_wav(&d.join("out.wav"));
                prop_assert_eq!(u32::from(spec.channels), u32::from(case.channels));
                prop_assert_eq!(spec.sample_rate, case.sample_rate);
                if case.clean() {
                    prop_assert_eq!(y[0].len(), frames);
                }
                prop_assert!(y.iter().flatten().all(|v| v.is_finite()));
                std::fs::remove_file(d.join("out.wav")).unwrap();
            }

            let compare_ok = if long_enough(0.4) { 0 } else { 6 };
            let o = matchbox(&["compare", name, name], d);
            let compared = ran(&o, &expect(&[compare_ok]), "audio/compare");
            if compared == 0 {
                let j: Value = serde_json::from_str(&stdout(&o)).expect("compare prints JSON");
                for key in ["loudness_diff_lu", "ltas_error_rms_db", "snr_db"] {
                    prop_assert!(
                        j[key].as_f64().is_some_and(f64::is_finite),
                        "{}: {}",
                        key,
                        j
                    );
                }
            }

            // Silence with a lone click: whether a 50 ms level frame covers it decides.
            let analyze_ok: &[i32] = match (long_enough(2.0), silent, case.gain == 0.0) {
                (false, _, _) | (_, true, _) => &[6],
                (true, false, true) => &[0, 6],
                (true, false, false) => &[0],
            };
            let o = matchbox(&["analyze", "-r", name, "-o", "p.json"], d);
            let analyzed = ran(&o, &expect(analyze_ok), "audio/analyze");
            if analyzed == 0 {
                prop_assert_eq!(code(&matchbox(&["check", "p.json"], d)), 0);
                std::fs::remove_file(d.join("p.json")).unwrap();
            }
            prop_assert_eq!(fingerprint(&input), before);
            // Failures leave nothing: no output, no temporary.
            prop_assert_eq!(entries(d), vec![name.to_owned()]);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- damaged compressed files

/// One of the FLAC, MP3 and Ogg Vorbis fixtures with bytes overwritten and maybe cut short:
/// the decoders' own parsers meet damage (symphonia panics are caught, loops would time out).
fn damaged_fixture() -> impl Strategy<Value = (usize, Vec<(f64, u8)>, Option<f64>)> {
    (
        0usize..3,
        prop::collection::vec((0.0f64..1.0, any::<u8>()), 1..24),
        prop::option::weighted(0.3, 0.0f64..1.0),
    )
}

#[test]
fn damaged_compressed_files() {
    let fixtures = [
        "sine-44k1-mono.flac",
        "sine-48k-stereo.mp3",
        "sine-22k05-stereo.ogg",
    ];
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let cases = cases("MATCHBOX_FUZZ_COMPRESSED_CASES", 192);
    run_cases(
        "compressed",
        cases,
        damaged_fixture(),
        |(which, flips, cut)| {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let name = fixtures[which];
            let mut bytes = std::fs::read(data.join(name)).unwrap();
            for (at, byte) in flips {
                let i = ((at * bytes.len() as f64) as usize).min(bytes.len() - 1);
                bytes[i] = byte;
            }
            if let Some(keep) = cut {
                bytes.truncate((bytes.len() as f64 * keep) as usize);
            }
            std::fs::write(d.join(name), &bytes).unwrap();
            let before = fingerprint(&d.join(name));
            let o = matchbox(&["render", "-p", "Vocal Warm", name, "out.wav"], d);
            if ran(&o, &[0, 4], "compressed/render") == 0 {
                let (_, y) = read_wav(&d.join("out.wav"));
                prop_assert!(y.iter().flatten().all(|v| v.is_finite()));
                std::fs::remove_file(d.join("out.wav")).unwrap();
            }
            ran(
                &matchbox(&["compare", name, name], d),
                &[0, 4, 6],
                "compressed/compare",
            );
            let o = matchbox(&["analyze", "-r", name, "-o", "p.json"], d);
            if ran(&o, &[0, 4, 6], "compressed/analyze") == 0 {
                std::fs::remove_file(d.join("p.json")).unwrap();
            }
            prop_assert_eq!(fingerprint(&d.join(name)), before);
            prop_assert_eq!(entries(d), vec![name.to_owned()]);
            Ok(())
        },
    );
}
