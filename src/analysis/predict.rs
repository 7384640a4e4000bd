//! Stage 7, the prediction: the whole source through the final chain, measured against the
//! whole reference ([`metrics`]; paired, both cover their overlap). What `analyze` prints as
//! "expected" and writes as `predicted_*`.

use super::align::Takes;
use super::metrics::{self, SignalMetrics};
use super::{excerpts, loudness, on_two_cores};
use crate::dsp::{Chain, ChainSettings};
use std::sync::mpsc;

/// Frames per block that a whole-file render hands from the chain's first half to its second.
const RENDER_BLOCK: usize = 1 << 14;

/// Expected differences between the source through the preset and the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// 1/3-octave LTAS error (M1), RMS over 50 Hz–16 kHz, dB.
    pub ltas_error_db: f64,
    /// |ΔLUFS|, LU.
    pub loudness_error_lu: f64,
    /// |Δ(P95 − P10)| of 50 ms levels, dB.
    pub spread_error_db: f64,
    /// |Δ crest factor|, dB.
    pub crest_error_db: f64,
    /// Waveform SNR against the reference, dB (paired only).
    pub snr_db: Option<f64>,
}

/// The whole (aligned) source through a chain, and its mid.
pub struct Output {
    channels: Vec<Vec<f32>>,
    mid: Vec<f32>,
    /// Its loudness blocks' mean squares ([`loudness::block_powers`]) once read: kept, and
    /// moved by [`Output::scale`], so the samples are read for loudness once (0.02 s of two
    /// cores on a 3-minute stereo take).
    block_powers: Option<Vec<f64>>,
}

impl Output {
    /// The whole source of `takes` through `settings`: the chain's two halves on two cores, a
    /// block apart ([`Chain::halves`]; the same samples as one [`Chain::process`]), the mid
    /// made block by block behind them.
    pub fn render(takes: &Takes<'_>, settings: &ChainSettings) -> Self {
        let source = &takes.src_channels;
        let frames = source.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut channels: Vec<Vec<f32>> = source.iter().map(|_| vec![0.0; frames]).collect();
        let mut mid = vec![0.0; frames];
        // Block i of every channel, with the same stretch of the mid.
        let mut blocks: Vec<(Vec<&mut [f32]>, &mut [f32])> = mid
            .chunks_mut(RENDER_BLOCK)
            .map(|m| (Vec::new(), m))
            .collect();
        for channel in &mut channels {
            for ((block, _), piece) in blocks.iter_mut().zip(channel.chunks_mut(RENDER_BLOCK)) {
                block.push(piece);
            }
        }
        let mut chain = Chain::new(settings, takes.src_fs as f32);
        let (mut front, mut back) = chain.halves().expect(excerpts::NEW_CHAIN_IS_PLAIN);
        std::thread::scope(|scope| {
            let (done, ready) = mpsc::channel();
            scope.spawn(move || {
                for (i, (mut block, mid)) in blocks.into_iter().enumerate() {
                    let start = i * RENDER_BLOCK;
                    for (piece, channel) in block.iter_mut().zip(source) {
                        piece.copy_from_slice(&channel[start..start + piece.len()]);
                    }
                    front.process(&mut block);
                    if done.send((block, mid)).is_err() {
                        return;
                    }
                }
            });
            for (mut block, mid) in ready {
                back.process(&mut block);
                let pieces: Vec<&[f32]> = block.iter().map(|p| &**p).collect();
                metrics::mid_into(&pieces, mid);
            }
        });
        Self {
            channels,
            mid,
            block_powers: None,
        }
    }

    /// Its integrated loudness (BS.1770), LUFS; `None` when it is all below the gate. Each
    /// channel's blocks on a core of its own (the same figure as
    /// [`loudness::integrated_loudness`] to the last bits of the sum).
    pub fn loudness_lufs(&mut self, takes: &Takes<'_>) -> Option<f64> {
        let channels = &self.channels;
        let blocks = self
            .block_powers
            .get_or_insert_with(|| Self::block_powers(channels, takes.src_fs));
        loudness::gated_loudness(blocks)
    }

    /// [`loudness::block_powers`] of `channels`, a core for each of two, added up.
    fn block_powers(channels: &[Vec<f32>], fs: f64) -> Vec<f64> {
        let mut each =
            on_two_cores(channels, |c| loudness::block_powers(&[c.as_slice()], fs)).into_iter();
        let mut blocks = each.next().unwrap_or_default();
        for other in each {
            blocks.iter_mut().zip(other).for_each(|(b, o)| *b += o);
        }
        blocks
    }

    /// Its highest sample, linear.
    pub fn peak(&self) -> f32 {
        self.channels
            .iter()
            .map(|c| crate::dsp::peak_magnitude(c))
            .fold(0.0, f32::max)
    }

    /// Every sample times `gain`: the render with `gain` more output gain, where the ceiling
    /// acts on neither (the output gain is the last stage before it). The samples' first
    /// halves on another core.
    pub fn scale(&mut self, gain: f32) {
        let (firsts, seconds): (Vec<&mut [f32]>, Vec<&mut [f32]>) = self
            .channels
            .iter_mut()
            .chain(std::iter::once(&mut self.mid))
            .map(|v| {
                let half = v.len() / 2;
                v.split_at_mut(half)
            })
            .unzip();
        let scale = |pieces: Vec<&mut [f32]>| {
            for v in pieces.into_iter().flatten() {
                *v *= gain;
            }
        };
        std::thread::scope(|scope| {
            scope.spawn(|| scale(firsts));
            scale(seconds);
        });
        let power = (gain as f64).powi(2);
        for block in self.block_powers.iter_mut().flatten() {
            *block *= power;
        }
    }

    /// Its crest factor (M4), dB.
    pub fn crest_factor_db(&self, takes: &Takes<'_>) -> f64 {
        metrics::crest_factor_db(&self.mid, takes.src_fs)
    }

    /// Its waveform SNR against the reference, dB (paired only).
    pub fn snr_db(&self, takes: &Takes<'_>) -> Option<f64> {
        takes
            .paired
            .then(|| metrics::snr_db(&self.mid, takes.ref_mid))
    }

    /// Its metrics, and how far they are from the whole reference's (`reference_metrics`, and
    /// `reference_ltas_db`, its mid's [`metrics::ltas_levels_db`] at [`ltas_rate`]): what
    /// `render` and `compare` read on the same files, so the preset's `predicted_*` figures
    /// are the ones a user will measure.
    pub fn measure(
        &mut self,
        takes: &Takes<'_>,
        reference_metrics: SignalMetrics,
        reference_ltas_db: &[f64],
    ) -> (SignalMetrics, Prediction) {
        let loudness_lufs = self.loudness_lufs(takes);
        let fs = ltas_rate(takes);
        // The output's long-term spectrum beside its other metrics and its waveform SNR.
        let ((predicted, snr_db), (ltas_error, _)) = std::thread::scope(|scope| {
            let ltas = scope.spawn(|| {
                let levels_db = metrics::ltas_levels_db(&self.mid, fs);
                metrics::ltas_error_from_levels(&levels_db, reference_ltas_db, fs)
            });
            let levels_db = metrics::active_levels_db(&self.mid, takes.src_fs);
            let predicted = SignalMetrics::with_loudness(loudness_lufs, &self.mid, &levels_db);
            let snr_db = self.snr_db(takes);
            (
                (predicted, snr_db),
                ltas.join().expect("spectra do not panic"),
            )
        });
        let prediction = Prediction {
            ltas_error_db: ltas_error,
            loudness_error_lu: (predicted.loudness_lufs - reference_metrics.loudness_lufs).abs(),
            spread_error_db: (predicted.level_spread_db - reference_metrics.level_spread_db).abs(),
            crest_error_db: (predicted.crest_factor_db - reference_metrics.crest_factor_db).abs(),
            snr_db,
        };
        (predicted, prediction)
    }
}

/// The rate the long-term spectra of the prediction are read at: the lower of the takes'.
pub fn ltas_rate(takes: &Takes<'_>) -> f64 {
    takes.src_fs.min(takes.ref_fs)
}

/// The metrics of the whole (aligned) source through `settings`, and how far they are from
/// the whole reference's ([`Output::measure`]).
#[cfg(test)]
pub fn predict(
    takes: &Takes<'_>,
    settings: &ChainSettings,
    reference_metrics: SignalMetrics,
) -> (SignalMetrics, Prediction) {
    let reference_ltas_db = metrics::ltas_levels_db(takes.ref_mid, ltas_rate(takes));
    Output::render(takes, settings).measure(takes, reference_metrics, &reference_ltas_db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{excerpts, test_noise};
    use crate::audio_io::Audio;
    use crate::dsp::{EqBandSettings, FilterKind};

    /// The whole-file render (the chain's halves on two threads, in blocks) gives what one call
    /// of the chain gives, within the chain's block-size invariance, and the mid of its own
    /// channels bit for bit.
    #[test]
    fn the_render_on_two_cores_is_the_chain_s() {
        let frames = RENDER_BLOCK * 5 / 2;
        let left: Vec<f32> = test_noise(frames, 1).iter().map(|v| 0.5 * v).collect();
        let right: Vec<f32> = test_noise(frames, 2).iter().map(|v| 0.3 * v).collect();
        let audio = Audio {
            sample_rate: 48_000,
            channels: vec![left, right],
        };
        let mid = metrics::mid(&[&audio.channels[0], &audio.channels[1]]);
        let takes = Takes::pair(&audio, &audio, &mid, &mid, &mut Vec::new());
        let mut settings = ChainSettings::default();
        settings.eq.bands[0] = EqBandSettings::on(FilterKind::Bell, 1000.0, 6.0, 1.0);
        settings.eq.bands[1] = EqBandSettings::on(FilterKind::LowCut, 100.0, 0.0, 0.7);
        settings.compressor.enabled = true;
        settings.compressor.threshold_db = -20.0;
        settings.compressor.ratio = 4.0;
        settings.ceiling.enabled = true;
        settings.ceiling.ceiling_db = -3.0;
        let output = Output::render(&takes, &settings);
        let one_call = excerpts::render(&settings, &audio.channels, 48_000.0);
        let worst = output
            .channels
            .iter()
            .flatten()
            .zip(one_call.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "largest difference {worst}");
        let peak = output
            .channels
            .iter()
            .flatten()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.1, "the chain's output is not silence: peak {peak}");
        let own_mid = metrics::mid(&[&output.channels[0], &output.channels[1]]);
        assert_eq!(output.mid.len(), frames);
        assert!(
            output
                .mid
                .iter()
                .zip(&own_mid)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
