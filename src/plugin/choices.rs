//! The parameters that pick one of a few choices: filter type, cut slope, detector. Each
//! variant's ID is what saved states write, so it never changes; each maps to its setting by
//! name (a `match` per direction), never by position, so reordering either enum changes
//! nothing that is saved.

use crate::dsp::{Detector, EqBandSettings, FilterKind};
use nice_plug::prelude::*;
use serde::Serialize;

/// A host choice that stands for a settings value.
pub trait Choice: Enum + PartialEq + Copy + Send + Sync + 'static {
    /// The value in [`crate::dsp::ChainSettings`] (written to presets with serde).
    type Setting: Copy + Serialize;
    /// The setting this choice stands for.
    fn setting(self) -> Self::Setting;
    /// The choice for `setting`.
    fn for_setting(setting: Self::Setting) -> Self;
}

/// [`FilterKind`] as a host choice. The IDs are the preset names, so they never change.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandKind {
    #[id = "bell"]
    Bell,
    #[id = "low_shelf"]
    #[name = "Low Shelf"]
    LowShelf,
    #[id = "high_shelf"]
    #[name = "High Shelf"]
    HighShelf,
    #[id = "low_cut"]
    #[name = "Low Cut"]
    LowCut,
    #[id = "high_cut"]
    #[name = "High Cut"]
    HighCut,
    #[id = "notch"]
    Notch,
    #[id = "band_pass"]
    #[name = "Band Pass"]
    BandPass,
    #[id = "tilt"]
    Tilt,
}

impl Choice for BandKind {
    type Setting = FilterKind;

    fn setting(self) -> FilterKind {
        match self {
            BandKind::Bell => FilterKind::Bell,
            BandKind::LowShelf => FilterKind::LowShelf,
            BandKind::HighShelf => FilterKind::HighShelf,
            BandKind::LowCut => FilterKind::LowCut,
            BandKind::HighCut => FilterKind::HighCut,
            BandKind::Notch => FilterKind::Notch,
            BandKind::BandPass => FilterKind::BandPass,
            BandKind::Tilt => FilterKind::Tilt,
        }
    }

    fn for_setting(kind: FilterKind) -> Self {
        match kind {
            FilterKind::Bell => BandKind::Bell,
            FilterKind::LowShelf => BandKind::LowShelf,
            FilterKind::HighShelf => BandKind::HighShelf,
            FilterKind::LowCut => BandKind::LowCut,
            FilterKind::HighCut => BandKind::HighCut,
            FilterKind::Notch => BandKind::Notch,
            FilterKind::BandPass => BandKind::BandPass,
            FilterKind::Tilt => BandKind::Tilt,
        }
    }
}

/// Cut slope as a host choice. Saved states store the ID (nice-plug writes an enum with IDs
/// as its ID string), so the 6 dB/oct choice, added first, leaves earlier states meaning what
/// they meant.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slope {
    #[id = "6"]
    #[name = "6 dB/oct"]
    Db6,
    #[id = "12"]
    #[name = "12 dB/oct"]
    Db12,
    #[id = "24"]
    #[name = "24 dB/oct"]
    Db24,
    #[id = "36"]
    #[name = "36 dB/oct"]
    Db36,
    #[id = "48"]
    #[name = "48 dB/oct"]
    Db48,
}

impl Slope {
    /// The slope, dB/octave.
    pub fn db_per_oct(self) -> u32 {
        match self {
            Slope::Db6 => 6,
            Slope::Db12 => 12,
            Slope::Db24 => 24,
            Slope::Db36 => 36,
            Slope::Db48 => 48,
        }
    }

    /// The choice for `db_per_oct`; slopes that are not allowed become the default (12).
    pub fn from_db_per_oct(db_per_oct: u32) -> Self {
        match db_per_oct {
            6 => Slope::Db6,
            12 => Slope::Db12,
            24 => Slope::Db24,
            36 => Slope::Db36,
            48 => Slope::Db48,
            _ => Slope::from_db_per_oct(EqBandSettings::default().slope_db_per_oct),
        }
    }
}

impl Choice for Slope {
    type Setting = u32;

    fn setting(self) -> u32 {
        self.db_per_oct()
    }

    fn for_setting(db_per_oct: u32) -> Self {
        Slope::from_db_per_oct(db_per_oct)
    }
}

/// [`Detector`] as a host choice.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorKind {
    #[id = "peak"]
    Peak,
    #[id = "rms"]
    #[name = "RMS"]
    Rms,
}

impl Choice for DetectorKind {
    type Setting = Detector;

    fn setting(self) -> Detector {
        match self {
            DetectorKind::Peak => Detector::Peak,
            DetectorKind::Rms => Detector::Rms,
        }
    }

    fn for_setting(detector: Detector) -> Self {
        match detector {
            Detector::Peak => DetectorKind::Peak,
            Detector::Rms => DetectorKind::Rms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::ranges;

    /// Every variant's ID is the name its setting has in presets, and the mapping goes both
    /// ways, so nothing depends on the order of either enum.
    fn ids_are_setting_names<C: Choice>(
        all_settings: &[C::Setting],
        to_id: impl Fn(C::Setting) -> String,
    ) where
        C::Setting: PartialEq + std::fmt::Debug,
    {
        let ids = C::ids().expect("every choice has stable IDs");
        assert_eq!(ids.len(), all_settings.len());
        for &setting in all_settings {
            let choice = C::for_setting(setting);
            assert_eq!(choice.setting(), setting);
            assert_eq!(ids[choice.to_index()], to_id(setting), "{setting:?}");
        }
    }

    #[test]
    fn choices_map_to_settings_by_name() {
        ids_are_setting_names::<BandKind>(&FilterKind::ALL, |k| k.name().to_owned());
        ids_are_setting_names::<Slope>(&ranges::CUT_SLOPES_DB_PER_OCT, |s| s.to_string());
        ids_are_setting_names::<DetectorKind>(&[Detector::Peak, Detector::Rms], |d| {
            serde_json::to_value(d)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        });
        assert_eq!(Slope::from_db_per_oct(18), Slope::Db12);
    }
}
