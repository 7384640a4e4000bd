//! Decoding every supported format at its own rate and channel count, and the one-line
//! errors for files that cannot be used.

use matchbox::audio_io::{Audio, AudioError, read_audio, write_wav_f32};
use std::f32::consts::TAU;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Frequency from upward zero crossings over the middle of the signal, Hz.
fn frequency_hz(x: &[f32], sample_rate: u32) -> f64 {
    let mid = &x[x.len() / 8..x.len() * 7 / 8];
    let crossings: Vec<usize> = (1..mid.len())
        .filter(|&i| mid[i - 1] < 0.0 && mid[i] >= 0.0)
        .collect();
    let periods = (crossings.len() - 1) as f64;
    let span = (crossings[crossings.len() - 1] - crossings[0]) as f64;
    periods * sample_rate as f64 / span
}

fn sine(freq_hz: f32, sample_rate: u32, frames: usize, amplitude: f32) -> Vec<f32> {
    (0..frames)
        .map(|i| amplitude * (TAU * freq_hz * i as f32 / sample_rate as f32).sin())
        .collect()
}

fn write_int_wav(path: &Path, sample_rate: u32, bits: u16, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let scale = (1i64 << (bits - 1)) as f32;
    for i in 0..channels[0].len() {
        for c in channels {
            w.write_sample((c[i] * scale).round() as i32).unwrap();
        }
    }
    w.finalize().unwrap();
}

#[test]
fn int16_mono_wav_decodes_to_the_written_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mono.wav");
    let x = sine(1000.0, 44_100, 4410, 0.5);
    write_int_wav(&path, 44_100, 16, std::slice::from_ref(&x));
    let audio = read_audio(&path).unwrap();
    assert_eq!(audio.sample_rate, 44_100);
    assert_eq!(audio.channels.len(), 1);
    assert_eq!(audio.frames(), 4410);
    let max_err = x
        .iter()
        .zip(&audio.channels[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    // 16-bit quantisation: half a step is 2^-16.
    assert!(max_err <= 1.0 / 65536.0 + 1e-7, "{max_err}");
}

#[test]
fn int24_stereo_wav_at_96k_keeps_channels_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereo24.wav");
    let l = sine(500.0, 96_000, 9600, 0.25);
    let r = sine(2000.0, 96_000, 9600, 0.75);
    write_int_wav(&path, 96_000, 24, &[l, r]);
    let audio = read_audio(&path).unwrap();
    assert_eq!((audio.sample_rate, audio.channels.len()), (96_000, 2));
    assert!((peak(&audio.channels[0]) - 0.25).abs() < 1e-3);
    assert!((peak(&audio.channels[1]) - 0.75).abs() < 1e-3);
    assert!((frequency_hz(&audio.channels[0], 96_000) - 500.0).abs() < 1.0);
    assert!((frequency_hz(&audio.channels[1], 96_000) - 2000.0).abs() < 2.0);
}

#[test]
fn float_wav_round_trips_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("float.wav");
    let audio = Audio {
        sample_rate: 48_000,
        channels: vec![
            sine(300.0, 48_000, 1000, 0.9),
            [-1.5, 0.0, 1e-30, 2.0].repeat(250),
        ],
    };
    write_wav_f32(&path, &audio).unwrap();
    let spec = hound::WavReader::open(&path).unwrap().spec();
    assert_eq!(spec.bits_per_sample, 32);
    assert_eq!(spec.sample_format, hound::SampleFormat::Float);
    assert_eq!(read_audio(&path).unwrap(), audio);
}

#[test]
fn flac_mono_44k1() {
    let audio = read_audio(&data("sine-44k1-mono.flac")).unwrap();
    assert_eq!((audio.sample_rate, audio.channels.len()), (44_100, 1));
    assert_eq!(audio.frames(), 11_025);
    assert!((peak(&audio.channels[0]) - 0.5).abs() < 0.01);
    assert!((frequency_hz(&audio.channels[0], 44_100) - 440.0).abs() < 1.0);
}

#[test]
fn mp3_stereo_48k() {
    let audio = read_audio(&data("sine-48k-stereo.mp3")).unwrap();
    assert_eq!((audio.sample_rate, audio.channels.len()), (48_000, 2));
    // 0.25 s = 12000 frames. Without a gapless header symphonia 0.5 returns whole
    // 1152-sample MP3 frames, including the encoder's delay and padding: up to two more frames.
    assert!(
        (12_000..=12_000 + 2 * 1152).contains(&audio.frames()),
        "{}",
        audio.frames()
    );
    assert!((peak(&audio.channels[0]) - 0.5).abs() < 0.05);
    assert!((frequency_hz(&audio.channels[0], 48_000) - 440.0).abs() < 2.0);
    assert!((frequency_hz(&audio.channels[1], 48_000) - 660.0).abs() < 2.0);
}

#[test]
fn ogg_vorbis_stereo_22k05() {
    let audio = read_audio(&data("sine-22k05-stereo.ogg")).unwrap();
    assert_eq!((audio.sample_rate, audio.channels.len()), (22_050, 2));
    // The stream states 5512 frames and a 248-frame decoder delay, which are trimmed.
    assert_eq!(audio.frames(), 5512);
    assert!((peak(&audio.channels[0]) - 0.5).abs() < 0.05);
    assert!((frequency_hz(&audio.channels[0], 22_050) - 440.0).abs() < 2.0);
    assert!((frequency_hz(&audio.channels[1], 22_050) - 880.0).abs() < 3.0);
}

#[test]
fn three_channels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.wav");
    write_int_wav(
        &path,
        48_000,
        16,
        &[vec![0.0; 100], vec![0.0; 100], vec![0.0; 100]],
    );
    let err = read_audio(&path).unwrap_err();
    assert!(
        matches!(err, AudioError::Channels { channels: 3, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 3 channels; only mono and stereo are supported",
            path.display()
        )
    );
}

#[test]
fn missing_file_is_an_open_error() {
    let err = read_audio(Path::new("/nonexistent/take.wav")).unwrap_err();
    assert!(matches!(err, AudioError::Open { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/take.wav: cannot open: ")
    );
}

#[test]
fn text_and_truncated_files_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "these are not samples\n".repeat(20)).unwrap();
    let truncated = dir.path().join("cut.flac");
    let flac = std::fs::read(data("sine-44k1-mono.flac")).unwrap();
    std::fs::write(&truncated, &flac[..60]).unwrap();
    for path in [text, truncated] {
        let err = read_audio(&path).unwrap_err();
        assert!(matches!(err, AudioError::Decode { .. }), "{err}");
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with(&format!("{}: ", path.display())), "{line}");
    }
}
