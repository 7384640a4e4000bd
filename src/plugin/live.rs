//! What the live monitor (`matchbox live`) hands the plugin.
//!
//! nice-plug's standalone wrapper builds the plugin itself with `Default`, so the live monitor
//! cannot pass it anything directly. Instead it [`install`]s a [`LiveSetup`] just before it
//! starts the wrapper, and [`super::Matchbox::default`] takes it (once). A plugin loaded by a
//! DAW never finds one and behaves as before.
//!
//! On the audio thread the plugin then only touches what the setup brought: the
//! [`ProcessLoad`] counters (atomics), the [`AudioTap`] (the recorder's lock-free ring),
//! through [`super::taps::Taps`], and the remote control's ring of parameter changes
//! ([`RemoteLink`]).

use super::params::{MatchboxParams, ParamChange};
use crate::dsp::{ChainMeters, ChainSettings};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Receives every processed block with the input it came from, on the audio thread. Must not
/// block, allocate or do I/O.
pub trait AudioTap: Send {
    /// `dry`: the input channels as they arrived (one for a mono input); `processed`: the
    /// output channels. All slices have the same length.
    fn block(&mut self, dry: &[&[f32]], processed: &[&[f32]]);
}

/// Time spent in the plugin's `process`, against the audio time it produced: the DSP load.
/// Written by the audio thread (atomics only), read and reset by one reporter thread.
#[derive(Debug, Default)]
pub struct ProcessLoad {
    /// Nanoseconds spent processing since the last [`ProcessLoad::take`].
    busy_ns: AtomicU64,
    /// Nanoseconds of audio processed since the last take.
    audio_ns: AtomicU64,
    /// Highest single-block load since the last take, parts per million.
    peak_ppm: AtomicU64,
    /// The last window's mean and worst load, parts per million (for the editor, which must
    /// not take the reporter's window).
    last_mean_ppm: AtomicU64,
    last_max_ppm: AtomicU64,
    /// Blocks processed since the start (never reset).
    blocks: AtomicU64,
    /// Blocks whose processing took more than half their duration, since the start (never
    /// reset): the only blocks of Matchbox's that could have made a cycle late.
    late_blocks: AtomicU64,
}

/// The load over one reporting window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadWindow {
    /// Processing time ÷ audio time over the window, 0…1 (above 1: slower than real time).
    pub mean: f64,
    /// The worst single block's processing time ÷ its duration.
    pub max: f64,
    /// Audio processed in the window, seconds.
    pub audio_s: f64,
}

impl ProcessLoad {
    /// Audio thread: one block of `frames` at `sample_rate` Hz took `busy`.
    pub fn record(&self, busy: Duration, frames: usize, sample_rate: f32) {
        let audio_ns = (frames as f64 * 1e9 / sample_rate as f64) as u64;
        let busy_ns = busy.as_nanos() as u64;
        self.busy_ns.fetch_add(busy_ns, Ordering::Relaxed);
        self.audio_ns.fetch_add(audio_ns, Ordering::Relaxed);
        if let Some(ppm) = (busy_ns * 1_000_000).checked_div(audio_ns) {
            self.peak_ppm.fetch_max(ppm, Ordering::Relaxed);
        }
        self.blocks.fetch_add(1, Ordering::Relaxed);
        if 2 * busy_ns > audio_ns {
            self.late_blocks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reporter: the load since the previous call, and start a new window.
    pub fn take(&self) -> LoadWindow {
        let busy = self.busy_ns.swap(0, Ordering::Relaxed) as f64;
        let audio = self.audio_ns.swap(0, Ordering::Relaxed) as f64;
        let peak = self.peak_ppm.swap(0, Ordering::Relaxed) as f64;
        let window = LoadWindow {
            mean: if audio > 0.0 { busy / audio } else { 0.0 },
            max: peak * 1e-6,
            audio_s: audio * 1e-9,
        };
        self.last_mean_ppm
            .store((window.mean * 1e6) as u64, Ordering::Relaxed);
        self.last_max_ppm.store(peak as u64, Ordering::Relaxed);
        window
    }

    /// The window the last [`ProcessLoad::take`] closed (mean and max only).
    pub fn last_window(&self) -> LoadWindow {
        LoadWindow {
            mean: self.last_mean_ppm.load(Ordering::Relaxed) as f64 * 1e-6,
            max: self.last_max_ppm.load(Ordering::Relaxed) as f64 * 1e-6,
            audio_s: 0.0,
        }
    }

    /// Blocks processed since the start.
    pub fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }

    /// Blocks since the start whose processing took more than half their duration.
    pub fn late_blocks(&self) -> u64 {
        self.late_blocks.load(Ordering::Relaxed)
    }
}

/// Dropouts, by who reported them (atomics: each reporter writes its own).
#[derive(Debug, Default)]
pub struct Dropouts {
    /// xruns the JACK server reported (its xrun callback).
    pub jack_xruns: AtomicU64,
    /// Capture under/overruns cpal reported.
    pub capture_xruns: AtomicU64,
    /// Playback under/overruns cpal reported.
    pub playback_xruns: AtomicU64,
}

impl Dropouts {
    /// All dropouts so far.
    pub fn total(&self) -> u64 {
        self.jack_xruns.load(Ordering::Relaxed)
            + self.capture_xruns.load(Ordering::Relaxed)
            + self.playback_xruns.load(Ordering::Relaxed)
    }
}

/// Everything the live monitor gives the plugin it is about to run.
pub struct LiveSetup {
    /// The sound to start with: the host parameters' defaults become these values exactly.
    pub settings: ChainSettings,
    /// Where `process` reports its time.
    pub load: Arc<ProcessLoad>,
    /// Dropout counts, for the editor to show.
    pub dropouts: Arc<Dropouts>,
    /// Run without an editor window (`--headless`, or no display).
    pub headless: bool,
    /// The editor window's state, which the live monitor watches: closing the window ends
    /// the session.
    #[cfg(feature = "gui")]
    pub editor_state: Arc<nice_plug_egui::EguiEditorState>,
    /// The recorder, when `--record` was given.
    pub tap: Option<Box<dyn AudioTap>>,
    /// A loop played instead of the input (`--demo`: no microphone needed), at the session's
    /// sample rate.
    pub demo: Option<Vec<f32>>,
    /// The remote control's end (`--remote`).
    pub remote: Option<RemoteLink>,
}

/// Parameter changes a remote-control page can have in flight at once: a preset (every
/// parameter of the sound) several times over.
pub const REMOTE_QUEUE: usize = 1024;

/// The plugin's end of the remote control (`matchbox live --remote`): changes arrive in a
/// lock-free ring and are applied at the start of the next `process` call, before the chain
/// reads the parameters, with no editor or host involved.
pub struct RemoteLink {
    /// Changes from the remote's server (the other end of the ring, [`remote_ring`]).
    pub changes: rtrb::Consumer<ParamChange>,
    /// What the plugin shares back with the server once built.
    pub shared: Arc<RemoteShared>,
}

/// What the plugin and the remote's server share.
#[derive(Default)]
pub struct RemoteShared {
    /// Set once, when the plugin is built.
    pub plugin: OnceLock<PluginHandles>,
    /// Pages are connected: keep the meters running (as an open editor does).
    pub watching: AtomicBool,
    /// Changes the audio thread has applied since the start (the server waits on it to say
    /// when a change has reached the audio).
    pub applied: AtomicU64,
}

/// The plugin's parts a remote control reads: parameters (values, ranges, texts), meters and
/// sample rate.
pub struct PluginHandles {
    pub params: Arc<MatchboxParams>,
    pub meters: Arc<ChainMeters>,
    /// Hz, as f32 bits.
    pub sample_rate: Arc<AtomicU32>,
}

/// A ring for [`REMOTE_QUEUE`] changes: the server's end and the plugin's [`RemoteLink`].
pub fn remote_ring() -> (rtrb::Producer<ParamChange>, RemoteLink) {
    let (producer, changes) = rtrb::RingBuffer::new(REMOTE_QUEUE);
    let link = RemoteLink {
        changes,
        shared: Arc::default(),
    };
    (producer, link)
}

impl RemoteLink {
    /// Audio thread: apply every change waiting, as the standalone wrapper applies its
    /// editor's. Returns whether anything changed. Never blocks or allocates.
    pub fn apply(&mut self, sample_rate: f32) -> bool {
        let mut any = false;
        let mut count = 0;
        while let Ok(change) = self.changes.pop() {
            // SAFETY: the server only sends pointers into the parameters this plugin shared
            // ([`PluginHandles::params`]), which live as long as the plugin.
            unsafe {
                if change
                    .param
                    ._internal_set_normalized_value(change.normalized)
                {
                    change.param._internal_update_smoother(sample_rate, false);
                    any = true;
                }
            }
            count += 1;
        }
        if count > 0 {
            self.shared.applied.fetch_add(count, Ordering::Release);
        }
        any
    }
}

static SETUP: Mutex<Option<LiveSetup>> = Mutex::new(None);

/// Hand `setup` to the next plugin instance this process builds (the standalone's one).
pub fn install(setup: LiveSetup) {
    *SETUP.lock().unwrap_or_else(|e| e.into_inner()) = Some(setup);
}

/// The setup [`install`]ed for this instance, if any (taken: a second instance gets none).
pub(super) fn take() -> Option<LiveSetup> {
    SETUP.lock().unwrap_or_else(|e| e.into_inner()).take()
}
