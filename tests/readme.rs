//! The README's tables say what the code does: every range row matches `dsp::ranges`, the
//! exit-code table matches `cli::EXIT_CODES`, and every factory preset is listed.

use matchbox::dsp::settings::fmt_num;
use matchbox::dsp::{Range, ranges};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The table row whose first cell is `` `field` ``.
fn row(readme: &str, field: &str) -> String {
    let start = format!("| `{field}` |");
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with(&start)).collect();
    assert_eq!(rows.len(), 1, "README rows for {field}: {rows:?}");
    rows[0].to_owned()
}

#[test]
fn range_table_matches_the_declared_ranges() {
    let text = readme();
    let fields: [(&str, Range); 15] = [
        ("input_gain_db", ranges::IN_GAIN_DB),
        ("output_gain_db", ranges::OUT_GAIN_DB),
        ("freq_hz", ranges::BAND_FREQ_HZ),
        ("gain_db", ranges::BAND_GAIN_DB),
        ("q", ranges::BAND_Q),
        ("threshold_db", ranges::THRESHOLD_DB),
        ("ratio", ranges::RATIO),
        ("knee_db", ranges::KNEE_DB),
        ("attack_ms", ranges::ATTACK_MS),
        ("release_ms", ranges::RELEASE_MS),
        ("makeup_db", ranges::MAKEUP_DB),
        ("sidechain_hpf_hz", ranges::SIDECHAIN_HPF_HZ),
        ("stereo_link_pct", ranges::STEREO_LINK_PCT),
        ("mix_pct", ranges::MIX_PCT),
        ("ceiling_db", ranges::CEILING_DB),
    ];
    for (field, range) in fields {
        let cells: Vec<String> = row(&text, field)
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        // cells: "", field, unit, allowed, default, meaning, ""
        // The threshold is declared in "dB"; the README says what it is relative to.
        let unit = if field == "threshold_db" {
            "dBFS"
        } else {
            range.unit
        };
        assert_eq!(cells[2], unit, "{field} unit");
        let allowed = format!("{} to {}", fmt_num(range.min), fmt_num(range.max));
        assert!(
            cells[3].starts_with(&allowed),
            "{field}: {} vs {allowed}",
            cells[3]
        );
        assert_eq!(cells[4], fmt_num(range.default), "{field} default");
    }
    let slopes: Vec<String> = ranges::CUT_SLOPES_DB_PER_OCT
        .iter()
        .map(u32::to_string)
        .collect();
    assert!(row(&text, "slope_db_per_oct").contains(&slopes.join(", ")));
}

#[test]
fn exit_code_table_matches_the_binary() {
    let text = readme();
    for (code, meaning) in matchbox::cli::EXIT_CODES {
        let line = format!("| {code} | {meaning} |");
        assert!(text.contains(&line), "README lacks: {line}");
    }
}

#[test]
fn every_factory_preset_is_listed() {
    let text = readme();
    for name in matchbox::preset::factory_names() {
        assert!(text.contains(&format!("| {name} |")), "README lacks {name}");
    }
}

#[test]
fn supported_input_table_matches_the_constants() {
    use matchbox::audio_io::{
        MAX_IN_MEMORY_FRAMES, MAX_SAMPLE_ABS, MAX_SAMPLE_RATE_HZ, MAX_WAV_SAMPLES,
        MIN_SAMPLE_RATE_HZ,
    };
    let text = readme();
    // "1 073 741 806": digits in groups of three, as the table writes them.
    let grouped = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(' ');
            }
            out.push(c);
        }
        out
    };
    for needle in [
        format!("| sample rate | {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz |"),
        format!("| channels | 1 or {} |", matchbox::audio_io::MAX_CHANNELS),
        format!("finite, within ±{MAX_SAMPLE_ABS} (+60 dBFS)"),
        format!("({} samples, ", grouped(MAX_WAV_SAMPLES)),
        format!(
            "| length, `analyze` | the first {} frames",
            grouped(MAX_IN_MEMORY_FRAMES)
        ),
        format!(
            "| length, `compare` | {} frames per file",
            grouped(MAX_IN_MEMORY_FRAMES)
        ),
        format!(
            "Preset files: at most {} MiB",
            matchbox::preset::MAX_PRESET_BYTES >> 20
        ),
    ] {
        assert!(text.contains(&needle), "README lacks: {needle}");
    }
}
