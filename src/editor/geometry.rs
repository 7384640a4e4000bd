//! The editor's geometry, pure and tested: frequency ↔ x on a logarithmic axis, dB ↔ y, which
//! band node the pointer is on, and what a drag or a wheel turn does to a band.

use crate::dsp::ranges;

/// Lowest and highest frequency the EQ view shows, Hz (the bands' range).
pub const FREQ_MIN_HZ: f32 = 20.0;
pub const FREQ_MAX_HZ: f32 = 20_000.0;

/// A logarithmic frequency axis over `[x0, x1]` pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FreqAxis {
    pub x0: f32,
    pub x1: f32,
}

impl FreqAxis {
    /// x of `freq_hz` (outside the range, beyond the ends).
    pub fn x(&self, freq_hz: f32) -> f32 {
        let t = (freq_hz / FREQ_MIN_HZ).log10() / (FREQ_MAX_HZ / FREQ_MIN_HZ).log10();
        self.x0 + t * (self.x1 - self.x0)
    }

    /// Frequency at `x`, Hz, clamped to the axis.
    pub fn freq(&self, x: f32) -> f32 {
        let t = ((x - self.x0) / (self.x1 - self.x0)).clamp(0.0, 1.0);
        FREQ_MIN_HZ * (FREQ_MAX_HZ / FREQ_MIN_HZ).powf(t)
    }

    /// `n` frequencies spread evenly over the axis (for drawing curves), Hz.
    pub fn grid(&self, n: usize) -> Vec<f32> {
        let n = n.max(2);
        (0..n)
            .map(|i| FREQ_MIN_HZ * (FREQ_MAX_HZ / FREQ_MIN_HZ).powf(i as f32 / (n - 1) as f32))
            .collect()
    }
}

/// A linear dB axis: `top_db` at `y0` (top), `bottom_db` at `y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbAxis {
    pub y0: f32,
    pub y1: f32,
    pub top_db: f32,
    pub bottom_db: f32,
}

impl DbAxis {
    /// y of `db` (outside the range, beyond the ends).
    pub fn y(&self, db: f32) -> f32 {
        let t = (self.top_db - db) / (self.top_db - self.bottom_db);
        self.y0 + t * (self.y1 - self.y0)
    }

    /// dB at `y`, clamped to the axis.
    pub fn db(&self, y: f32) -> f32 {
        let t = ((y - self.y0) / (self.y1 - self.y0)).clamp(0.0, 1.0);
        self.top_db - t * (self.top_db - self.bottom_db)
    }

    /// Pixels per dB.
    pub fn scale(&self) -> f32 {
        (self.y1 - self.y0) / (self.top_db - self.bottom_db)
    }
}

/// Frequencies labelled on the axis: 20, 50, 100, 200, 500, 1k, 2k, 5k, 10k, 20k.
pub const FREQ_TICKS_HZ: [f32; 10] = [
    20.0, 50.0, 100.0, 200.0, 500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0,
];

/// A tick's label: `"200"`, `"1k"`, `"20k"`.
pub fn freq_label(freq_hz: f32) -> String {
    if freq_hz >= 1_000.0 {
        format!("{}k", freq_hz / 1_000.0)
    } else {
        format!("{freq_hz}")
    }
}

/// A frequency as a reading: `"85 Hz"`, `"1.20 kHz"`, `"12.5 kHz"`.
pub fn freq_text(freq_hz: f32) -> String {
    if freq_hz >= 10_000.0 {
        format!("{:.1} kHz", freq_hz / 1_000.0)
    } else if freq_hz >= 1_000.0 {
        format!("{:.2} kHz", freq_hz / 1_000.0)
    } else {
        format!("{freq_hz:.0} Hz")
    }
}

/// Radius within which the pointer takes a band node, pixels.
pub const NODE_GRAB_PX: f32 = 12.0;

/// The node nearest to `pointer` within `radius`, among `nodes` (`None` entries are bands that
/// are off). Later nodes win ties, as they are drawn on top.
pub fn node_at(nodes: &[Option<(f32, f32)>], pointer: (f32, f32), radius: f32) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, node) in nodes.iter().enumerate() {
        let Some((x, y)) = node else { continue };
        let d = ((x - pointer.0).powi(2) + (y - pointer.1).powi(2)).sqrt();
        if d <= radius && best.is_none_or(|(_, b)| d <= b) {
            best = Some((i, d));
        }
    }
    best.map(|(i, _)| i)
}

/// A band dragged to pixel `pointer` (the node follows the pointer, offset by where it was
/// grabbed): the new frequency and gain, each inside its range.
pub fn drag_to(
    freq: &FreqAxis,
    db: &DbAxis,
    pointer: (f32, f32),
    grab_offset: (f32, f32),
) -> (f32, f32) {
    let x = pointer.0 - grab_offset.0;
    let y = pointer.1 - grab_offset.1;
    (
        ranges::BAND_FREQ_HZ.clamp(freq.freq(x)),
        ranges::BAND_GAIN_DB.clamp(db.db(y)),
    )
}

/// One wheel notch (or 40 px of a modifier-drag) multiplies or divides Q by this.
pub const Q_STEP: f32 = 1.122_462; // 2^(1/6): six notches per octave of bandwidth

/// Q after `notches` of the wheel (positive: narrower), inside its range.
pub fn wheel_q(q: f32, notches: f32) -> f32 {
    ranges::BAND_Q.clamp(q * Q_STEP.powf(notches))
}

/// dB per pixel of the node drag at the scale of `db`, for fine control with a modifier.
pub const FINE_DRAG: f32 = 0.2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frequency_axis_is_logarithmic_and_invertible() {
        let axis = FreqAxis {
            x0: 100.0,
            x1: 1100.0,
        };
        assert!((axis.x(20.0) - 100.0).abs() < 1e-3);
        assert!((axis.x(20_000.0) - 1100.0).abs() < 1e-3);
        // Three decades over 1000 px: a decade is 333.3 px, 632 Hz sits at the middle.
        assert!((axis.x(200.0) - 433.33).abs() < 0.01);
        assert!((axis.x(20.0 * 1000f32.sqrt()) - 600.0).abs() < 1e-2);
        for f in [20.0, 63.0, 440.0, 1_000.0, 7_500.0, 20_000.0] {
            assert!((axis.freq(axis.x(f)) / f - 1.0).abs() < 1e-5, "{f}");
        }
        assert_eq!(axis.freq(0.0), FREQ_MIN_HZ);
        assert!((axis.freq(5_000.0) - FREQ_MAX_HZ).abs() < 0.01);
        let grid = axis.grid(31);
        assert_eq!(grid.len(), 31);
        // 30 steps over three decades: every tenth point is a decade up.
        assert!((grid[10] / grid[0] - 10.0).abs() < 1e-3);
    }

    #[test]
    fn the_db_axis_is_linear_and_invertible() {
        let axis = DbAxis {
            y0: 0.0,
            y1: 480.0,
            top_db: 24.0,
            bottom_db: -24.0,
        };
        assert_eq!(axis.y(24.0), 0.0);
        assert_eq!(axis.y(0.0), 240.0);
        assert_eq!(axis.y(-12.0), 360.0);
        assert_eq!(axis.scale(), 10.0);
        for db in [-24.0, -3.5, 0.0, 6.0, 24.0] {
            assert!((axis.db(axis.y(db)) - db).abs() < 1e-4);
        }
        assert_eq!(axis.db(-50.0), 24.0);
    }

    #[test]
    fn labels_read_like_a_mixing_desk() {
        let labels: Vec<String> = FREQ_TICKS_HZ.iter().map(|&f| freq_label(f)).collect();
        assert_eq!(
            labels,
            [
                "20", "50", "100", "200", "500", "1k", "2k", "5k", "10k", "20k"
            ]
        );
        assert_eq!(freq_text(85.2), "85 Hz");
        assert_eq!(freq_text(1_200.0), "1.20 kHz");
        assert_eq!(freq_text(12_500.0), "12.5 kHz");
    }

    #[test]
    fn the_nearest_node_within_reach_is_taken() {
        let nodes = [
            Some((10.0, 10.0)),
            None,
            Some((20.0, 10.0)),
            Some((20.0, 11.0)),
        ];
        assert_eq!(node_at(&nodes, (11.0, 10.0), NODE_GRAB_PX), Some(0));
        // Equal distance: the later (drawn on top) wins.
        assert_eq!(node_at(&nodes, (20.0, 10.5), NODE_GRAB_PX), Some(3));
        assert_eq!(node_at(&nodes, (100.0, 100.0), NODE_GRAB_PX), None);
        assert_eq!(node_at(&[None, None], (0.0, 0.0), 1e9), None);
    }

    #[test]
    fn dragging_moves_frequency_and_gain_inside_their_ranges() {
        let f = FreqAxis { x0: 0.0, x1: 900.0 };
        let d = DbAxis {
            y0: 0.0,
            y1: 480.0,
            top_db: 24.0,
            bottom_db: -24.0,
        };
        // Grabbed 3 px right of centre: the node, not the pointer, lands on 2 kHz / +6 dB.
        let (freq, gain) = drag_to(&f, &d, (f.x(2_000.0) + 3.0, d.y(6.0)), (3.0, 0.0));
        assert!((freq - 2_000.0).abs() < 0.1, "{freq}");
        assert!((gain - 6.0).abs() < 1e-4, "{gain}");
        let (freq, gain) = drag_to(&f, &d, (-50.0, 9_999.0), (0.0, 0.0));
        assert_eq!(
            (freq, gain),
            (ranges::BAND_FREQ_HZ.min, ranges::BAND_GAIN_DB.min)
        );
    }

    #[test]
    fn the_wheel_steps_q_by_sixths_of_an_octave() {
        assert!((wheel_q(1.0, 6.0) - 2.0).abs() < 1e-4);
        assert!((wheel_q(2.0, -6.0) - 1.0).abs() < 1e-4);
        assert_eq!(wheel_q(17.0, 10.0), ranges::BAND_Q.max);
        assert_eq!(wheel_q(0.11, -10.0), ranges::BAND_Q.min);
    }
}
