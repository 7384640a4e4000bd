//! The compressor panel, built to teach: the static transfer curve with its knee and a dot
//! riding it at the level coming in; the gain reduction as a meter and as a few seconds of
//! history under the input level, so attack and release can be watched; and every control
//! explaining itself in terms of its current value.

use super::controls;
use super::theme;
use crate::dsp::compressor::static_curve_db;
use crate::dsp::{CompressorSettings, METER_FLOOR_DB, MeterReading};
use crate::plugin::params::CompressorParams;
use egui::{Pos2, Rect, Sense, Shape, Stroke, Ui};
use nice_plug::prelude::ParamSetter;
use std::collections::VecDeque;

/// The transfer plot's input and output range, dBFS.
pub const CURVE_MIN_DB: f32 = -60.0;
pub const CURVE_MAX_DB: f32 = 6.0;
/// Seconds of history shown.
pub const HISTORY_S: f32 = 4.0;
/// Deepest gain reduction the meter and history show, dB.
pub const GR_RANGE_DB: f32 = 24.0;
/// Height the controls under the plots need, pixels.
const CONTROLS_HEIGHT: f32 = 150.0;
/// The reduction meter shows the deepest reduction of this last stretch, s (readable, not a flicker).
const METER_HOLD_S: f64 = 0.3;

/// One moment of the history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moment {
    /// Seconds since the editor started.
    pub t: f64,
    /// The compressor's input level (peak since the previous moment), dBFS.
    pub level_db: f32,
    /// Gain reduction (largest since the previous moment), dB.
    pub reduction_db: f32,
}

/// The panel's state between frames.
#[derive(Debug, Default)]
pub struct CompView {
    history: VecDeque<Moment>,
    /// The dot's level, smoothed a little so it glides rather than jumps.
    dot_db: Option<f32>,
}

impl CompView {
    /// Note the meters' latest reading at time `t` (seconds).
    pub fn record(&mut self, t: f64, reading: &MeterReading) {
        self.history.push_back(Moment {
            t,
            level_db: reading.compressor_input_db,
            reduction_db: reading.gain_reduction_db,
        });
        while self
            .history
            .front()
            .is_some_and(|m| m.t < t - HISTORY_S as f64 - 0.5)
        {
            self.history.pop_front();
        }
        let level = reading.compressor_input_db;
        self.dot_db = Some(match self.dot_db {
            Some(dot) if level < dot => dot + 0.35 * (level - dot),
            _ => level,
        });
    }

    /// The recorded history (oldest first).
    pub fn history(&self) -> impl Iterator<Item = &Moment> {
        self.history.iter()
    }

    pub fn show(
        &mut self,
        ui: &mut Ui,
        params: &CompressorParams,
        setter: &ParamSetter,
        settings: &CompressorSettings,
        now: f64,
    ) {
        // The plots take what the controls (two rows and a header) leave.
        let side = (ui.available_height() - CONTROLS_HEIGHT).clamp(140.0, 340.0);
        ui.horizontal(|ui| {
            self.transfer_plot(ui, settings, side);
            self.reduction_meter(ui, side);
            self.history_plot(ui, settings, now, side);
        });
        ui.add_space(4.0);
        controls_grid(ui, params, setter, settings);
    }

    fn transfer_plot(&self, ui: &mut Ui, settings: &CompressorSettings, side: f32) {
        let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), Sense::hover());
        let painter = ui.painter_at(rect);
        let plot = rect.shrink(18.0);
        painter.rect_filled(plot, 4.0, theme::PLOT);
        let x = |db: f32| {
            plot.left() + (db - CURVE_MIN_DB) / (CURVE_MAX_DB - CURVE_MIN_DB) * plot.width()
        };
        let y = |db: f32| {
            plot.bottom() - (db - CURVE_MIN_DB) / (CURVE_MAX_DB - CURVE_MIN_DB) * plot.height()
        };
        let font = egui::TextStyle::Small.resolve(ui.style());
        for level in (-60..=0).step_by(12) {
            let l = level as f32;
            painter.vline(x(l), plot.y_range(), Stroke::new(1.0, theme::GRID));
            painter.hline(plot.x_range(), y(l), Stroke::new(1.0, theme::GRID));
            painter.text(
                Pos2::new(x(l), plot.bottom() + 2.0),
                egui::Align2::CENTER_TOP,
                format!("{level}"),
                font.clone(),
                theme::DIM_TEXT,
            );
        }
        // 1:1, for comparison.
        painter.line_segment(
            [
                Pos2::new(x(CURVE_MIN_DB), y(CURVE_MIN_DB)),
                Pos2::new(x(CURVE_MAX_DB), y(CURVE_MAX_DB)),
            ],
            Stroke::new(1.0, theme::DIM_TEXT.gamma_multiply(0.5)),
        );
        // The knee: where the ratio eases in.
        let (t, k) = (settings.threshold_db, settings.knee_db);
        let knee = Rect::from_x_y_ranges(
            x((t - k / 2.0).max(CURVE_MIN_DB))..=x((t + k / 2.0).min(CURVE_MAX_DB)),
            plot.y_range(),
        );
        painter.rect_filled(knee, 0.0, theme::ACCENT.gamma_multiply(0.08));
        painter.vline(
            x(t),
            plot.y_range(),
            Stroke::new(1.0, theme::ACCENT.gamma_multiply(0.6)),
        );
        let on = settings.enabled;
        let curve: Vec<Pos2> = (0..=132)
            .map(|i| {
                let input = CURVE_MIN_DB + i as f32 * 0.5;
                let output = if on {
                    static_curve_db(settings, input as f64) as f32
                } else {
                    input
                };
                Pos2::new(
                    x(input),
                    y(output.clamp(CURVE_MIN_DB - 12.0, CURVE_MAX_DB + 12.0)),
                )
            })
            .collect();
        painter.add(Shape::line(
            curve,
            Stroke::new(2.5, if on { theme::ACCENT } else { theme::DIM_TEXT }),
        ));
        if let Some(level) = self.dot_db.filter(|&l| l > CURVE_MIN_DB) {
            let out = if on {
                static_curve_db(settings, level as f64) as f32
            } else {
                level
            };
            painter.circle_filled(
                Pos2::new(
                    x(level.min(CURVE_MAX_DB)),
                    y(out.clamp(CURVE_MIN_DB, CURVE_MAX_DB)),
                ),
                6.0,
                egui::Color32::WHITE,
            );
        }
        painter.text(
            plot.left_top() + egui::vec2(4.0, 3.0),
            egui::Align2::LEFT_TOP,
            "out dB",
            font.clone(),
            theme::DIM_TEXT,
        );
        painter.text(
            plot.right_bottom() + egui::vec2(-4.0, -3.0),
            egui::Align2::RIGHT_BOTTOM,
            "in dB",
            font,
            theme::DIM_TEXT,
        );
        response.on_hover_text(
            "The static curve: output level for a steady input level. Below the threshold \
             (orange line) it follows 1:1; above, each ratio dB in gives 1 dB out; the shaded band \
             is the knee. The white dot is the level coming in now.",
        );
    }

    fn reduction_meter(&self, ui: &mut Ui, height: f32) {
        let (rect, response) = ui.allocate_exact_size(egui::vec2(22.0, height), Sense::hover());
        let bar = rect.shrink2(egui::vec2(4.0, 18.0));
        let painter = ui.painter_at(rect);
        painter.rect_filled(bar, 2.0, theme::PLOT);
        let latest = self.history.back().map_or(0.0, |m| m.t);
        let reduction = self
            .history
            .iter()
            .rev()
            .take_while(|m| m.t >= latest - METER_HOLD_S)
            .fold(0.0f32, |deepest, m| deepest.max(m.reduction_db));
        let depth = (reduction / GR_RANGE_DB).clamp(0.0, 1.0) * bar.height();
        painter.rect_filled(
            Rect::from_min_max(bar.left_top(), Pos2::new(bar.right(), bar.top() + depth)),
            2.0,
            theme::REDUCTION,
        );
        painter.text(
            Pos2::new(rect.center().x, rect.bottom() - 2.0),
            egui::Align2::CENTER_BOTTOM,
            format!("{reduction:.1}"),
            egui::TextStyle::Small.resolve(ui.style()),
            theme::REDUCTION,
        );
        response.on_hover_text(format!(
            "Gain reduction now: {reduction:.1} dB (scale 0 to {GR_RANGE_DB} dB, down)."
        ));
    }

    fn history_plot(&self, ui: &mut Ui, settings: &CompressorSettings, now: f64, height: f32) {
        let size = egui::vec2(ui.available_width().max(120.0), height);
        let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
        let painter = ui.painter_at(rect);
        let plot = rect.shrink2(egui::vec2(4.0, 18.0));
        painter.rect_filled(plot, 4.0, theme::PLOT);
        let x = |t: f64| plot.right() - ((now - t) as f32 / HISTORY_S) * plot.width();
        let level_y = |db: f32| {
            plot.bottom() - ((db - CURVE_MIN_DB) / -CURVE_MIN_DB).clamp(0.0, 1.0) * plot.height()
        };
        let gr_y = |db: f32| plot.top() + (db / GR_RANGE_DB).clamp(0.0, 1.0) * plot.height();
        painter.hline(
            plot.x_range(),
            level_y(settings.threshold_db),
            Stroke::new(1.0, theme::ACCENT.gamma_multiply(0.6)),
        );
        let visible: Vec<&Moment> = self
            .history
            .iter()
            .filter(|m| m.t >= now - HISTORY_S as f64)
            .collect();
        let level: Vec<Pos2> = visible
            .iter()
            .map(|m| Pos2::new(x(m.t), level_y(m.level_db.max(METER_FLOOR_DB))))
            .collect();
        let reduction: Vec<Pos2> = visible
            .iter()
            .map(|m| Pos2::new(x(m.t), gr_y(m.reduction_db)))
            .collect();
        for pair in reduction.windows(2) {
            let quad = vec![
                pair[0],
                pair[1],
                Pos2::new(pair[1].x, plot.top()),
                Pos2::new(pair[0].x, plot.top()),
            ];
            painter.add(Shape::convex_polygon(
                quad,
                theme::REDUCTION.gamma_multiply(0.35),
                Stroke::NONE,
            ));
        }
        // The level as a filled envelope from the bottom.
        for pair in level.windows(2) {
            let quad = vec![
                pair[0],
                pair[1],
                Pos2::new(pair[1].x, plot.bottom()),
                Pos2::new(pair[0].x, plot.bottom()),
            ];
            painter.add(Shape::convex_polygon(
                quad,
                theme::INPUT.gamma_multiply(0.45),
                Stroke::NONE,
            ));
        }
        painter.add(Shape::line(
            level,
            Stroke::new(1.5, theme::INPUT.gamma_multiply(1.6)),
        ));
        painter.add(Shape::line(reduction, Stroke::new(1.5, theme::REDUCTION)));
        let font = egui::TextStyle::Small.resolve(ui.style());
        painter.text(
            plot.left_top() + egui::vec2(4.0, 3.0),
            egui::Align2::LEFT_TOP,
            "gain reduction (down from the top)",
            font.clone(),
            theme::REDUCTION,
        );
        painter.text(
            plot.left_bottom() + egui::vec2(4.0, -3.0),
            egui::Align2::LEFT_BOTTOM,
            "level into the compressor (orange: threshold)",
            font.clone(),
            theme::DIM_TEXT,
        );
        painter.text(
            plot.right_bottom() + egui::vec2(0.0, 3.0),
            egui::Align2::RIGHT_TOP,
            format!("last {HISTORY_S:.0} s"),
            font,
            theme::DIM_TEXT,
        );
        response.on_hover_text(
            "The last seconds: the level into the compressor (grey) and the gain reduction (red, \
             from the top). Watch the red rise with the attack time when a hit crosses the \
             threshold, and fall back with the release time.",
        );
    }
}

/// The compressor's controls, each explaining itself with its current value.
fn controls_grid(ui: &mut Ui, p: &CompressorParams, setter: &ParamSetter, s: &CompressorSettings) {
    ui.label(
        egui::RichText::new("COMPRESSOR")
            .small()
            .strong()
            .color(theme::DIM_TEXT),
    );
    let ratio = if s.ratio.is_infinite() {
        "∞".to_owned()
    } else {
        format!("{:.1}", s.ratio)
    };
    ui.horizontal_wrapped(|ui| {
        controls::toggle(ui, setter, &p.enabled, "Compressor", "Turns the compressor on or off (the EQ and gains stay).");
        controls::choice(ui, setter, &p.detector, "What the compressor listens to: Peak follows every transient; RMS the average power over 5 ms, smoother on voice.");
        controls::toggle(ui, setter, &p.auto_makeup, "Auto makeup", "Adds back the gain the static curve takes from a −10 dBFS signal, so comparing on and off is fair.");
        controls::toggle(ui, setter, &p.sidechain_hpf, "Sidechain HPF", "Filters the lows out of what the compressor listens to, so kicks and plosives don't pump the voice.");
    });
    ui.horizontal_wrapped(|ui| {
        controls::slider(ui, setter, &p.threshold_db, &format!("Threshold {:.1} dBFS: compression starts here; quieter sounds pass unchanged.", s.threshold_db));
        controls::slider(ui, setter, &p.ratio, &format!("Ratio {ratio}:1: above the threshold, {ratio} dB in gives 1 dB out."));
        controls::slider(ui, setter, &p.knee_db, &format!("Knee {:.1} dB: the ratio eases in over {:.1} dB around the threshold instead of switching on at once.", s.knee_db, s.knee_db));
        controls::slider(ui, setter, &p.attack_ms, &format!("Attack {:.2} ms: when the level jumps above the threshold, the gain comes down 63 % of the way in {:.2} ms. Short attacks tame transients; longer ones let the punch through.", s.attack_ms, s.attack_ms));
        controls::slider(ui, setter, &p.release_ms, &format!("Release {:.0} ms: when the level falls, the gain recovers 63 % of the way in {:.0} ms. Short releases pump; long ones hold the level down.", s.release_ms, s.release_ms));
        controls::slider(ui, setter, &p.makeup_db, &format!("Makeup {:+.1} dB: gain after compression, to win back the level it took.", s.makeup_db));
        controls::slider(ui, setter, &p.mix_pct, &format!("Mix {:.0} %: that much compressed signal, the rest dry (parallel compression).", s.mix_pct));
        controls::slider(ui, setter, &p.sidechain_hpf_hz, "The sidechain high-pass's corner: lows below it don't trigger the compressor.");
        controls::slider(ui, setter, &p.stereo_link_pct, "Stereo link: 100 % one gain for both channels (keeps the image), 0 % each channel on its own.");
    });
}
