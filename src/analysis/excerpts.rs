//! The excerpts the fits work on: evenly spaced segments of the (aligned) takes, so a long
//! recording costs no more than a short one and quiet and loud passages are both represented;
//! and the real chain rendering them. Each stage has its own budget below.

use super::align::Takes;
use super::{metrics, on_two_cores};
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
    segments: Vec<LedSegment>,
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
    /// of channels per segment, the segments on two cores ([`on_two_cores`]).
    pub fn render(&self, settings: &ChainSettings) -> Vec<Vec<Vec<f32>>> {
        let fresh = Chain::new(settings, self.sample_rate as f32);
        on_two_cores(&self.segments, |segment| {
            let mut channels = Vec::new();
            render_led(&fresh, Part::Whole, segment, |channel| {
                channels.push(channel.to_vec());
            });
            channels
        })
    }

    /// Each segment through `settings`, its pre-roll dropped, into `out`: segment after
    /// segment, channel after channel (the scored samples [`gather`] copies, flattened). On
    /// one core: for a caller that keeps both busy. Returns the loudest sample the chain put
    /// out, pre-roll included ([`Loudest`]).
    pub fn render_joined(&self, settings: &ChainSettings, out: &mut Vec<f32>) -> Loudest {
        let fresh = Chain::new(settings, self.sample_rate as f32);
        self.joined(&fresh, Part::Whole, &self.segments, out)
    }

    /// Each segment, pre-roll included, through the first half of `settings`' chain (input
    /// gain and EQ, [`Chain::halves`]), the segments on two cores ([`on_two_cores`]).
    pub fn fronts(&self, settings: &ChainSettings) -> Fronts {
        let fresh = Chain::new(settings, self.sample_rate as f32);
        let segments = on_two_cores(&self.segments, |(channels, skip)| {
            (render_from(&fresh, Part::Front, channels), *skip)
        });
        Fronts { fresh, segments }
    }

    /// [`Warmed::render_joined`], the same bits, starting from `fronts` where they serve
    /// `settings` ([`Fronts::serve`]): then only the chain's second half runs.
    pub fn render_joined_after(
        &self,
        fronts: &Fronts,
        settings: &ChainSettings,
        out: &mut Vec<f32>,
    ) -> Loudest {
        // Made like the fronts' chain: the bands it shares with it are not designed again.
        let fresh = Chain::new_like(&fronts.fresh, settings);
        if fronts.serve(settings) {
            self.joined(&fresh, Part::Back, &fronts.segments, out)
        } else {
            self.joined(&fresh, Part::Whole, &self.segments, out)
        }
    }

    /// `segments` (these or their [`Fronts`]) through `part` of a copy of `fresh`, one after
    /// another, the pre-roll dropped, into `out`.
    fn joined(
        &self,
        fresh: &Chain,
        part: Part,
        segments: &[LedSegment],
        out: &mut Vec<f32>,
    ) -> Loudest {
        out.clear();
        segments.iter().fold(0.0, |loudest, segment| {
            let peak = render_led(fresh, part, segment, |channel| {
                out.extend_from_slice(channel)
            });
            loudest.max(peak)
        })
    }
}

/// Which part of a chain a render runs ([`Chain::halves`]): the two halves one after the other
/// are the whole, bit for bit.
#[derive(Debug, Clone, Copy)]
enum Part {
    Whole,
    /// Input gain and EQ.
    Front,
    /// Compressor, output gain and ceiling, on the front's output.
    Back,
}

/// Why a copy of a new chain runs in halves.
pub(super) const NEW_CHAIN_IS_PLAIN: &str = "a new chain is neither metered nor bypassed";

/// [`Warmed`]'s segments through the first half of one chain ([`Warmed::fronts`]).
pub struct Fronts {
    /// The chain they went through, fresh (never run), and so its settings: the chains
    /// rendered after them are made like it ([`Chain::new_like`]).
    fresh: Chain,
    segments: Vec<LedSegment>,
}

impl Fronts {
    /// Whether a render through `settings` may start from these: their input gain and EQ are
    /// the ones these went through (what comes after the EQ may differ).
    pub fn serve(&self, settings: &ChainSettings) -> bool {
        let went = self.fresh.settings();
        settings.input_gain_db == went.input_gain_db && settings.eq == went.eq
    }
}

/// A segment's channels from its pre-roll on, and how many samples of pre-roll lead them.
type LedSegment = (Vec<Vec<f32>>, usize);

/// The highest sample (absolute value, linear) a render put out, its pre-roll included: where
/// it stays at or under a ceiling, that ceiling would have left every sample of the render as
/// it is, state included ([`crate::dsp::ceiling::Ceiling`] acts only on a sample above it).
pub type Loudest = f32;

/// `segment` through `part` of a copy of `fresh`, handing `each` every channel with the
/// pre-roll dropped; returns the loudest sample, pre-roll included.
fn render_led(
    fresh: &Chain,
    part: Part,
    (channels, skip): &LedSegment,
    mut each: impl FnMut(&[f32]),
) -> Loudest {
    let mut loudest: Loudest = 0.0;
    for channel in render_from(fresh, part, channels) {
        loudest = loudest.max(crate::dsp::peak_magnitude(&channel));
        each(&channel[*skip..]);
    }
    loudest
}

/// Copy `segments` of `channels` out: one `Vec` of channels per segment.
pub fn gather(channels: &[&[f32]], segments: &[(usize, usize)]) -> Vec<Vec<Vec<f32>>> {
    segments
        .iter()
        .map(|&(s, l)| {
            channels
                .iter()
                .map(|c| {
                    // Past the end of the channel: silence.
                    let end = (s + l).min(c.len());
                    let mut copy = c[s.min(end)..end].to_vec();
                    copy.resize(l, 0.0);
                    copy
                })
                .collect()
        })
        .collect()
}

/// One excerpt of each take: segments (lists of channels) copied out.
#[derive(Clone)]
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
    render_from(
        &Chain::new(settings, sample_rate as f32),
        Part::Whole,
        channels,
    )
}

/// `channels` through `part` of a copy of `fresh` (a new chain: state from rest). Several
/// segments rendered from one chain's copies are designed once: the EQ's design is most of
/// what a new chain costs (a 4-segment excerpt through 12 knobs' settings made 48 designs an
/// iteration).
fn render_from(fresh: &Chain, part: Part, channels: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut out = channels.to_vec();
    let mut slices: Vec<&mut [f32]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let mut chain = fresh.clone();
    match part {
        Part::Whole => chain.process(&mut slices),
        Part::Front => chain
            .halves()
            .expect(NEW_CHAIN_IS_PLAIN)
            .0
            .process(&mut slices),
        Part::Back => chain
            .halves()
            .expect(NEW_CHAIN_IS_PLAIN)
            .1
            .process(&mut slices),
    }
    out
}

/// Each of `segments` through `settings` with the real chain, state from rest.
pub fn render_segments(
    settings: &ChainSettings,
    segments: &[Vec<Vec<f32>>],
    sample_rate: f64,
) -> Vec<Vec<Vec<f32>>> {
    let fresh = Chain::new(settings, sample_rate as f32);
    on_two_cores(segments, |seg| render_from(&fresh, Part::Whole, seg))
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

    /// 10 s of stereo noise bursts at 48 kHz (the right channel the left reversed, lower) and
    /// Beatbox Punch, a chain with EQ bands and a compressor.
    fn stereo_bursts_through_punch() -> (f64, [Vec<f32>; 2], ChainSettings) {
        let left = test_bursts(10 * 48_000);
        let right: Vec<f32> = left.iter().rev().map(|v| 0.7 * v).collect();
        let settings = find_factory("Beatbox Punch")
            .expect("a factory preset")
            .1
            .settings;
        (48_000.0, [left, right], settings)
    }

    /// Whether `a` and `b` are the same samples, bit for bit.
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Segments rendered on two cores are the segments rendered one after another, bit for
    /// bit: five stereo segments (an odd count), with and without
    /// their pre-roll, through a chain with a compressor.
    #[test]
    fn segments_on_two_cores_are_the_segments_one_after_another() {
        let (fs, [left, right], settings) = stereo_bursts_through_punch();
        let scored = excerpt_segments(left.len(), fs, (5.0, 5));
        assert_eq!(scored.len(), 5);
        let segments = gather(&[&left, &right], &scored);
        let one_by_one: Vec<Vec<Vec<f32>>> = segments
            .iter()
            .map(|segment| render(&settings, segment, fs))
            .collect();
        assert!(render_segments(&settings, &segments, fs) == one_by_one);
        let warmed = Warmed::of(&[&left, &right], &scored, fs);
        let mut joined = Vec::new();
        warmed.render_joined(&settings, &mut joined);
        let on_two: Vec<f32> = warmed
            .render(&settings)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert_eq!(on_two.len(), 2 * scored.iter().map(|s| s.1).sum::<usize>());
        assert!(same_bits(&on_two, &joined));
        assert!(
            on_two.iter().any(|v| v.abs() > 0.1),
            "the renders are not silence"
        );
    }

    /// A render that starts from the chain's first half made once ([`Warmed::fronts`]) is the
    /// whole render bit for bit: settings that differ after the EQ (the compressor's threshold
    /// and attack, the output gain, the ceiling) run only the second half; settings whose EQ
    /// or input gain differ run whole.
    #[test]
    fn a_render_from_the_first_half_is_the_whole_render() {
        let (fs, [left, right], base) = stereo_bursts_through_punch();
        assert!(base.compressor.enabled && base.eq.bands.iter().any(|b| b.enabled));
        let warmed = Warmed::of(
            &[&left, &right],
            &excerpt_segments(left.len(), fs, (4.0, 4)),
            fs,
        );
        let fronts = warmed.fronts(&base);
        assert_eq!(fronts.segments.len(), 4);
        let mut behind = base.clone();
        behind.compressor.threshold_db -= 3.0;
        behind.compressor.attack_ms *= 2.0;
        behind.output_gain_db += 6.0;
        behind.ceiling.ceiling_db = -1.0;
        let mut eq = base.clone();
        eq.eq.bands[0].freq_hz *= 1.1;
        let mut input = base.clone();
        input.input_gain_db += 1.0;
        for (settings, served) in [
            (&base, true),
            (&behind, true),
            (&eq, false),
            (&input, false),
        ] {
            assert_eq!(fronts.serve(settings), served);
            let (mut whole, mut after) = (Vec::new(), Vec::new());
            warmed.render_joined(settings, &mut whole);
            warmed.render_joined_after(&fronts, settings, &mut after);
            assert!(same_bits(&whole, &after));
        }
        // The settings after the EQ changed the output (the test compares different renders).
        let (mut at_base, mut at_behind) = (Vec::new(), Vec::new());
        warmed.render_joined(&base, &mut at_base);
        warmed.render_joined(&behind, &mut at_behind);
        let moved = at_base
            .iter()
            .zip(&at_behind)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(moved > 0.1, "{moved}");
    }

    /// Where a segment runs past the end of a channel, the copy goes on in silence.
    #[test]
    fn a_segment_past_the_end_is_silence_there() {
        let channel = [1.0, 2.0, 3.0];
        assert_eq!(
            gather(&[&channel], &[(0, 2), (1, 4), (5, 2)]),
            vec![
                vec![vec![1.0, 2.0]],
                vec![vec![2.0, 3.0, 0.0, 0.0]],
                vec![vec![0.0, 0.0]]
            ]
        );
    }
}
