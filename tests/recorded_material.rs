//! Every factory preset learned back from paired takes of recorded material (issue 12, point
//! 5): drums (freepats' recorded kit) and a voice (alsa-utils' spoken channel names), mono and
//! stereo, 20 s and 3 minutes, each processed by the preset, analysed, and the learned preset
//! rendered on the dry take. The answer is representable, and every case must reach the
//! issue's target ([`TARGET_SNR_DB`]); the test also holds each case's figures to its
//! regression bounds ([`MEASURED`], [`MARGIN`]).
//!
//! It also holds the analysis' prediction (`predicted_*` in the preset) to what `render` and
//! `compare` measure on the same files ([`PREDICTION_TOLERANCE`]).
//!
//! `cargo test --release --test recorded_material -- --nocapture` prints the table, and how
//! long each analysis took (two run at a time, one per core).

mod recorded;

use matchbox::analysis::{self, AnalyzeOptions, metrics};
use matchbox::audio_io::{Audio, write_wav_f32};
use matchbox::dsp::ChainSettings;
use matchbox::preset::factory::factory_presets;
use std::time::Instant;

/// The target for a paired take through a factory preset, dB of waveform SNR.
const TARGET_SNR_DB: f64 = 25.0;

/// How far outside [`MEASURED`] the bounds sit: an error may grow by 5 % plus 0.02 (dB or
/// LU), the SNR may fall by 0.5 dB (the analysis is deterministic; the margin absorbs another
/// CPU's last digits).
const MARGIN: (f64, f64, f64) = (0.05, 0.02, 0.5);

/// How closely the prediction must agree with the render measured afresh on the whole take:
/// (spectrum dB, loudness LU, spread dB, crest dB, SNR dB). Both read the whole take through
/// the same chain with the same metrics, so only rounding may part them; these takes start
/// together, and the analysis lines them up at lag 0.
const PREDICTION_TOLERANCE: [f64; 5] = [0.01, 0.01, 0.01, 0.01, 0.05];

/// What the analysis achieves per case: (case, preset, [spectrum dB, loudness LU, spread dB,
/// crest dB, SNR dB]); SNRs above 99 dB (Flat: exact) are written as 99. The test prints the
/// table afresh (`--nocapture`); update it, with the reason, when the analysis changes.
/// The waveform polish (`src/analysis/polish/`) took it from 41 to 59 cases at the target
/// (mean SNR 32.6 → 40.8 dB, mean crest error 0.36 → 0.19 dB; worse: drums stereo 3 min
/// through Gentle Leveler, SNR 38.7 → 36.0 dB, voice mono 20 s through Live Safety Limiter,
/// 26.6 → 26.0 dB, and loudness on the 3-minute mono voice, up to 0.25 LU). Last changed by
/// the polish's trial of the cuts' other slopes: 59 → 66 cases, mean SNR 40.8 → 42.5 dB,
/// mean crest error 0.19 → 0.18 dB; seven cases changed, each to a higher SNR: Beatbox Sub on
/// the four drum takes (22.4–23.9 → 33.5–35.7 dB; worse: level spread on the mono 20 s 0.07 →
/// 0.22 dB, crest error on the two mono ones 0.08–0.09 → 0.14–0.17 dB) and on the voice
/// stereo 20 s (19.2 → 52.4 dB), Broadcast on the drums mono 20 s (9.3 → 35.5 dB), Vocal Warm
/// on the voice stereo 3 min (16.2 → 35.0 dB). Last changed by the ceiling brought down to
/// the reference's peak level where the prediction reads a crest factor over 0.25 dB above
/// the reference's (and, paired, it costs the waveform at most 0.5 dB): eight cases changed,
/// mean crest error 0.17 → 0.09 dB, mean SNR 42.5 → 42.8 dB; Live Safety Limiter on five
/// takes (crest 0.28–1.22 → 0.02–0.17 dB; SNR 26.0–36.3 → 28.5–40.2 dB, the 3-minute mono
/// voice unchanged at 31.8), Beatbox Punch on the drums mono 20 s (crest 0.46 → 0.00 dB, SNR
/// 39.0 → 39.5 dB), Telephone on the mono voice (crest 0.97 → 0.03 and 1.86 → 0.16 dB; worse:
/// the 3-minute take's spectrum 0.87 → 1.13 dB). Last changed by the polish's trial of the
/// ceiling at the reference's peak level: 66 → 68 cases, mean SNR 42.8 → 43.1 dB, mean crest
/// error 0.09 → 0.07 dB; on the stereo drums, Broadcast 20 s (SNR 19.1 → 33.6 dB; worse:
/// loudness 0.035 → 0.115 LU), Live Safety Limiter 20 s (23.5 → 29.6 dB, crest 0.15 → 0.01 dB;
/// worse: spread 0.006 → 0.067 dB), Telephone 20 s (25.3 → 27.3 dB, spectrum 1.54 → 0.75 dB,
/// crest 1.07 → 0.03 dB; worse: spread 0.25 → 0.33 dB); worse: Live Safety Limiter 3 min (SNR
/// 31.5 → 30.3 dB, spread 0.012 → 0.090 dB: the check's 20 s of the 3 minutes favoured it),
/// and the voice mono 20 s through it by a thousandth. Last changed by the polish's trial of
/// the chain fitted to the linear response (`analysis::target::linear_target`): 68 → 69
/// cases, mean SNR 43.1 → 44.1 dB; five cases changed, each to a higher SNR: Telephone on
/// the voice mono 20 s (18.0 → 52.0 dB, spectrum 3.45 → 0.06 dB), stereo 20 s (17.8 → 22.1
/// dB, spectrum 2.76 → 0.79 dB; worse: crest 0.17 → 0.35 dB) and stereo 3 min (4.2 → 20.1
/// dB, spectrum 5.57 → 2.58 dB, spread 2.59 → 0.26 dB), Vocal Warm on the voice stereo 3 min
/// (35.0 → 49.4 dB; worse: crest 0.033 → 0.060 dB), Broadcast on the drums mono 20 s (35.5 →
/// 39.2 dB; worse: crest 0.001 → 0.010 dB). Last changed by the check's crest-factor slack
/// taking a share of the error it starts from (`analysis::polish::CREST_SLACK`): mean SNR 44.1
/// → 44.4 dB, still 69 cases; Telephone on the drums stereo 20 s (27.3 → 33.4 dB, every figure
/// better: spread 0.33 → 0.02 dB, crest 0.034 → 0.003 dB) and on the voice mono 3 min (3.2 →
/// 23.7 dB, spread 0.18 → 0.01 dB; worse: spectrum 1.13 → 2.59 dB). Last changed by three
/// things at once: the output gain moved to the whole take's loudness
/// (`analysis::level::whole_take_loudness`) after the level stage set it on segments with
/// their pre-roll (`analysis::excerpts::Warmed`), the linear-response trial's two chains (EQ
/// corrected between rounds by the spectra and by the linear responses) and each with both
/// detectors: 69 → 72 cases at the target, mean SNR 44.4 → 47.9 dB, mean loudness error
/// 0.049 → 0.003 LU, mean spectrum error 0.20 → 0.16 dB, mean crest error 0.067 → 0.049 dB.
/// Telephone on the voice: mono 3 min 23.7 → over 99 dB, stereo 3 min 20.1 → 39.9 dB, stereo 20 s
/// 22.1 → 25.3 dB (worse: spectrum 0.79 → 2.12 dB). Worse: drums mono 20 s through Beatbox
/// Sub, SNR 33.5 → 32.7 dB (the loudness-matched gain 0.08 dB from the waveform's), spread on
/// the 3-minute mono voice through Vocal Warm 0.014 → 0.046 dB (its SNR 32.9 → 41.5 dB), the
/// spectrum on the 20 s mono voice through Telephone 0.056 → 0.120 dB.
const MEASURED: &[(&str, &str, [f64; 5])] = &[
    (
        "drums mono 20 s",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "drums mono 20 s",
        "Beatbox Punch",
        [0.031, 0.001, 0.060, 0.003, 39.5],
    ),
    (
        "drums mono 20 s",
        "Beatbox Sub",
        [0.084, 0.000, 0.217, 0.141, 32.7],
    ),
    (
        "drums mono 20 s",
        "Vocal Warm",
        [0.014, 0.000, 0.003, 0.006, 50.6],
    ),
    (
        "drums mono 20 s",
        "Vocal Presence",
        [0.144, 0.000, 0.019, 0.035, 34.1],
    ),
    (
        "drums mono 20 s",
        "Telephone",
        [1.268, 0.000, 0.003, 0.002, 47.3],
    ),
    (
        "drums mono 20 s",
        "Broadcast",
        [0.046, 0.000, 0.008, 0.010, 43.5],
    ),
    (
        "drums mono 20 s",
        "Gentle Leveler",
        [0.001, 0.000, 0.001, 0.002, 68.3],
    ),
    (
        "drums mono 20 s",
        "Live Safety Limiter",
        [0.008, 0.019, 0.010, 0.021, 40.2],
    ),
    (
        "drums stereo 20 s",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "drums stereo 20 s",
        "Beatbox Punch",
        [0.028, 0.045, 0.100, 0.047, 41.2],
    ),
    (
        "drums stereo 20 s",
        "Beatbox Sub",
        [0.066, 0.000, 0.088, 0.132, 34.1],
    ),
    (
        "drums stereo 20 s",
        "Vocal Warm",
        [0.079, 0.000, 0.088, 0.088, 32.0],
    ),
    (
        "drums stereo 20 s",
        "Vocal Presence",
        [0.059, 0.008, 0.030, 1.016, 33.4],
    ),
    (
        "drums stereo 20 s",
        "Telephone",
        [0.341, 0.006, 0.001, 0.004, 37.1],
    ),
    (
        "drums stereo 20 s",
        "Broadcast",
        [0.119, 0.009, 0.020, 0.021, 36.4],
    ),
    (
        "drums stereo 20 s",
        "Gentle Leveler",
        [0.005, 0.000, 0.028, 0.007, 55.3],
    ),
    (
        "drums stereo 20 s",
        "Live Safety Limiter",
        [0.075, 0.023, 0.067, 0.005, 29.6],
    ),
    (
        "drums mono 3 min",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "drums mono 3 min",
        "Beatbox Punch",
        [0.033, 0.004, 0.115, 0.017, 39.1],
    ),
    (
        "drums mono 3 min",
        "Beatbox Sub",
        [0.095, 0.000, 0.153, 0.167, 34.3],
    ),
    (
        "drums mono 3 min",
        "Vocal Warm",
        [0.083, 0.000, 0.017, 0.023, 39.0],
    ),
    (
        "drums mono 3 min",
        "Vocal Presence",
        [0.142, 0.000, 0.004, 0.052, 34.3],
    ),
    (
        "drums mono 3 min",
        "Telephone",
        [1.285, 0.000, 0.005, 0.002, 47.7],
    ),
    (
        "drums mono 3 min",
        "Broadcast",
        [0.053, 0.000, 0.000, 0.018, 41.6],
    ),
    (
        "drums mono 3 min",
        "Gentle Leveler",
        [0.031, 0.000, 0.132, 0.068, 37.1],
    ),
    (
        "drums mono 3 min",
        "Live Safety Limiter",
        [0.000, 0.000, 0.000, 0.000, 79.5],
    ),
    (
        "drums stereo 3 min",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "drums stereo 3 min",
        "Beatbox Punch",
        [0.058, 0.017, 0.023, 0.008, 34.6],
    ),
    (
        "drums stereo 3 min",
        "Beatbox Sub",
        [0.086, 0.000, 0.090, 0.033, 35.9],
    ),
    (
        "drums stereo 3 min",
        "Vocal Warm",
        [0.083, 0.000, 0.002, 0.015, 41.3],
    ),
    (
        "drums stereo 3 min",
        "Vocal Presence",
        [0.094, 0.016, 0.044, 0.058, 34.1],
    ),
    (
        "drums stereo 3 min",
        "Telephone",
        [1.029, 0.003, 0.002, 0.006, 48.0],
    ),
    (
        "drums stereo 3 min",
        "Broadcast",
        [0.023, 0.017, 0.007, 0.017, 44.3],
    ),
    (
        "drums stereo 3 min",
        "Gentle Leveler",
        [0.008, 0.000, 0.014, 0.001, 48.8],
    ),
    (
        "drums stereo 3 min",
        "Live Safety Limiter",
        [0.076, 0.035, 0.090, 0.080, 30.3],
    ),
    (
        "voice mono 20 s",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "voice mono 20 s",
        "Beatbox Punch",
        [0.084, 0.000, 0.137, 0.023, 46.8],
    ),
    (
        "voice mono 20 s",
        "Beatbox Sub",
        [0.034, 0.000, 0.005, 0.002, 52.1],
    ),
    (
        "voice mono 20 s",
        "Vocal Warm",
        [0.077, 0.000, 0.055, 0.022, 39.3],
    ),
    (
        "voice mono 20 s",
        "Vocal Presence",
        [0.087, 0.000, 0.003, 0.029, 29.6],
    ),
    (
        "voice mono 20 s",
        "Telephone",
        [0.120, 0.000, 0.001, 0.006, 52.6],
    ),
    (
        "voice mono 20 s",
        "Broadcast",
        [0.138, 0.000, 0.054, 0.100, 32.0],
    ),
    (
        "voice mono 20 s",
        "Gentle Leveler",
        [0.037, 0.000, 0.002, 0.026, 52.3],
    ),
    (
        "voice mono 20 s",
        "Live Safety Limiter",
        [0.127, 0.021, 0.383, 0.015, 29.6],
    ),
    (
        "voice stereo 20 s",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "voice stereo 20 s",
        "Beatbox Punch",
        [0.133, 0.000, 0.027, 0.055, 37.5],
    ),
    (
        "voice stereo 20 s",
        "Beatbox Sub",
        [0.032, 0.000, 0.029, 0.002, 52.4],
    ),
    (
        "voice stereo 20 s",
        "Vocal Warm",
        [0.075, 0.000, 0.033, 0.022, 49.0],
    ),
    (
        "voice stereo 20 s",
        "Vocal Presence",
        [0.202, 0.000, 0.057, 0.100, 41.0],
    ),
    (
        "voice stereo 20 s",
        "Telephone",
        [2.120, 0.000, 0.056, 0.144, 25.3],
    ),
    (
        "voice stereo 20 s",
        "Broadcast",
        [0.169, 0.000, 0.161, 0.094, 32.4],
    ),
    (
        "voice stereo 20 s",
        "Gentle Leveler",
        [0.017, 0.000, 0.040, 0.005, 49.0],
    ),
    (
        "voice stereo 20 s",
        "Live Safety Limiter",
        [0.032, 0.017, 0.106, 0.016, 36.6],
    ),
    (
        "voice mono 3 min",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "voice mono 3 min",
        "Beatbox Punch",
        [0.115, 0.000, 0.011, 0.051, 38.8],
    ),
    (
        "voice mono 3 min",
        "Beatbox Sub",
        [0.035, 0.000, 0.047, 0.071, 40.6],
    ),
    (
        "voice mono 3 min",
        "Vocal Warm",
        [0.167, 0.000, 0.046, 0.003, 41.5],
    ),
    (
        "voice mono 3 min",
        "Vocal Presence",
        [0.180, 0.000, 0.012, 0.067, 33.5],
    ),
    (
        "voice mono 3 min",
        "Telephone",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "voice mono 3 min",
        "Broadcast",
        [0.192, 0.000, 0.046, 0.109, 32.5],
    ),
    (
        "voice mono 3 min",
        "Gentle Leveler",
        [0.042, 0.000, 0.020, 0.057, 43.7],
    ),
    (
        "voice mono 3 min",
        "Live Safety Limiter",
        [0.049, 0.001, 0.002, 0.008, 32.5],
    ),
    (
        "voice stereo 3 min",
        "Flat",
        [0.000, 0.000, 0.000, 0.000, 99.0],
    ),
    (
        "voice stereo 3 min",
        "Beatbox Punch",
        [0.058, 0.000, 0.017, 0.126, 33.6],
    ),
    (
        "voice stereo 3 min",
        "Beatbox Sub",
        [0.097, 0.000, 0.014, 0.018, 42.5],
    ),
    (
        "voice stereo 3 min",
        "Vocal Warm",
        [0.047, 0.000, 0.012, 0.060, 49.4],
    ),
    (
        "voice stereo 3 min",
        "Vocal Presence",
        [0.047, 0.000, 0.006, 0.040, 40.0],
    ),
    (
        "voice stereo 3 min",
        "Telephone",
        [0.879, 0.000, 0.184, 0.005, 39.9],
    ),
    (
        "voice stereo 3 min",
        "Broadcast",
        [0.200, 0.000, 0.108, 0.060, 31.7],
    ),
    (
        "voice stereo 3 min",
        "Gentle Leveler",
        [0.035, 0.000, 0.050, 0.109, 43.6],
    ),
    (
        "voice stereo 3 min",
        "Live Safety Limiter",
        [0.081, 0.006, 0.050, 0.007, 29.1],
    ),
];

/// One kind of take.
#[derive(Debug, Clone, Copy)]
struct Take {
    name: &'static str,
    drums: bool,
    stereo: bool,
    seconds: f64,
}

const TAKES: [Take; 8] = [
    Take {
        name: "drums mono 20 s",
        drums: true,
        stereo: false,
        seconds: 20.0,
    },
    Take {
        name: "drums stereo 20 s",
        drums: true,
        stereo: true,
        seconds: 20.0,
    },
    Take {
        name: "drums mono 3 min",
        drums: true,
        stereo: false,
        seconds: 180.0,
    },
    Take {
        name: "drums stereo 3 min",
        drums: true,
        stereo: true,
        seconds: 180.0,
    },
    Take {
        name: "voice mono 20 s",
        drums: false,
        stereo: false,
        seconds: 20.0,
    },
    Take {
        name: "voice stereo 20 s",
        drums: false,
        stereo: true,
        seconds: 20.0,
    },
    Take {
        name: "voice mono 3 min",
        drums: false,
        stereo: false,
        seconds: 180.0,
    },
    Take {
        name: "voice stereo 3 min",
        drums: false,
        stereo: true,
        seconds: 180.0,
    },
];

impl Take {
    /// Drums at 44.1 kHz, the voice at its recording's 48 kHz.
    fn sample_rate(&self) -> f64 {
        if self.drums { 44_100.0 } else { 48_000.0 }
    }

    fn audio(&self) -> Audio {
        let fs = self.sample_rate();
        let seed = self.seconds as u64 + self.stereo as u64;
        let channels = if self.drums {
            recorded::drums(self.seconds, fs, self.stereo, seed)
        } else {
            recorded::voice(self.seconds, fs, self.stereo, seed)
        };
        Audio {
            sample_rate: fs as u32,
            channels,
        }
    }
}

/// The figures `matchbox compare` reads, of `out` against `reference` (mids for the levels).
fn figures(out: &[Vec<f32>], reference: &[Vec<f32>], fs: f64) -> [f64; 5] {
    let o: Vec<&[f32]> = out.iter().map(Vec::as_slice).collect();
    let r: Vec<&[f32]> = reference.iter().map(Vec::as_slice).collect();
    let (om, rm) = (metrics::mid(&o), metrics::mid(&r));
    let (ltas, _) = metrics::ltas_error_db(&om, &rm, fs);
    let (mo, mr) = (
        metrics::SignalMetrics::measure(&o, fs),
        metrics::SignalMetrics::measure(&r, fs),
    );
    [
        ltas,
        (mo.loudness_lufs - mr.loudness_lufs).abs(),
        (mo.level_spread_db - mr.level_spread_db).abs(),
        (mo.crest_factor_db - mr.crest_factor_db).abs(),
        metrics::snr_db(&om, &rm).min(99.0),
    ]
}

/// `dry` through `settings`: a case's reference.
fn processed(dry: &Audio, settings: &ChainSettings) -> Audio {
    Audio {
        sample_rate: dry.sample_rate,
        channels: analysis::render(settings, &dry.channels, dry.sample_rate as f64),
    }
}

/// One case: the take through `truth`, analysed, re-rendered: (figures, predicted figures,
/// lag, seconds the analysis took).
fn run_case(dry: &Audio, truth: &ChainSettings) -> ([f64; 5], [f64; 5], i64, f64) {
    let fs = dry.sample_rate as f64;
    let reference = processed(dry, truth);
    let start = Instant::now();
    let result = analysis::analyze(&reference, Some(dry), &AnalyzeOptions::default())
        .expect("analysis runs");
    let seconds = start.elapsed().as_secs_f64();
    let lag = result.alignment.map_or(i64::MAX, |a| a.lag_samples);
    let out = analysis::render(&result.settings, &dry.channels, fs);
    let got = figures(&out, &reference.channels, fs);
    let p = result.prediction.expect("paired takes are predicted");
    let predicted = [
        p.ltas_error_db,
        p.loudness_error_lu,
        p.spread_error_db,
        p.crest_error_db,
        p.snr_db.unwrap_or(f64::NAN).min(99.0),
    ];
    (got, predicted, lag, seconds)
}

#[test]
fn every_factory_preset_is_learned_back_from_recorded_takes() {
    let presets = factory_presets();
    let mut rows = Vec::new();
    for take in TAKES {
        let dry = take.audio();
        // The presets of one take side by side, two at a time.
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = presets
                .chunks(presets.len().div_ceil(2))
                .map(|chunk| {
                    let dry = &dry;
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|(_, p)| (p.name.clone(), run_case(dry, &p.settings)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("cases do not panic"))
                .collect()
        });
        for (preset, outcome) in results {
            rows.push((take.name, preset, outcome));
        }
    }
    let mut problems = Vec::new();
    let mut table = Vec::new();
    let mut met = 0;
    for (take, preset, (got, predicted, lag, seconds)) in &rows {
        table.push(format!(
            "    (\"{take}\", \"{preset}\", [{:.3}, {:.3}, {:.3}, {:.3}, {:.1}]),",
            got[0], got[1], got[2], got[3], got[4]
        ));
        eprintln!(
            "{take:<20} {preset:<20} lag {lag:>3}  spectrum {:.2} dB, loudness {:.2} LU, spread \
             {:.2} dB, crest {:.2} dB, SNR {:.1} dB (predicted {:.1} dB); analysis {seconds:.2} s",
            got[0], got[1], got[2], got[3], got[4], predicted[4]
        );
        if got[4] >= TARGET_SNR_DB {
            met += 1;
        } else {
            problems.push(format!(
                "{take}, {preset}: waveform SNR {:.1} dB, under the target",
                got[4]
            ));
        }
        if *lag != 0 {
            problems.push(format!("{take}, {preset}: lined up at lag {lag}, not 0"));
        }
        for (k, name) in ["spectrum", "loudness", "spread", "crest", "SNR"]
            .iter()
            .enumerate()
        {
            if (got[k] - predicted[k]).abs() > PREDICTION_TOLERANCE[k] {
                problems.push(format!(
                    "{take}, {preset}: predicted {name} {:.2}, measured {:.2} (tolerance {})",
                    predicted[k], got[k], PREDICTION_TOLERANCE[k]
                ));
            }
        }
        match MEASURED.iter().find(|(t, p, _)| t == take && p == preset) {
            None => problems.push(format!("{take}, {preset}: not in MEASURED")),
            Some((_, _, want)) => {
                let (relative, absolute, snr_db) = MARGIN;
                for k in 0..4 {
                    if got[k] > want[k] * (1.0 + relative) + absolute {
                        problems.push(format!(
                            "{take}, {preset}: figure {k} {:.3} (measured {})",
                            got[k], want[k]
                        ));
                    }
                }
                if got[4] < want[4] - snr_db {
                    problems.push(format!(
                        "{take}, {preset}: SNR {:.1} dB (measured {})",
                        got[4], want[4]
                    ));
                }
            }
        }
    }
    eprintln!(
        "const MEASURED: &[(&str, &str, [f64; 5])] = &[\n{}\n];",
        table.join("\n")
    );
    eprintln!(
        "target (waveform SNR ≥ {TARGET_SNR_DB} dB): met by {met} of {} cases",
        rows.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `MATCHBOX_MATERIAL=DIR cargo test --release --test recorded_material -- --ignored
/// write_material` writes the takes (`drums-stereo-3-min.src.wav`, …) and each through every
/// factory preset (`drums-stereo-3-min.Beatbox-Punch.wav`, …) to DIR as float WAVs, to time
/// `matchbox analyze` on them alone from the command line. With TAKES=NAME[,NAME] (as the
/// table names them: `drums stereo 3 min`) only those.
#[test]
#[ignore = "writes material for timing the command line"]
fn write_material() {
    let Some(dir) = std::env::var_os("MATCHBOX_MATERIAL") else {
        panic!("MATCHBOX_MATERIAL names the folder to write to");
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let wanted = std::env::var("TAKES").ok();
    let file_name = |s: &str| s.replace(' ', "-");
    for take in TAKES {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.split(',').any(|n| n == take.name))
        {
            continue;
        }
        let dry = take.audio();
        let name = file_name(take.name);
        write_wav_f32(&dir.join(format!("{name}.src.wav")), &dry).unwrap();
        for (_, preset) in factory_presets() {
            let path = dir.join(format!("{name}.{}.wav", file_name(&preset.name)));
            write_wav_f32(&path, &processed(&dry, &preset.settings)).unwrap();
        }
    }
}
