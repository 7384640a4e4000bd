//! The preset file's shape: a schema marker, a version, a name, a description, the chain
//! settings and an optional block of analysis notes for people.
//!
//! Every struct here rejects unknown fields, so a typo (`"atack_ms"`) is an error that names
//! the field instead of a setting silently left at its default.

use crate::dsp::ChainSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Value of the `schema` field that marks a JSON file as a Matchbox preset.
pub const SCHEMA: &str = "matchbox-preset";

/// The preset version this build writes. Older versions are migrated on load
/// (see [`super::migration`]); newer ones are refused.
pub const CURRENT_VERSION: u32 = 1;

/// Longest preset name, characters (names go into host preset menus and one-line listings).
pub const MAX_NAME_CHARS: usize = 64;

/// One preset file, as read and written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Always [`CURRENT_VERSION`] once loaded (older files are migrated first).
    pub version: u32,
    /// Shown in listings and menus; one line, 1…[`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// What the preset does and why, for people. Free text.
    pub description: String,
    /// The chain settings; the only part the DSP reads.
    pub settings: ChainSettings,
    /// Where the settings came from, when `matchbox analyze` made them. Ignored by the DSP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
}

impl Preset {
    /// A current-version preset with no analysis notes.
    pub fn new(name: &str, description: &str, settings: ChainSettings) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            version: CURRENT_VERSION,
            name: name.to_owned(),
            description: description.to_owned(),
            settings,
            analysis: None,
        }
    }

    /// Pretty JSON with a trailing newline, fields in declaration order (small diffs).
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain structs of numbers, strings and bools to a String cannot fail.
        let mut text = serde_json::to_string_pretty(self).expect("preset serialises");
        text.push('\n');
        text
    }
}

/// Notes from the analysis that produced a preset: for people, ignored by the DSP.
///
/// Every field is optional. To record something new, add an optional field here (with its
/// unit in the name); for ad-hoc numbers use [`Analysis::metrics`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// The program that wrote the settings, e.g. `"matchbox analyze 0.1.0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// The reference recording(s) the sound was learned from (file names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_files: Option<Vec<String>>,
    /// The recording(s) of the user's own voice/mic that were matched to the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_files: Option<Vec<String>>,
    /// Total duration analysed, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Sample rate of the analysed audio, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate_hz: Option<u32>,
    /// RMS difference between the target and the fitted EQ curve over the fit band, dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq_fit_rms_error_db: Option<f64>,
    /// Largest difference between the target and the fitted EQ curve, dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq_fit_max_error_db: Option<f64>,
    /// RMS difference between the target and the fitted compressor's level statistics, dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressor_fit_error_db: Option<f64>,
    /// Other measured numbers, keyed by a name that carries the unit
    /// (`"reference_loudness_lufs"`, `"crest_factor_db"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<BTreeMap<String, f64>>,
    /// Free-text remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}
