//! Recorded material for the analysis tests, from Debian packages `.ci/setup` installs:
//! drum hits recorded from real kits (`freepats`: GUS patches under
//! /usr/share/midi/freepats/Drum_000) played as a humanised loop, and spoken words (`alsa-utils`:
//! the channel names under /usr/share/sounds/alsa) strung into phrases. Seeded: the same
//! arguments give the same take.

use std::path::Path;

/// Where freepats keeps its drum kit.
const DRUMS_DIR: &str = "/usr/share/midi/freepats/Drum_000";
/// Where alsa-utils keeps its spoken channel names (48 kHz mono, 16-bit).
const VOICE_DIR: &str = "/usr/share/sounds/alsa";
/// The spoken files (Noise.wav is not speech).
const VOICE_FILES: [&str; 8] = [
    "Front_Center",
    "Front_Left",
    "Front_Right",
    "Rear_Center",
    "Rear_Left",
    "Rear_Right",
    "Side_Left",
    "Side_Right",
];

/// Seeded uniform numbers in [0, 1).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn missing(what: &str, path: &str) -> ! {
    panic!("{path}: {what} not found; install it with `bash .ci/setup` (apt-get)")
}

/// The first sample of a GUS patch (freepats' format: a 129-byte header, a 63-byte
/// instrument header, a 47-byte layer header, then 96-byte sample headers each followed by
/// its data), as f32 at its own rate: (samples, rate Hz).
fn read_patch(path: &Path) -> (Vec<f32>, f64) {
    let data = std::fs::read(path).unwrap_or_else(|_| missing("freepats", DRUMS_DIR));
    assert!(
        data.starts_with(b"GF1PATCH"),
        "{}: not a GUS patch",
        path.display()
    );
    let sample = 129 + 63 + 47;
    let u32_at = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
    let size = u32_at(sample + 8) as usize;
    let rate = u16::from_le_bytes(data[sample + 20..sample + 22].try_into().unwrap()) as f64;
    let modes = data[sample + 55];
    let (sixteen_bit, unsigned) = (modes & 1 != 0, modes & 2 != 0);
    let body = &data[sample + 96..sample + 96 + size];
    let samples = if sixteen_bit {
        body.chunks_exact(2)
            .map(|b| {
                let v = u16::from_le_bytes([b[0], b[1]]);
                let v = if unsigned {
                    v as i32 - 32768
                } else {
                    v as i16 as i32
                };
                v as f32 / 32768.0
            })
            .collect()
    } else {
        body.iter()
            .map(|&b| {
                let v = if unsigned {
                    b as i32 - 128
                } else {
                    b as i8 as i32
                };
                v as f32 / 128.0
            })
            .collect()
    };
    (samples, rate)
}

/// A 16-bit PCM WAV file's first channel as f32: (samples, rate Hz).
fn read_wav(path: &Path) -> (Vec<f32>, f64) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|_| missing("alsa-utils", VOICE_DIR));
    let spec = reader.spec();
    let channels = spec.channels as usize;
    let samples: Vec<f32> = reader
        .samples::<i16>()
        .step_by(channels)
        .map(|v| v.unwrap() as f32 / 32768.0)
        .collect();
    (samples, spec.sample_rate as f64)
}

/// `x` (at `from` Hz) at `to` Hz, by linear interpolation.
fn resample(x: &[f32], from: f64, to: f64) -> Vec<f32> {
    let len = ((x.len() as f64) * to / from) as usize;
    (0..len)
        .map(|n| {
            let t = n as f64 * from / to;
            let i = t as usize;
            let f = (t - i as f64) as f32;
            let a = x[i];
            let b = x.get(i + 1).copied().unwrap_or(0.0);
            a + f * (b - a)
        })
        .collect()
}

/// Adds `sound` × `gains` (one per channel) into `channels` at `start`.
fn place(channels: &mut [Vec<f32>], start: usize, sound: &[f32], gains: &[f32]) {
    for (c, &g) in channels.iter_mut().zip(gains) {
        for (v, s) in c.iter_mut().skip(start).zip(sound) {
            *v += g * s;
        }
    }
}

/// A drum take of `seconds` at `fs`: freepats' recorded kick, snares, hi-hats and clap on a
/// 16-step pattern at 96 BPM, humanised (timing ±8 ms, velocity ±4 dB, ghost notes, an open hat
/// now and then) with a quiet room-noise floor. Stereo: kick centred, snare a little left,
/// hats right. Peaks at about −3 dBFS.
pub fn drums(seconds: f64, fs: f64, stereo: bool, seed: u64) -> Vec<Vec<f32>> {
    let hit = |name: &str| {
        let (x, rate) = read_patch(&Path::new(DRUMS_DIR).join(name));
        resample(&x, rate, fs)
    };
    let kick = hit("035_Kick_1.pat");
    let snare = hit("038_Snare_1.pat");
    let closed = hit("042_Hi-Hat_Closed.pat");
    let open = hit("046_Hi-Hat_Open.pat");
    let clap = hit("039_Clap_Hand.pat");
    let mut rng = Rng::new(seed);
    let len = (seconds * fs) as usize;
    let mut out = vec![vec![0.0f32; len]; if stereo { 2 } else { 1 }];
    let pan = |left: f32, right: f32| if stereo { vec![left, right] } else { vec![1.0] };
    let sixteenth = 60.0 / 96.0 / 4.0;
    let mut step = 0usize;
    loop {
        let t = step as f64 * sixteenth + (rng.next() - 0.5) * 0.016;
        let start = (t.max(0.0) * fs) as usize;
        if start >= len {
            break;
        }
        let slot = step % 16;
        let velocity = |rng: &mut Rng| 10f64.powf((rng.next() - 0.5) * 8.0 / 20.0) as f32;
        if [0, 7, 8, 10].contains(&slot) {
            let v = velocity(&mut rng);
            place(&mut out, start, &kick, &pan(0.9 * v, 0.9 * v));
        }
        if slot == 4 || slot == 12 {
            let v = velocity(&mut rng);
            let sound = if rng.next() < 0.25 { &clap } else { &snare };
            place(&mut out, start, sound, &pan(0.75 * v, 0.5 * v));
        } else if rng.next() < 0.1 {
            let v = 0.2 * velocity(&mut rng);
            place(&mut out, start, &snare, &pan(0.75 * v, 0.5 * v));
        }
        if slot.is_multiple_of(2) || rng.next() < 0.3 {
            let v = if slot % 4 == 2 { 0.5 } else { 0.3 } * velocity(&mut rng);
            let sound = if rng.next() < 0.06 { &open } else { &closed };
            place(&mut out, start, sound, &pan(0.3 * v, 0.7 * v));
        }
        step += 1;
    }
    finish(out, &mut rng)
}

/// A spoken take of `seconds` at `fs`: alsa-utils' recorded channel names ("front left",
/// "rear center" …) in random order, each at a random level (±4 dB), in phrases of two to five
/// with short gaps and longer pauses between phrases. Stereo: the same mic in both channels,
/// the right 2 dB lower. Peaks at about −3 dBFS.
pub fn voice(seconds: f64, fs: f64, stereo: bool, seed: u64) -> Vec<Vec<f32>> {
    let words: Vec<Vec<f32>> = VOICE_FILES
        .iter()
        .map(|name| {
            let (x, rate) = read_wav(&Path::new(VOICE_DIR).join(format!("{name}.wav")));
            resample(&x, rate, fs)
        })
        .collect();
    let mut rng = Rng::new(seed);
    let len = (seconds * fs) as usize;
    let mut out = vec![vec![0.0f32; len]; if stereo { 2 } else { 1 }];
    let gains = |v: f32| if stereo { vec![v, 0.8 * v] } else { vec![v] };
    let mut t = (0.2 * fs) as usize;
    while t < len {
        let phrase = 2 + (rng.next() * 4.0) as usize;
        for _ in 0..phrase {
            let word = &words[(rng.next() * words.len() as f64) as usize % words.len()];
            let v = 10f64.powf((rng.next() - 0.5) * 8.0 / 20.0) as f32;
            place(&mut out, t, word, &gains(v));
            t += word.len() + ((0.05 + 0.15 * rng.next()) * fs) as usize;
        }
        t += ((0.4 + 0.8 * rng.next()) * fs) as usize;
    }
    finish(out, &mut rng)
}

/// A room-noise floor at about −66 dBFS, then the take scaled to peak at −3 dBFS.
fn finish(mut channels: Vec<Vec<f32>>, rng: &mut Rng) -> Vec<Vec<f32>> {
    for c in &mut channels {
        for v in c.iter_mut() {
            *v += (5e-4 * (2.0 * rng.next() - 1.0)) as f32;
        }
    }
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(1e-9);
    let scale = 10f32.powf(-3.0 / 20.0) / peak;
    channels
        .iter()
        .map(|c| c.iter().map(|v| v * scale).collect())
        .collect()
}
