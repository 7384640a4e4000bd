//! The excerpts the fits work on: evenly spaced segments of the (aligned) takes, so a long
//! recording costs no more than a short one and quiet and loud passages are both represented;
//! and the real chain rendering them. Each stage has its own budget below.

use super::align::Takes;
use super::metrics;
use crate::dsp::{Chain, ChainSettings};

/// Audio the paired compressor fit simulates per evaluation, seconds, and in how many
/// segments: it sees the gain trace itself and needs little.
pub const PAIRED_EXCERPT: (f64, usize) = (6.0, 2);
/// The same for the unpaired fit: it compares statistics, which need more material to
/// settle.
pub const UNPAIRED_EXCERPT: (f64, usize) = (12.0, 4);
/// The paired EQ correction compares spectra on this much of the source, in this many
/// segments.
pub const SPECTRUM_EXCERPT: (f64, usize) = (20.0, 4);
/// Unpaired loudness is measured on this much of the source, in this many segments: more than
/// the compressor fit needs, because integrated loudness depends on the whole level
/// distribution.
pub const LOUDNESS_EXCERPT: (f64, usize) = (30.0, 6);

/// Segments (start, length in samples) of a `total_len`-sample recording that the fits work
/// on: the whole recording when it is short, else `count` evenly spaced segments totalling
/// `seconds`, so quiet and loud passages are both represented.
pub fn excerpt_segments(
    total_len: usize,
    sample_rate: f64,
    (seconds, count): (f64, usize),
) -> Vec<(usize, usize)> {
    let max_len = (seconds * sample_rate) as usize;
    if total_len <= max_len || count < 2 {
        vec![(0, total_len.min(max_len.max(1)))]
    } else {
        let seg = max_len / count;
        (0..count)
            .map(|i| ((total_len - seg) * i / (count - 1), seg))
            .collect()
    }
}

/// Source rendered before each of [`Warmed`]'s segments and not kept, so the compressor's
/// envelope and the filters' state are the reference's where the segment starts, seconds
/// (the factory presets' releases are at most 200 ms; a longer one still settles to within a
/// fraction of a dB).
pub const PREROLL_S: f64 = 0.5;

/// Segments of a take, each led by up to [`PREROLL_S`] of what comes before it in the take:
/// rendered, the chain's state is warm where a segment starts, as it is in the reference. A
/// segment rendered from rest lets the compressor's first attack through (a loudness read on
/// a 6 s excerpt of a voice through Telephone, 6:1 with a 3 ms attack, 0.17 LU high).
pub struct Warmed {
    /// Per segment: the channels from the pre-roll on, and how many samples of pre-roll lead
    /// them.
    segments: Vec<(Vec<Vec<f32>>, usize)>,
    sample_rate: f64,
}

impl Warmed {
    /// `segments` (start, length) of `channels`, each with its pre-roll.
    pub fn of(channels: &[&[f32]], segments: &[(usize, usize)], sample_rate: f64) -> Self {
        let preroll = (PREROLL_S * sample_rate) as usize;
        let led: Vec<(usize, usize)> = segments
            .iter()
            .map(|&(start, len)| {
                let from = start.saturating_sub(preroll);
                (from, len + start - from)
            })
            .collect();
        let skips = segments.iter().zip(&led).map(|(s, l)| s.0 - l.0);
        Self {
            segments: gather(channels, &led).into_iter().zip(skips).collect(),
            sample_rate,
        }
    }

    /// Each segment through `settings` with the real chain, its pre-roll dropped: one `Vec`
    /// of channels per segment.
    pub fn render(&self, settings: &ChainSettings) -> Vec<Vec<Vec<f32>>> {
        let mut segments = Vec::with_capacity(self.segments.len());
        self.render_each(settings, |segment, channel| {
            if segment == segments.len() {
                segments.push(Vec::new());
            }
            segments[segment].push(channel.to_vec());
        });
        segments
    }

    /// Each segment through `settings`, handing `each` the segment's index and each of its
    /// channels with the pre-roll dropped, in order (the polish's residual copies them
    /// straight into one buffer).
    pub fn render_each(&self, settings: &ChainSettings, mut each: impl FnMut(usize, &[f32])) {
        let fresh = Chain::new(settings, self.sample_rate as f32);
        for (i, (channels, skip)) in self.segments.iter().enumerate() {
            for channel in render_from(&fresh, channels) {
                each(i, &channel[*skip..]);
            }
        }
    }
}

/// Copy `segments` of `channels` out: one `Vec` of channels per segment.
pub fn gather(channels: &[&[f32]], segments: &[(usize, usize)]) -> Vec<Vec<Vec<f32>>> {
    segments
        .iter()
        .map(|&(s, l)| {
            channels
                .iter()
                .map(|c| {
                    (s..s + l)
                        .map(|n| c.get(n).copied().unwrap_or(0.0))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// One excerpt of each take: segments (lists of channels) copied out.
pub struct Excerpt {
    pub source: Vec<Vec<Vec<f32>>>,
    pub reference: Vec<Vec<Vec<f32>>>,
}

impl Excerpt {
    /// `budget` (seconds, segments) of the source, and the same stretches of the reference
    /// when `with_reference` (paired: lined up sample for sample).
    pub fn of(takes: &Takes<'_>, budget: (f64, usize), with_reference: bool) -> Self {
        let segments = excerpt_segments(takes.src_mid.len(), takes.src_fs, budget);
        Self {
            source: gather(&takes.src_channels, &segments),
            reference: if with_reference {
                gather(&takes.ref_channels, &segments)
            } else {
                Vec::new()
            },
        }
    }
}

/// Render `channels` (1 or 2) through `settings` with the real chain, state from rest.
pub fn render(settings: &ChainSettings, channels: &[Vec<f32>], sample_rate: f64) -> Vec<Vec<f32>> {
    render_from(&Chain::new(settings, sample_rate as f32), channels)
}

/// `channels` through a copy of `fresh` (a new chain: state from rest). Several segments
/// rendered from one chain's copies are designed once: the EQ's design is most of what a new
/// chain costs (a 4-segment excerpt through 12 knobs' settings made 48 designs an iteration).
fn render_from(fresh: &Chain, channels: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut out = channels.to_vec();
    let mut chain = fresh.clone();
    let mut slices: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    chain.process(&mut slices);
    out
}

/// Each of `segments` through `settings` with the real chain, state from rest.
pub fn render_segments(
    settings: &ChainSettings,
    segments: &[Vec<Vec<f32>>],
    sample_rate: f64,
) -> Vec<Vec<Vec<f32>>> {
    let fresh = Chain::new(settings, sample_rate as f32);
    segments
        .iter()
        .map(|seg| render_from(&fresh, seg))
        .collect()
}

/// Segments (each a list of channels) joined channel by channel.
pub fn concat_channels(segments: &[Vec<Vec<f32>>]) -> Vec<Vec<f32>> {
    let n = segments.first().map_or(0, Vec::len);
    (0..n)
        .map(|c| segments.iter().flat_map(|s| s[c].iter().copied()).collect())
        .collect()
}

/// Mid of segments joined.
pub fn concat_mid(segments: &[Vec<Vec<f32>>]) -> Vec<f32> {
    let all = concat_channels(segments);
    let r: Vec<&[f32]> = all.iter().map(Vec::as_slice).collect();
    metrics::mid(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_bursts;
    use crate::preset::factory::find_factory;

    /// A segment of noise bursts through Telephone (6:1, 3 ms attack, 60 ms release, a
    /// 24 dB/oct band-pass), starting in a loud burst: with its pre-roll it is the whole
    /// take's render of that stretch; from rest the compressor's first attack lets the start
    /// through louder.
    #[test]
    fn a_warmed_segment_is_the_whole_take_s_render_of_it() {
        let fs = 48_000.0;
        let bursts = test_bursts(3 * 48_000);
        let telephone = find_factory("Telephone")
            .expect("a factory preset")
            .1
            .settings;
        let whole = render(&telephone, std::slice::from_ref(&bursts), fs).remove(0);
        let (start, len) = (48_000 + 6_000, 24_000);
        let stretch = &whole[start..start + len];
        let warmed = Warmed::of(&[&bursts], &[(start, len)], fs).render(&telephone);
        let worst = warmed[0][0]
            .iter()
            .zip(stretch)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let cold = render(&telephone, &[bursts[start..start + len].to_vec()], fs).remove(0);
        // The first 10 ms: measured 7.3 dB louder from rest; the warmed segment equal to the
        // whole take's render sample for sample (the half second of pre-roll leaves nothing of
        // the states' start).
        let level_db = |x: &[f32]| 10.0 * (x.iter().map(|&v| (v * v) as f64).sum::<f64>()).log10();
        let first = (0.01 * fs) as usize;
        let (cold_db, warm_db) = (level_db(&cold[..first]), level_db(&stretch[..first]));
        assert!(worst < 1e-6, "{worst}");
        assert!(cold_db > warm_db + 5.0, "{cold_db} dB against {warm_db} dB");
    }
}
