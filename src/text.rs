//! Text that came from outside (a preset file, an audio file's metadata, a file name) made
//! safe to show: which characters count as printable, and the one escaping used for the rest
//! everywhere Matchbox prints (`cli::output`).
//!
//! A terminal obeys control characters: ESC starts a sequence that can retitle the window,
//! hide text or fake a line, BEL rings, NUL and bidirectional overrides (U+202E) make the
//! screen show something other than what the bytes say. Nothing from a file may reach a
//! terminal with those left in.

use std::borrow::Cow;

/// Whether `c` shows as itself: not a control character (C0, DEL, C1), not a line or
/// paragraph separator (U+2028, U+2029), not a bidirectional control (U+061C, U+200E/F,
/// U+202A–U+202E, U+2066–U+2069), not an invisible format character (U+180E, U+200B,
/// U+2060–U+2064, U+FEFF, U+FFF9–U+FFFB, tags U+E0000–U+E007F), not a noncharacter
/// (U+FFFE, U+FFFF). Zero-width (non-)joiners U+200C/U+200D stay allowed: scripts and emoji
/// sequences need them.
pub fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{FFFE}'
                | '\u{FFFF}'
                | '\u{E0000}'..='\u{E007F}'
        ))
}

/// `text` with every character that is not [`is_printable`] written as a JSON-style escape,
/// `\u001b` (a pair of UTF-16 escapes above U+FFFF). The same form is readable in a message
/// and still valid inside a JSON string, so JSON output goes through this unchanged in
/// meaning. Borrowed when nothing needed escaping.
pub fn escape(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_printable) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_printable(c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_borrowed_unchanged() {
        for text in [
            "Beatbox Punch",
            "Vocal – warm · 2.5:1",
            "ペン",
            "👨\u{200D}👩",
        ] {
            assert!(
                matches!(escape(text), Cow::Borrowed(t) if t == text),
                "{text}"
            );
        }
    }

    #[test]
    fn terminal_controls_are_escaped_json_style() {
        assert_eq!(escape("a\u{1b}[31mred"), "a\\u001b[31mred");
        assert_eq!(escape("bell\u{7}\0"), "bell\\u0007\\u0000");
        assert_eq!(
            escape("line\nbreak\ttab\r"),
            "line\\u000abreak\\u0009tab\\u000d"
        );
        assert_eq!(escape("csi\u{9b}"), "csi\\u009b");
        assert_eq!(escape("sep\u{2028}rlo\u{202e}"), "sep\\u2028rlo\\u202e");
        assert_eq!(escape("tag\u{E0041}"), "tag\\udb40\\udc41");
    }

    #[test]
    fn an_escaped_json_string_still_parses_to_the_original() {
        let original = "x\u{1b}\u{9b}\u{2028}\u{202e}\u{E0041}y";
        let json = serde_json::to_string(original).unwrap();
        let shown = escape(&json);
        assert!(shown.chars().all(is_printable), "{shown}");
        let back: String = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, original);
    }
}
