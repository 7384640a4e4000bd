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
        let mut start = 0;
        while start < frames {
            let end = (start + DRY_FRAMES).min(frames);
            let n = end - start;
            for (dry, ch) in self.dry.iter_mut().zip(channels.iter()).take(inputs) {
                dry[..n].copy_from_slice(&ch[start..end]);
            }
            // Up to two channels each way: fixed arrays, no allocation.
            let mut piece: [&mut [f32]; 2] = [&mut [], &mut []];
            for (slot, ch) in piece.iter_mut().zip(channels.iter_mut()) {
                *slot = &mut ch[start..end];
            }
            process(&mut piece[..outputs]);
            let dry: [&[f32]; 2] = [&self.dry[0][..n], &self.dry[1][..n]];
            let processed: [&[f32]; 2] = [&piece[0][..], &piece[1][..]];
            if let Some(recorder) = self.recorder.as_mut() {
                recorder.block(&dry[..inputs], &processed[..outputs]);
            }
            if scope_on {
                feed_scope(&mut self.scope, &dry[..inputs], &processed[..outputs]);
            }
            start = end;
        }
    }
}

/// Push mono mixes of `dry` and `processed` into the scope, as many frames as fit.
fn feed_scope(scope: &mut rtrb::Producer<ScopeFrame>, dry: &[&[f32]], processed: &[&[f32]]) {
    let frames = processed.first().map_or(0, |c| c.len());
    let n = frames.min(scope.slots());
    let Ok(chunk) = scope.write_chunk_uninit(n) else {
        return;
    };
    let mix = |channels: &[&[f32]], i: usize| {
        channels.iter().map(|c| c[i]).sum::<f32>() / channels.len().max(1) as f32
    };
    chunk.fill_from_iter((0..n).map(|i| [mix(dry, i), mix(processed, i)]));
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

    #[test]
    fn the_scope_gets_mono_mixes_of_input_and_output_only_when_on() {
        let (mut taps, mut reader) = Taps::new(None);
        let mut left = vec![0.5f32; 100];
        let mut right = vec![-0.25f32; 100];
        let mut run = |taps: &mut Taps, on| {
            taps.run(
                &mut [&mut left, &mut right],
                2,
                on,
                |chs: &mut [&mut [f32]]| {
                    chs.iter_mut()
                        .for_each(|c| c.iter_mut().for_each(|x| *x *= 2.0))
                },
            )
        };
        run(&mut taps, false);
        assert_eq!(reader.slots(), 0);
        run(&mut taps, true);
        assert_eq!(reader.slots(), 100);
        // Input (after the first run doubled it): 1.0 and −0.5; mixed 0.25, out 0.5.
        assert_eq!(reader.pop().unwrap(), [0.25, 0.5]);
    }

    #[test]
    fn a_full_scope_drops_the_newest_frames_without_blocking() {
        let (mut taps, reader) = Taps::new(None);
        let mut x = vec![0.1f32; SCOPE_FRAMES + 500];
        taps.run(&mut [&mut x], 1, true, |_: &mut [&mut [f32]]| {});
        assert_eq!(reader.slots(), SCOPE_FRAMES);
    }
}
