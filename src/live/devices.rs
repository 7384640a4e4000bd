//! Audio devices: what `matchbox devices` lists and what `--input-device`/`--output-device`
//! accept.
//!
//! nice-plug's wrapper picks a cpal device by its name (the first line of ALSA's description),
//! and the first device of that name wins. Several ALSA PCMs of one card share a name
//! (`hw:`, `plughw:`, `front:`, `sysdefault:` of "HDA Intel PCH, ALC3246 Analog"), so only the
//! first of each name can be chosen: the list shows each name once, with the PCM that name
//! selects, and a name is accepted exactly as listed (or by that PCM id).

use super::LiveError;
use cpal::traits::{DeviceTrait, HostTrait};
use std::path::Path;

/// One selectable ALSA device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// The name the wrapper matches (`--input-device NAME`).
    pub name: String,
    /// The ALSA PCM this name selects (`default`, `sysdefault:CARD=PCH`, …).
    pub pcm_id: String,
    /// Other PCMs that share the name and so cannot be chosen by it.
    pub shadowed: Vec<String>,
    /// Whether this is the system's default for the direction.
    pub is_default: bool,
}

/// Input and output devices of the ALSA host, each name once, in enumeration order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceList {
    pub inputs: Vec<Device>,
    pub outputs: Vec<Device>,
}

/// The ALSA PCM cpal opens as the default device.
const DEFAULT_PCM: &str = "default";

/// Keep ALSA's own diagnostics ("ALSA lib confmisc.c:165: Cannot get card index for 0", printed
/// while probing PCMs that need a card) off this thread's stderr: Matchbox reports what matters
/// in its own words. alsa-lib's handler is per thread; `--verbose` leaves it alone.
pub fn quiet_alsa_on_this_thread() {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" fn silent(
            _file: *const std::ffi::c_char,
            _line: std::ffi::c_int,
            _function: *const std::ffi::c_char,
            _err: std::ffi::c_int,
            _fmt: *const std::ffi::c_char,
            _args: *mut alsa_sys::__va_list_tag,
        ) {
        }
        // SAFETY: installs a handler that reads nothing; alsa-lib calls it instead of printing.
        unsafe {
            alsa_sys::snd_lib_error_set_local(Some(silent));
        }
    }
}

/// Enumerate the ALSA host's devices (opens none of them).
pub fn alsa_devices() -> Result<DeviceList, String> {
    let host = cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| e.to_string())?;
    let describe = |d: &cpal::Device| {
        d.description().ok().map(|desc| {
            (
                desc.name().to_owned(),
                desc.driver().unwrap_or("").to_owned(),
            )
        })
    };
    let inputs = host.input_devices().map_err(|e| e.to_string())?;
    let outputs = host.output_devices().map_err(|e| e.to_string())?;
    Ok(DeviceList {
        inputs: unique_names(inputs.filter_map(|d| describe(&d))),
        outputs: unique_names(outputs.filter_map(|d| describe(&d))),
    })
}

/// Group `(name, pcm id)` pairs by name: the first PCM of a name is the one the name selects.
pub fn unique_names(devices: impl IntoIterator<Item = (String, String)>) -> Vec<Device> {
    let mut out: Vec<Device> = Vec::new();
    for (name, pcm_id) in devices {
        match out.iter_mut().find(|d| d.name == name) {
            Some(first) => first.shadowed.push(pcm_id),
            None => out.push(Device {
                is_default: pcm_id == DEFAULT_PCM,
                name,
                pcm_id,
                shadowed: Vec::new(),
            }),
        }
    }
    out
}

impl DeviceList {
    /// The name to hand the wrapper for `arg`: a listed name, or the PCM id a listed name
    /// selects. `None` for `arg`: the system's default device of the direction (ALSA's
    /// `default` PCM); without one (no sound card, no sound server) there is nothing to
    /// default to, and the error says so. `input` picks the direction.
    pub fn resolve(&self, arg: Option<&str>, input: bool) -> Result<&Device, LiveError> {
        let (devices, direction, option) = if input {
            (&self.inputs, "input", "--input-device")
        } else {
            (&self.outputs, "output", "--output-device")
        };
        let found = match arg {
            None => devices.iter().find(|d| d.is_default),
            Some(arg) => devices.iter().find(|d| d.name == arg || d.pcm_id == arg),
        };
        found.ok_or_else(|| {
            let wanted = arg.map_or_else(
                || format!("no default {direction} device (no sound card or sound server)"),
                |a| format!("no {direction} device \"{a}\""),
            );
            let mut listed: Vec<String> =
                devices.iter().map(|d| format!("\"{}\"", d.name)).collect();
            if listed.is_empty() {
                listed.push("none".into());
            }
            let shadowed = arg.and_then(|a| {
                devices
                    .iter()
                    .find(|d| d.shadowed.iter().any(|s| s == a))
                    .map(|d| {
                        format!(
                            " ({a} shares the name \"{}\" with {}, which is the one that name \
                             selects)",
                            d.name, d.pcm_id
                        )
                    })
            });
            LiveError::DeviceNotFound(format!(
                "{wanted}{}; {option} takes one of: {} (see `matchbox devices`)",
                shadowed.unwrap_or_default(),
                listed.join(", ")
            ))
        })
    }
}

/// Sound cards listed in `cards_file` (normally `/proc/asound/cards`): ` 0 [PCH ]: HDA-Intel -
/// HDA Intel PCH` becomes `0: HDA-Intel - HDA Intel PCH`. `None` when the file does not exist
/// (no ALSA driver loaded).
pub fn sound_cards(cards_file: &Path) -> Option<Vec<String>> {
    std::fs::read_to_string(cards_file)
        .ok()
        .map(|t| parse_asound_cards(&t))
}

/// The card lines of `/proc/asound/cards`; its continuation lines and the
/// `--- no soundcards ---` marker yield nothing.
pub fn parse_asound_cards(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (index, rest) = line.split_once(' ')?;
            index.parse::<u32>().ok()?;
            let (_, name) = rest.split_once("]: ")?;
            Some(format!("{index}: {}", name.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, p)| (n.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn shared_names_are_listed_once_and_say_what_they_hide() {
        let card = "HDA Intel PCH, ALC3246 Analog";
        let list = DeviceList {
            inputs: unique_names(pairs(&[
                ("Default ALSA Output", "default"),
                (card, "sysdefault:CARD=PCH"),
                (card, "front:CARD=PCH,DEV=0"),
                (card, "hw:CARD=PCH,DEV=0"),
                ("Discard all samples", "null"),
            ])),
            outputs: vec![],
        };
        assert_eq!(list.inputs.len(), 3);
        assert_eq!(list.inputs[1].pcm_id, "sysdefault:CARD=PCH");
        assert_eq!(list.inputs[1].shadowed.len(), 2);
        // The default, by name, and by the PCM id a name selects.
        assert_eq!(list.resolve(None, true).unwrap().pcm_id, "default");
        assert_eq!(list.resolve(Some(card), true).unwrap().name, card);
        assert_eq!(
            list.resolve(Some("null"), true).unwrap().name,
            "Discard all samples"
        );
        // A shadowed PCM is refused with the reason; an unknown name lists the choices.
        let e = list
            .resolve(Some("hw:CARD=PCH,DEV=0"), true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shares the name") && e.contains("sysdefault:CARD=PCH"),
            "{e}"
        );
        let e = list.resolve(Some("USB mic"), true).unwrap_err().to_string();
        assert!(
            e.contains("\"Default ALSA Output\"") && e.contains("matchbox devices"),
            "{e}"
        );
        let e = list.resolve(None, false).unwrap_err().to_string();
        assert!(
            e.starts_with("no default output device") && e.contains("none"),
            "{e}"
        );
        // Without a `default` PCM, nothing is picked for the user (not `null`, say).
        let bare = DeviceList {
            inputs: unique_names(pairs(&[("Discard all samples", "null")])),
            outputs: vec![],
        };
        assert!(bare.resolve(None, true).is_err());
    }

    #[test]
    fn asound_cards_are_parsed_and_no_cards_is_empty() {
        let two = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH\n\
                   \x20                     HDA Intel PCH at 0xf7f10000 irq 32\n\
                   \x201 [Device         ]: USB-Audio - USB Audio Device\n\
                   \x20                     C-Media USB Audio Device at usb-0000:00:14.0-2\n";
        assert_eq!(
            parse_asound_cards(two),
            [
                "0: HDA-Intel - HDA Intel PCH",
                "1: USB-Audio - USB Audio Device"
            ]
        );
        assert!(parse_asound_cards("--- no soundcards ---\n").is_empty());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sound_cards(&dir.path().join("absent")), None);
    }
}
