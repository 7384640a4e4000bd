//! The host parameters, declared once: each row below gives a parameter's stable ID, its
//! field, its kind (name, range with unit, taper, value text; the default is the settings'
//! value) and the [`ChainSettings`] field it stands for. From the same rows come the struct
//! nice-plug sees, its construction from settings ([`MatchboxParams::new`]), reading the
//! settings back ([`MatchboxParams::to_settings`]), writing them ([`MatchboxParams::changes_for`])
//! and the description `matchbox plugin-params` prints ([`MatchboxParams::descriptions`]). The
//! machinery is in [`super::table`].
//!
//! Parameter IDs are stable forever (they key saved projects and automation); renaming a field
//! is fine, changing an ID needs a migration in [`super::state`]. Nested band IDs get nice-plug's
//! `_1` … `_8` suffix, so every ID here stays within nice-plug's 6 characters.

pub use super::choices::{BandKind, DetectorKind, Slope};
pub use super::table::{Description, ParamChange, RATIO_INFINITE_PLAIN};
use super::table::{Float, Group, ParamGroup, PerBand, Pick, Ratio, Switch, param_table};
use crate::dsp::settings::{CompressorSettings, EqBandSettings};
use crate::dsp::{ChainSettings, NUM_BANDS, ranges};
use nice_plug::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;

param_table! {
    /// All of Matchbox's host parameters.
    pub struct MatchboxParams for ChainSettings {
        #[id = "ingain"]
        input_gain_db: FloatParam = Float::db("Input Gain", ranges::IN_GAIN_DB) => input_gain_db;
        #[nested(array, group = "Band")]
        bands: [BandParams; NUM_BANDS] = PerBand => eq.bands;
        #[nested(group = "Compressor")]
        compressor: CompressorParams = Group => compressor;
        #[id = "outgn"]
        output_gain_db: FloatParam = Float::db("Output Gain", ranges::OUT_GAIN_DB) => output_gain_db;
        #[id = "ceil"]
        ceiling_enabled: BoolParam = Switch("Ceiling On") => ceiling.enabled;
        #[id = "ceildb"]
        ceiling_db: FloatParam = Float::db("Ceiling", ranges::CEILING_DB) => ceiling.ceiling_db;
    }
    extra {
        /// The host's bypass switch: the chain cross-fades to its input (click-free). Not part
        /// of [`ChainSettings`]: a preset never turns it on or off.
        #[id = "bypass"]
        bypass: BoolParam = BoolParam::new("Bypass", false).make_bypass();
        /// Layout version of the saved state; see [`super::state::STATE_VERSION`].
        #[persist = "stver"]
        state_version: AtomicU32 = AtomicU32::new(super::state::STATE_VERSION);
        /// Holds the audio thread on the old settings while a preset's values arrive.
        preset_gate: super::preset::PresetGate = Default::default();
    }
}

param_table! {
    /// One EQ band. IDs are suffixed with the band number by `#[nested(array)]` (`freq_3`),
    /// names prefixed with "Band 3 ".
    pub struct BandParams for EqBandSettings {
        #[id = "on"]
        enabled: BoolParam = Switch("On") => enabled;
        #[id = "type"]
        kind: EnumParam<BandKind> = Pick("Type") => kind as "type";
        #[id = "freq"]
        freq_hz: FloatParam = Float::hz("Freq", ranges::BAND_FREQ_HZ) => freq_hz;
        #[id = "gain"]
        gain_db: FloatParam = Float::db("Gain", ranges::BAND_GAIN_DB) => gain_db;
        #[id = "q"]
        q: FloatParam = Float::plain_log("Q", ranges::BAND_Q) => q;
        #[id = "slp"]
        slope: EnumParam<Slope> = Pick("Slope") => slope_db_per_oct;
    }
}

param_table! {
    /// The compressor section.
    pub struct CompressorParams for CompressorSettings {
        #[id = "comp"]
        enabled: BoolParam = Switch("Compressor On") => enabled;
        #[id = "thresh"]
        threshold_db: FloatParam = Float::db("Threshold", ranges::THRESHOLD_DB) => threshold_db;
        /// 1…20, and ∞ at the top ([`RATIO_INFINITE_PLAIN`]).
        #[id = "ratio"]
        ratio: FloatParam = Ratio("Ratio") => ratio;
        #[id = "knee"]
        knee_db: FloatParam = Float::db("Knee", ranges::KNEE_DB) => knee_db;
        #[id = "attack"]
        attack_ms: FloatParam = Float::ms("Attack", ranges::ATTACK_MS) => attack_ms;
        #[id = "releas"]
        release_ms: FloatParam = Float::ms("Release", ranges::RELEASE_MS) => release_ms;
        #[id = "makeup"]
        makeup_db: FloatParam = Float::db("Makeup", ranges::MAKEUP_DB) => makeup_db;
        #[id = "automk"]
        auto_makeup: BoolParam = Switch("Auto Makeup") => auto_makeup;
        #[id = "detect"]
        detector: EnumParam<DetectorKind> = Pick("Detector") => detector;
        #[id = "schpf"]
        sidechain_hpf: BoolParam = Switch("Sidechain HPF") => sidechain_hpf;
        #[id = "schz"]
        sidechain_hpf_hz: FloatParam =
            Float::hz("Sidechain HPF Freq", ranges::SIDECHAIN_HPF_HZ) => sidechain_hpf_hz;
        #[id = "link"]
        stereo_link_pct: FloatParam = Float::pct("Stereo Link", ranges::STEREO_LINK_PCT) => stereo_link_pct;
        #[id = "mix"]
        mix_pct: FloatParam = Float::pct("Mix", ranges::MIX_PCT) => mix_pct;
    }
}

impl MatchboxParams {
    /// Every parameter, each with its value (and default) from `settings`; values outside
    /// their range land on its nearest end ([`ChainSettings::clamped`]).
    pub fn new(settings: &ChainSettings) -> Self {
        ParamGroup::build("", &settings.clamped())
    }

    /// The chain settings the parameters describe now. Reads atomics only: no allocation, safe
    /// on the audio thread at every sample-accurate split.
    pub fn to_settings(&self) -> ChainSettings {
        let mut settings = ChainSettings::default();
        self.read(&mut settings);
        settings
    }

    /// Every parameter of the sound with the value that makes it describe `settings`, in the
    /// host's order (globals, bands, compressor, ceiling): all but the bypass. `settings`
    /// should be valid; values outside a range land on its nearest end.
    pub fn changes_for(&self, settings: &ChainSettings) -> Vec<ParamChange> {
        let mut out = Vec::new();
        self.changes(settings, &mut out);
        out
    }

    /// Every parameter's description, in the host's order, with its ID and group. Parameters
    /// that stand for no setting (the bypass) have none.
    pub fn descriptions(&self) -> Vec<Description> {
        let mut rows = Vec::new();
        ParamGroup::describe(self, "", &mut rows);
        let mut by_ptr: HashMap<ParamPtr, Description> = rows.into_iter().collect();
        self.param_map()
            .into_iter()
            .map(|(id, ptr, group)| Description {
                id,
                group,
                ..by_ptr
                    .remove(&ptr)
                    // SAFETY: `ptr` points into `self`.
                    .unwrap_or_else(|| unsafe { Description::of_ptr(&ptr) })
            })
            .collect()
    }
}

impl Default for MatchboxParams {
    /// The parameters of [`ChainSettings::default`].
    fn default() -> Self {
        Self::new(&ChainSettings::default())
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

    /// A state remembers a choice by its ID, which is what presets write for it.
    #[test]
    fn saved_slopes_are_stored_by_their_db_per_octave() {
        let ids = Slope::ids().expect("the slope choice has stable IDs");
        for db in ranges::CUT_SLOPES_DB_PER_OCT {
            let slope = Slope::from_db_per_oct(db);
            assert_eq!(slope.db_per_oct(), db);
            assert_eq!(ids[slope.to_index()], db.to_string());
        }
    }

    /// Every field of the settings is one parameter's, and a table's rows build, read and
    /// write it the same way: settings → parameters → settings is exact.
    #[test]
    fn every_setting_is_one_parameter_and_round_trips_exactly() {
        fn leaves(value: &serde_json::Value, path: String, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        let child = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        leaves(v, child, out);
                    }
                }
                serde_json::Value::Array(items) => {
                    for (i, v) in items.iter().enumerate() {
                        leaves(v, format!("{path}[{i}]"), out);
                    }
                }
                _ => out.push(path),
            }
        }
        let mut want = Vec::new();
        leaves(
            &serde_json::to_value(ChainSettings::default()).unwrap(),
            String::new(),
            &mut want,
        );
        let mut got: Vec<String> = MatchboxParams::default()
            .descriptions()
            .into_iter()
            .filter_map(|d| d.setting)
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);

        let mut s = ChainSettings::default();
        s.input_gain_db = -3.25;
        s.eq.bands[1] = crate::dsp::EqBandSettings {
            slope_db_per_oct: 36,
            ..crate::dsp::EqBandSettings::on(FilterKind::HighCut, 9_321.5, 0.0, 1.1)
        };
        s.eq.bands[7] = crate::dsp::EqBandSettings::on(FilterKind::Tilt, 700.0, -2.5, 0.5);
        s.compressor.enabled = true;
        s.compressor.ratio = f32::INFINITY;
        s.compressor.detector = Detector::Rms;
        s.compressor.attack_ms = 0.37;
        s.compressor.stereo_link_pct = 12.5;
        s.ceiling.enabled = false;
        s.ceiling.ceiling_db = -6.5;
        assert_eq!(MatchboxParams::new(&s).to_settings(), s);
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
