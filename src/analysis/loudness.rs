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
    let step_energy = step_energies(channels, &k_weighting(sample_rate), step, steps);
    (0..=steps - steps_per_block)
        .map(|i| step_energy[i..i + steps_per_block].iter().sum::<f64>() / block as f64)
        .collect()
}

/// K-weighting lanes run side by side: one AVX-512 register of f64, two of AVX2.
const LANES: usize = 8;
type Lanes = [f64; LANES];

/// Rows of lanes that [`step_energies`] lays out at a time (16 KiB).
const ROWS: usize = 256;

/// A stretch of a channel after its first starts its filters from rest this long before its
/// first step, seconds, and its energies count from that step on. The slowest part of the
/// K-weighting, the high-pass's double pole at 38 Hz, forgets the past it was not given as
/// t·e^(−2π·38·t): 1e−52 after 0.5 s, far under the last bit of an f64, so the stretch goes
/// on as the filter run from the start of the file does, to the last bits of rounding.
const WARM_UP_S: f64 = 0.5;

/// The energy of each of the first `steps` steps of `step` samples of `channels` through
/// `filters` (both K-weighting stages), the channels' sums added in channel order.
///
/// A filter's recursion waits on its last result (a multiply and a subtraction each sample),
/// so one channel after another leaves most of the CPU idle. Here each channel's steps are cut
/// into stretches that run as lanes side by side ([`LANES`] over the channels): eight stretches
/// of a mono file, four of each stereo channel. A channel's first stretch starts from rest as
/// the whole file does, and gives the same bits as one run from the start; each later one
/// warms up first ([`WARM_UP_S`]). A channel too short for stretches longer than the warm-up
/// runs in one stretch, the same bits as one run.
///
/// # Panics
/// With no channel or more than [`LANES`] (the analysis reads one or two).
fn step_energies(
    channels: &[&[f32]],
    filters: &[Biquad; 2],
    step: usize,
    steps: usize,
) -> Vec<f64> {
    step_energies_with(channels, filters, step, steps, crate::dsp::Simd::detect())
}

/// [`step_energies`] in the build for `simd`.
fn step_energies_with(
    channels: &[&[f32]],
    filters: &[Biquad; 2],
    step: usize,
    steps: usize,
    simd: crate::dsp::Simd,
) -> Vec<f64> {
    let count = channels.len();
    assert!((1..=LANES).contains(&count), "{count} channels");
    let warm_up = (WARM_UP_S / STEP_S).ceil() as usize;
    let stretches = match LANES / count {
        many if steps / many >= warm_up => many,
        _ => 1,
    };
    let (per_stretch, lead) = (steps / stretches, if stretches > 1 { warm_up } else { 0 });
    let sections = filters.map(|f| Section::of(&f));
    let mut lanes = KLanes::default();
    let mut rows = vec![[0.0; LANES]; ROWS];
    let mut lane_energy = vec![[0.0; LANES]; per_stretch];
    for local in 0..lead + per_stretch {
        let mut sums = [0.0; LANES];
        for first in (0..step).step_by(ROWS) {
            let rows = &mut rows[..ROWS.min(step - first)];
            for (lane, (channel, stretch)) in lane_stretches(count, stretches).enumerate() {
                // The step this lane is at; before 0 (the first stretch's wait while the
                // others warm up), silence, which leaves a filter at rest exactly at rest.
                match (stretch * per_stretch + local).checked_sub(lead) {
                    Some(at) => {
                        let samples = &channels[channel][at * step + first..];
                        for (row, &x) in rows.iter_mut().zip(samples) {
                            row[lane] = f64::from(x);
                        }
                    }
                    None => rows.iter_mut().for_each(|row| row[lane] = 0.0),
                }
            }
            lanes.run(simd, &sections, rows, &mut sums);
        }
        if let Some(kept) = local.checked_sub(lead) {
            lane_energy[kept] = sums;
        }
    }
    let mut energy = vec![0.0; steps];
    for (lane, (channel, stretch)) in lane_stretches(count, stretches).enumerate() {
        for (local, sums) in lane_energy.iter().enumerate() {
            energy[stretch * per_stretch + local] += sums[lane];
        }
        // The steps left over after the stretches: each channel's last lane goes on alone.
        if stretch == stretches - 1 {
            let mut state = lanes.state(lane);
            for (at, e) in energy.iter_mut().enumerate().skip(stretches * per_stretch) {
                *e += energy_in_turn(
                    &sections,
                    &mut state,
                    &channels[channel][at * step..][..step],
                );
            }
        }
    }
    energy
}

/// The energy of `samples` through both stages one sample after another, from `state` (left
/// where the last sample leaves it).
fn energy_in_turn(sections: &[Section; 2], state: &mut [[f64; 2]; 2], samples: &[f32]) -> f64 {
    let mut sum = 0.0;
    for &x in samples {
        let y = sections[0].tick(&mut state[0], f64::from(x));
        let y = sections[1].tick(&mut state[1], y);
        sum += y * y;
    }
    sum
}

/// (channel, stretch) of each lane in use, lane by lane.
fn lane_stretches(count: usize, stretches: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..count).flat_map(move |c| (0..stretches).map(move |k| (c, k)))
}

/// The states of both K-weighting stages in each of [`LANES`] lanes.
#[derive(Default)]
struct KLanes {
    /// `[stage][state]`: the lanes' `s0` and `s1` of [`Section::tick`].
    state: [[Lanes; 2]; 2],
}

impl KLanes {
    /// Filter each row of lanes through both stages, adding each lane's squared output to its
    /// sum, in the build for `simd` (every build the same operations in the same order: the
    /// same bits).
    fn run(
        &mut self,
        simd: crate::dsp::Simd,
        sections: &[Section; 2],
        rows: &[Lanes],
        sums: &mut Lanes,
    ) {
        use crate::dsp::Simd;
        match simd {
            // SAFETY: `simd` is the CPU's own level (`Simd::detect`), or below it in the tests.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.run_avx512(sections, rows, sums) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.run_avx2(sections, rows, sums) },
            _ => self.run_with(sections, rows, sums),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2(&mut self, sections: &[Section; 2], rows: &[Lanes], sums: &mut Lanes) {
        self.run_with(sections, rows, sums);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn run_avx512(&mut self, sections: &[Section; 2], rows: &[Lanes], sums: &mut Lanes) {
        self.run_with(sections, rows, sums);
    }

    /// [`Section::tick`] lane by lane, through both stages.
    #[inline(always)]
    fn run_with(&mut self, sections: &[Section; 2], rows: &[Lanes], sums: &mut Lanes) {
        let mut state = self.state;
        for x in rows {
            let mut y = *x;
            for (f, s) in sections.iter().zip(&mut state) {
                let [s0, s1] = s;
                for l in 0..LANES {
                    let x = y[l];
                    y[l] = f.b0 * x + s0[l];
                    let next = (f.c1 * x + s1[l]) - f.a1 * s0[l];
                    s1[l] = f.c2 * x - f.a2 * s0[l];
                    s0[l] = next;
                }
            }
            for l in 0..LANES {
                sums[l] += y[l] * y[l];
            }
        }
        self.state = state;
    }

    /// Lane `lane`'s states, as [`Section::tick`] keeps them.
    fn state(&self, lane: usize) -> [[f64; 2]; 2] {
        self.state.map(|[s0, s1]| [s0[lane], s1[lane]])
    }
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

    /// Each step's energy through both stages one sample after another, channel after
    /// channel: what [`step_energies`]' lanes compute.
    fn step_energies_in_turn(channels: &[&[f32]], fs: f64, step: usize, steps: usize) -> Vec<f64> {
        let sections = k_weighting(fs).map(|f| Section::of(&f));
        let mut states = vec![[[0.0; 2]; 2]; channels.len()];
        (0..steps)
            .map(|at| {
                let mut energy = 0.0;
                for (channel, state) in channels.iter().zip(&mut states) {
                    energy += energy_in_turn(&sections, state, &channel[at * step..][..step]);
                }
                energy
            })
            .collect()
    }

    /// The lanes give every step's energy that the filters run from the start of the file
    /// give: the same bits in each channel's first stretch and wherever the file is too short
    /// for stretches, and within 1e-12 of it elsewhere: after the warm-up the two runs differ
    /// by rounding alone, which the high-pass's double pole near 1 carries for thousands of
    /// samples (a few hundred last bits of each step's energy). On a signal whose 20 Hz swing
    /// and offset keep the high-pass busy; every build the same bits.
    #[test]
    fn the_lanes_are_the_filters_run_from_the_start() {
        let fs = 44_100.0;
        let step = (STEP_S * fs).round() as usize;
        let signal = |seed: u64, seconds: f64| -> Vec<f32> {
            let noise = crate::analysis::test_noise((seconds * fs) as usize, seed);
            noise
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let slow = (std::f64::consts::TAU * 20.0 * i as f64 / fs).sin();
                    (0.3 * f64::from(*v) + 0.5 * slow + 0.1) as f32
                })
                .collect()
        };
        // 60.3 s: a remainder after the stretches; 1.9 s: shorter than four warm-ups.
        for seconds in [60.34, 1.95] {
            let (left, right) = (signal(1, seconds), signal(2, seconds));
            for channels in [vec![&left[..]], vec![&left[..], &right[..]]] {
                let steps = left.len() / step;
                let want = step_energies_in_turn(&channels, fs, step, steps);
                let filters = k_weighting(fs);
                let builds: Vec<Vec<f64>> = crate::dsp::Simd::available()
                    .into_iter()
                    .map(|simd| step_energies_with(&channels, &filters, step, steps, simd))
                    .collect();
                let got = &builds[0];
                for other in &builds[1..] {
                    assert!(
                        other
                            .iter()
                            .zip(got)
                            .all(|(a, b)| a.to_bits() == b.to_bits())
                    );
                }
                assert_eq!(got.len(), steps);
                let stretches = if seconds > 10.0 {
                    LANES / channels.len()
                } else {
                    1
                };
                let first = steps / stretches;
                assert!(
                    got[..first]
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{seconds} s, {} channel(s): the first stretch",
                    channels.len()
                );
                let worst = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs() / b)
                    .fold(0.0, f64::max);
                println!(
                    "{seconds} s, {} channel(s): largest relative difference {worst:e}",
                    channels.len()
                );
                assert!(
                    worst <= 1e-12,
                    "{seconds} s, {} channel(s): {worst:e}",
                    channels.len()
                );
                if stretches == 1 {
                    assert_eq!(worst, 0.0);
                }
            }
        }
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
