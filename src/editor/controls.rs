//! The editor's parameter controls. Every edit goes through nice-plug's [`ParamSetter`]
//! (begin, set, end), so a DAW records automation and undo; every control shows its value with
//! its unit, takes an exact value typed in (right-click or Ctrl-click), goes back to its default
//! on a double-click, and explains itself on hover.

use super::theme;
use egui::{Color32, CornerRadius, Response, Sense, Stroke, StrokeKind, Ui, Vec2, WidgetInfo};
use nice_plug::prelude::{BoolParam, Enum, EnumParam, Param, ParamSetter};

/// Size of a slider cell.
pub const CONTROL_SIZE: Vec2 = Vec2::new(168.0, 38.0);
/// A full-width drag changes the normalized value by this much; Shift makes it 10× finer.
const DRAG_SPAN: f32 = 1.0;
const FINE: f32 = 0.1;

/// A slider cell for any parameter: name, value with unit, a bar for where it sits.
pub fn slider<P: Param>(ui: &mut Ui, setter: &ParamSetter, param: &P, help: &str) -> Response {
    let id = ui.scope_id().with(("param", param.name()));
    let editing: Option<String> = ui.data(|d| d.get_temp(id));
    if let Some(text) = editing {
        return text_entry(ui, setter, param, id, text);
    }
    let (rect, response) = ui.allocate_exact_size(CONTROL_SIZE, Sense::click_and_drag());
    let normalized = param.modulated_normalized_value();
    if response.drag_started() {
        setter.begin_set_parameter(param);
    }
    if response.dragged() {
        let fine = if ui.input(|i| i.modifiers.shift) {
            FINE
        } else {
            1.0
        };
        let delta = response.drag_delta();
        // Right or up raises the value.
        let moved = (delta.x - delta.y) / rect.width() * DRAG_SPAN * fine;
        if moved != 0.0 {
            setter.set_parameter_normalized(param, (normalized + moved).clamp(0.0, 1.0));
        }
    }
    if response.drag_stopped() {
        setter.end_set_parameter(param);
    }
    if response.double_clicked() {
        set_once(setter, param, param.default_plain_value());
    }
    let wants_text =
        response.secondary_clicked() || (response.clicked() && ui.input(|i| i.modifiers.command));
    if wants_text {
        ui.data_mut(|d| d.insert_temp(id, param.to_string()));
    }
    let value = param.to_string();
    response.widget_info(|| WidgetInfo::slider(true, normalized as f64, param.name()));
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        let active = response.hovered() || response.dragged();
        painter.rect_filled(rect, CornerRadius::same(4), theme::PLOT);
        let bar = rect.shrink2(egui::vec2(6.0, 0.0));
        let track = egui::Rect::from_min_max(
            egui::pos2(bar.left(), rect.bottom() - 8.0),
            egui::pos2(bar.right(), rect.bottom() - 5.0),
        );
        painter.rect_filled(track, CornerRadius::same(1), theme::GRID);
        let mut filled = track;
        filled.set_right(track.left() + normalized * track.width());
        painter.rect_filled(filled, CornerRadius::same(1), theme::ACCENT);
        let stroke = if active {
            theme::ACCENT.gamma_multiply(0.8)
        } else {
            theme::GRID
        };
        painter.rect_stroke(
            rect,
            CornerRadius::same(4),
            Stroke::new(1.0, stroke),
            StrokeKind::Inside,
        );
        let font = egui::TextStyle::Small.resolve(ui.style());
        painter.text(
            rect.left_top() + egui::vec2(7.0, 5.0),
            egui::Align2::LEFT_TOP,
            param.name(),
            font.clone(),
            theme::DIM_TEXT,
        );
        painter.text(
            rect.right_top() + egui::vec2(-7.0, 4.0),
            egui::Align2::RIGHT_TOP,
            value,
            egui::TextStyle::Body.resolve(ui.style()),
            theme::TEXT,
        );
    }
    response.on_hover_text(format!(
        "{help}\n\nDrag to change (Shift: finer), double-click for the default, right-click to \
         type a value."
    ))
}

/// Typing a value: Enter applies it (if it parses), Escape or leaving the field cancels.
fn text_entry<P: Param>(
    ui: &mut Ui,
    setter: &ParamSetter,
    param: &P,
    id: egui::Id,
    mut text: String,
) -> Response {
    let bad_id = id.with("bad");
    let bad: bool = ui.data(|d| d.get_temp(bad_id).unwrap_or(false));
    let edit = egui::TextEdit::singleline(&mut text)
        .desired_width(CONTROL_SIZE.x - 8.0)
        .text_color(if bad { theme::REDUCTION } else { theme::TEXT })
        .hint_text(param.name());
    let response = ui.add_sized(CONTROL_SIZE, edit);
    let name = param.name().to_owned();
    response.widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, &name));
    response.request_focus();
    let (enter, escape) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::Enter),
            i.key_pressed(egui::Key::Escape),
        )
    });
    if enter {
        match param.string_to_normalized_value(&text) {
            Some(normalized) => {
                setter.begin_set_parameter(param);
                setter.set_parameter_normalized(param, normalized);
                setter.end_set_parameter(param);
                ui.data_mut(|d| {
                    d.remove::<String>(id);
                    d.remove::<bool>(bad_id);
                });
            }
            None => ui.data_mut(|d| {
                d.insert_temp(id, text);
                d.insert_temp(bad_id, true);
            }),
        }
    } else if escape || response.lost_focus() {
        ui.data_mut(|d| {
            d.remove::<String>(id);
            d.remove::<bool>(bad_id);
        });
    } else {
        ui.data_mut(|d| d.insert_temp(id, text));
    }
    response.on_hover_text(format!("Type a value for {} and press Enter", param.name()))
}

/// Set `param` to `value` as one gesture.
pub fn set_once<P: Param>(setter: &ParamSetter, param: &P, value: P::Plain) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}

/// An on/off switch for a [`BoolParam`].
pub fn toggle(
    ui: &mut Ui,
    setter: &ParamSetter,
    param: &BoolParam,
    label: &str,
    help: &str,
) -> Response {
    let on = param.value();
    let text = egui::RichText::new(label).color(if on { Color32::BLACK } else { theme::TEXT });
    let button = egui::Button::new(text)
        .selected(on)
        .fill(if on { theme::ACCENT } else { theme::PLOT })
        .min_size(egui::vec2(0.0, 24.0));
    let response = ui.add(button);
    if response.clicked() {
        set_once(setter, param, !on);
    }
    response.widget_info(|| WidgetInfo::selected(egui::Role::CheckBox, true, on, label));
    response.on_hover_text(help)
}

/// A choice list for an [`EnumParam`].
pub fn choice<T: Enum + PartialEq + Copy + 'static>(
    ui: &mut Ui,
    setter: &ParamSetter,
    param: &EnumParam<T>,
    help: &str,
) -> Response {
    let current = param.value();
    let names = T::variants();
    let inner = egui::ComboBox::from_id_salt(ui.scope_id().with(("choice", param.name())))
        .selected_text(names[current.to_index()])
        .width(CONTROL_SIZE.x - 24.0)
        .show_ui(ui, |ui| {
            for (index, name) in names.iter().enumerate() {
                let variant = T::from_index(index);
                if ui.selectable_label(variant == current, *name).clicked() && variant != current {
                    set_once(setter, param, variant);
                }
            }
        });
    inner.response.on_hover_text(help)
}
