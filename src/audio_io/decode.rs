//! Decoding as a stream of checked blocks, with symphonia treated as untrusted: every call
//! into it runs behind a panic boundary ([`untrusted`]), and what it reports is checked
//! against what it actually decodes (sample rate and channels of every block, frames of every
//! PCM packet against the header's block alignment, the lossless total against the header's
//! length) and against the supported range ([`super::check_rate`], [`super::check_samples`]).

use super::{AudioError, MAX_CHANNELS, check_rate, check_samples};
use std::cell::RefCell;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{
    CODEC_TYPE_FLAC, CODEC_TYPE_NULL, CodecType, Decoder, DecoderOptions,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A file being decoded: its format, checked up front, and its frames block by block.
pub struct AudioReader {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    sample_rate: u32,
    channels: usize,
    /// Frames the container states (after the codec's delay), when it states them.
    stated_frames: Option<u64>,
    /// PCM: every packet must decode to the frames the header's block alignment gives it.
    pcm: bool,
    /// PCM or FLAC: the decoded total must be the stated length.
    exact_length: bool,
    /// Start-up frames still to drop: symphonia 0.5 reports an Ogg Vorbis stream's delay
    /// but returns those frames (an MP3 with a gapless header is trimmed by symphonia).
    skip: u64,
    /// Frames handed out so far.
    delivered: u64,
    /// The last decoded packet, planar (channel after channel).
    planar: Option<SampleBuffer<f32>>,
    /// What of `planar` is still to hand out: (frames per channel in it, first frame, frames).
    ready: Option<(usize, usize, usize)>,
    /// Packets that failed to decode and were skipped, and why the first one failed.
    bad_packets: usize,
    first_bad_packet: Option<String>,
    decoded_packets: usize,
    /// The last PCM packet decoded to fewer frames than its block alignment gives it: it
    /// must be the last one.
    short_packet: bool,
    ended: bool,
}

/// Decoded frames, planar: `channel(k)` for k in 0..channels, all [`Block::frames`] long.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    samples: &'a [f32],
    /// Frames per channel in `samples` (the stride between channels).
    stride: usize,
    start: usize,
    frames: usize,
}

impl<'a> Block<'a> {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.frames
    }
    /// The samples of channel `k`.
    pub fn channel(&self, k: usize) -> &'a [f32] {
        let begin = k * self.stride + self.start;
        &self.samples[begin..begin + self.frames]
    }
}

impl AudioReader {
    /// Open and probe `path`, check its format against the supported range, and decode up
    /// to its first audio (so the rate and channels are the ones that really decode).
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let decode_error = |message: String| decode_error(path, message);
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
        let probed = untrusted(path, || {
            symphonia::default::get_probe()
                .format(&hint, stream, &format_options, &MetadataOptions::default())
                .map_err(|e| decode_error(describe(&e)))
        })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| decode_error("no audio track".into()))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let header_channels = params.channels.map(|c| c.count());
        if let Some(channels) = header_channels {
            check_channels(path, channels)?;
        }
        if let Some(rate) = params.sample_rate {
            check_rate(path, rate)?;
        }
        let decoder = untrusted(path, || {
            symphonia::default::get_codecs()
                .make(&params, &DecoderOptions::default())
                .map_err(|e| decode_error(describe(&e)))
        })?;
        let pcm = is_pcm(params.codec);
        let mut reader = Self {
            path: path.to_owned(),
            format,
            decoder,
            track_id,
            sample_rate: params.sample_rate.unwrap_or(0),
            channels: header_channels.unwrap_or(0),
            stated_frames: params.n_frames,
            pcm,
            exact_length: pcm || params.codec == CODEC_TYPE_FLAC,
            skip: params.delay.map_or(0, u64::from),
            delivered: 0,
            planar: None,
            ready: None,
            bad_packets: 0,
            first_bad_packet: None,
            decoded_packets: 0,
            short_packet: false,
            ended: false,
        };
        reader.fill()?;
        if reader.decoded_packets == 0 {
            if let Some(problem) = reader.first_bad_packet.take() {
                return Err(decode_error(format!(
                    "corrupt audio: no packet could be decoded ({problem})"
                )));
            }
            // An empty but well-formed file keeps the channel count its header gives.
            if reader.channels == 0 {
                return Err(decode_error("no audio in the file".into()));
            }
        }
        if reader.sample_rate == 0 {
            return Err(decode_error(
                "the file does not state its sample rate".into(),
            ));
        }
        Ok(reader)
    }

    /// The file's sample rate, Hz (within the supported range).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// 1 or 2.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The length the file states, frames, if it states one (a lying header is caught at the
    /// end for lossless formats; lossy ones are cut to it).
    pub fn stated_frames(&self) -> Option<u64> {
        self.stated_frames
    }

    /// Damaged packets skipped so far (the audio on either side of each is joined up), as
    /// `2 damaged packet(s) (first: why)`; `None` when there were none.
    pub fn damage(&self) -> Option<String> {
        self.first_bad_packet
            .as_ref()
            .map(|first| format!("{} damaged packet(s) (first: {first})", self.bad_packets))
    }

    /// The next decoded frames, checked; `None` at the end of the stream.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>, AudioError> {
        if self.ready.is_none() {
            self.fill()?;
        }
        let Some((stride, start, frames)) = self.ready.take() else {
            return Ok(None);
        };
        let samples = self.planar.as_ref().map_or(&[][..], |p| p.samples());
        Ok(Some(Block {
            samples,
            stride,
            start,
            frames,
        }))
    }

    /// Decode until there is a block ready or the stream has ended.
    fn fill(&mut self) -> Result<(), AudioError> {
        while self.ready.is_none() && !self.ended {
            // A panic leaves the decoder in no known state: the stream ends with the error.
            let path = self.path.clone();
            untrusted(&path, || self.decode_packet()).inspect_err(|_| self.ended = true)?;
        }
        Ok(())
    }

    /// Read and decode one packet into `planar` and `ready`, or end the stream.
    fn decode_packet(&mut self) -> Result<(), AudioError> {
        let packet = match self.format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return self.end();
            }
            // A chained Ogg stream or similar: the first stream is the recording.
            Err(SymphoniaError::ResetRequired) => return self.end(),
            Err(e) => return Err(decode_error(&self.path, describe(&e))),
        };
        if packet.track_id() != self.track_id {
            return Ok(());
        }
        let buffer = match self.decoder.decode(&packet) {
            Ok(buffer) => buffer,
            // A damaged MP3 frame should not lose the whole file; a file where no packet
            // decodes is an error (see `open`).
            Err(e @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                self.bad_packets += 1;
                self.first_bad_packet.get_or_insert_with(|| describe(&e));
                return Ok(());
            }
            Err(e) => return Err(decode_error(&self.path, describe(&e))),
        };
        let spec = *buffer.spec();
        let count = spec.channels.count();
        check_channels(&self.path, count)?;
        check_rate(&self.path, spec.rate)?;
        if self.decoded_packets == 0 {
            if self.channels != 0 && self.channels != count {
                return Err(decode_error(
                    &self.path,
                    format!(
                        "corrupt audio: the header states {} channels but {count} decode",
                        self.channels
                    ),
                ));
            }
            if self.sample_rate != 0 && self.sample_rate != spec.rate {
                return Err(decode_error(
                    &self.path,
                    format!(
                        "corrupt audio: the header states {} Hz but {} Hz decode",
                        self.sample_rate, spec.rate
                    ),
                ));
            }
            self.channels = count;
            self.sample_rate = spec.rate;
            // symphonia trims a stream it knows the delay of (gapless MP3) from its first packet.
            if packet.trim_start() > 0 {
                self.skip = 0;
            }
        } else if count != self.channels || spec.rate != self.sample_rate {
            return Err(decode_error(
                &self.path,
                format!(
                    "corrupt audio: the format changes mid-stream ({} Hz {} channels → {} Hz {count})",
                    self.sample_rate, self.channels, spec.rate
                ),
            ));
        }
        self.decoded_packets += 1;
        let frames = buffer.frames();
        // PCM: a packet holds the frames the header's block alignment gives it; only the last
        // one of a cut-off file may hold fewer (then `end` reports the missing length).
        if self.pcm && (self.short_packet || frames as u64 > packet.dur()) {
            return Err(decode_error(
                &self.path,
                format!(
                    "corrupt audio: the data does not fit the header's block alignment \
                     (a packet of {} frames decodes to {frames})",
                    packet.dur()
                ),
            ));
        }
        self.short_packet = (frames as u64) < packet.dur();
        if frames == 0 {
            return Ok(());
        }
        if self
            .planar
            .as_ref()
            .is_none_or(|b| b.capacity() < frames * count)
        {
            self.planar = Some(SampleBuffer::new(buffer.capacity() as u64, spec));
        }
        let planar = self.planar.as_mut().expect("created above");
        planar.copy_planar_ref(buffer);
        // Drop the start-up delay, then stop at the stated length.
        let skipped = self.skip.min(frames as u64) as usize;
        self.skip -= skipped as u64;
        let mut take = frames - skipped;
        if let Some(stated) = self.stated_frames {
            take = take.min(stated.saturating_sub(self.delivered) as usize);
        }
        if take == 0 {
            return Ok(());
        }
        let samples = planar.samples();
        for k in 0..count {
            let channel = &samples[k * frames + skipped..k * frames + skipped + take];
            if let Err((i, value)) = check_samples(channel) {
                return Err(AudioError::Samples {
                    path: self.path.clone(),
                    frame: self.delivered + i as u64,
                    channel: k + 1,
                    value,
                });
            }
        }
        self.delivered += take as u64;
        self.ready = Some((frames, skipped, take));
        Ok(())
    }

    /// The stream is over: a lossless file must have had the frames its header states.
    fn end(&mut self) -> Result<(), AudioError> {
        self.ended = true;
        let delivered = self.delivered;
        let problem = match (self.stated_frames, &self.first_bad_packet) {
            (Some(stated), _) if !self.exact_length || delivered >= stated => return Ok(()),
            (None, _) => return Ok(()),
            (Some(stated), None) => format!(
                "corrupt audio: the file ends after {delivered} of the {stated} frames its header states"
            ),
            (Some(stated), Some(bad)) => format!(
                "corrupt audio: {delivered} of the {stated} frames its header states decode ({bad})"
            ),
        };
        Err(decode_error(&self.path, problem))
    }
}

fn check_channels(path: &Path, channels: usize) -> Result<(), AudioError> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(())
    } else {
        Err(AudioError::Channels {
            path: path.to_owned(),
            channels,
        })
    }
}

/// The uncompressed codecs the WAV reader produces (whole frames per block).
fn is_pcm(codec: CodecType) -> bool {
    use symphonia::core::codecs::*;
    matches!(
        codec,
        CODEC_TYPE_PCM_U8
            | CODEC_TYPE_PCM_S16LE
            | CODEC_TYPE_PCM_S24LE
            | CODEC_TYPE_PCM_S32LE
            | CODEC_TYPE_PCM_F32LE
            | CODEC_TYPE_PCM_F64LE
            | CODEC_TYPE_PCM_ALAW
            | CODEC_TYPE_PCM_MULAW
    )
}

thread_local! {
    /// Set while this thread runs [`untrusted`] code: its panics are caught and reported as
    /// a decode error, so the default hook must not print them.
    static UNTRUSTED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Run `f`, which calls into symphonia, turning a panic inside it into a one-line decode
/// error for `path` (symphonia 0.5 panics on, for instance, a WAV header with sample rate 0).
fn untrusted<T>(path: &Path, f: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    install_quiet_hook();
    UNTRUSTED.with(|u| *u.borrow_mut() = Some(String::new()));
    let result = catch_unwind(AssertUnwindSafe(f));
    let message = UNTRUSTED
        .with(|u| u.borrow_mut().take())
        .unwrap_or_default();
    result.unwrap_or_else(|_| {
        Err(decode_error(
            path,
            format!("corrupt audio: the decoder failed on it ({message})"),
        ))
    })
}

fn decode_error(path: &Path, message: String) -> AudioError {
    AudioError::Decode {
        path: path.to_owned(),
        message,
    }
}

/// A panic hook that keeps quiet about panics inside [`untrusted`] code (recording their
/// message instead) and leaves every other panic to the hook that was there before.
fn install_quiet_hook() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let caught = UNTRUSTED.with(|u| {
                let mut u = u.borrow_mut();
                let slot = u.as_mut()?;
                let payload = info.payload();
                *slot = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Some(())
            });
            if caught.is_none() {
                previous(info);
            }
        }));
    });
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
