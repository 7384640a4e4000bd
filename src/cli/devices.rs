//! `matchbox devices`: the audio backends and devices the live monitor can use, named exactly
//! as `matchbox live` accepts them. With no sound card and no JACK server it says so and
//! exits 0.

use super::CliError;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox devices\n  matchbox live --input-device \"USB Audio Device, USB Audio\"\n"
))]
pub struct DevicesArgs {}

#[cfg(feature = "standalone")]
pub fn run(_args: &DevicesArgs) -> Result<(), CliError> {
    for line in report().lines() {
        say!("{line}");
    }
    Ok(())
}

#[cfg(not(feature = "standalone"))]
pub fn run(_args: &DevicesArgs) -> Result<(), CliError> {
    Err(CliError::NotAvailable(
        "this build has no live monitor (built without the `standalone` feature)".into(),
    ))
}

/// The whole listing.
#[cfg(feature = "standalone")]
pub fn report() -> String {
    use crate::live::CARDS_FILE;
    use crate::live::devices::{self, Device};
    use crate::live::jack_server;
    use cpal::traits::{DeviceTrait, HostTrait};
    use std::path::Path;

    devices::quiet_alsa_on_this_thread();
    let mut lines = Vec::new();
    match jack_server::connect() {
        Some(client) => {
            let info = jack_server::info(&client);
            lines.push(format!(
                "JACK: a server is running at {} Hz, period {} frames ({:.2} ms) \
                 (`matchbox live --backend jack`; rate and period are the server's)",
                info.sample_rate,
                info.period,
                1000.0 * info.period as f64 / info.sample_rate as f64
            ));
            let list = |ports: &[String]| {
                if ports.is_empty() {
                    "none".to_owned()
                } else {
                    ports.join(", ")
                }
            };
            lines.push(format!(
                "  capture ports (--connect-input PORT): {}",
                list(&jack_server::source_ports(&client))
            ));
            lines.push(format!("  playback ports: {}", list(&info.playback_ports)));
        }
        None => lines.push("JACK: no server is running".into()),
    }
    match devices::sound_cards(Path::new(CARDS_FILE)) {
        Some(cards) if !cards.is_empty() => {
            lines.push(format!("ALSA: sound cards: {}", cards.join("; ")))
        }
        Some(_) => lines.push(format!(
            "ALSA: no sound card found ({CARDS_FILE} lists none)"
        )),
        None => lines.push(format!(
            "ALSA: no sound card found ({CARDS_FILE} does not exist: no ALSA driver loaded)"
        )),
    }
    match devices::alsa_devices() {
        Ok(list) => {
            let host = cpal::host_from_id(cpal::HostId::Alsa).ok();
            // The device a listed name selects (the first of that name, as the wrapper does).
            let by_name = |input: bool, name: &str| {
                let host = host.as_ref()?;
                let mut all = if input {
                    host.input_devices().ok()?
                } else {
                    host.output_devices().ok()?
                };
                all.find(|d| d.description().is_ok_and(|desc| desc.name() == name))
            };
            for (input, devices, option) in [
                (true, &list.inputs, "--input-device"),
                (false, &list.outputs, "--output-device"),
            ] {
                let direction = if input { "input" } else { "output" };
                if devices.is_empty() {
                    lines.push(format!("  ALSA {direction} devices: none"));
                    continue;
                }
                // Plugin PCMs that need a configuration (jack, pulse, speex…) cannot be
                // opened as they are: counted, not listed.
                let usable: Vec<(&Device, String)> = devices
                    .iter()
                    .filter_map(|d| Some((d, formats(&by_name(input, &d.name)?, input)?)))
                    .collect();
                lines.push(format!(
                    "  ALSA {direction} devices ({option} NAME; * = default):{}",
                    if usable.is_empty() {
                        " none can be opened"
                    } else {
                        ""
                    }
                ));
                for (d, formats) in &usable {
                    lines.push(describe(d, formats));
                }
                let unusable = devices.len() - usable.len();
                if unusable > 0 {
                    lines.push(format!(
                        "    ({unusable} more ALSA PCMs cannot be opened as they are: plugins \
                         that need a configuration)"
                    ));
                }
            }
        }
        Err(e) => lines.push(format!("  ALSA devices: cannot be listed ({e})")),
    }

    /// `    * "Name"  1–2 ch, 44100–48000 Hz  (pcm default; also hides hw:…)`.
    fn describe(d: &Device, formats: &str) -> String {
        let mut line = format!(
            "    {} \"{}\"  {formats}  (ALSA PCM {})",
            if d.is_default { "*" } else { " " },
            d.name,
            d.pcm_id
        );
        if !d.shadowed.is_empty() {
            line.push_str(&format!(
                "; the same name also covers {}, which it does not select",
                d.shadowed.join(", ")
            ));
        }
        line
    }

    /// Channel counts and rates a device offers, e.g. `1–2 ch, 8000–192000 Hz`; `None` when
    /// it cannot be opened.
    fn formats(device: &cpal::Device, input: bool) -> Option<String> {
        let configs: Vec<cpal::SupportedStreamConfigRange> = if input {
            device
                .supported_input_configs()
                .map(|c| c.collect())
                .unwrap_or_default()
        } else {
            device
                .supported_output_configs()
                .map(|c| c.collect())
                .unwrap_or_default()
        };
        let channels = configs.iter().map(|c| c.channels());
        let (lo_ch, hi_ch) = (channels.clone().min(), channels.max());
        let lo_rate = configs.iter().map(|c| c.min_sample_rate()).min();
        let hi_rate = configs.iter().map(|c| c.max_sample_rate()).max();
        let (a, b, r, s) = (lo_ch?, hi_ch?, lo_rate?, hi_rate?);
        let ch = if a == b {
            format!("{a} ch")
        } else {
            format!("{a}–{b} ch")
        };
        Some(format!("{ch}, {r}–{s} Hz"))
    }
    lines.join("\n")
}
