//! Reading and writing audio files. STUB: the signatures below are the contract.

use std::path::{Path, PathBuf};

/// Decoded audio: planar f32 samples at the file's own rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    /// One Vec per channel (1 or 2), all the same length.
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }
    /// Duration, seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.sample_rate as f64
    }
}

/// Why a file could not be read or written. Each message is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("{path}: {channels} channels; only mono and stereo are supported")]
    Channels { path: PathBuf, channels: usize },
    #[error("{path}: cannot write: {message}")]
    Write { path: PathBuf, message: String },
}

/// Decode WAV, FLAC, MP3 or Ogg Vorbis (mono or stereo, any rate).
pub fn read_audio(path: &Path) -> Result<Audio, AudioError> {
    Err(AudioError::Decode {
        path: path.to_owned(),
        message: "not implemented yet".into(),
    })
}

/// Write 32-bit float WAV with the audio's rate and channels.
pub fn write_wav_f32(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let _ = audio;
    Err(AudioError::Write {
        path: path.to_owned(),
        message: "not implemented yet".into(),
    })
}
