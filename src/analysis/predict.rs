//! Stage 7, the prediction: the whole source through the final chain, measured against the
//! whole reference ([`metrics`]; paired, both cover their overlap). What `analyze` prints as
//! "expected" and writes as `predicted_*`.

use super::align::Takes;
use super::excerpts::render;
use super::metrics::{self, SignalMetrics};
use crate::dsp::ChainSettings;

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
}

impl Output {
    /// The whole source of `takes` through `settings`.
    pub fn render(takes: &Takes<'_>, settings: &ChainSettings) -> Self {
        let source: Vec<Vec<f32>> = takes.src_channels.iter().map(|c| c.to_vec()).collect();
        let channels = render(settings, &source, takes.src_fs);
        let refs: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
        let mid = metrics::mid(&refs);
        Self { channels, mid }
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

    /// Its metrics, and how far they are from the whole reference's (`reference_metrics`):
    /// what `render` and `compare` read on the same files, so the preset's `predicted_*`
    /// figures are the ones a user will measure.
    pub fn measure(
        &self,
        takes: &Takes<'_>,
        reference_metrics: SignalMetrics,
    ) -> (SignalMetrics, Prediction) {
        let &Takes {
            ref_mid,
            ref_fs,
            src_fs,
            ..
        } = takes;
        let refs: Vec<&[f32]> = self.channels.iter().map(Vec::as_slice).collect();
        // The output's metrics and its spectrum's distance from the reference's, side by side.
        let (predicted, (ltas_error, _)) = std::thread::scope(|scope| {
            let ltas =
                scope.spawn(|| metrics::ltas_error_db(&self.mid, ref_mid, src_fs.min(ref_fs)));
            let predicted = SignalMetrics::with_mid(&refs, &self.mid, src_fs);
            (predicted, ltas.join().expect("spectra do not panic"))
        });
        let prediction = Prediction {
            ltas_error_db: ltas_error,
            loudness_error_lu: (predicted.loudness_lufs - reference_metrics.loudness_lufs).abs(),
            spread_error_db: (predicted.level_spread_db - reference_metrics.level_spread_db).abs(),
            crest_error_db: (predicted.crest_factor_db - reference_metrics.crest_factor_db).abs(),
            snr_db: self.snr_db(takes),
        };
        (predicted, prediction)
    }
}

/// The metrics of the whole (aligned) source through `settings`, and how far they are from
/// the whole reference's ([`Output::measure`]).
pub fn predict(
    takes: &Takes<'_>,
    settings: &ChainSettings,
    reference_metrics: SignalMetrics,
) -> (SignalMetrics, Prediction) {
    Output::render(takes, settings).measure(takes, reference_metrics)
}
