//! Stage 3, the spectra and the target curve: long-term spectra of both takes over their
//! active frames ([`spectrum`]); the target EQ curve is their difference with the level offset
//! removed, unreliable regions masked, boosts capped. Without a source, the reference is
//! compared with [`neutral_source_db`] (low confidence).

use super::align::Takes;
use super::eq_fit::FitTarget;
use super::metrics::{self, LEVEL_BAND_HZ};
use super::spectrum::{self, PowerSpectrum};

/// Largest boost the EQ target may ask for, dB (a dry mic without energy somewhere cannot be
/// boosted into having it; Matchering has no cap, matching.md §1.5).
pub const MAX_BOOST_DB: f64 = 12.0;
/// Boost cap when there is no source recording and the target is a guess, dB.
pub const MAX_BOOST_LOW_CONFIDENCE_DB: f64 = 6.0;
/// Deepest cut the EQ target may ask for, dB.
pub const MAX_CUT_DB: f64 = -24.0;
/// Welch frames averaged at most per spectrum (strided evenly over the active frames): enough
/// for a smooth LTAS, and keeps a 3-minute file fast.
pub const MAX_WELCH_FRAMES: usize = 240;
/// Frames at or below this level count as digital silence, not as the noise floor, dB.
const DIGITAL_SILENCE_DB: f64 = -120.0;
/// A grid point is ignored at this many dB above its noise floor and counts fully this many
/// dB further up (matching.md §6.1(a)4: 6 and 18 dB).
const RELIABLE_FROM_DB: f64 = 6.0;
const RELIABLE_OVER_DB: f64 = 12.0;
/// Outside this band hearing and playback care less: its points weigh
/// [`OUTSIDE_BAND_WEIGHT`] (matching.md §6.1(d)), Hz.
const PERCEPTUAL_BAND_HZ: (f64, f64) = (40.0, 14_000.0);
const OUTSIDE_BAND_WEIGHT: f64 = 0.3;

/// The long-term spectra and the target the EQ stage fits.
pub struct Spectra {
    /// Smoothed LTAS of the reference and of the source (or the neutral prior), dB/Hz.
    pub reference_db: Vec<f64>,
    pub source_db: Vec<f64>,
    pub target: FitTarget,
}

/// How wide the spectra are smoothed: paired, the ratio of the two spectra is the transfer
/// function itself; unpaired, content must not show up as EQ.
pub fn smoothing(paired: bool) -> fn(f64) -> f64 {
    if paired {
        spectrum::smoothing_octaves_paired
    } else {
        spectrum::smoothing_octaves_unpaired
    }
}

/// Both takes' spectra (side by side, one per core) and the target between them, scaled by
/// `amount`. When paired, the very same frames of both (the reference's activity decides).
pub fn spectra(takes: &Takes<'_>, grid_hz: &[f64], amount: f64) -> Spectra {
    let &Takes {
        ref_mid,
        src_mid,
        ref_fs,
        src_fs,
        paired,
        ..
    } = takes;
    let (ref_starts, ref_quiet) = frame_starts(ref_mid, spectrum::fft_len_for(ref_fs));
    let (src_starts, src_quiet) = if paired {
        (ref_starts.clone(), ref_quiet.clone())
    } else {
        frame_starts(src_mid, spectrum::fft_len_for(src_fs))
    };
    let width = smoothing(paired);
    let spectra = |mid: &[f32], fs: f64, starts: &[usize], quiet: &[usize]| {
        let db = ltas_db(mid, fs, starts, grid_hz, width);
        let floor_db = spectrum::noise_floor_db(mid, fs, spectrum::fft_len_for(fs), quiet, grid_hz);
        (db, floor_db)
    };
    let ((reference_db, ref_floor_db), (source_db, src_floor_db)) = std::thread::scope(|scope| {
        let reference = scope.spawn(|| spectra(ref_mid, ref_fs, &ref_starts, &ref_quiet));
        let source = spectra(src_mid, src_fs, &src_starts, &src_quiet);
        (reference.join().expect("spectra do not panic"), source)
    });
    let rel_src = reliability(&source_db, &src_floor_db);
    let rel_ref = reliability(&reference_db, &ref_floor_db);
    let weights: Vec<f64> = grid_hz
        .iter()
        .zip(rel_src.iter().zip(&rel_ref))
        .map(|(&f, (a, b))| perceptual_weight(f) * a * b)
        .collect();
    let target = fit_target(
        grid_hz,
        &reference_db,
        &source_db,
        weights,
        MAX_BOOST_DB,
        amount,
    );
    Spectra {
        reference_db,
        source_db,
        target,
    }
}

/// Paired: a target from the reference chain's linear response instead of the spectra's
/// difference ([`phase::CrossSpectrum::linear_response_db`] on the pairing's excerpt), each
/// point weighted by how much of the reference a filter of the source explains there (the
/// coherence). Where a fast compressor's distortion fills the bands the chain cuts, the
/// spectra read a shallow cut and this the chain's own (recorded voice through Telephone:
/// 18 → 52 dB of waveform SNR). Not the first choice: as the only target it lost a chain
/// that is not Matchbox's (JUCE's compressor on beatbox, 27.5 → 21.1 dB), so the polish
/// tries it beside the other, and its check decides ([`super::polish::Trial`]).
pub fn linear_target(takes: &Takes<'_>, grid_hz: &[f64], amount: f64) -> FitTarget {
    let cross = super::eq_stage::paired_cross_spectrum(takes.src_mid, takes.ref_mid, takes.src_fs);
    let (response_db, coherence) = cross.linear_response_db(grid_hz, takes.src_fs, smoothing(true));
    let weights = grid_hz
        .iter()
        .zip(&coherence)
        .map(|(&f, c)| perceptual_weight(f) * c)
        .collect();
    let flat = vec![0.0; grid_hz.len()];
    fit_target(grid_hz, &response_db, &flat, weights, MAX_BOOST_DB, amount)
}

/// No source: the reference's spectrum against [`neutral_source_db`], boosts capped at
/// [`MAX_BOOST_LOW_CONFIDENCE_DB`].
pub fn spectra_without_source(ref_mid: &[f32], fs: f64, grid_hz: &[f64], amount: f64) -> Spectra {
    let (starts, quiet) = frame_starts(ref_mid, spectrum::fft_len_for(fs));
    let width = spectrum::smoothing_octaves_unpaired;
    let reference_db = ltas_db(ref_mid, fs, &starts, grid_hz, width);
    let floor_db =
        spectrum::noise_floor_db(ref_mid, fs, spectrum::fft_len_for(fs), &quiet, grid_hz);
    let source_db: Vec<f64> = grid_hz.iter().map(|&f| neutral_source_db(f)).collect();
    let weights: Vec<f64> = grid_hz
        .iter()
        .zip(reliability(&reference_db, &floor_db))
        .map(|(&f, r)| perceptual_weight(f) * r)
        .collect();
    let target = fit_target(
        grid_hz,
        &reference_db,
        &source_db,
        weights,
        MAX_BOOST_LOW_CONFIDENCE_DB,
        amount,
    );
    Spectra {
        reference_db,
        source_db,
        target,
    }
}

/// The documented neutral spectrum used when there is no source recording, dB/Hz up to an
/// offset: flat 100–500 Hz, falling 12 dB/octave below 60 Hz (mic and voice have little
/// there), and 5 dB/octave above 500 Hz — the long-term average speech spectrum's slope
/// (Byrne et al., JASA 96(4), 1994 [mem]), which beatbox shares above the kick region.
pub fn neutral_source_db(freq_hz: f64) -> f64 {
    let mut db = 0.0;
    if freq_hz < 60.0 {
        db -= 12.0 * (60.0 / freq_hz).log2();
    }
    if freq_hz > 500.0 {
        db -= 5.0 * (freq_hz / 500.0).log2();
    }
    db
}

/// Welch frame starts of `x` (length `fft_len`, hop half a frame): the active frames (M0
/// gate), at most [`MAX_WELCH_FRAMES`], evenly strided; and all non-silent frames, strided the
/// same way, for the noise floor.
pub fn frame_starts(x: &[f32], fft_len: usize) -> (Vec<usize>, Vec<usize>) {
    let hop = fft_len / 2;
    let levels: Vec<f64> = metrics::window_energies(x, fft_len, hop)
        .into_iter()
        .map(|e| 10.0 * (e / fft_len as f64 + 1e-12).log10())
        .collect();
    let starts: Vec<usize> = (0..levels.len()).map(|i| i * hop).collect();
    let gate = metrics::activity_gate_db(&levels);
    let pick = |min_db: f64| -> Vec<usize> {
        let chosen: Vec<usize> = starts
            .iter()
            .zip(&levels)
            .filter(|(_, l)| **l > min_db)
            .map(|(s, _)| *s)
            .collect();
        stride(&chosen, MAX_WELCH_FRAMES)
    };
    (pick(gate), pick(DIGITAL_SILENCE_DB))
}

/// At most `max` items of `v`, evenly spaced.
fn stride(v: &[usize], max: usize) -> Vec<usize> {
    if v.len() <= max {
        v.to_vec()
    } else {
        (0..max).map(|i| v[i * v.len() / max]).collect()
    }
}

/// Smoothed LTAS of `x` on `grid_hz` over the frames at `starts`.
pub fn ltas_db(
    x: &[f32],
    sample_rate: f64,
    starts: &[usize],
    grid_hz: &[f64],
    width_octaves: fn(f64) -> f64,
) -> Vec<f64> {
    let spectrum: PowerSpectrum =
        spectrum::welch_power(x, sample_rate, spectrum::fft_len_for(sample_rate), starts);
    spectrum::smoothed_db(&spectrum, grid_hz, width_octaves)
}

/// Reliability of each grid point from a spectrum and its noise floor: 0 at ≤
/// [`RELIABLE_FROM_DB`] above the floor, 1 at ≥ [`RELIABLE_OVER_DB`] further up.
fn reliability(signal_db: &[f64], floor_db: &[f64]) -> Vec<f64> {
    signal_db
        .iter()
        .zip(floor_db)
        .map(|(s, n)| ((s - n - RELIABLE_FROM_DB) / RELIABLE_OVER_DB).clamp(0.0, 1.0))
        .collect()
}

/// Perceptual weight of a grid point: equal per octave inside [`PERCEPTUAL_BAND_HZ`],
/// [`OUTSIDE_BAND_WEIGHT`] outside.
fn perceptual_weight(freq_hz: f64) -> f64 {
    let (lo, hi) = PERCEPTUAL_BAND_HZ;
    if !(lo..=hi).contains(&freq_hz) {
        OUTSIDE_BAND_WEIGHT
    } else {
        1.0
    }
}

/// Target = reference − source with the weighted mean over [`LEVEL_BAND_HZ`] removed (the
/// output gain sets the level; the EQ only the shape), clamped
/// to [`MAX_CUT_DB`]…`max_boost_db`, times `amount`.
pub fn target_curve(
    grid_hz: &[f64],
    reference_db: &[f64],
    source_db: &[f64],
    weights: &[f64],
    max_boost_db: f64,
    amount: f64,
) -> Vec<f64> {
    let diff: Vec<f64> = reference_db
        .iter()
        .zip(source_db)
        .map(|(r, s)| r - s)
        .collect();
    let (mut sum, mut total) = (0.0, 0.0);
    let (lo, hi) = LEVEL_BAND_HZ;
    for ((f, d), w) in grid_hz.iter().zip(&diff).zip(weights) {
        if (lo..=hi).contains(f) {
            sum += w * d;
            total += w;
        }
    }
    let offset = if total > 0.0 { sum / total } else { 0.0 };
    diff.iter()
        .map(|d| (d - offset).clamp(MAX_CUT_DB, max_boost_db) * amount)
        .collect()
}

/// The EQ fit's target on `grid_hz`: [`target_curve`] with its weights.
fn fit_target(
    grid_hz: &[f64],
    reference_db: &[f64],
    source_db: &[f64],
    weights: Vec<f64>,
    max_boost_db: f64,
    amount: f64,
) -> FitTarget {
    FitTarget {
        target_db: target_curve(
            grid_hz,
            reference_db,
            source_db,
            &weights,
            max_boost_db,
            amount,
        ),
        freqs_hz: grid_hz.to_vec(),
        weights,
    }
}
