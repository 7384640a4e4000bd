//! Everything the command line prints goes through here: line by line, each line escaped with
//! [`crate::text::escape`] (a file name or a preset field can hold terminal controls), and
//! every write checked and flushed, so a closed pipe or a full disk is an error with a
//! non-zero exit instead of a panic or a silent success.

use super::CliError;
use std::fmt;
use std::io::Write;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Results: `ok: FILE`, JSON, summaries.
    Stdout,
    /// Diagnostics: errors, warnings, notes.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Write `text` to `stream` as lines: each line escaped, each ended by `\n`. Text that already
/// ends in `\n` gets no extra empty line; a `\n` inside the text starts a new line (JSON from
/// serde_json never has a raw newline inside a string, so this keeps its layout).
pub fn lines(stream: Stream, text: &str) -> Result<(), CliError> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut escaped = String::with_capacity(body.len() + 1);
    for line in body.split('\n') {
        escaped.push_str(&crate::text::escape(line));
        escaped.push('\n');
    }
    write(stream, &escaped)
}

/// One formatted line (a `\n` in it is escaped, so one call is one line on the screen).
pub fn line(stream: Stream, args: fmt::Arguments<'_>) -> Result<(), CliError> {
    let mut text = crate::text::escape(&args.to_string()).into_owned();
    text.push('\n');
    write(stream, &text)
}

/// `text` (already escaped) to `stream`, flushed.
fn write(stream: Stream, text: &str) -> Result<(), CliError> {
    let result = match stream {
        Stream::Stdout => write_flushed(&mut std::io::stdout().lock(), text),
        Stream::Stderr => write_flushed(&mut std::io::stderr().lock(), text),
    };
    result.map_err(|source| CliError::Output {
        stream: stream.name(),
        source,
    })
}

fn write_flushed(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_device_is_an_error_not_a_panic() {
        let mut full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let e = write_flushed(&mut full, "x\n").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28)); // ENOSPC
    }
}
