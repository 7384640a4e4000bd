//! The chain's meters: peaks and RMS levels the audio thread publishes and any thread reads
//! without locks, each reader with peaks of its own.

use std::sync::atomic::{AtomicU32, Ordering};

/// Levels for meters, readable from any thread without locks. The audio thread keeps the
/// peaks since each reader's last [`ChainMeters::take`] (so a meter read 30 times a second
/// misses no block) and publishes RMS levels smoothed over [`RMS_WINDOW_MS`]. Each
/// [`MeterReader`] has peaks of its own: one reading (and restarting) them takes nothing from
/// the other.
#[derive(Debug)]
pub struct ChainMeters {
    /// Peak |x| since each reader's last take: input, the compressor's input (after gain and
    /// EQ), output.
    pub(super) input_peak: Peaks,
    pub(super) compressor_input_peak: Peaks,
    pub(super) output_peak: Peaks,
    /// Largest reductions since each reader's last take, dB (≥ 0): compressor, safety ceiling.
    pub(super) gain_reduction_db: Peaks,
    pub(super) ceiling_reduction_db: Peaks,
    /// Mean squares smoothed over [`RMS_WINDOW_MS`].
    pub(super) input_mean_square: AtomicU32,
    pub(super) output_mean_square: AtomicU32,
}

/// Who reads the meters: each has its own peaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterReader {
    /// The editor's window.
    Editor = 0,
    /// The live monitor's remote-control pages (one reader for all of them).
    Remote = 1,
}

/// How many [`MeterReader`]s there are.
const READERS: usize = 2;

/// One non-negative f32 per reader, as bits.
type Peaks = [AtomicU32; READERS];

/// Level reported for silence, dBFS.
pub const METER_FLOOR_DB: f32 = -120.0;
/// Time constant of the RMS meters, ms (a VU-like 300 ms).
pub const RMS_WINDOW_MS: f64 = 300.0;

/// One reading of the meters, dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterReading {
    pub input_peak_db: f32,
    pub input_rms_db: f32,
    /// The level the compressor's static curve sees (after input gain and EQ), peak dBFS.
    pub compressor_input_db: f32,
    pub output_peak_db: f32,
    pub output_rms_db: f32,
    /// Compressor gain reduction, dB (≥ 0).
    pub gain_reduction_db: f32,
    /// Safety ceiling gain reduction, dB (≥ 0).
    pub ceiling_reduction_db: f32,
}

impl Default for ChainMeters {
    fn default() -> Self {
        let zero = || AtomicU32::new(0.0f32.to_bits());
        let peaks = || std::array::from_fn(|_| zero());
        Self {
            input_peak: peaks(),
            compressor_input_peak: peaks(),
            output_peak: peaks(),
            gain_reduction_db: peaks(),
            ceiling_reduction_db: peaks(),
            input_mean_square: zero(),
            output_mean_square: zero(),
        }
    }
}

/// `|x|` as dBFS, floored.
fn amplitude_db(a: f32) -> f32 {
    (20.0 * a.log10()).max(METER_FLOOR_DB)
}

/// Raise every reader's non-negative f32 in `cells` to at least `value` (non-negative floats
/// order like their bit patterns).
pub(super) fn raise(cells: &Peaks, value: f32) {
    let bits = value.max(0.0).to_bits();
    for cell in cells {
        // Most blocks raise nothing: a plain load then, and the read-modify-write (a
        // compare-exchange loop on x86) only when the value is higher. Should the reader take
        // the held value in between, it took one at least as high as this block's.
        if bits > cell.load(Ordering::Relaxed) {
            cell.fetch_max(bits, Ordering::Relaxed);
        }
    }
}

fn take_f32(cells: &Peaks, reader: MeterReader) -> f32 {
    f32::from_bits(cells[reader as usize].swap(0.0f32.to_bits(), Ordering::Relaxed))
}

fn load_f32(cell: &AtomicU32) -> f32 {
    f32::from_bits(cell.load(Ordering::Relaxed))
}

impl ChainMeters {
    /// The levels since `reader`'s previous take (its peaks and reductions restart from
    /// nothing; the other reader's are untouched).
    pub fn take(&self, reader: MeterReader) -> MeterReading {
        let rms_db = |ms: f32| (10.0 * ms.log10()).max(METER_FLOOR_DB);
        let take = |cells| take_f32(cells, reader);
        MeterReading {
            input_peak_db: amplitude_db(take(&self.input_peak)),
            input_rms_db: rms_db(load_f32(&self.input_mean_square)),
            compressor_input_db: amplitude_db(take(&self.compressor_input_peak)),
            output_peak_db: amplitude_db(take(&self.output_peak)),
            output_rms_db: rms_db(load_f32(&self.output_mean_square)),
            gain_reduction_db: take(&self.gain_reduction_db),
            ceiling_reduction_db: take(&self.ceiling_reduction_db),
        }
    }
}
