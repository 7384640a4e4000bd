//! One plotted panel of the report, as SVG: axes with round ticks, curves, bars, and a legend
//! placed where it hides the least. Sizes are SVG units (PNG pixels / [`super::PNG_SCALE`]).

use std::fmt::Write;

pub const PANEL_W: f64 = 560.0;
pub const PANEL_H: f64 = 300.0;
/// Room left of a panel for its tick labels and the rotated y-axis label.
pub const LEFT: f64 = 64.0;
/// Room right of a panel, so the last x tick label stays inside the picture.
pub const RIGHT: f64 = 20.0;
/// Room above a panel for its title.
pub const TOP: f64 = 36.0;
/// Room below a panel for its tick labels and the x-axis label.
pub const BOTTOM: f64 = 44.0;
pub const CELL_W: f64 = LEFT + PANEL_W + RIGHT;
pub const CELL_H: f64 = TOP + PANEL_H + BOTTOM;
/// Height of a legend row; legend text is 11 units high, a character at most about 6.2 wide.
const LEGEND_ROW: f64 = 15.0;
const LEGEND_CHAR_W: f64 = 6.2;

/// Something drawn in a panel (SVG units) that the legend should not hide.
enum Mark {
    Point(f64, f64),
    Rect { x: f64, y: f64, w: f64, h: f64 },
}

/// One plotted panel: data ranges, the SVG being written, and the legend drawn last.
pub struct Panel {
    x0: f64,
    y0: f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    log_x: bool,
    svg: String,
    /// (colour, label) in drawing order.
    legend: Vec<(String, String)>,
    marks: Vec<Mark>,
}

impl Panel {
    pub fn new(
        col: usize,
        row: usize,
        title: &str,
        x_range: (f64, f64),
        y_range: (f64, f64),
        log_x: bool,
    ) -> Self {
        let x0 = col as f64 * CELL_W + LEFT;
        let y0 = row as f64 * CELL_H + TOP;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<rect x="{x0}" y="{y0}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#444"/><text x="{}" y="{}" font-size="14" text-anchor="middle">{}</text>"##,
            x0 + PANEL_W / 2.0,
            y0 - 10.0,
            escape(title)
        );
        let mut p = Self {
            x0,
            y0,
            x_range,
            y_range,
            log_x,
            svg,
            legend: Vec::new(),
            marks: Vec::new(),
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
                tick_label(x)
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
                r##"<line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{}</text>"##,
                self.x0,
                self.x0 + PANEL_W,
                self.x0 - 4.0,
                py + 3.0,
                tick_label(y)
            );
        }
    }

    /// Names of the axes: `x_label` under the tick labels, `y_label` turned along the left.
    pub fn axis_labels(&mut self, x_label: &str, y_label: &str) {
        let (cx, cy) = (self.x0 + PANEL_W / 2.0, self.y0 + PANEL_H / 2.0);
        let yx = self.x0 - 46.0;
        let _ = write!(
            self.svg,
            r##"<text x="{cx}" y="{}" font-size="11" text-anchor="middle" fill="#333">{}</text><text x="{yx}" y="{cy}" transform="rotate(-90 {yx} {cy})" font-size="11" text-anchor="middle" fill="#333">{}</text>"##,
            self.y0 + PANEL_H + 32.0,
            escape(x_label),
            escape(y_label)
        );
    }

    /// A curve through the finite points; a gap (NaN) splits it rather than bridging it.
    pub fn line(&mut self, xs: &[f64], ys: &[f64], colour: &str, label: &str) {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (&x, &y) in xs.iter().zip(ys) {
            if y.is_finite() {
                runs.last_mut()
                    .expect("never empty")
                    .push((self.tx(x), self.ty(y)));
            } else if !runs.last().expect("never empty").is_empty() {
                runs.push(Vec::new());
            }
        }
        for run in runs.iter().filter(|r| r.len() > 1) {
            let points: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                self.svg,
                r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5" stroke-linejoin="round"/>"##,
                points.join(" ")
            );
        }
        // Points at most 4 units apart along each segment, so a legend box small enough to
        // fall between two data points still sees the line through it.
        for run in &runs {
            for pair in run.windows(2) {
                let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
                let steps = ((xb - xa).hypot(yb - ya) / 4.0).ceil().max(1.0) as usize;
                self.marks.extend((0..steps).map(|i| {
                    let t = i as f64 / steps as f64;
                    Mark::Point(xa + t * (xb - xa), ya + t * (yb - ya))
                }));
            }
            self.marks
                .extend(run.last().map(|&(x, y)| Mark::Point(x, y)));
        }
        self.legend.push((colour.to_owned(), label.to_owned()));
    }

    pub fn bars(&mut self, edges: &[f64], counts: &[f64], colour: &str, label: &str) {
        for (w, c) in edges.windows(2).zip(counts) {
            let (xa, xb) = (self.tx(w[0]), self.tx(w[1]));
            let (ya, yb) = (self.ty(*c), self.ty(0.0));
            let (w, h) = ((xb - xa).max(0.5), (yb - ya).max(0.0));
            let _ = write!(
                self.svg,
                r##"<rect x="{xa:.1}" y="{ya:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}" fill-opacity="0.45"/>"##,
            );
            self.marks.push(Mark::Rect { x: xa, y: ya, w, h });
        }
        self.legend.push((colour.to_owned(), label.to_owned()));
    }

    /// How much of what is drawn a legend box at (x, y), w × h, would hide: one per curve
    /// point inside, one per 25 square units of bar.
    fn hidden_by(&self, x: f64, y: f64, w: f64, h: f64) -> f64 {
        let overlap = |a0: f64, a1: f64, b0: f64, b1: f64| (a1.min(b1) - a0.max(b0)).max(0.0);
        self.marks
            .iter()
            .map(|m| match *m {
                Mark::Point(px, py) => f64::from(u8::from(
                    (x..=x + w).contains(&px) && (y..=y + h).contains(&py),
                )),
                Mark::Rect {
                    x: rx,
                    y: ry,
                    w: rw,
                    h: rh,
                } => overlap(x, x + w, rx, rx + rw) * overlap(y, y + h, ry, ry + rh) / 25.0,
            })
            .sum()
    }

    /// The panel's SVG with its legend in the corner where it hides the least (top left on
    /// a tie), on a translucent white box.
    pub fn finish(mut self) -> String {
        if self.legend.is_empty() {
            return self.svg;
        }
        let longest = self.legend.iter().map(|(_, l)| l.chars().count()).max();
        let w = 24.0 + LEGEND_CHAR_W * longest.unwrap_or(0) as f64;
        let h = 6.0 + LEGEND_ROW * self.legend.len() as f64;
        let inset = 6.0;
        let (left, right) = (self.x0 + inset, self.x0 + PANEL_W - inset - w);
        let (top, bottom) = (self.y0 + inset, self.y0 + PANEL_H - inset - h);
        let corners = [(left, top), (right, top), (left, bottom), (right, bottom)];
        let (bx, by) = corners.into_iter().fold((left, top), |best, c| {
            if self.hidden_by(c.0, c.1, w, h) < self.hidden_by(best.0, best.1, w, h) {
                c
            } else {
                best
            }
        });
        let _ = write!(
            self.svg,
            r##"<rect x="{bx:.1}" y="{by:.1}" width="{w:.1}" height="{h:.1}" fill="white" fill-opacity="0.85" stroke="#ccc"/>"##
        );
        for (i, (colour, label)) in self.legend.iter().enumerate() {
            let row_y = by + 3.0 + LEGEND_ROW * i as f64;
            let _ = write!(
                self.svg,
                r##"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
                bx + 6.0,
                row_y + 2.5,
                bx + 20.0,
                row_y + 11.5,
                escape(label)
            );
        }
        self.svg
    }
}

/// A tick value as text, with a typographic minus sign.
fn tick_label(v: f64) -> String {
    // `+ 0.0` turns a rounded −0 into 0.
    format!("{}", v + 0.0).replace('-', "\u{2212}")
}

pub fn escape(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(nice_ticks((-60.0, 10.0)), vec![-60.0, -40.0, -20.0, 0.0]);
        assert_eq!(nice_ticks((0.0, 1.0)), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(tick_label(-20.0), "\u{2212}20");
        assert_eq!(tick_label(-0.0), "0");
    }

    #[test]
    fn a_gap_splits_a_curve_and_the_legend_avoids_it() {
        let mut p = Panel::new(0, 0, "t", (0.0, 10.0), (0.0, 10.0), false);
        // A curve along the top left, broken by a NaN: two polylines, nothing bridging.
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        p.line(&xs, &[9.5, 9.5, 9.5, f64::NAN, 9.5, 9.5], "#d62728", "a");
        assert_eq!(p.svg.matches("<polyline").count(), 2);
        let svg = p.finish();
        // The legend moved to the top right: its box starts right of the panel's middle.
        let legend_x: f64 = svg
            .split(r#"fill-opacity="0.85""#)
            .next()
            .and_then(|s| s.rsplit("<rect x=\"").next())
            .and_then(|s| s.split('"').next())
            .and_then(|s| s.parse().ok())
            .expect("a legend box");
        assert!(legend_x > LEFT + PANEL_W / 2.0, "legend at x = {legend_x}");
    }
}
