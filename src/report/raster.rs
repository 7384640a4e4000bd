//! The report's SVG rasterised to PNG with resvg (usvg parses, tiny-skia paints), so the PNG
//! and the SVG are one drawing: nothing here knows what the report shows.

use resvg::{tiny_skia, usvg};
use std::sync::Arc;
use usvg::fontdb;

/// PNG pixels per SVG unit: 2, so the labels stay sharp on HiDPI screens and in print.
pub const PNG_SCALE: f32 = 2.0;

/// An encoded PNG and what went into it.
#[derive(Debug, Clone)]
pub struct Png {
    /// The PNG file's bytes (8-bit RGBA, opaque).
    pub data: Vec<u8>,
    pub width_px: u32,
    pub height_px: u32,
    /// Whether a font was found, so the text is drawn. Without one the curves are still
    /// there but every label is missing.
    pub labelled: bool,
}

/// Why an SVG could not become a PNG (a bug in the drawing, not in the user's input).
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    #[error("the report's SVG does not parse: {0}")]
    Parse(#[from] usvg::Error),
    #[error("the report's size {width}×{height} × {scale} cannot be rasterised")]
    Size { width: f32, height: f32, scale: f32 },
    #[error("PNG encoding failed: {0}")]
    Encode(String),
}

/// The machine's fonts, as fontconfig (or the usual font directories) lists them.
pub fn system_fonts() -> fontdb::Database {
    let mut fonts = fontdb::Database::new();
    fonts.load_system_fonts();
    fonts
}

/// Paint `svg` at `scale` PNG pixels per SVG unit over white, with text set in `fonts`.
pub fn rasterise(svg: &str, scale: f32, mut fonts: fontdb::Database) -> Result<Png, RasterError> {
    let labelled = resolve_generic_families(&mut fonts);
    let options = usvg::Options {
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)?;
    let size = tree.size();
    let too_big = || RasterError::Size {
        width: size.width(),
        height: size.height(),
        scale,
    };
    let pixels = size.to_int_size().scale_by(scale).ok_or_else(too_big)?;
    let mut pixmap = tiny_skia::Pixmap::new(pixels.width(), pixels.height()).ok_or_else(too_big)?;
    // Opaque white under everything: viewers show transparency as black or a checkerboard.
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    let data = pixmap
        .encode_png()
        .map_err(|e| RasterError::Encode(e.to_string()))?;
    Ok(Png {
        data,
        width_px: pixmap.width(),
        height_px: pixmap.height(),
        labelled,
    })
}

/// Make `sans-serif` (and `serif`, usvg's last resort) name a font that exists; false when
/// there is no font at all.
///
/// fontdb names Arial and Times New Roman unless fontconfig's aliases say otherwise, so on a
/// machine with fonts but no fontconfig configuration no family in the list would match and
/// usvg would silently drop the text.
fn resolve_generic_families(fonts: &mut fontdb::Database) -> bool {
    let query = fontdb::Query {
        families: &[fontdb::Family::SansSerif],
        ..fontdb::Query::default()
    };
    if fonts.query(&query).is_some() {
        return true;
    }
    let family_of = |face: &fontdb::FaceInfo| face.families.first().map(|(name, _)| name.clone());
    // A sans face for labels if any, else whatever there is.
    let any = fonts
        .faces()
        .filter_map(family_of)
        .find(|name| name.contains("Sans") && !name.contains("Mono"))
        .or_else(|| fonts.faces().find_map(family_of));
    match any {
        Some(name) => {
            fonts.set_sans_serif_family(name.clone());
            fonts.set_serif_family(name);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50" font-family="'No Such Font', sans-serif"><rect x="10" y="10" width="20" height="20" fill="#d62728"/><text x="50" y="30" font-size="20">Hz</text></svg>"##;

    fn decode(png: &Png) -> tiny_skia::Pixmap {
        tiny_skia::Pixmap::decode_png(&png.data).expect("a valid PNG")
    }

    /// Pixels (r, g, b, a) matching `keep` inside x in `xs`, y in `ys` (pixels).
    fn count(
        p: &tiny_skia::Pixmap,
        xs: std::ops::Range<u32>,
        ys: std::ops::Range<u32>,
        keep: impl Fn([u8; 4]) -> bool,
    ) -> usize {
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let c = p.pixel(x, y).expect("inside");
                keep([c.red(), c.green(), c.blue(), c.alpha()])
            })
            .count()
    }

    #[test]
    fn scale_two_doubles_the_size_over_opaque_white() {
        let png = rasterise(SVG, 2.0, fontdb::Database::new()).unwrap();
        assert_eq!((png.width_px, png.height_px), (200, 100));
        let p = decode(&png);
        assert_eq!((p.width(), p.height()), (200, 100));
        // The red square covers 40 × 40 px at (20, 20); everything else is white.
        let red = count(&p, 0..200, 0..100, |c| c == [0xd6, 0x27, 0x28, 255]);
        assert_eq!(red, 40 * 40);
        let white = count(&p, 0..200, 0..100, |c| c == [255; 4]);
        assert_eq!(white, 200 * 100 - 40 * 40);
    }

    #[test]
    fn without_fonts_the_shapes_are_drawn_and_the_text_is_not() {
        let png = rasterise(SVG, 2.0, fontdb::Database::new()).unwrap();
        assert!(!png.labelled);
        let p = decode(&png);
        let ink = count(&p, 100..200, 0..100, |c| c[0] < 128);
        assert_eq!(ink, 0);
    }

    #[test]
    fn an_unknown_family_falls_back_to_an_installed_font() {
        let fonts = system_fonts();
        assert!(
            !fonts.is_empty(),
            "no system fonts: install fonts-dejavu-core (.ci/setup does)"
        );
        let png = rasterise(SVG, 2.0, fonts).unwrap();
        assert!(png.labelled);
        // "Hz" at 20 px × 2: a few hundred dark pixels right of x = 100 px.
        let ink = count(&decode(&png), 100..200, 0..100, |c| c[0] < 128);
        assert!(ink > 200, "{ink} dark pixels");
    }
}
