//! Input and output meters (peak, RMS, peak hold), the safety ceiling's activity, and in the
//! live monitor its DSP load and dropouts.

use super::theme;
use crate::dsp::{METER_FLOOR_DB, MeterReading};
use egui::{Pos2, Rect, Sense, Stroke, Ui};

/// The meters' scale, dBFS.
pub const METER_MIN_DB: f32 = -60.0;
/// How long a peak-hold mark stays before it falls, s, and how fast it then falls, dB/s.
pub const HOLD_S: f64 = 1.5;
pub const HOLD_FALL_DB_PER_S: f32 = 20.0;
/// The peak meter's release on screen, dB/s (rises are immediate).
pub const PEAK_FALL_DB_PER_S: f32 = 40.0;

/// One meter's state on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meter {
    pub peak_db: f32,
    pub rms_db: f32,
    pub hold_db: f32,
    /// When the hold mark was last raised, s.
    pub held_at: f64,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            peak_db: METER_FLOOR_DB,
            rms_db: METER_FLOOR_DB,
            hold_db: METER_FLOOR_DB,
            held_at: 0.0,
        }
    }
}

impl Meter {
    /// Take a new reading at time `now` (s), `dt` s after the last.
    pub fn update(&mut self, peak_db: f32, rms_db: f32, now: f64, dt: f32) {
        self.peak_db = peak_db.max(self.peak_db - PEAK_FALL_DB_PER_S * dt);
        self.rms_db = rms_db;
        if peak_db >= self.hold_db {
            self.hold_db = peak_db;
            self.held_at = now;
        } else if now - self.held_at > HOLD_S {
            self.hold_db = (self.hold_db - HOLD_FALL_DB_PER_S * dt).max(self.peak_db);
        }
    }

    /// Whether anything would still move on screen.
    pub fn is_live(&self) -> bool {
        self.peak_db > METER_FLOOR_DB || self.hold_db > METER_FLOOR_DB
    }
}

/// What the live monitor adds (none in a DAW).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveFigures {
    /// DSP load of the last second: mean and worst block, 0…1.
    pub load_mean: f64,
    pub load_max: f64,
    pub xruns: u64,
}

/// The meters' state between frames.
#[derive(Debug, Default)]
pub struct Meters {
    pub input: Meter,
    pub output: Meter,
    /// Ceiling reduction (largest since the last frame), dB, and when it last acted, s.
    pub ceiling_db: f32,
    pub ceiling_at: f64,
}

impl Meters {
    pub fn update(&mut self, r: &MeterReading, now: f64, dt: f32) {
        self.input.update(r.input_peak_db, r.input_rms_db, now, dt);
        self.output
            .update(r.output_peak_db, r.output_rms_db, now, dt);
        self.ceiling_db = r.ceiling_reduction_db;
        if r.ceiling_reduction_db > 0.05 {
            self.ceiling_at = now;
        }
    }

    pub fn is_live(&self) -> bool {
        self.input.is_live() || self.output.is_live()
    }

    pub fn show(&self, ui: &mut Ui, now: f64, live: Option<LiveFigures>) {
        // The bars take the height the lines under them leave.
        let height = (ui.available_height() - 90.0).max(120.0);
        ui.horizontal(|ui| {
            meter(ui, "IN", &self.input, height);
            meter(ui, "OUT", &self.output, height);
        });
        let acting = now - self.ceiling_at < 0.5;
        let (colour, text) = if acting {
            (
                theme::REDUCTION,
                format!("CEILING −{:.1} dB", self.ceiling_db.max(0.1)),
            )
        } else {
            (theme::DIM_TEXT, "ceiling idle".to_owned())
        };
        ui.label(egui::RichText::new(text).small().color(colour))
            .on_hover_text(
                "The safety ceiling: lights when it holds a peak down to the ceiling level.",
            );
        if let Some(live) = live {
            let load = egui::RichText::new(format!(
                "DSP {:.1} % (max {:.1} %)",
                100.0 * live.load_mean,
                100.0 * live.load_max
            ))
            .small();
            ui.label(load).on_hover_text("Time spent processing ÷ audio time, over the last second: mean, and the worst block.");
            let xruns = egui::RichText::new(format!("xruns {}", live.xruns))
                .small()
                .color(if live.xruns > 0 {
                    theme::METER_HOT
                } else {
                    theme::DIM_TEXT
                });
            ui.label(xruns)
                .on_hover_text("Dropouts the audio server or device reported since the start.");
        }
    }
}

/// A vertical meter: RMS as the bar, peak as a bright line, hold as a mark, scale in dBFS.
fn meter(ui: &mut Ui, label: &str, m: &Meter, height: f32) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(26.0, height), Sense::hover());
    let painter = ui.painter_at(rect);
    let bar = Rect::from_min_max(
        rect.left_top() + egui::vec2(5.0, 16.0),
        rect.right_bottom() - egui::vec2(5.0, 16.0),
    );
    painter.rect_filled(bar, 2.0, theme::PLOT);
    let y = |db: f32| {
        bar.bottom() - ((db - METER_MIN_DB) / -METER_MIN_DB).clamp(0.0, 1.0) * bar.height()
    };
    let colour = |db: f32| {
        if db > -3.0 {
            theme::METER_CLIP
        } else if db > -12.0 {
            theme::METER_HOT
        } else {
            theme::METER_OK
        }
    };
    painter.rect_filled(
        Rect::from_min_max(Pos2::new(bar.left(), y(m.rms_db)), bar.right_bottom()),
        1.0,
        colour(m.rms_db).gamma_multiply(0.8),
    );
    painter.hline(
        bar.x_range(),
        y(m.peak_db),
        Stroke::new(2.0, colour(m.peak_db)),
    );
    painter.hline(bar.x_range(), y(m.hold_db), Stroke::new(1.0, theme::TEXT));
    let font = egui::TextStyle::Small.resolve(ui.style());
    painter.text(
        Pos2::new(rect.center().x, rect.top()),
        egui::Align2::CENTER_TOP,
        label,
        font.clone(),
        theme::DIM_TEXT,
    );
    let shown = if m.hold_db <= METER_FLOOR_DB {
        "−∞".to_owned()
    } else {
        format!("{:.0}", m.hold_db)
    };
    painter.text(
        Pos2::new(rect.center().x, rect.bottom()),
        egui::Align2::CENTER_BOTTOM,
        shown,
        font,
        theme::TEXT,
    );
    response.on_hover_text(format!(
        "{label}: peak {:.1} dBFS, RMS {:.1} dBFS (300 ms), hold {:.1} dBFS",
        m.peak_db, m.rms_db, m.hold_db
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hold_mark_waits_then_falls_and_the_peak_falls_at_its_rate() {
        let mut m = Meter::default();
        m.update(-6.0, -12.0, 0.0, 0.0);
        assert_eq!((m.peak_db, m.hold_db), (-6.0, -6.0));
        // Silence for a second: the peak falls 40 dB, the hold stays.
        m.update(METER_FLOOR_DB, METER_FLOOR_DB, 1.0, 1.0);
        assert_eq!(m.peak_db, -46.0);
        assert_eq!(m.hold_db, -6.0);
        // Past 1.5 s the hold falls at 20 dB/s, never below the peak.
        m.update(METER_FLOOR_DB, METER_FLOOR_DB, 1.6, 0.6);
        assert!((m.peak_db - -70.0).abs() < 1e-4);
        assert!((m.hold_db - -18.0).abs() < 1e-4);
        assert!(m.is_live());
        for i in 0..20 {
            m.update(METER_FLOOR_DB, METER_FLOOR_DB, 2.0 + i as f64, 1.0);
        }
        assert!(!m.is_live());
    }
}
