//! The preset browser: the factory presets, the user's own folder, any file; saving the
//! current sound. Loading goes through [`apply_preset`]: a file that fails to load or validate
//! shows its error and changes nothing; a good one changes every parameter in one gesture (one
//! undo step in a DAW).

use super::config;
use super::files::{Choice, FileDialog};
use super::theme;
use crate::plugin::params::MatchboxParams;
use crate::plugin::preset::{PresetSource, apply_preset};
use crate::preset::{self, Preset};
use nice_plug::prelude::ParamSetter;
use std::path::{Path, PathBuf};

/// What the browser shows and remembers.
#[derive(Debug, Default)]
pub struct PresetBrowser {
    /// The preset last loaded or saved (shown in the top bar).
    pub current: Option<String>,
    /// The last problem, shown until the next action.
    pub error: Option<String>,
    /// The last success, shown until the next action.
    pub note: Option<String>,
    dialog: Option<FileDialog>,
    /// Name typed for "Save as" in the user folder.
    save_name: String,
}

/// The preset files in the user's folder, sorted by name.
pub fn user_presets(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|x| x.eq_ignore_ascii_case("json"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

impl PresetBrowser {
    /// Load `source` into the parameters; on error nothing changes and the error shows.
    pub fn load(
        &mut self,
        setter: &ParamSetter,
        params: &MatchboxParams,
        source: PresetSource<'_>,
    ) {
        self.note = None;
        match apply_preset(setter, params, source) {
            Ok(preset) => {
                self.current = Some(preset.name);
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Save the current sound as `path`, named after the file.
    pub fn save(&mut self, params: &MatchboxParams, path: &Path) {
        self.note = None;
        let name = path.file_stem().map_or_else(
            || "My preset".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let preset = Preset::new(
            &name,
            "Saved from the Matchbox editor.",
            params.to_settings(),
        );
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            self.error = Some(format!("{}: {e}", dir.display()));
            return;
        }
        match preset::save(path, &preset) {
            Ok(()) => {
                self.current = Some(name);
                self.error = None;
                self.note = Some(format!("saved {}", path.display()));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The top bar's preset menu.
    pub fn menu(&mut self, ui: &mut egui::Ui, setter: &ParamSetter, params: &MatchboxParams) {
        let title = self.current.clone().unwrap_or_else(|| "Presets".to_owned());
        ui.menu_button(format!("{title} …"), |ui| {
            ui.label(
                egui::RichText::new("Factory")
                    .color(theme::DIM_TEXT)
                    .small(),
            );
            for (_, preset) in preset::factory_presets() {
                let response = ui.button(&preset.name).on_hover_text(&preset.description);
                if response.clicked() {
                    self.load(setter, params, PresetSource::Factory(&preset.name));
                    ui.close();
                }
            }
            ui.separator();
            let dir = config::user_presets_dir();
            ui.label(egui::RichText::new("Yours").color(theme::DIM_TEXT).small())
                .on_hover_text(
                    dir.as_ref()
                        .map_or("no home folder".into(), |d| d.display().to_string()),
                );
            let mine = dir.as_deref().map(user_presets).unwrap_or_default();
            if mine.is_empty() {
                ui.label(
                    egui::RichText::new("(none saved yet)")
                        .color(theme::DIM_TEXT)
                        .small(),
                );
            }
            for path in mine {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if ui.button(name).clicked() {
                    self.load(setter, params, PresetSource::File(&path));
                    ui.close();
                }
            }
            ui.separator();
            ui.horizontal(|ui| {
                let label = ui.label("Save as");
                ui.add(
                    egui::TextEdit::singleline(&mut self.save_name)
                        .hint_text("name")
                        .desired_width(120.0),
                )
                .labelled_by(label.id);
                let can = dir.is_some() && !self.save_name.trim().is_empty();
                if ui
                    .add_enabled(can, egui::Button::new("Save"))
                    .on_hover_text("Save the current sound in your folder")
                    .clicked()
                    && let Some(dir) = &dir
                {
                    let path = dir.join(format!("{}.json", self.save_name.trim()));
                    self.save(params, &path);
                    self.save_name.clear();
                    ui.close();
                }
            });
            if ui.button("Load a file…").clicked() {
                self.dialog = Some(FileDialog::new(
                    "Load a preset",
                    &start_dir(dir.as_deref()),
                    &["json"],
                    false,
                ));
                ui.close();
            }
            if ui.button("Save as a file…").clicked() {
                self.dialog = Some(FileDialog::new(
                    "Save the preset as",
                    &start_dir(dir.as_deref()),
                    &["json"],
                    true,
                ));
                ui.close();
            }
        });
    }

    /// The file dialog, while one is open.
    pub fn dialogs(&mut self, ctx: &egui::Context, setter: &ParamSetter, params: &MatchboxParams) {
        let Some(dialog) = self.dialog.as_mut() else {
            return;
        };
        match dialog.show(ctx) {
            Choice::Open => {}
            Choice::Cancelled => self.dialog = None,
            Choice::Chosen(path) => {
                let saving = dialog.save;
                self.dialog = None;
                if saving {
                    let path = if path.extension().is_none() {
                        path.with_extension("json")
                    } else {
                        path
                    };
                    self.save(params, &path);
                } else {
                    self.load(setter, params, PresetSource::File(&path));
                }
            }
        }
    }

    /// The status line: the last error (red) or success.
    pub fn status(&self, ui: &mut egui::Ui) {
        if let Some(error) = &self.error {
            ui.colored_label(theme::REDUCTION, error);
        } else if let Some(note) = &self.note {
            ui.colored_label(theme::DIM_TEXT, note);
        }
    }
}

/// The folder a dialog opens in: the user's presets if it exists, else home, else here.
fn start_dir(presets: Option<&Path>) -> PathBuf {
    presets
        .filter(|d| d.is_dir())
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}
