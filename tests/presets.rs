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
