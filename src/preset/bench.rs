//! The settings `matchbox bench` and the criterion benches run when no preset is given: every
//! part of the chain busy, mirroring the Pedalboard chain in `benches/pedalboard_chain.py`
//! so the two timings compare like with like.

use crate::dsp::{
    CeilingSettings, ChainSettings, CompressorSettings, Detector, EqBandSettings, EqSettings,
    FilterKind,
};

/// All 8 bands on (low cut 80 Hz 12 dB/oct, low shelf 120 Hz +3 dB, bells 400 Hz −3 dB /
/// 1.2 kHz +2 dB / 3 kHz +4 dB / 6 kHz −2 dB, high shelf 9 kHz +3 dB, high cut 16 kHz
/// 12 dB/oct); compressor −20 dB 4:1, attack 5 ms, release 80 ms, RMS detector with a 100 Hz
/// sidechain high-pass; ceiling on; output +3 dB.
pub fn bench_settings() -> ChainSettings {
    let band = |kind, freq_hz, gain_db, q| EqBandSettings::on(kind, freq_hz, gain_db, q);
    ChainSettings {
        input_gain_db: 0.0,
        eq: EqSettings {
            bands: [
                band(FilterKind::LowCut, 80.0, 0.0, 0.707),
                band(FilterKind::LowShelf, 120.0, 3.0, 0.7),
                band(FilterKind::Bell, 400.0, -3.0, 1.0),
                band(FilterKind::Bell, 1_200.0, 2.0, 1.5),
                band(FilterKind::Bell, 3_000.0, 4.0, 2.0),
                band(FilterKind::Bell, 6_000.0, -2.0, 1.0),
                band(FilterKind::HighShelf, 9_000.0, 3.0, 0.7),
                band(FilterKind::HighCut, 16_000.0, 0.0, 0.707),
            ],
        },
        compressor: CompressorSettings {
            enabled: true,
            threshold_db: -20.0,
            ratio: 4.0,
            attack_ms: 5.0,
            release_ms: 80.0,
            detector: Detector::Rms,
            sidechain_hpf: true,
            sidechain_hpf_hz: 100.0,
            ..CompressorSettings::default()
        },
        output_gain_db: 3.0,
        ceiling: CeilingSettings {
            enabled: true,
            ..CeilingSettings::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_settings_are_valid_and_use_every_band() {
        let s = bench_settings();
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        assert!(s.eq.bands.iter().all(|b| b.enabled));
        assert!(s.compressor.enabled && s.compressor.sidechain_hpf && s.ceiling.enabled);
    }
}
