//! What runs around the chain on the audio thread: the live monitor's demo input and recorder,
//! and the editor's scope (the signal its spectrum analyzer and Learn capture read). Each
//! wants the input as it arrived beside the processed output, so one copy of the input is made
//! here, in buffers allocated up front, and handed to all of them.

use super::live::{AudioTap, LiveSetup, ProcessLoad};
use std::sync::Arc;

/// Longest piece the dry copy holds; longer blocks are processed in pieces of this length
/// (the chain is block-size invariant, so this changes nothing audible), frames.
const DRY_FRAMES: usize = 8192;

/// Frames the scope's ring holds: about a third of a second at 48 kHz, several of the
/// editor's frames; when the editor falls behind, the newest samples are dropped.
pub const SCOPE_FRAMES: usize = 16_384;

/// One scope sample: the input and the output, each a mono mix.
pub type ScopeFrame = [f32; 2];

/// The editor's end of the scope: mono mixes of input and output, in order.
pub type ScopeReader = rtrb::Consumer<ScopeFrame>;

/// The audio thread's taps. Empty (and free) in a DAW while no editor is open.
pub struct Taps {
    /// The live monitor's load counters and extras; `None` in a DAW.
    pub load: Option<Arc<ProcessLoad>>,
    recorder: Option<Box<dyn AudioTap>>,
    demo: Option<Demo>,
    scope: rtrb::Producer<ScopeFrame>,
    dry: [Vec<f32>; 2],
    /// The scope's mono mixes of the input and the output (a slice-at-a-time pass each, so
    /// both vectorise).
    mono: [Vec<f32>; 2],
    /// The CPU has AVX2: the scope's mixing runs in its AVX2 build.
    avx2: bool,
}

impl Taps {
    /// The taps and the editor's end of the scope. Allocates.
    pub fn new(live: Option<LiveSetup>) -> (Taps, ScopeReader) {
        let (scope, reader) = rtrb::RingBuffer::new(SCOPE_FRAMES);
        let (load, recorder, demo) = match live {
            Some(setup) => (
                Some(setup.load),
                setup.tap,
                setup.demo.map(|samples| Demo {
                    samples,
                    position: 0,
                }),
            ),
            None => (None, None, None),
        };
        let taps = Taps {
            load,
            recorder,
            demo,
            scope,
            dry: [vec![0.0; DRY_FRAMES], vec![0.0; DRY_FRAMES]],
            mono: [vec![0.0; DRY_FRAMES], vec![0.0; DRY_FRAMES]],
            avx2: crate::dsp::cpu_has_avx2(),
        };
        (taps, reader)
    }

    /// Run `process` over `channels` (outputs, the first `inputs` of them holding the input),
    /// with the demo loop as input if there is one, handing each piece with the input it came
    /// from to the recorder, and to the scope when `scope_on` (an editor is open).
    pub fn run(
        &mut self,
        channels: &mut [&mut [f32]],
        inputs: usize,
        scope_on: bool,
        mut process: impl FnMut(&mut [&mut [f32]]),
    ) {
        if let Some(demo) = self.demo.as_mut() {
            demo.fill(channels, inputs);
        }
        if self.recorder.is_none() && !scope_on {
            process(channels);
            return;
        }
        let frames = channels.first().map_or(0, |c| c.len());
        let inputs = inputs.min(self.dry.len());
        let outputs = channels.len().min(2);
        let recording = self.recorder.is_some();
        let mut start = 0;
        while start < frames {
            let end = (start + DRY_FRAMES).min(frames);
            let n = end - start;
            // The recorder needs the input whole; the scope only its mono mix, made before
            // the input is processed in place.
            if recording {
                for (dry, ch) in self.dry.iter_mut().zip(channels.iter()).take(inputs) {
                    dry[..n].copy_from_slice(&ch[start..end]);
                }
            }
            // Up to two channels each way: fixed arrays, no allocation.
            let mut piece: [&mut [f32]; 2] = [&mut [], &mut []];
            for (slot, ch) in piece.iter_mut().zip(channels.iter_mut()) {
                *slot = &mut ch[start..end];
            }
            let [mono_in, mono_out] = &mut self.mono;
            if scope_on {
                let input: [&[f32]; 2] = [&*piece[0], &*piece[1]];
                mix_into(&mut mono_in[..n], &input[..inputs], self.avx2);
            }
            process(&mut piece[..outputs]);
            let processed: [&[f32]; 2] = [&piece[0][..], &piece[1][..]];
            if let Some(recorder) = self.recorder.as_mut() {
                let dry: [&[f32]; 2] = [&self.dry[0][..n], &self.dry[1][..n]];
                recorder.block(&dry[..inputs], &processed[..outputs]);
            }
            if scope_on {
                mix_into(&mut mono_out[..n], &processed[..outputs], self.avx2);
                feed_scope(&mut self.scope, [&mono_in[..n], &mono_out[..n]]);
            }
            start = end;
        }
    }
}

/// Push the pairs of `mono` (the input's and the output's mono mixes) into the scope, as many
/// frames as fit.
fn feed_scope(scope: &mut rtrb::Producer<ScopeFrame>, mono: [&[f32]; 2]) {
    let n = mono[0].len().min(mono[1].len()).min(scope.slots());
    let Ok(mut chunk) = scope.write_chunk_uninit(n) else {
        return;
    };
    let (first, second) = chunk.as_mut_slices();
    let split = first.len();
    for (offset, slots) in [(0, first), (split, second)] {
        let end = offset + slots.len();
        for ((slot, &input), &output) in slots
            .iter_mut()
            .zip(&mono[0][offset..end])
            .zip(&mono[1][offset..end])
        {
            slot.write([input, output]);
        }
    }
    // SAFETY: every slot of both slices was written just above.
    unsafe { chunk.commit_all() };
}

/// Write the mono mix of one or two `channels` into `out` (as long as they are); in the
/// code's AVX2 build when `avx2`.
fn mix_into(out: &mut [f32], channels: &[&[f32]], avx2: bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is only true where the CPU was found to have it.
        return unsafe { mix_into_avx2(out, channels) };
    }
    let _ = avx2;
    mix_into_lanes(out, channels);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mix_into_avx2(out: &mut [f32], channels: &[&[f32]]) {
    mix_into_lanes(out, channels);
}

#[inline(always)]
fn mix_into_lanes(out: &mut [f32], channels: &[&[f32]]) {
    match channels {
        [one] => out.copy_from_slice(one),
        [left, right] => {
            for ((o, l), r) in out.iter_mut().zip(left.iter()).zip(right.iter()) {
                *o = 0.5 * (l + r);
            }
        }
        _ => out.fill(0.0),
    }
}

/// The demo loop and where it is.
struct Demo {
    samples: Vec<f32>,
    position: usize,
}

impl Demo {
    /// Fill the first `inputs` channels with the next samples of the loop.
    fn fill(&mut self, channels: &mut [&mut [f32]], inputs: usize) {
        let frames = channels.first().map_or(0, |c| c.len());
        if self.samples.is_empty() {
            return;
        }
        let start = self.position;
        for ch in channels.iter_mut().take(inputs) {
            let mut position = start;
            for x in ch.iter_mut() {
                *x = self.samples[position];
                position = (position + 1) % self.samples.len();
            }
        }
        self.position = (start + frames) % self.samples.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The builds of the scope's code this CPU can run: portable, and AVX2 where it has it.
    fn builds() -> Vec<bool> {
        let mut builds = vec![false];
        if crate::dsp::cpu_has_avx2() {
            builds.push(true);
        }
        builds
    }

    #[test]
    fn the_scope_gets_mono_mixes_of_input_and_output_only_when_on() {
        for avx2 in builds() {
            let (mut taps, mut reader) = Taps::new(None);
            taps.avx2 = avx2;
            let mut left = vec![0.5f32; 100];
            let mut right = vec![-0.25f32; 100];
            let mut run = |taps: &mut Taps, on| {
                taps.run(
                    &mut [&mut left, &mut right],
                    2,
                    on,
                    |chs: &mut [&mut [f32]]| {
                        chs.iter_mut()
                            .for_each(|c| c.iter_mut().for_each(|x| *x = -*x))
                    },
                )
            };
            run(&mut taps, false);
            assert_eq!(reader.slots(), 0);
            // Past the ring's end, so its wrap (two slices) is written too.
            for _ in 0..SCOPE_FRAMES / 100 + 1 {
                run(&mut taps, true);
                let frames = reader.read_chunk(reader.slots()).unwrap();
                assert_eq!(frames.len(), 100, "AVX2 build: {avx2}");
                // Each run negates the signal in place: the input's mono mix is ±0.125
                // (0.5 and −0.25, or both negated), the output's its negative.
                let first = frames.as_slices().0[0];
                assert!(frames.into_iter().all(|f| f == first), "AVX2 build: {avx2}");
                assert_eq!(first[0].abs(), 0.125);
                assert_eq!(first[1], -first[0]);
            }
        }
    }

    #[test]
    fn a_full_scope_drops_the_newest_frames_without_blocking() {
        let (mut taps, reader) = Taps::new(None);
        let mut x = vec![0.1f32; SCOPE_FRAMES + 500];
        taps.run(&mut [&mut x], 1, true, |_: &mut [&mut [f32]]| {});
        assert_eq!(reader.slots(), SCOPE_FRAMES);
    }
}
