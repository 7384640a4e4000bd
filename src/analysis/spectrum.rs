//! Long-term average spectra: Welch power averaging over loudness-gated frames, read out on a
//! log-frequency grid with fractional-octave smoothing in the power domain.
//!
//! Method: matching.md §5 M1 (Hann window, power averaging over active frames) and §6.1(a)
//! (log grid with 1.02 spacing as AutoEq, 1/6-octave smoothing widening in the treble).

use realfft::num_complex::Complex;
use realfft::{FftNum, RealFftPlanner, RealToComplex};

/// Spacing of the analysis grid: each point is 2 % above the previous one
/// (AutoEq `DEFAULT_BIQUAD_OPTIMIZATION_F_STEP`), about 35 points per octave.
pub const GRID_RATIO: f64 = 1.02;
/// Lowest grid frequency, Hz.
pub const GRID_MIN_HZ: f64 = 20.0;
/// Highest grid frequency, Hz (also capped at [`TOP_FREQ_RATIO`]·fs).
pub const GRID_MAX_HZ: f64 = 20_000.0;
/// Highest frequency any analysis reads or fits, as a fraction of the sample rate: just below
/// where the DSP's bands stop following their prototypes
/// ([`crate::dsp::eq::design::MAX_FREQ_RATIO`], 0.46) and anti-aliasing filters roll off.
pub const TOP_FREQ_RATIO: f64 = 0.45;
/// Long-term spectra use FFT frames of about this long, seconds, within [`FFT_LEN_RANGE`].
const FFT_FRAME_S: f64 = 0.17;
const FFT_LEN_RANGE: (usize, usize) = (1024, 65_536);
/// Smoothing widths, octaves: fine below [`SMOOTHING_WIDENS_FROM_HZ`], widening to
/// [`SMOOTHING_TREBLE_OCTAVES`] at three times that frequency; unrelated takes at least
/// [`SMOOTHING_UNPAIRED_OCTAVES`]; the same performance [`SMOOTHING_PAIRED_OCTAVES`].
const SMOOTHING_OCTAVES: f64 = 1.0 / 6.0;
const SMOOTHING_WIDENS_FROM_HZ: f64 = 4000.0;
const SMOOTHING_TREBLE_OCTAVES: f64 = 1.0;
const SMOOTHING_UNPAIRED_OCTAVES: f64 = 1.0 / 3.0;
const SMOOTHING_PAIRED_OCTAVES: f64 = 1.0 / 12.0;

/// Frequencies `GRID_MIN_HZ·GRID_RATIO^i` up to `min(GRID_MAX_HZ, TOP_FREQ_RATIO·sample_rate)`,
/// Hz.
pub fn log_grid_hz(sample_rate: f64) -> Vec<f64> {
    let top_hz = GRID_MAX_HZ.min(TOP_FREQ_RATIO * sample_rate);
    let mut freqs = Vec::new();
    let mut f = GRID_MIN_HZ;
    while f <= top_hz {
        freqs.push(f);
        f *= GRID_RATIO;
    }
    freqs
}

/// FFT length for the long-term spectra at `sample_rate`: about 170 ms (8192 at 44.1/48 kHz),
/// so a 1/3-octave band at 50 Hz still spans two bins (matching.md M1).
pub fn fft_len_for(sample_rate: f64) -> usize {
    let (shortest, longest) = FFT_LEN_RANGE;
    ((sample_rate * FFT_FRAME_S) as usize)
        .next_power_of_two()
        .clamp(shortest, longest)
}

/// An averaged power spectrum on the FFT's linear bins.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerSpectrum {
    pub sample_rate: f64,
    pub fft_len: usize,
    /// Mean power per bin (bins 0…fft_len/2), scaled so the sum over bins is the signal's mean
    /// square (a full-scale sine sums to 0.5).
    pub power: Vec<f64>,
    /// How many frames were averaged.
    pub frames: usize,
}

impl PowerSpectrum {
    /// Width of one bin, Hz.
    pub fn bin_hz(&self) -> f64 {
        self.sample_rate / self.fft_len as f64
    }

    /// Power in `[lo_hz, hi_hz)`, treating bin k as covering `[k−½, k+½)` bins and splitting
    /// edge bins proportionally, so narrow bands interpolate instead of jumping.
    pub fn band_power(&self, lo_hz: f64, hi_hz: f64) -> f64 {
        let to_bin = |f: f64| (f / self.bin_hz() + 0.5).clamp(0.0, self.power.len() as f64);
        let (lo, hi) = (to_bin(lo_hz), to_bin(hi_hz));
        let mut sum = 0.0;
        let mut k = lo.floor() as usize;
        while (k as f64) < hi && k < self.power.len() {
            let overlap = (hi.min(k as f64 + 1.0) - lo.max(k as f64)).max(0.0);
            sum += overlap * self.power[k];
            k += 1;
        }
        sum
    }
}

/// Welch average of the frames of `signal` starting at `frame_starts` (each `fft_len` long,
/// Hann-windowed): mean power per bin. Frames running past the end are skipped.
pub fn welch_power(
    signal: &[f32],
    sample_rate: f64,
    fft_len: usize,
    frame_starts: &[usize],
) -> PowerSpectrum {
    let (power, frames, window_power) = welch_sum::<f64>(signal, fft_len, frame_starts);
    welch_mean(power, frames, window_power, sample_rate, fft_len)
}

/// [`welch_power`] with the FFTs in f32 and the first and the second half of the frames
/// summed on a core each, then added: for spectra read only as sums of many bins (the
/// metrics' third-octave bands). Each bin is within f32's rounding of the f64 spectrum (1e-6
/// relative, tested); the prediction's spectrum of a 3-minute take took 37 ms instead of 58
/// (timed inside the process, medians of 9 runs).
pub fn welch_power_f32_on_two_cores(
    signal: &[f32],
    sample_rate: f64,
    fft_len: usize,
    frame_starts: &[usize],
) -> PowerSpectrum {
    let halves = frame_starts.split_at(frame_starts.len() / 2);
    let [(mut power, frames, window_power), (rest, rest_frames, _)] =
        super::on_two_cores(&[halves.0, halves.1], |starts| {
            welch_sum::<f32>(signal, fft_len, starts)
        })
        .try_into()
        .expect("two halves");
    power.iter_mut().zip(rest).for_each(|(p, r)| *p += r);
    welch_mean(
        power,
        frames + rest_frames,
        window_power,
        sample_rate,
        fft_len,
    )
}

/// The frames' power per bin summed, how many frames there were, and the window's power.
fn welch_sum<T: FftNum + From<f32> + Into<f64>>(
    signal: &[f32],
    fft_len: usize,
    frame_starts: &[usize],
) -> (Vec<f64>, usize, f64) {
    let mut power = vec![0.0; fft_len / 2 + 1];
    let (frames, window_power) = for_each_frame::<T>(signal, fft_len, frame_starts, |spectrum| {
        for (p, c) in power.iter_mut().zip(spectrum) {
            let (re, im): (f64, f64) = (c.re.into(), c.im.into());
            *p += re * re + im * im;
        }
    });
    (power, frames, window_power)
}

/// [`welch_sum`]'s sum as a mean one-sided power per bin.
fn welch_mean(
    mut power: Vec<f64>,
    frames: usize,
    window_power: f64,
    sample_rate: f64,
    fft_len: usize,
) -> PowerSpectrum {
    // One-sided spectrum: bins other than DC and Nyquist stand for two.
    let scale = 1.0 / (frames.max(1) as f64 * window_power * fft_len as f64);
    let last = power.len() - 1;
    for (k, p) in power.iter_mut().enumerate() {
        *p *= if k == 0 || k == last {
            scale
        } else {
            2.0 * scale
        };
    }
    PowerSpectrum {
        sample_rate,
        fft_len,
        power,
        frames,
    }
}

/// Fraction of frames below which the per-frequency noise floor is read (minimum statistics:
/// a steady hiss is in every frame, the performance is not).
pub const FLOOR_PERCENTILE: f64 = 0.1;

/// Noise floor of `signal` on `grid_hz`, dB per Hz: at each grid point, the
/// [`FLOOR_PERCENTILE`] over frames of the frame's power density in a 1/3-octave window.
pub fn noise_floor_db(
    signal: &[f32],
    sample_rate: f64,
    fft_len: usize,
    frame_starts: &[usize],
    grid_hz: &[f64],
) -> Vec<f64> {
    let bin_hz = sample_rate / fft_len as f64;
    let edge = 2f64.powf(1.0 / 6.0);
    // Each grid point's window as bin indices [lo, hi), at least one bin wide.
    let windows: Vec<(usize, usize)> = grid_hz
        .iter()
        .map(|&f| {
            let lo = ((f / edge / bin_hz).round() as usize).min(fft_len / 2);
            let hi = ((f * edge / bin_hz).round() as usize).clamp(lo + 1, fft_len / 2 + 1);
            (lo, hi)
        })
        .collect();
    let mut per_point: Vec<Vec<f64>> = vec![Vec::with_capacity(frame_starts.len()); grid_hz.len()];
    let mut cumulative = vec![0.0; fft_len / 2 + 2];
    let window_power: f64 = hann(fft_len).iter().map(|w| w * w).sum();
    let scale = 2.0 / (window_power * fft_len as f64);
    for_each_frame::<f64>(signal, fft_len, frame_starts, |spectrum| {
        for (k, c) in spectrum.iter().enumerate() {
            cumulative[k + 1] = cumulative[k] + c.norm_sqr() * scale;
        }
        for (values, &(lo, hi)) in per_point.iter_mut().zip(&windows) {
            let density = (cumulative[hi] - cumulative[lo]) / ((hi - lo) as f64 * bin_hz);
            values.push(density);
        }
    });
    per_point
        .into_iter()
        .map(|mut v| {
            if v.is_empty() {
                return -200.0;
            }
            v.sort_by(f64::total_cmp);
            let p = v[((v.len() - 1) as f64 * FLOOR_PERCENTILE).round() as usize];
            10.0 * p.max(1e-20).log10()
        })
        .collect()
}

/// The spectrum of `x` zero-padded to the length of `forward` (at least `x.len()`).
pub fn padded_spectrum(forward: &dyn RealToComplex<f32>, x: &[f32]) -> Vec<Complex<f32>> {
    let mut input = forward.make_input_vec();
    input[..x.len()].copy_from_slice(x);
    let mut spectrum = forward.make_output_vec();
    forward
        .process(&mut input, &mut spectrum)
        .expect("sizes from plan");
    spectrum
}

/// Calls `each` with the spectrum of every Hann-windowed `fft_len`-sample frame of `signal`
/// starting at `frame_starts` (frames running past the end are skipped), computed in `T`
/// (f64 where a fit reads the bins; f32, in about half the time, where only sums of many
/// bins are read). Returns how many frames there were and the window's power Σw².
fn for_each_frame<T: FftNum + From<f32>>(
    signal: &[f32],
    fft_len: usize,
    frame_starts: &[usize],
    mut each: impl FnMut(&[Complex<T>]),
) -> (usize, f64) {
    let fft = RealFftPlanner::<T>::new().plan_fft_forward(fft_len);
    let window = hann(fft_len);
    let window_t: Vec<T> = window
        .iter()
        .map(|&w| T::from_f64(w).expect("finite"))
        .collect();
    let mut input = fft.make_input_vec();
    let mut output = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut frames = 0;
    for &start in frame_starts {
        let Some(frame) = signal.get(start..start + fft_len) else {
            continue;
        };
        for ((dst, &x), &w) in input.iter_mut().zip(frame).zip(&window_t) {
            *dst = T::from(x) * w;
        }
        fft.process_with_scratch(&mut input, &mut output, &mut scratch)
            .expect("buffer sizes come from the same plan");
        each(&output);
        frames += 1;
    }
    (frames, window.iter().map(|w| w * w).sum())
}

/// Periodic Hann window of `len` samples.
pub fn hann(len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / len as f64).cos())
        .collect()
}

/// Smoothing width at `freq_hz`, octaves: 1/6 octave up to 4 kHz, widening linearly in
/// log-frequency to 1 octave at 12 kHz and above (matching.md §6.1(a)2; fine treble detail is
/// not reliable enough to fit).
pub fn smoothing_octaves(freq_hz: f64) -> f64 {
    let t = ((freq_hz / SMOOTHING_WIDENS_FROM_HZ).log2() / 3f64.log2()).clamp(0.0, 1.0);
    SMOOTHING_OCTAVES + t * (SMOOTHING_TREBLE_OCTAVES - SMOOTHING_OCTAVES)
}

/// Smoothing for unrelated recordings: at least 1/3 octave, so the content of two different
/// takes (which notes, which drum pitches) does not show up as EQ; wider in the treble as
/// [`smoothing_octaves`].
pub fn smoothing_octaves_unpaired(freq_hz: f64) -> f64 {
    smoothing_octaves(freq_hz).max(SMOOTHING_UNPAIRED_OCTAVES)
}

/// Smoothing for the same performance measured on the same frames: the ratio of the two
/// spectra is the transfer function itself, so a narrow 1/12 octave keeps band shapes sharp.
pub fn smoothing_octaves_paired(_freq_hz: f64) -> f64 {
    SMOOTHING_PAIRED_OCTAVES
}

/// The spectrum on `grid_hz` in dB (10·log10 of power per Hz), each point the mean power
/// density over a `width_octaves(f)`-wide window centred on f. Never below −200 dB.
pub fn smoothed_db(
    spectrum: &PowerSpectrum,
    grid_hz: &[f64],
    width_octaves: fn(f64) -> f64,
) -> Vec<f64> {
    grid_hz
        .iter()
        .map(|&f| {
            let (lo, hi) =
                smoothing_window_hz(f, width_octaves, spectrum.bin_hz(), spectrum.sample_rate);
            let density = spectrum.band_power(lo, hi) / (hi - lo);
            10.0 * density.max(1e-20).log10()
        })
        .collect()
}

/// The window a smoothed spectrum averages at `freq_hz`, Hz: `width_octaves(f)` wide, centred
/// on f (in octaves), cut at Nyquist, and at least a bin (`bin_hz`) wide.
pub fn smoothing_window_hz(
    freq_hz: f64,
    width_octaves: fn(f64) -> f64,
    bin_hz: f64,
    sample_rate: f64,
) -> (f64, f64) {
    let f = freq_hz;
    let half = 2f64.powf(width_octaves(f) / 2.0);
    // A window reaching past Nyquist averages only what is there.
    let (lo, hi) = (f / half, (f * half).min(sample_rate / 2.0));
    // Below a bin's width the window would read one bin's noise; widen it.
    if hi - lo < bin_hz {
        (f - bin_hz / 2.0, f + bin_hz / 2.0)
    } else {
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq_hz: f64, amp: f64, fs: f64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| (amp * (std::f64::consts::TAU * freq_hz * n as f64 / fs).sin()) as f32)
            .collect()
    }

    /// The frames summed in two halves on two cores, in f32, give the one-core f64 spectrum
    /// bin for bin within f32's rounding (relative, bins 49 dB under the sine's included;
    /// measured 1.0e-6), and count the same frames (those running past the end skipped).
    #[test]
    fn the_two_core_welch_is_the_one_core_welch() {
        let fs = 48_000.0;
        let x: Vec<f32> = crate::analysis::test_noise(200_000, 9)
            .iter()
            .zip(sine(440.0, 0.5, fs, 200_000))
            .map(|(n, s)| 0.1 * n + s)
            .collect();
        let starts: Vec<usize> = (0..).step_by(1024).take_while(|&s| s < x.len()).collect();
        let one = welch_power(&x, fs, 4096, &starts);
        let two = welch_power_f32_on_two_cores(&x, fs, 4096, &starts);
        assert_eq!((one.frames, two.frames), (192, 192));
        let worst = one
            .power
            .iter()
            .zip(&two.power)
            .map(|(a, b)| (a - b).abs() / a)
            .fold(0.0f64, f64::max);
        assert!(worst <= 1e-5, "largest relative difference {worst:e}");
    }

    #[test]
    fn sine_power_sums_to_its_mean_square() {
        let fs = 48_000.0;
        let x = sine(1000.0, 0.5, fs, 48_000);
        let starts: Vec<usize> = (0..8).map(|i| i * 4096).collect();
        let s = welch_power(&x, fs, 8192, &starts);
        let total: f64 = s.power.iter().sum();
        // Mean square of a 0.5-amplitude sine is 0.125 (−9.03 dB).
        assert!((10.0 * total.log10() + 9.03).abs() < 0.05, "{total}");
        let band = s.band_power(900.0, 1100.0);
        assert!((band / total - 1.0).abs() < 1e-3);
    }

    #[test]
    fn white_noise_is_flat_within_half_a_db() {
        // Linear congruential noise: deterministic, white. Enough frames that even the lowest,
        // narrowest grid points (one or two bins at 20 Hz) average out their scatter: the
        // spread of a Welch estimate falls with the square root of the frames averaged.
        const FRAMES: usize = 2_000;
        let mut state = 12345u64;
        let x: Vec<f32> = (0..(FRAMES + 1) * 4096)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((state >> 32) as f64 / (1u64 << 31) as f64 - 1.0) as f32
            })
            .collect();
        let fs = 48_000.0;
        let starts: Vec<usize> = (0..FRAMES).map(|i| i * 4096).collect();
        let s = welch_power(&x, fs, 8192, &starts);
        let grid = log_grid_hz(fs);
        let db = smoothed_db(&s, &grid, smoothing_octaves);
        let mean = db.iter().sum::<f64>() / db.len() as f64;
        let worst = db.iter().map(|d| (d - mean).abs()).fold(0.0, f64::max);
        // Uniform noise on ±1 has mean square 1/3: density (1/3)/24 kHz = −48.6 dB/Hz.
        assert!((mean + 48.57).abs() < 0.05, "mean {mean}");
        eprintln!("white noise: mean {mean:.3} dB, worst {worst:.3} dB");
        assert!(worst < 0.5, "worst {worst}");
    }

    #[test]
    fn smoothing_widens_in_the_treble() {
        assert!((smoothing_octaves(1000.0) - 1.0 / 6.0).abs() < 1e-12);
        assert!((smoothing_octaves(12_000.0) - 1.0).abs() < 1e-9);
        assert!(smoothing_octaves(8000.0) > 0.5 && smoothing_octaves(8000.0) < 1.0);
        let grid = log_grid_hz(44_100.0);
        assert!((grid[1] / grid[0] - GRID_RATIO).abs() < 1e-12);
        assert!(*grid.last().unwrap() <= 0.45 * 44_100.0);
    }
}
