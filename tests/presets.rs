//! Every factory preset on disk loads, validates and is embedded in the binary.

use matchbox::preset::{self, FACTORY, factory::slug};
use std::collections::BTreeSet;
use std::path::Path;

fn preset_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("presets")
}

#[test]
fn embedded_list_equals_the_presets_directory() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(preset_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let embedded: BTreeSet<String> = FACTORY.iter().map(|f| f.file_name.to_owned()).collect();
    assert_eq!(embedded, on_disk);
    assert_eq!(embedded.len(), FACTORY.len(), "a file is embedded twice");
    for f in FACTORY {
        let text = std::fs::read_to_string(preset_dir().join(f.file_name)).unwrap();
        assert_eq!(
            text, f.json,
            "{} differs from the embedded copy",
            f.file_name
        );
    }
}

#[test]
fn every_factory_file_loads_validates_and_is_named_by_its_slug() {
    assert!(FACTORY.len() >= 8);
    let mut names = BTreeSet::new();
    for f in FACTORY {
        let p = preset::load(&preset_dir().join(f.file_name)).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.settings.validate().is_empty());
        assert_eq!(format!("{}.json", slug(&p.name)), f.file_name);
        // A description says what and why, not just a title.
        assert!(
            p.description.len() >= 100,
            "{}: description too short",
            p.name
        );
        assert!(
            names.insert(p.name.to_lowercase()),
            "duplicate name {}",
            p.name
        );
        // Shipped at the current version, not relying on a migration.
        let raw: serde_json::Value = serde_json::from_str(f.json).unwrap();
        assert_eq!(raw["version"], preset::CURRENT_VERSION, "{}", f.file_name);
    }
    for wanted in [
        "flat",
        "beatbox punch",
        "beatbox sub",
        "vocal warm",
        "vocal presence",
        "telephone",
        "broadcast",
        "gentle leveler",
    ] {
        assert!(names.contains(wanted), "missing {wanted}");
    }
}

#[test]
fn flat_changes_nothing_and_the_others_change_something() {
    for (file, p) in preset::factory_presets() {
        let s = &p.settings;
        let eq_on = s.eq.bands.iter().any(|b| b.enabled);
        let neutral = !eq_on
            && !s.compressor.enabled
            && !s.ceiling.enabled
            && s.input_gain_db == 0.0
            && s.output_gain_db == 0.0;
        assert_eq!(neutral, p.name == "Flat", "{}", file.file_name);
    }
}

#[test]
fn compressing_presets_make_deliberate_choices() {
    let get = |name: &str| preset::find_factory(name).unwrap().1.settings;
    // Punch: transient passes (attack 5–10 ms), 4:1, sub kicks kept out of the detector.
    let punch = get("Beatbox Punch").compressor;
    assert!((5.0..=10.0).contains(&punch.attack_ms));
    assert_eq!(punch.ratio, 4.0);
    assert!(punch.sidechain_hpf && punch.sidechain_hpf_hz >= 100.0);
    // Sub: the attack lasts at least one cycle of 50 Hz so the gain does not ride the wave.
    let sub = get("Beatbox Sub").compressor;
    assert!(sub.attack_ms >= 20.0 && !sub.sidechain_hpf);
    // Telephone: 300 Hz low cut and 3.4 kHz high cut at 24 dB/oct.
    let phone = get("Telephone").eq.bands;
    assert!(phone.iter().any(|b| b.enabled
        && b.kind == matchbox::dsp::FilterKind::LowCut
        && b.freq_hz == 300.0
        && b.slope_db_per_oct == 24));
    assert!(phone.iter().any(|b| b.enabled
        && b.kind == matchbox::dsp::FilterKind::HighCut
        && b.freq_hz == 3400.0
        && b.slope_db_per_oct == 24));
    // The limiter is a limiter.
    assert_eq!(get("live-safety-limiter").compressor.ratio, f32::INFINITY);
}

/// EQ magnitude of factory preset `name` at `freq_hz`, 48 kHz, dB (the analytic response of
/// the filters as they run).
fn eq_db(name: &str, freq_hz: f64) -> f64 {
    let settings = preset::find_factory(name).unwrap().1.settings;
    matchbox::dsp::eq::magnitude_db(&settings.eq, freq_hz, 48_000.0)
}

#[test]
fn factory_eq_curves_do_what_their_descriptions_say() {
    // (preset, frequency Hz, lowest dB, highest dB)
    let claims: &[(&str, f64, f64, f64)] = &[
        // Telephone: the 300–3400 Hz channel, with a honk near 1.5 kHz.
        ("Telephone", 100.0, -200.0, -20.0),
        ("Telephone", 8_000.0, -200.0, -20.0),
        ("Telephone", 1_500.0, 3.0, 6.0),
        ("Telephone", 1_000.0, 0.0, 6.0),
        // Beatbox Punch: rumble out, kick chest, less box, snare crack.
        ("Beatbox Punch", 15.0, -200.0, -12.0),
        ("Beatbox Punch", 70.0, 2.0, 4.0),
        ("Beatbox Punch", 350.0, -4.0, -2.0),
        ("Beatbox Punch", 3_000.0, 2.0, 4.0),
        // Beatbox Sub: weight low down, mud cleared.
        ("Beatbox Sub", 50.0, 3.0, 8.0),
        ("Beatbox Sub", 250.0, -5.0, -2.0),
        ("Beatbox Sub", 15.0, -200.0, -6.0),
        // Vocal Warm: handling noise out, body in, highs softened.
        ("Vocal Warm", 40.0, -200.0, -6.0),
        ("Vocal Warm", 180.0, 1.0, 3.0),
        ("Vocal Warm", 12_000.0, -3.0, -1.0),
        // Vocal Presence: proximity boom and box out, presence in.
        ("Vocal Presence", 50.0, -200.0, -12.0),
        ("Vocal Presence", 300.0, -4.0, -2.0),
        ("Vocal Presence", 3_000.0, 3.0, 5.0),
        // Broadcast: rumble out, box out, intelligibility in.
        ("Broadcast", 30.0, -200.0, -12.0),
        ("Broadcast", 400.0, -4.0, -2.0),
        ("Broadcast", 2_500.0, 1.5, 3.0),
    ];
    for &(name, freq_hz, lo, hi) in claims {
        let db = eq_db(name, freq_hz);
        assert!(
            (lo..=hi).contains(&db),
            "{name} at {freq_hz} Hz: {db:.2} dB, expected {lo} to {hi}"
        );
    }
    // The static de-ess dips sit below the air shelf around them.
    assert!(eq_db("Vocal Presence", 7_000.0) < eq_db("Vocal Presence", 12_000.0) - 2.0);
    assert!(eq_db("Broadcast", 6_500.0) < eq_db("Broadcast", 9_000.0) - 2.0);
}

#[test]
fn tone_neutral_presets_are_flat_where_they_say() {
    let log_freqs = (0..=60).map(|i| 20.0 * 1000f64.powf(f64::from(i) / 60.0));
    for f in log_freqs {
        for name in ["Flat", "Live Safety Limiter"] {
            assert_eq!(eq_db(name, f), 0.0, "{name} at {f:.0} Hz");
        }
        // Gentle Leveler only removes subsonic rumble: no tone change from 200 Hz up.
        if f >= 200.0 {
            let db = eq_db("Gentle Leveler", f);
            assert!(db.abs() < 0.1, "Gentle Leveler at {f:.0} Hz: {db:.3} dB");
        }
    }
    assert!(eq_db("Gentle Leveler", 20.0) < -3.0);
}
