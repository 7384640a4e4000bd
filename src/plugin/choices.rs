//! The parameters that pick one of a few choices: filter type, cut slope, detector. Each
//! variant's ID is what presets and saved states write, so it never changes.

use crate::dsp::{Detector, EqBandSettings, FilterKind, ranges};
use nice_plug::prelude::*;

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

impl From<BandKind> for FilterKind {
    fn from(kind: BandKind) -> Self {
        FilterKind::ALL[kind.to_index()]
    }
}

impl From<FilterKind> for BandKind {
    fn from(kind: FilterKind) -> Self {
        let index = FilterKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        BandKind::from_index(index)
    }
}

/// Cut slope as a host choice; order and IDs follow [`ranges::CUT_SLOPES_DB_PER_OCT`].
/// Saved states store the ID (nice-plug writes an enum with IDs as its ID string), so the
/// 6 dB/oct choice, added first, leaves earlier states meaning what they meant.
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
        ranges::CUT_SLOPES_DB_PER_OCT[self.to_index()]
    }

    /// The choice for `db_per_oct`; slopes that are not allowed become the default (12).
    pub fn from_db_per_oct(db_per_oct: u32) -> Self {
        let position = |db: u32| ranges::CUT_SLOPES_DB_PER_OCT.iter().position(|s| *s == db);
        let fallback = EqBandSettings::default().slope_db_per_oct;
        Slope::from_index(position(db_per_oct).or(position(fallback)).unwrap_or(0))
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

impl From<DetectorKind> for Detector {
    fn from(kind: DetectorKind) -> Self {
        match kind {
            DetectorKind::Peak => Detector::Peak,
            DetectorKind::Rms => Detector::Rms,
        }
    }
}

impl From<Detector> for DetectorKind {
    fn from(detector: Detector) -> Self {
        match detector {
            Detector::Peak => DetectorKind::Peak,
            Detector::Rms => DetectorKind::Rms,
        }
    }
}
