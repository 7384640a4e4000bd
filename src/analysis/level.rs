//! Stage 7, output level and ceiling: the output gain that makes the source through the chain
//! read the reference's integrated loudness (BS.1770), set on an excerpt and moved once the
//! whole source has gone through the chain ([`whole_take_loudness`]); the safety ceiling the
//! reference's peaks call for; and a last check that the compressor earns its place (paired).

use super::align::Takes;
use super::comp_fit::CompFit;
use super::excerpts::{
    LOUDNESS_EXCERPT, PAIRED_EXCERPT, Warmed, concat_channels, concat_mid, excerpt_segments, gather,
};
use super::loudness;
use super::metrics::{self, SignalMetrics};
use super::predict::Output;
use crate::audio_io::Audio;
use crate::dsp::ranges::{CEILING_DB, OUT_GAIN_DB};
use crate::dsp::{CeilingSettings, ChainSettings};

/// Waveform SNR by which the chain without its compressor must beat the chain with it for the
/// compressor to be dropped, dB.
const COMPRESSOR_MIN_SNR_GAIN_DB: f64 = 1.0;
/// The output gain is set from a render without the ceiling; when the render with it reads
/// more than this off the goal, the gain is corrected once, LU.
const CEILING_RECHECK_LU: f64 = 0.02;
/// How far the output's crest factor (at the reference's loudness) may stand above the
/// reference's before the ceiling comes down to the reference's peak level, dB. Below it the
/// ceiling stays where the fits had it: a learned chain that reproduces the reference reads
/// within about 0.2 dB (recorded material through the factory presets), and a ceiling that
/// acts on peaks the reference let through, with its 50 ms release, costs waveform SNR.
const CREST_ABOVE_REFERENCE_DB: f64 = 0.25;
/// Paired, the waveform SNR the ceiling brought down to the reference's peak level may cost
/// before it is not kept, dB: the waveform is the closer likeness; where a learned chain makes
/// up for a ceiling it lacks by its other settings, bringing the ceiling in breaks that (on
/// recorded drums through Telephone, 25.3 → 24.3 dB for a crest factor 1.07 → 0.01 dB off).
const CAP_MAX_SNR_LOSS_DB: f64 = 0.5;
/// Separate peaks (more than 1 ms apart) within [`LIMITED_WITHIN_DB`] of the reference's
/// highest sample from which the reference counts as limited there: one natural peak gives
/// one such event (a kick's crest can hold 20 samples within 0.1 dB), a limiter dozens.
const LIMITED_MIN_PEAKS: usize = 8;
const LIMITED_WITHIN_DB: f32 = 0.1;

/// The chain with its output gain.
pub struct Leveled {
    /// The final settings (clamped into range).
    pub settings: ChainSettings,
    /// The compressor was dropped by the last check.
    pub compressor_dropped: bool,
}

/// Where the output gain is measured, and the loudness it must give. Paired: on the
/// compressor's excerpt ([`PAIRED_EXCERPT`]), against the same excerpt of the reference
/// (exact). Unpaired: on up to [`LOUDNESS_EXCERPT`] of the source, offset by how that
/// excerpt's loudness differs from the whole source's, against the whole reference. Either
/// way the segments are rendered with their pre-roll ([`Warmed`]).
pub struct OutputLevel {
    /// The source's segments the loudness is read on.
    segments: Warmed,
    /// Paired: the same stretches of the reference (the compressor's last check); else empty.
    reference: Vec<Vec<Vec<f32>>>,
    sample_rate: f64,
    goal_lufs: f64,
    /// Whole source's loudness minus the segments' (unpaired), LU.
    correction: f64,
}

impl OutputLevel {
    /// The measurement for these takes: `ref_lufs` and `src_lufs` are the whole takes'
    /// loudness.
    pub fn new(takes: &Takes<'_>, ref_lufs: f64, src_lufs: f64) -> Self {
        let sample_rate = takes.src_fs;
        let budget = if takes.paired {
            PAIRED_EXCERPT
        } else {
            LOUDNESS_EXCERPT
        };
        let scored = excerpt_segments(takes.src_mid.len(), sample_rate, budget);
        let segments = Warmed::of(&takes.src_channels, &scored, sample_rate);
        if takes.paired {
            let reference = gather(&takes.ref_channels, &scored);
            let goal_lufs = segments_loudness(&reference, takes.ref_fs);
            return Self {
                segments,
                reference,
                sample_rate,
                goal_lufs,
                correction: 0.0,
            };
        }
        let source = gather(&takes.src_channels, &scored);
        let correction = src_lufs - segments_loudness(&source, sample_rate);
        Self {
            segments,
            reference: Vec::new(),
            sample_rate,
            goal_lufs: ref_lufs,
            correction,
        }
    }

    /// `settings` with the output gain that reads the goal, and the segments through them.
    /// The output gain is linear up to the ceiling: one render without the ceiling gives the
    /// gain; one with it checks (and corrects for) what the ceiling takes off.
    fn apply(&self, mut settings: ChainSettings) -> (ChainSettings, Vec<Vec<Vec<f32>>>) {
        let render = |s: &ChainSettings| self.segments.render(s);
        let lufs = |r: &[Vec<Vec<f32>>]| segments_loudness(r, self.sample_rate) + self.correction;
        let mut open = settings.clone();
        open.ceiling.enabled = false;
        open.output_gain_db = 0.0;
        let open_lufs = lufs(&render(&open));
        settings.output_gain_db = OUT_GAIN_DB.clamp((self.goal_lufs - open_lufs) as f32);
        let mut rendered = render(&settings);
        let change = self.goal_lufs - lufs(&rendered);
        if change.abs() > CEILING_RECHECK_LU {
            settings.output_gain_db = OUT_GAIN_DB.clamp(settings.output_gain_db + change as f32);
            rendered = render(&settings);
        }
        (settings, rendered)
    }

    /// The output gain of `settings`, and (paired) a last check that the compressor earns its
    /// place: the same chain without it must not match the reference's waveform clearly
    /// better ([`COMPRESSOR_MIN_SNR_GAIN_DB`]). A fit that ran off into a corner, say a
    /// threshold under the whole take with make-up beyond the output gain's range, loses here;
    /// where neither matches the waveform, the spectra and levels the compressor does match
    /// decide. The two chains are set up side by side.
    pub fn set(&self, settings: ChainSettings) -> Leveled {
        let check = !self.reference.is_empty() && settings.compressor.enabled;
        let mut plain = settings.clone();
        plain.compressor.enabled = false;
        let ((settings, rendered), plain) = std::thread::scope(|scope| {
            let plain = check.then(|| scope.spawn(|| self.apply(plain)));
            let chosen = self.apply(settings);
            (
                chosen,
                plain.map(|p| p.join().expect("rendering does not panic")),
            )
        });
        if let Some((plain, plain_rendered)) = plain {
            let ref_mid = concat_mid(&self.reference);
            let snr = |r: &[Vec<Vec<f32>>]| metrics::snr_db(&concat_mid(r), &ref_mid);
            if snr(&plain_rendered) > snr(&rendered) + COMPRESSOR_MIN_SNR_GAIN_DB {
                return Leveled {
                    settings: plain.clamped(),
                    compressor_dropped: true,
                };
            }
        }
        Leveled {
            settings: settings.clamped(),
            compressor_dropped: false,
        }
    }

    /// The ceiling brought down to the reference's peak level (`reference_peak_db`), with the
    /// output gain set again, where the output's crest factor (`output_crest_db`, the whole
    /// source through `settings`) stands more than [`CREST_ABOVE_REFERENCE_DB`] above the
    /// reference's: at the reference's loudness, the output then peaks no higher than the
    /// reference did. `None` where it does not, or the ceiling is off or already as low.
    ///
    /// A compressor whose attack lets through transients the reference's did not (JUCE's,
    /// whose shape Matchbox's cannot take) reads dBs high otherwise: on the JUCE harness the
    /// paired crest-factor error averaged 0.92 dB without this, and beatbox/heavy/unpaired
    /// read 7.0 dB.
    fn peaks_capped(
        &self,
        settings: &ChainSettings,
        output_crest_db: f64,
        reference_crest_db: f64,
        reference_peak_db: f32,
    ) -> Option<ChainSettings> {
        let peak_db = CEILING_DB.clamp(reference_peak_db);
        let capped = settings.ceiling.enabled
            && peak_db < settings.ceiling.ceiling_db
            && output_crest_db > reference_crest_db + CREST_ABOVE_REFERENCE_DB;
        capped.then(|| {
            let mut capped = settings.clone();
            capped.ceiling.ceiling_db = peak_db;
            self.apply(capped).0.clamped()
        })
    }

    /// The ceiling brought down to the reference's peak level ([`Self::peaks_capped`]) where
    /// `output`, the whole source through `settings`, reads a crest factor too far above the
    /// `reference`'s, with the whole source through the capped chain; `None` where it does not,
    /// or where the cap is not kept ([`keeps_cap`]). The crest factor is read on the whole take:
    /// an excerpt's segments start the chain cold, and a compressor's first attack overshoots
    /// there.
    pub fn cap_peaks(
        &self,
        takes: &Takes<'_>,
        settings: &ChainSettings,
        output: &Output,
        reference: &SignalMetrics,
        reference_peak_db: f32,
    ) -> Option<(ChainSettings, Output)> {
        let capped = self.peaks_capped(
            settings,
            output.crest_factor_db(takes),
            reference.crest_factor_db,
            reference_peak_db,
        )?;
        let capped_output = Output::render(takes, &capped);
        keeps_cap(output.snr_db(takes), capped_output.snr_db(takes))
            .then_some((capped, capped_output))
    }
}

/// `settings` with the output gain moved so that the whole source through them reads
/// `goal_lufs` (the whole reference's loudness), and the whole source through the moved
/// chain; `output` is the whole source through `settings`. The gain was set on an excerpt,
/// and a chain that is close to the reference's but not the same matches its loudness there
/// and not to the hundredth everywhere (recorded drums through Beatbox Punch: 0.16 LU off
/// over the whole 20 s). The output gain is the last stage before the ceiling, so where the
/// ceiling acts neither before nor after the move the output is scaled in place; elsewhere it
/// is rendered again when the move exceeds [`WHOLE_TAKE_RECHECK_LU`].
pub fn whole_take_loudness(
    takes: &Takes<'_>,
    settings: ChainSettings,
    mut output: Output,
    goal_lufs: f64,
) -> (ChainSettings, Output) {
    let Some(lufs) = output.loudness_lufs(takes) else {
        return (settings, output);
    };
    let mut moved = settings.clone();
    moved.output_gain_db = OUT_GAIN_DB.clamp(settings.output_gain_db + (goal_lufs - lufs) as f32);
    let change_db = moved.output_gain_db - settings.output_gain_db;
    if change_db == 0.0 {
        return (settings, output);
    }
    let gain = crate::dsp::db_to_gain(change_db as f64) as f32;
    let ceiling = &settings.ceiling;
    let limit = crate::dsp::db_to_gain(ceiling.ceiling_db as f64) as f32 * CEILING_UNTOUCHED;
    let peak = output.peak();
    if !ceiling.enabled || (peak < limit && peak * gain < limit) {
        output.scale(gain);
        (moved, output)
    } else if (change_db as f64).abs() > WHOLE_TAKE_RECHECK_LU {
        let output = Output::render(takes, &moved);
        (moved, output)
    } else {
        (settings, output)
    }
}

/// Where the ceiling acts, the whole take is rendered again for a move of more than this, LU
/// (a render of a 3-minute stereo take costs about 0.07 s; a twentieth of a LU is far under
/// what a listener tells apart).
const WHOLE_TAKE_RECHECK_LU: f64 = 0.05;

/// Below this share of the ceiling's level, an output peak shows that the ceiling did not
/// act (where it acts, it leaves a sample at its level, to the last bit or two).
const CEILING_UNTOUCHED: f32 = 0.9999;

/// Whether the ceiling at the reference's peak level ([`OutputLevel::peaks_capped`]) stays,
/// from the predicted waveform SNR without and with it (paired; unpaired there is none, and
/// it stays).
fn keeps_cap(snr_db: Option<f64>, capped_snr_db: Option<f64>) -> bool {
    match (snr_db, capped_snr_db) {
        (Some(before), Some(after)) => after >= before - CAP_MAX_SNR_LOSS_DB,
        _ => true,
    }
}

/// `fit` without its model when the level stage dropped the compressor.
pub fn after_level(fit: Option<CompFit>, leveled: &Leveled) -> Option<CompFit> {
    if leveled.compressor_dropped {
        fit.map(|c| CompFit { model: None, ..c })
    } else {
        fit
    }
}

/// Integrated loudness of segments played one after another, LUFS.
fn segments_loudness(segments: &[Vec<Vec<f32>>], sample_rate: f64) -> f64 {
    let all = concat_channels(segments);
    let r: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
    loudness::integrated_loudness(&r, sample_rate).unwrap_or(metrics::SILENCE_DB)
}

/// The safety ceiling the fits run with, and the reference's peak level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CeilingFit {
    pub settings: CeilingSettings,
    /// The reference's highest sample, dBFS.
    pub peak_db: f32,
}

/// The safety ceiling that reproduces `reference` while the chain is fitted: at its peak
/// level when its peaks pile up against one level (a limiter or a ceiling made it), otherwise
/// at 0 dBFS, out of the way of anything the fit reproduces but still a guard on stage (the
/// level stage brings it down to the peak level once the output gain is known:
/// [`OutputLevel::cap_peaks`]). A reference that goes above 0 dBFS (a float file) was not
/// limited within the ceiling's range: the ceiling is off.
pub fn fit_ceiling(reference: &Audio) -> CeilingFit {
    // Chunk maxima first (a loop that vectorises); only chunks of this many samples that reach
    // the level are looked at sample by sample.
    const CHUNK: usize = 1024;
    let chunk_peaks: Vec<Vec<f32>> = reference
        .channels
        .iter()
        .map(|c| c.chunks(CHUNK).map(crate::dsp::peak_magnitude).collect())
        .collect();
    let peak = chunk_peaks.iter().flatten().fold(0.0f32, |m, &v| m.max(v));
    let peak_db = 20.0 * peak.max(1e-10).log10();
    let level = peak * 10f32.powf(-LIMITED_WITHIN_DB / 20.0);
    let gap = (reference.sample_rate as usize / 1000).max(1);
    let events = |(c, peaks): (&Vec<f32>, &Vec<f32>)| {
        let (mut count, mut last) = (0, None::<usize>);
        for (i, _) in peaks.iter().enumerate().filter(|&(_, &p)| p >= level) {
            for (n, v) in c.iter().enumerate().skip(i * CHUNK).take(CHUNK) {
                if v.abs() >= level {
                    if last.is_none_or(|l| n - l > gap) {
                        count += 1;
                    }
                    last = Some(n);
                }
            }
        }
        count
    };
    let limited = reference
        .channels
        .iter()
        .zip(&chunk_peaks)
        .map(events)
        .max()
        .unwrap_or(0)
        >= LIMITED_MIN_PEAKS;
    CeilingFit {
        settings: CeilingSettings {
            enabled: peak_db <= CEILING_DB.max,
            ceiling_db: if limited {
                CEILING_DB.clamp(peak_db)
            } else {
                CEILING_DB.max
            },
        },
        peak_db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::predict::Output;
    use crate::analysis::{inputs, predict, test_noise};

    const FS: f64 = 48_000.0;

    /// 12 s of noise around −26 dBFS RMS with a 1 ms click at `click_db` every second: the
    /// clicks set the peak and hardly the loudness.
    fn clicks(click_db: f32) -> Audio {
        let click = 10f32.powf(click_db / 20.0);
        let x = test_noise((12.0 * FS) as usize, 3)
            .iter()
            .enumerate()
            .map(|(n, v)| {
                if n % FS as usize > 24_000 && n % FS as usize <= 24_048 {
                    click * if n % 2 == 0 { 1.0 } else { -1.0 }
                } else {
                    v * 0.09
                }
            })
            .collect();
        Audio {
            sample_rate: FS as u32,
            channels: vec![x],
        }
    }

    /// The source's clicks at 0 dBFS, the reference's at −9 dBFS (a transient shaper Matchbox
    /// has no knob for): through a flat chain the output reads a crest factor about 8 dB above
    /// the reference's; the ceiling at the reference's peak brings it within 0.1 dB at about
    /// the same loudness, and the waveform 3 dB closer or more.
    #[test]
    fn peaks_the_reference_never_had_are_capped_at_its_peak_level() {
        let (source, reference) = (clicks(0.0), clicks(-9.0));
        let (src_mid, ref_mid) = (source.channels[0].clone(), reference.channels[0].clone());
        let takes = Takes::pair(&reference, &source, &ref_mid, &src_mid, &mut Vec::new());
        assert!(takes.paired);
        let measure = |a: &Audio| SignalMetrics::measure(&inputs::refs(a), FS);
        let (ref_metrics, src_metrics) = (measure(&reference), measure(&source));
        let level = OutputLevel::new(&takes, ref_metrics.loudness_lufs, src_metrics.loudness_lufs);
        let mut flat = ChainSettings::default();
        (flat.ceiling.enabled, flat.ceiling.ceiling_db) = (true, 0.0);
        let leveled = level.set(flat);
        let (open, open_prediction) = predict::predict(&takes, &leveled.settings, ref_metrics);
        let excess = open.crest_factor_db - ref_metrics.crest_factor_db;
        assert!((7.5..8.2).contains(&excess), "{excess}");

        let peak_db = fit_ceiling(&reference).peak_db;
        let capped = level
            .peaks_capped(
                &leveled.settings,
                open.crest_factor_db,
                ref_metrics.crest_factor_db,
                peak_db,
            )
            .expect("a crest factor 8 dB high is capped");
        assert!((capped.ceiling.ceiling_db - peak_db).abs() < 1e-6);
        let (_, prediction) = predict::predict(&takes, &capped, ref_metrics);
        assert!(prediction.crest_error_db < 0.1, "{prediction:?}");
        // The output gain is set on the 6 s excerpt; the whole take reads a tenth of a LU off.
        assert!(prediction.loudness_error_lu < 0.15, "{prediction:?}");
        let (before, after) = (open_prediction.snr_db, prediction.snr_db);
        assert!(after > before.map(|b| b + 3.0), "{before:?} → {after:?}");
        assert!(keeps_cap(before, after));

        // The reference itself as the source: nothing to cap.
        let same = level.peaks_capped(
            &leveled.settings,
            ref_metrics.crest_factor_db + CREST_ABOVE_REFERENCE_DB - 0.01,
            ref_metrics.crest_factor_db,
            peak_db,
        );
        assert!(same.is_none());
    }

    /// The clicks' take through a compressor whose output gain is 1.5 dB off what the
    /// reference's loudness asks: moved on the whole take, the output reads the reference's
    /// loudness, and the output scaled in place is the moved chain's render. With the
    /// ceiling low enough to act, the output is rendered again.
    #[test]
    fn the_whole_take_reads_the_reference_s_loudness() {
        let (source, reference) = (clicks(-6.0), clicks(-6.0));
        let (src_mid, ref_mid) = (source.channels[0].clone(), reference.channels[0].clone());
        let takes = Takes::pair(&reference, &source, &ref_mid, &src_mid, &mut Vec::new());
        let goal = SignalMetrics::measure(&inputs::refs(&reference), FS).loudness_lufs;
        let mut off = ChainSettings::default();
        let c = &mut off.compressor;
        (c.enabled, c.threshold_db, c.ratio) = (true, -30.0, 3.0);
        (off.ceiling.enabled, off.ceiling.ceiling_db) = (true, 0.0);
        off.output_gain_db = 6.0;
        // Measured: 1.56 LU (ceiling at 0 dBFS) and 1.05 LU (at −12 dBFS) off before; after,
        // 4e-7 LU where the ceiling does not act, 0.035 LU where it does (its gain is not
        // linear: one render with the moved gain, not a search).
        for (ceiling_db, within_lu) in [(0.0, 1e-3), (-12.0, 0.05)] {
            off.ceiling.ceiling_db = ceiling_db;
            let mut output = Output::render(&takes, &off);
            let before = output.loudness_lufs(&takes).expect("not silence");
            let (moved, mut output) = whole_take_loudness(&takes, off.clone(), output, goal);
            let after = output.loudness_lufs(&takes).expect("not silence");
            let mut fresh = Output::render(&takes, &moved);
            let fresh_lufs = fresh.loudness_lufs(&takes).expect("not silence");
            assert!((before - goal).abs() > 1.0, "{before} against {goal}");
            assert!((after - goal).abs() < within_lu, "{after} against {goal}");
            assert!(
                (fresh_lufs - after).abs() < 1e-4,
                "{fresh_lufs} against {after}"
            );
            assert!((fresh.peak() / output.peak()).log10().abs() < 1e-5);
            let acts = 20.0 * output.peak().log10() > ceiling_db - 0.01;
            assert_eq!(acts, ceiling_db < 0.0, "peak {}", output.peak());
        }
    }

    #[test]
    fn paired_the_cap_may_cost_the_waveform_half_a_db() {
        assert!(keeps_cap(Some(30.0), Some(29.6)));
        assert!(!keeps_cap(Some(30.0), Some(29.4)));
        assert!(keeps_cap(None, None));
    }
}
