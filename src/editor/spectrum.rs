//! The spectrum analyzer behind the EQ curves: the input and output, as the audio thread hands
//! them over through the scope ring, windowed, transformed with realfft on the GUI thread,
//! smoothed over 1/6 octave and over time.

use super::geometry::{FREQ_MAX_HZ, FREQ_MIN_HZ};
use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// FFT length: 85 ms at 48 kHz, 11.7 Hz between bins (fine enough for 1/6 octave from
/// about 100 Hz up; below, neighbouring bins are interpolated).
pub const FFT_SIZE: usize = 4096;
/// New samples between two transforms (75 % overlap).
pub const HOP: usize = FFT_SIZE / 4;
/// Points drawn between 20 Hz and 20 kHz.
pub const POINTS: usize = 240;
/// Width of the smoothing band, octaves.
pub const SMOOTHING_OCTAVES: f32 = 1.0 / 6.0;
/// How fast a falling level falls on screen, dB per second (rises are immediate).
pub const FALL_DB_PER_S: f32 = 30.0;
/// Level shown for silence, dBFS.
pub const FLOOR_DB: f32 = -100.0;

/// One analyzed signal (input or output).
struct Channel {
    history: Vec<f32>,
    display_db: Vec<f32>,
}

/// The analyzer's state on the GUI thread.
pub struct Analyzer {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Input and output.
    channels: [Channel; 2],
    /// Write position in the histories (shared: the two are pushed together).
    position: usize,
    /// Samples pushed since the last transform.
    fresh: usize,
    sample_rate: f32,
    /// Display frequencies, Hz.
    pub freqs: Vec<f32>,
    scratch_in: Vec<f32>,
    scratch_out: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f32>,
}

impl Analyzer {
    pub fn new(sample_rate: f32) -> Analyzer {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_SIZE);
        let window = (0..FFT_SIZE)
            .map(|i| {
                let phase = std::f32::consts::TAU * i as f32 / FFT_SIZE as f32;
                0.5 - 0.5 * phase.cos()
            })
            .collect();
        let channel = || Channel {
            history: vec![0.0; FFT_SIZE],
            display_db: vec![FLOOR_DB; POINTS],
        };
        let freqs = (0..POINTS)
            .map(|i| FREQ_MIN_HZ * (FREQ_MAX_HZ / FREQ_MIN_HZ).powf(i as f32 / (POINTS - 1) as f32))
            .collect();
        Analyzer {
            scratch_in: fft.make_input_vec(),
            scratch_out: fft.make_output_vec(),
            power: vec![0.0; FFT_SIZE / 2 + 1],
            fft,
            window,
            channels: [channel(), channel()],
            position: 0,
            fresh: 0,
            sample_rate,
            freqs,
        }
    }

    /// Follow a new sample rate (the plugin was reactivated): the history restarts.
    pub fn set_sample_rate(&mut self, sample_rate: f32) {
        if sample_rate != self.sample_rate && sample_rate > 0.0 {
            *self = Analyzer::new(sample_rate);
        }
    }

    /// One frame from the scope: input and output samples.
    pub fn push(&mut self, input: f32, output: f32) {
        self.channels[0].history[self.position] = input;
        self.channels[1].history[self.position] = output;
        self.position = (self.position + 1) % FFT_SIZE;
        self.fresh += 1;
    }

    /// Transform if a hop's worth of samples arrived; let the display fall by `dt_s` seconds'
    /// worth otherwise. Returns whether anything on screen changed.
    pub fn update(&mut self, dt_s: f32) -> bool {
        if self.fresh < HOP {
            return self.fall(dt_s);
        }
        self.fresh = 0;
        let bin_hz = self.sample_rate / FFT_SIZE as f32;
        let fall = FALL_DB_PER_S * dt_s.max(0.0);
        // Silence keeps arriving while the editor is open: once the display rests at the
        // floor, a transform of it changes nothing and asks for no frame.
        let mut changed = false;
        for c in 0..2 {
            let history = &self.channels[c].history;
            for (i, x) in self.scratch_in.iter_mut().enumerate() {
                *x = history[(self.position + i) % FFT_SIZE] * self.window[i];
            }
            if self
                .fft
                .process(&mut self.scratch_in, &mut self.scratch_out)
                .is_err()
            {
                return false;
            }
            // A full-scale sine reads 0 dB in its bin: |X| = A·Σw/2, and Σw = N/2 for Hann.
            let norm = 4.0 / FFT_SIZE as f32;
            for (p, z) in self.power.iter_mut().zip(&self.scratch_out) {
                *p = (z.norm() * norm).powi(2);
            }
            let smoothed = smooth_octaves(&self.power, bin_hz, &self.freqs, SMOOTHING_OCTAVES);
            for (shown, new) in self.channels[c].display_db.iter_mut().zip(smoothed) {
                let next = new.max(*shown - fall).max(FLOOR_DB);
                changed |= next != *shown;
                *shown = next;
            }
        }
        changed
    }

    fn fall(&mut self, dt_s: f32) -> bool {
        let fall = FALL_DB_PER_S * dt_s.max(0.0);
        let mut changed = false;
        for channel in &mut self.channels {
            for v in &mut channel.display_db {
                if *v > FLOOR_DB {
                    *v = (*v - fall).max(FLOOR_DB);
                    changed = true;
                }
            }
        }
        changed
    }

    /// The input's spectrum at [`Analyzer::freqs`], dBFS.
    pub fn input_db(&self) -> &[f32] {
        &self.channels[0].display_db
    }

    /// The output's spectrum at [`Analyzer::freqs`], dBFS.
    pub fn output_db(&self) -> &[f32] {
        &self.channels[1].display_db
    }
}

/// Fractional-octave smoothing: for each of `freqs`, the mean power of the bins within
/// `octaves`/2 either side (bins `bin_hz` apart), in dB. Where the band holds no bin (low
/// frequencies), the two nearest bins are interpolated.
pub fn smooth_octaves(power: &[f32], bin_hz: f32, freqs: &[f32], octaves: f32) -> Vec<f32> {
    let half = 2f32.powf(octaves / 2.0);
    let last = power.len().saturating_sub(1);
    freqs
        .iter()
        .map(|&f| {
            let lo = ((f / half) / bin_hz).ceil() as usize;
            let hi = (((f * half) / bin_hz).floor() as usize).min(last);
            let mean = if lo <= hi {
                power[lo..=hi].iter().sum::<f32>() / (hi - lo + 1) as f32
            } else {
                let position = (f / bin_hz).min(last as f32);
                let below = position.floor() as usize;
                let above = (below + 1).min(last);
                let t = position - below as f32;
                power[below] * (1.0 - t) + power[above] * t
            };
            (10.0 * mean.max(1e-30).log10()).max(FLOOR_DB)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(sample_rate: f32, signal: impl Fn(usize) -> f32) -> Analyzer {
        let mut a = Analyzer::new(sample_rate);
        for i in 0..FFT_SIZE * 2 {
            let x = signal(i);
            a.push(x, 0.5 * x);
        }
        assert!(a.update(0.0));
        a
    }

    /// An open editor on silence must come to rest: once the display sits at the floor, new
    /// silent hops change nothing (so no frame is asked for), and a sound wakes it at once.
    #[test]
    fn silence_comes_to_rest_at_the_floor_and_a_sound_wakes_it() {
        let mut a = analyze(48_000.0, |i| if i == FFT_SIZE * 3 / 2 { 0.5 } else { 0.0 });
        let hop_s = HOP as f32 / 48_000.0;
        let mut hops_moving = 0;
        for _ in 0..1_000 {
            for _ in 0..HOP {
                a.push(0.0, 0.0);
            }
            if !a.update(hop_s) {
                break;
            }
            hops_moving += 1;
        }
        // From the click's level (about −66 dB) down to −100 dB at 30 dB/s: about 1.1 s, 52
        // hops of 21.3 ms.
        let falling_s = hops_moving as f32 * hop_s;
        assert!(
            (0.9..=1.6).contains(&falling_s),
            "moving for {falling_s} s of silence"
        );
        assert!(a.input_db().iter().all(|&db| db == FLOOR_DB));
        for _ in 0..HOP {
            a.push(0.0, 0.0);
        }
        assert!(!a.update(hop_s), "silence at rest asked for a frame");
        for i in 0..HOP {
            a.push(if i == HOP / 2 { 0.5 } else { 0.0 }, 0.0);
        }
        assert!(a.update(hop_s), "a click did not wake the display");
    }

    #[test]
    fn a_sine_peaks_at_its_frequency_and_the_output_6_db_lower() {
        let fs = 48_000.0;
        let a = analyze(fs, |i| {
            (std::f32::consts::TAU * 1_000.0 * i as f32 / fs).sin()
        });
        let peak = (0..POINTS)
            .max_by(|&i, &j| a.input_db()[i].total_cmp(&a.input_db()[j]))
            .unwrap();
        let octaves_off = (a.freqs[peak] / 1_000.0).log2().abs();
        assert!(octaves_off < 1.0 / 12.0, "peak at {} Hz", a.freqs[peak]);
        // Spread over a 1/6-octave band (115 Hz, ~10 bins) a sine's power reads lower than
        // its 0 dBFS level, by the band's width in bins: within −12…−3 dB.
        let level = a.input_db()[peak];
        assert!((-12.0..=-3.0).contains(&level), "{level} dB");
        let diff = a.input_db()[peak] - a.output_db()[peak];
        assert!((diff - 6.02).abs() < 0.01, "{diff}");
    }

    #[test]
    fn a_click_reads_flat_at_its_level_within_a_hundredth_of_a_db() {
        // A click is white: one impulse of 0.5 at the middle of the analysis frame, where the
        // Hann window is 1, gives every bin |X| = 0.5, shown as 20·log10(4·0.5/N) dB.
        let a = analyze(48_000.0, |i| {
            if i % FFT_SIZE == FFT_SIZE / 2 {
                0.5
            } else {
                0.0
            }
        });
        let want = 20.0 * (4.0 * 0.5 / FFT_SIZE as f32).log10();
        for (f, db) in a.freqs.iter().zip(a.input_db()) {
            assert!((db - want).abs() < 0.01, "{f} Hz: {db} dB, want {want}");
        }
    }

    #[test]
    fn smoothing_averages_power_over_the_band_and_interpolates_below() {
        // Bins 10 Hz apart; power 1 everywhere except bin 100 (1 kHz) = 11.
        let mut power = vec![1.0f32; 2049];
        power[100] = 11.0;
        let out = smooth_octaves(&power, 10.0, &[1_000.0, 15.0, 5_000.0], 1.0 / 6.0);
        // 1 kHz ± 1/12 octave = 944…1059 Hz: bins 95…105, 11 bins, mean (10 + 11)/11.
        assert!(
            (out[0] - 10.0 * (21.0f32 / 11.0).log10()).abs() < 1e-4,
            "{}",
            out[0]
        );
        // 15 Hz: no bin within ±1/12 octave (14.2…15.9 Hz): interpolated between 10 and 20.
        assert!(out[1].abs() < 1e-4);
        assert!(out[2].abs() < 1e-4);
    }

    #[test]
    fn silence_falls_to_the_floor_at_the_fall_rate() {
        let mut a = analyze(48_000.0, |i| if i % 97 == 0 { 0.5 } else { 0.0 });
        let before = a.input_db()[100];
        assert!(a.fall(1.0));
        assert!((a.input_db()[100] - (before - FALL_DB_PER_S).max(FLOOR_DB)).abs() < 1e-4);
        for _ in 0..10 {
            a.fall(1.0);
        }
        assert!(!a.fall(1.0));
        assert!(a.input_db().iter().all(|&v| v == FLOOR_DB));
    }
}
