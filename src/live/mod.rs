//! The live monitor: microphone in, processed sound in the headphones.
//!
//! Matchbox runs its own plugin inside nice-plug's standalone wrapper. This room is the front
//! end around it, in the manner of a small audio server's: options named after what the user
//! knows (backend, device, rate, period) are turned into the wrapper's arguments in one place
//! ([`Plan::wrapper_args`]); the JACK server is asked for its rate and period first (the wrapper
//! would prepare the plugin at its own defaults otherwise); the input is connected by default;
//! the figures (DSP load, xruns) are kept in atomics and printed by one reporter; the recorder
//! is a ring and a writer thread.
//!
//! See `shared/research/standalone.md` for the wrapper's behaviour this is built around.

pub mod devices;
pub mod figures;
pub mod jack_server;
pub mod log;
mod plan;
pub mod recorder;
pub mod remote;

pub use plan::{
    Backend, CARDS_FILE, InputConnection, Layout, LiveOptions, Plan, alsa_input_ring_frames,
};

use crate::plugin::Matchbox;
use crate::plugin::live::{LiveSetup, ProcessLoad};
use figures::{Dropouts, Figures, Reporter, Totals};
use recorder::{Recorder, Recording};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a live session could not start or ended badly. Each is one line for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiveError {
    /// `--backend auto` found neither a sound card nor a JACK server.
    #[error("{0}")]
    NoAudio(String),
    /// The JACK server is not running, refused us, or another Matchbox is on it.
    #[error("{0}")]
    Server(String),
    /// A named device (or JACK port) does not exist.
    #[error("{0}")]
    DeviceNotFound(String),
    /// The device or server went away, or failed, while running.
    #[error("{0}")]
    DeviceLost(String),
    /// The wrapper could not start the audio backend.
    #[error("{0}")]
    Failed(String),
    /// `--record DIR` cannot be written.
    #[error("recording: {0}")]
    Record(String),
    /// An option value outside what is allowed.
    #[error("{0}")]
    Usage(String),
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub totals: Totals,
    pub recording: Option<Recording>,
}

/// What the caller does with the end of a session: report it and end the process.
pub type Finish = Box<dyn Fn(Result<Summary, LiveError>) + Send + Sync>;

/// Run a live session until Ctrl-C, SIGTERM, a lost device or server, or a wrapper that fails
/// to start. Prints the plan first (stdout) and figures while running. Never returns: every
/// ending goes through [`Ending::end`], which finishes the recording, prints the summary and
/// hands the outcome to `finish`, which must report it and end the process ([`quit`]).
///
/// Why end the process rather than return: nice-plug 0.4.2's JACK backend stops by returning
/// `Quit` from its process callback, after which jackd 1.9.21 flags a process error every
/// cycle and the wrapper's `jack_deactivate` never returns (seen here; research note §2). So
/// Matchbox installs the Ctrl-C/SIGTERM handler itself (the wrapper's own attempt then fails,
/// harmlessly) and leaves the server by closing its connections as the process ends, which
/// JACK handles cleanly.
pub fn run(options: LiveOptions, finish: Finish) -> Result<std::convert::Infallible, LiveError> {
    let mut plan = Plan::make(&options)?;
    let load = Arc::new(ProcessLoad::default());
    let dropouts = Arc::new(Dropouts::default());
    let events = Arc::new(log::LogEvents::default());
    log::WrapperLog {
        dropouts: dropouts.clone(),
        events: events.clone(),
        verbose: options.verbose,
    }
    .install();
    log::LogEvents::catch_panics(&events);

    // Listen before anything starts, so a port in use stops the session at once.
    let remote = match &options.remote {
        Some(remote_options) => {
            let (ring, link) = crate::plugin::live::remote_ring();
            let remote =
                remote::Remote::start(remote_options, ring, &link, load.clone(), dropouts.clone())?;
            Some((remote, link))
        }
        None => None,
    };
    let (recorder, tap) = match &options.record {
        Some(dir) => {
            let (recorder, tap) = Recorder::start(
                dir,
                plan.sample_rate,
                options.layout.inputs(),
                options.layout.outputs(),
            )?;
            (Some(recorder), Some(Box::new(tap) as Box<_>))
        }
        None => (None, None),
    };
    let args = plan.wrapper_args(&options)?;
    let monitor = plan.start_monitor(dropouts.clone())?.map(Arc::new);
    let figures = Figures {
        load: load.clone(),
        dropouts: dropouts.clone(),
        recorder: recorder.as_ref().map(|r| r.stats.clone()),
        sample_rate: plan.sample_rate,
        server_load: monitor
            .clone()
            .map(|m| Arc::new(move || m.server_load()) as figures::ServerLoad),
    };
    let ending = Arc::new(Ending {
        recorder: Mutex::new(recorder),
        reporter: Mutex::new(None),
        ended: AtomicBool::new(false),
        finish,
    });
    {
        let ending = ending.clone();
        ctrlc::set_handler(move || ending.end(None))
            .map_err(|e| LiveError::Failed(format!("cannot catch Ctrl-C and SIGTERM: {e}")))?;
    }
    print(&plan.describe(&options));
    if let Some(why) = &options.no_window {
        plan::warn(why);
    }
    if let Some(Some(r)) = ending.recorder.lock().ok().as_deref() {
        print(&format!(
            "recording the dry input to {} and the output to {}",
            r.dry_path.display(),
            r.out_path.display()
        ));
    }
    let remote_link = remote.map(|(remote, link)| {
        print(&remote.announcement);
        if let Some(warning) = &remote.warning {
            plan::warn(warning);
        }
        link
    });
    print("running; Ctrl-C (or SIGTERM) stops");
    #[cfg(feature = "gui")]
    let editor_state = crate::editor::initial_state();
    let load_for_supervisor = load.clone();
    crate::plugin::live::install(LiveSetup {
        settings: options.settings.clone(),
        load,
        dropouts: dropouts.clone(),
        headless: options.headless,
        #[cfg(feature = "gui")]
        editor_state: editor_state.clone(),
        tap,
        demo: options.demo.map(|make| make(plan.sample_rate as f32)),
        remote: remote_link,
    });
    *ending.reporter.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(Reporter::start(figures, figures::stdout_is_terminal()));
    Supervisor {
        events: events.clone(),
        server: monitor.as_ref().map(|m| m.events.clone()),
        ending: ending.clone(),
        load: load_for_supervisor,
        #[cfg(feature = "gui")]
        editor: editor_state,
    }
    .start();

    let started = nice_plug::prelude::nice_export_standalone_with_args::<Matchbox, _>(args);

    // The wrapper returns only when it could not start (or, with a window, when the window
    // was closed).
    drop(monitor);
    ending.end((!started).then(|| {
        LiveError::Failed(events.last_error().map_or_else(
            || "the audio backend stopped with an error (run with --verbose for details)".into(),
            |e| format!("the audio backend failed: {e}"),
        ))
    }));
    unreachable!("Ending::end ends the process")
}

/// The one way a session ends.
struct Ending {
    recorder: Mutex<Option<Recorder>>,
    reporter: Mutex<Option<Reporter>>,
    ended: AtomicBool,
    finish: Finish,
}

impl Ending {
    /// Stop the figures, finish the recording, print the summary and hand the outcome to
    /// `finish` (which ends the process). A second call while the first is at work (Ctrl-C
    /// pressed again) ends the process at once.
    fn end(&self, error: Option<LiveError>) {
        if self.ended.swap(true, Ordering::SeqCst) {
            let _ = writeln!(
                std::io::stderr(),
                "matchbox live: interrupted again; quitting"
            );
            quit(1);
        }
        let totals = take(&self.reporter)
            .map(Reporter::finish)
            .unwrap_or_default();
        let recording = take(&self.recorder).map(Recorder::finish).transpose();
        print(&figures::summary(&totals));
        let outcome = recording.and_then(|recording| {
            if let Some(r) = &recording {
                print(&describe_recording(r));
            }
            error.map_or(Ok(Summary { totals, recording }), Err)
        });
        (self.finish)(outcome);
    }
}

/// End the process with `code` once stdout and stderr are flushed, without the libraries'
/// exit handlers: a session ends from the Ctrl-C or supervisor thread while the window's
/// thread may still be drawing with OpenGL and the backend's thread still calling the plugin,
/// and `exit(3)` would run Mesa's and LLVM's destructors under them (a CI run aborted that way
/// once, `malloc_consolidate(): unaligned fastbin chunk detected`, after the summary). By then
/// the recording is finished and every line printed; the kernel closes the JACK client's
/// sockets, which the server takes as the client leaving.
pub fn quit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    #[cfg(unix)]
    // SAFETY: _exit(2) ends the process; nothing after it runs.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

/// One line on stdout, control characters escaped (device names and paths come from outside).
/// A stdout that cannot be written (closed, full) does not stop the audio: the session goes
/// on, and its end is still reported by the exit code.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    for line in text.lines() {
        let _ = writeln!(out, "{}", crate::text::escape(line));
    }
    let _ = out.flush();
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// `recorded 12.0 s (576000 frames at 48000 Hz): DRY and OUT; 0 frames dropped`.
pub fn describe_recording(r: &Recording) -> String {
    format!(
        "recorded {:.1} s ({} frames at {} Hz): {} and {}; {} frames dropped",
        r.frames as f64 / f64::from(r.sample_rate.max(1)),
        r.frames,
        r.sample_rate,
        r.dry_path.display(),
        r.out_path.display(),
        r.dropped
    )
}

/// Ends the session when the device fails, the JACK server goes away, or the editor's window
/// is closed (the wrapper would then stop JACK its own way, which hangs: see [`run`]).
struct Supervisor {
    events: Arc<log::LogEvents>,
    server: Option<Arc<jack_server::ServerEvents>>,
    ending: Arc<Ending>,
    load: Arc<ProcessLoad>,
    #[cfg(feature = "gui")]
    editor: Arc<nice_plug_egui::EguiEditorState>,
}

/// How often the supervisor looks.
const SUPERVISE_EVERY: Duration = Duration::from_millis(50);
/// No block processed for this long, once audio ran, means the wrapper stopped the audio (it
/// does when its window closes; nice-plug does not tell the plugin, and the editor's "open"
/// flag stays set while the wrapper holds the window's handle).
const STALL: Duration = Duration::from_secs(2);

/// Watches the block count for a stop.
#[derive(Default)]
struct Stall {
    blocks: u64,
    since: Option<std::time::Instant>,
    window_seen: bool,
}

impl Stall {
    /// Whether processing has stopped: blocks ran, and the count has not moved for [`STALL`].
    fn stopped(&mut self, blocks: u64, window_open: bool) -> bool {
        self.window_seen |= window_open;
        if blocks != self.blocks || blocks == 0 {
            self.blocks = blocks;
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        since.elapsed() >= STALL
    }
}

impl Supervisor {
    fn start(self) {
        let _ = std::thread::Builder::new()
            .name("matchbox-supervisor".into())
            .spawn(move || self.watch());
    }

    fn watch(self) {
        let mut stall = Stall::default();
        let error = loop {
            #[cfg(feature = "gui")]
            let window = self.editor.is_open();
            #[cfg(not(feature = "gui"))]
            let window = false;
            if stall.stopped(self.load.blocks(), window) {
                if stall.window_seen {
                    // The window was closed: the wrapper stopped calling the plugin and is
                    // shutting its backend down (under JACK, forever).
                    self.ending.end(None);
                    return;
                }
                break LiveError::DeviceLost(format!(
                    "the audio stopped: no block processed for {:.0} s",
                    STALL.as_secs_f64()
                ));
            }
            if let Some(panic) = self.events.panicked() {
                break LiveError::Failed(format!("the audio backend failed: {panic}"));
            }
            if let Some(failure) = self.events.device_failed() {
                break LiveError::DeviceLost(format!(
                    "the audio device failed: {failure}; check it and run `matchbox devices`"
                ));
            }
            if self
                .server
                .as_ref()
                .is_some_and(|s| s.shut_down.load(Ordering::SeqCst))
            {
                break LiveError::DeviceLost(
                    "the JACK server stopped while Matchbox was running; start it again and \
                     restart `matchbox live`"
                        .into(),
                );
            }
            std::thread::sleep(SUPERVISE_EVERY);
        };
        self.ending.end(Some(error));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_blocks_that_stopped_after_running() {
        let mut stall = Stall::default();
        // Before any block: never a stall.
        assert!(!stall.stopped(0, false));
        assert!(!stall.stopped(0, false));
        assert!(!stall.stopped(10, true));
        assert!(!stall.stopped(11, false));
        // The count stops: a stall only after STALL has passed.
        assert!(!stall.stopped(11, false));
        stall.since = Some(std::time::Instant::now() - STALL);
        assert!(stall.stopped(11, false));
        assert!(stall.window_seen);
        // It moves again: no stall.
        assert!(!stall.stopped(12, false));
    }
}
