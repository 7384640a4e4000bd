//! A file chooser drawn by egui itself, so it works under any X server, with no desktop portal
//! or toolkit: a folder's entries (folders first), the parent, a path to type, a filter by
//! extension.

use super::theme;
use std::path::{Path, PathBuf};

/// What the chooser is for.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDialog {
    pub title: String,
    /// Extensions shown (lower case, no dot); empty shows every file.
    pub extensions: Vec<String>,
    /// Saving: the user names a file (which need not exist).
    pub save: bool,
    pub dir: PathBuf,
    /// The file name typed or clicked.
    pub name: String,
    entries: Vec<Entry>,
    error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    name: String,
    is_dir: bool,
}

/// How a frame of the dialog ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Open,
    Chosen(PathBuf),
    Cancelled,
}

impl FileDialog {
    pub fn new(title: &str, dir: &Path, extensions: &[&str], save: bool) -> FileDialog {
        let mut dialog = FileDialog {
            title: title.to_owned(),
            extensions: extensions.iter().map(|e| e.to_string()).collect(),
            save,
            dir: dir.to_path_buf(),
            name: String::new(),
            entries: Vec::new(),
            error: None,
        };
        dialog.enter(dir.to_path_buf());
        dialog
    }

    /// Show the folder `dir` (an unreadable one says why and keeps the current).
    pub fn enter(&mut self, dir: PathBuf) {
        match list(&dir, &self.extensions) {
            Ok(entries) => {
                self.entries = entries;
                self.dir = dir;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{}: {e}", dir.display())),
        }
    }

    /// The chosen path, if the name is set.
    pub fn chosen(&self) -> Option<PathBuf> {
        let name = self.name.trim();
        (!name.is_empty()).then(|| {
            let typed = Path::new(name);
            if typed.is_absolute() {
                typed.to_path_buf()
            } else {
                self.dir.join(typed)
            }
        })
    }

    /// Draw the dialog as a window; report what the user did.
    pub fn show(&mut self, ctx: &egui::Context) -> Choice {
        let mut choice = Choice::Open;
        let mut open = true;
        egui::Window::new(self.title.clone())
            .open(&mut open)
            .collapsible(false)
            .default_size(egui::vec2(520.0, 420.0))
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    if ui.button("Up").on_hover_text("The folder above").clicked()
                        && let Some(parent) = self.dir.parent()
                    {
                        self.enter(parent.to_path_buf());
                    }
                    if ui.button("Home").clicked()
                        && let Some(home) = std::env::var_os("HOME")
                    {
                        self.enter(PathBuf::from(home));
                    }
                    ui.label(
                        egui::RichText::new(self.dir.display().to_string()).color(theme::DIM_TEXT),
                    );
                });
                if let Some(error) = &self.error {
                    ui.colored_label(theme::REDUCTION, error);
                }
                let mut enter: Option<PathBuf> = None;
                egui::ScrollArea::vertical()
                    .max_height(280.0)
                    .show(ui, |ui| {
                        for entry in &self.entries {
                            let label = if entry.is_dir {
                                format!("{}/", entry.name)
                            } else {
                                entry.name.clone()
                            };
                            let selected = !entry.is_dir && self.name == entry.name;
                            let response = ui.selectable_label(selected, label);
                            if response.clicked() {
                                if entry.is_dir {
                                    enter = Some(self.dir.join(&entry.name));
                                } else {
                                    self.name = entry.name.clone();
                                }
                            }
                            if response.double_clicked() && !entry.is_dir {
                                choice = Choice::Chosen(self.dir.join(&entry.name));
                            }
                        }
                        if self.entries.is_empty() {
                            ui.label(
                                egui::RichText::new("(nothing here to choose)")
                                    .color(theme::DIM_TEXT),
                            );
                        }
                    });
                if let Some(dir) = enter {
                    self.enter(dir);
                }
                ui.separator();
                ui.horizontal(|ui| {
                    let label = ui.label(if self.save { "Save as" } else { "File" });
                    ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(300.0))
                        .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let verb = if self.save { "Save" } else { "Open" };
                    if ui
                        .add_enabled(self.chosen().is_some(), egui::Button::new(verb))
                        .clicked()
                        && let Some(path) = self.chosen()
                    {
                        if path.is_dir() {
                            self.enter(path);
                            self.name.clear();
                        } else {
                            choice = Choice::Chosen(path);
                        }
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Choice::Cancelled;
                    }
                });
            });
        if !open {
            choice = Choice::Cancelled;
        }
        choice
    }
}

/// The folders and the files with one of `extensions` in `dir`, folders first, each sorted,
/// hidden ones left out.
fn list(dir: &Path, extensions: &[String]) -> std::io::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let is_dir = e.path().is_dir();
            let wanted = is_dir
                || extensions.is_empty()
                || Path::new(&name)
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| extensions.iter().any(|e| e.eq_ignore_ascii_case(x)));
            wanted.then_some(Entry { name, is_dir })
        })
        .collect();
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_come_first_and_only_wanted_files_show() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.wav", "A.WAV", "notes.txt", ".hidden.wav"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("takes")).unwrap();
        let dialog = FileDialog::new("Open", dir.path(), &["wav", "flac"], false);
        let names: Vec<&str> = dialog.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["takes", "A.WAV", "b.wav"]);
        let mut dialog = dialog;
        dialog.name = "b.wav".into();
        assert_eq!(dialog.chosen(), Some(dir.path().join("b.wav")));
        dialog.enter(dir.path().join("missing"));
        assert!(dialog.error.as_deref().unwrap().contains("missing"));
        assert_eq!(dialog.dir, dir.path());
    }
}
