//! The common WAV files read straight into memory: 16- and 24-bit integer and 32-bit float
//! PCM, mono or stereo, with a plain header (format, then data, the data whole). Whatever
//! else a file holds, and any file whose samples are out of range, is left to the decoder
//! ([`super::AudioReader`]), which reads it or says what is wrong with it; what this reads it
//! reads to the same bits (tested against the decoder).
//!
//! The decoder hands out a packet at a time, copied twice on its way. Decoding the bench's
//! two 3-minute stereo float files side by side took 70–95 ms that way; read here, 58–70 ms
//! (timed inside the process, medians of 9 runs).

use super::{Audio, MAX_CHANNELS, check_rate, check_samples};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How the samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Int16,
    Int24,
    Float32,
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::Int16 => 2,
            Encoding::Int24 => 3,
            Encoding::Float32 => 4,
        }
    }
}

/// What the header says, once it has passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    encoding: Encoding,
    channels: usize,
    sample_rate: u32,
    /// Byte offset of the first sample.
    data_start: u64,
    frames: usize,
}

/// Bytes read before the data: "RIFF", size, "WAVE", the format chunk's header and its
/// largest body (40 bytes, the extensible form), the data chunk's header.
const HEADER_BYTES: usize = 12 + 8 + 40 + 8;

/// Frames converted per read (1.5 MiB of stereo 24-bit, 2 MiB of stereo float).
const FRAMES_PER_READ: usize = 1 << 18;

/// The subformat GUIDs of the extensible format (ksmedia.h) after their first two bytes,
/// which are the plain format tag.
const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// `path` read whole if it is a plain WAV file (see the module) of at most `max_frames` frames
/// with every sample in range; `None` for anything else, which the decoder then reads.
pub fn read(path: &Path, max_frames: u64) -> Option<Audio> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok().filter(|m| m.is_file())?.len();
    let mut header = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut header)
        .ok()?;
    let layout = parse(&header, file_len)
        .filter(|l| l.frames as u64 <= max_frames && check_rate(path, l.sample_rate).is_ok())?;
    file.seek(SeekFrom::Start(layout.data_start)).ok()?;
    let frame_bytes = layout.channels * layout.encoding.bytes();
    let mut channels: Vec<Vec<f32>> = (0..layout.channels)
        .map(|_| Vec::with_capacity(layout.frames))
        .collect();
    let mut bytes = vec![0u8; FRAMES_PER_READ * frame_bytes];
    let mut left = layout.frames;
    while left > 0 {
        let frames = left.min(FRAMES_PER_READ);
        let block = &mut bytes[..frames * frame_bytes];
        file.read_exact(block).ok()?;
        spread(layout.encoding, block, &mut channels);
        left -= frames;
    }
    if channels.iter().any(|c| check_samples(c).is_err()) {
        return None;
    }
    Some(Audio {
        sample_rate: layout.sample_rate,
        channels,
    })
}

/// The layout of a plain WAV file from its first bytes and its length; `None` unless every
/// check holds: the RIFF size is the file's, the format is 16- or 24-bit integer or 32-bit
/// float PCM (plain or extensible, every bit of each sample valid) in one or two channels,
/// the block alignment is one frame, and the data chunk follows the format
/// chunk with whole frames, all of them in the file.
fn parse(header: &[u8], file_len: u64) -> Option<Layout> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(header.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(header.get(at..at + 4)?.try_into().ok()?));
    let tag_at = |at: usize| header.get(at..at + 4);
    if tag_at(0)? != b"RIFF" || tag_at(8)? != b"WAVE" || tag_at(12)? != b"fmt " {
        return None;
    }
    if u64::from(u32_at(4)?) + 8 != file_len {
        return None;
    }
    let format_len = u32_at(16)? as usize;
    let (tag, channels, sample_rate) = (u16_at(20)?, u16_at(22)?, u32_at(24)?);
    let (block_align, bits) = (u16_at(32)?, u16_at(34)?);
    let format = match (tag, format_len) {
        (FORMAT_PCM, 16 | 18 | 40) => FORMAT_PCM,
        (FORMAT_FLOAT, 16) => FORMAT_FLOAT,
        (FORMAT_FLOAT, 18) if u16_at(36)? == 0 => FORMAT_FLOAT,
        (FORMAT_EXTENSIBLE, 40) => {
            let (extra, valid_bits, mask) = (u16_at(36)?, u16_at(38)?, u32_at(40)?);
            let guid = header.get(44..60)?;
            let mask_fits = mask == 0 || mask.count_ones() == u32::from(channels);
            if extra != 22 || valid_bits != bits || !mask_fits || guid[2..] != GUID_TAIL {
                return None;
            }
            u16::from_le_bytes([guid[0], guid[1]])
        }
        _ => return None,
    };
    let encoding = match (format, bits) {
        (FORMAT_PCM, 16) => Encoding::Int16,
        (FORMAT_PCM, 24) => Encoding::Int24,
        (FORMAT_FLOAT, 32) => Encoding::Float32,
        _ => return None,
    };
    let channels = usize::from(channels);
    let frame_bytes = channels * encoding.bytes();
    if !(1..=MAX_CHANNELS).contains(&channels) || usize::from(block_align) != frame_bytes {
        return None;
    }
    let data_at = 20 + format_len;
    if tag_at(data_at)? != b"data" {
        return None;
    }
    let data_len = u64::from(u32_at(data_at + 4)?);
    let data_start = (data_at + 8) as u64;
    let whole = data_len % frame_bytes as u64 == 0 && data_len > 0;
    if !whole || data_start + data_len > file_len {
        return None;
    }
    Some(Layout {
        encoding,
        channels,
        sample_rate,
        data_start,
        frames: usize::try_from(data_len / frame_bytes as u64).ok()?,
    })
}

/// Convert interleaved `bytes` in `encoding` and append each channel's samples to it, as the
/// decoder converts them (symphonia 0.5: an integer over 2^(bits − 1)).
fn spread(encoding: Encoding, bytes: &[u8], channels: &mut [Vec<f32>]) {
    match encoding {
        Encoding::Int16 => spread_with(bytes, channels, |b: [u8; 2]| {
            f32::from(i16::from_le_bytes(b)) / 32_768.0
        }),
        // Sign-extended from the top of an i32.
        Encoding::Int24 => spread_with(bytes, channels, |[a, b, c]: [u8; 3]| {
            (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 / 8_388_608.0
        }),
        Encoding::Float32 => spread_with(bytes, channels, f32::from_le_bytes),
    }
}

#[inline(always)]
fn spread_with<const W: usize>(
    bytes: &[u8],
    channels: &mut [Vec<f32>],
    decode: impl Fn([u8; W]) -> f32,
) {
    let frame = W * channels.len();
    for (k, channel) in channels.iter_mut().enumerate() {
        channel.extend(
            bytes
                .chunks_exact(frame)
                .map(|f| decode(f[k * W..][..W].try_into().expect("W bytes"))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::{AudioReader, read_audio};

    /// A WAV file: RIFF header, a format chunk of `format` (its body), a data chunk of
    /// `data`, then `trailer` (whole chunks after the data).
    fn wav(format: &[u8], data: &[u8], trailer: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        let size = 4 + 8 + format.len() + 8 + data.len() + trailer.len();
        out.extend((size as u32).to_le_bytes());
        out.extend(b"WAVEfmt ");
        out.extend((format.len() as u32).to_le_bytes());
        out.extend(format);
        out.extend(b"data");
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out.extend(trailer);
        out
    }

    /// A format chunk's body: `tag`, channels, 44.1 kHz, `bits`; `extension` after the first
    /// 16 bytes.
    fn format(tag: u16, channels: u16, bits: u16, extension: &[u8]) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut out = tag.to_le_bytes().to_vec();
        out.extend(channels.to_le_bytes());
        out.extend(44_100u32.to_le_bytes());
        out.extend((44_100 * u32::from(align)).to_le_bytes());
        out.extend(align.to_le_bytes());
        out.extend(bits.to_le_bytes());
        out.extend(extension);
        out
    }

    /// The extensible form's 24 bytes: size 22, valid bits, `mask`, the subformat of `tag`.
    fn extensible(bits: u16, mask: u32, tag: u16) -> Vec<u8> {
        let mut out = 22u16.to_le_bytes().to_vec();
        out.extend(bits.to_le_bytes());
        out.extend(mask.to_le_bytes());
        out.extend(tag.to_le_bytes());
        out.extend(GUID_TAIL);
        out
    }

    /// Samples of every size, from the most negative to the most positive code, as bytes of
    /// `bits`-bit integers or 32-bit floats.
    fn samples(bits: u16, float: bool, count: usize) -> Vec<u8> {
        let noise = crate::analysis::test_noise(count, u64::from(bits));
        let mut out = Vec::new();
        for (i, v) in noise.iter().enumerate() {
            let v = match i {
                0 => -1.0,
                1 => 1.0,
                _ => v * 0.9f32.powi((i % 40) as i32),
            };
            match (bits, float) {
                (32, true) => out.extend(v.to_le_bytes()),
                (16, false) => out.extend(((v * 32_768.0) as i16).to_le_bytes()),
                (24, false) => out.extend(
                    &((v * 8_388_608.0) as i32)
                        .clamp(-8_388_608, 8_388_607)
                        .to_le_bytes()[..3],
                ),
                _ => unreachable!(),
            }
        }
        out
    }

    /// Every plain layout this reads gives the decoder's samples bit for bit: 16- and 24-bit
    /// integers and 32-bit floats, plain and extensible headers (format chunks of 16, 18 and
    /// 40 bytes), mono and stereo, a chunk after the data.
    #[test]
    fn plain_files_read_as_the_decoder_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let list_chunk = b"LIST\x04\x00\x00\x00INFO";
        let mut cases = Vec::new();
        for channels in [1u16, 2] {
            let mask = if channels == 1 { 4 } else { 3 };
            for (bits, float) in [(16u16, false), (24, false), (32, true)] {
                let tag = if float { FORMAT_FLOAT } else { FORMAT_PCM };
                cases.push(format(tag, channels, bits, &[]));
                cases.push(format(tag, channels, bits, &[0, 0]));
                cases.push(format(
                    FORMAT_EXTENSIBLE,
                    channels,
                    bits,
                    &extensible(bits, mask, tag),
                ));
            }
        }
        cases.push(format(FORMAT_PCM, 2, 16, &extensible(16, 3, FORMAT_PCM)));
        for (i, fmt) in cases.iter().enumerate() {
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]) as usize;
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            let float = bits == 32;
            let data = samples(bits, float, channels * 3001);
            for trailer in [&[][..], &list_chunk[..]] {
                let path = dir.path().join(format!("{i}-{}.wav", trailer.len()));
                std::fs::write(&path, wav(fmt, &data, trailer)).unwrap();
                let plain = read(&path, u64::MAX).unwrap_or_else(|| panic!("case {i} is plain"));
                let mut decoder = AudioReader::open(&path).unwrap();
                let mut decoded = vec![Vec::new(); decoder.channels()];
                while let Some(block) = decoder.next_block().unwrap() {
                    for (k, c) in decoded.iter_mut().enumerate() {
                        c.extend_from_slice(block.channel(k));
                    }
                }
                assert_eq!(plain.sample_rate, decoder.sample_rate());
                assert_eq!(plain.frames(), 3001, "case {i}");
                let bits_of = |c: &Vec<Vec<f32>>| -> Vec<Vec<u32>> {
                    c.iter()
                        .map(|c| c.iter().map(|v| v.to_bits()).collect())
                        .collect()
                };
                assert_eq!(bits_of(&plain.channels), bits_of(&decoded), "case {i}");
                assert_eq!(plain.channels[0][0], -1.0);
                assert_eq!(read_audio(&path).unwrap(), plain);
            }
        }
    }

    /// Anything but a plain file in range is left to the decoder, whose message stands: a file
    /// cut short, a sample out of range, an 8-bit file (which the decoder reads), a header
    /// whose block alignment is not one frame, a longer file than asked for.
    #[test]
    fn anything_else_is_left_to_the_decoder() {
        let dir = tempfile::tempdir().unwrap();
        let float_stereo = format(FORMAT_FLOAT, 2, 32, &[]);
        let data = samples(32, true, 2 * 1000);
        let path = dir.path().join("x.wav");
        let leaves = |bytes: Vec<u8>| {
            std::fs::write(&path, bytes).unwrap();
            read(&path, u64::MAX).is_none()
        };
        let mut cut = wav(&float_stereo, &data, &[]);
        cut.truncate(cut.len() - 8);
        assert!(leaves(cut));
        let message = read_audio(&path).unwrap_err().to_string();
        assert!(
            message.contains("ends after 999 of the 1000 frames"),
            "{message}"
        );

        let mut loud = data.clone();
        loud[8 * 500..8 * 500 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(leaves(wav(&float_stereo, &loud, &[])));
        let message = read_audio(&path).unwrap_err().to_string();
        assert!(
            message.contains("sample 500 of channel 1 is NaN"),
            "{message}"
        );

        let bytes: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        assert!(leaves(wav(&format(FORMAT_PCM, 2, 8, &[]), &bytes, &[])));
        assert_eq!(read_audio(&path).unwrap().frames(), 1000);

        let mut misaligned = float_stereo.clone();
        misaligned[12] = 4;
        assert!(leaves(wav(&misaligned, &data, &[])));

        std::fs::write(&path, wav(&float_stereo, &data, &[])).unwrap();
        assert!(read(&path, 999).is_none());
        assert_eq!(read(&path, 1000).unwrap().frames(), 1000);
    }
}
