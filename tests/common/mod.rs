//! Helpers shared by the test binaries that run `matchbox` as a process.
#![allow(dead_code)] // each test binary uses its own subset

use std::f32::consts::TAU;
use std::path::Path;
use std::process::{Command, Output};

/// Run the built binary in `cwd`.
pub fn matchbox(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matchbox"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run matchbox")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code; a death by signal fails the test.
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

pub fn write_f32_wav(path: &Path, sample_rate: u32, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample(c[i]).unwrap();
        }
    }
    w.finalize().unwrap();
}

pub fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let n = spec.channels as usize;
    let samples: Vec<f32> = r.samples::<f32>().map(Result::unwrap).collect();
    let channels = (0..n)
        .map(|c| samples.iter().skip(c).step_by(n).copied().collect())
        .collect();
    (spec, channels)
}

/// A signal with everything in it: two sines and a little deterministic noise.
pub fn busy(sample_rate: u32, frames: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..frames)
        .map(|i| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / sample_rate as f32;
            0.3 * (TAU * 220.0 * t).sin() + 0.2 * (TAU * 5_000.0 * t).sin() + 0.1 * noise
        })
        .collect()
}

/// A fingerprint of a file's bytes, to show it was not modified.
pub fn fingerprint(path: &Path) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(path).unwrap();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    (bytes.len() as u64, h.finish())
}

/// Names in `dir`, sorted (to see that no temporary was left behind).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Fails unless `text` is free of characters a terminal would obey (other than `\n`).
pub fn assert_printable(text: &str, what: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && !matchbox::text::is_printable(c))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: raw control characters {bad:?} in {text:?}"
    );
}

/// A WAV header with any field values, then `data` (which may disagree with the header).
#[derive(Debug, Clone, Copy)]
pub struct RawWav {
    /// 1 PCM, 3 IEEE float, others unsupported.
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    /// `None`: channels × bytes per sample, as it should be.
    pub block_align: Option<u16>,
    /// `None`: the real length of the data.
    pub data_len: Option<u32>,
}

impl RawWav {
    pub fn float(channels: u16, sample_rate: u32) -> Self {
        Self {
            format_tag: 3,
            channels,
            sample_rate,
            bits: 32,
            block_align: None,
            data_len: None,
        }
    }

    pub fn bytes(&self, data: &[u8]) -> Vec<u8> {
        let block_align = self
            .block_align
            .unwrap_or(self.channels.wrapping_mul(self.bits / 8));
        let data_len = self.data_len.unwrap_or(data.len() as u32);
        let mut out = Vec::with_capacity(44 + data.len());
        out.extend_from_slice(b"RIFF");
        // The RIFF size agrees with the data size the header states (as in a cut-off file).
        out.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&self.format_tag.to_le_bytes());
        out.extend_from_slice(&self.channels.to_le_bytes());
        out.extend_from_slice(&self.sample_rate.to_le_bytes());
        out.extend_from_slice(
            &self
                .sample_rate
                .wrapping_mul(u32::from(block_align))
                .to_le_bytes(),
        );
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    /// Interleaved float samples as this header's data (32- or 64-bit float, or 16-bit PCM).
    pub fn encode(&self, interleaved: &[f32]) -> Vec<u8> {
        let mut data = Vec::new();
        for &v in interleaved {
            match (self.format_tag, self.bits) {
                (3, 64) => data.extend_from_slice(&f64::from(v).to_le_bytes()),
                (1, 16) => {
                    data.extend_from_slice(&((v.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
                }
                (1, 8) => data.push(((v.clamp(-1.0, 1.0) * 127.0) as i16 + 128) as u8),
                _ => data.extend_from_slice(&v.to_le_bytes()),
            }
        }
        data
    }
}
