//! Where the editor keeps things: the user's presets (the platform's data folder,
//! `~/.local/share/matchbox/presets` on Linux) and the window size it last had
//! (`~/.config/matchbox/editor.json`), so it opens as the user left it.

use std::path::PathBuf;

/// The editor's size when nothing is remembered, logical pixels.
pub const DEFAULT_SIZE: (u32, u32) = (1180, 780);
/// The smallest size it accepts, logical pixels.
pub const MIN_SIZE: (u32, u32) = (860, 600);

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// `$XDG_DATA_HOME/matchbox`, else `~/.local/share/matchbox`.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local/share")))
        .map(|d| d.join("matchbox"))
}

/// The user's preset folder.
pub fn user_presets_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("presets"))
}

/// `$XDG_CONFIG_HOME/matchbox/editor.json`, else `~/.config/matchbox/editor.json`.
fn size_file() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
        .map(|d| d.join("matchbox/editor.json"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    width: u32,
    height: u32,
}

/// The size to open at: the remembered one (at least [`MIN_SIZE`]), else [`DEFAULT_SIZE`].
pub fn load_size() -> (u32, u32) {
    let remembered = size_file()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| serde_json::from_str::<Remembered>(&text).ok());
    match remembered {
        Some(r) if r.width < 10_000 && r.height < 10_000 => {
            (r.width.max(MIN_SIZE.0), r.height.max(MIN_SIZE.1))
        }
        _ => DEFAULT_SIZE,
    }
}

/// Remember `size` for next time (quietly: a read-only home only loses the convenience).
pub fn save_size(size: (u32, u32)) {
    let Some(file) = size_file() else { return };
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let text = serde_json::to_string(&Remembered {
        width: size.0,
        height: size.1,
    });
    if let Ok(text) = text {
        let _ = crate::files::write_atomically(&file, text.as_bytes());
    }
}
