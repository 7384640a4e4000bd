//! The analysis as a picture: a hand-written SVG with four panels — spectra of reference,
//! source and predicted result; the fitted EQ curve against its target; the compressor's
//! static curve; the short-term level histograms of source and reference.

use super::Analysis;
use crate::dsp::compressor::static_curve_db;
use std::fmt::Write;

const PANEL_W: f64 = 560.0;
const PANEL_H: f64 = 300.0;
const MARGIN: f64 = 50.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"];

/// One plotted panel: data ranges and the SVG group being written.
struct Panel {
    x0: f64,
    y0: f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    log_x: bool,
    svg: String,
}

impl Panel {
    fn new(
        col: usize,
        row: usize,
        title: &str,
        x_range: (f64, f64),
        y_range: (f64, f64),
        log_x: bool,
    ) -> Self {
        let x0 = MARGIN + col as f64 * (PANEL_W + MARGIN);
        let y0 = MARGIN + row as f64 * (PANEL_H + MARGIN);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/><text x="{}" y="{}" font-size="14" text-anchor="middle">{}</text>"##,
            x0 + PANEL_W / 2.0,
            y0 - 8.0,
            escape(title)
        );
        let mut p = Self {
            x0,
            y0,
            x_range,
            y_range,
            log_x,
            svg,
        };
        p.axes();
        p
    }

    fn tx(&self, x: f64) -> f64 {
        let (a, b) = self.x_range;
        let t = if self.log_x {
            (x.max(1e-9).ln() - a.ln()) / (b.ln() - a.ln())
        } else {
            (x - a) / (b - a)
        };
        self.x0 + t.clamp(0.0, 1.0) * PANEL_W
    }

    fn ty(&self, y: f64) -> f64 {
        let (a, b) = self.y_range;
        self.y0 + PANEL_H - ((y - a) / (b - a)).clamp(0.0, 1.0) * PANEL_H
    }

    fn axes(&mut self) {
        let ticks: Vec<f64> = if self.log_x {
            [20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4]
                .into_iter()
                .filter(|f| *f >= self.x_range.0 && *f <= self.x_range.1)
                .collect()
        } else {
            nice_ticks(self.x_range)
        };
        for x in ticks {
            let px = self.tx(x);
            let label = if x >= 1000.0 && self.log_x {
                format!("{}k", x / 1000.0)
            } else {
                format!("{x}")
            };
            let _ = write!(
                self.svg,
                r##"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="#ddd"/><text x="{px:.1}" y="{}" font-size="10" text-anchor="middle">{label}</text>"##,
                self.y0,
                self.y0 + PANEL_H,
                self.y0 + PANEL_H + 14.0
            );
        }
        for y in nice_ticks(self.y_range) {
            let py = self.ty(y);
            let _ = write!(
                self.svg,
                r##"<line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{y}</text>"##,
                self.x0,
                self.x0 + PANEL_W,
                self.x0 - 4.0,
                py + 3.0
            );
        }
    }

    fn line(&mut self, xs: &[f64], ys: &[f64], colour: &str, label: &str, index: usize) {
        let points: Vec<String> = xs
            .iter()
            .zip(ys)
            .filter(|(_, y)| y.is_finite())
            .map(|(&x, &y)| format!("{:.1},{:.1}", self.tx(x), self.ty(y)))
            .collect();
        let _ = write!(
            self.svg,
            r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5"/>"##,
            points.join(" ")
        );
        self.legend(colour, label, index);
    }

    fn legend(&mut self, colour: &str, label: &str, index: usize) {
        let (lx, ly) = (self.x0 + 10.0, self.y0 + 16.0 + 14.0 * index as f64);
        let _ = write!(
            self.svg,
            r##"<rect x="{lx}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{}" font-size="11">{}</text>"##,
            ly - 9.0,
            lx + 14.0,
            ly,
            escape(label)
        );
    }

    fn bars(&mut self, edges: &[f64], counts: &[f64], colour: &str, label: &str, index: usize) {
        for (w, c) in edges.windows(2).zip(counts) {
            let (xa, xb) = (self.tx(w[0]), self.tx(w[1]));
            let (ya, yb) = (self.ty(*c), self.ty(0.0));
            let _ = write!(
                self.svg,
                r##"<rect x="{xa:.1}" y="{ya:.1}" width="{:.1}" height="{:.1}" fill="{colour}" fill-opacity="0.45"/>"##,
                (xb - xa).max(0.5),
                (yb - ya).max(0.0)
            );
        }
        self.legend(colour, label, index);
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// About five round tick values across `range`.
fn nice_ticks((a, b): (f64, f64)) -> Vec<f64> {
    let span = (b - a).abs().max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (a / step).ceil() * step;
    let mut out = Vec::new();
    while t <= b + 1e-9 && out.len() < 20 {
        out.push((t * 1e6).round() / 1e6);
        t += step;
    }
    out
}

fn range_of(series: &[&[f64]], pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in series {
        for &v in s.iter().filter(|v| v.is_finite() && **v > -150.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    if hi - lo < 1.0 {
        return (lo - 1.0, hi + 1.0);
    }
    (lo - pad, hi + pad)
}

/// Histogram of `values` over `edges`, as fractions of all values.
fn histogram(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() - 1];
    for &v in values {
        if let Some(i) = edges.windows(2).position(|w| v >= w[0] && v < w[1]) {
            counts[i] += 1.0;
        }
    }
    let total = values.len().max(1) as f64;
    counts.iter().map(|c| c / total).collect()
}

/// The report as an SVG document.
pub fn svg(analysis: &Analysis) -> String {
    let a = analysis;
    let f = &a.grid_hz;
    let x_range = (f[0], *f.last().unwrap_or(&20_000.0));
    // Spectra, each normalised to 0 dB mean over 100 Hz–8 kHz so their shapes compare.
    let norm = |v: &[f64]| -> Vec<f64> {
        let mids: Vec<f64> = f
            .iter()
            .zip(v)
            .filter(|(f, _)| (100.0..=8000.0).contains(*f))
            .map(|(_, v)| *v)
            .collect();
        let m = mids.iter().sum::<f64>() / mids.len().max(1) as f64;
        v.iter().map(|x| x - m).collect()
    };
    let reference = norm(&a.reference_db);
    let source = norm(&a.source_db);
    let predicted = norm(
        &a.source_db
            .iter()
            .zip(&a.eq_fit.curve_db)
            .map(|(s, c)| s + c)
            .collect::<Vec<_>>(),
    );
    let source_label = if a.low_confidence {
        "neutral prior (no source)"
    } else {
        "source"
    };
    let mut p1 = Panel::new(
        0,
        0,
        "Long-term spectra (dB, offset removed)",
        x_range,
        range_of(&[&reference, &source, &predicted], 3.0),
        true,
    );
    p1.line(f, &reference, COLOURS[0], "reference", 0);
    p1.line(f, &source, COLOURS[3], source_label, 1);
    p1.line(f, &predicted, COLOURS[1], "source + fitted EQ", 2);

    let title = format!(
        "EQ: fitted curve vs target ({} bands, {:.2} dB RMS error)",
        a.eq_fit.bands.len(),
        a.eq_fit.rms_error_db
    );
    let mut p2 = Panel::new(
        1,
        0,
        &title,
        x_range,
        range_of(&[&a.target.target_db, &a.eq_fit.curve_db], 2.0),
        true,
    );
    let weighted_target: Vec<f64> = a
        .target
        .target_db
        .iter()
        .zip(&a.target.weights)
        .map(|(t, w)| if *w > 0.05 { *t } else { f64::NAN })
        .collect();
    p2.line(
        f,
        &weighted_target,
        COLOURS[0],
        "target (masked where unreliable)",
        0,
    );
    p2.line(f, &a.eq_fit.curve_db, COLOURS[1], "fitted EQ", 1);

    let inputs: Vec<f64> = (0..=70).map(|i| -60.0 + i as f64).collect();
    let c = &a.settings.compressor;
    let outputs: Vec<f64> = if c.enabled {
        inputs.iter().map(|&x| static_curve_db(c, x)).collect()
    } else {
        inputs.clone()
    };
    let title = if c.enabled {
        format!(
            "Compressor: {:.1} dB, {:.1}:1, knee {:.1} dB, {:.1}/{:.0} ms",
            c.threshold_db, c.ratio, c.knee_db, c.attack_ms, c.release_ms
        )
    } else {
        "Compressor: off".to_owned()
    };
    let mut p3 = Panel::new(0, 1, &title, (-60.0, 10.0), (-60.0, 10.0), false);
    p3.line(&inputs, &inputs, COLOURS[3], "1:1", 1);
    p3.line(
        &inputs,
        &outputs,
        COLOURS[1],
        "static curve (in → out dBFS)",
        0,
    );

    let edges: Vec<f64> = (0..=35).map(|i| -70.0 + 2.0 * i as f64).collect();
    let h_ref = histogram(&a.reference_levels_db, &edges);
    let h_src = histogram(&a.source_levels_db, &edges);
    let top = h_ref.iter().chain(&h_src).fold(0.01f64, |m, v| m.max(*v)) * 1.1;
    let mut p4 = Panel::new(
        1,
        1,
        "50 ms levels (dBFS), fraction of active frames",
        (-70.0, 0.0),
        (0.0, top),
        false,
    );
    p4.bars(&edges, &h_ref, COLOURS[0], "reference", 0);
    if !a.source_levels_db.is_empty() {
        p4.bars(&edges, &h_src, COLOURS[2], "source", 1);
    }

    let width = 2.0 * PANEL_W + 3.0 * MARGIN;
    let height = 2.0 * PANEL_H + 3.0 * MARGIN;
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"##
    );
    for p in [p1, p2, p3, p4] {
        out.push_str(&p.svg);
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(nice_ticks((-60.0, 10.0)), vec![-60.0, -40.0, -20.0, 0.0]);
        assert_eq!(nice_ticks((0.0, 1.0)), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    }

    #[test]
    fn histogram_fractions_sum_to_the_share_inside() {
        let h = histogram(&[-10.0, -9.0, -30.0, 5.0], &[-40.0, -20.0, 0.0]);
        assert_eq!(h, vec![0.25, 0.5]);
    }
}
