//! Identify the compressor: threshold, ratio, knee, attack, release, detector.
//!
//! Paired (the source is the same performance as the reference; matching.md §6.2 A, the
//! Barchiesi route): the gain trace `10·log10(E_ref/E_src)` in 1 ms blocks is observed; the
//! model below is simulated sample by sample on the (EQ'd) source and its block gains are
//! fitted to the trace by a coarse grid then Nelder–Mead. Make-up is the closed-form weighted
//! mean of what is left.
//!
//! Unpaired (§6.2 B): only statistics can match. The same simulation gives the output's
//! 50 ms level distribution, spread and crest factor, and those are fitted to the reference's
//! under weak priors (ratio 3, attack 10 ms, release 150 ms), because attack and release are
//! weakly identifiable from statistics alone (§3, the LA-2A fits).
//!
//! Model: the plugin's compressor itself. Detector levels come from
//! [`Compressor::detector_levels_db`] (peak or RMS, channels linked by the louder one, or each
//! channel on its own), the gain from [`GainLanes`] (the compressor's gain computer and
//! attack/release, up to eight candidate settings per pass): what `render` runs, sample for
//! sample ([`simulated_gain_db`]; a property test holds them together).
//!
//! Files: [`simulation`] (the model run on excerpts), [`search`] (grid and Nelder–Mead),
//! [`paired`] and [`unpaired`] (the two fits).

mod paired;
mod search;
mod simulation;
#[cfg(test)]
mod tests;
mod unpaired;

pub use paired::{PairedReference, fit_paired};
pub use simulation::{detector_levels_db, simulated_gain_db};
pub use unpaired::{LevelStats, fit_unpaired, measure_stats, stats_distance_db};

use crate::dsp::{CompressorSettings, Detector, ranges};

/// Gain-trace block length, seconds.
const BLOCK_S: f64 = 0.001;
/// The coarse grid is evaluated on this much of the excerpt, seconds.
const GRID_S: f64 = 2.5;
/// Simulated but not scored at the start of the excerpt, so the envelopes settle, seconds.
const WARMUP_S: f64 = 0.5;
/// Blocks quieter than this below the loudest block carry no gain information, dB.
const BLOCK_RANGE_DB: f64 = 50.0;

/// The compressor parameters being identified.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompModel {
    pub threshold_db: f64,
    pub ratio: f64,
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub detector: Detector,
    /// One gain for all channels (stereo link 100 %), or each channel its own (0 %).
    pub linked: bool,
    /// The detector's sidechain high-pass corner, Hz (`None`: off). Kicks and sub-bass read
    /// quieter through it, so a compressor with one lets the low end through.
    pub sidechain_hpf_hz: Option<f64>,
}

impl CompModel {
    /// No compression (ratio 1).
    pub(super) const OFF: CompModel = CompModel {
        threshold_db: 0.0,
        ratio: 1.0,
        knee_db: 0.0,
        attack_ms: 1.0,
        release_ms: 10.0,
        detector: Detector::Rms,
        linked: true,
        sidechain_hpf_hz: None,
    };

    /// The detector levels of `channels` this model reads (its detector and sidechain).
    pub fn levels_db(&self, channels: &[&[f32]], sample_rate: f64) -> Vec<f32> {
        detector_levels_db(channels, sample_rate, self.detector, self.sidechain_hpf_hz)
    }

    /// The model as plugin settings with `makeup_db`, clamped into the plugin's ranges.
    pub fn settings(&self, makeup_db: f64) -> CompressorSettings {
        CompressorSettings {
            enabled: true,
            threshold_db: ranges::THRESHOLD_DB.clamp(self.threshold_db as f32),
            ratio: ranges::RATIO.clamp(self.ratio as f32),
            knee_db: ranges::KNEE_DB.clamp(self.knee_db as f32),
            attack_ms: ranges::ATTACK_MS.clamp(self.attack_ms as f32),
            release_ms: ranges::RELEASE_MS.clamp(self.release_ms as f32),
            makeup_db: ranges::MAKEUP_DB.clamp(makeup_db as f32),
            detector: self.detector,
            stereo_link_pct: if self.linked { 100.0 } else { 0.0 },
            sidechain_hpf: self.sidechain_hpf_hz.is_some(),
            sidechain_hpf_hz: self
                .sidechain_hpf_hz
                .map_or(ranges::SIDECHAIN_HPF_HZ.default, |hz| {
                    ranges::SIDECHAIN_HPF_HZ.clamp(hz as f32)
                }),
            ..CompressorSettings::default()
        }
    }
}

/// A fitted compressor and how well it explains the data.
#[derive(Debug, Clone, PartialEq)]
pub struct CompFit {
    /// `None` when compression does not help (the data look uncompressed).
    pub model: Option<CompModel>,
    /// Make-up gain that goes with the model, dB.
    pub makeup_db: f64,
    /// Paired: weighted RMS error of the block gain trace, dB. Unpaired: the statistics cost.
    pub error_db: f64,
    /// The same error without a compressor.
    pub error_without_db: f64,
}
