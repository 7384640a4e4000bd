//! Loading a preset inside the plugin: read and validate it completely, then set every
//! parameter through the host so the change is recorded (automation, undo, project).
//!
//! The editor (GUI issue) calls [`apply_preset`] with its [`ParamSetter`]. A preset that fails to
//! load or validate returns the error before a single parameter is touched. Hosts deliver the
//! new values one parameter at a time, possibly spread over processing cycles; the
//! [`PresetGate`] keeps the audio thread on the old settings until all of them have arrived, so
//! the sound switches from one preset to the next in one step.

use super::params::{MatchboxParams, ParamChange};
use crate::dsp::{ChainSettings, FieldError};
use crate::preset::{self, Preset, PresetError};
use atomic_refcell::AtomicRefCell;
use nice_plug::prelude::*;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Longest wait for a preset's values before the audio thread follows the parameters anyway
/// (a host that drops or reorders edits must not freeze the sound), ms.
pub const PRESET_TIMEOUT_MS: f64 = 100.0;

/// The values a preset is moving the parameters to, shared by the editor thread (writer) and
/// the audio thread (reader, never blocks).
#[derive(Default)]
pub struct PresetGate {
    pending: AtomicBool,
    /// Each changed parameter with the plain value the host's echo of it will set.
    target: AtomicRefCell<Vec<(ParamPtr, f32)>>,
}

/// The audio thread's side of a [`PresetGate`]: how long it has waited.
#[derive(Debug, Default, Clone, Copy)]
pub struct PresetWait {
    waited_frames: u64,
}

impl PresetGate {
    /// Editor thread: the parameters are about to receive `changes`.
    fn expect(&self, changes: &[ParamChange]) {
        // SAFETY: the pointers point into the parameters that own this gate.
        let target = changes
            .iter()
            .map(|c| (c.param, unsafe { c.param.preview_plain(c.normalized) }))
            .collect();
        loop {
            // The audio thread holds the borrow only while it compares; never for long.
            if let Ok(mut slot) = self.target.try_borrow_mut() {
                // The old list is dropped here, on the editor thread.
                *slot = target;
                break;
            }
            std::hint::spin_loop();
        }
        self.pending.store(true, Ordering::Release);
    }

    /// Audio thread: whether the parameters may reach the chain now, before processing
    /// `frames` samples. While a preset is arriving this says no, until every value has arrived
    /// or `timeout_frames` have passed. Never blocks or allocates.
    pub fn admits(&self, frames: usize, timeout_frames: u64, wait: &mut PresetWait) -> bool {
        if !self.pending.load(Ordering::Acquire) {
            return true;
        }
        let arrived = self.target.try_borrow().is_ok_and(|target| {
            target
                .iter()
                // SAFETY: the pointers point into the parameters that own this gate.
                .all(|(param, plain)| unsafe { param.unmodulated_plain_value() } == *plain)
        });
        if arrived || wait.waited_frames >= timeout_frames {
            self.pending.store(false, Ordering::Release);
            wait.waited_frames = 0;
            return true;
        }
        wait.waited_frames += frames as u64;
        false
    }
}

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
    if changes.is_empty() {
        return Ok(());
    }
    params.preset_gate.expect(&changes);
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

    /// A host stand-in: records the calls and, unless `deferred`, sets the values at once as
    /// a host's echo would.
    #[derive(Default)]
    struct RecordingHost {
        calls: Mutex<Vec<(&'static str, ParamPtr)>>,
        deferred: Option<Mutex<Vec<(ParamPtr, f32)>>>,
    }

    impl RecordingHost {
        fn deferred() -> Self {
            Self {
                deferred: Some(Mutex::default()),
                ..Self::default()
            }
        }

        /// Delivers the first `n` deferred values.
        fn deliver(&self, n: usize) {
            let mut values = self.deferred.as_ref().unwrap().lock().unwrap();
            let n = n.min(values.len());
            for (param, normalized) in values.drain(..n) {
                unsafe { param._internal_set_normalized_value(normalized) };
            }
        }
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
            match &self.deferred {
                Some(values) => values.lock().unwrap().push((param, normalized)),
                None => {
                    unsafe { param._internal_set_normalized_value(normalized) };
                }
            }
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
    fn gate_holds_the_old_settings_until_the_whole_preset_has_arrived() {
        let (host, params) = (RecordingHost::deferred(), MatchboxParams::default());
        let (_, preset) = preset::find_factory("Vocal Warm").unwrap();
        apply_settings(&ParamSetter::new(&host), &params, &preset.settings).unwrap();
        let (block, timeout) = (64, 4_800);
        let mut wait = PresetWait::default();
        assert!(!params.preset_gate.admits(block, timeout, &mut wait));
        host.deliver(3);
        assert_ne!(params.to_settings(), ChainSettings::default());
        assert!(!params.preset_gate.admits(block, timeout, &mut wait));
        host.deliver(usize::MAX);
        assert!(params.preset_gate.admits(block, timeout, &mut wait));
        // Once through, the gate stays open.
        assert!(params.preset_gate.admits(block, timeout, &mut wait));
    }

    #[test]
    fn gate_gives_up_after_its_timeout() {
        let (host, params) = (RecordingHost::deferred(), MatchboxParams::default());
        let (_, preset) = preset::find_factory("Telephone").unwrap();
        apply_settings(&ParamSetter::new(&host), &params, &preset.settings).unwrap();
        let mut wait = PresetWait::default();
        let held = (0..100)
            .take_while(|_| !params.preset_gate.admits(64, 4_800, &mut wait))
            .count();
        // 4 800 samples of 64-sample blocks: held for 75 blocks, released on the 76th.
        assert_eq!(held, 75);
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
