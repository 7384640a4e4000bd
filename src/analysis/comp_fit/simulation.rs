//! The model run on excerpts: detector levels and gains by the plugin's own code, and the
//! energy-weighted gain of every scored 1 ms block, up to eight models per pass.

use super::{BLOCK_S, CompModel, WARMUP_S};
use crate::analysis::on_two_cores;
use crate::dsp::compressor::{Compressor, GainLanes, LANES};
use crate::dsp::{CompressorSettings, Detector};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// The detector's level (dB) of every sample of `channels` (the shortest counts), linked over
/// channels by the louder one, as the compressor reads it with `detector` and the sidechain
/// high-pass at `sidechain_hpf_hz` (`None`: off).
pub fn detector_levels_db(
    channels: &[&[f32]],
    sample_rate: f64,
    detector: Detector,
    sidechain_hpf_hz: Option<f64>,
) -> Vec<f32> {
    let mut compressor = Compressor::new();
    compressor.set_settings(&CompressorSettings {
        enabled: true,
        detector,
        sidechain_hpf: sidechain_hpf_hz.is_some(),
        sidechain_hpf_hz: sidechain_hpf_hz
            .map_or(CompressorSettings::default().sidechain_hpf_hz, |hz| {
                hz as f32
            }),
        ..CompressorSettings::default()
    });
    compressor.prepare(sample_rate);
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut levels = vec![0.0; len];
    compressor.detector_levels_db(channels, &mut levels);
    levels
}

/// The fit's simulation of up to `N` (at most [`LANES`]) models side by side, from rest, by
/// the plugin's own gain path: each one's smoothed gain reduction (dB, ≥ 0) after each
/// detector level.
struct Simulation<const N: usize> {
    lanes: GainLanes<N>,
    /// Reductions of the stretch last run, one frame per level.
    reductions_db: Vec<[f32; N]>,
}

/// Models a narrow [`Simulation`] carries: one register of f64 lanes with AVX2. A pass of up
/// to this many runs it (Nelder–Mead's four trial points); a wider pass (the grid's, a shrink's)
/// runs [`LANES`], which costs little more with AVX-512 and less than two narrow passes
/// without.
const NARROW: usize = 4;

impl<const N: usize> Simulation<N> {
    /// Frames [`Simulation::skip`] runs at a time (keeps the scratch small).
    const SKIP_CHUNK: usize = 4096;

    fn new(models: &[CompModel], sample_rate: f64) -> Self {
        let settings: Vec<CompressorSettings> = models.iter().map(|m| m.settings(0.0)).collect();
        Self {
            lanes: GainLanes::new(&settings, sample_rate),
            reductions_db: Vec::new(),
        }
    }

    /// Runs the models over `levels_db`: the reductions, frame by frame.
    fn run(&mut self, levels_db: &[f32]) -> &[[f32; N]] {
        self.reductions_db.resize(levels_db.len(), [0.0; N]);
        self.lanes.run(levels_db, &mut self.reductions_db);
        &self.reductions_db
    }

    /// Runs the models over `levels_db` where nothing is scored.
    fn skip(&mut self, levels_db: &[f32]) {
        for chunk in levels_db.chunks(Self::SKIP_CHUNK) {
            self.run(chunk);
        }
    }
}

/// The analysis' simulation of `model` on `channels`: the gain (dB, ≤ 0) of every sample of
/// each channel, as the fits compute it (one gain for all channels when linked, each
/// channel's own otherwise). Equals the gain `dsp::Compressor` applies with
/// `model.settings(0.0)` (tested).
pub fn simulated_gain_db(
    channels: &[&[f32]],
    model: &CompModel,
    sample_rate: f64,
) -> Vec<Vec<f32>> {
    let run = |levels: Vec<f32>| -> Vec<f32> {
        let mut simulation = Simulation::<1>::new(std::slice::from_ref(model), sample_rate);
        simulation.run(&levels).iter().map(|r| -r[0]).collect()
    };
    if model.linked {
        let gains = run(model.levels_db(channels, sample_rate));
        vec![gains; channels.len()]
    } else {
        channels
            .iter()
            .map(|c| run(model.levels_db(&[c], sample_rate)))
            .collect()
    }
}

/// The forward and inverse FFTs [`envelope_power`] runs on a stretch of one length.
type EnvelopePlan = (Arc<dyn RealToComplex<f32>>, Arc<dyn ComplexToReal<f32>>);

/// [`envelope_power`]'s plans for a stretch of `len` samples (padded to a power of two). Plans
/// of a few seconds' length take longer to make than to run: on the bench's 3 s compressor
/// segments (2^18 points), about 8 ms for the two against 2 ms for one envelope (timed inside
/// the process). `planner` keeps them for the next stretch of that length.
fn envelope_plan(len: usize, planner: &mut RealFftPlanner<f32>) -> EnvelopePlan {
    let len = len.next_power_of_two().max(2);
    (planner.plan_fft_forward(len), planner.plan_fft_inverse(len))
}

/// Instantaneous power of `x`'s analytic signal, `(x² + H{x}²)/2` (H: Hilbert transform, by
/// FFT with `plan`, [`envelope_plan`] for `x`'s length; halved so its mean is the mean of
/// `x²`).
/// Unlike `x²` it does not swing with the phase of each cycle, so the energy of a 1 ms block
/// of a 50 Hz kick does not depend on where in its cycle the block falls — nor on a phase
/// shift the fitted EQ does not reproduce exactly.
fn envelope_power(x: &[f32], (forward, inverse): &EnvelopePlan) -> Vec<f32> {
    let len = forward.len();
    let mut spectrum = crate::analysis::spectrum::padded_spectrum(&**forward, x);
    // H multiplies positive frequencies by −j; DC and Nyquist have no quadrature part.
    let last = spectrum.len() - 1;
    for (k, c) in spectrum.iter_mut().enumerate() {
        *c = if k == 0 || k == last {
            Complex::new(0.0, 0.0)
        } else {
            Complex::new(c.im, -c.re) / len as f32
        };
    }
    let mut hilbert = inverse.make_output_vec();
    inverse
        .process(&mut spectrum, &mut hilbert)
        .expect("sizes from plan");
    x.iter()
        .zip(&hilbert)
        .map(|(&v, &h)| 0.5 * (v * v + h * h))
        .collect()
}

/// Sum of `energy` over each of `blocks`.
fn block_sums(energy: &[f32], blocks: &[(usize, usize)]) -> Vec<f64> {
    blocks
        .iter()
        .map(|&(a, b)| energy[a..b].iter().map(|&v| v as f64).sum())
        .collect()
}

/// [`Excerpt::simulated_block_gains`]'s output, one list per lane (scratch kept between
/// passes).
#[derive(Default)]
pub(super) struct LaneOutput {
    pub(super) gains: [Vec<f64>; LANES],
    pub(super) peaks: [Vec<f64>; LANES],
}

/// Segments concatenated, with per-sample envelope power (summed over channels, see
/// [`envelope_power`]) and the scored 1 ms blocks. The first [`WARMUP_S`] of each segment is
/// simulated but not scored, so envelopes that start from rest do not count.
#[derive(Clone)]
pub(super) struct Excerpt {
    /// Channels, segments concatenated.
    pub(super) channels: Vec<Vec<f32>>,
    /// Per-sample energy of each channel, segments concatenated.
    channel_energy: Vec<Vec<f32>>,
    /// Per-sample energy, summed over channels.
    energy: Vec<f32>,
    /// Block boundaries (start, end) in the concatenated excerpt, scored blocks only.
    pub(super) blocks: Vec<(usize, usize)>,
    pub(super) block_energy: Vec<f64>,
}

impl Excerpt {
    /// `segments` (lists of channels) at `sample_rate`, their envelopes by FFT plans that
    /// `planner` keeps ([`envelope_plan`]), run on two cores.
    pub(super) fn new(
        segments: &[Vec<Vec<f32>>],
        sample_rate: f64,
        planner: &mut RealFftPlanner<f32>,
    ) -> Self {
        let num_channels = segments.first().map_or(0, Vec::len);
        let mut channels = vec![Vec::new(); num_channels];
        let mut channel_energy = vec![Vec::new(); num_channels];
        let block = ((BLOCK_S * sample_rate) as usize).max(1);
        let mut blocks = Vec::new();
        let seg_len = |seg: &Vec<Vec<f32>>| seg.iter().map(Vec::len).min().unwrap_or(0);
        // Every channel of every segment is an envelope of its own.
        let mut pieces = Vec::new();
        for seg in segments {
            let len = seg_len(seg);
            for c in seg.iter().take(num_channels) {
                pieces.push((&c[..len], envelope_plan(len, planner)));
            }
        }
        let mut envelopes = on_two_cores(&pieces, |(x, plan)| envelope_power(x, plan)).into_iter();
        let mut offset = 0;
        for seg in segments {
            let len = seg_len(seg);
            for ((dst, energy), src) in channels.iter_mut().zip(&mut channel_energy).zip(seg) {
                dst.extend_from_slice(&src[..len]);
                energy.extend(envelopes.next().expect("one envelope per channel"));
            }
            let warmup = ((WARMUP_S * sample_rate) as usize).min(len / 4);
            let mut b = warmup;
            while b + block <= len {
                blocks.push((offset + b, offset + b + block));
                b += block;
            }
            offset += len;
        }
        let mut energy = vec![0.0f32; offset];
        for c in &channel_energy {
            energy.iter_mut().zip(c).for_each(|(e, v)| *e += v);
        }
        Self::with_energy(channels, channel_energy, energy, blocks)
    }

    fn with_energy(
        channels: Vec<Vec<f32>>,
        channel_energy: Vec<Vec<f32>>,
        energy: Vec<f32>,
        blocks: Vec<(usize, usize)>,
    ) -> Self {
        let block_energy = block_sums(&energy, &blocks);
        Self {
            channels,
            channel_energy,
            energy,
            blocks,
            block_energy,
        }
    }

    /// Channel `k`'s energy alone, for simulating a per-channel gain on it (no envelope is
    /// computed again; the samples are not needed there and are left out).
    pub(super) fn channel(&self, k: usize) -> Excerpt {
        Self::with_energy(
            Vec::new(),
            Vec::new(),
            self.channel_energy[k].clone(),
            self.blocks.clone(),
        )
    }

    /// Energy of channel `k` in each scored block.
    pub(super) fn channel_block_energy(&self, k: usize) -> Vec<f64> {
        block_sums(&self.channel_energy[k], &self.blocks)
    }

    pub(super) fn channel_refs(&self) -> Vec<&[f32]> {
        self.channels.iter().map(Vec::as_slice).collect()
    }

    /// Simulate `models` (1 to [`LANES`]) on detector levels `level_db` and write the
    /// energy-weighted mean gain of each of the first `blocks` scored blocks (dB) to
    /// `out.gains`, one list per model. The one hot loop of both fits: no per-sample storage,
    /// the models side by side ([`Simulation`]).
    ///
    /// With a non-empty `peak_db` (per-sample peak level), also writes each block's largest
    /// `peak + gain` (dB) to `out.peaks`.
    pub(super) fn simulated_block_gains(
        &self,
        level_db: &[f32],
        models: &[CompModel],
        sample_rate: f64,
        blocks: usize,
        peak_db: &[f32],
        out: &mut LaneOutput,
    ) {
        assert!(
            (1..=LANES).contains(&models.len()),
            "1 to {LANES} models per pass"
        );
        if models.len() <= NARROW {
            let simulation = Simulation::<NARROW>::new(models, sample_rate);
            self.block_gains(simulation, level_db, models.len(), blocks, peak_db, out);
        } else {
            let simulation = Simulation::<LANES>::new(models, sample_rate);
            self.block_gains(simulation, level_db, models.len(), blocks, peak_db, out);
        }
    }

    /// [`Excerpt::simulated_block_gains`] with `simulation` (its first `used` lanes).
    fn block_gains<const N: usize>(
        &self,
        mut simulation: Simulation<N>,
        level_db: &[f32],
        used: usize,
        blocks: usize,
        peak_db: &[f32],
        out: &mut LaneOutput,
    ) {
        out.gains[..used].iter_mut().for_each(Vec::clear);
        out.peaks[..used].iter_mut().for_each(Vec::clear);
        let mut n = 0;
        for (&(a, b), &e) in self.blocks.iter().zip(&self.block_energy).take(blocks) {
            simulation.skip(&level_db[n..a]);
            let reductions = simulation.run(&level_db[a..b]);
            let mut acc = [0.0f32; N];
            if peak_db.is_empty() {
                for (r, &energy) in reductions.iter().zip(&self.energy[a..b]) {
                    for l in 0..N {
                        acc[l] -= energy * r[l];
                    }
                }
            } else {
                let mut top = [f32::NEG_INFINITY; N];
                let samples = self.energy[a..b].iter().zip(&peak_db[a..b]);
                for (r, (&energy, &peak)) in reductions.iter().zip(samples) {
                    for l in 0..N {
                        acc[l] -= energy * r[l];
                        top[l] = top[l].max(peak - r[l]);
                    }
                }
                for (p, t) in out.peaks[..used].iter_mut().zip(top) {
                    p.push(t as f64);
                }
            }
            for (g, a) in out.gains[..used].iter_mut().zip(acc) {
                g.push(a as f64 / e.max(1e-30));
            }
            n = b;
        }
    }

    /// How many scored blocks lie in the first `seconds` of the excerpt.
    pub(super) fn blocks_within(&self, seconds: f64, sample_rate: f64) -> usize {
        let limit = (seconds * sample_rate) as usize;
        self.blocks
            .iter()
            .take_while(|(_, b)| *b <= limit)
            .count()
            .max(1)
    }
}
