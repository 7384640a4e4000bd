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
    let mut out = channels.to_vec();
    let mut chain = Chain::new(settings, sample_rate as f32);
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
    segments
        .iter()
        .map(|seg| render(settings, seg, sample_rate))
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
