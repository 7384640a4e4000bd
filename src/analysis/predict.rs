//! Stage 7, the prediction: the source's excerpts through the final chain, measured against
//! the same excerpts of the reference when paired, against the whole reference otherwise
//! ([`metrics`]). What `analyze` prints as "expected" and writes as `predicted_*`.

use super::align::Takes;
use super::excerpts::concat_channels;
use super::level::Leveled;
use super::metrics::{self, SignalMetrics};

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

/// The metrics of the source through the chain (`leveled`), and how far they are from the
/// reference's (`reference_metrics`: the whole reference's, used when unpaired).
pub fn predict(
    takes: &Takes<'_>,
    leveled: &Leveled,
    reference_metrics: SignalMetrics,
) -> (SignalMetrics, Prediction) {
    let &Takes {
        ref_mid,
        ref_fs,
        src_fs,
        paired,
        ..
    } = takes;
    let out_concat = concat_channels(&leveled.rendered);
    let out_refs: Vec<&[f32]> = out_concat.iter().map(Vec::as_slice).collect();
    let mut predicted = SignalMetrics::measure(&out_refs, src_fs);
    predicted.loudness_lufs += leveled.correction_lu;
    let (compare_metrics, ltas_error, snr) = if paired {
        let ref_concat = concat_channels(&leveled.reference);
        let rr: Vec<&[f32]> = ref_concat.iter().map(Vec::as_slice).collect();
        let m = SignalMetrics::measure(&rr, ref_fs);
        let (rm, om) = (metrics::mid(&rr), metrics::mid(&out_refs));
        let (ltas, _) = metrics::ltas_error_db(&om, &rm, ref_fs);
        (m, ltas, Some(metrics::snr_db(&om, &rm)))
    } else {
        let om = metrics::mid(&out_refs);
        let (ltas, _) = metrics::ltas_error_db(&om, ref_mid, src_fs.min(ref_fs));
        (reference_metrics, ltas, None)
    };
    let prediction = Prediction {
        ltas_error_db: ltas_error,
        loudness_error_lu: (predicted.loudness_lufs - compare_metrics.loudness_lufs).abs(),
        spread_error_db: (predicted.level_spread_db - compare_metrics.level_spread_db).abs(),
        crest_error_db: (predicted.crest_factor_db - compare_metrics.crest_factor_db).abs(),
        snr_db: snr,
    };
    (predicted, prediction)
}
