//! Host state (project save/restore): its layout version, migration of older layouts, and the
//! check that refuses state Matchbox did not write.
//!
//! nice-plug saves every parameter's plain value under its ID, plus the persisted field
//! `stver` ([`STATE_VERSION`]). Before loading, [`filter_state`] brings an older layout up to
//! date step by step ([`MIGRATIONS`]) and then checks every value; a state that fails the check
//! is emptied, so loading it changes nothing.

use super::params::MatchboxParams;
use crate::dsp::ChainSettings;
use crate::preset::migration::VERSION_0_CEILING;
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Layout version this build writes. Bump it, and add a step to [`MIGRATIONS`], whenever a
/// parameter's ID or meaning changes.
pub const STATE_VERSION: u32 = 1;

/// Key of the persisted layout version in [`PluginState::fields`].
pub const VERSION_KEY: &str = "stver";

/// One migration step: turns a state of layout `from` into layout `from + 1`.
pub struct Migration {
    pub from: u32,
    pub step: fn(&mut PluginState),
}

/// Every migration step, oldest first.
pub const MIGRATIONS: &[Migration] = &[Migration {
    from: 0,
    step: v0_to_v1,
}];

/// Layout 0 is state without a `stver` marker: written before the layout was versioned (no
/// release wrote it; it stands for pre-release projects and is what the migration test feeds).
/// It had no safety ceiling: it gets [`VERSION_0_CEILING`], the rule version-0 presets follow
/// too (off, so the project sounds as it did).
fn v0_to_v1(state: &mut PluginState) {
    let ceiling = [
        ("ceil", ParamValue::Bool(VERSION_0_CEILING.enabled)),
        ("ceildb", ParamValue::F32(VERSION_0_CEILING.ceiling_db)),
    ];
    for (id, value) in ceiling {
        state.params.entry(id.to_owned()).or_insert(value);
    }
}

/// Why a state was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("state field {VERSION_KEY}: {0:?} is not a layout version")]
    BadVersion(String),
    #[error("parameter {id}: {value} is outside {min} to {max}")]
    OutOfRange {
        id: String,
        value: f32,
        min: f32,
        max: f32,
    },
    #[error("parameter {id}: {value:?} is not a value this parameter takes")]
    BadValue { id: String, value: String },
}

/// The layout version recorded in `state` (0 when there is no marker).
pub fn state_version(state: &PluginState) -> Result<u32, StateError> {
    match state.fields.get(VERSION_KEY) {
        None => Ok(0),
        Some(text) => serde_json::from_str(text).map_err(|_| StateError::BadVersion(text.clone())),
    }
}

/// Migrates `state` to [`STATE_VERSION`] and checks it; on any problem empties it (so nothing
/// changes) and returns the reason. Called by [`Plugin::filter_state`] before nice-plug loads
/// the values. Unknown parameter IDs (from a newer layout) are left for nice-plug to skip.
pub fn migrate_and_check(state: &mut PluginState) -> Result<(), StateError> {
    let result = migrate(state).and_then(|()| check(state));
    if result.is_err() {
        state.params.clear();
        state.fields.clear();
    }
    result
}

fn migrate(state: &mut PluginState) -> Result<(), StateError> {
    let mut version = state_version(state)?;
    for migration in MIGRATIONS {
        if migration.from == version {
            (migration.step)(state);
            version += 1;
        }
    }
    if version <= STATE_VERSION {
        state
            .fields
            .insert(VERSION_KEY.to_owned(), STATE_VERSION.to_string());
    }
    Ok(())
}

/// Every known parameter's value has the right type and lies in its range.
fn check(state: &PluginState) -> Result<(), StateError> {
    // A throwaway set of parameters gives each ID's kind and range; state loads are rare and
    // happen off the audio thread.
    let params = MatchboxParams::default();
    let by_id: HashMap<String, ParamPtr> = params
        .param_map()
        .into_iter()
        .map(|(id, ptr, _)| (id, ptr))
        .collect();
    for (id, value) in &state.params {
        let Some(ptr) = by_id.get(id) else { continue };
        let bad = || StateError::BadValue {
            id: id.clone(),
            value: format!("{value:?}"),
        };
        // SAFETY: `ptr` points into `params`, alive for this whole function.
        unsafe {
            match (ptr, value) {
                (ParamPtr::FloatParam(_), ParamValue::F32(v)) => {
                    let (min, max) = (ptr.preview_plain(0.0), ptr.preview_plain(1.0));
                    // The range ends come back from a normalize round trip; allow an ulp or so.
                    let slack = (max - min) * 1e-6;
                    if !v.is_finite() || *v < min - slack || *v > max + slack {
                        return Err(StateError::OutOfRange {
                            id: id.clone(),
                            value: *v,
                            min,
                            max,
                        });
                    }
                }
                (ParamPtr::BoolParam(_), ParamValue::Bool(_)) => {}
                (ParamPtr::EnumParam(inner), ParamValue::String(choice)) => {
                    if !(**inner).set_from_id(choice) {
                        return Err(bad());
                    }
                }
                // nice-plug also reads enums saved by index; an index out of range would later
                // index past the variant names.
                (ParamPtr::EnumParam(inner), ParamValue::I32(index)) => {
                    if *index < 0 || *index as usize >= (**inner).len() {
                        return Err(bad());
                    }
                }
                _ => return Err(bad()),
            }
        }
    }
    Ok(())
}

/// A state holding exactly `settings` (plain values, no normalized round trip), in the current
/// layout: what nice-plug saves for a plugin set to `settings` (choices by their IDs).
pub fn state_for(settings: &ChainSettings) -> PluginState {
    let params = MatchboxParams::new(settings);
    let values = params
        .param_map()
        .into_iter()
        .map(|(id, ptr, _)| {
            // SAFETY: `ptr` points into `params`, alive here.
            let value = unsafe {
                match ptr {
                    ParamPtr::FloatParam(p) => ParamValue::F32((*p).unmodulated_plain_value()),
                    ParamPtr::IntParam(p) => ParamValue::I32((*p).unmodulated_plain_value()),
                    ParamPtr::BoolParam(p) => ParamValue::Bool((*p).unmodulated_plain_value()),
                    ParamPtr::EnumParam(p) => match (*p).unmodulated_plain_id() {
                        Some(choice) => ParamValue::String(choice.to_owned()),
                        None => ParamValue::I32((*p).unmodulated_plain_value()),
                    },
                }
            };
            (id, value)
        })
        .collect();
    PluginState {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        params: values,
        fields: BTreeMap::from([(VERSION_KEY.to_owned(), STATE_VERSION.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::FilterKind;

    fn settings() -> ChainSettings {
        let mut s = ChainSettings::default();
        s.eq.bands[0].enabled = true;
        s.eq.bands[0].kind = FilterKind::HighShelf;
        s.compressor.enabled = true;
        s.compressor.ratio = f32::INFINITY;
        s
    }

    #[test]
    fn current_state_passes_unchanged() {
        let mut state = state_for(&settings());
        let before = format!("{state:?}");
        migrate_and_check(&mut state).unwrap();
        assert_eq!(format!("{state:?}"), before);
    }

    #[test]
    fn v0_state_gets_the_ceiling_off_and_the_current_version() {
        let mut state = state_for(&settings());
        state.fields.clear();
        state.params.remove("ceil");
        state.params.remove("ceildb");
        assert_eq!(state_version(&state), Ok(0));
        migrate_and_check(&mut state).unwrap();
        // The one version-0 ceiling rule, shared with presets.
        assert!(
            matches!(state.params["ceil"], ParamValue::Bool(on) if on == VERSION_0_CEILING.enabled)
        );
        assert!(
            matches!(state.params["ceildb"], ParamValue::F32(db) if db == VERSION_0_CEILING.ceiling_db)
        );
        assert_eq!(state_version(&state), Ok(STATE_VERSION));
        // A v0 state that did record the ceiling keeps it.
        let mut state = state_for(&settings());
        state.fields.clear();
        migrate_and_check(&mut state).unwrap();
        assert!(matches!(state.params["ceil"], ParamValue::Bool(true)));
    }

    #[test]
    fn bad_values_empty_the_whole_state() {
        let cases: [(&str, ParamValue, &str); 5] = [
            (
                "gain_3",
                ParamValue::F32(99.0),
                "parameter gain_3: 99 is outside -24 to 24",
            ),
            (
                "ratio",
                ParamValue::F32(f32::NAN),
                "parameter ratio: NaN is outside",
            ),
            (
                "type_1",
                ParamValue::String("wah".into()),
                "parameter type_1",
            ),
            ("slp_2", ParamValue::I32(9), "parameter slp_2"),
            ("comp", ParamValue::F32(1.0), "parameter comp"),
        ];
        for (id, value, message) in cases {
            let mut state = state_for(&settings());
            state.params.insert(id.to_owned(), value);
            let err = migrate_and_check(&mut state).unwrap_err();
            assert!(err.to_string().starts_with(message), "{err}");
            assert!(state.params.is_empty() && state.fields.is_empty());
        }
        let mut state = state_for(&settings());
        state.fields.insert(VERSION_KEY.into(), "\"one\"".into());
        assert!(matches!(
            migrate_and_check(&mut state),
            Err(StateError::BadVersion(_))
        ));
    }

    #[test]
    fn unknown_ids_from_newer_layouts_are_left_alone() {
        let mut state = state_for(&settings());
        state.params.insert("future".into(), ParamValue::F32(1e9));
        migrate_and_check(&mut state).unwrap();
        assert!(state.params.contains_key("future"));
    }

    #[test]
    fn state_holds_exact_plain_values() {
        let mut s = settings();
        s.eq.bands[0].freq_hz = 3_217.3;
        let state = state_for(&s);
        assert!(matches!(state.params["freq_1"], ParamValue::F32(v) if v == 3_217.3));
        assert!(
            matches!(state.params["ratio"], ParamValue::F32(v) if v == super::super::params::RATIO_INFINITE_PLAIN)
        );
        // Choices by their IDs (the preset names), as nice-plug saves them.
        assert!(matches!(&state.params["type_1"], ParamValue::String(id) if id == "high_shelf"));
    }
}
