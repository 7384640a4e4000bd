//! The host parameters: one per field of [`ChainSettings`], built from the shared ranges in
//! [`crate::dsp::ranges`] and the defaults of [`ChainSettings::default`].
//!
//! Parameter IDs are stable forever (they key saved projects and automation); renaming a field
//! is fine, changing an ID needs a migration in [`super::state`]. Nested band IDs get nice-plug's
//! `_1` … `_8` suffix, so every ID here stays within nice-plug's 6 characters.

pub use super::choices::{BandKind, DetectorKind, Slope};
use super::format;
use crate::dsp::{ChainSettings, NUM_BANDS, Range, ranges, settings::CompressorSettings};
use nice_plug::prelude::*;
use std::sync::atomic::AtomicU32;

/// Plain ratio values above [`ranges::RATIO`]'s maximum mean an infinite ratio (a limiter):
/// the top of the ratio parameter, shown as "∞:1".
pub const RATIO_INFINITE_PLAIN: f32 = ranges::RATIO.max + 1.0;

/// All of Matchbox's host parameters.
#[derive(Params)]
pub struct MatchboxParams {
    /// Layout version of the saved state; see [`super::state::STATE_VERSION`].
    #[persist = "stver"]
    pub state_version: AtomicU32,

    #[id = "ingain"]
    pub input_gain_db: FloatParam,

    #[nested(array, group = "Band")]
    pub bands: [BandParams; NUM_BANDS],

    #[nested(group = "Compressor")]
    pub compressor: CompressorParams,

    #[id = "outgn"]
    pub output_gain_db: FloatParam,

    #[id = "ceil"]
    pub ceiling_enabled: BoolParam,
    #[id = "ceildb"]
    pub ceiling_db: FloatParam,

    /// The host's bypass switch: the chain cross-fades to its input (click-free). Not part of
    /// [`ChainSettings`]: a preset never turns it on or off.
    #[id = "bypass"]
    pub bypass: BoolParam,

    /// Holds the audio thread on the old settings while a preset's values arrive.
    pub preset_gate: super::preset::PresetGate,
}

/// One EQ band. IDs are suffixed with the band number by `#[nested(array)]` (`freq_3`).
#[derive(Params)]
pub struct BandParams {
    #[id = "on"]
    pub enabled: BoolParam,
    #[id = "type"]
    pub kind: EnumParam<BandKind>,
    #[id = "freq"]
    pub freq_hz: FloatParam,
    #[id = "gain"]
    pub gain_db: FloatParam,
    #[id = "q"]
    pub q: FloatParam,
    #[id = "slp"]
    pub slope: EnumParam<Slope>,
}

/// The compressor section.
#[derive(Params)]
pub struct CompressorParams {
    #[id = "comp"]
    pub enabled: BoolParam,
    #[id = "thresh"]
    pub threshold_db: FloatParam,
    /// 1…20, and ∞ at the top ([`RATIO_INFINITE_PLAIN`]).
    #[id = "ratio"]
    pub ratio: FloatParam,
    #[id = "knee"]
    pub knee_db: FloatParam,
    #[id = "attack"]
    pub attack_ms: FloatParam,
    #[id = "releas"]
    pub release_ms: FloatParam,
    #[id = "makeup"]
    pub makeup_db: FloatParam,
    #[id = "automk"]
    pub auto_makeup: BoolParam,
    #[id = "detect"]
    pub detector: EnumParam<DetectorKind>,
    #[id = "schpf"]
    pub sidechain_hpf: BoolParam,
    #[id = "schz"]
    pub sidechain_hpf_hz: FloatParam,
    #[id = "link"]
    pub stereo_link_pct: FloatParam,
    #[id = "mix"]
    pub mix_pct: FloatParam,
}

/// How a float parameter spreads its range over the knob.
#[derive(Clone, Copy)]
enum Taper {
    Linear,
    /// Even spacing of octaves / decades (frequencies, times, Q).
    Log,
}

fn float_range(range: &Range, taper: Taper) -> FloatRange {
    match taper {
        Taper::Linear => FloatRange::Linear {
            min: range.min,
            max: range.max,
        },
        Taper::Log => FloatRange::Skewed {
            min: range.min,
            max: range.max,
            factor: format::log_skew(range.min, range.max),
        },
    }
}

/// A gain-type parameter in dB: linear in dB, "-18.0 dB".
fn db_param(name: String, default: f32, range: &Range) -> FloatParam {
    FloatParam::new(name, default, float_range(range, Taper::Linear))
        .with_unit(format::unit_suffix(range.unit))
        .with_value_to_string(format::db_to_text())
        .with_string_to_value(format::db_from_text())
}

/// A frequency parameter: logarithmic, "3.20 kHz" (the text carries the unit).
fn hz_param(name: String, default: f32, range: &Range) -> FloatParam {
    FloatParam::new(name, default, float_range(range, Taper::Log))
        .with_value_to_string(format::hz_to_text())
        .with_string_to_value(format::hz_from_text())
}

/// A time parameter: logarithmic, "12 ms".
fn ms_param(name: &str, default: f32, range: &Range) -> FloatParam {
    FloatParam::new(name, default, float_range(range, Taper::Log))
        .with_unit(format::unit_suffix(range.unit))
        .with_value_to_string(format::ms_to_text())
        .with_string_to_value(format::ms_from_text())
}

/// A percentage parameter: linear, "100 %".
fn pct_param(name: &str, default: f32, range: &Range) -> FloatParam {
    FloatParam::new(name, default, float_range(range, Taper::Linear))
        .with_unit(format::unit_suffix(range.unit))
        .with_value_to_string(format::pct_to_text())
        .with_string_to_value(format::pct_from_text())
}

impl BandParams {
    /// Band `number` (1-based, as people count) with the defaults of `band`.
    fn new(number: usize, band: &crate::dsp::EqBandSettings) -> Self {
        Self {
            enabled: BoolParam::new(format!("Band {number} On"), band.enabled),
            kind: EnumParam::new(format!("Band {number} Type"), BandKind::from(band.kind)),
            freq_hz: hz_param(
                format!("Band {number} Freq"),
                band.freq_hz,
                &ranges::BAND_FREQ_HZ,
            ),
            gain_db: db_param(
                format!("Band {number} Gain"),
                band.gain_db,
                &ranges::BAND_GAIN_DB,
            ),
            q: FloatParam::new(
                format!("Band {number} Q"),
                band.q,
                float_range(&ranges::BAND_Q, Taper::Log),
            )
            .with_value_to_string(format::plain_to_text())
            .with_string_to_value(format::plain_from_text()),
            slope: EnumParam::new(
                format!("Band {number} Slope"),
                Slope::from_db_per_oct(band.slope_db_per_oct),
            ),
        }
    }
}

impl CompressorParams {
    fn new(c: &CompressorSettings) -> Self {
        let ratio_default = if c.ratio > ranges::RATIO.max {
            RATIO_INFINITE_PLAIN
        } else {
            c.ratio
        };
        Self {
            enabled: BoolParam::new("Compressor On", c.enabled),
            threshold_db: db_param("Threshold".into(), c.threshold_db, &ranges::THRESHOLD_DB),
            ratio: FloatParam::new(
                "Ratio",
                ratio_default,
                float_range(
                    &Range {
                        max: RATIO_INFINITE_PLAIN,
                        ..ranges::RATIO
                    },
                    Taper::Log,
                ),
            )
            .with_unit(format::unit_suffix(ranges::RATIO.unit))
            .with_value_to_string(format::ratio_to_text(ranges::RATIO.max))
            .with_string_to_value(format::ratio_from_text(RATIO_INFINITE_PLAIN)),
            knee_db: db_param("Knee".into(), c.knee_db, &ranges::KNEE_DB),
            attack_ms: ms_param("Attack", c.attack_ms, &ranges::ATTACK_MS),
            release_ms: ms_param("Release", c.release_ms, &ranges::RELEASE_MS),
            makeup_db: db_param("Makeup".into(), c.makeup_db, &ranges::MAKEUP_DB),
            auto_makeup: BoolParam::new("Auto Makeup", c.auto_makeup),
            detector: EnumParam::new("Detector", DetectorKind::from(c.detector)),
            sidechain_hpf: BoolParam::new("Sidechain HPF", c.sidechain_hpf),
            sidechain_hpf_hz: hz_param(
                "Sidechain HPF Freq".into(),
                c.sidechain_hpf_hz,
                &ranges::SIDECHAIN_HPF_HZ,
            ),
            stereo_link_pct: pct_param("Stereo Link", c.stereo_link_pct, &ranges::STEREO_LINK_PCT),
            mix_pct: pct_param("Mix", c.mix_pct, &ranges::MIX_PCT),
        }
    }
}

impl Default for MatchboxParams {
    fn default() -> Self {
        Self::new(&ChainSettings::default())
    }
}

impl MatchboxParams {
    /// Parameters whose defaults (and so their values until changed) are exactly `d`'s values:
    /// the live monitor starts the plugin on its preset this way, without the rounding of a
    /// trip through normalized values.
    pub fn new(d: &ChainSettings) -> Self {
        Self {
            state_version: AtomicU32::new(super::state::STATE_VERSION),
            input_gain_db: db_param("Input Gain".into(), d.input_gain_db, &ranges::IN_GAIN_DB),
            bands: std::array::from_fn(|i| BandParams::new(i + 1, &d.eq.bands[i])),
            compressor: CompressorParams::new(&d.compressor),
            output_gain_db: db_param("Output Gain".into(), d.output_gain_db, &ranges::OUT_GAIN_DB),
            ceiling_enabled: BoolParam::new("Ceiling On", d.ceiling.enabled),
            ceiling_db: db_param("Ceiling".into(), d.ceiling.ceiling_db, &ranges::CEILING_DB),
            bypass: BoolParam::new("Bypass", false).make_bypass(),
            preset_gate: Default::default(),
        }
    }
}

/// One parameter's new value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamChange {
    pub param: ParamPtr,
    /// Plain value as nice-plug saves it: the number for floats, 0/1 for switches, the variant
    /// index for choices.
    pub plain: f32,
    /// Normalized value, 0…1, as hosts see it.
    pub normalized: f32,
}

fn float_change(param: &FloatParam, plain: f32) -> ParamChange {
    ParamChange {
        param: param.as_ptr(),
        plain,
        normalized: param.preview_normalized(plain),
    }
}

fn bool_change(param: &BoolParam, on: bool) -> ParamChange {
    ParamChange {
        param: param.as_ptr(),
        plain: if on { 1.0 } else { 0.0 },
        normalized: param.preview_normalized(on),
    }
}

fn choice_change<T: Enum + PartialEq + Copy>(param: &EnumParam<T>, choice: T) -> ParamChange {
    ParamChange {
        param: param.as_ptr(),
        plain: choice.to_index() as f32,
        normalized: param.preview_normalized(choice),
    }
}

impl MatchboxParams {
    /// The chain settings the parameters describe now. Reads atomics only: no allocation, safe
    /// on the audio thread at every sample-accurate split.
    pub fn to_settings(&self) -> ChainSettings {
        let mut s = ChainSettings {
            input_gain_db: self.input_gain_db.value(),
            output_gain_db: self.output_gain_db.value(),
            ..ChainSettings::default()
        };
        for (band, p) in s.eq.bands.iter_mut().zip(&self.bands) {
            band.enabled = p.enabled.value();
            band.kind = p.kind.value().into();
            band.freq_hz = p.freq_hz.value();
            band.gain_db = p.gain_db.value();
            band.q = p.q.value();
            band.slope_db_per_oct = p.slope.value().db_per_oct();
        }
        let (c, p) = (&mut s.compressor, &self.compressor);
        c.enabled = p.enabled.value();
        c.threshold_db = p.threshold_db.value();
        c.ratio = match p.ratio.value() {
            r if r > ranges::RATIO.max => f32::INFINITY,
            r => r,
        };
        c.knee_db = p.knee_db.value();
        c.attack_ms = p.attack_ms.value();
        c.release_ms = p.release_ms.value();
        c.makeup_db = p.makeup_db.value();
        c.auto_makeup = p.auto_makeup.value();
        c.detector = p.detector.value().into();
        c.sidechain_hpf = p.sidechain_hpf.value();
        c.sidechain_hpf_hz = p.sidechain_hpf_hz.value();
        c.stereo_link_pct = p.stereo_link_pct.value();
        c.mix_pct = p.mix_pct.value();
        s.ceiling.enabled = self.ceiling_enabled.value();
        s.ceiling.ceiling_db = self.ceiling_db.value();
        s
    }

    /// Every parameter of the sound with the value that makes it describe `settings`, in a
    /// fixed order (globals, bands, compressor, ceiling): all but the bypass. `settings` should be valid; values outside a range
    /// land on its nearest end.
    pub fn changes_for(&self, settings: &ChainSettings) -> Vec<ParamChange> {
        let mut out = vec![
            float_change(&self.input_gain_db, settings.input_gain_db),
            float_change(&self.output_gain_db, settings.output_gain_db),
        ];
        for (p, band) in self.bands.iter().zip(&settings.eq.bands) {
            out.extend([
                bool_change(&p.enabled, band.enabled),
                choice_change(&p.kind, BandKind::from(band.kind)),
                float_change(&p.freq_hz, band.freq_hz),
                float_change(&p.gain_db, band.gain_db),
                float_change(&p.q, band.q),
                choice_change(&p.slope, Slope::from_db_per_oct(band.slope_db_per_oct)),
            ]);
        }
        let (p, c) = (&self.compressor, &settings.compressor);
        let ratio = if c.ratio > ranges::RATIO.max {
            RATIO_INFINITE_PLAIN
        } else {
            c.ratio
        };
        out.extend([
            bool_change(&p.enabled, c.enabled),
            float_change(&p.threshold_db, c.threshold_db),
            float_change(&p.ratio, ratio),
            float_change(&p.knee_db, c.knee_db),
            float_change(&p.attack_ms, c.attack_ms),
            float_change(&p.release_ms, c.release_ms),
            float_change(&p.makeup_db, c.makeup_db),
            bool_change(&p.auto_makeup, c.auto_makeup),
            choice_change(&p.detector, DetectorKind::from(c.detector)),
            bool_change(&p.sidechain_hpf, c.sidechain_hpf),
            float_change(&p.sidechain_hpf_hz, c.sidechain_hpf_hz),
            float_change(&p.stereo_link_pct, c.stereo_link_pct),
            float_change(&p.mix_pct, c.mix_pct),
            bool_change(&self.ceiling_enabled, settings.ceiling.enabled),
            float_change(&self.ceiling_db, settings.ceiling.ceiling_db),
        ]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::{Detector, FilterKind};
    use std::collections::HashSet;

    /// Sets a parameter the way a host's automation does (normalized value).
    fn set(change: &ParamChange) {
        // SAFETY: the pointer comes from a `MatchboxParams` that outlives this call.
        unsafe {
            change
                .param
                ._internal_set_normalized_value(change.normalized)
        };
    }

    #[test]
    fn ids_are_unique_short_and_cover_every_setting() {
        let params = MatchboxParams::default();
        let map = params.param_map();
        let ids: HashSet<&str> = map.iter().map(|(id, _, _)| id.as_str()).collect();
        assert_eq!(ids.len(), map.len());
        assert!(ids.iter().all(|id| id.len() <= 6), "{ids:?}");
        // 2 gains + 6 per band + 13 compressor + 2 ceiling + bypass.
        assert_eq!(map.len(), 2 + 6 * NUM_BANDS + 13 + 2 + 1);
        assert_eq!(
            params.changes_for(&ChainSettings::default()).len(),
            map.len() - 1
        );
        assert!(ids.contains("freq_8") && ids.contains("ratio"));
    }

    #[test]
    fn ids_never_change() {
        // Saved projects and automation refer to these; changing one needs a state migration.
        let mut want = vec!["ingain"];
        let band_ids = ["on", "type", "freq", "gain", "q", "slp"];
        let bands: Vec<String> = (1..=NUM_BANDS)
            .flat_map(|n| band_ids.iter().map(move |id| format!("{id}_{n}")))
            .collect();
        want.extend(bands.iter().map(String::as_str));
        want.extend([
            "comp", "thresh", "ratio", "knee", "attack", "releas", "makeup", "automk", "detect",
            "schpf", "schz", "link", "mix", "outgn", "ceil", "ceildb", "bypass",
        ]);
        let got: Vec<String> = MatchboxParams::default()
            .param_map()
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn defaults_describe_the_default_chain() {
        assert_eq!(
            MatchboxParams::default().to_settings(),
            ChainSettings::default()
        );
    }

    #[test]
    fn saved_slopes_are_stored_by_their_db_per_octave() {
        // nice-plug saves an enum parameter with IDs as its ID, so a state saved before the
        // 6 dB/oct choice existed ("24") still loads as 24 dB/oct.
        let ids = Slope::ids().expect("the slope choice has stable IDs");
        let slopes: Vec<String> = ranges::CUT_SLOPES_DB_PER_OCT
            .iter()
            .map(u32::to_string)
            .collect();
        assert_eq!(ids, slopes);
        for (i, db) in ranges::CUT_SLOPES_DB_PER_OCT.into_iter().enumerate() {
            assert_eq!(Slope::from_index(i).db_per_oct(), db);
            assert_eq!(Slope::from_db_per_oct(db), Slope::from_index(i));
        }
        assert_eq!(Slope::from_db_per_oct(18).db_per_oct(), 12);
    }

    #[test]
    fn settings_round_trip_through_normalized_values() {
        let mut s = ChainSettings {
            input_gain_db: -6.5,
            ..ChainSettings::default()
        };
        s.eq.bands[2].enabled = true;
        s.eq.bands[2].kind = FilterKind::LowCut;
        s.eq.bands[2].freq_hz = 3_200.0;
        s.eq.bands[2].slope_db_per_oct = 36;
        s.eq.bands[4].enabled = true;
        s.eq.bands[4].kind = FilterKind::HighCut;
        s.eq.bands[4].slope_db_per_oct = 6;
        s.compressor.enabled = true;
        s.compressor.ratio = f32::INFINITY;
        s.compressor.detector = Detector::Rms;
        s.compressor.attack_ms = 0.05;
        s.ceiling.enabled = false;
        let params = MatchboxParams::default();
        params.changes_for(&s).iter().for_each(set);
        let back = params.to_settings();
        assert_eq!(back.compressor.ratio, f32::INFINITY);
        assert_eq!(back.eq.bands[2].kind, FilterKind::LowCut);
        assert_eq!(back.eq.bands[2].slope_db_per_oct, 36);
        assert_eq!(back.eq.bands[4].slope_db_per_oct, 6);
        assert_eq!(back.compressor.detector, Detector::Rms);
        assert!(!back.ceiling.enabled);
        // Floats pass through a normalized f32: a few ulps of relative error at most.
        assert!((back.eq.bands[2].freq_hz - 3_200.0).abs() < 3_200.0 * 1e-5);
        assert!((back.input_gain_db + 6.5).abs() < 1e-5);
        assert!((back.compressor.attack_ms - 0.05).abs() < 1e-6);
    }

    #[test]
    fn text_round_trips_are_stable_over_every_range() {
        // Hosts (and clap-validator's fuzzer) turn a value into text, the text back into a
        // value, and expect that value to show the same text.
        let params = MatchboxParams::default();
        for (id, ptr, _) in params.param_map() {
            for i in 0..=2_000 {
                let normalized = i as f32 / 2_000.0;
                // SAFETY: `ptr` points into `params`, alive here.
                let (text, again) = unsafe {
                    let text = ptr.normalized_value_to_string(normalized, true);
                    let back = ptr
                        .string_to_normalized_value(&text)
                        .unwrap_or_else(|| panic!("{id}: {text:?} does not parse"));
                    (text, ptr.normalized_value_to_string(back, true))
                };
                assert_eq!(text, again, "{id} at {normalized}");
            }
        }
    }

    #[test]
    fn ranges_come_from_the_shared_declarations() {
        let params = MatchboxParams::default();
        let freq = &params.bands[0].freq_hz;
        assert_eq!(freq.preview_plain(0.0), ranges::BAND_FREQ_HZ.min);
        assert_eq!(freq.preview_plain(1.0), ranges::BAND_FREQ_HZ.max);
        let ratio = &params.compressor.ratio;
        assert_eq!(ratio.preview_plain(0.0), ranges::RATIO.min);
        assert_eq!(ratio.preview_plain(1.0), RATIO_INFINITE_PLAIN);
        assert_eq!(
            params.compressor.attack_ms.preview_plain(0.0),
            ranges::ATTACK_MS.min
        );
    }

    #[test]
    fn value_text_reads_with_units_and_parses_back() {
        let params = MatchboxParams::default();
        let text = |p: &dyn Fn(f32) -> String, plain: f32| p(plain);
        let thr = &params.compressor.threshold_db;
        let shown = text(
            &|v| thr.normalized_value_to_string(thr.preview_normalized(v), true),
            -18.0,
        );
        assert_eq!(shown, "-18.0 dB");
        let n = thr.string_to_normalized_value(&shown).unwrap();
        assert!((thr.preview_plain(n) + 18.0).abs() < 1e-4);

        let ratio = &params.compressor.ratio;
        let show_ratio =
            |v: f32| ratio.normalized_value_to_string(ratio.preview_normalized(v), true);
        assert_eq!(show_ratio(4.0), "4.0:1");
        assert_eq!(show_ratio(RATIO_INFINITE_PLAIN), "∞:1");
        assert_eq!(ratio.string_to_normalized_value("∞:1"), Some(1.0));

        let attack = &params.compressor.attack_ms;
        assert_eq!(
            attack.normalized_value_to_string(attack.preview_normalized(12.0), true),
            "12 ms"
        );
        let freq = &params.bands[0].freq_hz;
        assert_eq!(
            freq.normalized_value_to_string(freq.preview_normalized(3_200.0), true),
            "3.20 kHz"
        );
        let n = freq.string_to_normalized_value("3.20 kHz").unwrap();
        assert!((freq.preview_plain(n) - 3_200.0).abs() < 0.05);
        let slope = &params.bands[0].slope;
        assert_eq!(
            slope.normalized_value_to_string(slope.preview_normalized(Slope::Db24), true),
            "24 dB/oct"
        );
    }
}
