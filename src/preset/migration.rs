//! Bringing older preset files up to [`CURRENT_VERSION`], as data: one step per version,
//! applied in order to the raw JSON before it is checked against the current schema
//! (the pattern of OctaSine's `COMPATIBILITY_CHANGES` table).
//!
//! To change the format: bump [`CURRENT_VERSION`], add a [`Migration`] from the previous
//! version to [`MIGRATIONS`] (it edits the JSON object in place), and add a fixture of the
//! old version to the tests.

use super::error::PresetError;
use super::schema::CURRENT_VERSION;
use crate::dsp::{CeilingSettings, ranges};
use serde_json::{Map, Value};

/// One step: turns a version-`from_version` document into a version `from_version + 1` one.
pub struct Migration {
    pub from_version: u32,
    /// What changed in the format, for people.
    pub change: &'static str,
    pub apply: fn(&mut Map<String, Value>),
}

/// Every step, oldest first; `MIGRATIONS[i].from_version == OLDEST_VERSION + i`.
pub const MIGRATIONS: &[Migration] = &[Migration {
    from_version: 0,
    change: "version 0 (the pre-release draft) had no safety ceiling; the ceiling is added, off (VERSION_0_CEILING)",
    apply: add_version_0_ceiling,
}];

/// The safety ceiling a version-0 document gets: presets of version 0 and plugin states of
/// layout 0 (`plugin::state`) were written before the ceiling existed, and both migrate by this
/// one rule. Off, so a migrated document sounds as it did when it was written; the level is
/// the default, ready for whoever turns it on.
pub const VERSION_0_CEILING: CeilingSettings = CeilingSettings {
    enabled: false,
    ceiling_db: ranges::CEILING_DB.default,
};

/// The oldest version this build can read.
pub const OLDEST_VERSION: u32 = CURRENT_VERSION - MIGRATIONS.len() as u32;

/// Migrate `doc` (a preset object whose `version` field is `version`) to [`CURRENT_VERSION`]
/// in place. `file` names the file in errors.
pub fn migrate(file: &str, doc: &mut Map<String, Value>, version: u64) -> Result<(), PresetError> {
    if version > u64::from(CURRENT_VERSION) {
        return Err(PresetError::TooNew {
            file: file.to_owned(),
            version,
        });
    }
    if version < u64::from(OLDEST_VERSION) {
        return Err(PresetError::Field {
            file: file.to_owned(),
            field: "version".into(),
            problem: format!(
                "{version} is older than this Matchbox can read (allowed: {OLDEST_VERSION} to {CURRENT_VERSION})"
            ),
        });
    }
    for step in MIGRATIONS
        .iter()
        .filter(|m| u64::from(m.from_version) >= version)
    {
        (step.apply)(doc);
    }
    doc.insert("version".into(), Value::from(CURRENT_VERSION));
    Ok(())
}

fn add_version_0_ceiling(doc: &mut Map<String, Value>) {
    if let Some(Value::Object(settings)) = doc.get_mut("settings") {
        settings.entry("ceiling").or_insert_with(|| {
            serde_json::to_value(VERSION_0_CEILING).expect("plain struct serialises")
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_contiguous_and_end_at_current() {
        for (i, step) in MIGRATIONS.iter().enumerate() {
            assert_eq!(step.from_version, OLDEST_VERSION + i as u32);
        }
        assert_eq!(OLDEST_VERSION + MIGRATIONS.len() as u32, CURRENT_VERSION);
    }

    #[test]
    fn newer_version_is_refused_with_both_numbers() {
        let mut doc = Map::new();
        let err = migrate("x.json", &mut doc, 7).unwrap_err().to_string();
        assert_eq!(
            err,
            "x.json: version: was written by a newer Matchbox (version 7; this one reads up to 1)"
        );
    }

    #[test]
    fn v0_gains_the_version_0_ceiling_and_current_version() {
        let mut doc: Map<String, Value> =
            serde_json::from_str(r#"{"version": 0, "settings": {"input_gain_db": 1}}"#).unwrap();
        migrate("old.json", &mut doc, 0).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["settings"]["ceiling"]["enabled"], false);
        assert_eq!(doc["settings"]["ceiling"]["ceiling_db"], -0.3f32 as f64);
        assert_eq!(doc["settings"]["input_gain_db"], 1);
    }
}
