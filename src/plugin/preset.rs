//! Loading a preset inside the plugin: read and validate it completely, then set every
//! parameter through the host so the change is recorded (automation, undo, project).
//!
//! The editor (GUI issue) calls [`apply_preset`] with its [`ParamSetter`]. A preset that fails to
//! load or validate returns the error before a single parameter is touched.

use super::params::{MatchboxParams, ParamChange};
use crate::dsp::{ChainSettings, FieldError};
use crate::preset::{self, Preset, PresetError};
use nice_plug::prelude::*;
use std::path::Path;

/// Where a preset comes from.
#[derive(Debug, Clone, Copy)]
pub enum PresetSource<'a> {
    /// A preset file on disk.
    File(&'a Path),
    /// A factory preset, by name (any case) or slug (`beatbox-punch`).
    Factory(&'a str),
}

/// Read and validate a preset. Nothing is applied.
pub fn load(source: PresetSource<'_>) -> Result<Preset, PresetError> {
    match source {
        PresetSource::File(path) => preset::load(path),
        PresetSource::Factory(name) => preset::find_factory(name).map(|(_, preset)| preset),
    }
}

/// Load `source` and apply its settings to `params` through `setter`. On error nothing changed.
pub fn apply_preset(
    setter: &ParamSetter,
    params: &MatchboxParams,
    source: PresetSource<'_>,
) -> Result<Preset, PresetError> {
    let preset = load(source)?;
    apply_settings(setter, params, &preset.settings).map_err(|errors| PresetError::Invalid {
        file: preset.name.clone(),
        errors,
    })?;
    Ok(preset)
}

/// Set every parameter that differs from `settings`, as one gesture: all begins, then all
/// values, then all ends, so the host records one edit and nice-plug hands the values to the
/// audio thread together at the end of a processing cycle. Invalid settings are refused whole.
pub fn apply_settings(
    setter: &ParamSetter,
    params: &MatchboxParams,
    settings: &ChainSettings,
) -> Result<(), Vec<FieldError>> {
    let errors = settings.validate();
    if !errors.is_empty() {
        return Err(errors);
    }
    let changes: Vec<ParamChange> = params
        .changes_for(settings)
        .into_iter()
        // SAFETY (here and below): every pointer points into `params`, which the caller holds.
        .filter(|c| unsafe { c.param.unmodulated_normalized_value() } != c.normalized)
        .collect();
    let context = setter.raw_context;
    unsafe {
        for c in &changes {
            context.raw_begin_set_parameter(c.param);
        }
        for c in &changes {
            context.raw_set_parameter_normalized(c.param, c.normalized);
        }
        for c in &changes {
            context.raw_end_set_parameter(c.param);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::context::PluginApi;
    use std::sync::Mutex;

    /// A host stand-in: records the calls and sets the values as a host's echo would.
    #[derive(Default)]
    struct RecordingHost {
        calls: Mutex<Vec<(&'static str, ParamPtr)>>,
    }

    impl GuiContextInner for RecordingHost {
        fn plugin_api(&self) -> PluginApi {
            PluginApi::Clap
        }
        unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
            self.calls.lock().unwrap().push(("begin", param));
        }
        unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
            self.calls.lock().unwrap().push(("set", param));
            unsafe { param._internal_set_normalized_value(normalized) };
        }
        unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
            self.calls.lock().unwrap().push(("end", param));
        }
        fn get_state(&self) -> PluginState {
            unimplemented!("not used by preset loading")
        }
        fn set_state(&self, _: PluginState) {}
        fn request_restart(&self) {}
    }

    fn calls(host: &RecordingHost) -> Vec<&'static str> {
        host.calls.lock().unwrap().iter().map(|c| c.0).collect()
    }

    #[test]
    fn factory_preset_lands_in_the_parameters_as_one_gesture() {
        let (host, params) = (RecordingHost::default(), MatchboxParams::default());
        let preset = apply_preset(
            &ParamSetter::new(&host),
            &params,
            PresetSource::Factory("Beatbox Punch"),
        )
        .unwrap();
        let got = params.to_settings();
        // Floats pass through normalized f32 values: relative error of a few 1e-7.
        assert_eq!(
            got.eq.bands.map(|b| b.kind),
            preset.settings.eq.bands.map(|b| b.kind)
        );
        assert_eq!(
            got.compressor.ratio.is_infinite(),
            preset.settings.compressor.ratio.is_infinite()
        );
        let want = preset.settings.compressor.threshold_db;
        assert!((got.compressor.threshold_db - want).abs() < 1e-4, "{got:?}");
        for (g, w) in got.eq.bands.iter().zip(&preset.settings.eq.bands) {
            assert!(
                (g.freq_hz - w.freq_hz).abs() <= w.freq_hz * 1e-5,
                "{g:?} vs {w:?}"
            );
            assert!((g.gain_db - w.gain_db).abs() < 1e-4);
            assert_eq!(g.enabled, w.enabled);
        }
        let calls = calls(&host);
        let n = calls.len() / 3;
        assert!(n > 0);
        assert!(calls[..n].iter().all(|c| *c == "begin"));
        assert!(calls[n..2 * n].iter().all(|c| *c == "set"));
        assert!(calls[2 * n..].iter().all(|c| *c == "end"));
    }

    #[test]
    fn invalid_preset_file_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        let (_, good) = preset::find_factory("beatbox-punch").unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&good.to_json_pretty()).unwrap();
        json["settings"]["eq"]["bands"][1]["freq_hz"] = 30_000.into();
        std::fs::write(&path, json.to_string()).unwrap();

        let (host, params) = (RecordingHost::default(), MatchboxParams::default());
        let err =
            apply_preset(&ParamSetter::new(&host), &params, PresetSource::File(&path)).unwrap_err();
        assert!(
            err.to_string().contains("settings.eq.bands[1].freq_hz"),
            "{err}"
        );
        assert!(calls(&host).is_empty());
        assert_eq!(params.to_settings(), ChainSettings::default());
    }

    #[test]
    fn invalid_settings_change_nothing() {
        let (host, params) = (RecordingHost::default(), MatchboxParams::default());
        let mut s = ChainSettings {
            input_gain_db: 6.0,
            ..ChainSettings::default()
        };
        s.compressor.attack_ms = 0.0;
        let errors = apply_settings(&ParamSetter::new(&host), &params, &s).unwrap_err();
        assert_eq!(errors[0].path, "compressor.attack_ms");
        assert!(calls(&host).is_empty());
        assert_eq!(params.input_gain_db.value(), 0.0);
    }

    #[test]
    fn unknown_factory_name_changes_nothing() {
        let (host, params) = (RecordingHost::default(), MatchboxParams::default());
        let result = apply_preset(
            &ParamSetter::new(&host),
            &params,
            PresetSource::Factory("nope"),
        );
        assert!(matches!(result, Err(PresetError::UnknownFactory { .. })));
        assert!(calls(&host).is_empty());
    }
}
