//! One dark theme for the whole editor: colours with a job each, and legible type.

use egui::{Color32, FontFamily, FontId, Stroke, TextStyle};

/// Panel background, plots' background, grid lines, secondary and primary text.
pub const BACKGROUND: Color32 = Color32::from_rgb(0x17, 0x19, 0x1d);
pub const PLOT: Color32 = Color32::from_rgb(0x10, 0x12, 0x15);
pub const GRID: Color32 = Color32::from_rgb(0x2a, 0x2e, 0x35);
pub const DIM_TEXT: Color32 = Color32::from_rgb(0x8a, 0x91, 0x9c);
pub const TEXT: Color32 = Color32::from_rgb(0xe6, 0xe8, 0xeb);
/// Matchbox's accent: a struck match.
pub const ACCENT: Color32 = Color32::from_rgb(0xff, 0x8a, 0x1f);
/// The input's spectrum and level, the output's.
pub const INPUT: Color32 = Color32::from_rgb(0x5a, 0x67, 0x7a);
pub const OUTPUT: Color32 = Color32::from_rgb(0x3f, 0xb6, 0xc8);
/// Gain reduction (compressor, ceiling).
pub const REDUCTION: Color32 = Color32::from_rgb(0xf2, 0x4b, 0x5a);
/// Level meter zones: safe, loud, near full scale.
pub const METER_OK: Color32 = Color32::from_rgb(0x47, 0xc2, 0x6b);
pub const METER_HOT: Color32 = Color32::from_rgb(0xe8, 0xc5, 0x3a);
pub const METER_CLIP: Color32 = REDUCTION;

/// A colour per EQ band, easy to tell apart on a dark background.
pub const BANDS: [Color32; 8] = [
    Color32::from_rgb(0xff, 0x6b, 0x6b),
    Color32::from_rgb(0xff, 0xa9, 0x4d),
    Color32::from_rgb(0xf5, 0xe0, 0x4e),
    Color32::from_rgb(0x7b, 0xd8, 0x6a),
    Color32::from_rgb(0x4e, 0xd3, 0xc8),
    Color32::from_rgb(0x5a, 0xa9, 0xff),
    Color32::from_rgb(0xa6, 0x85, 0xff),
    Color32::from_rgb(0xf2, 0x7a, 0xd9),
];

/// Apply the theme to `ctx`.
pub fn apply(ctx: &egui::Context) {
    let mut style = (*ctx.global_style()).clone();
    style.text_styles = [
        (
            TextStyle::Small,
            FontId::new(11.0, FontFamily::Proportional),
        ),
        (TextStyle::Body, FontId::new(13.5, FontFamily::Proportional)),
        (
            TextStyle::Button,
            FontId::new(13.5, FontFamily::Proportional),
        ),
        (
            TextStyle::Heading,
            FontId::new(18.0, FontFamily::Proportional),
        ),
        (
            TextStyle::Monospace,
            FontId::new(12.5, FontFamily::Monospace),
        ),
    ]
    .into();
    let v = &mut style.visuals;
    *v = egui::Visuals::dark();
    v.panel_fill = BACKGROUND;
    v.window_fill = Color32::from_rgb(0x1e, 0x21, 0x26);
    v.extreme_bg_color = PLOT;
    v.selection.bg_fill = ACCENT.gamma_multiply(0.55);
    v.selection.stroke = Stroke::new(1.0, ACCENT);
    v.hyperlink_color = ACCENT;
    v.widgets.hovered.bg_stroke = Stroke::new(1.0, ACCENT.gamma_multiply(0.7));
    v.widgets.active.bg_stroke = Stroke::new(1.0, ACCENT);
    v.override_text_color = Some(TEXT);
    style.spacing.item_spacing = egui::vec2(8.0, 6.0);
    style.spacing.button_padding = egui::vec2(8.0, 4.0);
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|s| *s = style.clone());
}
