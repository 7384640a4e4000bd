//! The live figures: DSP load and dropouts, kept in atomics by whoever sees them (the plugin's
//! `process`, JACK's xrun callback, cpal's error reports, the recorder) and printed by one
//! reporter: a status line refreshed about once a second on a terminal, a log line every
//! 10 s otherwise, and a summary when the session ends.

use super::recorder::RecorderStats;
pub use crate::plugin::live::Dropouts;
use crate::plugin::live::{LoadWindow, ProcessLoad};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the reporter reads the counters (and refreshes a terminal's status line).
pub const WINDOW: Duration = Duration::from_secs(1);
/// How often the reporter writes a line when the output is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The JACK server's own DSP load, 0…1 (all clients and the server's work in a cycle).
pub type ServerLoad = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Everything the reporter reads.
#[derive(Clone)]
pub struct Figures {
    pub load: Arc<ProcessLoad>,
    pub dropouts: Arc<Dropouts>,
    pub recorder: Option<Arc<RecorderStats>>,
    pub sample_rate: u32,
    /// Under JACK: the server's load, for comparison with Matchbox's own.
    pub server_load: Option<ServerLoad>,
}

/// Figures over the whole session, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Audio processed, seconds.
    pub audio_s: f64,
    /// Mean DSP load over the session, 0…1.
    pub mean_load: f64,
    /// Worst one-second mean load.
    pub worst_window_load: f64,
    /// Worst single block's load.
    pub max_block_load: f64,
    /// Blocks processed, and how many of them took more than half their duration.
    pub blocks: u64,
    pub late_blocks: u64,
    /// Dropouts (xruns) over the session.
    pub dropouts: u64,
    /// Frames the recorder dropped.
    pub recorder_dropped: u64,
    /// Mean of the JACK server's load readings (one a second), when under JACK.
    pub server_load: Option<f64>,
}

/// The reporter thread.
pub struct Reporter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Totals>>,
}

impl Reporter {
    /// Start reporting `figures`. `terminal`: refresh one status line in place (else a line
    /// every [`LOG_EVERY`]).
    pub fn start(figures: Figures, terminal: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("matchbox-figures".into())
                .spawn(move || report(&figures, &stop, terminal))
                .ok()
        };
        Self { stop, thread }
    }

    /// Stop and return the session's totals.
    pub fn finish(mut self) -> Totals {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// Whether stdout is a terminal (status line in place) or a log (a line every 10 s).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

fn report(figures: &Figures, stop: &AtomicBool, terminal: bool) -> Totals {
    let mut totals = Totals::default();
    let mut busy_s = 0.0;
    let (mut server_sum, mut server_readings) = (0.0, 0u32);
    let mut last_line = Instant::now();
    let mut out = std::io::stdout();
    let mut tick = Instant::now();
    loop {
        // Sleep in short steps so stopping is prompt.
        while tick.elapsed() < WINDOW && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        tick = Instant::now();
        let window = figures.load.take();
        busy_s += window.mean * window.audio_s;
        totals.audio_s += window.audio_s;
        if let Some(read) = &figures.server_load {
            server_sum += read();
            server_readings += 1;
            totals.server_load = Some(server_sum / f64::from(server_readings));
        }
        totals.worst_window_load = totals.worst_window_load.max(window.mean);
        totals.max_block_load = totals.max_block_load.max(window.max);
        totals.blocks = figures.load.blocks();
        totals.late_blocks = figures.load.late_blocks();
        totals.dropouts = figures.dropouts.total();
        totals.recorder_dropped = figures
            .recorder
            .as_ref()
            .map_or(0, |r| r.dropped.load(Ordering::Relaxed));
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            let line = status_line(&window, &totals, figures);
            // A failed write (closed stdout) must not stop the audio: the figures still
            // reach the summary.
            if terminal {
                let _ = write!(out, "\r\x1b[2K{line}");
                let _ = out.flush();
            } else if last_line.elapsed() >= LOG_EVERY {
                let _ = writeln!(out, "{line}");
                last_line = Instant::now();
            }
        } else {
            if terminal {
                let _ = write!(out, "\r\x1b[2K");
                let _ = out.flush();
            }
            break;
        }
    }
    totals.mean_load = if totals.audio_s > 0.0 {
        busy_s / totals.audio_s
    } else {
        0.0
    };
    totals
}

/// `DSP 2.1 % (max 4.0 %) · xruns 0 · recording 00:12` for one window.
pub fn status_line(window: &LoadWindow, totals: &Totals, figures: &Figures) -> String {
    let mut line = format!(
        "DSP {:.1} % (max {:.1} %) · xruns {}",
        100.0 * window.mean,
        100.0 * window.max,
        totals.dropouts
    );
    if let Some(recorder) = &figures.recorder {
        let frames = recorder.frames.load(Ordering::Relaxed);
        let secs = frames / u64::from(figures.sample_rate.max(1));
        line.push_str(&format!(" · recording {:02}:{:02}", secs / 60, secs % 60));
        if totals.recorder_dropped > 0 {
            line.push_str(&format!(" ({} frames dropped)", totals.recorder_dropped));
        }
    }
    line
}

/// The summary printed when the session ends.
pub fn summary(totals: &Totals) -> String {
    let server = totals.server_load.map_or_else(String::new, |load| {
        format!(" (the whole JACK server: {:.2} %)", 100.0 * load)
    });
    format!(
        "ran {:.1} s of audio: DSP load mean {:.2} %, worst second {:.2} %, worst block \
         {:.2} %, blocks over half their length: {} of {}{server}; xruns {}",
        totals.audio_s,
        100.0 * totals.mean_load,
        100.0 * totals.worst_window_load,
        100.0 * totals.max_block_load,
        totals.late_blocks,
        totals.blocks,
        totals.dropouts
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_windows_add_up_to_the_session() {
        let load = Arc::new(ProcessLoad::default());
        // 1 s of 64-frame blocks at 48 kHz, each taking a tenth of its duration, one block 50 %.
        let block = Duration::from_nanos(64 * 1_000_000_000 / 48_000);
        for i in 0..750 {
            let busy = if i == 10 { block / 2 } else { block / 10 };
            load.record(busy, 64, 48_000.0);
        }
        let w = load.take();
        assert!((w.audio_s - 1.0).abs() < 1e-3, "{}", w.audio_s);
        assert!(
            (w.mean - (749.0 * 0.1 + 0.5) / 750.0).abs() < 1e-4,
            "{}",
            w.mean
        );
        assert!((w.max - 0.5).abs() < 1e-4, "{}", w.max);
        // The window resets; the block count does not.
        assert_eq!(load.take(), LoadWindow::default());
        assert_eq!(load.blocks(), 750);
        // Half the block is not late; a nanosecond more is.
        assert_eq!(load.late_blocks(), 0);
        load.record(block / 2 + Duration::from_nanos(1), 64, 48_000.0);
        assert_eq!((load.blocks(), load.late_blocks()), (751, 1));
    }

    #[test]
    fn the_reporter_sums_the_session() {
        let figures = Figures {
            load: Arc::new(ProcessLoad::default()),
            dropouts: Arc::new(Dropouts::default()),
            recorder: None,
            sample_rate: 48_000,
            server_load: Some(Arc::new(|| 0.05)),
        };
        let reporter = Reporter::start(figures.clone(), false);
        figures
            .load
            .record(Duration::from_millis(20), 48_000, 48_000.0);
        figures.dropouts.jack_xruns.fetch_add(2, Ordering::Relaxed);
        figures
            .dropouts
            .playback_xruns
            .fetch_add(1, Ordering::Relaxed);
        let totals = reporter.finish();
        assert!((totals.audio_s - 1.0).abs() < 1e-6);
        assert!((totals.mean_load - 0.02).abs() < 1e-6, "{totals:?}");
        assert_eq!(totals.dropouts, 3);
        assert_eq!(totals.server_load, Some(0.05));
        let text = summary(&totals);
        assert!(text.contains("mean 2.00 %"), "{text}");
        assert!(text.contains("over half their length: 0 of 1 ("), "{text}");
        assert!(
            text.contains("(the whole JACK server: 5.00 %); xruns 3"),
            "{text}"
        );
    }
}
