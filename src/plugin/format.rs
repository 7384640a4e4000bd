//! Parameter value text: plain value → what a host shows, and what a person types → plain value.
//!
//! Every formatter has its parser beside it, and the parser accepts the formatter's own output
//! (with or without the unit), so `text → value → text` is stable in hosts that round-trip.

use std::sync::Arc;

/// A value-to-text callback as nice-plug wants it.
pub type ToText = Arc<dyn Fn(f32) -> String + Send + Sync>;
/// A text-to-value callback as nice-plug wants it; `None` rejects the text.
pub type FromText = Arc<dyn Fn(&str) -> Option<f32> + Send + Sync>;

/// The unit suffix a host appends to the value text, for a unit as declared in
/// [`crate::dsp::ranges`]. Units that read as part of the number (":1") get no space.
pub fn unit_suffix(unit: &'static str) -> &'static str {
    match unit {
        "dB" => " dB",
        "dBFS" => " dBFS",
        "ms" => " ms",
        "%" => " %",
        "Hz" => " Hz",
        ":1" => ":1",
        _ => "",
    }
}

/// `value` with `decimals` digits, never "-0.0".
fn fixed(value: f32, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_owned(),
        _ => text,
    }
}

/// The number at the start of `text` after dropping a trailing unit made of letters, spaces,
/// `%` or `/`; e.g. "-18.0 dB" → -18.0, "12ms" → 12.
fn leading_number(text: &str) -> Option<f32> {
    let number = text
        .trim()
        .trim_end_matches(|c: char| c.is_alphabetic() || c == ' ' || c == '%');
    let value: f32 = number.parse().ok()?;
    value.is_finite().then_some(value)
}

/// dB with one decimal: "-18.0" (the unit is appended by the host).
pub fn db_to_text() -> ToText {
    Arc::new(|db| fixed(db, 1))
}

/// Parses "-18", "-18.0 dB", "-18 dBFS".
pub fn db_from_text() -> FromText {
    Arc::new(leading_number)
}

/// Milliseconds, finer below 10 ms: "0.50", "4.2", "12", "250".
pub fn ms_to_text() -> ToText {
    // The cut-offs sit where rounding would carry into the next decade ("9.96" shows as "10"),
    // so text → value → text gives the same text.
    Arc::new(|ms| {
        let decimals = if ms < 0.995 {
            2
        } else if ms < 9.95 {
            1
        } else {
            0
        };
        fixed(ms, decimals)
    })
}

/// Parses "12", "12 ms", "0.5ms", and seconds as "1.2 s".
pub fn ms_from_text() -> FromText {
    Arc::new(|text| {
        let text = text.trim();
        let seconds = text.ends_with('s') && !text.ends_with("ms");
        leading_number(text).map(|v| if seconds { v * 1000.0 } else { v })
    })
}

/// Frequency with its unit, switching to kHz at 1 kHz: "45.0 Hz", "120 Hz", "3.20 kHz".
pub fn hz_to_text() -> ToText {
    // As in `ms_to_text`, the cut-offs are where rounding carries into the next decade.
    Arc::new(|hz| {
        if hz >= 999.5 {
            format!(
                "{} kHz",
                fixed(hz / 1000.0, if hz < 9_995.0 { 2 } else { 1 })
            )
        } else if hz < 99.95 {
            format!("{} Hz", fixed(hz, 1))
        } else {
            format!("{} Hz", fixed(hz, 0))
        }
    })
}

/// Parses "3.2 kHz", "3.2k", "3200", "3200 Hz".
pub fn hz_from_text() -> FromText {
    Arc::new(|text| {
        let lower = text.trim().to_ascii_lowercase();
        let kilo = lower.trim_end_matches("hz").trim_end().ends_with('k');
        leading_number(&lower).map(|v| if kilo { v * 1000.0 } else { v })
    })
}

/// Plain number with two decimals (Q): "0.71".
pub fn plain_to_text() -> ToText {
    Arc::new(|v| fixed(v, 2))
}

/// Parses a plain number.
pub fn plain_from_text() -> FromText {
    Arc::new(leading_number)
}

/// Percent without decimals: "100" (the host appends " %").
pub fn pct_to_text() -> ToText {
    Arc::new(|pct| fixed(pct, 0))
}

/// Parses "75", "75 %", "75%".
pub fn pct_from_text() -> FromText {
    Arc::new(leading_number)
}

/// Ratio text for a parameter whose plain values above `max_finite` mean an infinite ratio:
/// "4.0", or "∞" (the host appends ":1").
pub fn ratio_to_text(max_finite: f32) -> ToText {
    Arc::new(move |ratio| {
        if ratio > max_finite {
            "∞".to_owned()
        } else {
            fixed(ratio, 1)
        }
    })
}

/// Parses "4", "4:1", "4.0:1", and "∞", "inf", "∞:1" as `infinite_plain` (the plain value
/// that stands for ∞).
pub fn ratio_from_text(infinite_plain: f32) -> FromText {
    Arc::new(move |text| {
        let number = text.trim();
        let number = number.strip_suffix(":1").unwrap_or(number).trim();
        if number == "∞" || number.eq_ignore_ascii_case("inf") {
            Some(infinite_plain)
        } else {
            leading_number(number)
        }
    })
}

/// The skew that spreads a frequency range evenly over octaves as well as nice-plug's power
/// curve can: normalized 0.5 lands on the geometric mean of the range.
pub fn log_skew(min: f32, max: f32) -> f32 {
    // Skewed ranges map normalized n to min + (max - min) * n^(1/factor); solve for
    // n = 0.5 ↦ sqrt(min * max).
    let mid = ((min * max).sqrt() - min) / (max - min);
    0.5f32.ln() / mid.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::prelude::FloatRange;

    #[test]
    fn texts_read_as_the_issue_asks() {
        assert_eq!(db_to_text()(-18.0), "-18.0");
        assert_eq!(db_to_text()(-0.01), "0.0");
        assert_eq!(ratio_to_text(20.0)(4.0), "4.0");
        assert_eq!(ratio_to_text(20.0)(20.5), "∞");
        assert_eq!(ms_to_text()(12.0), "12");
        assert_eq!(ms_to_text()(0.05), "0.05");
        assert_eq!(hz_to_text()(3_200.0), "3.20 kHz");
        assert_eq!(hz_to_text()(120.0), "120 Hz");
        assert_eq!(hz_to_text()(20.0), "20.0 Hz");
        assert_eq!(hz_to_text()(20_000.0), "20.0 kHz");
        assert_eq!(pct_to_text()(100.0), "100");
    }

    #[test]
    fn parsers_accept_their_formatters_output_with_units() {
        assert_eq!(db_from_text()("-18.0 dB"), Some(-18.0));
        assert_eq!(db_from_text()("-0.3 dBFS"), Some(-0.3));
        assert_eq!(ratio_from_text(21.0)("4.0:1"), Some(4.0));
        assert_eq!(ratio_from_text(21.0)("∞:1"), Some(21.0));
        assert_eq!(ratio_from_text(21.0)("inf"), Some(21.0));
        assert_eq!(ms_from_text()("12 ms"), Some(12.0));
        assert_eq!(ms_from_text()("1.5 s"), Some(1500.0));
        assert_eq!(hz_from_text()("3.20 kHz"), Some(3200.0));
        assert_eq!(hz_from_text()("3.2k"), Some(3200.0));
        assert_eq!(hz_from_text()("120 Hz"), Some(120.0));
        assert_eq!(pct_from_text()("75 %"), Some(75.0));
        assert_eq!(plain_from_text()("0.71"), Some(0.71));
    }

    #[test]
    fn parsers_refuse_words_and_non_finite_numbers() {
        assert_eq!(db_from_text()("loud"), None);
        assert_eq!(db_from_text()("NaN dB"), None);
        assert_eq!(hz_from_text()(""), None);
        assert_eq!(ratio_from_text(21.0)("a:1"), None);
    }

    #[test]
    fn log_skew_puts_the_geometric_mean_mid_knob() {
        let (min, max) = (20.0f32, 20_000.0f32);
        let range = FloatRange::Skewed {
            min,
            max,
            factor: log_skew(min, max),
        };
        let mid_hz = range.unnormalize(0.5);
        assert!((mid_hz - (min * max).sqrt()).abs() < 0.01, "{mid_hz}");
    }
}
