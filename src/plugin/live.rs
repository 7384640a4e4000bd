//! What the live monitor (`matchbox live`) hands the plugin.
//!
//! nice-plug's standalone wrapper builds the plugin itself with `Default`, so the live monitor
//! cannot pass it anything directly. Instead it [`install`]s a [`LiveSetup`] just before it
//! starts the wrapper, and [`super::Matchbox::default`] takes it (once). A plugin loaded by a
//! DAW never finds one and behaves as before.
//!
//! On the audio thread the plugin then only touches what the setup brought: the
//! [`ProcessLoad`] counters (atomics) and the [`AudioTap`] (the recorder's lock-free ring).

use crate::dsp::ChainSettings;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Blocks processed since the start (never reset).
    blocks: AtomicU64,
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
    }

    /// Reporter: the load since the previous call, and start a new window.
    pub fn take(&self) -> LoadWindow {
        let busy = self.busy_ns.swap(0, Ordering::Relaxed) as f64;
        let audio = self.audio_ns.swap(0, Ordering::Relaxed) as f64;
        let peak = self.peak_ppm.swap(0, Ordering::Relaxed) as f64;
        LoadWindow {
            mean: if audio > 0.0 { busy / audio } else { 0.0 },
            max: peak * 1e-6,
            audio_s: audio * 1e-9,
        }
    }

    /// Blocks processed since the start.
    pub fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }
}

/// Everything the live monitor gives the plugin it is about to run.
pub struct LiveSetup {
    /// The sound to start with: the host parameters' defaults become these values exactly.
    pub settings: ChainSettings,
    /// Where `process` reports its time.
    pub load: Arc<ProcessLoad>,
    /// The recorder, when `--record` was given.
    pub tap: Option<Box<dyn AudioTap>>,
    /// A loop played instead of the input (`--demo`: no microphone needed), at the session's
    /// sample rate.
    pub demo: Option<Vec<f32>>,
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

/// The audio thread's side of a [`LiveSetup`]: the load counters, the tap, and a copy of the
/// input (the chain processes in place) in buffers sized at activation.
pub(super) struct LiveTap {
    pub load: Arc<ProcessLoad>,
    tap: Option<Box<dyn AudioTap>>,
    dry: [Vec<f32>; 2],
    demo: Option<Demo>,
}

/// The demo loop and where it is.
struct Demo {
    samples: Vec<f32>,
    position: usize,
}

impl Demo {
    /// Fill the first `inputs` channels with the next samples of the loop.
    fn fill(&mut self, channels: &mut [&mut [f32]], inputs: usize) {
        let frames = channels.first().map_or(0, |c| c.len());
        if self.samples.is_empty() {
            return;
        }
        let start = self.position;
        for ch in channels.iter_mut().take(inputs) {
            let mut position = start;
            for x in ch.iter_mut() {
                *x = self.samples[position];
                position = (position + 1) % self.samples.len();
            }
        }
        self.position = (start + frames) % self.samples.len();
    }
}

/// Longest piece the dry copy holds; longer blocks are processed in pieces of this length
/// (the chain is block-size invariant, so this changes nothing audible), frames.
const DRY_FRAMES: usize = 8192;

impl LiveTap {
    pub fn new(setup: LiveSetup) -> Self {
        let frames = if setup.tap.is_some() { DRY_FRAMES } else { 0 };
        Self {
            load: setup.load,
            tap: setup.tap,
            dry: [vec![0.0; frames], vec![0.0; frames]],
            demo: setup.demo.map(|samples| Demo {
                samples,
                position: 0,
            }),
        }
    }

    /// Run `process` over `inputs` (the channels the chain sees) and `outputs` (all output
    /// channels, `inputs` first), handing each piece to the tap with the input it came from.
    /// `process(inputs, outputs)` must fill every output channel of the piece.
    pub fn run(
        &mut self,
        channels: &mut [&mut [f32]],
        inputs: usize,
        mut process: impl FnMut(&mut [&mut [f32]]),
    ) {
        if let Some(demo) = self.demo.as_mut() {
            demo.fill(channels, inputs);
        }
        let Some(tap) = self.tap.as_mut() else {
            process(channels);
            return;
        };
        let frames = channels.first().map_or(0, |c| c.len());
        let inputs = inputs.min(self.dry.len());
        let outputs = channels.len().min(2);
        let mut start = 0;
        while start < frames {
            let end = (start + DRY_FRAMES).min(frames);
            let n = end - start;
            for (dry, ch) in self.dry.iter_mut().zip(channels.iter()).take(inputs) {
                dry[..n].copy_from_slice(&ch[start..end]);
            }
            // Up to two channels each way: fixed arrays, no allocation.
            let mut piece: [&mut [f32]; 2] = [&mut [], &mut []];
            for (slot, ch) in piece.iter_mut().zip(channels.iter_mut()) {
                *slot = &mut ch[start..end];
            }
            process(&mut piece[..outputs]);
            let dry: [&[f32]; 2] = [&self.dry[0][..n], &self.dry[1][..n]];
            let processed: [&[f32]; 2] = [&piece[0][..], &piece[1][..]];
            tap.block(&dry[..inputs], &processed[..outputs]);
            start = end;
        }
    }
}
