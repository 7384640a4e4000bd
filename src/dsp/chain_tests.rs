//! Whole-chain properties: block-size invariance, zero latency, robustness.

use super::chain::Chain;
use super::meters::MeterReader;
use super::settings::*;
use proptest::prelude::*;

fn band(kind: FilterKind, freq_hz: f32, gain_db: f32, q: f32, slope: u32) -> EqBandSettings {
    EqBandSettings {
        slope_db_per_oct: slope,
        ..EqBandSettings::on(kind, freq_hz, gain_db, q)
    }
}

/// Every stage in use: 8 bands, compressor with RMS detector and sidechain filter, ceiling.
pub(crate) fn busy_settings() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.input_gain_db = 3.0;
    s.eq.bands = [
        band(FilterKind::LowCut, 80.0, 0.0, 0.707, 24),
        band(FilterKind::LowShelf, 120.0, 3.0, 0.7, 12),
        band(FilterKind::Bell, 400.0, -3.0, 1.0, 12),
        band(FilterKind::Bell, 1200.0, 2.0, 1.5, 12),
        band(FilterKind::Notch, 3000.0, 0.0, 6.0, 12),
        band(FilterKind::Tilt, 2000.0, 2.0, 0.707, 12),
        band(FilterKind::HighShelf, 9000.0, 3.0, 0.7, 12),
        band(FilterKind::HighCut, 16000.0, 0.0, 0.707, 36),
    ];
    s.compressor = CompressorSettings {
        enabled: true,
        threshold_db: -24.0,
        ratio: 4.0,
        knee_db: 6.0,
        attack_ms: 5.0,
        release_ms: 80.0,
        detector: Detector::Rms,
        sidechain_hpf: true,
        sidechain_hpf_hz: 120.0,
        stereo_link_pct: 70.0,
        mix_pct: 90.0,
        ..CompressorSettings::default()
    };
    s.output_gain_db = 2.0;
    s.ceiling = CeilingSettings {
        enabled: true,
        ceiling_db: -1.0,
    };
    s
}

/// Deterministic test signal: noise bursts with a beat-like envelope plus a low tone.
pub(crate) fn beat(frames: usize, fs: f32, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..frames)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = state as f32 / u32::MAX as f32 * 2.0 - 1.0;
            let t = i as f32 / fs;
            let env = (-((t * 4.0).fract()) * 12.0).exp();
            0.6 * env * noise + 0.2 * (2.0 * std::f32::consts::PI * 55.0 * t).sin()
        })
        .collect()
}

fn render(settings: &ChainSettings, fs: f32, input: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
    let mut chain = Chain::new(settings, fs);
    let mut out = input.to_vec();
    let frames = out[0].len();
    let mut start = 0;
    while start < frames {
        let end = (start + block).min(frames);
        let mut views: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..end]).collect();
        chain.process(&mut views);
        start = end;
    }
    out
}

#[test]
fn block_size_does_not_change_the_output() {
    let fs = 48_000.0;
    let input = vec![beat(48_000, fs, 1), beat(48_000, fs, 2)];
    let reference = render(&busy_settings(), fs, &input, 4096);
    for block in [1, 7, 64, 512] {
        let out = render(&busy_settings(), fs, &input, block);
        let worst = out
            .iter()
            .flatten()
            .zip(reference.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "block {block}: max difference {worst}");
    }
}

/// A copy processes what its original does, bit for bit: a copy of a new chain is a new
/// chain (the analysis renders excerpts from copies of one), and a copy made mid-stream goes on
/// where the original stands, with the compressor and the ceiling busy.
#[test]
fn a_copy_processes_what_its_original_does() {
    let fs = 48_000.0;
    let settings = busy_settings();
    let input = [beat(24_000, fs, 3), beat(24_000, fs, 4)];
    let bits =
        |out: &[Vec<f32>]| -> Vec<u32> { out.iter().flatten().map(|v| v.to_bits()).collect() };
    let process = |chain: &mut Chain, from: usize, to: usize| {
        let mut out: Vec<Vec<f32>> = input.iter().map(|c| c[from..to].to_vec()).collect();
        let mut views: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        chain.process(&mut views);
        out
    };
    let fresh = Chain::new(&settings, fs);
    let new_out = process(&mut Chain::new(&settings, fs), 0, 24_000);
    assert_eq!(
        bits(&process(&mut fresh.clone(), 0, 24_000)),
        bits(&new_out)
    );
    let mut original = Chain::new(&settings, fs);
    process(&mut original, 0, 12_000);
    let mut copy = original.clone();
    let going_on = process(&mut original, 12_000, 24_000);
    assert_eq!(bits(&process(&mut copy, 12_000, 24_000)), bits(&going_on));
    // The chain is at work there (not passing its input through).
    let changed = going_on[0]
        .iter()
        .zip(&input[0][12_000..])
        .map(|(y, x)| (y - x).abs())
        .fold(0.0f32, f32::max);
    assert!(changed > 0.05, "largest change {changed}");
}

/// The chain's halves, the first a block ahead of the second (as an offline render runs them on
/// two threads), give the chain's samples bit for bit.
#[test]
fn the_halves_a_block_apart_are_the_chain() {
    let fs = 48_000.0;
    let input = vec![beat(48_000, fs, 4), beat(48_000, fs, 5)];
    let block = 1000;
    let whole = render(&busy_settings(), fs, &input, block);
    let mut chain = Chain::new(&busy_settings(), fs);
    let (mut front, mut back) = chain.halves().expect("a new chain is plain");
    let mut out = input.clone();
    let [left, right] = &mut out[..] else {
        unreachable!()
    };
    let mut blocks = left.chunks_mut(block).zip(right.chunks_mut(block));
    let mut ahead: Option<[&mut [f32]; 2]> = None;
    loop {
        let next = blocks.next().map(|(l, r)| {
            let mut pair = [l, r];
            front.process(&mut pair);
            pair
        });
        if let Some(mut pair) = ahead.take() {
            back.process(&mut pair);
        }
        match next {
            Some(pair) => ahead = Some(pair),
            None => break,
        }
    }
    let differing = out
        .iter()
        .flatten()
        .zip(whole.iter().flatten())
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differing, 0, "of {} samples", 2 * input[0].len());
    // The halves are for a plain chain only.
    chain.set_metering(true);
    assert!(chain.halves().is_none());
    chain.set_metering(false);
    chain.set_bypass(true);
    assert!(chain.halves().is_none());
}

#[test]
fn all_off_chain_is_bit_identical() {
    let mut s = ChainSettings::default();
    s.ceiling.enabled = false;
    let input = vec![beat(10_000, 44_100.0, 3)];
    let out = render(&s, 44_100.0, &input, 333);
    assert!(
        out[0]
            .iter()
            .zip(&input[0])
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn zero_latency_impulse_peaks_at_sample_zero() {
    let mut s = busy_settings();
    s.compressor.enabled = false;
    s.eq.bands[0].enabled = false; // the steep low cut rings; the rest are gentle
    s.eq.bands[7].enabled = false;
    s.ceiling.enabled = false;
    let mut x = vec![0.0f32; 4096];
    x[0] = 0.25;
    let out = render(&s, 48_000.0, &[x], 512);
    let argmax = out[0]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    assert_eq!(argmax, 0);
}

#[test]
fn non_finite_input_does_not_poison_the_state() {
    let fs = 48_000.0;
    let mut chain = Chain::new(&busy_settings(), fs);
    let mut l = beat(512, fs, 4);
    let mut r = beat(512, fs, 5);
    l[100] = f32::NAN;
    r[200] = f32::INFINITY;
    l[300] = f32::NEG_INFINITY;
    chain.process(&mut [&mut l, &mut r]);
    assert!(
        l.iter().chain(&r).all(|v| v.is_finite()),
        "even the bad block is finite"
    );
    let mut l = beat(512, fs, 6);
    let mut r = beat(512, fs, 7);
    chain.process(&mut [&mut l, &mut r]);
    assert!(l.iter().chain(&r).all(|v| v.is_finite()));
}

#[test]
fn subnormal_input_never_comes_out_subnormal() {
    // clap-validator's fuzzer feeds subnormals; whatever the settings, none may come out.
    let all_off = ChainSettings {
        ceiling: CeilingSettings {
            enabled: false,
            ..CeilingSettings::default()
        },
        ..ChainSettings::default()
    };
    for settings in [ChainSettings::default(), all_off, busy_settings()] {
        let mut chain = Chain::new(&settings, 48_000.0);
        let mut l: Vec<f32> = (0..1024)
            .map(|i| if i % 2 == 0 { 1e-39 } else { -3e-42 })
            .collect();
        let mut r: Vec<f32> = (0..1024)
            .map(|i| f32::MIN_POSITIVE * (1.0 + i as f32 / 1024.0))
            .collect();
        assert!(l[0].is_subnormal() && !r[0].is_subnormal());
        chain.process(&mut [&mut l, &mut r]);
        assert!(l.iter().chain(&r).all(|v| !v.is_subnormal()));
    }
}

#[test]
fn silence_after_a_burst_leaves_no_subnormal_output() {
    let fs = 48_000.0;
    let mut s = busy_settings();
    s.ceiling.enabled = false;
    let mut chain = Chain::new(&s, fs);
    let mut l = beat(48_000, fs, 8);
    let mut r = beat(48_000, fs, 9);
    chain.process(&mut [&mut l, &mut r]);
    for _ in 0..200 {
        let (mut l, mut r) = (vec![0.0f32; 4800], vec![0.0f32; 4800]);
        chain.process(&mut [&mut l, &mut r]);
        assert!(l.iter().chain(&r).all(|v| !v.is_subnormal()));
    }
}

#[test]
fn meters_report_levels_only_when_enabled() {
    let fs = 48_000.0;
    let mut s = ChainSettings::default();
    s.ceiling.enabled = false;
    s.output_gain_db = -6.0;
    let mut chain = Chain::new(&s, fs);
    let meters = chain.meters();
    let mut x = vec![0.5f32; 4800];
    chain.process(&mut [&mut x]);
    assert_eq!(
        meters.take(MeterReader::Editor).input_peak_db,
        super::meters::METER_FLOOR_DB
    );
    chain.set_metering(true);
    // 2 s of a constant 0.5: peaks −6.02 / −12.02 dB; RMS settled to the same (a
    // constant has RMS = peak) within 0.01 dB after 6 time constants.
    for _ in 0..20 {
        let mut x = vec![0.5f32; 4800];
        chain.process(&mut [&mut x]);
    }
    let m = meters.take(MeterReader::Editor);
    assert!((m.input_peak_db - -6.02).abs() < 0.01, "{m:?}");
    assert!((m.output_peak_db - -12.02).abs() < 0.01, "{m:?}");
    assert!((m.input_rms_db - -6.02).abs() < 0.01, "{m:?}");
    assert!((m.output_rms_db - -12.02).abs() < 0.01, "{m:?}");
    assert_eq!((m.gain_reduction_db, m.ceiling_reduction_db), (0.0, 0.0));
    // Peaks restart at each take; the RMS keeps its smoothed value.
    let again = meters.take(MeterReader::Editor);
    assert_eq!(again.input_peak_db, super::meters::METER_FLOOR_DB);
    assert!((again.input_rms_db - -6.02).abs() < 0.01);
    // The other reader's peaks were left alone: it still sees the whole run, once.
    let remote = meters.take(MeterReader::Remote);
    assert!((remote.input_peak_db - -6.02).abs() < 0.01, "{remote:?}");
    let remote_again = meters.take(MeterReader::Remote);
    assert_eq!(remote_again.input_peak_db, super::meters::METER_FLOOR_DB);
}

#[test]
fn meters_show_the_compressor_and_the_ceiling_at_work() {
    let fs = 48_000.0;
    let mut s = ChainSettings::default();
    s.input_gain_db = 6.0;
    s.compressor.enabled = true;
    s.compressor.threshold_db = -20.0;
    s.compressor.ratio = 4.0;
    s.compressor.knee_db = 0.0;
    s.compressor.makeup_db = 24.0;
    s.ceiling.enabled = true;
    s.ceiling.ceiling_db = -1.0;
    let mut chain = Chain::new(&s, fs);
    chain.set_metering(true);
    let meters = chain.meters();
    // A steady 0.1 (−20 dBFS) becomes −14 dBFS at the compressor: 6 dB over, 4.5 dB reduced
    // once settled; +24 dB make-up then hits the ceiling.
    for _ in 0..40 {
        let mut x = vec![0.1f32; 2400];
        chain.process(&mut [&mut x]);
    }
    let m = meters.take(MeterReader::Editor);
    assert!((m.compressor_input_db - -14.0).abs() < 0.01, "{m:?}");
    assert!((m.gain_reduction_db - 4.5).abs() < 0.05, "{m:?}");
    assert!(m.ceiling_reduction_db > 1.0, "{m:?}");
    assert!(m.output_peak_db <= -1.0 + 1e-3, "{m:?}");
}

fn arb_band() -> impl Strategy<Value = EqBandSettings> {
    (
        any::<bool>(),
        0usize..8,
        20.0f32..20_000.0,
        -24.0f32..24.0,
        0.1f32..18.0,
        0usize..ranges::CUT_SLOPES_DB_PER_OCT.len(),
    )
        .prop_map(
            |(enabled, kind, freq_hz, gain_db, q, slope)| EqBandSettings {
                enabled,
                kind: FilterKind::ALL[kind],
                freq_hz,
                gain_db,
                q,
                slope_db_per_oct: ranges::CUT_SLOPES_DB_PER_OCT[slope],
            },
        )
}

fn arb_settings() -> impl Strategy<Value = ChainSettings> {
    (
        proptest::array::uniform8(arb_band()),
        (
            -60.0f32..0.0,
            1.0f32..21.0,
            0.0f32..24.0,
            0.05f32..250.0,
            5.0f32..2500.0,
        ),
        (
            -12.0f32..24.0,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            20.0f32..500.0,
        ),
        (
            0.0f32..100.0,
            0.0f32..100.0,
            -24.0f32..24.0,
            -24.0f32..24.0,
            -12.0f32..0.0,
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                bands,
                (t, r, k, a, rel),
                (m, auto, rms, sc, sc_hz),
                (link, mix, ig, og, c),
                ceil,
            )| {
                let mut s = ChainSettings::default();
                s.eq.bands = bands;
                s.compressor = CompressorSettings {
                    enabled: true,
                    threshold_db: t,
                    ratio: if r > 20.0 { f32::INFINITY } else { r },
                    knee_db: k,
                    attack_ms: a,
                    release_ms: rel,
                    makeup_db: m,
                    auto_makeup: auto,
                    detector: if rms { Detector::Rms } else { Detector::Peak },
                    sidechain_hpf: sc,
                    sidechain_hpf_hz: sc_hz,
                    stereo_link_pct: link,
                    mix_pct: mix,
                };
                s.input_gain_db = ig;
                s.output_gain_db = og;
                s.ceiling = CeilingSettings {
                    enabled: ceil,
                    ceiling_db: c,
                };
                s
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A chain made like another (its unchanged bands copied) runs as one made afresh, to the
    /// bit, whichever bands and other settings differ.
    #[test]
    fn a_chain_made_like_another_is_the_chain_made_afresh(
        like in arb_settings(),
        other in arb_settings(),
        bands_changed in proptest::array::uniform8(any::<bool>()),
        rest_changed in any::<bool>(),
        fs in prop::sample::select(vec![44_100.0f32, 48_000.0, 96_000.0]),
    ) {
        let mut settings = if rest_changed { other.clone() } else { like.clone() };
        for (i, changed) in bands_changed.iter().enumerate() {
            settings.eq.bands[i] = if *changed { other.eq.bands[i] } else { like.eq.bands[i] };
        }
        let template = Chain::new(&like, fs);
        let mut afresh = Chain::new(&settings, fs);
        let mut copied = Chain::new_like(&template, &settings);
        prop_assert_eq!(copied.settings(), &settings);
        let input = [21, 22].map(|seed| {
            beat(3000, fs, seed).into_iter().map(|x| 4.0 * x).collect::<Vec<f32>>()
        });
        let (mut a, mut b) = (input.clone(), input);
        for start in (0..3000).step_by(1000) {
            let [al, ar] = &mut a;
            let [bl, br] = &mut b;
            afresh.process(&mut [&mut al[start..start + 1000], &mut ar[start..start + 1000]]);
            copied.process(&mut [&mut bl[start..start + 1000], &mut br[start..start + 1000]]);
        }
        for (a, b) in a.iter().flatten().zip(b.iter().flatten()) {
            prop_assert_eq!(a.to_bits(), b.to_bits());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_settings_at_any_rate_give_finite_output(
        settings in arb_settings(),
        next in arb_settings(),
        fs in prop::sample::select(vec![22_050.0f32, 32_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0, 192_000.0]),
    ) {
        prop_assert!(settings.validate().is_empty());
        let mut chain = Chain::new(&settings, fs);
        let mut l = beat(2048, fs, 11);
        let mut r = beat(2048, fs, 12);
        l.iter_mut().for_each(|v| *v *= 8.0); // hot: +18 dB over full scale
        chain.process(&mut [&mut l[..1024], &mut r[..1024]]);
        chain.set_settings(&next); // and a jump to other settings mid-stream
        chain.process(&mut [&mut l[1024..], &mut r[1024..]]);
        prop_assert!(l.iter().chain(&r).all(|v| v.is_finite()));
    }
}

#[test]
fn bypass_passes_the_input_and_switches_without_a_click() {
    let fs = 48_000.0;
    let settings = busy_settings();
    let input = beat(48_000, fs, 3);
    // Bypassed from the start: the output is the input, exactly.
    let mut chain = Chain::new(&settings, fs);
    chain.set_bypass(true);
    chain.reset();
    let mut x = input.clone();
    chain.process(&mut [&mut x]);
    assert_eq!(x, input);
    // Switching on at 10 000 and off at 30 000: the output moves from the processed signal to
    // the input over 10 ms (480 samples) each way, always between the two, and is exactly the
    // input in between; the chain kept running, so afterwards it is the processed signal.
    let mut chain = Chain::new(&settings, fs);
    let mut wet = input.clone();
    Chain::new(&settings, fs).process(&mut [&mut wet]);
    let mut y = input.clone();
    for (start, end, bypass) in [
        (0, 10_000, false),
        (10_000, 30_000, true),
        (30_000, 48_000, false),
    ] {
        chain.set_bypass(bypass);
        chain.process(&mut [&mut y[start..end]]);
    }
    for i in 0..48_000 {
        let (lo, hi) = (input[i].min(wet[i]), input[i].max(wet[i]));
        assert!(
            y[i] >= lo - 1e-6 && y[i] <= hi + 1e-6,
            "sample {i}: {} outside {lo}…{hi}",
            y[i]
        );
    }
    assert_eq!(&y[10_480..30_000], &input[10_480..30_000]);
    for i in 30_480..48_000 {
        assert!((y[i] - wet[i]).abs() < 1e-6, "sample {i}");
    }
    // No step larger than the signals' own plus one 480th of their difference (the fade).
    let step = |s: &[f32]| {
        s.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0f32, f32::max)
    };
    let apart = input
        .iter()
        .zip(&wet)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(step(&y) <= step(&input).max(step(&wet)) + apart / 480.0 + 1e-6);
}
