//! Factory presets: the JSON files in `presets/`, embedded in the binary.
//!
//! A file's name is the slug of its preset's name (`Beatbox Punch` → `beatbox-punch.json`);
//! a test checks that this list and the directory agree and that every file loads.

use super::error::PresetError;
use super::schema::Preset;

/// One embedded factory preset file.
#[derive(Debug, Clone, Copy)]
pub struct FactoryFile {
    /// File name in `presets/`.
    pub file_name: &'static str,
    /// The file's text, as shipped.
    pub json: &'static str,
}

macro_rules! factory {
    ($($file:literal),* $(,)?) => {
        &[$(FactoryFile { file_name: $file, json: include_str!(concat!("../../presets/", $file)) }),*]
    };
}

/// Every factory preset, in listing order.
pub const FACTORY: &[FactoryFile] = factory![
    "flat.json",
    "beatbox-punch.json",
    "beatbox-sub.json",
    "vocal-warm.json",
    "vocal-presence.json",
    "telephone.json",
    "broadcast.json",
    "gentle-leveler.json",
    "live-safety-limiter.json",
];

impl FactoryFile {
    /// The parsed preset. Every embedded file is checked by the test suite, so a failure here
    /// is a build that skipped its tests.
    pub fn preset(&self) -> Preset {
        super::parse(self.file_name, self.json)
            .unwrap_or_else(|e| panic!("factory preset does not load: {e}"))
    }
}

/// Lower-case words joined by `-`: `"Beatbox Punch"` → `"beatbox-punch"`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('-');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Every factory preset, parsed, in listing order.
pub fn factory_presets() -> Vec<(FactoryFile, Preset)> {
    FACTORY.iter().map(|f| (*f, f.preset())).collect()
}

/// The factory presets' names, in listing order.
pub fn factory_names() -> Vec<String> {
    FACTORY.iter().map(|f| f.preset().name).collect()
}

/// The factory preset called `query`: its name in any case, or its slug (`beatbox-punch`).
pub fn find_factory(query: &str) -> Result<(FactoryFile, Preset), PresetError> {
    let wanted = slug(query);
    factory_presets()
        .into_iter()
        .find(|(_, preset)| !wanted.is_empty() && slug(&preset.name) == wanted)
        .ok_or_else(|| PresetError::UnknownFactory {
            name: query.to_owned(),
            available: factory_names(),
        })
}
