//! The remote control's access token: 128 random bits from the operating system, made at each
//! start (or read from a file, for a token that stays the same from show to show), compared in
//! constant time.

use std::path::Path;

/// Random bytes in a fresh token: 128 bits.
const TOKEN_BYTES: usize = 16;
/// The shortest token a file may hold: 22 characters of the URL-safe alphabet carry 131 bits.
pub const MIN_FILE_TOKEN_CHARS: usize = 22;
/// The longest (a token goes into every URL).
pub const MAX_FILE_TOKEN_CHARS: usize = 256;

/// A secret that grants control. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new random token: 128 bits from the OS's random source, as 32 hex digits.
    pub fn random() -> Result<Token, String> {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("no random numbers from the operating system: {e}"))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token in `path`: its text without surrounding white space, at least
    /// [`MIN_FILE_TOKEN_CHARS`] characters of `A–Z a–z 0–9 - _ . ~` (what a URL carries as is).
    pub fn from_file(path: &Path) -> Result<Token, String> {
        let shown = crate::text::escape(&path.display().to_string()).into_owned();
        let mut text = String::new();
        use std::io::Read;
        std::fs::File::open(path)
            .and_then(|f| {
                f.take(MAX_FILE_TOKEN_CHARS as u64 + 64)
                    .read_to_string(&mut text)
            })
            .map_err(|e| format!("--remote-token-file {shown}: {e}"))?;
        Token::parse(text.trim()).map_err(|e| format!("--remote-token-file {shown}: {e}"))
    }

    /// A token given as text; see [`Token::from_file`].
    pub fn parse(text: &str) -> Result<Token, String> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
        if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
            return Err(format!(
                "the token holds {bad:?}; use only A–Z, a–z, 0–9 and - _ . ~"
            ));
        }
        let n = text.chars().count();
        if !(MIN_FILE_TOKEN_CHARS..=MAX_FILE_TOKEN_CHARS).contains(&n) {
            return Err(format!(
                "the token has {n} characters; it needs {MIN_FILE_TOKEN_CHARS}…\
                 {MAX_FILE_TOKEN_CHARS} (128 bits or more)"
            ));
        }
        Ok(Token(text.to_owned()))
    }

    /// The secret itself, for the one line that prints the URL.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this token, in time that depends only on the lengths.
    pub fn matches(&self, offered: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), offered)
    }
}

/// `a == b`, looking at every byte whatever the first difference (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// `text` as a QR code drawn with half-block characters, two rows of modules a line, for a
/// terminal with a dark background (the light modules and the quiet zone are the drawn ones;
/// phone cameras read the inverted code a light background makes too).
pub fn qr_lines(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_carry_128_bits_and_differ() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_eq!(a.reveal().len(), 32);
        assert!(a.reveal().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Token(…)");
    }

    #[test]
    fn comparison_needs_every_byte() {
        let t = Token::parse("abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(t.matches(b"abcdefghijklmnopqrstuvwxyz"));
        assert!(!t.matches(b"abcdefghijklmnopqrstuvwxyZ"));
        assert!(!t.matches(b"bbcdefghijklmnopqrstuvwxyz"));
        assert!(!t.matches(b"abcdefghijklmnopqrstuvwxy"));
        assert!(!t.matches(b""));
    }

    #[test]
    fn file_tokens_must_be_long_and_url_safe() {
        assert!(Token::parse("short").unwrap_err().contains("5 characters"));
        assert!(
            Token::parse("a token with spaces in it!!")
                .unwrap_err()
                .contains("' '")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  0123456789abcdefghijKLMN_-.~\n").unwrap();
        assert_eq!(
            Token::from_file(&path).unwrap().reveal(),
            "0123456789abcdefghijKLMN_-.~"
        );
        let missing = Token::from_file(&dir.path().join("nope")).unwrap_err();
        assert!(missing.starts_with("--remote-token-file "), "{missing}");
    }

    #[test]
    fn the_qr_code_draws_in_half_blocks() {
        let qr = qr_lines("http://127.0.0.1:7878/?token=0123456789abcdef0123456789abcdef").unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        // Version 3 or 4 with its quiet zone: about 37–41 modules square, two a line.
        assert!(lines.len() >= 18 && lines.len() <= 22, "{}", lines.len());
        assert!(qr.contains('▀') || qr.contains('▄'));
    }
}
