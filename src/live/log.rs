//! The wrapper's log, read by Matchbox.
//!
//! nice-plug's standalone wrapper reports through `tracing`: its backend choice, every cpal
//! stream error (xruns included) and why it failed to start. The live monitor installs this
//! subscriber before the wrapper runs (the wrapper then keeps it: it installs its own only if
//! none is set), so that
//! - cpal's under/overruns become dropout counts instead of a line each;
//! - a device that goes away stops the session with a clear message instead of a silent hang;
//! - the reason a backend failed is kept for the one-line error Matchbox prints;
//! - the wrapper's chatter (stream configs, "No GUI available … blocking indefinitely", its
//!   advice about input connections, which Matchbox makes itself) stays out of the way unless
//!   `--verbose` asks for it.

use super::figures::Dropouts;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

/// Prefixes of the wrapper's cpal stream errors (nice-plug 0.4.2, `backend/cpal.rs`).
const CAPTURE_ERROR: &str = "Error during capture: ";
const PLAYBACK_ERROR: &str = "Error during playback: ";
/// The wrapper's complaint that Matchbox holds the Ctrl-C handler (`wrapper.rs`): expected.
const SIGNAL_HANDLER_TAKEN: &str = "Error setting close signal callback";

/// What the log told about the session, for the session to act on.
#[derive(Debug, Default)]
pub struct LogEvents {
    /// A stream error other than an under/overrun: the device is gone or failed.
    pub device_failed: Mutex<Option<String>>,
    /// The last error the wrapper logged (why a backend did not start, say).
    pub last_error: Mutex<Option<String>>,
    /// A thread of the wrapper panicked (it does when a cpal stream cannot be created).
    pub panicked: Mutex<Option<String>>,
}

impl LogEvents {
    pub fn device_failed(&self) -> Option<String> {
        self.device_failed.lock().ok()?.clone()
    }
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok()?.clone()
    }
    pub fn panicked(&self) -> Option<String> {
        self.panicked.lock().ok()?.clone()
    }

    /// Catch panics of any thread (the wrapper's audio thread `expect`s its cpal streams):
    /// the first one's message is kept for the supervisor, which ends the session with it in
    /// one line, instead of a backtrace and a process that hangs on.
    pub fn catch_panics(events: &Arc<LogEvents>) {
        let events = events.clone();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("a panic without a message");
            let place = info
                .location()
                .map_or_else(String::new, |l| format!(" ({}:{})", l.file(), l.line()));
            if let Ok(mut slot) = events.panicked.lock() {
                slot.get_or_insert_with(|| format!("{message}{place}"));
            }
        }));
    }
}

/// How one message of the wrapper is handled.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A capture under/overrun: count it.
    CaptureXrun,
    /// A playback under/overrun: count it.
    PlaybackXrun,
    /// A stream error that is not an under/overrun (device unplugged, stopped…).
    DeviceFailed(String),
    /// An error or warning worth a line.
    Show(String),
    /// Chatter: shown only with `--verbose`.
    Chatter(String),
}

/// Classify one message at `level`.
pub fn classify(level: Level, message: &str) -> Verdict {
    let xrun = cpal::Error::from(cpal::ErrorKind::Xrun).to_string();
    let rerouted = cpal::Error::from(cpal::ErrorKind::DeviceChanged).to_string();
    for (prefix, verdict) in [
        (CAPTURE_ERROR, Verdict::CaptureXrun),
        (PLAYBACK_ERROR, Verdict::PlaybackXrun),
    ] {
        if let Some(reason) = message.strip_prefix(prefix) {
            return if reason == xrun {
                verdict
            } else if reason == rerouted {
                Verdict::Show(message.to_owned())
            } else {
                Verdict::DeviceFailed(message.to_owned())
            };
        }
    }
    if level <= Level::WARN && !message.starts_with(SIGNAL_HANDLER_TAKEN) {
        Verdict::Show(message.to_owned())
    } else {
        Verdict::Chatter(message.to_owned())
    }
}

/// The subscriber.
pub struct WrapperLog {
    pub dropouts: Arc<Dropouts>,
    pub events: Arc<LogEvents>,
    pub verbose: bool,
}

impl WrapperLog {
    /// Make this the process' subscriber. False if one was set already (a second session in
    /// one process): the first one's counters then keep receiving the messages.
    pub fn install(self) -> bool {
        tracing::subscriber::set_global_default(self).is_ok()
    }
}

/// Collects an event's `message` field (and any others, `name=value`).
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl tracing::Subscriber for WrapperLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO || self.verbose
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = Message::default();
        event.record(&mut message);
        let level = *event.metadata().level();
        let line = match classify(level, &message.0) {
            Verdict::CaptureXrun => {
                self.dropouts.capture_xruns.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Verdict::PlaybackXrun => {
                self.dropouts.playback_xruns.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Verdict::DeviceFailed(text) => {
                if let Ok(mut slot) = self.events.device_failed.lock() {
                    slot.get_or_insert(text);
                }
                return;
            }
            Verdict::Show(text) => {
                if level == Level::ERROR
                    && let Ok(mut slot) = self.events.last_error.lock()
                {
                    *slot = Some(text.clone());
                }
                text
            }
            Verdict::Chatter(text) if self.verbose => text,
            Verdict::Chatter(_) => return,
        };
        let _ = writeln!(
            std::io::stderr(),
            "matchbox live: {}: {}",
            level.as_str().to_lowercase(),
            crate::text::escape(&line)
        );
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpal_stream_errors_are_sorted() {
        let xrun = cpal::Error::from(cpal::ErrorKind::Xrun).to_string();
        assert_eq!(
            classify(Level::ERROR, &format!("{CAPTURE_ERROR}{xrun}")),
            Verdict::CaptureXrun
        );
        assert_eq!(
            classify(Level::ERROR, &format!("{PLAYBACK_ERROR}{xrun}")),
            Verdict::PlaybackXrun
        );
        let gone = cpal::Error::from(cpal::ErrorKind::DeviceNotAvailable).to_string();
        assert!(matches!(
            classify(Level::ERROR, &format!("{PLAYBACK_ERROR}{gone}")),
            Verdict::DeviceFailed(_)
        ));
        assert!(matches!(
            classify(Level::INFO, "Using the JACK backend"),
            Verdict::Chatter(_)
        ));
        assert!(matches!(
            classify(Level::ERROR, "Could not initialize the JACK backend: x"),
            Verdict::Show(_)
        ));
    }
}
