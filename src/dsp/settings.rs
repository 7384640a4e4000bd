//! The one settings type for the whole chain, and the ranges every user of it shares.
//!
//! Presets (JSON), the plugin's host parameters, the GUI and the analysis all read and write
//! [`ChainSettings`]. Every range below is declared once, here; [`ChainSettings::validate`]
//! checks a value against the same declarations the plugin builds its parameters from.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Number of EQ bands in the chain.
pub const NUM_BANDS: usize = 8;

/// A closed numeric range with a default and a unit, declared once and shared by presets,
/// plugin parameters, GUI and analysis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f32,
    pub max: f32,
    pub default: f32,
    /// Unit as shown to people ("dB", "Hz", "ms", "%", "" for plain numbers).
    pub unit: &'static str,
}

impl Range {
    pub const fn new(min: f32, max: f32, default: f32, unit: &'static str) -> Self {
        Self {
            min,
            max,
            default,
            unit,
        }
    }

    /// `value` forced into the range (NaN becomes the default).
    pub fn clamp(&self, value: f32) -> f32 {
        if value.is_nan() {
            self.default
        } else {
            value.clamp(self.min, self.max)
        }
    }

    /// `Err` with the reason when `value` is outside the range or not a number.
    pub fn check(&self, value: f32) -> Result<(), String> {
        if !value.is_finite() {
            Err(format!(
                "{value} is not a finite number (allowed: {} to {})",
                fmt_num(self.min),
                fmt_num(self.max)
            ))
        } else if value < self.min {
            Err(format!("{} is below {}", fmt_num(value), fmt_num(self.min)))
        } else if value > self.max {
            Err(format!("{} is above {}", fmt_num(value), fmt_num(self.max)))
        } else {
            Ok(())
        }
    }
}

/// Shortest readable form of a number: `30000`, `0.5`, `-18`.
pub fn fmt_num(v: f32) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Ranges of every continuous setting. Units are in the names.
pub mod ranges {
    use super::Range;

    pub const IN_GAIN_DB: Range = Range::new(-24.0, 24.0, 0.0, "dB");
    pub const OUT_GAIN_DB: Range = Range::new(-24.0, 24.0, 0.0, "dB");

    pub const BAND_FREQ_HZ: Range = Range::new(20.0, 20_000.0, 1_000.0, "Hz");
    pub const BAND_GAIN_DB: Range = Range::new(-24.0, 24.0, 0.0, "dB");
    pub const BAND_Q: Range = Range::new(0.1, 18.0, 0.707, "");
    /// Allowed cut slopes in dB/octave (6 is one first-order section; each further 12 dB/oct
    /// is one second-order section).
    pub const CUT_SLOPES_DB_PER_OCT: [u32; 5] = [6, 12, 24, 36, 48];

    /// The allowed cut slope `steps` places steeper than `slope` (gentler when negative), if
    /// there is one.
    pub fn cut_slope_beside(slope: u32, steps: i64) -> Option<u32> {
        let k = CUT_SLOPES_DB_PER_OCT.iter().position(|s| *s == slope)?;
        let other = usize::try_from(k as i64 + steps).ok()?;
        CUT_SLOPES_DB_PER_OCT.get(other).copied()
    }

    pub const THRESHOLD_DB: Range = Range::new(-60.0, 0.0, -18.0, "dB");
    /// Finite ratios; the ratio may also be infinite (a limiter), written `"inf"` in presets.
    pub const RATIO: Range = Range::new(1.0, 20.0, 4.0, ":1");
    pub const KNEE_DB: Range = Range::new(0.0, 24.0, 6.0, "dB");
    pub const ATTACK_MS: Range = Range::new(0.05, 250.0, 10.0, "ms");
    pub const RELEASE_MS: Range = Range::new(5.0, 2500.0, 100.0, "ms");
    pub const MAKEUP_DB: Range = Range::new(-12.0, 24.0, 0.0, "dB");
    pub const SIDECHAIN_HPF_HZ: Range = Range::new(20.0, 500.0, 100.0, "Hz");
    pub const STEREO_LINK_PCT: Range = Range::new(0.0, 100.0, 100.0, "%");
    pub const MIX_PCT: Range = Range::new(0.0, 100.0, 100.0, "%");

    pub const CEILING_DB: Range = Range::new(-24.0, 0.0, -0.3, "dBFS");
}

/// The whole chain: in gain → EQ → compressor → out gain → safety ceiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSettings {
    /// Gain before the EQ, dB.
    pub input_gain_db: f32,
    pub eq: EqSettings,
    pub compressor: CompressorSettings,
    /// Gain after the compressor, dB.
    pub output_gain_db: f32,
    pub ceiling: CeilingSettings,
}

/// The parametric EQ: [`NUM_BANDS`] bands, processed in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqSettings {
    /// Up to [`NUM_BANDS`] bands in a preset; missing ones are off.
    #[serde(with = "bands_serde")]
    pub bands: [EqBandSettings; NUM_BANDS],
}

/// The shape of one EQ band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// Peaking filter: `gain_db` at `freq_hz`, width set by `q`.
    Bell,
    /// Shelf below `freq_hz` (half the gain in dB at `freq_hz`).
    LowShelf,
    /// Shelf above `freq_hz`.
    HighShelf,
    /// High-pass; `slope_db_per_oct` of 6…48, `q` the resonance of the last section
    /// (unused at 6 dB/oct).
    LowCut,
    /// Low-pass; `slope_db_per_oct` of 6…48.
    HighCut,
    /// Band reject at `freq_hz`; `gain_db` unused.
    Notch,
    /// Band pass, 0 dB at `freq_hz`; `gain_db` unused.
    BandPass,
    /// Tilt around `freq_hz`: −gain/2 dB far below, +gain/2 dB far above.
    Tilt,
}

impl FilterKind {
    pub const ALL: [FilterKind; 8] = [
        FilterKind::Bell,
        FilterKind::LowShelf,
        FilterKind::HighShelf,
        FilterKind::LowCut,
        FilterKind::HighCut,
        FilterKind::Notch,
        FilterKind::BandPass,
        FilterKind::Tilt,
    ];

    /// Whether `gain_db` affects this kind.
    pub fn uses_gain(self) -> bool {
        matches!(
            self,
            FilterKind::Bell | FilterKind::LowShelf | FilterKind::HighShelf | FilterKind::Tilt
        )
    }

    /// Whether `slope_db_per_oct` affects this kind.
    pub fn uses_slope(self) -> bool {
        matches!(self, FilterKind::LowCut | FilterKind::HighCut)
    }

    /// Whether `q` shapes a band of this kind at `slope_db_per_oct`: every kind but a
    /// first-order (6 dB/oct) cut.
    pub fn uses_q(self, slope_db_per_oct: u32) -> bool {
        !(self.uses_slope() && slope_db_per_oct < 12)
    }

    /// Name as written in presets.
    pub fn name(self) -> &'static str {
        match self {
            FilterKind::Bell => "bell",
            FilterKind::LowShelf => "low_shelf",
            FilterKind::HighShelf => "high_shelf",
            FilterKind::LowCut => "low_cut",
            FilterKind::HighCut => "high_cut",
            FilterKind::Notch => "notch",
            FilterKind::BandPass => "band_pass",
            FilterKind::Tilt => "tilt",
        }
    }
}

/// One EQ band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqBandSettings {
    pub enabled: bool,
    #[serde(rename = "type")]
    pub kind: FilterKind,
    /// Centre / corner frequency, Hz (20…20 000; kept below Nyquist at run time).
    pub freq_hz: f32,
    /// Gain, dB (−24…+24); bells, shelves and tilt only.
    pub gain_db: f32,
    /// Quality factor (0.1…18).
    pub q: f32,
    /// Cut slope, dB/octave: 6, 12, 24, 36 or 48; cuts only.
    pub slope_db_per_oct: u32,
}

impl EqBandSettings {
    /// Whether `q` shapes this band ([`FilterKind::uses_q`]).
    pub fn uses_q(&self) -> bool {
        self.kind.uses_q(self.slope_db_per_oct)
    }

    /// An enabled band (cuts at 12 dB/oct; change `slope_db_per_oct` for steeper ones).
    pub fn on(kind: FilterKind, freq_hz: f32, gain_db: f32, q: f32) -> Self {
        Self {
            enabled: true,
            kind,
            freq_hz,
            gain_db,
            q,
            slope_db_per_oct: 12,
        }
    }
}

impl Default for EqBandSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            kind: FilterKind::Bell,
            freq_hz: ranges::BAND_FREQ_HZ.default,
            gain_db: 0.0,
            q: ranges::BAND_Q.default,
            slope_db_per_oct: 12,
        }
    }
}

/// How the compressor measures level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Instantaneous |x|: catches every transient.
    Peak,
    /// Mean square over a 5 ms window ([`crate::dsp::compressor::RMS_WINDOW_MS`]).
    Rms,
}

/// The feed-forward compressor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorSettings {
    pub enabled: bool,
    /// Threshold, dBFS (−60…0).
    pub threshold_db: f32,
    /// Ratio (1…20, or infinite: written `"inf"`).
    #[serde(with = "ratio_serde")]
    pub ratio: f32,
    /// Soft-knee width, dB (0…24).
    pub knee_db: f32,
    /// Attack: time to 63 % of a step's final gain change in dB, ms (0.05…250).
    pub attack_ms: f32,
    /// Release: time to 63 % of the recovery in dB, ms (5…2500).
    pub release_ms: f32,
    /// Make-up gain, dB (−12…+24), added to the automatic make-up when that is on.
    pub makeup_db: f32,
    /// Compensate the static gain reduction at −10 dBFS ([`crate::dsp::compressor::AUTO_MAKEUP_REF_DB`]).
    pub auto_makeup: bool,
    pub detector: Detector,
    /// High-pass the detector signal so sub-bass does not pump the voice.
    pub sidechain_hpf: bool,
    /// Sidechain high-pass corner, Hz (20…500).
    pub sidechain_hpf_hz: f32,
    /// Stereo link, % (0 = channels independent, 100 = one gain for both).
    pub stereo_link_pct: f32,
    /// Dry/wet mix, % (100 = fully compressed).
    pub mix_pct: f32,
}

impl Default for CompressorSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            threshold_db: ranges::THRESHOLD_DB.default,
            ratio: ranges::RATIO.default,
            knee_db: ranges::KNEE_DB.default,
            attack_ms: ranges::ATTACK_MS.default,
            release_ms: ranges::RELEASE_MS.default,
            makeup_db: 0.0,
            auto_makeup: false,
            detector: Detector::Peak,
            sidechain_hpf: false,
            sidechain_hpf_hz: ranges::SIDECHAIN_HPF_HZ.default,
            stereo_link_pct: ranges::STEREO_LINK_PCT.default,
            mix_pct: ranges::MIX_PCT.default,
        }
    }
}

/// The zero-latency safety ceiling at the end of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeilingSettings {
    pub enabled: bool,
    /// No output sample exceeds this level, dBFS (−24…0).
    pub ceiling_db: f32,
}

impl CeilingSettings {
    /// The linear amplitude no output sample exceeds while enabled, the level clamped into
    /// [`ranges::CEILING_DB`]: what [`super::ceiling::Ceiling`] holds the output to.
    pub fn level(&self) -> f32 {
        super::db_to_gain(ranges::CEILING_DB.clamp(self.ceiling_db) as f64) as f32
    }
}

impl Default for CeilingSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ceiling_db: ranges::CEILING_DB.default,
        }
    }
}

impl Default for EqSettings {
    fn default() -> Self {
        Self {
            bands: [EqBandSettings::default(); NUM_BANDS],
        }
    }
}

impl Default for ChainSettings {
    /// The neutral chain: everything off but the safety ceiling.
    fn default() -> Self {
        Self {
            input_gain_db: 0.0,
            eq: EqSettings::default(),
            compressor: CompressorSettings::default(),
            output_gain_db: 0.0,
            ceiling: CeilingSettings::default(),
        }
    }
}

/// A setting outside what is allowed: the field's path, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Path of the field, e.g. `eq.bands[3].freq_hz`.
    pub path: String,
    /// What is wrong, naming the bad value and the allowed range.
    pub problem: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for FieldError {}

impl ChainSettings {
    /// Every field checked against its declared range. Returns all problems, in field order.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut check = |path: String, range: &Range, value: f32| {
            if let Err(problem) = range.check(value) {
                errors.push(FieldError { path, problem });
            }
        };
        check(
            "input_gain_db".into(),
            &ranges::IN_GAIN_DB,
            self.input_gain_db,
        );
        for (i, band) in self.eq.bands.iter().enumerate() {
            let p = format!("eq.bands[{i}]");
            check(format!("{p}.freq_hz"), &ranges::BAND_FREQ_HZ, band.freq_hz);
            check(format!("{p}.gain_db"), &ranges::BAND_GAIN_DB, band.gain_db);
            check(format!("{p}.q"), &ranges::BAND_Q, band.q);
        }
        let c = &self.compressor;
        check(
            "compressor.threshold_db".into(),
            &ranges::THRESHOLD_DB,
            c.threshold_db,
        );
        if c.ratio != f32::INFINITY {
            check("compressor.ratio".into(), &ranges::RATIO, c.ratio);
        }
        check("compressor.knee_db".into(), &ranges::KNEE_DB, c.knee_db);
        check(
            "compressor.attack_ms".into(),
            &ranges::ATTACK_MS,
            c.attack_ms,
        );
        check(
            "compressor.release_ms".into(),
            &ranges::RELEASE_MS,
            c.release_ms,
        );
        check(
            "compressor.makeup_db".into(),
            &ranges::MAKEUP_DB,
            c.makeup_db,
        );
        check(
            "compressor.sidechain_hpf_hz".into(),
            &ranges::SIDECHAIN_HPF_HZ,
            c.sidechain_hpf_hz,
        );
        check(
            "compressor.stereo_link_pct".into(),
            &ranges::STEREO_LINK_PCT,
            c.stereo_link_pct,
        );
        check("compressor.mix_pct".into(), &ranges::MIX_PCT, c.mix_pct);
        check(
            "output_gain_db".into(),
            &ranges::OUT_GAIN_DB,
            self.output_gain_db,
        );
        check(
            "ceiling.ceiling_db".into(),
            &ranges::CEILING_DB,
            self.ceiling.ceiling_db,
        );
        for (i, band) in self.eq.bands.iter().enumerate() {
            if !ranges::CUT_SLOPES_DB_PER_OCT.contains(&band.slope_db_per_oct) {
                errors.push(FieldError {
                    path: format!("eq.bands[{i}].slope_db_per_oct"),
                    problem: format!(
                        "{} is not an allowed slope (allowed: {})",
                        band.slope_db_per_oct,
                        ranges::CUT_SLOPES_DB_PER_OCT
                            .map(|s| s.to_string())
                            .join(", ")
                    ),
                });
            }
        }
        errors
    }

    /// The same settings with every value forced into its range (for hosts and analysis that
    /// must always produce something valid).
    pub fn clamped(&self) -> ChainSettings {
        let mut s = self.clone();
        s.input_gain_db = ranges::IN_GAIN_DB.clamp(s.input_gain_db);
        s.output_gain_db = ranges::OUT_GAIN_DB.clamp(s.output_gain_db);
        for b in &mut s.eq.bands {
            b.freq_hz = ranges::BAND_FREQ_HZ.clamp(b.freq_hz);
            b.gain_db = ranges::BAND_GAIN_DB.clamp(b.gain_db);
            b.q = ranges::BAND_Q.clamp(b.q);
            if !ranges::CUT_SLOPES_DB_PER_OCT.contains(&b.slope_db_per_oct) {
                b.slope_db_per_oct = 12;
            }
        }
        let c = &mut s.compressor;
        c.threshold_db = ranges::THRESHOLD_DB.clamp(c.threshold_db);
        if c.ratio != f32::INFINITY {
            c.ratio = ranges::RATIO.clamp(c.ratio);
        }
        c.knee_db = ranges::KNEE_DB.clamp(c.knee_db);
        c.attack_ms = ranges::ATTACK_MS.clamp(c.attack_ms);
        c.release_ms = ranges::RELEASE_MS.clamp(c.release_ms);
        c.makeup_db = ranges::MAKEUP_DB.clamp(c.makeup_db);
        c.sidechain_hpf_hz = ranges::SIDECHAIN_HPF_HZ.clamp(c.sidechain_hpf_hz);
        c.stereo_link_pct = ranges::STEREO_LINK_PCT.clamp(c.stereo_link_pct);
        c.mix_pct = ranges::MIX_PCT.clamp(c.mix_pct);
        s.ceiling.ceiling_db = ranges::CEILING_DB.clamp(s.ceiling.ceiling_db);
        s
    }
}

/// Presets may list fewer than [`NUM_BANDS`] bands; the rest are off.
mod bands_serde {
    use super::{EqBandSettings, NUM_BANDS};
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        bands: &[EqBandSettings; NUM_BANDS],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        bands.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[EqBandSettings; NUM_BANDS], D::Error> {
        let list = Vec::<EqBandSettings>::deserialize(d)?;
        if list.len() > NUM_BANDS {
            return Err(D::Error::custom(format!(
                "{} bands given, at most {NUM_BANDS} are allowed",
                list.len()
            )));
        }
        let mut bands = [EqBandSettings::default(); NUM_BANDS];
        bands[..list.len()].copy_from_slice(&list);
        Ok(bands)
    }
}

/// A ratio is a number, or the string `"inf"` for an infinite ratio (JSON has no infinity).
mod ratio_serde {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ratio: &f32, s: S) -> Result<S::Ok, S::Error> {
        if ratio.is_infinite() {
            s.serialize_str("inf")
        } else {
            s.serialize_f32(*ratio)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ratio {
        Number(f64),
        Word(String),
    }

    /// `"inf"` is the only way to an infinite ratio: a number too large for an `f32` (`1e39`)
    /// would otherwise round to infinity and pass as a limiter.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        match Ratio::deserialize(d)? {
            Ratio::Number(r) if (r as f32).is_finite() => Ok(r as f32),
            Ratio::Number(r) => Err(D::Error::custom(format!(
                "ratio {r:e} is out of range; use 1 to 20, or \"inf\""
            ))),
            Ratio::Word(w) if w == "inf" => Ok(f32::INFINITY),
            Ratio::Word(w) => Err(D::Error::custom(format!(
                "ratio \"{w}\" is not a number; use 1 to 20, or \"inf\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_are_valid_and_round_trip() {
        let s = ChainSettings::default();
        assert!(s.validate().is_empty());
        let json = serde_json::to_string(&s).unwrap();
        let back: ChainSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_cut_slope_steps_to_its_neighbours_and_no_further() {
        use ranges::cut_slope_beside;
        assert_eq!(cut_slope_beside(12, 1), Some(24));
        assert_eq!(cut_slope_beside(12, -1), Some(6));
        assert_eq!(cut_slope_beside(6, 2), Some(24));
        assert_eq!(cut_slope_beside(6, -1), None);
        assert_eq!(cut_slope_beside(48, 1), None);
        assert_eq!(cut_slope_beside(18, 1), None, "not an allowed slope");
    }

    #[test]
    fn infinite_ratio_round_trips_as_inf() {
        let mut s = ChainSettings::default();
        s.compressor.ratio = f32::INFINITY;
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""ratio":"inf""#), "{json}");
        let back: ChainSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.compressor.ratio, f32::INFINITY);
        assert!(back.validate().is_empty());
    }

    #[test]
    fn validation_names_field_value_and_limit() {
        let mut s = ChainSettings::default();
        s.eq.bands[3].freq_hz = 30_000.0;
        s.compressor.attack_ms = 0.0;
        s.eq.bands[1].slope_db_per_oct = 18;
        let errors: Vec<String> = s.validate().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            errors,
            [
                "eq.bands[3].freq_hz: 30000 is above 20000",
                "compressor.attack_ms: 0 is below 0.05",
                "eq.bands[1].slope_db_per_oct: 18 is not an allowed slope (allowed: 6, 12, 24, 36, 48)",
            ]
        );
        assert!(s.clamped().validate().is_empty());
    }

    #[test]
    fn nan_is_rejected_and_clamped_to_default() {
        let mut s = ChainSettings::default();
        s.output_gain_db = f32::NAN;
        assert_eq!(s.validate().len(), 1);
        assert_eq!(s.clamped().output_gain_db, ranges::OUT_GAIN_DB.default);
    }
}
