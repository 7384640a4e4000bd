//! Matchbox: an EQ + compressor for beatbox and voice that learns its settings from a
//! reference recording. `dsp` is the pure core; `preset` the file format; `plugin` the
//! CLAP/VST3 plugin; `live` the standalone live monitor around it; `cli` the `matchbox`
//! command.

pub mod analysis;
pub mod audio_io;
pub mod cli;
pub mod dsp;
#[cfg(feature = "gui")]
pub mod editor;
pub mod files;
#[cfg(feature = "standalone")]
pub mod live;
pub mod plugin;
pub mod preset;
pub mod report;
pub mod text;

nice_plug::nice_export_clap!(plugin::Matchbox);
nice_plug::nice_export_vst3!(plugin::Matchbox);
