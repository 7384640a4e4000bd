use super::*;
use crate::dsp::gain_to_db;

/// Small deterministic generator (xorshift64*), uniform in [−1, 1).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        (u as f32 / (1u64 << 23) as f32) - 1.0
    }
}

fn ceiling_at(ceiling_db: f32, fs: f64) -> Ceiling {
    let mut c = Ceiling::new();
    c.prepare(fs);
    c.set_settings(&CeilingSettings {
        enabled: true,
        ceiling_db,
    });
    c
}

fn sine(amplitude: f32, freq_hz: f64, fs: f64, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| amplitude * (std::f64::consts::TAU * freq_hz * i as f64 / fs).sin() as f32)
        .collect()
}

#[test]
fn loud_random_input_never_exceeds_the_ceiling() {
    let mut checked = 0usize;
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let ceiling_db = -12.0 * (rng.next() * 0.5 + 0.5);
        let mut lim = ceiling_at(ceiling_db, 48_000.0);
        let c = lim.ceiling();
        // Up to +40 dBFS (×100): noise, a sine and isolated spikes, with a level that jumps.
        let peak = 100f32.powf(rng.next() * 0.5 + 0.5);
        let freq = 20.0 + 10_000.0 * (rng.next() as f64 * 0.5 + 0.5);
        let n = 4096;
        let s = sine(peak, freq, 48_000.0, n);
        let mut left: Vec<f32> = (0..n)
            .map(|i| s[i] * 0.7 + peak * 0.3 * rng.next())
            .collect();
        let mut right: Vec<f32> = (0..n).map(|_| peak * rng.next()).collect();
        for i in (0..n).step_by(97) {
            left[i] = peak * 1.5;
            right[(i * 7) % n] = -peak * 2.0;
        }
        if seed % 10 == 0 {
            left[17] = f32::NAN;
            right[300] = f32::INFINITY;
            left[301] = f32::NEG_INFINITY;
        }
        let block = 1 + (rng.next().abs() * 700.0) as usize;
        let mono = seed % 3 == 0;
        let mut start = 0;
        while start < n {
            let end = (start + block).min(n);
            if mono {
                lim.process(&mut [&mut left[start..end]]);
            } else {
                lim.process(&mut [&mut left[start..end], &mut right[start..end]]);
            }
            start = end;
        }
        let chans: &[&Vec<f32>] = if mono { &[&left] } else { &[&left, &right] };
        for ch in chans {
            for &y in ch.iter() {
                assert!(y.abs() <= c, "seed {seed}: |{y}| > ceiling {c}");
                assert!(!y.is_subnormal(), "seed {seed}: subnormal output");
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000_000);
}

#[test]
fn exactly_at_the_ceiling_stays_and_just_above_is_bounded() {
    let mut lim = ceiling_at(-0.3, 44_100.0);
    let c = lim.ceiling();
    let above = f32::from_bits(c.to_bits() + 1);
    let mut x = vec![c, -c, above, -above, c, 1e30, -1e30, c];
    lim.process(&mut [&mut x]);
    assert_eq!(&x[..2], &[c, -c]);
    assert!(x.iter().all(|y| y.abs() <= c), "{x:?}");
}

#[test]
fn signal_below_the_ceiling_passes_bit_identical() {
    let mut lim = ceiling_at(-0.3, 48_000.0);
    let n = 48_000;
    let left = sine(0.1, 997.0, 48_000.0, n); // −20 dBFS
    let right = sine(0.1, 131.0, 48_000.0, n);
    let (mut l, mut r) = (left.clone(), right.clone());
    for (lc, rc) in l.chunks_mut(333).zip(r.chunks_mut(333)) {
        lim.process(&mut [lc, rc]);
    }
    assert_eq!(l, left);
    assert_eq!(r, right);
}

#[test]
fn disabled_ceiling_leaves_everything_alone() {
    let mut lim = ceiling_at(-6.0, 48_000.0);
    lim.set_settings(&CeilingSettings {
        enabled: false,
        ceiling_db: -6.0,
    });
    let x = sine(30.0, 440.0, 48_000.0, 4800);
    let mut y = x.clone();
    lim.process(&mut [&mut y]);
    assert_eq!(y, x);
}

#[test]
fn stereo_is_linked_so_the_quiet_channel_follows() {
    let mut lim = ceiling_at(-6.0, 48_000.0);
    let n = 9600;
    let mut l = sine(2.0, 1000.0, 48_000.0, n); // +6 dBFS: 12 dB over
    let r0 = sine(0.1, 1000.0, 48_000.0, n);
    let mut r = r0.clone();
    lim.process(&mut [&mut l, &mut r]);
    // At the last left peak the gain is c/2 for both channels.
    let i = (n - 200..n)
        .max_by(|&a, &b| l[a].abs().total_cmp(&l[b].abs()))
        .unwrap();
    let gain_db = gain_to_db((r[i] / r0[i]) as f64);
    let want_db = gain_to_db(lim.ceiling() as f64 / 2.0);
    assert!((gain_db - want_db).abs() < 0.05, "{gain_db} vs {want_db}");
}

/// A sustained +6 dBFS sine into a −1 dBFS ceiling is turned down smoothly (low distortion),
/// unlike clipping; afterwards the gain recovers with the documented release.
#[test]
fn sustained_over_level_is_reduced_smoothly_and_recovers_with_the_release() {
    let fs = 48_000.0;
    let mut lim = ceiling_at(-1.0, fs);
    let c = lim.ceiling();
    let n = (0.5 * fs) as usize;
    let x = sine(2.0, 1000.0, fs, n);
    let mut y = x.clone();
    lim.process(&mut [&mut y]);
    // Distortion over the last 200 ms (an integer number of periods): residual after
    // removing the 1 kHz component.
    let tail = &y[n - 9600..];
    let thd = |s: &[f32]| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &v) in s.iter().enumerate() {
            let ph = std::f64::consts::TAU * 1000.0 * i as f64 / fs;
            re += v as f64 * ph.cos();
            im += v as f64 * ph.sin();
        }
        let (re, im) = (2.0 * re / s.len() as f64, 2.0 * im / s.len() as f64);
        let mut resid = 0.0;
        for (i, &v) in s.iter().enumerate() {
            let ph = std::f64::consts::TAU * 1000.0 * i as f64 / fs;
            let r = v as f64 - re * ph.cos() - im * ph.sin();
            resid += r * r;
        }
        (resid / s.len() as f64).sqrt() / ((re * re + im * im) / 2.0).sqrt()
    };
    let limited_thd = thd(tail);
    let clipped: Vec<f32> = x[n - 9600..].iter().map(|v| v.clamp(-c, c)).collect();
    let clipped_thd = thd(&clipped);
    eprintln!(
        "ceiling −1 dBFS, +6 dBFS 1 kHz sine: THD limited {:.3} %, clipped {:.2} %",
        100.0 * limited_thd,
        100.0 * clipped_thd
    );
    assert!(limited_thd < 0.01, "limiter THD {limited_thd}");
    assert!(clipped_thd > 10.0 * limited_thd);

    // Recovery: after the tone stops, the gain follows 1 − (1 − g0)·e^{−t/τ}.
    let g0 = 10f64.powf(-lim.gain_reduction_db() as f64 / 20.0);
    let target = 10f64.powf(-1.0 / 20.0); // back within 1 dB of unity
    let mut quiet = [0.0f32; 1];
    let mut samples = 0;
    while lim.gain_reduction_db() > 1.0 {
        lim.process(&mut [&mut quiet]);
        samples += 1;
    }
    let t_ms = samples as f64 / fs * 1e3;
    let want_ms = CEILING_RELEASE_MS * ((1.0 - g0) / (1.0 - target)).ln();
    eprintln!("ceiling recovery to −1 dB: {t_ms:.1} ms (expected {want_ms:.1} ms)");
    assert!((t_ms / want_ms - 1.0).abs() < 0.02, "{t_ms} vs {want_ms}");
}

#[test]
fn block_size_does_not_change_the_output() {
    let n = 20_000;
    let mut rng = Rng(77);
    // Loud bursts between quiet stretches: limiting starts, recovers, and stops.
    let input: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..n)
                .map(|i| {
                    let loud = (i / 3000) % 2 == 0;
                    rng.next() * if loud { 6.0 } else { 0.2 }
                })
                .collect()
        })
        .collect();
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for block in [1, 7, 64, 512, 4096] {
        let mut lim = ceiling_at(-3.0, 48_000.0);
        let mut x = input.clone();
        let (l, r) = x.split_at_mut(1);
        for (lc, rc) in l[0].chunks_mut(block).zip(r[0].chunks_mut(block)) {
            lim.process(&mut [lc, rc]);
        }
        match &reference {
            None => reference = Some(x),
            Some(want) => {
                let diff = x
                    .iter()
                    .flatten()
                    .zip(want.iter().flatten())
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(diff <= 1e-6, "block {block}: differs by {diff}");
            }
        }
    }
}
