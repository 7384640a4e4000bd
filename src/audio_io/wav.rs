//! 32-bit float WAV out, block by block, through an [`AtomicFile`]: the file appears, complete
//! and with its sizes filled in, only when [`WavOut::finish`] succeeds.

use super::{AudioError, MAX_WAV_SAMPLES};
use crate::files::AtomicFile;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// A WAV file being written.
pub struct WavOut {
    path: PathBuf,
    out: AtomicFile,
    writer: hound::WavWriter<BufWriter<File>>,
    channels: usize,
    /// Samples (frames × channels) written so far.
    samples: u64,
}

impl WavOut {
    /// Start a 32-bit float WAV at `path` with this rate and channel count (1 or 2).
    pub fn create(path: &Path, sample_rate: u32, channels: usize) -> Result<Self, AudioError> {
        let write_error = |message: String| AudioError::Write {
            path: path.to_owned(),
            message,
        };
        if !(1..=super::MAX_CHANNELS).contains(&channels) {
            return Err(write_error(format!("{channels} channels")));
        }
        let out = AtomicFile::create(path).map_err(|e| write_error(e.to_string()))?;
        // hound writes through its own handle to the same open file; `out` keeps the other
        // for the flush to disk and the rename.
        let handle = out
            .file()
            .try_clone()
            .map_err(|e| write_error(e.to_string()))?;
        let spec = hound::WavSpec {
            channels: channels as u16,
            sample_rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let writer = hound::WavWriter::new(BufWriter::new(handle), spec)
            .map_err(|e| hound_error(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out,
            writer,
            channels,
            samples: 0,
        })
    }

    /// Append planar frames: one slice per channel, all the same length.
    pub fn write(&mut self, planar: &[&[f32]]) -> Result<(), AudioError> {
        let frames = planar.first().map_or(0, |c| c.len());
        if planar.len() != self.channels || planar.iter().any(|c| c.len() != frames) {
            return Err(self.error("channels differ in count or length".into()));
        }
        let total = self.samples + (frames * self.channels) as u64;
        if total > MAX_WAV_SAMPLES {
            return Err(self.error(format!(
                "more than {MAX_WAV_SAMPLES} samples, the most a WAV file's 32-bit sizes can hold"
            )));
        }
        for frame in 0..frames {
            for channel in planar {
                self.writer
                    .write_sample(channel[frame])
                    .map_err(|e| hound_error(&self.path, e))?;
            }
        }
        self.samples = total;
        Ok(())
    }

    /// Fill in the sizes, flush to disk and put the file in place.
    pub fn finish(self) -> Result<(), AudioError> {
        self.writer
            .finalize()
            .map_err(|e| hound_error(&self.path, e))?;
        let path = self.path;
        self.out.commit().map_err(|e| AudioError::Write {
            path,
            message: e.to_string(),
        })
    }

    fn error(&self, message: String) -> AudioError {
        AudioError::Write {
            path: self.path.clone(),
            message,
        }
    }
}

fn hound_error(path: &Path, e: hound::Error) -> AudioError {
    let message = match e {
        hound::Error::IoError(io) => io.to_string(),
        other => other.to_string(),
    };
    AudioError::Write {
        path: path.to_owned(),
        message,
    }
}
