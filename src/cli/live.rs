//! `matchbox live`, the default subcommand. Live monitoring (mic in → processed signal in
//! headphones) comes with the standalone build; until then this probes for audio devices and
//! says what it found. With no sound card at all it falls back, clearly, to rendering a
//! built-in beatbox loop through the preset to a WAV file, so the chain can still be heard.

use super::synth::beatbox_loop;
use super::{CliError, process_in_blocks};
use crate::audio_io::{Audio, write_wav_f32};
use crate::dsp::Chain;
use crate::preset;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Sample rate of the fallback render, Hz.
pub const FALLBACK_SAMPLE_RATE_HZ: u32 = 48_000;
/// Length of the fallback render: four bars at the loop's 100 bpm, seconds.
pub const FALLBACK_SECONDS: f32 = 9.6;
/// Block size of the fallback render, frames (a typical live buffer).
const FALLBACK_BLOCK: usize = 128;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = super::help_footer(
    "  matchbox live\n  matchbox live --preset Telephone --output phone-loop.wav\n"
))]
pub struct LiveArgs {
    /// Preset: a JSON file, or a factory preset's name.
    #[arg(long, short, value_name = "FILE|NAME", default_value = "Beatbox Punch")]
    pub preset: String,
    /// Where the no-sound-card fallback writes its render.
    #[arg(
        long,
        short,
        value_name = "WAV",
        default_value = "matchbox-live-fallback.wav"
    )]
    pub output: PathBuf,
    /// Render the fallback loop even when audio devices are present.
    #[arg(long)]
    pub fallback: bool,
}

/// What the device probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Devices {
    /// Whether the cards file exists at all (it does whenever ALSA is loaded).
    pub cards_file_exists: bool,
    /// Sound cards from `/proc/asound/cards` ("0: HDA Intel PCH").
    pub cards: Vec<String>,
    /// How a running JACK server was detected, if one was.
    pub jack: Option<String>,
}

impl Devices {
    pub fn any(&self) -> bool {
        !self.cards.is_empty() || self.jack.is_some()
    }
}

pub fn run(args: &LiveArgs) -> Result<(), CliError> {
    // Load the preset first: a typo in its name is worth reporting whatever the devices.
    let preset = preset::resolve(&args.preset)?;
    if args.fallback {
        say!("fallback requested (--fallback)");
        return write_fallback(args, &preset);
    }
    if !cfg!(target_os = "linux") {
        return Err(CliError::NotAvailable(
            "live monitoring is not supported on this platform in this build yet; \
             use `matchbox render` to process files, or `matchbox live --fallback`"
                .into(),
        ));
    }
    let cards_file = Path::new("/proc/asound/cards");
    let devices = probe(cards_file);
    if devices.any() {
        let mut found: Vec<String> = devices.cards.iter().map(|c| format!("card {c}")).collect();
        found.extend(devices.jack.iter().cloned());
        return Err(CliError::NotAvailable(format!(
            "found {}; live monitoring is not implemented in this build yet \
             (it comes with the Matchbox standalone). Use `matchbox render`, or \
             `matchbox live --fallback` to render the built-in loop",
            found.join(", ")
        )));
    }
    let cards = if devices.cards_file_exists {
        "lists none"
    } else {
        "does not exist (no ALSA driver loaded)"
    };
    say!(
        "no sound card found: {} {cards}, and no JACK server is running",
        cards_file.display()
    );
    write_fallback(args, &preset)
}

/// Render the loop through `preset` to `args.output` and say so.
fn write_fallback(args: &LiveArgs, preset: &preset::Preset) -> Result<(), CliError> {
    let preset_file: Vec<_> = preset::file_of(&args.preset)
        .map(|p| ("--preset", p))
        .into_iter()
        .collect();
    super::refuse_overwriting(&preset_file, &[("--output", &args.output)])?;
    let audio = render_loop(&preset.settings);
    write_wav_f32(&args.output, &audio)?;
    say!(
        "falling back: rendered {FALLBACK_SECONDS} s of a built-in beatbox loop through \"{}\" \
         to {} ({FALLBACK_SAMPLE_RATE_HZ} Hz, stereo, 32-bit float); play it with any audio player",
        preset.name,
        args.output.display()
    );
    Ok(())
}

/// The built-in loop, stereo, processed by a chain with `settings` in live-sized blocks.
pub fn render_loop(settings: &crate::dsp::ChainSettings) -> Audio {
    let mono = beatbox_loop(FALLBACK_SAMPLE_RATE_HZ as f32, FALLBACK_SECONDS);
    let mut channels = vec![mono.clone(), mono];
    let mut chain = Chain::new(settings, FALLBACK_SAMPLE_RATE_HZ as f32);
    process_in_blocks(&mut chain, &mut channels, FALLBACK_BLOCK, |_| {});
    Audio {
        sample_rate: FALLBACK_SAMPLE_RATE_HZ,
        channels,
    }
}

/// Sound cards listed in `cards_file` (normally `/proc/asound/cards`) and a running JACK
/// server.
pub fn probe(cards_file: &Path) -> Devices {
    let text = std::fs::read_to_string(cards_file);
    Devices {
        cards_file_exists: text.is_ok(),
        cards: text.map(|t| parse_asound_cards(&t)).unwrap_or_default(),
        jack: jack_server(),
    }
}

/// Card lines of `/proc/asound/cards`: ` 0 [PCH            ]: HDA-Intel - HDA Intel PCH`
/// becomes `0: HDA-Intel - HDA Intel PCH`. The continuation lines and the
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

/// A running JACK server: asks `jack_lsp` (with server auto-start disabled) when it is
/// installed, else looks for a JACK server socket in /dev/shm.
fn jack_server() -> Option<String> {
    let lsp = Command::new("jack_lsp")
        .env("JACK_NO_START_SERVER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match lsp {
        Ok(status) if status.success() => return Some("a running JACK server".into()),
        Ok(_) => return None,
        Err(_) => {} // jack_lsp not installed: look for the socket instead.
    }
    jack_socket(Path::new("/dev/shm")).map(|p| format!("a JACK server socket ({})", p.display()))
}

/// A socket named `jack_*` directly in `dir` (jackd2 puts its server sockets in /dev/shm).
#[cfg(unix)]
fn jack_socket(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|entry| {
            entry.file_name().to_string_lossy().starts_with("jack_")
                && entry.file_type().is_ok_and(|t| t.is_socket())
        })
        .map(|entry| entry.path())
}

#[cfg(not(unix))]
fn jack_socket(_dir: &Path) -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn a_cards_file_lists_cards() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cards");
        std::fs::write(&file, " 0 [Dummy          ]: Dummy - Dummy\n").unwrap();
        let found = probe(&file);
        assert_eq!(found.cards, ["0: Dummy - Dummy"]);
        assert!(found.cards_file_exists && found.any());
        let absent = probe(&dir.path().join("absent"));
        assert!(absent.cards.is_empty() && !absent.cards_file_exists);
    }

    #[cfg(unix)]
    #[test]
    fn only_sockets_count_as_jack() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jack_sem.0_default_system"), b"").unwrap();
        assert_eq!(jack_socket(dir.path()), None);
        let path = dir.path().join("jack_default_0_0");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(jack_socket(dir.path()), Some(path));
    }
}
