//! What a page and the server say to each other over the WebSocket, as JSON text messages.
//!
//! Page → server, one request a message (anything else is refused with a message and changes
//! nothing):
//! - `{"set": ID, "value": V}`: a control to the plain value `V` in its unit (dB, ms, %, the
//!   ratio; `true`/`false` for a switch), within the control's range;
//! - `{"set": ID, "normalized": N}`: the same as the position 0…1 of a host's slider;
//! - `{"preset": P}`: one of the presets the hello message lists, all its values at once;
//! - each may carry `"seq": n` (a whole number), echoed in the reply.
//!
//! Server → page: `hello` (the controls with their ranges, the presets), `values` (every
//! control's value, text and explanation, and the transfer curve; sent when anything changes,
//! whoever changed it), `meters` (about 25 a second), `ack` (a change has reached the audio
//! thread) and `error` (why a request was refused).
//!
//! IDs are the parameters' stable IDs ([`crate::plugin::params`]).

use crate::dsp::compressor::static_curve_db;
use crate::dsp::{ChainSettings, MeterReading};
use crate::plugin::explain::explain;
use crate::plugin::live::LoadWindow;
use crate::plugin::params::{MatchboxParams, ParamChange};
use nice_plug::prelude::ParamPtr;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// The parameters a page may turn, by stable ID, in the page's order.
pub const CONTROLS: [&str; 10] = [
    "thresh", "ratio", "knee", "attack", "releas", "makeup", "mix", "outgn", "comp", "bypass",
];

/// The transfer curve sent to pages: input levels from this to [`CURVE_TOP_DB`], dBFS.
pub const CURVE_BOTTOM_DB: f32 = -60.0;
pub const CURVE_TOP_DB: f32 = 6.0;

/// One control: its parameter and plain range.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    pub id: &'static str,
    pub param: ParamPtr,
    /// On/off (`true`/`false` on the wire).
    pub switch: bool,
    /// Plain range, in the parameter's unit.
    pub min: f32,
    pub max: f32,
}

/// The controls of one plugin instance.
pub struct Controls {
    params: Arc<MatchboxParams>,
    list: Vec<Control>,
}

// SAFETY (every `unsafe` block on a `ParamPtr` below): the pointers come from `params`'
// `param_map`, and `Controls` holds `params` alive.
impl Controls {
    pub fn new(params: Arc<MatchboxParams>) -> Controls {
        let map = nice_plug::prelude::Params::param_map(&*params);
        let list = CONTROLS
            .iter()
            .filter_map(|&id| {
                let (_, param, _) = map.iter().find(|(pid, _, _)| pid == id)?;
                let param = *param;
                let (min, max) = unsafe { (param.preview_plain(0.0), param.preview_plain(1.0)) };
                Some(Control {
                    id,
                    param,
                    switch: unsafe { param.step_count() } == Some(1),
                    min,
                    max,
                })
            })
            .collect();
        Controls { params, list }
    }

    pub fn params(&self) -> &MatchboxParams {
        &self.params
    }

    pub fn find(&self, id: &str) -> Option<&Control> {
        self.list.iter().find(|c| c.id == id)
    }

    /// Every control's normalized value now (to notice changes).
    pub fn snapshot(&self) -> Vec<f32> {
        self.list
            .iter()
            .map(|c| unsafe { c.param.unmodulated_normalized_value() })
            .collect()
    }

    /// The controls as the hello message lists them.
    fn describe(&self) -> Value {
        self.list
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": unsafe { c.param.name() },
                    "switch": c.switch,
                    "min": c.min,
                    "max": c.max,
                    "unit": unsafe { c.param.unit() }.trim(),
                    "default": unsafe { c.param.default_plain_value() },
                })
            })
            .collect()
    }

    /// `values`: each control's plain and normalized value, its text with unit and its
    /// explanation; the compressor's static curve at these settings; the preset last chosen
    /// from a page.
    pub fn values_message(&self, preset: Option<&str>) -> String {
        let settings = self.params.to_settings();
        let mut values = Map::new();
        for c in &self.list {
            let normalized = unsafe { c.param.unmodulated_normalized_value() };
            values.insert(
                c.id.into(),
                json!({
                    "value": unsafe { c.param.unmodulated_plain_value() },
                    "normalized": normalized,
                    "text": unsafe { c.param.normalized_value_to_string(normalized, true) },
                    "help": explain(c.id, &settings),
                }),
            );
        }
        json!({
            "type": "values",
            "values": values,
            "curve": curve(&settings),
            "preset": preset,
        })
        .to_string()
    }
}

/// The compressor's static curve, `[input dB, output dB]` a dB apart from
/// [`CURVE_BOTTOM_DB`] to [`CURVE_TOP_DB`] (the identity while the compressor is off).
fn curve(settings: &ChainSettings) -> Vec<[f32; 2]> {
    let c = &settings.compressor;
    let steps = (CURVE_TOP_DB - CURVE_BOTTOM_DB) as usize;
    (0..=steps)
        .map(|i| {
            let input = CURVE_BOTTOM_DB + i as f32;
            let output = if c.enabled {
                static_curve_db(c, input as f64) as f32
            } else {
                input
            };
            [input, output]
        })
        .collect()
}

/// A preset a page can choose.
#[derive(Debug, Clone, PartialEq)]
pub enum PresetChoice {
    Factory(String),
    /// A file in the user's preset folder.
    User(PathBuf),
}

impl PresetChoice {
    /// The ID pages send: `factory:NAME` or `user:FILE NAME`.
    pub fn id(&self) -> String {
        match self {
            PresetChoice::Factory(name) => format!("factory:{name}"),
            PresetChoice::User(path) => format!(
                "user:{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }

    /// What the page shows.
    pub fn label(&self) -> String {
        match self {
            PresetChoice::Factory(name) => name.clone(),
            PresetChoice::User(path) => path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        }
    }
}

/// The presets on offer now: the factory's, then the user's folder.
pub fn preset_choices() -> Vec<PresetChoice> {
    let factory = crate::preset::factory_names()
        .into_iter()
        .map(PresetChoice::Factory);
    let user = crate::preset::user_presets_dir()
        .map(|dir| crate::preset::user_presets(&dir))
        .unwrap_or_default()
        .into_iter()
        .map(PresetChoice::User);
    factory.chain(user).collect()
}

/// The first message on a new connection.
pub fn hello_message(controls: &Controls, presets: &[PresetChoice], sample_rate: f32) -> String {
    json!({
        "type": "hello",
        "controls": controls.describe(),
        "presets": presets
            .iter()
            .map(|p| json!({"id": p.id(), "name": p.label(), "user": matches!(p, PresetChoice::User(_))}))
            .collect::<Vec<_>>(),
        "sample_rate": sample_rate,
        "curve_range": [CURVE_BOTTOM_DB, CURVE_TOP_DB],
    })
    .to_string()
}

/// What the live monitor shows besides the chain's meters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveFigures {
    pub load: LoadWindow,
    pub xruns: u64,
}

/// `meters`: levels in dBFS (peaks since the last frame, RMS), reductions in dB, the DSP load
/// in % of the period, xruns since the start.
pub fn meters_message(m: &MeterReading, live: &LiveFigures) -> String {
    // Two decimals: plenty for a meter, and a short message.
    let r = |x: f32| (x * 100.0).round() / 100.0;
    json!({
        "type": "meters",
        "in": r(m.input_peak_db),
        "in_rms": r(m.input_rms_db),
        "out": r(m.output_peak_db),
        "out_rms": r(m.output_rms_db),
        "comp_in": r(m.compressor_input_db),
        "gr": r(m.gain_reduction_db),
        "ceiling_gr": r(m.ceiling_reduction_db),
        "load": r(100.0 * live.load.mean as f32),
        "load_max": r(100.0 * live.load.max as f32),
        "xruns": live.xruns,
    })
    .to_string()
}

/// A request from a page, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// One parameter to a normalized value (already checked against its range).
    Set(ParamChange),
    /// A preset, by the ID the hello listed (not yet loaded).
    Preset(String),
}

/// A request and the number to echo.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    pub seq: Option<u64>,
    pub request: Request,
}

/// Why a message was refused: one line for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub seq: Option<u64>,
    pub message: String,
}

impl Refusal {
    pub fn to_message(&self) -> String {
        json!({"type": "error", "seq": self.seq, "message": self.message}).to_string()
    }
}

/// An acknowledgement: the request's changes reached the audio thread (`applied`) after
/// `audio_ms` milliseconds from its arrival, or were still queued when the server stopped
/// waiting.
pub fn ack_message(seq: Option<u64>, applied: bool, audio_ms: f64) -> String {
    json!({"type": "ack", "seq": seq, "applied": applied, "audio_ms": (audio_ms * 1000.0).round() / 1000.0})
        .to_string()
}

/// Check one message from a page. Nothing is changed here.
pub fn parse(text: &str, controls: &Controls) -> Result<Numbered, Refusal> {
    let refuse = |seq, message: String| Refusal { seq, message };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| refuse(None, format!("not JSON ({e}); nothing changed")))?;
    let Value::Object(object) = value else {
        return Err(refuse(
            None,
            "a request is a JSON object; nothing changed".into(),
        ));
    };
    let seq = match object.get("seq") {
        None => None,
        Some(s) => Some(s.as_u64().ok_or_else(|| {
            refuse(
                None,
                "\"seq\" must be a whole number; nothing changed".into(),
            )
        })?),
    };
    let refuse = |message: String| Refusal {
        seq,
        message: format!("{message}; nothing changed"),
    };
    let allowed: &[&str] = if object.contains_key("set") {
        &["set", "value", "normalized", "seq"]
    } else if object.contains_key("preset") {
        &["preset", "seq"]
    } else {
        return Err(refuse(
            "a request has \"set\" (with \"value\" or \"normalized\") or \"preset\"".into(),
        ));
    };
    if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(refuse(format!(
            "unexpected field {}",
            serde_json::to_string(key).unwrap_or_default()
        )));
    }
    if let Some(preset) = object.get("preset") {
        let Value::String(id) = preset else {
            return Err(refuse(
                "\"preset\" must be a preset's ID from the list".into(),
            ));
        };
        return Ok(Numbered {
            seq,
            request: Request::Preset(id.clone()),
        });
    }
    let Some(Value::String(id)) = object.get("set") else {
        return Err(refuse(format!(
            "\"set\" must name a control: one of {}",
            CONTROLS.join(", ")
        )));
    };
    let Some(control) = controls.find(id) else {
        return Err(refuse(format!(
            "no control {}: the page can set {}",
            serde_json::to_string(id).unwrap_or_default(),
            CONTROLS.join(", ")
        )));
    };
    let change = match (object.get("value"), object.get("normalized")) {
        (Some(v), None) => plain_change(control, v),
        (None, Some(n)) => normalized_change(control, n),
        _ => Err(format!(
            "{id}: give either \"value\" or \"normalized\", not both or neither"
        )),
    }
    .map_err(refuse)?;
    Ok(Numbered {
        seq,
        request: Request::Set(change),
    })
}

fn plain_change(c: &Control, v: &Value) -> Result<ParamChange, String> {
    let plain = if c.switch {
        match v {
            Value::Bool(on) => f32::from(u8::from(*on)),
            _ => return Err(format!("{}: the value is true or false", c.id)),
        }
    } else {
        let x = v
            .as_f64()
            .ok_or_else(|| format!("{}: the value must be a number", c.id))?;
        let unit = unsafe { c.param.unit() }.trim();
        if !(c.min as f64..=c.max as f64).contains(&x) {
            return Err(format!(
                "{}: {x} is outside {}…{} {unit}",
                c.id, c.min, c.max
            ));
        }
        x as f32
    };
    Ok(ParamChange {
        param: c.param,
        plain,
        normalized: unsafe { c.param.preview_normalized(plain) },
    })
}

fn normalized_change(c: &Control, v: &Value) -> Result<ParamChange, String> {
    let x = v
        .as_f64()
        .ok_or_else(|| format!("{}: \"normalized\" must be a number", c.id))?;
    if !(0.0..=1.0).contains(&x) {
        return Err(format!("{}: normalized {x} is outside 0…1", c.id));
    }
    let normalized = if c.switch { x.round() as f32 } else { x as f32 };
    Ok(ParamChange {
        param: c.param,
        plain: unsafe { c.param.preview_plain(normalized) },
        normalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controls() -> Controls {
        Controls::new(Arc::new(MatchboxParams::default()))
    }

    fn refused(text: &str) -> String {
        parse(text, &controls()).unwrap_err().message
    }

    #[test]
    fn every_control_is_found_with_its_range() {
        let c = controls();
        assert_eq!(c.list.len(), CONTROLS.len());
        let t = c.find("thresh").unwrap();
        assert_eq!((t.min, t.max, t.switch), (-60.0, 0.0, false));
        assert!(c.find("bypass").unwrap().switch && c.find("comp").unwrap().switch);
        assert!(c.find("freq_1").is_none());
    }

    #[test]
    fn good_requests_become_changes() {
        let c = controls();
        let Request::Set(change) = parse(r#"{"set":"thresh","value":-30,"seq":7}"#, &c)
            .map(|n| {
                assert_eq!(n.seq, Some(7));
                n.request
            })
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(change.plain, -30.0);
        assert!((change.normalized - 0.5).abs() < 1e-6);
        let n = parse(r#"{"set":"bypass","value":true}"#, &c).unwrap();
        assert!(matches!(n.request, Request::Set(ch) if ch.normalized == 1.0));
        let n = parse(r#"{"set":"ratio","normalized":1}"#, &c).unwrap();
        assert!(
            matches!(n.request, Request::Set(ch) if ch.plain == crate::plugin::params::RATIO_INFINITE_PLAIN)
        );
        let n = parse(r#"{"preset":"factory:Telephone"}"#, &c).unwrap();
        assert_eq!(n.request, Request::Preset("factory:Telephone".into()));
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        assert!(refused("{").starts_with("not JSON"));
        assert!(refused("[1,2]").starts_with("a request is a JSON object"));
        assert!(refused(r#"{"set":"thresh","value":5}"#).contains("5 is outside -60…0 dB"));
        assert!(refused(r#"{"set":"thresh","value":"-5"}"#).contains("must be a number"));
        assert!(refused(r#"{"set":"thresh","value":1e999}"#).starts_with("not JSON"));
        assert!(refused(r#"{"set":"bypass","value":1}"#).contains("true or false"));
        assert!(refused(r#"{"set":"freq_1","value":100}"#).contains("no control \"freq_1\""));
        assert!(refused(r#"{"set":"mix","normalized":1.5}"#).contains("outside 0…1"));
        assert!(refused(r#"{"set":"mix","value":50,"normalized":0.5}"#).contains("not both"));
        assert!(refused(r#"{"set":"mix","value":50,"x":1}"#).contains("unexpected field \"x\""));
        assert!(refused(r#"{"preset":3}"#).contains("preset's ID"));
        assert!(refused(r#"{"hello":1}"#).contains("has \"set\""));
        let bad_seq = parse(r#"{"seq":-1,"set":"mix","value":1}"#, &controls()).unwrap_err();
        assert!(bad_seq.message.contains("whole number"));
        // Every refusal says that nothing changed.
        assert!(refused(r#"{"set":"knee","value":-1}"#).ends_with("; nothing changed"));
    }

    #[test]
    fn values_carry_text_help_and_the_curve() {
        let c = controls();
        let v: Value = serde_json::from_str(&c.values_message(Some("Flat"))).unwrap();
        assert_eq!(v["values"]["thresh"]["text"], "-18.0 dB");
        assert!(
            v["values"]["ratio"]["help"]
                .as_str()
                .unwrap()
                .starts_with("Ratio")
        );
        let curve = v["curve"].as_array().unwrap();
        assert_eq!(curve.len(), 67);
        assert_eq!(v["preset"], "Flat");
        let hello: Value =
            serde_json::from_str(&hello_message(&c, &preset_choices(), 48_000.0)).unwrap();
        assert_eq!(hello["controls"].as_array().unwrap().len(), CONTROLS.len());
        assert_eq!(
            hello["presets"][0]["id"]
                .as_str()
                .unwrap()
                .split(':')
                .next(),
            Some("factory")
        );
    }
}
