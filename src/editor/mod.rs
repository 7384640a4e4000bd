//! The editor: one egui GUI for the plugin in a DAW and for `matchbox live`. It shows what the
//! EQ and the compressor are doing and teaches what their controls mean; it loads, saves and
//! learns presets.
//!
//! Views draw from the parameters and meters they are handed and edit through a
//! [`ParamSetter`], so [`EditorView::draw`] runs the same with nice-plug's GUI context in a
//! window as with a test's context in egui_kittest.

pub mod comp_view;
pub mod config;
pub mod controls;
pub mod eq_view;
pub mod files;
pub mod geometry;
pub mod learn;
pub mod meters;
pub mod presets;
pub mod spectrum;
pub mod theme;

use crate::dsp::ChainMeters;
use crate::plugin::live::{Dropouts, ProcessLoad};
use crate::plugin::params::MatchboxParams;
use crate::plugin::taps::ScopeReader;
use nice_plug::context::gui::GuiContext;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the window may redraw while something moves (meters, analyzer, history).
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);

/// What the plugin shares with its editor.
pub struct EditorShared {
    pub params: Arc<MatchboxParams>,
    pub meters: Arc<ChainMeters>,
    /// The sample rate the plugin runs at, as f32 bits.
    pub sample_rate: Arc<AtomicU32>,
    /// The scope's reading end, taken by the first editor.
    pub scope: Mutex<Option<ScopeReader>>,
    /// The live monitor's figures; `None` in a DAW.
    pub live: Option<(Arc<ProcessLoad>, Arc<Dropouts>)>,
    /// Set by the audio thread when there is signal to show, by the editor when its displays
    /// are still moving: the window redraws at the next poll.
    pub repaint: RepaintNotifier,
    pub state: Arc<EguiEditorState>,
}

impl EditorShared {
    pub fn sample_rate(&self) -> f32 {
        f32::from_bits(self.sample_rate.load(Ordering::Relaxed))
    }
}

/// Everything the editor remembers between frames.
pub struct EditorView {
    pub eq: eq_view::EqView,
    pub comp: comp_view::CompView,
    pub meters: meters::Meters,
    pub presets: presets::PresetBrowser,
    pub learn: learn::Learn,
    pub analyzer: Option<spectrum::Analyzer>,
    scope: Option<ScopeReader>,
    last_time: Option<f64>,
}

impl EditorView {
    pub fn new(scope: Option<ScopeReader>, sample_rate: f32) -> EditorView {
        EditorView {
            eq: Default::default(),
            comp: Default::default(),
            meters: Default::default(),
            presets: Default::default(),
            learn: Default::default(),
            analyzer: scope.as_ref().map(|_| spectrum::Analyzer::new(sample_rate)),
            scope,
            last_time: None,
        }
    }

    /// Take in what the audio thread sent since the last frame. Returns whether anything is
    /// still moving (then the caller asks for another frame).
    pub fn update(&mut self, shared: &EditorShared, now: f64) -> bool {
        let dt = self.last_time.map_or(0.0, |t| (now - t) as f32);
        self.last_time = Some(now);
        let mut moving = false;
        if let (Some(scope), Some(analyzer)) = (self.scope.as_mut(), self.analyzer.as_mut()) {
            analyzer.set_sample_rate(shared.sample_rate());
            let frames = scope.slots();
            if let Ok(chunk) = scope.read_chunk(frames) {
                for [input, output] in chunk {
                    analyzer.push(input, output);
                    self.learn.feed(input);
                }
            }
            moving |= analyzer.update(dt);
        }
        let reading = shared.meters.take();
        self.meters.update(&reading, now, dt);
        self.comp.record(now, &reading);
        moving |= self.meters.is_live() || reading.gain_reduction_db > 0.0;
        moving |= self.learn.poll() || self.learn.capturing() || self.eq.grab.is_some();
        moving
    }

    /// The whole editor, in the space of `ui`.
    pub fn draw(&mut self, ui: &mut egui::Ui, shared: &EditorShared, setter: &ParamSetter) {
        let now = ui.input(|i| i.time);
        let moving = self.update(shared, now);
        let params = &shared.params;
        let ctx = ui.ctx().clone();
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui, shared, setter));
        egui::Panel::right("meters")
            .exact_size(118.0)
            .show(ui, |ui| self.meters.show(ui, now, live_figures(shared)));
        let eq_height = (ui.available_height() * 0.5).max(220.0);
        egui::Panel::top("eq").exact_size(eq_height).show(ui, |ui| {
            self.eq.show(
                ui,
                params,
                setter,
                shared.sample_rate(),
                self.analyzer.as_ref(),
            );
        });
        let settings = params.to_settings().compressor;
        self.comp
            .show(ui, &params.compressor, setter, &settings, now);
        self.presets.dialogs(&ctx, setter, params);
        let live_rate = shared.live.as_ref().map(|_| shared.sample_rate() as u32);
        self.learn.window(&ctx, setter, params, live_rate);
        if moving {
            shared.repaint.request_repaint();
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui, shared: &EditorShared, setter: &ParamSetter) {
        let params = &shared.params;
        ui.horizontal(|ui| {
            ui.label(
                egui::RichText::new("MATCHBOX")
                    .strong()
                    .size(20.0)
                    .color(theme::ACCENT),
            );
            self.presets.menu(ui, setter, params);
            if ui
                .button("Learn…")
                .on_hover_text("Learn EQ and compression from a reference recording.")
                .clicked()
            {
                self.learn.open = true;
            }
            ui.separator();
            controls::slider(
                ui,
                setter,
                &params.input_gain_db,
                "Gain before the EQ and the compressor: how hard the compressor is driven.",
            );
            controls::slider(
                ui,
                setter,
                &params.output_gain_db,
                "Gain after the compressor.",
            );
            controls::toggle(
                ui,
                setter,
                &params.ceiling_enabled,
                "Ceiling",
                "A zero-latency safety limiter: no output sample goes above the ceiling level.",
            );
            controls::slider(
                ui,
                setter,
                &params.ceiling_db,
                "The safety ceiling's level.",
            );
            controls::toggle(
                ui,
                setter,
                &params.bypass,
                "Bypass",
                "Hear the input untouched (a 10 ms cross-fade, no click).",
            );
        });
        self.presets.status(ui);
    }
}

fn live_figures(shared: &EditorShared) -> Option<meters::LiveFigures> {
    shared.live.as_ref().map(|(load, dropouts)| {
        let last = load.last_window();
        meters::LiveFigures {
            load_mean: last.mean,
            load_max: last.max,
            xruns: dropouts.total(),
        }
    })
}

/// The editor as nice-plug-egui runs it.
pub struct EditorApp {
    shared: Arc<EditorShared>,
    view: EditorView,
    gui: Option<GuiContext>,
}

impl NiceEguiApp for EditorApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        theme::apply(&egui_ctx);
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        if let Some(gui) = &self.gui {
            let setter = gui.param_setter();
            self.view.draw(ui, &self.shared, &setter);
        }
    }

    fn resized(&mut self, size: nice_plug_egui::baseview::WindowSize) {
        config::save_size((size.logical.width as u32, size.logical.height as u32));
    }
}

/// The editor for a plugin instance, opening at the size it was last left at.
pub fn create(shared: Arc<EditorShared>) -> Option<EguiEditor<EditorApp>> {
    let scope = shared.scope.lock().ok().and_then(|mut s| s.take());
    let view = EditorView::new(scope, shared.sample_rate());
    let settings = EguiNiceSettings::new()
        .with_tile("Matchbox")
        .with_resize_hint(nice_plug::prelude::ResizeHint::RESIZABLE)
        .with_repaint_poll_interval(FRAME_INTERVAL);
    nice_plug_egui::create_egui_editor(
        shared.state.clone(),
        shared.repaint.clone(),
        settings,
        EditorApp {
            shared,
            view,
            gui: None,
        },
    )
}

/// The editor's window state at the remembered size.
pub fn initial_state() -> Arc<EguiEditorState> {
    let (w, h) = config::load_size();
    EguiEditorState::from_size(
        nice_plug::editor::dpi::LogicalSize::new(w as f64, h as f64),
        1.0,
    )
}
