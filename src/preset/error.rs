//! Why a preset could not be loaded. Every message is one line that starts with the file (or
//! the factory name) and, where there is one, the field path: `beat.json:
//! settings.eq.bands[3].freq_hz: 30000 is above 20000`.

use super::schema::{CURRENT_VERSION, SCHEMA};
use crate::dsp::FieldError;

/// A preset that failed to load. Loading returns this and changes nothing else.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: larger than {} KiB; not a preset file", super::raw::MAX_PRESET_BYTES / 1024)]
    TooLarge { file: String },
    #[error("{file}: cannot write: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: not a Matchbox preset: {problem} (expected \"schema\": \"{SCHEMA}\")")]
    NotAPreset { file: String, problem: String },
    #[error(
        "{file}: version: was written by a newer Matchbox (version {version}; this one reads up to {CURRENT_VERSION})"
    )]
    TooNew { file: String, version: u64 },
    /// A field of the wrong type, a missing or unknown field, or a bad version number.
    #[error("{file}: {field}: {problem}")]
    Field {
        file: String,
        /// Path of the field, e.g. `settings.compressor.ratio`.
        field: String,
        problem: String,
    },
    /// Well-formed, but values outside their ranges; all of them, in field order.
    #[error("{file}: {}", join_field_errors(.errors))]
    Invalid {
        file: String,
        /// Paths start at the file's top level (`settings.eq.bands[3].freq_hz`).
        errors: Vec<FieldError>,
    },
    #[error("no preset file or factory preset named \"{name}\" (factory presets: {})", .available.join(", "))]
    UnknownFactory {
        name: String,
        available: Vec<String>,
    },
}

fn join_field_errors(errors: &[FieldError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}
