//! Preset files: JSON holding a schema marker, a version, a name, a description, the chain
//! settings and optional analysis notes.
//!
//! Loading goes in three layers, and a file that fails any of them is rejected whole:
//! 1. JSON syntax (line and column in the error);
//! 2. the header (`schema`, `version`), migrating older versions ([`migration`]);
//! 3. the shape (types, missing and unknown fields, with the field's path, via
//!    `serde_path_to_error`), then the ranges ([`ChainSettings::validate`]).

pub mod bench;
mod error;
pub mod factory;
pub mod migration;
mod raw;
mod schema;

pub use error::PresetError;
pub use factory::{FACTORY, factory_names, factory_presets, find_factory};
pub use raw::MAX_PRESET_BYTES;
pub use schema::{Analysis, CURRENT_VERSION, MAX_NAME_CHARS, Preset, SCHEMA};

use crate::dsp::{ChainSettings, FieldError};
use crate::text::is_printable;
use serde_json::Value;
use std::path::Path;

/// Read and check the preset file at `path` (at most [`MAX_PRESET_BYTES`] are read). Errors
/// name the file as given.
pub fn load(path: &Path) -> Result<Preset, PresetError> {
    let file = path.display().to_string();
    let text = raw::read_capped(path).map_err(|e| match e {
        raw::ReadError::Io(source) => PresetError::Read {
            file: file.clone(),
            source,
        },
        raw::ReadError::TooLarge => PresetError::TooLarge { file: file.clone() },
    })?;
    parse(&file, &text)
}

/// Check `preset` and write it to `path` as pretty JSON, atomically ([`crate::files`]). An
/// invalid preset is refused before anything is written, so a file on disk always loads.
pub fn save(path: &Path, preset: &Preset) -> Result<(), PresetError> {
    let file = path.display().to_string();
    let text = preset.to_json_pretty();
    // The same checks as loading, on exactly the text that would be written.
    parse(&file, &text)?;
    crate::files::write_atomically(path, text.as_bytes())
        .map_err(|source| PresetError::Write { file, source })
}

/// `arg` as the command line's `--preset <FILE|NAME>`: a file when it exists or ends in
/// `.json`, otherwise a factory preset name (case-insensitive, or its slug).
pub fn resolve(arg: &str) -> Result<Preset, PresetError> {
    match file_of(arg) {
        Some(path) => load(path),
        None => find_factory(arg).map(|(_, preset)| preset),
    }
}

/// The file that [`resolve`] reads for `arg`, or `None` when `arg` names a factory preset.
pub fn file_of(arg: &str) -> Option<&Path> {
    let path = Path::new(arg);
    (path.exists() || arg.to_ascii_lowercase().ends_with(".json")).then_some(path)
}

/// Parse and check a preset from JSON text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Preset, PresetError> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        let position = format!(" at line {} column {}", e.line(), e.column());
        PresetError::Syntax {
            file: file.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string().trim_end_matches(&position).to_owned(),
        }
    })?;
    if let Some(field) = raw::first_duplicate_key(text) {
        return Err(PresetError::Field {
            file: file.to_owned(),
            field,
            problem: "given twice; each field may appear once".into(),
        });
    }
    let not_a_preset = |problem: &str| PresetError::NotAPreset {
        file: file.to_owned(),
        problem: problem.to_owned(),
    };
    let doc = value
        .as_object_mut()
        .ok_or_else(|| not_a_preset("the top level is not a JSON object"))?;
    match doc.get("schema") {
        Some(Value::String(s)) if s == SCHEMA => {}
        Some(Value::String(s)) => return Err(not_a_preset(&format!("schema is \"{s}\""))),
        Some(_) => return Err(not_a_preset("schema is not a string")),
        None => return Err(not_a_preset("no \"schema\" field")),
    }
    let version = match doc.get("version") {
        Some(v) => v.as_u64().ok_or_else(|| PresetError::Field {
            file: file.to_owned(),
            field: "version".into(),
            problem: format!("{v} is not a whole number ≥ 0"),
        })?,
        None => {
            return Err(PresetError::Field {
                file: file.to_owned(),
                field: "version".into(),
                problem: format!("missing (this Matchbox writes version {CURRENT_VERSION})"),
            });
        }
    };
    migration::migrate(file, doc, version)?;

    let preset: Preset = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        PresetError::Field {
            file: file.to_owned(),
            field: if field == "." {
                "(top level)".into()
            } else {
                field
            },
            problem: e.into_inner().to_string(),
        }
    })?;
    let errors = semantic_errors(&preset);
    if errors.is_empty() {
        Ok(preset)
    } else {
        Err(PresetError::Invalid {
            file: file.to_owned(),
            errors,
        })
    }
}

/// Range problems in the name and settings, with paths from the file's top level.
fn semantic_errors(preset: &Preset) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name_chars = preset.name.chars().count();
    if preset.name.trim().is_empty() {
        errors.push(FieldError {
            path: "name".into(),
            problem: "is empty".into(),
        });
    } else if name_chars > MAX_NAME_CHARS {
        errors.push(FieldError {
            path: "name".into(),
            problem: format!("{name_chars} characters is above {MAX_NAME_CHARS}"),
        });
    } else if let Some(c) = preset.name.chars().find(|&c| !is_printable(c)) {
        errors.push(FieldError {
            path: "name".into(),
            problem: format!(
                "holds the control character U+{:04X}; a name is one line of printable text",
                c as u32
            ),
        });
    }
    errors.extend(settings_errors(&preset.settings));
    if let Some(analysis) = &preset.analysis {
        errors.extend(analysis_errors(analysis));
    }
    errors
}

/// The analysis notes' durations and fit errors: none is negative. (JSON cannot write an
/// infinite or NaN number, and serde_json refuses one too large for an `f64`.)
fn analysis_errors(analysis: &Analysis) -> Vec<FieldError> {
    [
        ("duration_s", analysis.duration_s),
        ("eq_fit_rms_error_db", analysis.eq_fit_rms_error_db),
        ("eq_fit_max_error_db", analysis.eq_fit_max_error_db),
        ("compressor_fit_error_db", analysis.compressor_fit_error_db),
    ]
    .into_iter()
    .filter_map(|(field, value)| {
        value.filter(|v| *v < 0.0).map(|v| FieldError {
            path: format!("analysis.{field}"),
            problem: format!("{v} is below 0"),
        })
    })
    .collect()
}

/// [`ChainSettings::validate`] with each path prefixed by `settings.`.
fn settings_errors(settings: &ChainSettings) -> Vec<FieldError> {
    settings
        .validate()
        .into_iter()
        .map(|e| FieldError {
            path: format!("settings.{}", e.path),
            problem: e.problem,
        })
        .collect()
}

#[cfg(test)]
mod tests;
