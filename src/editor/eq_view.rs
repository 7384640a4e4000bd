//! The EQ panel: the summed curve and each band's, drawn from the DSP's own band designs
//! ([`BandCurve`]), over the live input and output spectra; one node per band to drag
//! (frequency and gain), turn (wheel, or Alt/Ctrl-drag: Q), reset (double-click) or set up
//! (right-click: type, on/off, slope, exact values).

use super::controls::{self, set_once};
use super::geometry::{self, DbAxis, FreqAxis, NODE_GRAB_PX};
use super::spectrum::Analyzer;
use super::theme;
use crate::dsp::eq::BandCurve;
use crate::dsp::{ChainSettings, NUM_BANDS};
use crate::plugin::choices::Choice;
use crate::plugin::params::{BandKind, BandParams, MatchboxParams};
use egui::{Color32, Pos2, Rect, Response, Sense, Shape, Stroke, Ui};
use nice_plug::prelude::{Enum, Param, ParamSetter};

/// The EQ curve's range, dB.
pub const CURVE_DB: f32 = 24.0;
/// The analyzer's range: 0 dBFS at the top, this at the bottom.
pub const SPECTRUM_FLOOR_DB: f32 = -90.0;
/// The plot's margins inside the panel (for the scale labels), pixels.
pub const PLOT_MARGIN_X: f32 = 34.0;
pub const PLOT_MARGIN_Y: f32 = 18.0;
/// Pixels of vertical Alt/Ctrl-drag per wheel notch of Q.
const Q_DRAG_PX: f32 = 24.0;

/// What a drag in progress holds on to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grab {
    pub band: usize,
    /// Pointer minus node centre at the start, pixels.
    pub offset: (f32, f32),
    /// Changing Q (the modifier was held when the drag began).
    pub q_mode: bool,
}

/// The EQ panel's own state between frames.
#[derive(Debug, Default)]
pub struct EqView {
    pub grab: Option<Grab>,
    /// The band whose context menu is open.
    menu_band: Option<usize>,
}

/// The axes for a plot in `rect`.
pub fn axes(rect: Rect) -> (FreqAxis, DbAxis, DbAxis) {
    let freq = FreqAxis {
        x0: rect.left(),
        x1: rect.right(),
    };
    let curve = DbAxis {
        y0: rect.top(),
        y1: rect.bottom(),
        top_db: CURVE_DB,
        bottom_db: -CURVE_DB,
    };
    let spectrum = DbAxis {
        y0: rect.top(),
        y1: rect.bottom(),
        top_db: 0.0,
        bottom_db: SPECTRUM_FLOOR_DB,
    };
    (freq, curve, spectrum)
}

/// Where band `i`'s node sits: at its frequency, and at its gain (or, for a filter without
/// one, at its own curve's level there). `None` while the band is off.
pub fn node_positions(
    settings: &ChainSettings,
    sample_rate: f32,
    freq: &FreqAxis,
    db: &DbAxis,
) -> Vec<Option<(f32, f32)>> {
    settings
        .eq
        .bands
        .iter()
        .map(|band| {
            if !band.enabled {
                return None;
            }
            let level = if band.kind.uses_gain() {
                band.gain_db
            } else {
                BandCurve::new(band, sample_rate as f64).magnitude_db(band.freq_hz as f64) as f32
            };
            Some((freq.x(band.freq_hz), db.y(level.clamp(-CURVE_DB, CURVE_DB))))
        })
        .collect()
}

impl EqView {
    /// Draw the panel in the space `ui` offers and handle its input.
    pub fn show(
        &mut self,
        ui: &mut Ui,
        params: &MatchboxParams,
        setter: &ParamSetter,
        sample_rate: f32,
        analyzer: Option<&Analyzer>,
    ) -> Response {
        let size = ui.available_size();
        let (rect, response) = ui.allocate_exact_size(size, Sense::click_and_drag());
        let plot = rect.shrink2(egui::vec2(PLOT_MARGIN_X, PLOT_MARGIN_Y));
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "EQ curves"));
        let (freq, db, spectrum_db) = axes(plot);
        let settings = params.to_settings();
        let nodes = node_positions(&settings, sample_rate, &freq, &db);
        self.handle_input(ui, &response, params, setter, &freq, &db, &nodes);
        if ui.is_rect_visible(rect) {
            draw_grid(ui, rect, plot, &freq, &db);
            if let Some(analyzer) = analyzer {
                draw_spectrum(ui, plot, &freq, &spectrum_db, analyzer);
            }
            draw_curves(ui, plot, &freq, &db, &settings, sample_rate);
            let hovered = response
                .hover_pos()
                .and_then(|p| geometry::node_at(&nodes, (p.x, p.y), NODE_GRAB_PX));
            draw_nodes(ui, &nodes, hovered, self.grab.map(|g| g.band));
            if let Some(i) = hovered.or(self.grab.map(|g| g.band)) {
                draw_readout(ui, plot, i, &settings);
            }
        }
        response
            .on_hover_text("Drag a node: frequency and gain. Wheel or Alt-drag: Q. Double-click: reset the band. Right-click: type, on/off, exact values.")
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_input(
        &mut self,
        ui: &mut Ui,
        response: &Response,
        params: &MatchboxParams,
        setter: &ParamSetter,
        freq: &FreqAxis,
        db: &DbAxis,
        nodes: &[Option<(f32, f32)>],
    ) {
        let at = |p: Pos2| geometry::node_at(nodes, (p.x, p.y), NODE_GRAB_PX);
        // Where the button went down (the drag starts a few pixels later).
        if response.drag_started()
            && let Some(p) = ui.input(|i| i.pointer.press_origin())
            && let Some(band) = at(p)
            && let Some((x, y)) = nodes[band]
        {
            let q_mode = ui.input(|i| i.modifiers.alt || i.modifiers.command);
            let b = &params.bands[band];
            if q_mode {
                setter.begin_set_parameter(&b.q);
            } else {
                setter.begin_set_parameter(&b.freq_hz);
                setter.begin_set_parameter(&b.gain_db);
            }
            self.grab = Some(Grab {
                band,
                offset: (p.x - x, p.y - y),
                q_mode,
            });
        }
        if let Some(grab) = self.grab {
            let b = &params.bands[grab.band];
            if response.dragged() {
                if grab.q_mode {
                    let notches = -response.drag_delta().y / Q_DRAG_PX;
                    setter.set_parameter(&b.q, geometry::wheel_q(b.q.value(), notches));
                } else if let Some(p) = response.interact_pointer_pos() {
                    let (f, g) = geometry::drag_to(freq, db, (p.x, p.y), grab.offset);
                    setter.set_parameter(&b.freq_hz, f);
                    if b.kind.value().setting().uses_gain() {
                        setter.set_parameter(&b.gain_db, g);
                    }
                }
            }
            let released = ui.input(|i| !i.pointer.any_down());
            if response.drag_stopped() || released {
                if grab.q_mode {
                    setter.end_set_parameter(&b.q);
                } else {
                    setter.end_set_parameter(&b.freq_hz);
                    setter.end_set_parameter(&b.gain_db);
                }
                self.grab = None;
            }
        }
        if let Some(p) = response.hover_pos()
            && let Some(band) = at(p)
        {
            let scroll = ui.input(|i| i.smooth_scroll_delta.y);
            if scroll != 0.0 {
                let q = &params.bands[band].q;
                set_once(setter, q, geometry::wheel_q(q.value(), scroll / 50.0));
            }
            if response.double_clicked() {
                reset_band(setter, &params.bands[band]);
            }
            if response.secondary_clicked() {
                self.menu_band = Some(band);
            }
        }
        let menu_band = self.menu_band;
        response.context_menu(|ui| match menu_band {
            Some(band) => band_menu(ui, setter, &params.bands[band], band),
            None => {
                ui.label("Right-click a band's node to set it up.");
            }
        });
    }
}

/// Frequency, gain and Q back to their defaults, as one gesture.
fn reset_band(setter: &ParamSetter, b: &BandParams) {
    for p in [&b.freq_hz, &b.gain_db, &b.q] {
        setter.begin_set_parameter(p);
    }
    setter.set_parameter(&b.freq_hz, b.freq_hz.default_plain_value());
    setter.set_parameter(&b.gain_db, b.gain_db.default_plain_value());
    setter.set_parameter(&b.q, b.q.default_plain_value());
    for p in [&b.freq_hz, &b.gain_db, &b.q] {
        setter.end_set_parameter(p);
    }
}

/// A band's context menu: on/off, type, slope, exact values.
fn band_menu(ui: &mut Ui, setter: &ParamSetter, b: &BandParams, index: usize) {
    ui.label(
        egui::RichText::new(format!("Band {}", index + 1))
            .strong()
            .color(theme::BANDS[index]),
    );
    controls::toggle(
        ui,
        setter,
        &b.enabled,
        "On",
        "Whether this band is in the signal path.",
    );
    controls::choice(ui, setter, &b.kind, "The filter's shape.");
    let kind = b.kind.value().setting();
    controls::slider(ui, setter, &b.freq_hz, "Centre or corner frequency.");
    if kind.uses_gain() {
        controls::slider(
            ui,
            setter,
            &b.gain_db,
            "Boost (+) or cut (−) at the frequency.",
        );
    }
    if kind.uses_slope() {
        controls::choice(
            ui,
            setter,
            &b.slope,
            "How steeply the cut falls: 6 dB/oct is one pole.",
        );
    }
    controls::slider(
        ui,
        setter,
        &b.q,
        "Width: a high Q is a narrow bell or notch; for shelves and cuts, the resonance.",
    );
}

fn draw_grid(ui: &Ui, rect: Rect, plot: Rect, freq: &FreqAxis, db: &DbAxis) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(plot, 4.0, theme::PLOT);
    let font = egui::TextStyle::Small.resolve(ui.style());
    for f in geometry::FREQ_TICKS_HZ {
        let x = freq.x(f);
        painter.vline(x, plot.y_range(), Stroke::new(1.0, theme::GRID));
        painter.text(
            Pos2::new(x, plot.bottom() + 3.0),
            egui::Align2::CENTER_TOP,
            geometry::freq_label(f),
            font.clone(),
            theme::DIM_TEXT,
        );
    }
    for level in (-24..=24).step_by(6) {
        let y = db.y(level as f32);
        let stroke = if level == 0 {
            Stroke::new(1.0, theme::DIM_TEXT.gamma_multiply(0.6))
        } else {
            Stroke::new(1.0, theme::GRID)
        };
        painter.hline(plot.x_range(), y, stroke);
        painter.text(
            Pos2::new(plot.left() - 5.0, y),
            egui::Align2::RIGHT_CENTER,
            format!("{level:+}"),
            font.clone(),
            theme::DIM_TEXT,
        );
    }
    painter.text(
        Pos2::new(plot.right() - 4.0, plot.top() + 3.0),
        egui::Align2::RIGHT_TOP,
        "EQUALIZER   curves in dB (left scale); spectra: input grey, output blue",
        font,
        theme::DIM_TEXT,
    );
}

fn draw_spectrum(ui: &Ui, plot: Rect, freq: &FreqAxis, db: &DbAxis, analyzer: &Analyzer) {
    let painter = ui.painter_at(plot);
    for (levels, colour, fill) in [
        (analyzer.input_db(), theme::INPUT, 0.35),
        (analyzer.output_db(), theme::OUTPUT, 0.18),
    ] {
        let points: Vec<Pos2> = analyzer
            .freqs
            .iter()
            .zip(levels)
            .map(|(&f, &l)| Pos2::new(freq.x(f), db.y(l).min(plot.bottom())))
            .collect();
        // Filled from the bottom: vertical strips (the area under the curve is not convex).
        for pair in points.windows(2) {
            let quad = vec![
                pair[0],
                pair[1],
                Pos2::new(pair[1].x, plot.bottom()),
                Pos2::new(pair[0].x, plot.bottom()),
            ];
            painter.add(Shape::convex_polygon(
                quad,
                colour.gamma_multiply(fill),
                Stroke::NONE,
            ));
        }
        painter.add(Shape::line(
            points,
            Stroke::new(1.0, colour.gamma_multiply(0.9)),
        ));
    }
}

/// Points drawn per curve.
const CURVE_POINTS: usize = 300;

fn draw_curves(
    ui: &Ui,
    plot: Rect,
    freq: &FreqAxis,
    db: &DbAxis,
    settings: &ChainSettings,
    sample_rate: f32,
) {
    let painter = ui.painter_at(plot);
    let grid = freq.grid(CURVE_POINTS);
    let mut total = vec![0.0f32; grid.len()];
    for (i, band) in settings.eq.bands.iter().enumerate().take(NUM_BANDS) {
        if !band.enabled {
            continue;
        }
        let curve = BandCurve::new(band, sample_rate as f64);
        let levels: Vec<f32> = grid
            .iter()
            .map(|&f| curve.magnitude_db(f as f64) as f32)
            .collect();
        for (t, l) in total.iter_mut().zip(&levels) {
            *t += l;
        }
        let colour = theme::BANDS[i];
        let points: Vec<Pos2> = grid
            .iter()
            .zip(&levels)
            .map(|(&f, &l)| Pos2::new(freq.x(f), db.y(l.clamp(-CURVE_DB * 2.0, CURVE_DB * 2.0))))
            .collect();
        let zero = db.y(0.0);
        for pair in points.windows(2) {
            let quad = vec![
                pair[0],
                pair[1],
                Pos2::new(pair[1].x, zero),
                Pos2::new(pair[0].x, zero),
            ];
            painter.add(Shape::convex_polygon(
                quad,
                colour.gamma_multiply(0.08),
                Stroke::NONE,
            ));
        }
        painter.add(Shape::line(
            points,
            Stroke::new(1.2, colour.gamma_multiply(0.75)),
        ));
    }
    let sum: Vec<Pos2> = grid
        .iter()
        .zip(&total)
        .map(|(&f, &l)| Pos2::new(freq.x(f), db.y(l.clamp(-CURVE_DB * 2.0, CURVE_DB * 2.0))))
        .collect();
    painter.add(Shape::line(sum, Stroke::new(2.5, Color32::WHITE)));
}

/// Radius of a band node, pixels.
const NODE_RADIUS: f32 = 8.0;

fn draw_nodes(
    ui: &Ui,
    nodes: &[Option<(f32, f32)>],
    hovered: Option<usize>,
    grabbed: Option<usize>,
) {
    let painter = ui.painter();
    let font = egui::TextStyle::Small.resolve(ui.style());
    for (i, node) in nodes.iter().enumerate() {
        let Some((x, y)) = node else { continue };
        let centre = Pos2::new(*x, *y);
        let colour = theme::BANDS[i];
        let lit = hovered == Some(i) || grabbed == Some(i);
        let radius = if lit { NODE_RADIUS + 2.0 } else { NODE_RADIUS };
        painter.circle_filled(
            centre,
            radius,
            colour.gamma_multiply(if lit { 1.0 } else { 0.85 }),
        );
        painter.circle_stroke(
            centre,
            radius,
            Stroke::new(1.5, Color32::BLACK.gamma_multiply(0.6)),
        );
        painter.text(
            centre,
            egui::Align2::CENTER_CENTER,
            format!("{}", i + 1),
            font.clone(),
            Color32::BLACK,
        );
    }
}

fn draw_readout(ui: &Ui, plot: Rect, band: usize, settings: &ChainSettings) {
    let b = &settings.eq.bands[band];
    let kind = BandKind::variants()[BandKind::for_setting(b.kind).to_index()];
    let mut text = format!(
        "Band {}  {kind}  {}",
        band + 1,
        geometry::freq_text(b.freq_hz)
    );
    if b.kind.uses_gain() {
        text.push_str(&format!("  {:+.1} dB", b.gain_db));
    }
    if b.kind.uses_slope() {
        text.push_str(&format!("  {} dB/oct", b.slope_db_per_oct));
    } else {
        text.push_str(&format!("  Q {:.2}", b.q));
    }
    ui.painter().text(
        Pos2::new(plot.left() + 8.0, plot.top() + 6.0),
        egui::Align2::LEFT_TOP,
        text,
        egui::TextStyle::Body.resolve(ui.style()),
        theme::BANDS[band],
    );
}
