//! Reading and writing audio files: decode WAV, FLAC, MP3 and Ogg Vorbis with symphonia;
//! write 32-bit float WAV with hound. Mono and stereo only, at any sample rate.

use crate::files::AtomicFile;
use std::fs::File;
use std::path::{Path, PathBuf};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

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

/// Most channels a file may have (mono or stereo, as the chain processes).
const MAX_CHANNELS: usize = crate::dsp::MAX_CHANNELS;
/// Frames reserved up front from the header's length, at most (about 12 minutes at
/// 44.1 kHz): a header that overstates it costs no more than this.
const MAX_RESERVE_FRAMES: u64 = 1 << 25;

/// Decode WAV, FLAC, MP3 or Ogg Vorbis (mono or stereo, any rate).
///
/// Packets that fail to decode in the middle of a stream are skipped (a damaged MP3 frame
/// should not lose the whole file); a stream where no packet decodes is an error.
pub fn read_audio(path: &Path) -> Result<Audio, AudioError> {
    let decode_error = |message: String| AudioError::Decode {
        path: path.to_owned(),
        message,
    };
    let file = File::open(path).map_err(|source| AudioError::Open {
        path: path.to_owned(),
        source,
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(decode_error("is a directory, not an audio file".into()));
    }
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    // Gapless trims the MP3 encoder's delay and padding, so lengths match the source.
    let format_options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &format_options, &MetadataOptions::default())
        .map_err(|e| decode_error(describe(&e)))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| decode_error("no audio track".into()))?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if let Some(channels) = params.channels.map(|c| c.count())
        && channels > MAX_CHANNELS
    {
        return Err(AudioError::Channels {
            path: path.to_owned(),
            channels,
        });
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| decode_error(describe(&e)))?;

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = params.sample_rate;
    let mut planar: Option<SampleBuffer<f32>> = None;
    let mut decoded_packets = 0usize;
    let mut first_bad_packet: Option<String> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            // A chained Ogg stream or similar: the first stream is the recording.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(decode_error(describe(&e))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let buffer = match decoder.decode(&packet) {
            Ok(buffer) => buffer,
            Err(e @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                first_bad_packet.get_or_insert_with(|| describe(&e));
                continue;
            }
            Err(e) => return Err(decode_error(describe(&e))),
        };
        let spec = *buffer.spec();
        let count = spec.channels.count();
        if count > MAX_CHANNELS {
            return Err(AudioError::Channels {
                path: path.to_owned(),
                channels: count,
            });
        }
        if channels.is_empty() {
            let expected = params.n_frames.unwrap_or(0).min(MAX_RESERVE_FRAMES) as usize;
            channels = vec![Vec::with_capacity(expected); count];
            sample_rate = Some(spec.rate);
        } else if channels.len() != count {
            return Err(decode_error(format!(
                "the channel count changes mid-stream ({} → {count})",
                channels.len()
            )));
        }
        decoded_packets += 1;
        let frames = buffer.frames();
        if frames == 0 {
            continue;
        }
        if planar
            .as_ref()
            .is_none_or(|b| b.capacity() < buffer.capacity() * count)
        {
            planar = Some(SampleBuffer::new(buffer.capacity() as u64, spec));
        }
        let planar = planar.as_mut().expect("created above");
        // Channel after channel, each `frames` long.
        planar.copy_planar_ref(buffer);
        for (channel, samples) in channels
            .iter_mut()
            .zip(planar.samples().chunks_exact(frames))
        {
            channel.extend_from_slice(samples);
        }
    }
    if decoded_packets == 0 {
        if let Some(problem) = first_bad_packet {
            return Err(decode_error(format!(
                "corrupt audio: no packet could be decoded ({problem})"
            )));
        }
        // An empty but well-formed file: keep its channel count when the header gives it.
        let count = params.channels.map_or(0, |c| c.count());
        if count == 0 {
            return Err(decode_error("no audio in the file".into()));
        }
        channels = vec![Vec::new(); count];
    }
    trim_to_stated_length(&mut channels, &params);
    let sample_rate = sample_rate
        .ok_or_else(|| decode_error("the file does not state its sample rate".into()))?;
    Ok(Audio {
        sample_rate,
        channels,
    })
}

/// Drop the codec's start-up delay and end padding when the container states the true
/// length: symphonia 0.5 reports an Ogg Vorbis stream's delay but still returns those frames.
fn trim_to_stated_length(
    channels: &mut [Vec<f32>],
    params: &symphonia::core::codecs::CodecParameters,
) {
    let Some(frames) = params.n_frames.and_then(|n| usize::try_from(n).ok()) else {
        return;
    };
    let delay = params.delay.map_or(0, |d| d as usize);
    for channel in channels {
        if delay > 0 && channel.len() >= frames + delay {
            channel.drain(..delay);
        }
        channel.truncate(frames);
    }
}

/// One line for a symphonia error, worded for someone who gave us a file.
fn describe(e: &SymphoniaError) -> String {
    match e {
        SymphoniaError::Unsupported(what) => {
            format!("not a supported audio file (WAV, FLAC, MP3 or Ogg Vorbis expected): {what}")
        }
        SymphoniaError::DecodeError(what) => format!("corrupt audio: {what}"),
        SymphoniaError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "corrupt audio: the file ends too early".into()
        }
        SymphoniaError::IoError(io) => format!("cannot read: {io}"),
        other => format!("cannot decode: {other}"),
    }
}

/// Write 32-bit float WAV with the audio's rate and channels.
pub fn write_wav_f32(path: &Path, audio: &Audio) -> Result<(), AudioError> {
    let write_error = |message: String| AudioError::Write {
        path: path.to_owned(),
        message,
    };
    let count = audio.channels.len();
    if count == 0 || count > u16::MAX as usize {
        return Err(write_error(format!("{count} channels")));
    }
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(write_error("channels differ in length".into()));
    }
    let spec = hound::WavSpec {
        channels: count as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let hound_error = |e: hound::Error| match e {
        hound::Error::IoError(io) => write_error(io.to_string()),
        other => write_error(other.to_string()),
    };
    let out = AtomicFile::create(path).map_err(|e| write_error(e.to_string()))?;
    let mut writer =
        hound::WavWriter::new(std::io::BufWriter::new(out.file()), spec).map_err(hound_error)?;
    for frame in 0..frames {
        for channel in &audio.channels {
            writer.write_sample(channel[frame]).map_err(hound_error)?;
        }
    }
    writer.finalize().map_err(hound_error)?;
    out.commit().map_err(|e| write_error(e.to_string()))
}
