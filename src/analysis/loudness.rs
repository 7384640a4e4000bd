//! Integrated loudness, ITU-R BS.1770-4, at any sample rate.
//!
//! K-weighting is redesigned for each rate from the analog parameters libebur128 derives from
//! the standard's 48 kHz coefficients (`ebur128_init_filter`), so at 48 kHz it reproduces them
//! exactly. Channel convention (matching.md M2, fixed once for the project): every channel
//! has weight G = 1 and a mono file is ONE channel, so a full-scale 997 Hz sine in mono reads
//! −3.01 LUFS (pyloudnorm would duplicate mono and read 0.0).

/// Biquad coefficients `[b0, b1, b2, a1, a2]` (a0 = 1).
type Biquad = [f64; 5];

/// The two K-weighting stages at `sample_rate`: the +4 dB high-shelf pre-filter and the RLB
/// high-pass (libebur128's bilinear designs with pre-warped corners).
pub fn k_weighting(sample_rate: f64) -> [Biquad; 2] {
    let f0 = 1681.974450955533;
    let gain_db = 3.999843853973347;
    let q = 0.7071752369554196;
    let k = (std::f64::consts::PI * f0 / sample_rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ];
    let f0 = 38.13547087602444;
    let q = 0.5003270373238773;
    let k = (std::f64::consts::PI * f0 / sample_rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = [
        1.0,
        -2.0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ];
    [shelf, highpass]
}

/// Gating block length (400 ms) and step (100 ms, 75 % overlap), seconds.
const BLOCK_S: f64 = 0.4;
const STEP_S: f64 = 0.1;
/// Absolute gate, LUFS.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Relative gate below the absolute-gated mean, LU.
const RELATIVE_GATE_LU: f64 = 10.0;

/// Mean K-weighted power of each 400 ms block (hop 100 ms), summed over channels.
pub fn block_powers(channels: &[&[f32]], sample_rate: f64) -> Vec<f64> {
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let step = (STEP_S * sample_rate).round() as usize;
    let steps_per_block = (BLOCK_S / STEP_S).round() as usize;
    let block = steps_per_block * step;
    if len < block || step == 0 {
        return Vec::new();
    }
    let steps = len / step;
    // Energy per 100 ms step, then consecutive steps form a 400 ms block.
    let mut step_energy = vec![0.0; steps];
    let [f1, f2] = k_weighting(sample_rate);
    // Transposed direct form II, both stages, with the output substituted into the first
    // state's update: from one sample to the next that state goes through a multiply and a
    // subtraction (the second state and the output hang off it), not four operations in a
    // row. Channels run in the same loop so their independent recursions overlap in the CPU.
    let (f1, f2) = (Section::of(&f1), Section::of(&f2));
    let mut states = vec![[[0.0f64; 2]; 2]; channels.len()];
    for (i, energy) in step_energy.iter_mut().enumerate() {
        let range = i * step..(i + 1) * step;
        *energy = match channels {
            [l, r] => {
                let (sl, sr) = states.split_at_mut(1);
                let (sl, sr) = (&mut sl[0], &mut sr[0]);
                let (mut sum_l, mut sum_r) = (0.0, 0.0);
                for (&a, &b) in l[range.clone()].iter().zip(&r[range]) {
                    let ya = f1.tick(&mut sl[0], a as f64);
                    let yb = f1.tick(&mut sr[0], b as f64);
                    let ya = f2.tick(&mut sl[1], ya);
                    let yb = f2.tick(&mut sr[1], yb);
                    sum_l += ya * ya;
                    sum_r += yb * yb;
                }
                sum_l + sum_r
            }
            _ => {
                let mut sum = 0.0;
                for (channel, st) in channels.iter().zip(states.iter_mut()) {
                    for &x in &channel[range.clone()] {
                        let y = f1.tick(&mut st[0], x as f64);
                        let y = f2.tick(&mut st[1], y);
                        sum += y * y;
                    }
                }
                sum
            }
        };
    }
    (0..=steps - steps_per_block)
        .map(|i| step_energy[i..i + steps_per_block].iter().sum::<f64>() / block as f64)
        .collect()
}

/// A K-weighting stage as [`block_powers`] runs it: `y = b0·x + s0`, and the states updated
/// with `y` substituted, `s0 ← (b1 − a1·b0)·x + s1 − a1·s0`, `s1 ← (b2 − a2·b0)·x − a2·s0`
/// (the same filter as [`k_weighting`]'s biquad).
struct Section {
    b0: f64,
    c1: f64,
    c2: f64,
    a1: f64,
    a2: f64,
}

impl Section {
    fn of(&[b0, b1, b2, a1, a2]: &Biquad) -> Self {
        Self {
            b0,
            c1: b1 - a1 * b0,
            c2: b2 - a2 * b0,
            a1,
            a2,
        }
    }

    #[inline(always)]
    fn tick(&self, s: &mut [f64; 2], x: f64) -> f64 {
        let y = self.b0 * x + s[0];
        let s0 = (self.c1 * x + s[1]) - self.a1 * s[0];
        s[1] = self.c2 * x - self.a2 * s[0];
        s[0] = s0;
        y
    }
}

/// Loudness of a mean K-weighted power, LUFS.
fn lufs(power: f64) -> f64 {
    -0.691 + 10.0 * power.max(1e-30).log10()
}

/// Integrated loudness of `channels` (each one a channel with weight 1), LUFS.
/// `None` when the signal is shorter than one block or entirely below the absolute gate.
pub fn integrated_loudness(channels: &[&[f32]], sample_rate: f64) -> Option<f64> {
    gated_loudness(&block_powers(channels, sample_rate))
}

/// The integrated loudness of [`block_powers`]' blocks, LUFS: the two gates, then the mean
/// power; `None` when every block is below the absolute gate.
pub fn gated_loudness(blocks: &[f64]) -> Option<f64> {
    let above: Vec<f64> = blocks
        .iter()
        .copied()
        .filter(|&z| lufs(z) > ABSOLUTE_GATE_LUFS)
        .collect();
    if above.is_empty() {
        return None;
    }
    let relative_gate = lufs(above.iter().sum::<f64>() / above.len() as f64) - RELATIVE_GATE_LU;
    let gated: Vec<f64> = above
        .into_iter()
        .filter(|&z| lufs(z) > relative_gate)
        .collect();
    Some(lufs(gated.iter().sum::<f64>() / gated.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq_hz: f64, amp: f64, fs: f64, seconds: f64) -> Vec<f32> {
        let n = (fs * seconds) as usize;
        (0..n)
            .map(|i| (amp * (std::f64::consts::TAU * freq_hz * i as f64 / fs).sin()) as f32)
            .collect()
    }

    #[test]
    fn k_weighting_at_48k_is_the_standards_table() {
        let [shelf, hp] = k_weighting(48_000.0);
        let want_shelf = [
            1.53512485958697,
            -2.69169618940638,
            1.19839281085285,
            -1.69065929318241,
            0.73248077421585,
        ];
        let want_hp = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621];
        for (a, b) in shelf.iter().zip(want_shelf).chain(hp.iter().zip(want_hp)) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
    }

    #[test]
    fn full_scale_997_hz_mono_reads_minus_3_01_lufs_at_any_rate() {
        for fs in [44_100.0, 48_000.0, 96_000.0] {
            let x = sine(997.0, 1.0, fs, 5.0);
            let l = integrated_loudness(&[&x], fs).unwrap();
            assert!((l + 3.01).abs() < 0.05, "{fs}: {l}");
            // Stereo, the same sine in both channels: 3.01 dB louder.
            let l2 = integrated_loudness(&[&x, &x], fs).unwrap();
            assert!((l2 - l - 3.01).abs() < 0.01, "{fs}: {l2}");
        }
    }

    #[test]
    fn quiet_parts_are_gated_out() {
        let fs = 48_000.0;
        let mut x = sine(997.0, 0.1, fs, 4.0);
        let loud = integrated_loudness(&[&x], fs).unwrap();
        // Add 4 s at −40 dB relative: below the relative gate, so only the three blocks
        // straddling the step (0.2 dB) move the reading; ungated it would drop by 3 dB.
        x.extend(sine(997.0, 0.001, fs, 4.0));
        let with_quiet = integrated_loudness(&[&x], fs).unwrap();
        assert!((loud - with_quiet).abs() < 0.3, "{loud} vs {with_quiet}");
        assert!(integrated_loudness(&[&vec![0.0; 48_000]], fs).is_none());
    }

    /// The stage with its output substituted into the state update is the transposed direct
    /// form II biquad it was made from, on noise through both K-weighting stages.
    #[test]
    fn the_substituted_sections_are_the_biquads() {
        let fs = 44_100.0;
        let x = crate::analysis::test_noise(44_100, 3);
        for f in k_weighting(fs) {
            let section = Section::of(&f);
            let (mut plain, mut substituted) = ([0.0f64; 2], [0.0f64; 2]);
            let mut worst = 0.0f64;
            for &v in &x {
                let v = v as f64;
                let y = f[0] * v + plain[0];
                plain[0] = f[1] * v - f[3] * y + plain[1];
                plain[1] = f[2] * v - f[4] * y;
                worst = worst.max((section.tick(&mut substituted, v) - y).abs());
            }
            assert!(worst < 1e-12, "largest difference {worst}");
        }
    }
}
