//! The user's own presets: one folder of JSON files in the platform's data folder
//! (`~/.local/share/matchbox/presets` on Linux), where the editor saves and from which the
//! editor and the live monitor's remote page offer them.

use std::path::{Path, PathBuf};

/// `$XDG_DATA_HOME/matchbox`, else `~/.local/share/matchbox`.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("matchbox"))
}

/// The user's preset folder.
pub fn user_presets_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("presets"))
}

/// The preset files in `dir`, sorted by name (none when it cannot be read).
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
