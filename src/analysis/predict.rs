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

/// The metrics of the whole (aligned) source through the final `settings`, and how far they
/// are from the whole reference's (`reference_metrics`): what `render` and `compare` read on
/// the same files, so the preset's `predicted_*` figures are the ones a user will measure.
pub fn predict(
    takes: &Takes<'_>,
    settings: &ChainSettings,
    reference_metrics: SignalMetrics,
) -> (SignalMetrics, Prediction) {
    let &Takes {
        ref_mid,
        ref_fs,
        src_fs,
        paired,
        ..
    } = takes;
    let source: Vec<Vec<f32>> = takes.src_channels.iter().map(|c| c.to_vec()).collect();
    let out = render(settings, &source, src_fs);
    let out_refs: Vec<&[f32]> = out.iter().map(Vec::as_slice).collect();
    let om = metrics::mid(&out_refs);
    // The output's metrics and its spectrum's distance from the reference's, side by side.
    let (predicted, (ltas_error, _)) = std::thread::scope(|scope| {
        let ltas = scope.spawn(|| metrics::ltas_error_db(&om, ref_mid, src_fs.min(ref_fs)));
        let predicted = SignalMetrics::measure(&out_refs, src_fs);
        (predicted, ltas.join().expect("spectra do not panic"))
    });
    let prediction = Prediction {
        ltas_error_db: ltas_error,
        loudness_error_lu: (predicted.loudness_lufs - reference_metrics.loudness_lufs).abs(),
        spread_error_db: (predicted.level_spread_db - reference_metrics.level_spread_db).abs(),
        crest_error_db: (predicted.crest_factor_db - reference_metrics.crest_factor_db).abs(),
        snr_db: paired.then(|| metrics::snr_db(&om, ref_mid)),
    };
    (predicted, prediction)
}
