//! From the user's options to a plan: which backend, devices, rate, period and input
//! connection, and the one place that turns it into nice-plug's wrapper arguments.

use super::LiveError;
use super::devices::{self, DeviceList};
use super::figures::Dropouts;
use super::jack_server::{self, JackInfo, JackMonitor};
use crate::dsp::ChainSettings;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the audio goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// JACK if a server runs, else ALSA if there is a sound card, else the file fallback.
    Auto,
    /// A running JACK server (or PipeWire's JACK).
    Jack,
    /// ALSA through cpal.
    Alsa,
    /// No audio device: the wrapper calls the plugin on a timer with silence (for GUI work).
    Dummy,
}

/// Channels in and out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One microphone in, the processed sound on both output channels.
    Mono,
    /// Two channels in, two out.
    Stereo,
}

impl Layout {
    pub fn inputs(self) -> usize {
        match self {
            Layout::Mono => 1,
            Layout::Stereo => 2,
        }
    }
    pub fn outputs(self) -> usize {
        2
    }
    /// The wrapper's `--audio-layout` (1-based index into the plugin's layouts).
    fn wrapper_index(self) -> usize {
        1 + match self {
            Layout::Mono => crate::plugin::LAYOUT_MONO_TO_STEREO,
            Layout::Stereo => crate::plugin::LAYOUT_STEREO,
        }
    }
}

/// What feeds Matchbox's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputConnection {
    /// JACK: the first physical capture port(s); ALSA: the default capture device.
    Default,
    /// Nothing (JACK: leave the input ports unconnected).
    None,
    /// JACK: this port (for both inputs of the stereo layout).
    Port(String),
}

impl std::str::FromStr for InputConnection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "" => return Err("an empty port name; give a JACK port or `none`".into()),
            "none" => InputConnection::None,
            port => InputConnection::Port(port.to_owned()),
        })
    }
}

/// Everything `matchbox live` was asked for.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub backend: Backend,
    pub layout: Layout,
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// Hz; ignored under JACK (the server's rate rules).
    pub sample_rate: Option<u32>,
    /// Frames; ignored under JACK (the server's period rules).
    pub period: Option<u32>,
    /// ALSA: the input ring, frames (default [`alsa_input_ring_frames`]).
    pub ring: Option<u32>,
    pub connect_input: InputConnection,
    /// The sound to run (the preset, with the live ceiling rule applied).
    pub settings: ChainSettings,
    /// Shown in the plan.
    pub preset_name: String,
    pub record: Option<PathBuf>,
    pub verbose: bool,
    /// Open no window (`--headless`, or no display to open one on).
    pub headless: bool,
    /// Why no window opens though `--headless` was not given (no display, or one that does
    /// not answer): a warning once the plan is printed.
    pub no_window: Option<String>,
    /// Options handed to the wrapper as they are (after `--`).
    pub wrapper_args: Vec<String>,
    /// `--demo`: a loop played instead of the input, made at the session's rate (Hz).
    pub demo: Option<fn(f32) -> Vec<f32>>,
    /// `--remote`: serve the remote-control page.
    pub remote: Option<super::remote::RemoteOptions>,
}

/// Default and accepted ALSA periods, frames.
pub const ALSA_DEFAULT_PERIOD: u32 = 128;
pub const ALSA_PERIODS: std::ops::RangeInclusive<u32> = 32..=2048;
/// Sample rate when neither the user nor a server chooses one, Hz.
pub const DEFAULT_SAMPLE_RATE: u32 = 48_000;
/// Accepted `--sample-rate` values, Hz.
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 8_000..=192_000;

/// The cpal input ring (the wrapper's `--input-latency`) for an ALSA period, unless `--ring`
/// says otherwise: two periods, measured on JACK-clocked ALSA devices (README, "live").
///
/// The input stream pushes a period into the ring and the output stream takes one out, each on
/// its own thread, so the ring must hold a period plus the jitter between the two callbacks;
/// the ring also inserts silence whenever it falls to a quarter of this level. At one and one
/// and a half periods it ran dry in some runs; at two, rarely (a late capture thread).
pub fn alsa_input_ring_frames(period: u32) -> u32 {
    2 * period
}

/// What the session will run.
pub struct Plan {
    pub backend: Backend,
    pub sample_rate: u32,
    pub period: u32,
    /// JACK: the server as it was found.
    jack_info: Option<JackInfo>,
    /// JACK: the client that becomes the monitor ([`Plan::start_monitor`]).
    jack_client: Option<jack::Client>,
    /// JACK: the port(s) to connect to Matchbox's input(s).
    connect: Vec<String>,
    /// ALSA: the devices chosen (name as the wrapper matches it, PCM id).
    alsa_input: Option<devices::Device>,
    alsa_output: Option<devices::Device>,
    /// ALSA: the cpal input ring, frames.
    ring_frames: u32,
}

/// The wrapper's options Matchbox sets from its own, with the option to use instead.
const OWN_OPTIONS: &[(&str, &str)] = &[
    ("--backend", "--backend"),
    ("-b", "--backend"),
    ("--audio-layout", "--layout"),
    ("-l", "--layout"),
    ("--sample-rate", "--sample-rate"),
    ("-r", "--sample-rate"),
    ("--period-size", "--period"),
    ("-p", "--period"),
    ("--input-device", "--input-device"),
    ("--output-device", "--output-device"),
    ("--connect-jack-inputs", "--connect-input"),
    ("--input-latency", "--ring"),
];

impl Plan {
    /// Decide backend, devices, rate and period; fail early with a clear reason.
    pub fn make(options: &LiveOptions) -> Result<Plan, LiveError> {
        check_wrapper_args(&options.wrapper_args)?;
        if !options.verbose {
            devices::quiet_alsa_on_this_thread();
        }
        if let Some(rate) = options.sample_rate
            && !SAMPLE_RATES.contains(&rate)
        {
            return Err(LiveError::Usage(format!(
                "--sample-rate {rate} is outside {}…{} Hz",
                SAMPLE_RATES.start(),
                SAMPLE_RATES.end()
            )));
        }
        match options.backend {
            Backend::Jack => match jack_server::connect() {
                Some(client) => Self::jack(client, options),
                None => Err(LiveError::Server(
                    "--backend jack: no JACK server is running (start one, e.g. \
                     `jackd -d alsa`, or use --backend alsa)"
                        .into(),
                )),
            },
            Backend::Auto => {
                if let Some(client) = jack_server::connect() {
                    return Self::jack(client, options);
                }
                match devices::sound_cards(Path::new(CARDS_FILE)) {
                    Some(cards) if !cards.is_empty() => Self::alsa(options),
                    Some(_) => Err(LiveError::NoAudio(format!(
                        "no sound card found: {CARDS_FILE} lists none, and no JACK server is \
                         running"
                    ))),
                    None => Err(LiveError::NoAudio(format!(
                        "no sound card found: {CARDS_FILE} does not exist (no ALSA driver \
                         loaded), and no JACK server is running"
                    ))),
                }
            }
            Backend::Alsa => Self::alsa(options),
            Backend::Dummy => Ok(Plan {
                backend: Backend::Dummy,
                sample_rate: options.sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE),
                period: check_period(options.period.unwrap_or(ALSA_DEFAULT_PERIOD))?,
                jack_info: None,
                jack_client: None,
                connect: Vec::new(),
                alsa_input: None,
                alsa_output: None,
                ring_frames: 0,
            }),
        }
    }

    fn jack(client: jack::Client, options: &LiveOptions) -> Result<Plan, LiveError> {
        if jack_server::plugin_client_exists(&client) {
            return Err(LiveError::Server(format!(
                "another Matchbox is already running on this JACK server (client \
                 `{}`); stop it first",
                jack_server::PLUGIN_CLIENT
            )));
        }
        let info = jack_server::info(&client);
        for (asked, server, what) in [
            (options.sample_rate, info.sample_rate, "--sample-rate"),
            (options.period, info.period, "--period"),
        ] {
            if let Some(asked) = asked.filter(|&a| a != server) {
                warn(&format!(
                    "{what} {asked} ignored: the JACK server runs at {server} (change it on the \
                     server)"
                ));
            }
        }
        let connect = match &options.connect_input {
            InputConnection::None => Vec::new(),
            InputConnection::Port(port) => {
                let sources = jack_server::source_ports(&client);
                if !sources.iter().any(|p| p == port) {
                    return Err(LiveError::DeviceNotFound(format!(
                        "--connect-input: no JACK port \"{port}\"; ports that can feed Matchbox: \
                         {} (or `none`)",
                        if sources.is_empty() {
                            "none".into()
                        } else {
                            sources.join(", ")
                        }
                    )));
                }
                vec![port.clone()]
            }
            InputConnection::Default => {
                let n = options.layout.inputs().min(info.capture_ports.len());
                if n == 0 {
                    warn(
                        "the JACK server has no capture port; Matchbox's input stays unconnected \
                         (connect one yourself, or --connect-input PORT)",
                    );
                }
                info.capture_ports[..n].to_vec()
            }
        };
        Ok(Plan {
            backend: Backend::Jack,
            sample_rate: info.sample_rate,
            period: info.period,
            jack_info: Some(info),
            jack_client: Some(client),
            connect,
            alsa_input: None,
            alsa_output: None,
            ring_frames: 0,
        })
    }

    fn alsa(options: &LiveOptions) -> Result<Plan, LiveError> {
        let period = check_period(options.period.unwrap_or(ALSA_DEFAULT_PERIOD))?;
        let sample_rate = options.sample_rate.unwrap_or(DEFAULT_SAMPLE_RATE);
        let ring_frames = check_ring(
            options.ring.unwrap_or(alsa_input_ring_frames(period)),
            period,
            sample_rate,
        )?;
        let list: DeviceList = devices::alsa_devices()
            .map_err(|e| LiveError::Server(format!("ALSA is not available: {e}")))?;
        let alsa_input = match options.connect_input {
            InputConnection::None => None,
            _ => Some(list.resolve(options.input_device.as_deref(), true)?.clone()),
        };
        let alsa_output = Some(
            list.resolve(options.output_device.as_deref(), false)?
                .clone(),
        );
        Ok(Plan {
            backend: Backend::Alsa,
            sample_rate,
            period,
            jack_info: None,
            jack_client: None,
            connect: Vec::new(),
            alsa_input,
            alsa_output,
            ring_frames,
        })
    }

    /// The wrapper's command line for this plan: its program name, then Matchbox's choices,
    /// then the user's own wrapper options.
    pub fn wrapper_args(&self, options: &LiveOptions) -> Result<Vec<String>, LiveError> {
        let mut args: Vec<String> = vec!["matchbox live".into()];
        let mut set = |option: &str, value: String| {
            args.push(option.into());
            args.push(value);
        };
        set(
            "--backend",
            match self.backend {
                Backend::Jack => "jack",
                Backend::Alsa => "alsa",
                Backend::Dummy | Backend::Auto => "dummy",
            }
            .into(),
        );
        set("--audio-layout", options.layout.wrapper_index().to_string());
        set("--sample-rate", self.sample_rate.to_string());
        set("--period-size", self.period.to_string());
        if !self.connect.is_empty() {
            set("--connect-jack-inputs", self.connect.join(","));
        }
        if let Some(d) = &self.alsa_input {
            set("--input-device", d.name.clone());
        }
        if let Some(d) = &self.alsa_output {
            set("--output-device", d.name.clone());
        }
        if self.backend == Backend::Alsa {
            set(
                "--input-latency",
                format!("{}", self.ring_frames as f64 / self.sample_rate as f64),
            );
        }
        args.extend(options.wrapper_args.iter().cloned());
        Ok(args)
    }

    /// JACK: start the monitoring client (xruns into `dropouts`, server shutdown).
    pub fn start_monitor(
        &mut self,
        dropouts: Arc<Dropouts>,
    ) -> Result<Option<JackMonitor>, LiveError> {
        self.jack_client
            .take()
            .map(|client| JackMonitor::start(client, dropouts))
            .transpose()
    }

    /// The lines printed before the session starts: backend, devices, rate, period, and the
    /// expected input→output latency with what it includes.
    pub fn describe(&self, options: &LiveOptions) -> String {
        let ms = |frames: u32| 1000.0 * frames as f64 / self.sample_rate as f64;
        let mut lines = vec![format!(
            "matchbox live: preset \"{}\", {} Hz, period {} frames ({:.2} ms), {}",
            options.preset_name,
            self.sample_rate,
            self.period,
            ms(self.period),
            match options.layout {
                Layout::Mono => "one input channel to both outputs",
                Layout::Stereo => "stereo in and out",
            }
        )];
        if options.demo.is_some() {
            lines.push("input: the built-in beatbox loop (--demo), not a device".into());
        }
        match self.backend {
            Backend::Jack => {
                let info = self.jack_info.as_ref();
                lines.push(format!(
                    "backend: JACK; input from {}; output to {}",
                    if self.connect.is_empty() {
                        "nothing (unconnected)".into()
                    } else {
                        self.connect.join(" + ")
                    },
                    info.map_or("system playback".into(), |i| {
                        i.playback_ports
                            .iter()
                            .take(2)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" + ")
                    })
                ));
                let hardware = info.map_or(0, |i| i.hardware_latency_frames);
                lines.push(format!(
                    "latency: Matchbox adds 0 frames (it runs inside the JACK cycle); input to \
                     output through the server: {hardware} frames ({:.2} ms), the capture and \
                     playback latency JACK reports for its ports",
                    ms(hardware)
                ));
            }
            Backend::Alsa => {
                let name = |d: &Option<devices::Device>| {
                    d.as_ref()
                        .map_or("none".into(), |d| format!("\"{}\" ({})", d.name, d.pcm_id))
                };
                lines.push(format!(
                    "backend: ALSA; input {}; output {}",
                    name(&self.alsa_input),
                    name(&self.alsa_output)
                ));
                let total = self.period + self.ring_frames + 2 * self.period;
                lines.push(format!(
                    "latency: Matchbox adds {} frames ({:.2} ms, its input ring); input to \
                     output about {total} frames ({:.2} ms): one capture period, the ring, and \
                     the two-period playback buffer, plus the converters of the device",
                    self.ring_frames,
                    ms(self.ring_frames),
                    ms(total)
                ));
            }
            Backend::Dummy | Backend::Auto => {
                lines.push("backend: dummy (no audio device: silence in, output discarded)".into())
            }
        }
        lines.join("\n")
    }
}

/// One warning line on stderr (escaped).
pub(super) fn warn(text: &str) {
    eprintln!("matchbox live: warning: {}", crate::text::escape(text));
}

/// Where ALSA lists the sound cards.
pub const CARDS_FILE: &str = "/proc/asound/cards";

fn check_period(period: u32) -> Result<u32, LiveError> {
    if ALSA_PERIODS.contains(&period) {
        Ok(period)
    } else {
        Err(LiveError::Usage(format!(
            "--period {period} is outside {}…{} frames",
            ALSA_PERIODS.start(),
            ALSA_PERIODS.end()
        )))
    }
}

/// `--ring`: at least one period (the output takes a period at a time), at most 1 s.
fn check_ring(ring: u32, period: u32, sample_rate: u32) -> Result<u32, LiveError> {
    if (period..=sample_rate).contains(&ring) {
        Ok(ring)
    } else {
        Err(LiveError::Usage(format!(
            "--ring {ring} is outside {period}…{sample_rate} frames (one period to 1 s)"
        )))
    }
}

/// Refuse wrapper options that Matchbox sets itself (two values for one thing).
fn check_wrapper_args(args: &[String]) -> Result<(), LiveError> {
    for arg in args {
        let option = arg.split('=').next().unwrap_or(arg);
        if let Some((_, ours)) = OWN_OPTIONS.iter().find(|(theirs, _)| *theirs == option) {
            return Err(LiveError::Usage(format!(
                "{option} is set by Matchbox; use `matchbox live {ours}` instead"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_is_one_period_to_one_second() {
        assert_eq!(check_ring(128, 128, 48_000).unwrap(), 128);
        assert_eq!(check_ring(48_000, 128, 48_000).unwrap(), 48_000);
        for (ring, period) in [(127, 128), (48_001, 128), (256, 512)] {
            let Err(LiveError::Usage(message)) = check_ring(ring, period, 48_000) else {
                panic!("--ring {ring} at period {period} was accepted");
            };
            assert!(
                message.contains(&format!("--ring {ring} is outside {period}…48000 frames")),
                "{message}"
            );
        }
        assert_eq!(alsa_input_ring_frames(128), 256);
    }

    #[test]
    fn wrapper_options_matchbox_sets_are_refused_with_its_own() {
        let refused = |args: &[&str]| match check_wrapper_args(
            &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        ) {
            Err(LiveError::Usage(message)) => message,
            other => panic!("{args:?}: {:?}", other.is_ok()),
        };
        assert!(refused(&["--input-latency", "0.01"]).contains("use `matchbox live --ring`"));
        assert!(refused(&["--input-latency=0.01"]).contains("use `matchbox live --ring`"));
        assert!(refused(&["-p", "64"]).contains("use `matchbox live --period`"));
        assert!(check_wrapper_args(&["--input-capacity".into(), "1".into()]).is_ok());
    }
}
