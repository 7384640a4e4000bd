//! The analysis as a picture (presentation only: it reads an [`Analysis`] and draws it): a
//! hand-written SVG with four panels — spectra of reference,
//! source and predicted result; the fitted EQ curve against its target; the compressor's
//! static curve; the short-term level histograms of source and reference. The PNG is the same
//! SVG rasterised ([`raster`]).

use crate::analysis::Analysis;
use crate::analysis::metrics::LEVEL_BAND_HZ;
use crate::dsp::compressor::static_curve_db;

mod panel;
pub mod raster;
pub mod summary;

use panel::{CELL_H, CELL_W, Panel};

pub use raster::{PNG_SCALE, Png, RasterError};

const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#7f7f7f"];
/// Target points weighing this or less are drawn as gaps (too close to a noise floor).
const RELIABLE_WEIGHT: f64 = 0.05;
/// Named families first because the generic `sans-serif` alone resolves through fontconfig's
/// aliases, which a minimal Linux may lack (DejaVu Sans is Debian's fonts-dejavu-core).
const FONT_FAMILY: &str = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/// The span of the finite values above −150 dB in `series`, widened by `pad` each side (by 1
/// when they are flat); −1…1 when there are none.
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

/// The report as an SVG document: four panels in a 2 × 2 grid.
pub fn svg(analysis: &Analysis) -> String {
    let panels = [
        spectra_panel(analysis),
        eq_panel(analysis),
        compressor_panel(analysis),
        levels_panel(analysis),
    ];
    let (width, height) = (2.0 * CELL_W, 2.0 * CELL_H);
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="{FONT_FAMILY}"><rect width="100%" height="100%" fill="white"/>"##
    );
    for p in panels {
        out.push_str(&p.finish());
    }
    out.push_str("</svg>\n");
    out
}

/// The frequency axis of the spectra panels: the analysis grid's span, Hz.
fn frequency_range(a: &Analysis) -> (f64, f64) {
    let f = &a.grid_hz;
    (f[0], *f.last().unwrap_or(&20_000.0))
}

/// Top left: the long-term spectra of reference, source and source + EQ, each normalised to
/// 0 dB mean over [`LEVEL_BAND_HZ`] so their shapes compare.
fn spectra_panel(a: &Analysis) -> Panel {
    let f = &a.grid_hz;
    let norm = |v: &[f64]| -> Vec<f64> {
        let (lo, hi) = LEVEL_BAND_HZ;
        let mids: Vec<f64> = f
            .iter()
            .zip(v)
            .filter(|(f, _)| (lo..=hi).contains(*f))
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
    let (source_label, predicted_label) = if a.low_confidence {
        ("neutral prior (no source)", "prior + fitted EQ")
    } else {
        ("source", "source + fitted EQ")
    };
    let mut p = Panel::new(
        0,
        0,
        "Long-term spectra (offset removed)",
        frequency_range(a),
        range_of(&[&reference, &source, &predicted], 3.0),
        true,
    );
    p.axis_labels("frequency (Hz)", "level (dB)");
    p.line(f, &reference, COLOURS[0], "reference");
    p.line(f, &source, COLOURS[3], source_label);
    p.line(f, &predicted, COLOURS[1], predicted_label);
    p
}

/// Top right: the fitted EQ curve against its target (gaps where the target is unreliable,
/// weight ≤ [`RELIABLE_WEIGHT`]).
fn eq_panel(a: &Analysis) -> Panel {
    let title = format!(
        "EQ: fitted curve vs target ({} bands, {:.2} dB RMS error)",
        a.eq_fit.bands.len(),
        a.eq_fit.rms_error_db
    );
    let mut p = Panel::new(
        1,
        0,
        &title,
        frequency_range(a),
        range_of(&[&a.target.target_db, &a.eq_fit.curve_db], 2.0),
        true,
    );
    let weighted_target: Vec<f64> = a
        .target
        .target_db
        .iter()
        .zip(&a.target.weights)
        .map(|(t, w)| if *w > RELIABLE_WEIGHT { *t } else { f64::NAN })
        .collect();
    p.axis_labels("frequency (Hz)", "gain (dB)");
    p.line(
        &a.grid_hz,
        &weighted_target,
        COLOURS[0],
        "target (gaps: unreliable)",
    );
    p.line(&a.grid_hz, &a.eq_fit.curve_db, COLOURS[1], "fitted EQ");
    p
}

/// Bottom left: the compressor's static curve against 1:1, −60 to +10 dBFS.
fn compressor_panel(a: &Analysis) -> Panel {
    let inputs: Vec<f64> = (0..=70).map(|i| -60.0 + i as f64).collect();
    let c = &a.settings.compressor;
    let title = if c.enabled {
        format!(
            "Compressor: {:.1} dB, {:.1}:1, knee {:.1} dB, {:.1}/{:.0} ms",
            c.threshold_db, c.ratio, c.knee_db, c.attack_ms, c.release_ms
        )
    } else {
        "Compressor: off".to_owned()
    };
    let mut p = Panel::new(0, 1, &title, (-60.0, 10.0), (-60.0, 10.0), false);
    p.axis_labels("input level (dBFS)", "output level (dBFS)");
    p.line(&inputs, &inputs, COLOURS[3], "1:1");
    if c.enabled {
        let outputs: Vec<f64> = inputs.iter().map(|&x| static_curve_db(c, x)).collect();
        p.line(&inputs, &outputs, COLOURS[1], "static curve");
    }
    p
}

/// Bottom right: histograms of the 50 ms levels of the active frames, 2 dB bins from
/// −70 dBFS.
fn levels_panel(a: &Analysis) -> Panel {
    let edges: Vec<f64> = (0..=35).map(|i| -70.0 + 2.0 * i as f64).collect();
    let h_ref = histogram(&a.reference_levels_db, &edges);
    let h_src = histogram(&a.source_levels_db, &edges);
    let top = h_ref.iter().chain(&h_src).fold(0.01f64, |m, v| m.max(*v)) * 1.1;
    let mut p = Panel::new(
        1,
        1,
        "Short-term levels of the active frames",
        (-70.0, 0.0),
        (0.0, top),
        false,
    );
    p.axis_labels("50 ms level (dBFS)", "fraction of frames");
    p.bars(&edges, &h_ref, COLOURS[0], "reference");
    if !a.source_levels_db.is_empty() {
        p.bars(&edges, &h_src, COLOURS[2], "source");
    }
    p
}

/// The report as a PNG: [`svg`] rasterised at [`PNG_SCALE`] with the system's fonts.
pub fn png(analysis: &Analysis) -> Result<Png, RasterError> {
    raster::rasterise(&svg(analysis), PNG_SCALE, raster::system_fonts())
}

#[cfg(test)]
mod tests {
    use super::panel::{BOTTOM, LEFT, PANEL_H, PANEL_W, TOP};
    use super::*;
    use crate::analysis::{AnalyzeOptions, analyze, render, test_noise};
    use crate::audio_io::Audio;
    use crate::dsp::{ChainSettings, FilterKind};
    use resvg::tiny_skia::Pixmap;
    use resvg::usvg::fontdb;
    use std::sync::OnceLock;

    const FS: u32 = 44_100;

    /// A paired analysis: enveloped noise bursts, and the same through a +6 dB bell at 2 kHz
    /// and a compressor. Built once; the analysis takes a moment in a debug build.
    fn analysis() -> &'static Analysis {
        static ANALYSIS: OnceLock<Analysis> = OnceLock::new();
        ANALYSIS.get_or_init(|| {
            let noise = test_noise(3 * FS as usize, 7);
            let dry: Vec<f32> = noise
                .iter()
                .enumerate()
                .map(|(n, v)| {
                    // Four bursts a second, each decaying over 60 ms, louder every other one.
                    let t_s = (n % (FS as usize / 4)) as f32 / FS as f32;
                    let level = if (n / (FS as usize / 4)).is_multiple_of(2) {
                        0.5
                    } else {
                        0.15
                    };
                    v * level * (-t_s / 0.06).exp()
                })
                .collect();
            let mut preset = ChainSettings::default();
            preset.eq.bands[0].enabled = true;
            preset.eq.bands[0].kind = FilterKind::Bell;
            preset.eq.bands[0].freq_hz = 2000.0;
            preset.eq.bands[0].gain_db = 6.0;
            preset.eq.bands[0].q = 1.0;
            preset.compressor.enabled = true;
            preset.compressor.threshold_db = -24.0;
            preset.compressor.ratio = 4.0;
            let reference = render(&preset, std::slice::from_ref(&dry), FS as f64);
            let mono = |x: Vec<f32>| Audio {
                sample_rate: FS,
                channels: vec![x],
            };
            let mut a = analyze(
                &mono(reference.into_iter().next().expect("one channel")),
                Some(&mono(dry)),
                &AnalyzeOptions::default(),
            )
            .expect("analysable");
            // Draw a known compressor whatever the fit found, to check its curve's place.
            a.settings.compressor = preset.compressor;
            a
        })
    }

    fn rgba(p: &Pixmap, x: u32, y: u32) -> [u8; 4] {
        let c = p.pixel(x, y).expect("inside the picture");
        [c.red(), c.green(), c.blue(), c.alpha()]
    }

    /// Within 24 of `hex` ("#rrggbb") in every channel, and opaque.
    fn near(c: [u8; 4], hex: &str) -> bool {
        let v = u32::from_str_radix(&hex[1..], 16).expect("hex colour");
        let want = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        c[3] == 255 && (0..3).all(|i| c[i].abs_diff(want[i]) <= 24)
    }

    /// Pixels of the rectangle `x`, `y`, `w` × `h` (SVG units) for which `keep` holds.
    fn count(
        p: &Pixmap,
        (x, y, w, h): (f64, f64, f64, f64),
        keep: impl Fn([u8; 4]) -> bool,
    ) -> usize {
        let px = |v: f64| (v * f64::from(PNG_SCALE)) as u32;
        (px(y)..px(y + h))
            .flat_map(|yy| (px(x)..px(x + w)).map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| keep(rgba(p, xx, yy)))
            .count()
    }

    /// The plot area of the panel at `col`, `row` (SVG units).
    fn plot(col: usize, row: usize) -> (f64, f64, f64, f64) {
        let (x0, y0) = (col as f64 * CELL_W + LEFT, row as f64 * CELL_H + TOP);
        (x0, y0, PANEL_W, PANEL_H)
    }

    fn draw(fonts: fontdb::Database) -> (Png, Pixmap) {
        let png = raster::rasterise(&svg(analysis()), PNG_SCALE, fonts).expect("rasterised");
        let pixmap = Pixmap::decode_png(&png.data).expect("a valid PNG");
        (png, pixmap)
    }

    #[test]
    fn histogram_fractions_sum_to_the_share_inside() {
        let h = histogram(&[-10.0, -9.0, -30.0, 5.0], &[-40.0, -20.0, 0.0]);
        assert_eq!(h, vec![0.25, 0.5]);
    }

    #[test]
    fn png_is_the_svg_at_twice_the_size_on_white() {
        let (png, p) = draw(raster::system_fonts());
        let (w, h) = ((2.0 * CELL_W) as u32 * 2, (2.0 * CELL_H) as u32 * 2);
        assert_eq!((png.width_px, png.height_px), (w, h));
        assert_eq!((p.width(), p.height()), (w, h));
        for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
            assert_eq!(rgba(&p, x, y), [255; 4], "corner ({x}, {y})");
        }
        let opaque = count(&p, (0.0, 0.0, 2.0 * CELL_W, 2.0 * CELL_H), |c| c[3] == 255);
        assert_eq!(opaque, (w * h) as usize);
    }

    #[test]
    fn png_shows_every_series_in_its_panel_and_nothing_outside() {
        let (_, p) = draw(raster::system_fonts());
        let [blue, red, green, grey] = COLOURS;
        // A 1.5-unit line is 3 px thick and a panel 1120 px wide: 1000 px of a curve's own
        // colour mean it shows over about a third of the width, even where another covers it.
        for (panel, colours) in [
            (plot(0, 0), vec![blue, grey, red]),
            (plot(1, 0), vec![blue, red]),
            (plot(0, 1), vec![grey, red]),
        ] {
            for colour in colours {
                let n = count(&p, panel, |c| near(c, colour));
                assert!(n > 1000, "{colour} in {panel:?}: {n} px");
            }
        }
        // The histogram bars: 45 % of each colour over white.
        let bar = |c: [u8; 4], hex: &str| {
            let v = u32::from_str_radix(&hex[1..], 16).expect("hex colour");
            let want = [16, 8, 0].map(|s| (255.0 - 0.45 * (255.0 - ((v >> s) & 255) as f64)) as u8);
            (0..3).all(|i| c[i].abs_diff(want[i]) <= 3)
        };
        for colour in [blue, green] {
            let n = count(&p, plot(1, 1), |c| bar(c, colour));
            assert!(n > 10_000, "{colour} bars: {n} px");
        }
        // No curve colour between the panels (where only text is).
        let outside = [
            (0.0, 0.0, 2.0 * CELL_W, TOP - 2.0),
            (0.0, TOP + PANEL_H + 2.0, 2.0 * CELL_W, BOTTOM + TOP - 4.0),
            (0.0, 2.0 * CELL_H - BOTTOM + 2.0, 2.0 * CELL_W, BOTTOM - 2.0),
        ];
        for area in outside {
            let n = count(&p, area, |c| [blue, red, green].iter().any(|h| near(c, h)));
            assert_eq!(n, 0, "curve colour outside the panels in {area:?}");
        }
    }

    #[test]
    fn compressor_curve_passes_through_its_static_levels() {
        let (_, p) = draw(fontdb::Database::new());
        let c = &analysis().settings.compressor;
        let (x0, y0, w, h) = plot(0, 1);
        // Panel 3 spans −60…10 dB on both axes.
        let at = |v: f64| (v + 60.0) / 70.0;
        for input_db in [-50.0, -30.0, -10.0, 0.0] {
            let output_db = static_curve_db(c, input_db);
            let (x, y) = (x0 + at(input_db) * w, y0 + (1.0 - at(output_db)) * h);
            let s = f64::from(PNG_SCALE);
            let colour = rgba(&p, (x * s) as u32, (y * s) as u32);
            assert!(
                near(colour, COLOURS[1]),
                "{input_db} dB in → {output_db:.1} dB out: {colour:?} at ({x:.0}, {y:.0})"
            );
        }
    }

    #[test]
    fn labels_are_drawn_with_a_font_and_left_out_without_one() {
        // The first panel's title: 14-unit text above the panel, centred.
        let title = (LEFT + PANEL_W / 2.0 - 150.0, TOP - 26.0, 300.0, 20.0);
        let ink = |p: &Pixmap| count(p, title, |c| c[0] < 128 && c[1] < 128 && c[2] < 128);
        let (png, with_fonts) = draw(raster::system_fonts());
        assert!(png.labelled, "no system fonts: install fonts-dejavu-core");
        let n = ink(&with_fonts);
        assert!(n > 1000, "{n} dark px in the title");
        let (png, without) = draw(fontdb::Database::new());
        assert!(!png.labelled);
        assert_eq!(ink(&without), 0);
        // The curves do not need fonts.
        let red = count(&without, plot(1, 0), |c| near(c, COLOURS[1]));
        assert!(red > 300, "{red} px of the fitted EQ");
    }
}
