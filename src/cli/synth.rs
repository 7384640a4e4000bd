//! Synthetic test audio made in memory: a beat-shaped noise for `matchbox bench`, and a
//! beatbox-like loop (kick, hi-hat, snare) for the `matchbox live` fallback. Deterministic:
//! the same arguments give the same samples on every machine.

use std::f32::consts::TAU;

/// A small deterministic noise source (xorshift32); quality is ample for test signals and
/// it keeps the output identical everywhere, with no dependency.
struct Noise(u32);

impl Noise {
    fn new(seed: u32) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in [−1, 1).
    fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

/// Interval between beat-shaped bursts in [`bench_signal`], seconds (eighth notes at 120 bpm).
pub const BENCH_BEAT_INTERVAL_S: f32 = 0.25;

/// Stereo noise shaped like beats: every [`BENCH_BEAT_INTERVAL_S`] a burst peaking near
/// −6 dBFS decays with a 40 ms time constant towards a −40 dBFS floor, so the compressor
/// keeps attacking and releasing and the filters never see a steady state. `frames` per
/// channel at `sample_rate` Hz.
pub fn bench_signal(sample_rate: f32, frames: usize) -> Vec<Vec<f32>> {
    let beat_frames = (BENCH_BEAT_INTERVAL_S * sample_rate).max(1.0) as usize;
    let decay_per_sample = (-1.0 / (0.040 * sample_rate)).exp();
    let floor = 0.01; // −40 dBFS
    let peak = 0.5; // −6 dBFS
    let mut noise = [Noise::new(0x1234_5678), Noise::new(0x9abc_def1)];
    let mut channels = vec![Vec::with_capacity(frames), Vec::with_capacity(frames)];
    let mut envelope = 0.0f32;
    for i in 0..frames {
        if i.is_multiple_of(beat_frames) {
            // Alternate strong and weak hits, like kick and hat.
            envelope = if (i / beat_frames).is_multiple_of(2) {
                peak
            } else {
                peak * 0.4
            };
        }
        envelope *= decay_per_sample;
        let gain = envelope + floor;
        for (channel, source) in channels.iter_mut().zip(&mut noise) {
            channel.push(gain * source.next());
        }
    }
    channels
}

/// Tempo of [`beatbox_loop`], beats per minute.
pub const LOOP_BPM: f32 = 100.0;

/// A beatbox-like loop, mono: "boots and cats" on a sixteenth-note grid at [`LOOP_BPM`] —
/// kick (a sine sweeping 160 → 50 Hz) on beats 1 and 3, snare (noise and a 190 Hz tone) on
/// 2 and 4, hi-hat (high-passed noise) on the off-beats, plus a lip-bass note every bar.
/// Peaks stay below −3 dBFS.
pub fn beatbox_loop(sample_rate: f32, seconds: f32) -> Vec<f32> {
    let frames = (seconds * sample_rate).max(0.0) as usize;
    let sixteenth = (60.0 / LOOP_BPM / 4.0 * sample_rate) as usize;
    let mut out = vec![0.0f32; frames];
    let mut noise = Noise::new(0x5eed_beef);
    let mut step_start = 0;
    let mut step = 0usize;
    while step_start < frames {
        let slot = step % 16;
        match slot {
            0 | 8 => add_kick(&mut out[step_start..], sample_rate),
            4 | 12 => add_snare(&mut out[step_start..], sample_rate, &mut noise),
            2 | 6 | 10 | 14 => add_hat(&mut out[step_start..], sample_rate, &mut noise),
            _ => {}
        }
        if slot == 6 {
            add_bass(&mut out[step_start..], sample_rate);
        }
        step_start += sixteenth.max(1);
        step += 1;
    }
    out
}

fn add_kick(out: &mut [f32], sample_rate: f32) {
    let len = (0.25 * sample_rate) as usize;
    let mut phase = 0.0f32;
    for (i, y) in out.iter_mut().take(len).enumerate() {
        let t = i as f32 / sample_rate;
        let freq_hz = 50.0 + 110.0 * (-t / 0.03).exp();
        phase += TAU * freq_hz / sample_rate;
        *y += 0.45 * (-t / 0.08).exp() * phase.sin();
    }
}

fn add_snare(out: &mut [f32], sample_rate: f32, noise: &mut Noise) {
    let len = (0.18 * sample_rate) as usize;
    for (i, y) in out.iter_mut().take(len).enumerate() {
        let t = i as f32 / sample_rate;
        let tone = (TAU * 190.0 * t).sin() * (-t / 0.03).exp();
        *y += 0.25 * (noise.next() * (-t / 0.05).exp() + tone);
    }
}

fn add_hat(out: &mut [f32], sample_rate: f32, noise: &mut Noise) {
    let len = (0.05 * sample_rate) as usize;
    let mut previous = 0.0;
    for (i, y) in out.iter_mut().take(len).enumerate() {
        let t = i as f32 / sample_rate;
        // A first difference is a gentle high-pass: the hat keeps only the hiss.
        let n = noise.next();
        *y += 0.12 * (n - previous) * (-t / 0.012).exp();
        previous = n;
    }
}

fn add_bass(out: &mut [f32], sample_rate: f32) {
    let len = (0.3 * sample_rate) as usize;
    for (i, y) in out.iter_mut().take(len).enumerate() {
        let t = i as f32 / sample_rate;
        let attack = (t / 0.01).min(1.0);
        *y += 0.2 * attack * (-t / 0.15).exp() * (TAU * 55.0 * t).sin();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(x: &[f32]) -> f32 {
        x.iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    #[test]
    fn bench_signal_has_beats_over_a_floor() {
        let x = bench_signal(48_000.0, 48_000);
        assert_eq!((x.len(), x[0].len(), x[1].len()), (2, 48_000, 48_000));
        assert_ne!(x[0], x[1]);
        // Loudest in the first 5 ms of a beat, quietest just before the next.
        let beat = 12_000;
        let head = peak(&x[0][..240]);
        let tail = peak(&x[0][beat - 240..beat]);
        assert!(head > 0.4 && head <= 0.51, "{head}");
        assert!(tail < 0.02, "{tail}");
    }

    #[test]
    fn loop_is_loud_enough_and_never_clips() {
        let x = beatbox_loop(48_000.0, 4.8);
        assert_eq!(x.len(), 230_400);
        let p = peak(&x);
        assert!(p > 0.3 && p < 0.71, "peak {p}");
        // One bar is 2.4 s at 100 bpm: the loop repeats its kick at the bar line.
        assert!((x[115_200 + 100] - x[100]).abs() < 0.05);
    }
}
