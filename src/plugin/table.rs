//! The machinery behind the parameter table in [`super::params`]: how one setting becomes a
//! host parameter and back ([`Spec`]), and [`param_table!`], which turns a table of rows into
//! a nice-plug parameter struct (`#[derive(Params)]`) together with its mapping to and from
//! the settings and its description.
//!
//! A row reads `#[id = "thresh"] threshold_db: FloatParam = Float::db("Threshold", range) =>
//! threshold_db;`: the ID nice-plug and saved states use, the field, the parameter's type, its
//! spec (name, range, unit, default from the settings, taper, value text) and the settings
//! field it stands for. Nothing about a parameter is written anywhere else.

use super::choices::Choice;
use super::format;
use crate::dsp::{Range, ranges};
use nice_plug::prelude::*;
use serde::Serialize;

/// Plain ratio values above [`ranges::RATIO`]'s maximum mean an infinite ratio (a limiter):
/// the top of the ratio parameter, shown as "∞:1".
pub const RATIO_INFINITE_PLAIN: f32 = ranges::RATIO.max + 1.0;

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

/// What `matchbox plugin-params` prints for one parameter (tests/vst3_host.py reads it to turn
/// a saved state into settings).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// The stable ID (filled in from nice-plug's parameter map).
    pub id: String,
    pub name: String,
    /// Group path, "" at the top ("Band 3", "Compressor").
    pub group: String,
    /// The [`crate::dsp::ChainSettings`] field, as a path (`eq.bands[2].freq_hz`); none for a
    /// parameter that is not a setting (the host's bypass).
    pub setting: Option<String>,
    /// `"float"`, `"switch"` or `"choice"`.
    pub kind: &'static str,
    /// Plain range, default and unit of a float.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// Plain values above this mean an infinite setting (the ratio's "∞:1").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infinite_above: Option<f32>,
    /// A choice's variants, in the host's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceDescription>,
}

/// One variant of a choice parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChoiceDescription {
    /// The ID saved states store.
    pub id: &'static str,
    /// The name hosts show.
    pub name: &'static str,
    /// The settings value it stands for, as presets write it.
    pub setting: serde_json::Value,
}

impl Description {
    /// A parameter that stands for no setting: its name and kind only.
    ///
    /// # Safety
    /// `ptr` must point to a live parameter.
    pub unsafe fn of_ptr(ptr: &ParamPtr) -> Self {
        let kind = match ptr {
            ParamPtr::FloatParam(_) => "float",
            ParamPtr::BoolParam(_) => "switch",
            ParamPtr::EnumParam(_) | ParamPtr::IntParam(_) => "choice",
        };
        Self {
            // SAFETY: the caller's promise.
            name: unsafe { ptr.name() }.to_owned(),
            setting: None,
            ..Self::new_with(String::new(), kind)
        }
    }

    fn new(param: &impl Param, setting: &str, kind: &'static str) -> Self {
        Self {
            setting: Some(setting.to_owned()),
            ..Self::new_with(param.name().to_owned(), kind)
        }
    }

    fn new_with(name: String, kind: &'static str) -> Self {
        Self {
            id: String::new(),
            name,
            group: String::new(),
            setting: None,
            kind,
            min: None,
            max: None,
            default: None,
            unit: None,
            infinite_above: None,
            choices: Vec::new(),
        }
    }
}

/// How one piece of the settings (`V`) appears as host parameter(s) (`P`).
pub trait Spec<P, V: ?Sized> {
    /// The parameter(s) with `value` as default, names prefixed with `prefix`.
    fn build(&self, prefix: &str, value: &V) -> P;
    /// Writes the parameter's current value into `value`. Reads atomics only: no allocation,
    /// safe on the audio thread.
    fn read(&self, param: &P, value: &mut V);
    /// The changes that make `param` describe `value`.
    fn changes(&self, param: &P, value: &V, out: &mut Vec<ParamChange>);
    /// Each parameter's description; `setting` is the path of `V` in the settings.
    fn describe(&self, param: &P, setting: &str, out: &mut Vec<(ParamPtr, Description)>);
}

/// A struct of parameters made by [`param_table!`]: the same four operations over all its rows.
pub trait ParamGroup: Sized {
    /// The settings the rows map to.
    type Settings;
    fn build(prefix: &str, settings: &Self::Settings) -> Self;
    fn read(&self, settings: &mut Self::Settings);
    fn changes(&self, settings: &Self::Settings, out: &mut Vec<ParamChange>);
    fn describe(&self, setting: &str, out: &mut Vec<(ParamPtr, Description)>);
}

/// How a float parameter spreads its range over the knob.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Taper {
    Linear,
    /// Even spacing of octaves / decades (frequencies, times, Q).
    Log,
}

/// How a float parameter's value reads as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Text {
    /// "-18.0" + the unit.
    Db,
    /// "3.20 kHz" (the text carries the unit).
    Hz,
    /// "12" + " ms".
    Ms,
    /// "100" + " %".
    Pct,
    /// A plain number, no unit (Q).
    Plain,
}

/// A continuous setting: name, range (with unit), taper and text. The default is the
/// settings' value.
#[derive(Debug, Clone, Copy)]
pub struct Float {
    pub name: &'static str,
    pub range: Range,
    pub taper: Taper,
    pub text: Text,
}

impl Float {
    /// A gain or level in dB: linear in dB.
    pub const fn db(name: &'static str, range: Range) -> Self {
        Self::new(name, range, Taper::Linear, Text::Db)
    }

    /// A frequency: logarithmic.
    pub const fn hz(name: &'static str, range: Range) -> Self {
        Self::new(name, range, Taper::Log, Text::Hz)
    }

    /// A time: logarithmic.
    pub const fn ms(name: &'static str, range: Range) -> Self {
        Self::new(name, range, Taper::Log, Text::Ms)
    }

    /// A percentage: linear.
    pub const fn pct(name: &'static str, range: Range) -> Self {
        Self::new(name, range, Taper::Linear, Text::Pct)
    }

    /// A plain number with a logarithmic taper (Q).
    pub const fn plain_log(name: &'static str, range: Range) -> Self {
        Self::new(name, range, Taper::Log, Text::Plain)
    }

    const fn new(name: &'static str, range: Range, taper: Taper, text: Text) -> Self {
        Self {
            name,
            range,
            taper,
            text,
        }
    }

    fn float_range(&self) -> FloatRange {
        let Range { min, max, .. } = self.range;
        match self.taper {
            Taper::Linear => FloatRange::Linear { min, max },
            Taper::Log => FloatRange::Skewed {
                min,
                max,
                factor: format::log_skew(min, max),
            },
        }
    }
}

impl Spec<FloatParam, f32> for Float {
    fn build(&self, prefix: &str, value: &f32) -> FloatParam {
        let param = FloatParam::new(format!("{prefix}{}", self.name), *value, self.float_range());
        let unit = format::unit_suffix(self.range.unit);
        match self.text {
            Text::Db => param
                .with_unit(unit)
                .with_value_to_string(format::db_to_text())
                .with_string_to_value(format::db_from_text()),
            Text::Hz => param
                .with_value_to_string(format::hz_to_text())
                .with_string_to_value(format::hz_from_text()),
            Text::Ms => param
                .with_unit(unit)
                .with_value_to_string(format::ms_to_text())
                .with_string_to_value(format::ms_from_text()),
            Text::Pct => param
                .with_unit(unit)
                .with_value_to_string(format::pct_to_text())
                .with_string_to_value(format::pct_from_text()),
            Text::Plain => param
                .with_value_to_string(format::plain_to_text())
                .with_string_to_value(format::plain_from_text()),
        }
    }

    fn read(&self, param: &FloatParam, value: &mut f32) {
        *value = param.value();
    }

    fn changes(&self, param: &FloatParam, value: &f32, out: &mut Vec<ParamChange>) {
        out.push(float_change(param, *value));
    }

    fn describe(&self, param: &FloatParam, setting: &str, out: &mut Vec<(ParamPtr, Description)>) {
        out.push((
            param.as_ptr(),
            float_description(param, setting, &self.range),
        ));
    }
}

fn float_description(param: &FloatParam, setting: &str, range: &Range) -> Description {
    Description {
        min: Some(range.min),
        max: Some(range.max),
        default: Some(param.default_plain_value()),
        unit: Some(range.unit),
        ..Description::new(param, setting, "float")
    }
}

fn float_change(param: &FloatParam, plain: f32) -> ParamChange {
    ParamChange {
        param: param.as_ptr(),
        plain,
        normalized: param.preview_normalized(plain),
    }
}

/// The compressor's ratio: [`ranges::RATIO`] and, at the top of the knob, ∞:1
/// ([`RATIO_INFINITE_PLAIN`]), which the settings hold as an infinite ratio.
#[derive(Debug, Clone, Copy)]
pub struct Ratio(pub &'static str);

impl Ratio {
    const RANGE: Range = Range {
        max: RATIO_INFINITE_PLAIN,
        ..ranges::RATIO
    };

    /// The plain value standing for `ratio`.
    fn plain(ratio: f32) -> f32 {
        if ratio > ranges::RATIO.max {
            RATIO_INFINITE_PLAIN
        } else {
            ratio
        }
    }
}

impl Spec<FloatParam, f32> for Ratio {
    fn build(&self, prefix: &str, value: &f32) -> FloatParam {
        let range = Float::new(self.0, Self::RANGE, Taper::Log, Text::Plain).float_range();
        FloatParam::new(format!("{prefix}{}", self.0), Self::plain(*value), range)
            .with_unit(format::unit_suffix(ranges::RATIO.unit))
            .with_value_to_string(format::ratio_to_text(ranges::RATIO.max))
            .with_string_to_value(format::ratio_from_text(RATIO_INFINITE_PLAIN))
    }

    fn read(&self, param: &FloatParam, value: &mut f32) {
        *value = match param.value() {
            r if r > ranges::RATIO.max => f32::INFINITY,
            r => r,
        };
    }

    fn changes(&self, param: &FloatParam, value: &f32, out: &mut Vec<ParamChange>) {
        out.push(float_change(param, Self::plain(*value)));
    }

    fn describe(&self, param: &FloatParam, setting: &str, out: &mut Vec<(ParamPtr, Description)>) {
        let description = Description {
            infinite_above: Some(ranges::RATIO.max),
            ..float_description(param, setting, &Self::RANGE)
        };
        out.push((param.as_ptr(), description));
    }
}

/// An on/off setting.
#[derive(Debug, Clone, Copy)]
pub struct Switch(pub &'static str);

impl Spec<BoolParam, bool> for Switch {
    fn build(&self, prefix: &str, value: &bool) -> BoolParam {
        BoolParam::new(format!("{prefix}{}", self.0), *value)
    }

    fn read(&self, param: &BoolParam, value: &mut bool) {
        *value = param.value();
    }

    fn changes(&self, param: &BoolParam, value: &bool, out: &mut Vec<ParamChange>) {
        out.push(ParamChange {
            param: param.as_ptr(),
            plain: if *value { 1.0 } else { 0.0 },
            normalized: param.preview_normalized(*value),
        });
    }

    fn describe(&self, param: &BoolParam, setting: &str, out: &mut Vec<(ParamPtr, Description)>) {
        out.push((param.as_ptr(), Description::new(param, setting, "switch")));
    }
}

/// A setting with a few values, as a host choice `C` ([`Choice`]: mapped by name).
#[derive(Debug, Clone, Copy)]
pub struct Pick(pub &'static str);

impl<C: Choice> Spec<EnumParam<C>, C::Setting> for Pick {
    fn build(&self, prefix: &str, value: &C::Setting) -> EnumParam<C> {
        EnumParam::new(format!("{prefix}{}", self.0), C::for_setting(*value))
    }

    fn read(&self, param: &EnumParam<C>, value: &mut C::Setting) {
        *value = param.value().setting();
    }

    fn changes(&self, param: &EnumParam<C>, value: &C::Setting, out: &mut Vec<ParamChange>) {
        let choice = C::for_setting(*value);
        out.push(ParamChange {
            param: param.as_ptr(),
            plain: choice.to_index() as f32,
            normalized: param.preview_normalized(choice),
        });
    }

    fn describe(
        &self,
        param: &EnumParam<C>,
        setting: &str,
        out: &mut Vec<(ParamPtr, Description)>,
    ) {
        let ids = C::ids().expect("every choice declares stable IDs");
        let choices = C::variants()
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(index, (name, id))| ChoiceDescription {
                id,
                name,
                setting: serde_json::to_value(C::from_index(index).setting())
                    .expect("settings values serialise"),
            })
            .collect();
        let description = Description {
            choices,
            ..Description::new(param, setting, "choice")
        };
        out.push((param.as_ptr(), description));
    }
}

/// A nested struct of parameters (a [`ParamGroup`]), its names prefixed as they are.
#[derive(Debug, Clone, Copy)]
pub struct Group;

impl<G: ParamGroup> Spec<G, G::Settings> for Group {
    fn build(&self, prefix: &str, value: &G::Settings) -> G {
        G::build(prefix, value)
    }

    fn read(&self, param: &G, value: &mut G::Settings) {
        param.read(value);
    }

    fn changes(&self, param: &G, value: &G::Settings, out: &mut Vec<ParamChange>) {
        param.changes(value, out);
    }

    fn describe(&self, param: &G, setting: &str, out: &mut Vec<(ParamPtr, Description)>) {
        param.describe(setting, out);
    }
}

/// One nested struct per EQ band, names prefixed "Band 1 " … (numbered as people count).
#[derive(Debug, Clone, Copy)]
pub struct PerBand;

impl<G: ParamGroup, const N: usize> Spec<[G; N], [G::Settings; N]> for PerBand {
    fn build(&self, prefix: &str, value: &[G::Settings; N]) -> [G; N] {
        std::array::from_fn(|i| G::build(&format!("{prefix}Band {} ", i + 1), &value[i]))
    }

    fn read(&self, param: &[G; N], value: &mut [G::Settings; N]) {
        for (p, v) in param.iter().zip(value) {
            p.read(v);
        }
    }

    fn changes(&self, param: &[G; N], value: &[G::Settings; N], out: &mut Vec<ParamChange>) {
        for (p, v) in param.iter().zip(value) {
            p.changes(v, out);
        }
    }

    fn describe(&self, param: &[G; N], setting: &str, out: &mut Vec<(ParamPtr, Description)>) {
        for (i, p) in param.iter().enumerate() {
            p.describe(&format!("{setting}[{i}]"), out);
        }
    }
}

/// The path `parent.a.b` of the field reached by `fields` from `parent` ("" at the top), its
/// last name replaced by `renamed` where given (the name serde writes).
pub fn join_path(parent: &str, fields: &[&str], renamed: Option<&str>) -> String {
    let mut parts: Vec<&str> = std::iter::once(parent).filter(|p| !p.is_empty()).collect();
    parts.extend(fields);
    if let (Some(last), Some(name)) = (parts.last_mut(), renamed) {
        *last = name;
    }
    parts.join(".")
}

/// Declares a struct of host parameters from a table of rows,
///
/// ```text
/// #[id = "ID"] field: ParamType = spec => settings.field;
/// #[id = "ID"] field: ParamType = spec => settings.field as "name_in_presets";
/// #[nested(...)] field: GroupType = Group => settings.field;
/// ```
///
/// (`as` gives the field's name in preset files where serde renames it.)
///
/// followed optionally by `extra { #[attr] field: Type = init; }` for fields that are not
/// parameters. Generates the `#[derive(Params)]` struct (rows in order, then the extras) and
/// its [`ParamGroup`] implementation, each operation row by row through the row's [`Spec`].
macro_rules! param_table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $settings:ty {
            $(
                $(#[$attr:meta])+
                $field:ident: $ty:ty = $spec:expr => $($path:ident).+ $(as $key:literal)?;
            )*
        }
        $( extra { $( $(#[$extra_attr:meta])* $extra:ident: $extra_ty:ty = $extra_init:expr; )* } )?
    ) => {
        $(#[$meta])*
        #[derive(Params)]
        pub struct $name {
            $( $(#[$attr])+ pub $field: $ty, )*
            $($( $(#[$extra_attr])* pub $extra: $extra_ty, )*)?
        }

        impl $crate::plugin::table::ParamGroup for $name {
            type Settings = $settings;

            fn build(prefix: &str, settings: &$settings) -> Self {
                use $crate::plugin::table::Spec;
                Self {
                    $( $field: Spec::<$ty, _>::build(&$spec, prefix, &settings.$($path).+), )*
                    $($( $extra: $extra_init, )*)?
                }
            }

            fn read(&self, settings: &mut $settings) {
                use $crate::plugin::table::Spec;
                $( Spec::<$ty, _>::read(&$spec, &self.$field, &mut settings.$($path).+); )*
            }

            fn changes(
                &self,
                settings: &$settings,
                out: &mut Vec<$crate::plugin::table::ParamChange>,
            ) {
                use $crate::plugin::table::Spec;
                $( Spec::<$ty, _>::changes(&$spec, &self.$field, &settings.$($path).+, out); )*
            }

            fn describe(
                &self,
                setting: &str,
                out: &mut Vec<(ParamPtr, $crate::plugin::table::Description)>,
            ) {
                use $crate::plugin::table::{Spec, join_path};
                $(
                    let renamed: Option<&str> = None $( .or(Some($key)) )?;
                    let path = join_path(setting, &[$(stringify!($path)),+], renamed);
                    Spec::<$ty, _>::describe(&$spec, &self.$field, &path, out);
                )*
            }
        }
    };
}

pub(crate) use param_table;
