//! `matchbox live --record DIR`: the dry input and the processed output as two WAV files of the
//! same length, sample-aligned.
//!
//! The audio thread hands each block to [`RecorderTap`], which copies it into a lock-free ring
//! ([`rtrb`]) and never waits: when the ring is full the frames are counted as dropped and a
//! gap marker follows, so the writer thread fills the gap with silence in both files and they
//! stay aligned with each other and with the clock. Only the ring is shared.
//!
//! Files are written under temporary names (`.…part`) with their headers brought up to date
//! every second, and renamed into place when the recording stops, so a finished recording is
//! never half-written and an interrupted one is still a valid WAV file.

use super::LiveError;
use crate::plugin::live::AudioTap;
use hound::{SampleFormat, WavSpec, WavWriter};
use rtrb::{Consumer, Producer, RingBuffer};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How much audio the ring holds before frames are dropped, seconds: the writer thread may
/// stall this long (a slow disk) without losing anything.
pub const RING_SECONDS: f64 = 4.0;
/// How often the writer thread wakes to drain the ring.
const WRITER_POLL: Duration = Duration::from_millis(10);
/// How often the files' headers are brought up to date (so a crash leaves valid files).
const HEADER_EVERY: Duration = Duration::from_secs(1);
/// Most channels per side (the chain is mono or stereo).
const MAX_CHANNELS: usize = 2;

/// One item of the ring: a frame (dry channels, then processed channels), or the number of
/// frames the audio thread could not push before it.
#[derive(Debug, Clone, Copy)]
enum Item {
    Frame([f32; 2 * MAX_CHANNELS]),
    Gap(u64),
}

/// Shared between the tap, the writer and the reporter.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Frames written to each file (dropped ones included, as silence).
    pub frames: AtomicU64,
    /// Frames the audio thread could not hand over because the ring was full.
    pub dropped: AtomicU64,
}

/// The audio thread's end.
pub struct RecorderTap {
    ring: Producer<Item>,
    dry_channels: usize,
    out_channels: usize,
    /// Frames dropped since the last successful push (sent as a [`Item::Gap`]).
    pending_gap: u64,
    stats: Arc<RecorderStats>,
}

/// The writer thread's handle, owned by the live session.
pub struct Recorder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
    pub stats: Arc<RecorderStats>,
    /// Final paths of the dry and the processed file.
    pub dry_path: PathBuf,
    pub out_path: PathBuf,
    pub sample_rate: u32,
}

/// What a finished recording left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub dry_path: PathBuf,
    pub out_path: PathBuf,
    pub frames: u64,
    pub dropped: u64,
    pub sample_rate: u32,
}

impl AudioTap for RecorderTap {
    fn block(&mut self, dry: &[&[f32]], processed: &[&[f32]]) {
        let frames = processed.first().map_or(0, |c| c.len());
        let need = frames + usize::from(self.pending_gap > 0);
        let Ok(chunk) = self.ring.write_chunk_uninit(need) else {
            self.pending_gap += frames as u64;
            self.stats
                .dropped
                .fetch_add(frames as u64, Ordering::Relaxed);
            return;
        };
        let gap = std::mem::take(&mut self.pending_gap);
        let (d, o) = (self.dry_channels, self.out_channels);
        let items = (gap > 0)
            .then_some(Item::Gap(gap))
            .into_iter()
            .chain((0..frames).map(|i| {
                let mut frame = [0.0; 2 * MAX_CHANNELS];
                for (c, ch) in dry.iter().take(d).enumerate() {
                    frame[c] = ch[i];
                }
                for (c, ch) in processed.iter().take(o).enumerate() {
                    frame[MAX_CHANNELS + c] = ch[i];
                }
                Item::Frame(frame)
            }));
        chunk.fill_from_iter(items);
    }
}

impl Recorder {
    /// Create the two files in `dir` (made if missing) and start the writer thread. Returns the
    /// tap for the audio thread. Fails, before any audio runs, when `dir` cannot be written.
    pub fn start(
        dir: &Path,
        sample_rate: u32,
        dry_channels: usize,
        out_channels: usize,
    ) -> Result<(Recorder, RecorderTap), LiveError> {
        let (mut recorder, writer, tap) = Self::open(dir, sample_rate, dry_channels, out_channels)?;
        let thread = std::thread::Builder::new()
            .name("matchbox-recorder".into())
            .spawn(move || writer.run())
            .map_err(|e| {
                LiveError::Record(format!(
                    "{}: cannot start the writer thread: {e}",
                    dir.display()
                ))
            })?;
        recorder.thread = Some(thread);
        Ok((recorder, tap))
    }

    /// The files, the ring and both its ends, with no writer thread yet (a test pushes blocks
    /// before the writer runs, so that the ring fills at a known frame).
    fn open(
        dir: &Path,
        sample_rate: u32,
        dry_channels: usize,
        out_channels: usize,
    ) -> Result<(Recorder, Writer, RecorderTap), LiveError> {
        let cannot = |what: &str, e: &dyn std::fmt::Display| {
            LiveError::Record(format!("{}: {what}: {e}", dir.display()))
        };
        std::fs::create_dir_all(dir).map_err(|e| cannot("cannot create the folder", &e))?;
        let (dry_path, out_path) = free_names(dir, SystemTime::now());
        let open = |path: &Path,
                    channels: usize|
         -> Result<(PathBuf, WavWriter<BufWriter<File>>), LiveError> {
            let part = part_path(path);
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&part)
                .map_err(|e| cannot("cannot create a file to record into", &e))?;
            let spec = WavSpec {
                channels: channels as u16,
                sample_rate,
                bits_per_sample: 32,
                sample_format: SampleFormat::Float,
            };
            let writer = WavWriter::new(BufWriter::new(file), spec)
                .map_err(|e| cannot("cannot write", &e))?;
            Ok((part, writer))
        };
        let dry = open(&dry_path, dry_channels)?;
        let out = open(&out_path, out_channels).inspect_err(|_| {
            let _ = std::fs::remove_file(&dry.0);
        })?;
        let capacity = (sample_rate as f64 * RING_SECONDS) as usize;
        let (producer, consumer) = RingBuffer::new(capacity);
        let stats = Arc::new(RecorderStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            ring: consumer,
            files: [dry, out],
            finals: [dry_path.clone(), out_path.clone()],
            channels: [dry_channels, out_channels],
            stats: stats.clone(),
            stop: stop.clone(),
            gaps_written: 0,
        };
        let tap = RecorderTap {
            ring: producer,
            dry_channels,
            out_channels,
            pending_gap: 0,
            stats: stats.clone(),
        };
        let recorder = Recorder {
            stop,
            thread: None,
            stats,
            dry_path,
            out_path,
            sample_rate,
        };
        Ok((recorder, writer, tap))
    }

    /// Write what is left in the ring, finish both files and move them into place.
    pub fn finish(mut self) -> Result<Recording, LiveError> {
        self.stop.store(true, Ordering::SeqCst);
        let result = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err("the writer thread panicked".into()),
            None => Ok(()),
        };
        result.map_err(LiveError::Record)?;
        Ok(Recording {
            dry_path: self.dry_path.clone(),
            out_path: self.out_path.clone(),
            frames: self.stats.frames.load(Ordering::SeqCst),
            dropped: self.stats.dropped.load(Ordering::SeqCst),
            sample_rate: self.sample_rate,
        })
    }
}

struct Writer {
    ring: Consumer<Item>,
    /// Temporary path and writer of the dry and the processed file.
    files: [(PathBuf, WavWriter<BufWriter<File>>); 2],
    finals: [PathBuf; 2],
    channels: [usize; 2],
    stats: Arc<RecorderStats>,
    stop: Arc<AtomicBool>,
    /// Dropped frames already written as silence (from gap markers).
    gaps_written: u64,
}

impl Writer {
    fn run(mut self) -> Result<(), String> {
        let mut last_header = Instant::now();
        loop {
            // Read the flag first: whatever was pushed before it was set is drained below.
            let stopping = self.stop.load(Ordering::SeqCst);
            self.drain()?;
            if stopping {
                break;
            }
            if last_header.elapsed() >= HEADER_EVERY {
                for (path, writer) in &mut self.files {
                    writer
                        .flush()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                }
                last_header = Instant::now();
            }
            std::thread::sleep(WRITER_POLL);
        }
        // Frames dropped after the last block that got through have no marker yet: they end
        // both files as silence, so the files keep the session's length.
        let tail = self.stats.dropped.load(Ordering::SeqCst) - self.gaps_written;
        self.write_frames(&[0.0; 2 * MAX_CHANNELS], tail)?;
        let [(dry_part, dry), (out_part, out)] = self.files;
        for (part, writer, last) in [
            (&dry_part, dry, &self.finals[0]),
            (&out_part, out, &self.finals[1]),
        ] {
            writer
                .finalize()
                .map_err(|e| format!("{}: {e}", part.display()))?;
            std::fs::rename(part, last).map_err(|e| format!("{}: {e}", last.display()))?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), String> {
        while let Ok(item) = self.ring.pop() {
            match item {
                Item::Frame(frame) => self.write_frames(&frame, 1)?,
                Item::Gap(n) => {
                    self.write_frames(&[0.0; 2 * MAX_CHANNELS], n)?;
                    self.gaps_written += n;
                }
            }
        }
        Ok(())
    }

    /// `frame` (dry channels, then processed channels) `count` times into both files.
    fn write_frames(&mut self, frame: &[f32; 2 * MAX_CHANNELS], count: u64) -> Result<(), String> {
        let [(dry_part, dry), (out_part, out)] = &mut self.files;
        let error = |path: &Path, e: hound::Error| format!("{}: {e}", path.display());
        for _ in 0..count {
            for &x in &frame[..self.channels[0]] {
                dry.write_sample(x).map_err(|e| error(dry_part, e))?;
            }
            for &x in &frame[MAX_CHANNELS..MAX_CHANNELS + self.channels[1]] {
                out.write_sample(x).map_err(|e| error(out_part, e))?;
            }
        }
        self.stats.frames.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}

/// `name` with `.part` appended and a leading dot: where a recording grows until it is done.
fn part_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    path.with_file_name(format!(".{name}.part"))
}

/// `matchbox-YYYYMMDD-HHMMSS-dry.wav` / `-out.wav` (UTC) in `dir`, with `-2`, `-3`… added
/// when a recording of that second (or its temporary file) exists: nothing is overwritten.
fn free_names(dir: &Path, now: SystemTime) -> (PathBuf, PathBuf) {
    let stamp = utc_stamp(now);
    (1..)
        .map(|n| {
            let base = if n == 1 {
                format!("matchbox-{stamp}")
            } else {
                format!("matchbox-{stamp}-{n}")
            };
            (
                dir.join(format!("{base}-dry.wav")),
                dir.join(format!("{base}-out.wav")),
            )
        })
        .find(|(dry, out)| {
            [dry, out]
                .iter()
                .all(|p| !p.exists() && !part_path(p).exists())
        })
        .expect("an unused name exists")
}

/// `YYYYMMDD-HHMMSS` in UTC.
fn utc_stamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// <https://howardhinnant.github.io/date_algorithms.html#civil_from_days>).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::read_audio;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_791), (2026, 12, 4));
        let t = UNIX_EPOCH + Duration::from_secs(20_791 * 86_400 + 15 * 3600 + 42 * 60 + 7);
        assert_eq!(utc_stamp(t), "20261204-154207");
    }

    #[test]
    fn names_never_collide_with_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let t = UNIX_EPOCH;
        let (dry, out) = free_names(dir.path(), t);
        assert!(dry.ends_with("matchbox-19700101-000000-dry.wav"));
        std::fs::write(&out, b"x").unwrap();
        let (dry2, out2) = free_names(dir.path(), t);
        assert!(
            dry2.ends_with("matchbox-19700101-000000-2-dry.wav"),
            "{dry2:?}"
        );
        assert!(out2.ends_with("matchbox-19700101-000000-2-out.wav"));
    }

    /// Blocks pushed by the tap come out as two aligned files; a full ring drops whole
    /// blocks, counts them, and fills them with silence so both files keep the same length.
    #[test]
    fn files_stay_aligned_through_a_full_ring() {
        let dir = tempfile::tempdir().unwrap();
        let rate = 8_000; // a 32 000-frame ring
        let (mut recorder, writer, mut tap) = Recorder::open(dir.path(), rate, 1, 2).unwrap();
        // Frame i carries i·10⁻⁵: distinct, and inside the range audio files may hold.
        let block = 100;
        let value = |i: usize| i as f32 * 1e-5;
        let dry: Vec<f32> = (0..1_010 * block).map(value).collect();
        let out: Vec<f32> = dry.iter().map(|x| -x).collect();
        let mut blocks = dry.chunks(block).zip(out.chunks(block));
        // 1 000 blocks before the writer runs: the first 320 fill the ring, the other 680 are
        // dropped.
        for (dry, out) in blocks.by_ref().take(1_000) {
            tap.block(&[dry], &[out, dry]);
        }
        assert_eq!(recorder.stats.dropped.load(Ordering::SeqCst), 68_000);
        recorder.thread = Some(std::thread::spawn(move || writer.run()));
        let drained = Instant::now();
        while recorder.stats.frames.load(Ordering::SeqCst) < 32_000 {
            assert!(
                drained.elapsed() < Duration::from_secs(30),
                "the writer stalled"
            );
            std::thread::sleep(WRITER_POLL);
        }
        // The last 10 blocks get in, the first behind the gap's marker.
        for (dry, out) in blocks {
            tap.block(&[dry], &[out, dry]);
        }
        let recording = recorder.finish().unwrap();
        let pushed = 1_010 * block as u64;
        assert_eq!(recording.frames, pushed);
        assert_eq!(recording.dropped, 68_000);
        let dry = read_audio(&recording.dry_path).unwrap();
        let out = read_audio(&recording.out_path).unwrap();
        assert_eq!((dry.channels.len(), out.channels.len()), (1, 2));
        assert_eq!(dry.frames(), pushed as usize);
        assert_eq!(out.frames(), pushed as usize);
        for i in 0..dry.frames() {
            let x = dry.channels[0][i];
            if (32_000..100_000).contains(&i) {
                // A dropped frame: silence in both files.
                assert_eq!((x, out.channels[0][i], out.channels[1][i]), (0.0, 0.0, 0.0));
            } else {
                // Every kept frame sits at its own position: the value encodes its index.
                assert_eq!(x, value(i), "frame {i}");
                assert_eq!((out.channels[0][i], out.channels[1][i]), (-x, x));
            }
        }
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }
}
