//! Reading and writing audio files: decode WAV, FLAC, MP3 and Ogg Vorbis with symphonia
//! ([`decode`], streamed and checked), reading the common plain WAV files whole straight from
//! their bytes ([`plain_wav`]); write 32-bit float WAV with hound ([`wav`], streamed and
//! atomic). What is read must lie in the supported input range below; anything else is
//! refused with a one-line error naming the file.
//!
//! # Supported input range
//! - Formats: WAV (8/16/24/32-bit integer, 32/64-bit float, A-law, µ-law PCM), FLAC, MP3,
//!   Ogg Vorbis.
//! - Sample rates: [`MIN_SAMPLE_RATE_HZ`] to [`MAX_SAMPLE_RATE_HZ`].
//! - Channels: 1 or 2 ([`MAX_CHANNELS`]).
//! - Samples: finite, at most [`MAX_SAMPLE_ABS`] in magnitude.
//! - Length: what the output can hold when streaming ([`MAX_WAV_SAMPLES`]), and
//!   [`MAX_IN_MEMORY_FRAMES`] per file for what is read whole ([`read_audio`]).
//! - The header must agree with the data: the rate and channels that decode, the frames of
//!   each PCM block, and (lossless formats) the total length.

mod decode;
mod plain_wav;
mod wav;

pub use decode::{AudioReader, Block};
pub use wav::WavOut;

use std::path::{Path, PathBuf};

/// Lowest sample rate read, Hz: telephone speech, the lowest rate voice is recorded at. The
/// loudness measurement (BS.1770's K-weighting shelf at 1.68 kHz) needs a Nyquist frequency
/// well above 1.7 kHz; at 1–2 kHz it reads −300 LUFS.
pub const MIN_SAMPLE_RATE_HZ: u32 = 8_000;
/// Highest sample rate read, Hz: the top rate of current converters (DXD, 8 × 48 kHz). A
/// header claiming more (536 MHz has been seen) is damaged, not audio.
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;
/// Largest sample magnitude read: +60 dBFS. Float files may go past full scale (1.0), but
/// beyond a thousand times it the numbers are damage or a wrong scale, and squaring them for
/// levels and spectra would overflow.
pub const MAX_SAMPLE_ABS: f32 = 1000.0;
/// Most samples (frames × channels) in one written WAV file: its RIFF and data sizes are
/// 32-bit byte counts, and hound's float header takes 68 bytes, so
/// (2³² − 1 − 68) / 4 = 1 073 741 806 samples (3 h 22 min of 44.1 kHz stereo).
pub const MAX_WAV_SAMPLES: u64 = (u32::MAX as u64 - 68) / 4;
/// Most frames of one file held in memory by [`read_audio`] (`analyze`, `compare`): 2²⁵ =
/// 33 554 432 (12.7 min at 44.1 kHz, 11.7 min at 48 kHz), at most 256 MiB of f32 per file
/// whether mono or stereo (the analysis makes a mono file dual mono beside a stereo one),
/// which keeps a paired analysis under 1 GiB. Longer files are refused, or (`analyze`) read
/// up to this point.
pub const MAX_IN_MEMORY_FRAMES: u64 = 1 << 25;

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

impl Audio {
    /// `Err` naming `name` unless the audio is in the supported input range: rate, 1 or 2
    /// channels of one length, samples finite and within ±[`MAX_SAMPLE_ABS`]. (Decoded
    /// audio always is; this is for audio made elsewhere.)
    pub fn check_supported(&self, name: &str) -> Result<(), AudioError> {
        let path = Path::new(name);
        check_rate(path, self.sample_rate)?;
        let count = self.channels.len();
        if !(1..=MAX_CHANNELS).contains(&count) {
            return Err(AudioError::Channels {
                path: path.to_owned(),
                channels: count,
            });
        }
        if self.channels.iter().any(|c| c.len() != self.frames()) {
            return Err(AudioError::Decode {
                path: path.to_owned(),
                message: "channels differ in length".into(),
            });
        }
        for (k, channel) in self.channels.iter().enumerate() {
            if let Err((frame, value)) = check_samples(channel) {
                return Err(AudioError::Samples {
                    path: path.to_owned(),
                    frame: frame as u64,
                    channel: k + 1,
                    value,
                });
            }
        }
        Ok(())
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
    #[error(
        "{path}: sample rate {rate} Hz is outside the supported {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz"
    )]
    SampleRate { path: PathBuf, rate: u32 },
    #[error(
        "{path}: sample {frame} of channel {channel} is {}; only finite samples within ±{MAX_SAMPLE_ABS} (+60 dBFS) are supported",
        short_number(*.value)
    )]
    Samples {
        path: PathBuf,
        /// Frame index from the start, 0-based.
        frame: u64,
        /// 1-based.
        channel: usize,
        value: f32,
    },
    #[error("{path}: {message}")]
    TooLong { path: PathBuf, message: String },
    #[error("{path}: cannot write: {message}")]
    Write { path: PathBuf, message: String },
}

/// `3e38` rather than 39 digits; `1000.5`, `NaN` and `inf` as they are.
pub fn short_number(v: f32) -> String {
    if v.is_finite() && v.abs() >= 1e6 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Most channels a file may have (mono or stereo, as the chain processes).
pub const MAX_CHANNELS: usize = crate::dsp::MAX_CHANNELS;

/// `Err` unless `rate` is in the supported range.
pub fn check_rate(path: &Path, rate: u32) -> Result<(), AudioError> {
    if (MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::SampleRate {
            path: path.to_owned(),
            rate,
        })
    }
}

/// The first sample that is not finite or beyond ±[`MAX_SAMPLE_ABS`]: (index, value).
pub fn check_samples(samples: &[f32]) -> Result<(), (usize, f32)> {
    // `v.abs() <= MAX` is false for NaN too. Chunk by chunk with a branch-free test that
    // vectorises; only a chunk that fails is searched sample by sample.
    let fine = |v: &f32| v.abs() <= MAX_SAMPLE_ABS;
    for (c, chunk) in samples.chunks(1024).enumerate() {
        if !chunk.iter().fold(true, |ok, v| ok & fine(v)) {
            let i = chunk
                .iter()
                .position(|v| !fine(v))
                .expect("the chunk holds one");
            return Err((c * 1024 + i, chunk[i]));
        }
    }
    Ok(())
}

/// What [`read_audio_prefix`] read.
#[derive(Debug)]
pub struct Prefix {
    pub audio: Audio,
    /// The file goes on past `audio`.
    pub cut: bool,
    /// The file's length as its header states it, frames.
    pub stated_frames: Option<u64>,
    /// Damaged packets were skipped ([`AudioReader::damage`]).
    pub damage: Option<String>,
}

/// Decode all of `path` into memory for measuring it, refusing a file of more than
/// [`MAX_IN_MEMORY_FRAMES`] (up front when its header says so) and one with damaged packets
/// (their gaps, closed up, would shift and shorten what is measured).
pub fn read_audio(path: &Path) -> Result<Audio, AudioError> {
    if let Some(audio) = plain_wav::read(path, MAX_IN_MEMORY_FRAMES) {
        return Ok(audio);
    }
    let reader = AudioReader::open(path)?;
    let sample_rate = reader.sample_rate();
    let too_long = || AudioError::TooLong {
        path: path.to_owned(),
        message: format!(
            "longer than {MAX_IN_MEMORY_FRAMES} frames ({:.1} min at {sample_rate} Hz), the most read into memory",
            MAX_IN_MEMORY_FRAMES as f64 / f64::from(sample_rate) / 60.0
        ),
    };
    if reader
        .stated_frames()
        .is_some_and(|n| n > MAX_IN_MEMORY_FRAMES)
    {
        return Err(too_long());
    }
    let prefix = read_prefix(reader, MAX_IN_MEMORY_FRAMES)?;
    if let Some(damage) = prefix.damage {
        return Err(AudioError::Decode {
            path: path.to_owned(),
            message: format!("{damage}; only whole files are measured"),
        });
    }
    if prefix.cut {
        return Err(too_long());
    }
    Ok(prefix.audio)
}

/// Decode `path` into memory up to [`MAX_IN_MEMORY_FRAMES`], saying whether it goes on.
pub fn read_audio_prefix(path: &Path) -> Result<Prefix, AudioError> {
    if let Some(audio) = plain_wav::read(path, MAX_IN_MEMORY_FRAMES) {
        let frames = audio.frames() as u64;
        return Ok(Prefix {
            audio,
            cut: false,
            stated_frames: Some(frames),
            damage: None,
        });
    }
    read_prefix(AudioReader::open(path)?, MAX_IN_MEMORY_FRAMES)
}

/// The first `limit` frames that `reader` decodes.
fn read_prefix(mut reader: AudioReader, limit: u64) -> Result<Prefix, AudioError> {
    let count = reader.channels();
    let limit = limit as usize;
    let stated = reader.stated_frames();
    // Room for the stated length up front (no doubling copies); a header that overstates it
    // costs at most the limit.
    let reserve = stated.map_or(0, |n| n.min(limit as u64) as usize);
    let mut channels: Vec<Vec<f32>> = (0..count).map(|_| Vec::with_capacity(reserve)).collect();
    let sample_rate = reader.sample_rate();
    let mut cut = false;
    while let Some(block) = reader.next_block()? {
        let have = channels[0].len();
        let take = block.frames().min(limit - have);
        for (k, channel) in channels.iter_mut().enumerate() {
            channel.extend_from_slice(&block.channel(k)[..take]);
        }
        if take < block.frames() {
            cut = true;
            break;
        }
    }
    Ok(Prefix {
        audio: Audio {
            sample_rate,
            channels,
        },
        cut,
        stated_frames: stated,
        damage: reader.damage(),
    })
}

/// "25.4 min of 44100 Hz stereo": how long `samples` last.
pub fn minutes_at(samples: u64, channels: usize, sample_rate: u32) -> String {
    let minutes = samples as f64 / channels.max(1) as f64 / sample_rate.max(1) as f64 / 60.0;
    format!(
        "{minutes:.1} min of {sample_rate} Hz {}",
        channels_name(channels)
    )
}

/// "mono", "stereo" or "N channels".
pub fn channels_name(count: usize) -> String {
    match count {
        1 => "mono".into(),
        2 => "stereo".into(),
        n => format!("{n} channels"),
    }
}

/// Write 32-bit float WAV with the audio's rate and channels, atomically.
pub fn write_wav_f32(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let mut out = WavOut::create(path, audio.sample_rate, audio.channels.len())?;
    let planar: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    out.write(&planar)?;
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_stops_at_its_limit_and_says_whether_more_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let ramp: Vec<f32> = (0..5000).map(|i| i as f32 / 5000.0).collect();
        write_wav_f32(
            &path,
            &Audio {
                sample_rate: 8_000,
                channels: vec![ramp.clone(), ramp.clone()],
            },
        )
        .unwrap();
        for (limit, frames, cut) in [(300, 300, true), (4999, 4999, true), (5000, 5000, false)] {
            let p = read_prefix(AudioReader::open(&path).unwrap(), limit).unwrap();
            assert_eq!((p.audio.frames(), p.cut), (frames, cut), "limit {limit}");
            assert_eq!(p.audio.channels[1], ramp[..frames]);
            assert_eq!(p.stated_frames, Some(5000));
        }
    }
}
