//! The editor driven without a display (egui_kittest): the whole editor view, as the plugin
//! and `matchbox live` show it, with a GUI context that records every begin/set/end a host
//! would receive and applies the values to the parameters.
#![cfg(feature = "gui")]

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use matchbox::dsp::{ChainMeters, ChainSettings, FilterKind};
use matchbox::editor::{EditorShared, EditorView, eq_view};
use matchbox::plugin::params::MatchboxParams;
use nice_plug::context::PluginApi;
use nice_plug::context::gui::{GuiContext, GuiContextInner};
use nice_plug::prelude::{Param, ParamPtr, PluginState};
use nice_plug_egui::EguiEditorState;
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

/// What the host saw, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gesture {
    Begin(ParamPtr),
    Set(ParamPtr, f32),
    End(ParamPtr),
}

/// A host: records gestures, applies set values at once.
#[derive(Default)]
struct Host {
    log: Mutex<Vec<Gesture>>,
}

impl GuiContextInner for Host {
    fn plugin_api(&self) -> PluginApi {
        PluginApi::Clap
    }
    unsafe fn raw_begin_set_parameter(&self, param: ParamPtr) {
        self.log.lock().unwrap().push(Gesture::Begin(param));
    }
    unsafe fn raw_set_parameter_normalized(&self, param: ParamPtr, normalized: f32) {
        // SAFETY: `param` points into the test's parameters, alive for the whole test.
        unsafe { param._internal_set_normalized_value(normalized) };
        self.log
            .lock()
            .unwrap()
            .push(Gesture::Set(param, normalized));
    }
    unsafe fn raw_end_set_parameter(&self, param: ParamPtr) {
        self.log.lock().unwrap().push(Gesture::End(param));
    }
    fn get_state(&self) -> PluginState {
        unimplemented!("the editor does not read the state")
    }
    fn set_state(&self, _: PluginState) {}
    fn request_restart(&self) {}
}

impl Host {
    fn gestures(&self) -> Vec<Gesture> {
        self.log.lock().unwrap().clone()
    }
}

/// Parameter IDs by pointer, for readable assertions.
fn ids(params: &MatchboxParams) -> HashMap<ParamPtr, String> {
    use nice_plug::prelude::Params;
    params
        .param_map()
        .into_iter()
        .map(|(id, ptr, _)| (ptr, id))
        .collect()
}

struct Rig {
    shared: Arc<EditorShared>,
    host: Arc<Host>,
    gui: GuiContext,
}

impl Rig {
    fn new(settings: &ChainSettings) -> Rig {
        let shared = Arc::new(EditorShared {
            params: Arc::new(MatchboxParams::new(settings)),
            meters: Arc::new(ChainMeters::default()),
            sample_rate: Arc::new(AtomicU32::new(48_000f32.to_bits())),
            scope: Default::default(),
            live: None,
            repaint: Default::default(),
            state: EguiEditorState::from_size(
                nice_plug::editor::dpi::LogicalSize::new(1180.0, 780.0),
                1.0,
            ),
        });
        let host = Arc::new(Host::default());
        let gui = GuiContext::new(host.clone());
        Rig { shared, host, gui }
    }

    fn harness(&self) -> Harness<'_, EditorView> {
        let view = EditorView::new(None, 48_000.0);
        let (shared, gui) = (self.shared.clone(), self.gui.clone());
        Harness::builder()
            .with_size(egui::vec2(1180.0, 780.0))
            .build_ui_state(
                move |ui, view: &mut EditorView| {
                    let setter = gui.param_setter();
                    view.draw(ui, &shared, &setter);
                },
                view,
            )
    }
}

fn with_bell_on_band_3() -> ChainSettings {
    let mut s = ChainSettings::default();
    let b = &mut s.eq.bands[2];
    b.enabled = true;
    b.kind = FilterKind::Bell;
    b.freq_hz = 1_000.0;
    b.gain_db = 0.0;
    b.q = 1.0;
    s
}

#[test]
fn dragging_band_3_moves_its_frequency_and_gain_through_the_host() {
    let rig = Rig::new(&with_bell_on_band_3());
    let mut harness = rig.harness();
    harness.run();
    let rect = harness.get_by_label("EQ curves").rect();
    let plot = rect.shrink2(egui::vec2(eq_view::PLOT_MARGIN_X, eq_view::PLOT_MARGIN_Y));
    let (freq, db, _) = eq_view::axes(plot);
    let from = egui::pos2(freq.x(1_000.0), db.y(0.0));
    let to = egui::pos2(freq.x(2_000.0), db.y(6.0));
    harness.hover_at(from);
    harness.run();
    harness.drag_at(from);
    harness.run();
    for step in 1..=10 {
        harness.hover_at(from + (to - from) * (step as f32 / 10.0));
        harness.run();
    }
    harness.drop_at(to);
    harness.run();

    let band = &rig.shared.params.bands[2];
    assert!(
        (band.freq_hz.value() / 2_000.0 - 1.0).abs() < 0.02,
        "{} Hz",
        band.freq_hz.value()
    );
    assert!(
        (band.gain_db.value() - 6.0).abs() < 0.3,
        "{} dB",
        band.gain_db.value()
    );
    // Through the host: begin, sets, end for exactly the two parameters of band 3.
    let names = ids(&rig.shared.params);
    let gestures = rig.host.gestures();
    let touched: std::collections::BTreeSet<&str> = gestures
        .iter()
        .map(|g| match g {
            Gesture::Begin(p) | Gesture::Set(p, _) | Gesture::End(p) => names[p].as_str(),
        })
        .collect();
    assert_eq!(touched, ["freq_3", "gain_3"].into_iter().collect());
    let freq_ptr = band.freq_hz.as_ptr();
    let first = gestures
        .iter()
        .position(|g| matches!(g, Gesture::Begin(p) if *p == freq_ptr));
    let last = gestures
        .iter()
        .rposition(|g| matches!(g, Gesture::End(p) if *p == freq_ptr));
    let sets = gestures
        .iter()
        .filter(|g| matches!(g, Gesture::Set(p, _) if *p == freq_ptr))
        .count();
    assert!(
        matches!((first, last), (Some(f), Some(l)) if f < l),
        "{gestures:?}"
    );
    assert!(sets >= 5, "{sets} values sent while dragging");
    // Nothing else moved.
    assert_eq!(
        rig.shared.params.bands[1].freq_hz.value(),
        ChainSettings::default().eq.bands[1].freq_hz
    );
}

#[test]
fn a_bad_preset_shows_its_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    // A whole preset but for one value out of range.
    let good = matchbox::preset::Preset::new("Bad", "", ChainSettings::default()).to_json_pretty();
    let text = good.replace("\"ratio\": 4.0", "\"ratio\": 100.0");
    assert_ne!(text, good);
    std::fs::write(&bad, text).unwrap();
    let rig = Rig::new(&with_bell_on_band_3());
    let before = rig.shared.params.to_settings();
    let mut harness = rig.harness();
    harness.run();
    harness.get_by_label_contains("Presets").click();
    harness.run();
    harness.get_by_label("Load a file…").click();
    harness.run();
    // The chooser: type the file's path and open it.
    let field = harness.get_by_role(egui::accesskit::Role::TextInput);
    field.focus();
    harness.run();
    harness
        .get_by_role(egui::accesskit::Role::TextInput)
        .type_text(bad.to_str().unwrap());
    harness.run();
    harness.get_by_label("Open").click();
    harness.run();
    // The error names the file and what is wrong with it.
    let error = harness.get_by_label_contains("bad.json");
    // A label's text is its accessible value.
    let text = error.accesskit_node().value().unwrap_or_default();
    assert!(text.contains("settings.compressor.ratio"), "{text}");
    assert_eq!(rig.shared.params.to_settings(), before);
    assert!(rig.host.gestures().is_empty(), "{:?}", rig.host.gestures());
}

#[test]
fn learn_on_two_files_applies_what_it_learned_in_one_gesture() {
    // The reference is a take through "Vocal Presence"; the source, the same take dry.
    let dir = tempfile::tempdir().unwrap();
    let rate = 44_100.0;
    let dry = matchbox::cli::live::demo_loop(rate);
    let truth = matchbox::preset::find_factory("Vocal Presence")
        .unwrap()
        .1
        .settings;
    let wet = matchbox::analysis::render(&truth, std::slice::from_ref(&dry), rate as f64);
    let write = |name: &str, x: &[f32]| {
        let path = dir.path().join(name);
        let audio = matchbox::audio_io::Audio {
            sample_rate: rate as u32,
            channels: vec![x.to_vec()],
        };
        matchbox::audio_io::write_wav_f32(&path, &audio).unwrap();
        path
    };
    let reference = write("reference.wav", &wet[0]);
    let source = write("source.wav", &dry);

    let rig = Rig::new(&ChainSettings::default());
    let mut harness = rig.harness();
    harness.run();
    harness.get_by_label("Learn…").click();
    harness.run();
    {
        let learn = &mut harness.state_mut().learn;
        learn.reference = Some(reference);
        learn.source = matchbox::editor::learn::Source::File(Some(source));
    }
    harness.run();
    harness.get_by_label("Analyze").click();
    // The spinner keeps the editor repainting while the analysis runs: step, don't settle.
    harness.run_steps(2);
    harness.state_mut().learn.wait();
    harness.run_steps(2);
    let result = harness
        .state()
        .learn
        .result
        .clone()
        .expect("the analysis finished");
    // The panel says what the polish did, as `analyze` does: a chain it can copy, kept.
    assert!(
        result
            .lines
            .iter()
            .any(|l| l.starts_with("polish: waveform SNR") && l.ends_with("; kept")),
        "{:?}",
        result.lines
    );
    let learned = result.settings;
    assert!(
        harness.state().learn.error.is_none(),
        "{:?}",
        harness.state().learn.error
    );
    harness.get_by_label("Apply").click();
    harness.run();

    let now = rig.shared.params.to_settings();
    assert_eq!(now.compressor.enabled, learned.compressor.enabled);
    assert!((now.compressor.threshold_db - learned.compressor.threshold_db).abs() < 0.01);
    assert!((now.output_gain_db - learned.output_gain_db).abs() < 0.01);
    for (a, b) in now.eq.bands.iter().zip(&learned.eq.bands) {
        assert_eq!(a.enabled, b.enabled);
        if a.enabled {
            assert!((a.freq_hz / b.freq_hz - 1.0).abs() < 1e-4);
        }
    }
    // It learned a compressor, as the truth has one, and the EQ changed the sound.
    assert!(learned.compressor.enabled && truth.compressor.enabled);
    // One gesture: every begin before the first set, every end after the last.
    let gestures = rig.host.gestures();
    let last_begin = gestures
        .iter()
        .rposition(|g| matches!(g, Gesture::Begin(_)))
        .unwrap();
    let first_set = gestures
        .iter()
        .position(|g| matches!(g, Gesture::Set(..)))
        .unwrap();
    let last_set = gestures
        .iter()
        .rposition(|g| matches!(g, Gesture::Set(..)))
        .unwrap();
    let first_end = gestures
        .iter()
        .position(|g| matches!(g, Gesture::End(_)))
        .unwrap();
    assert!(
        last_begin < first_set && last_set < first_end,
        "{gestures:?}"
    );
    assert!(
        gestures
            .iter()
            .filter(|g| matches!(g, Gesture::Set(..)))
            .count()
            > 10
    );
}
