//! What every connection shares: the plugin's controls once it exists, the one way into the
//! audio thread (the ring's producer, behind a lock the audio thread never sees), and the
//! latest frames for the pages, made by one sampler thread ~25 times a second and taken by each
//! connection at its own pace (a slow page skips frames; nothing queues up).

use super::protocol::{self, Controls, LiveFigures, PresetChoice};
use crate::dsp::MeterReader;
use crate::plugin::live::{Dropouts, ProcessLoad, RemoteShared};
use crate::plugin::params::ParamChange;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often the pages get meters: 25 frames a second.
pub const FRAME: Duration = Duration::from_millis(40);
/// Longest wait for the audio thread to take a change before the page is told it is still
/// queued (the audio is stalled or stopped).
const APPLY_WAIT: Duration = Duration::from_millis(250);

/// The latest frames, each with a number that grows when it changes.
#[derive(Default, Clone)]
pub struct Frames {
    pub meters: Option<(u64, Arc<str>)>,
    pub values: Option<(u64, Arc<str>)>,
}

pub struct Hub {
    link: Arc<RemoteShared>,
    producer: Mutex<Producer>,
    controls: OnceLock<Controls>,
    frames: Mutex<Frames>,
    /// The preset a page chose last (shown by every page until another is chosen).
    preset: Mutex<Option<String>>,
    /// Open WebSocket connections (pages).
    pub pages: AtomicUsize,
    /// Open TCP connections, pages included.
    pub connections: AtomicUsize,
    load: Arc<ProcessLoad>,
    dropouts: Arc<Dropouts>,
    /// Numbers the frames.
    frame_count: AtomicU64,
    /// The sampler makes its frames at this instant plus whole [`FRAME`]s.
    epoch: Instant,
}

/// The ring's writing end and how many changes went in.
struct Producer {
    ring: rtrb::Producer<ParamChange>,
    pushed: u64,
}

/// Why changes did not go in.
#[derive(Debug, Clone, PartialEq)]
pub enum Busy {
    /// The ring has no room for them all: the audio thread is not taking changes.
    Full,
}

impl Hub {
    pub fn new(
        ring: rtrb::Producer<ParamChange>,
        link: Arc<RemoteShared>,
        load: Arc<ProcessLoad>,
        dropouts: Arc<Dropouts>,
    ) -> Hub {
        Hub {
            link,
            producer: Mutex::new(Producer { ring, pushed: 0 }),
            controls: OnceLock::new(),
            frames: Mutex::default(),
            preset: Mutex::default(),
            pages: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            load,
            dropouts,
            frame_count: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Time until the sampler's next frame (pages wake just after it).
    pub fn until_next_frame(&self) -> Duration {
        let since = self.epoch.elapsed().as_nanos() % FRAME.as_nanos();
        FRAME - Duration::from_nanos(since as u64)
    }

    fn next_frame(&self) -> u64 {
        self.frame_count.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The plugin's controls, once the plugin is built (it is, a moment after the session
    /// starts; `None` before).
    pub fn controls(&self) -> Option<&Controls> {
        if let Some(c) = self.controls.get() {
            return Some(c);
        }
        let plugin = self.link.plugin.get()?;
        Some(
            self.controls
                .get_or_init(|| Controls::new(plugin.params.clone())),
        )
    }

    /// The controls, waiting up to `limit` for the plugin.
    pub fn wait_for_controls(&self, limit: Duration) -> Option<&Controls> {
        let start = Instant::now();
        loop {
            if let Some(c) = self.controls() {
                return Some(c);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn sample_rate(&self) -> f32 {
        self.link.plugin.get().map_or(0.0, |p| {
            f32::from_bits(p.sample_rate.load(Ordering::Relaxed))
        })
    }

    /// Hand `changes` to the audio thread, all or none. Returns the count to wait for with
    /// [`Hub::wait_applied`].
    pub fn push(&self, changes: &[ParamChange]) -> Result<u64, Busy> {
        let mut p = self.producer.lock().unwrap_or_else(|e| e.into_inner());
        let n = changes.len();
        let chunk = p.ring.write_chunk_uninit(n).map_err(|_| Busy::Full)?;
        // One commit: the audio thread sees the whole batch or none of it.
        chunk.fill_from_iter(changes.iter().copied());
        p.pushed += n as u64;
        Ok(p.pushed)
    }

    /// Wait until the audio thread has applied `count` changes since the start; whether it
    /// did (within [`APPLY_WAIT`]).
    pub fn wait_applied(&self, count: u64) -> bool {
        let start = Instant::now();
        while self.link.applied.load(Ordering::Acquire) < count {
            if start.elapsed() > APPLY_WAIT {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    pub fn set_preset(&self, name: String) {
        *self.preset.lock().unwrap_or_else(|e| e.into_inner()) = Some(name);
        // Every page shows the new name at its next frame.
        self.frames.lock().unwrap_or_else(|e| e.into_inner()).values = None;
    }

    /// The latest frames (cheap: two reference counts).
    pub fn frames(&self) -> Frames {
        self.frames
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The first message for a new page.
    pub fn hello(&self, controls: &Controls, presets: &[PresetChoice]) -> String {
        protocol::hello_message(controls, presets, self.sample_rate())
    }

    /// Start the sampler thread: while pages are connected, the meters run and their frames
    /// (and the values, when they change) are made every [`FRAME`].
    pub fn start_sampler(self: &Arc<Self>) {
        let hub = self.clone();
        let _ = std::thread::Builder::new()
            .name("matchbox-remote-frames".into())
            .spawn(move || hub.sample());
    }

    fn sample(&self) {
        let mut last_values: Option<Vec<f32>> = None;
        loop {
            std::thread::sleep(self.until_next_frame());
            let watching = self.pages.load(Ordering::Relaxed) > 0;
            self.link.watching.store(watching, Ordering::Relaxed);
            let (Some(controls), Some(plugin), true) =
                (self.controls(), self.link.plugin.get(), watching)
            else {
                last_values = None;
                continue;
            };
            let reading = plugin.meters.take(MeterReader::Remote);
            let figures = LiveFigures {
                load: self.load.last_window(),
                xruns: self.dropouts.total(),
            };
            let meters: Arc<str> = protocol::meters_message(&reading, &figures).into();
            let snapshot = controls.snapshot();
            let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
            if frames.values.is_none() || last_values.as_ref() != Some(&snapshot) {
                frames.values = Some((self.next_frame(), self.values_text(controls)));
                last_values = Some(snapshot);
            }
            frames.meters = Some((self.next_frame(), meters));
        }
    }

    /// The values message: every control's value and the preset's name.
    fn values_text(&self, controls: &Controls) -> Arc<str> {
        let preset = self
            .preset
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        controls.values_message(preset.as_deref()).into()
    }

    /// Make the values frame now (after a page's change was applied: every page shows it at
    /// its next frame without waiting for the sampler).
    pub fn refresh_values(&self) {
        if let Some(controls) = self.controls() {
            let text = self.values_text(controls);
            let seq = self.next_frame();
            self.frames.lock().unwrap_or_else(|e| e.into_inner()).values = Some((seq, text));
        }
    }
}
