//! Stage 6, output level and ceiling: the output gain that makes the source through the chain
//! read the reference's integrated loudness (BS.1770), a last check that the compressor earns
//! its place (paired), and the safety ceiling the reference's peaks call for.

use super::align::Takes;
use super::comp_fit::CompFit;
use super::excerpts::{self, Excerpt, LOUDNESS_EXCERPT, concat_channels, concat_mid};
use super::{loudness, metrics};
use crate::audio_io::Audio;
use crate::dsp::ranges::OUT_GAIN_DB;
use crate::dsp::{CeilingSettings, ChainSettings};

/// Waveform SNR by which the chain without its compressor must beat the chain with it for the
/// compressor to be dropped, dB.
const COMPRESSOR_MIN_SNR_GAIN_DB: f64 = 1.0;
/// The output gain is set from a render without the ceiling; when the render with it reads
/// more than this off the goal, the gain is corrected once, LU.
const CEILING_RECHECK_LU: f64 = 0.02;
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

/// The output gain of `settings` for these takes. Paired: on the compressor's `excerpt`,
/// against the same excerpt of the reference (exact). Unpaired: on up to [`LOUDNESS_EXCERPT`]
/// of the source, offset by how that excerpt's loudness differs from the whole source's
/// (`src_lufs`), against the whole reference (`ref_lufs`).
///
/// Paired, a last check that the compressor earns its place: the same chain without it must
/// not match the reference's waveform clearly better ([`COMPRESSOR_MIN_SNR_GAIN_DB`]). A fit
/// that ran off into a corner, say a threshold under the whole take with make-up beyond the
/// output gain's range, loses here; where neither matches the waveform, the spectra and levels
/// the compressor does match decide. The two chains are set up side by side.
pub fn set_output_level(
    takes: &Takes<'_>,
    settings: ChainSettings,
    excerpt: Excerpt,
    ref_lufs: f64,
    src_lufs: f64,
) -> Leveled {
    let &Takes {
        ref_fs,
        src_fs,
        paired,
        ..
    } = takes;
    let Excerpt {
        source: src_segments,
        reference: ref_segments,
    } = excerpt;
    let (loudness_segments, goal_lufs) = if paired {
        (src_segments, segments_loudness(&ref_segments, ref_fs))
    } else {
        (Excerpt::of(takes, LOUDNESS_EXCERPT, false).source, ref_lufs)
    };
    let correction = if paired {
        0.0
    } else {
        src_lufs - segments_loudness(&loudness_segments, src_fs)
    };
    let render_all = |s: &ChainSettings| excerpts::render_segments(s, &loudness_segments, src_fs);
    // The output gain is linear up to the ceiling: one render without the ceiling gives the
    // gain; one with it checks (and corrects for) what the ceiling takes off.
    let with_output_gain = |mut settings: ChainSettings| {
        let mut open = settings.clone();
        open.ceiling.enabled = false;
        open.output_gain_db = 0.0;
        let open_lufs = segments_loudness(&render_all(&open), src_fs) + correction;
        settings.output_gain_db = OUT_GAIN_DB.clamp((goal_lufs - open_lufs) as f32);
        let mut rendered = render_all(&settings);
        let change = goal_lufs - (segments_loudness(&rendered, src_fs) + correction);
        if change.abs() > CEILING_RECHECK_LU {
            settings.output_gain_db = OUT_GAIN_DB.clamp(settings.output_gain_db + change as f32);
            rendered = render_all(&settings);
        }
        (settings, rendered)
    };
    let check = paired && settings.compressor.enabled;
    let mut plain = settings.clone();
    plain.compressor.enabled = false;
    let ((mut settings, rendered), plain) = std::thread::scope(|scope| {
        let plain = check.then(|| scope.spawn(|| with_output_gain(plain)));
        let chosen = with_output_gain(settings);
        (
            chosen,
            plain.map(|p| p.join().expect("rendering does not panic")),
        )
    });
    let mut compressor_dropped = false;
    if let Some((plain, plain_rendered)) = plain {
        let ref_mid_x = concat_mid(&ref_segments);
        let snr = |r: &[Vec<Vec<f32>>]| metrics::snr_db(&concat_mid(r), &ref_mid_x);
        if snr(&plain_rendered) > snr(&rendered) + COMPRESSOR_MIN_SNR_GAIN_DB {
            settings = plain;
            compressor_dropped = true;
        }
    }
    Leveled {
        settings: settings.clamped(),
        compressor_dropped,
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

/// The safety ceiling that reproduces `reference`: at its peak level when its peaks pile up
/// against one level (a limiter or a ceiling made it), otherwise at 0 dBFS, out of the way of
/// anything the fit reproduces but still a guard on stage. A reference that goes above
/// 0 dBFS (a float file) was not limited within the ceiling's range: the ceiling is off.
pub fn fit_ceiling(reference: &Audio) -> CeilingSettings {
    // Chunk maxima first (a loop that vectorises); only chunks of this many samples that reach
    // the level are looked at sample by sample.
    const CHUNK: usize = 1024;
    let chunk_peaks: Vec<Vec<f32>> = reference
        .channels
        .iter()
        .map(|c| {
            c.chunks(CHUNK)
                .map(|ch| ch.iter().fold(0.0f32, |m, v| m.max(v.abs())))
                .collect()
        })
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
    let range = crate::dsp::ranges::CEILING_DB;
    CeilingSettings {
        enabled: peak_db <= range.max,
        ceiling_db: if limited {
            range.clamp(peak_db)
        } else {
            range.max
        },
    }
}
