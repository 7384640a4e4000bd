//! The analysis fits with the DSP's own model (issue 12, point 1): its simulation of the
//! compressor is the gain `dsp::Compressor` applies, sample for sample, and the EQ curve it
//! fits is `dsp::eq::magnitude_db`, for random settings and signals.

use matchbox::analysis::comp_fit::{CompModel, simulated_gain_db};
use matchbox::analysis::eq_fit::digital_curve;
use matchbox::analysis::spectrum::log_grid_hz;
use matchbox::dsp::compressor::Compressor;
use matchbox::dsp::{Detector, EqBandSettings, EqSettings, FilterKind, NUM_BANDS, ranges};
use proptest::prelude::*;

/// Beat-like test material from `seed`: noise bursts at random levels (60 dB of range) and
/// lengths over silence, a different one per channel.
fn signal(seed: u64, channels: usize, len: usize) -> Vec<Vec<f32>> {
    let mut state = seed | 1;
    let mut rand = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..channels)
        .map(|_| {
            let mut x = vec![0.0f32; len];
            let mut t = 0;
            while t < len {
                let level = 10f64.powf(-60.0 * rand() / 20.0);
                let burst = 50 + (rand() * 3000.0) as usize;
                let decay = 0.2 + rand() * 2.0;
                let end = (t + burst).min(len);
                for (k, v) in x[t..end].iter_mut().enumerate() {
                    let env = (-(k as f64) * decay / burst as f64).exp();
                    *v = (level * env * (2.0 * rand() - 1.0)) as f32;
                }
                t += burst + (rand() * 2000.0) as usize;
            }
            x
        })
        .collect()
}

fn log_uniform(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..hi.ln()).prop_map(f64::exp)
}

prop_compose! {
    fn model()(
        threshold_db in ranges::THRESHOLD_DB.min as f64..=ranges::THRESHOLD_DB.max as f64,
        ratio in log_uniform(1.0, ranges::RATIO.max as f64),
        knee_db in 0.0f64..18.0,
        attack_ms in log_uniform(ranges::ATTACK_MS.min as f64, ranges::ATTACK_MS.max as f64),
        release_ms in log_uniform(ranges::RELEASE_MS.min as f64, ranges::RELEASE_MS.max as f64),
        rms in any::<bool>(),
        linked in any::<bool>(),
        sidechain_hpf_hz in prop::option::of(log_uniform(20.0, 500.0)),
    ) -> CompModel {
        CompModel {
            threshold_db,
            ratio,
            knee_db,
            attack_ms,
            release_ms,
            detector: if rms { Detector::Rms } else { Detector::Peak },
            linked,
            sidechain_hpf_hz,
        }
    }
}

prop_compose! {
    fn band()(
        enabled in any::<bool>(),
        kind in 0..FilterKind::ALL.len(),
        freq_hz in log_uniform(20.0, 20_000.0),
        gain_db in -24.0f32..24.0,
        q in log_uniform(0.1, 18.0),
        slope in 0..ranges::CUT_SLOPES_DB_PER_OCT.len(),
    ) -> EqBandSettings {
        EqBandSettings {
            enabled,
            kind: FilterKind::ALL[kind],
            freq_hz: freq_hz as f32,
            gain_db,
            q: q as f32,
            slope_db_per_oct: ranges::CUT_SLOPES_DB_PER_OCT[slope],
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The gain the analysis simulates for a model is the gain `render` applies with the
    /// model's settings, within 1e-4 dB at every sample (the compressor's gain goes through
    /// its fast exp2, 9e-5 dB at most; the rest is rounding).
    #[test]
    fn compressor_simulation_is_the_compressor(
        m in model(),
        seed in any::<u64>(),
        stereo in any::<bool>(),
        rate in prop::sample::select(vec![44_100.0f64, 48_000.0, 96_000.0]),
        block in 1usize..2048,
    ) {
        let channels = if stereo { 2 } else { 1 };
        let input = signal(seed, channels, 12_000);
        let refs: Vec<&[f32]> = input.iter().map(Vec::as_slice).collect();
        let simulated = simulated_gain_db(&refs, &m, rate);

        let mut compressor = Compressor::new();
        compressor.set_settings(&m.settings(0.0));
        compressor.prepare(rate);
        let mut output = input.clone();
        for start in (0..12_000).step_by(block) {
            let end = (start + block).min(12_000);
            let mut views: Vec<&mut [f32]> =
                output.iter_mut().map(|c| &mut c[start..end]).collect();
            compressor.process(&mut views);
        }
        let mut worst = 0.0f64;
        for c in 0..channels {
            for n in 0..12_000 {
                let (x, y) = (input[c][n] as f64, output[c][n] as f64);
                // Tiny samples times a deep cut are flushed to 0: no gain to read there.
                if x.abs() < 1e-20 || y.abs() < 1e-30 {
                    continue;
                }
                let applied = 20.0 * (y / x).log10();
                worst = worst.max((applied - simulated[c][n] as f64).abs());
            }
        }
        prop_assert!(worst <= 1e-4, "{m:?}: worst {worst} dB");
    }

    /// The EQ curve the analysis fits is the EQ's own magnitude response.
    #[test]
    fn eq_curve_is_the_eq_response(
        bands in prop::collection::vec(band(), NUM_BANDS),
        rate in prop::sample::select(vec![44_100.0f64, 48_000.0, 96_000.0]),
    ) {
        let mut eq = EqSettings::default();
        eq.bands.copy_from_slice(&bands);
        let freqs = log_grid_hz(rate);
        let curve = digital_curve(rate);
        let mut total = vec![0.0; freqs.len()];
        let mut one = vec![0.0; freqs.len()];
        for b in &bands {
            curve(b, &freqs, &mut one);
            total.iter_mut().zip(&one).for_each(|(t, o)| *t += o);
        }
        for (&f, &got) in freqs.iter().zip(&total) {
            let want = matchbox::dsp::eq::magnitude_db(&eq, f, rate);
            prop_assert!((got - want).abs() <= 1e-9, "{f} Hz: {got} vs {want}");
        }
    }
}
