//! Loading: each layer's errors name the file and the field; bad files never load.

use super::*;

/// A valid version-1 preset with band 3 set to `freq` (raw JSON) and `extra` spliced into
/// the compressor object.
fn doc(freq: &str, extra: &str) -> String {
    format!(
        r#"{{
  "schema": "matchbox-preset", "version": 1, "name": "Beat", "description": "test",
  "settings": {{
    "input_gain_db": 0,
    "eq": {{ "bands": [
      {{"enabled": false, "type": "bell", "freq_hz": 100, "gain_db": 0, "q": 1, "slope_db_per_oct": 12}},
      {{"enabled": false, "type": "bell", "freq_hz": 200, "gain_db": 0, "q": 1, "slope_db_per_oct": 12}},
      {{"enabled": false, "type": "bell", "freq_hz": 300, "gain_db": 0, "q": 1, "slope_db_per_oct": 12}},
      {{"enabled": true, "type": "bell", "freq_hz": {freq}, "gain_db": 3, "q": 1, "slope_db_per_oct": 12}}
    ]}},
    "compressor": {{
      "enabled": true, "threshold_db": -20, "ratio": 4, "knee_db": 6, "attack_ms": 5,
      "release_ms": 80, "makeup_db": 0, "auto_makeup": false, "detector": "rms",
      "sidechain_hpf": true, "sidechain_hpf_hz": 100, "stereo_link_pct": 100, "mix_pct": 100{extra}
    }},
    "output_gain_db": 0,
    "ceiling": {{"enabled": true, "ceiling_db": -1}}
  }}
}}"#
    )
}

fn err(text: &str) -> String {
    parse("beat.json", text).unwrap_err().to_string()
}

#[test]
fn a_valid_file_loads_with_its_values() {
    let p = parse("beat.json", &doc("2500", "")).unwrap();
    assert_eq!(p.name, "Beat");
    assert_eq!(p.settings.eq.bands[3].freq_hz, 2500.0);
    assert!(p.settings.eq.bands[3].enabled);
    // Bands not listed are off.
    assert!(!p.settings.eq.bands[7].enabled);
    assert_eq!(p.settings.compressor.attack_ms, 5.0);
    assert_eq!(p.analysis, None);
}

#[test]
fn out_of_range_value_names_file_path_value_and_limit() {
    assert_eq!(
        err(&doc("30000", "")),
        "beat.json: settings.eq.bands[3].freq_hz: 30000 is above 20000"
    );
}

#[test]
fn several_range_errors_are_all_reported_on_one_line() {
    let text = doc("10", "").replace(r#""attack_ms": 5"#, r#""attack_ms": 0"#);
    assert_eq!(
        err(&text),
        "beat.json: settings.eq.bands[3].freq_hz: 10 is below 20; \
         settings.compressor.attack_ms: 0 is below 0.05"
    );
}

#[test]
fn wrong_type_names_the_field_path() {
    assert_eq!(
        err(&doc("\"loud\"", "")),
        "beat.json: settings.eq.bands[3].freq_hz: invalid type: string \"loud\", expected f32"
    );
}

#[test]
fn unknown_field_is_rejected_with_its_place() {
    let e = err(&doc("1000", r#", "atack_ms": 5"#));
    assert!(
        e.starts_with("beat.json: settings.compressor.atack_ms: unknown field `atack_ms`"),
        "{e}"
    );
}

#[test]
fn unknown_top_level_and_analysis_fields_are_rejected() {
    let top = doc("1000", "").replacen('{', r#"{"colour": "red", "#, 1);
    assert!(err(&top).starts_with("beat.json: colour: unknown field `colour`"));
    let analysis = doc("1000", "").replacen('{', r#"{"analysis": {"fit_eror_db": 1}, "#, 1);
    let e = err(&analysis);
    assert!(
        e.starts_with("beat.json: analysis.fit_eror_db: unknown field `fit_eror_db`"),
        "{e}"
    );
}

#[test]
fn missing_field_is_named() {
    let text = doc("1000", "").replace(r#""knee_db": 6, "#, "");
    assert_eq!(
        err(&text),
        "beat.json: settings.compressor: missing field `knee_db`"
    );
}

#[test]
fn analysis_block_round_trips() {
    let mut p = parse("beat.json", &doc("1000", "")).unwrap();
    p.analysis = Some(Analysis {
        reference_files: Some(vec!["ref.wav".into()]),
        duration_s: Some(12.5),
        eq_fit_rms_error_db: Some(0.4),
        metrics: Some([("crest_factor_db".to_owned(), 14.0)].into()),
        ..Analysis::default()
    });
    let back = parse("copy.json", &p.to_json_pretty()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn infinite_ratio_is_written_inf() {
    let text = doc("1000", "").replace(r#""ratio": 4"#, r#""ratio": "inf""#);
    let p = parse("beat.json", &text).unwrap();
    assert_eq!(p.settings.compressor.ratio, f32::INFINITY);
    let e = err(&doc("1000", "").replace(r#""ratio": 4"#, r#""ratio": "lots""#));
    assert!(
        e.starts_with("beat.json: settings.compressor.ratio: "),
        "{e}"
    );
}

#[test]
fn syntax_error_gives_line_and_column() {
    let e = err("{\n  \"schema\": \"matchbox-preset\",\n  oops\n}");
    assert!(e.starts_with("beat.json:3:3: not valid JSON: "), "{e}");
}

#[test]
fn other_json_is_not_a_preset() {
    assert_eq!(
        err(r#"{"name": "x"}"#),
        "beat.json: not a Matchbox preset: no \"schema\" field (expected \"schema\": \"matchbox-preset\")"
    );
    assert!(err(r#"{"schema": "camilladsp"}"#).contains("schema is \"camilladsp\""));
    assert!(err("[1, 2]").contains("the top level is not a JSON object"));
}

#[test]
fn version_is_required_and_newer_versions_are_refused() {
    let newer = doc("1000", "").replace(r#""version": 1"#, r#""version": 2"#);
    assert_eq!(
        err(&newer),
        "beat.json: version: was written by a newer Matchbox (version 2; this one reads up to 1)"
    );
    let missing = doc("1000", "").replace(r#""version": 1, "#, "");
    assert_eq!(
        err(&missing),
        "beat.json: version: missing (this Matchbox writes version 1)"
    );
    let fractional = doc("1000", "").replace(r#""version": 1"#, r#""version": 1.5"#);
    assert_eq!(
        err(&fractional),
        "beat.json: version: 1.5 is not a whole number ≥ 0"
    );
}

#[test]
fn version_0_file_is_migrated_to_current() {
    // Version 0 had no ceiling block.
    let v0 = doc("1000", "")
        .replace(r#""version": 1"#, r#""version": 0"#)
        .replace(
            r#""output_gain_db": 0,
    "ceiling": {"enabled": true, "ceiling_db": -1}"#,
            r#""output_gain_db": 0"#,
        );
    assert!(!v0.contains("ceiling_db"));
    let p = parse("old.json", &v0).unwrap();
    assert_eq!(p.version, CURRENT_VERSION);
    assert_eq!(p.settings.ceiling, super::migration::VERSION_0_CEILING);
    // The same file claiming version 1 is missing a field.
    let e = err(&v0.replace(r#""version": 0"#, r#""version": 1"#));
    assert_eq!(e, "beat.json: settings: missing field `ceiling`");
}

#[test]
fn bad_names_are_rejected() {
    let empty = doc("1000", "").replace(r#""name": "Beat""#, r#""name": " ""#);
    assert_eq!(err(&empty), "beat.json: name: is empty");
    let long = doc("1000", "").replace("\"Beat\"", &format!("\"{}\"", "x".repeat(65)));
    assert_eq!(err(&long), "beat.json: name: 65 characters is above 64");
}

#[test]
fn missing_file_names_it() {
    let e = load(std::path::Path::new("/nonexistent/beat.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/beat.json: cannot read: "),
        "{e}"
    );
}

#[test]
fn factory_names_resolve_in_any_case_and_as_slugs() {
    for query in [
        "Beatbox Punch",
        "beatbox punch",
        "BEATBOX-PUNCH",
        "beatbox-punch",
    ] {
        assert_eq!(resolve(query).unwrap().name, "Beatbox Punch", "{query}");
    }
    let e = resolve("Kazoo").unwrap_err().to_string();
    assert!(
        e.starts_with(
            "no preset file or factory preset named \"Kazoo\" (factory presets: Flat, Beatbox Punch, "
        ),
        "{e}"
    );
}

#[test]
fn a_json_path_that_does_not_exist_is_a_file_error_not_a_name() {
    let e = resolve("missing-preset.json").unwrap_err();
    assert!(matches!(e, PresetError::Read { .. }), "{e}");
}

#[test]
fn slugs() {
    assert_eq!(factory::slug("Beatbox Punch"), "beatbox-punch");
    assert_eq!(
        factory::slug("  Live  Safety--Limiter "),
        "live-safety-limiter"
    );
}

#[test]
fn save_writes_what_load_reads_and_refuses_invalid_presets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.json");
    let mut p = Preset::new(
        "Mine",
        "for the test",
        crate::preset::bench::bench_settings(),
    );
    save(&path, &p).unwrap();
    assert_eq!(load(&path).unwrap(), p);
    p.settings.compressor.release_ms = 9000.0;
    let bad = dir.path().join("bad.json");
    let e = save(&bad, &p).unwrap_err().to_string();
    assert!(
        e.ends_with("bad.json: settings.compressor.release_ms: 9000 is above 2500"),
        "{e}"
    );
    assert!(!bad.exists());
}

#[test]
fn a_key_given_twice_is_refused_with_its_path() {
    let text = doc("1000", "").replace(r#""ratio": 4"#, r#""ratio": 4, "ratio": 20"#);
    assert_eq!(
        err(&text),
        "beat.json: settings.compressor.ratio: given twice; each field may appear once"
    );
    let text = doc("1000", "").replacen(r#""q": 1"#, r#""q": 1, "q": 2"#, 2);
    assert_eq!(
        err(&text),
        "beat.json: settings.eq.bands[0].q: given twice; each field may appear once"
    );
    let text = doc("1000", "").replacen('{', r#"{"name": "Other", "#, 1);
    assert_eq!(
        err(&text),
        "beat.json: name: given twice; each field may appear once"
    );
}

#[test]
fn a_ratio_beyond_f32_is_not_an_infinite_ratio() {
    for big in ["1e39", "-1e39", "3.5e38"] {
        let e = err(&doc("1000", "").replace(r#""ratio": 4"#, &format!(r#""ratio": {big}"#)));
        assert!(
            e.starts_with("beat.json: settings.compressor.ratio: ratio ")
                && e.contains("is out of range; use 1 to 20, or \"inf\""),
            "{big}: {e}"
        );
    }
    // Other fields that overflow f32 read as infinite and fail their range.
    let e = err(&doc("1e39", ""));
    assert_eq!(
        e,
        "beat.json: settings.eq.bands[3].freq_hz: inf is not a finite number (allowed: 20 to 20000)"
    );
}

#[test]
fn names_are_one_line_of_printable_text() {
    for (bad, code) in [
        ("\\u001b[31mRed", "001B"),
        ("Bell\\u0007", "0007"),
        ("Nul\\u0000", "0000"),
        ("Line\\u2028Sep", "2028"),
        ("Flip\\u202e", "202E"),
        ("Two\\nLines", "000A"),
        ("C1\\u009b", "009B"),
    ] {
        let text = doc("1000", "").replace(r#""name": "Beat""#, &format!(r#""name": "{bad}""#));
        assert_eq!(
            err(&text),
            format!(
                "beat.json: name: holds the control character U+{code}; a name is one line of printable text"
            ),
            "{bad}"
        );
    }
    let text = doc("1000", "").replace(r#""name": "Beat""#, r#""name": "Beat · Ünïcode ペン""#);
    assert!(parse("beat.json", &text).is_ok());
}

#[test]
fn analysis_durations_and_fit_errors_are_not_negative() {
    let text = doc("1000", "").replacen(
        '{',
        r#"{"analysis": {"duration_s": -1, "eq_fit_rms_error_db": 0.5, "compressor_fit_error_db": -0.1}, "#,
        1,
    );
    assert_eq!(
        err(&text),
        "beat.json: analysis.duration_s: -1 is below 0; analysis.compressor_fit_error_db: -0.1 is below 0"
    );
}

#[test]
fn files_over_the_size_cap_are_refused_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.json");
    let mut text = doc("1000", "");
    text.push_str(&" ".repeat(MAX_PRESET_BYTES as usize));
    std::fs::write(&path, &text).unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: larger than 1024 KiB; not a preset file",
            path.display()
        )
    );
    let binary = dir.path().join("binary.json");
    std::fs::write(&binary, b"{\"name\": \"\xff\"}").unwrap();
    let e = load(&binary).unwrap_err().to_string();
    assert!(
        e.ends_with("cannot read: not UTF-8 text (invalid byte at offset 10)"),
        "{e}"
    );
}
