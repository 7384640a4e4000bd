"""`matchbox analyze` against references made by JUCE's EQ and compressor (Spotify's
Pedalboard), side by side with Matchering 2.0.6: a stand-in for issue 4's hidden scoring.

Dry takes are synthesised here (numpy, seeded; no downloads): a humanised drum loop (stereo),
a voice-like signal (glottal pulses with gliding pitch through moving formants, syllables and
pauses) and a beatbox-like take (kicks, rimshots, hums). Each goes through several Pedalboard
chains (the peer bench's chain, a heavy one, a gentle one, an extreme-corners one) to make
the reference. Then, per (material, chain):

- paired:   source = the very dry take behind the reference;
- unpaired: source = another random take of the same material (reference unchanged),

Matchbox (`analyze` then `render`) and Matchering (target = source, reference = reference;
float output, no limiter, no normalisation) each make an output, and `matchbox compare`
scores it against the reference (the project's own metrics, src/analysis/metrics.rs: one
implementation for both tools).

Run by .ci/juce-match:
    python tests/juce_match.py <matchbox binary> [--work DIR] [--only SUBSTRING] [--jobs N]
Ends with a cargo-style "test result:" line so .ci/test counts it.

Assertions, per case:
- every figure finite; pairing detected right (paired vs unpaired, and the lag near 0: the
  chains add no latency);
- Matchbox within its regression bounds: just outside what the code achieves, MEASURED below,
  with the margin stated at REGRESSION_MARGIN;
- Matchbox at least as good as Matchering on every figure, except those listed in
  MATCHERING_EXCEPTIONS with the reason.
A case that fails only on a listed exception counts as a known failure: reported in its own
count ("K known failures" on the "test result:" line), never as passed. Where Matchbox misses
the issue's paired bounds the tables say so ("REPORT-ONLY"); a summary gives the means over
the cases, the form of the issue's Matchering figures, and checks the issue's targets
(TARGETS; each is a test, a miss fails). Everything is seeded: the same code
gives the same figures (`--measured` prints the MEASURED table for this code).
"""

import argparse
import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
from scipy import signal

FS = 44_100
SECONDS = 30.0

# The issue's paired bounds (issue 4, "Quality").
ISSUE_PAIRED = {"ltas": 0.5, "loudness": 0.3, "spread": 1.0, "crest": 0.5, "snr": 20.0}

# What the code achieves, per case and figure (Matchbox's figures as `matchbox compare` reads
# them): printed afresh by `--measured`; update it, with the reason, whenever the analysis
# changes its results. The waveform polish (issue 12, point 5;
# src/analysis/polish/): on these chains (JUCE's compressor is not one Matchbox can copy
# exactly) its check keeps the polish only where the spectrum and crest factor do not get
# worse; the paired means went from 0.18 dB spectrum, 0.05 LU, 0.31 dB spread, 1.05 dB crest
# and 16.0 dB SNR to 0.18 dB, 0.06 LU, 0.28 dB, 0.92 dB and 17.6 dB. Two cases changed:
# beatbox/heavy/paired gained on every figure (SNR 8.8 → 27.5 dB, crest 2.93 → 1.48 dB,
# spread 0.71 → 0.23 dB, spectrum 0.25 → 0.14 dB); beatbox/gentle/paired traded some of its
# level figures for the waveform (spectrum 0.045 → 0.11 dB, loudness 0.02
# → 0.10 LU, spread 0.11 → 0.26 dB, crest 0.43 → 0.25 dB, SNR 32.0 → 32.5 dB). Last changed
# by the polish's trial of the cuts' other slopes (where the first polish is not kept or stays
# under 30 dB): one case changed, drums/heavy/paired (SNR 14.3 → 29.8 dB, spectrum 0.30 →
# 0.20 dB, loudness 0.02 → 0.01 LU; spread +0.09 → -0.30 dB and crest 1.28 → 1.35 dB worse);
# the paired means 0.18 → 0.17 dB spectrum, 0.06 LU, 0.28 → 0.30 dB spread, 0.92 dB crest,
# 17.6 → 18.9 dB SNR. Last changed by the ceiling brought down to the reference's peak level
# where the prediction reads a crest factor over 0.25 dB above the reference's
# (src/analysis/level.rs, OutputLevel::peaks_capped): paired crest mean 0.92 → 0.22 dB
# (voice/heavy 3.23 → 0.13, voice/corners 1.57 → 0.06, beatbox/heavy 1.48 → 0.01,
# drums/heavy 1.35 → -0.03 dB), unpaired 1.82 → 0.15 dB (beatbox/heavy 6.96 → -0.07 dB), and
# five of the six unpaired crest factors that lost to Matchering no longer do. Worse: the
# spectrum of voice/heavy/paired 0.21 → 0.48 dB (its reference peaks at -15.5 dBFS, 3 dB under
# what the chain let through) and of beatbox/heavy/unpaired 0.81 → 0.96 dB; the level spread
# of three unpaired voice and drum cases by 0.04-0.27 dB; SNR of drums/heavy/paired 29.80 →
# 29.61 dB, beatbox/heavy/paired 27.48 → 27.40 dB. Last changed by the output gain moved to
# the whole take's loudness (src/analysis/level.rs, whole_take_loudness) and the
# linear-response trial's two chains, each with both detectors: paired means 0.192 → 0.191 dB
# spectrum, 0.055 → 0.004 LU, 0.26 → 0.23 dB spread, 0.22 → 0.16 dB crest, 18.9 → 22.0 dB SNR
# (voice/heavy 9.0 → 30.5 dB, drums/gentle 21.5 → 30.3 dB, voice/gentle 27.7 → 33.6 dB);
# worse: the spectrum of drums/gentle/paired 0.095 → 0.171 dB and voice/gentle/paired 0.075 →
# 0.102 dB. The unpaired cases unchanged. Last changed by the unpaired fit matching the crest
# factor `compare` reads, the peak over the active level (src/analysis/comp_fit/unpaired.rs,
# LevelStats::crest_db): beatbox/peer/unpaired crest -0.68 → -0.40 dB (Matchering -0.51: the
# last unpaired crest factor that lost to it no longer does); unpaired means 0.97 → 0.94 dB
# spectrum, 0.010 → 0.004 LU; worse: unpaired means 0.49 → 0.51 dB spread and 0.155 → 0.194
# dB crest (voice/heavy -0.07 → -0.74 dB, drums/gentle 0.03 → -0.19 dB; the spread of
# beatbox/gentle 0.91 → 1.21 dB and beatbox/heavy 1.42 → 1.65 dB). Paired cases unchanged.
MEASURED = {
    'beatbox/corners/paired': {'ltas': 0.178, 'loudness': 0.0, 'spread': -0.413, 'crest': -0.788, 'snr': 15.085},
    'beatbox/corners/unpaired': {'ltas': 1.289, 'loudness': -0.019, 'spread': -0.784, 'crest': -0.143},
    'beatbox/gentle/paired': {'ltas': 0.123, 'loudness': -0.001, 'spread': 0.257, 'crest': -0.003, 'snr': 33.481},
    'beatbox/gentle/unpaired': {'ltas': 0.551, 'loudness': -0.0, 'spread': 1.212, 'crest': 0.016},
    'beatbox/heavy/paired': {'ltas': 0.144, 'loudness': -0.009, 'spread': -0.226, 'crest': 0.005, 'snr': 27.401},
    'beatbox/heavy/unpaired': {'ltas': 0.817, 'loudness': -0.001, 'spread': 1.652, 'crest': -0.047},
    'beatbox/peer/paired': {'ltas': 0.236, 'loudness': -0.0, 'spread': -0.327, 'crest': 0.037, 'snr': 9.927},
    'beatbox/peer/unpaired': {'ltas': 0.693, 'loudness': -0.0, 'spread': 0.422, 'crest': -0.401},
    'drums/corners/paired': {'ltas': 0.171, 'loudness': 0.0, 'spread': 0.021, 'crest': -0.759, 'snr': 18.131},
    'drums/corners/unpaired': {'ltas': 0.44, 'loudness': -0.001, 'spread': -0.315, 'crest': -0.235},
    'drums/gentle/paired': {'ltas': 0.171, 'loudness': -0.0, 'spread': -0.057, 'crest': -0.127, 'snr': 30.33},
    'drums/gentle/unpaired': {'ltas': 0.19, 'loudness': 0.0, 'spread': -0.213, 'crest': -0.187},
    'drums/heavy/paired': {'ltas': 0.197, 'loudness': 0.009, 'spread': -0.307, 'crest': -0.029, 'snr': 29.606},
    'drums/heavy/unpaired': {'ltas': 0.532, 'loudness': -0.015, 'spread': 0.225, 'crest': -0.22},
    'drums/peer/paired': {'ltas': 0.176, 'loudness': -0.0, 'spread': -0.197, 'crest': -0.027, 'snr': 15.291},
    'drums/peer/unpaired': {'ltas': 0.44, 'loudness': -0.003, 'spread': -0.149, 'crest': 0.18},
    'voice/corners/paired': {'ltas': 0.308, 'loudness': -0.025, 'spread': 0.277, 'crest': 0.056, 'snr': 7.935},
    'voice/corners/unpaired': {'ltas': 1.5, 'loudness': -0.002, 'spread': -0.386, 'crest': -0.043},
    'voice/gentle/paired': {'ltas': 0.102, 'loudness': -0.0, 'spread': -0.233, 'crest': 0.03, 'snr': 33.603},
    'voice/gentle/unpaired': {'ltas': 1.407, 'loudness': -0.001, 'spread': -0.286, 'crest': -0.053},
    'voice/heavy/paired': {'ltas': 0.36, 'loudness': -0.0, 'spread': 0.172, 'crest': -0.09, 'snr': 30.461},
    'voice/heavy/unpaired': {'ltas': 1.835, 'loudness': -0.0, 'spread': 0.264, 'crest': -0.741},
    'voice/peer/paired': {'ltas': 0.124, 'loudness': -0.002, 'spread': 0.312, 'crest': -0.01, 'snr': 12.571},
    'voice/peer/unpaired': {'ltas': 1.642, 'loudness': -0.003, 'spread': -0.185, 'crest': -0.063},
}

# The regression bounds sit this far outside MEASURED: an error (|ltas|, |loudness|, |spread|,
# |crest|) may grow by 5 % plus 0.02 dB (LU), the SNR may fall by 0.5 dB. Matchbox's figures
# are deterministic (seeded material, pinned Pedalboard); the margin absorbs the last-digit
# differences of another CPU's floating-point paths (FMA, vector widths), nothing more.
REGRESSION_MARGIN = {"relative": 0.05, "absolute": 0.02, "snr_db": 0.5}
# |analysis.source_lag_samples| (the JUCE chains add no latency: the true lag is 0).
LAG_BOUND = 1

# Figures where Matchbox is worse than Matchering: (case, figure) -> why. When one stops
# losing the run says so: remove it here.
MATCHERING_EXCEPTIONS = {
    ("drums/gentle/unpaired", "spread"): "0.21 vs 0.04 dB: a 2:1 compressor with 20 ms attack "
        "barely moves the statistics the unpaired fit sees",
}

# The issue's targets over the whole harness (issue 12, point 5): (kind, figure, statistic,
# bound) -> note. Each is a test: met, it passes; missed, it fails.
TARGETS = {
    ("paired", "crest", "mean", 0.5): "paired crest-factor error ≤ 0.5 dB on average",
}


def regression_bound(name, key):
    """(bound, is_lower_bound) for figure `key` of case `name`, or None if not measured."""
    m = MEASURED.get(name, {}).get(key)
    if m is None:
        return None
    if key == "snr":
        return m - REGRESSION_MARGIN["snr_db"], True
    return abs(m) * (1 + REGRESSION_MARGIN["relative"]) + REGRESSION_MARGIN["absolute"], False


# ----------------------------------------------------------------------------------------
# Material


def exp_env(n, tau_s, attack_s=0.001):
    t = np.arange(n) / FS
    return np.minimum(t / attack_s, 1.0) * np.exp(-t / tau_s)


def one_pole_lowpass(x, cutoff_hz):
    """First-order low-pass (impulse-invariant), unity gain at DC."""
    a = math.exp(-2 * math.pi * cutoff_hz / FS)
    return signal.lfilter([1 - a], [1, -a], x)


def place(out, start, sound):
    start = max(start, 0)
    end = min(len(out), start + len(sound))
    if start < end:
        out[start:end] += sound[:end - start]


def kick(rng, level):
    n = int(0.4 * FS)
    t = np.arange(n) / FS
    f0 = rng.uniform(45, 58)
    sweep = f0 + rng.uniform(90, 150) * np.exp(-t / rng.uniform(0.02, 0.04))
    phase = 2 * np.pi * np.cumsum(sweep) / FS
    body = np.sin(phase) * exp_env(n, rng.uniform(0.10, 0.18))
    click = rng.standard_normal(n) * exp_env(n, 0.002, 0.0002) * 0.3
    return level * (body + one_pole_lowpass(click, 4000))


def snare(rng, level):
    n = int(0.3 * FS)
    t = np.arange(n) / FS
    tone = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) * w
               for f, w in ((rng.uniform(180, 200), 1.0), (rng.uniform(320, 340), 0.5)))
    noise = rng.standard_normal(n)
    noise = noise - one_pole_lowpass(noise, 800)
    return level * (0.5 * tone * exp_env(n, 0.05) + 0.45 * noise * exp_env(n, rng.uniform(0.07, 0.11)))


def hat(rng, level, open_hat=False):
    n = int((0.35 if open_hat else 0.08) * FS)
    noise = rng.standard_normal(n)
    for _ in range(2):
        noise = noise - one_pole_lowpass(noise, 6000)
    return level * 0.35 * noise * exp_env(n, 0.12 if open_hat else rng.uniform(0.015, 0.03))


def drum_take(seed):
    """Stereo drum loop at ~96 BPM: kick centre, snare a little left, hats right; humanised
    timing (±6 ms) and velocity (±5 dB), ghost notes, an open hat now and then, a room-noise
    floor at about −66 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * FS)
    left, right = np.zeros(n), np.zeros(n)
    bpm = 96 * rng.uniform(0.98, 1.02)
    sixteenth = 60 / bpm / 4
    kick_steps, snare_steps = {0, 7, 8, 10}, {4, 12}
    step = 0
    while True:
        t0 = step * sixteenth + rng.normal(0, 0.003)
        start = int(max(t0, 0) * FS)
        if start >= n:
            break
        slot = step % 16
        vel = lambda base: base * 10 ** (rng.normal(0, 2.5) / 20)
        if slot in kick_steps or (slot == 14 and rng.random() < 0.3):
            s = kick(rng, vel(0.7))
            place(left, start, s)
            place(right, start, s)
        if slot in snare_steps:
            s = snare(rng, vel(0.5))
            place(left, start, 0.65 * s)
            place(right, start, 0.45 * s)
        elif rng.random() < 0.12:
            s = snare(rng, vel(0.1))  # ghost note
            place(left, start, 0.65 * s)
            place(right, start, 0.45 * s)
        if slot % 2 == 0 or rng.random() < 0.25:
            s = hat(rng, vel(0.35 if slot % 4 == 2 else 0.22), open_hat=rng.random() < 0.05)
            place(left, start, 0.35 * s)
            place(right, start, 0.7 * s)
        step += 1
    floor = 5e-4 * rng.standard_normal((2, n))
    return normalise(np.stack([left, right]) + floor, -3.0)


# Vowel formants (F1, F2, F3, Hz), roughly an adult male voice (Peterson & Barney 1952).
VOWELS = [(730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410),
          (300, 870, 2240), (660, 1720, 2410), (490, 1350, 1690)]


def glottal_source(f0_hz, rng):
    """Glottal-pulse train for a per-sample pitch contour: Rosenberg-like pulses (an
    asymmetric raised cosine over 60 % of each period, then its derivative as the radiated
    flow), with 1 % jitter, 0.3 % shimmer-free amplitude and some aspiration noise."""
    phase = np.cumsum(f0_hz * (1 + 0.01 * rng.standard_normal(len(f0_hz)) * 0.3) / FS)
    frac = phase % 1.0
    open_q = 0.6
    pulse = np.where(frac < open_q * 0.66, 0.5 * (1 - np.cos(np.pi * frac / (open_q * 0.66))),
                     np.where(frac < open_q, np.cos(np.pi / 2 * (frac - open_q * 0.66) / (open_q * 0.34)), 0.0))
    flow_derivative = np.diff(pulse, prepend=0.0) * FS / 200.0
    return flow_derivative + 0.02 * rng.standard_normal(len(f0_hz))


def voice_take(seed, beatbox=False):
    """A voice-like take, mono mic in a stereo file. Phrases of 3–8 syllables with pauses;
    each syllable a vowel (formants gliding from the last one) with an attack–decay
    envelope, pitch drifting 95–180 Hz with a phrase-final fall and 5 Hz vibrato, some
    syllables opening with a fricative (high-passed noise). With `beatbox`, the vowels are
    hums (closed, low formants) and kicks, rimshots and "k" snares sit on a loose grid."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * FS)
    f0 = np.full(n, 120.0)
    formants = np.zeros((3, n))
    amp = np.zeros(n)
    fric = np.zeros(n)
    t = int(rng.uniform(0.1, 0.4) * FS)
    vowel = VOWELS[0]
    while t < n:
        syllables = rng.integers(3, 9)
        base = rng.uniform(100, 150)
        for k in range(syllables):
            dur = int(rng.uniform(0.14, 0.32) * FS)
            if t + dur >= n:
                break
            nxt = VOWELS[rng.integers(len(VOWELS))]
            if beatbox:
                nxt = (rng.uniform(250, 350), rng.uniform(700, 1000), rng.uniform(2200, 2600))
            ramp = np.minimum(np.arange(dur) / (0.05 * FS), 1.0)
            for i in range(3):
                formants[i, t:t + dur] = vowel[i] + (nxt[i] - vowel[i]) * ramp
            vowel = nxt
            fall = 1 - 0.25 * (k / max(syllables - 1, 1)) ** 2
            pitch = base * fall * 2 ** (rng.normal(0, 2) / 12)
            tt = np.arange(dur) / FS
            f0[t:t + dur] = pitch * (1 + 0.012 * np.sin(2 * np.pi * 5.2 * tt + rng.uniform(0, 6)))
            env = np.minimum(tt / 0.03, 1.0) * np.minimum((dur / FS - tt) / 0.06, 1.0) ** 0.7
            amp[t:t + dur] = env * 10 ** (rng.normal(0, 3) / 20)
            if not beatbox and rng.random() < 0.4:
                fn = int(rng.uniform(0.05, 0.12) * FS)
                fric[max(t - fn, 0):t] = np.hanning(min(fn, t) * 2)[:min(fn, t)] * rng.uniform(0.3, 0.8)
            t += dur + int(rng.uniform(0.0, 0.05) * FS)
        f0[t:] = f0[t - 1] if t > 0 else 120.0
        t += int(rng.uniform(0.3, 1.2) * FS)  # pause between phrases
    # Formant filtering with slowly moving resonances: process in 10 ms blocks with fixed
    # coefficients (filter state carried over), as a formant synthesiser would.
    src = glottal_source(f0, rng) * amp
    voiced = formant_filter(src, formants)
    noise = rng.standard_normal(n)
    hiss = noise - one_pole_lowpass(noise, 3500)
    mono = voiced + 0.25 * hiss * fric
    if beatbox:
        mono = 0.5 * mono + beatbox_hits(rng, n)
    mono += 3e-4 * rng.standard_normal(n)
    mono = normalise(mono[None, :], -3.0)[0]
    return np.stack([mono, mono])


def formant_filter(src, formants):
    """Cascade of three two-pole resonators (Klatt 1980, unity gain at DC) whose centres
    move every 10 ms, the filter state carried across."""
    out = np.zeros_like(src)
    hop = int(0.010 * FS)
    states = [np.zeros(2) for _ in range(3)]
    bandwidths = (90.0, 110.0, 170.0)
    for start in range(0, len(src), hop):
        seg = src[start:start + hop]
        for i in range(3):
            f = formants[i, start] if formants[i, start] > 0 else (500.0, 1500.0, 2500.0)[i]
            r = math.exp(-math.pi * bandwidths[i] / FS)
            b, c = 2 * r * math.cos(2 * math.pi * f / FS), -r * r
            seg, states[i] = signal.lfilter([1 - b - c], [1, -b, -c], seg, zi=states[i])
        out[start:start + hop] = seg
    return out


def beatbox_hits(rng, n):
    """Beatbox percussion on a loose 92–100 BPM grid: a lip-kick (low sine punch and a
    plosive click), a rimshot (short 1.6–2.2 kHz ring and a tick), a "k" snare (band of
    noise around 3–5 kHz)."""
    out = np.zeros(n)
    sixteenth = 60 / rng.uniform(92, 100) / 4
    step = 0
    while True:
        start = int((step * sixteenth + rng.normal(0, 0.008)) * FS)
        if start >= n:
            break
        slot = step % 16
        vel = 10 ** (rng.normal(0, 3) / 20)
        if slot in (0, 6, 10) or (slot == 3 and rng.random() < 0.3):
            m = int(0.25 * FS)
            tt = np.arange(m) / FS
            body = np.sin(2 * np.pi * np.cumsum(60 + 80 * np.exp(-tt / 0.015)) / FS) * exp_env(m, 0.07)
            click = one_pole_lowpass(rng.standard_normal(m), 2500) * exp_env(m, 0.004, 0.0003)
            place(out, start, 0.6 * vel * (body + 0.8 * click))
        elif slot in (4, 12):
            m = int(0.2 * FS)
            noise = rng.standard_normal(m)
            band = one_pole_lowpass(noise - one_pole_lowpass(noise, 2500), 6000)
            place(out, start, 0.5 * vel * band * exp_env(m, 0.06) * 2.5)
        elif rng.random() < 0.35:
            m = int(0.08 * FS)
            tt = np.arange(m) / FS
            ring = np.sin(2 * np.pi * rng.uniform(1600, 2200) * tt) * exp_env(m, 0.012)
            tick = rng.standard_normal(m) * exp_env(m, 0.001, 0.0001)
            place(out, start, 0.3 * vel * (ring + 0.5 * tick))
        step += 1
    return out


def normalise(x, peak_db):
    return x * (10 ** (peak_db / 20) / np.max(np.abs(x)))


MATERIALS = {
    "drums": lambda seed: drum_take(seed),
    "voice": lambda seed: voice_take(seed),
    "beatbox": lambda seed: voice_take(seed, beatbox=True),
}


# ----------------------------------------------------------------------------------------
# JUCE chains (Pedalboard)


def chains():
    from pedalboard import (Compressor, Gain, HighpassFilter, HighShelfFilter, LowpassFilter,
                            LowShelfFilter, PeakFilter)
    return {
        # benches/pedalboard_chain.py's chain, unchanged.
        "peer": [HighpassFilter(80), LowShelfFilter(120, 3, 0.7), PeakFilter(400, -3, 1.0),
                 PeakFilter(1200, 2, 1.5), PeakFilter(3000, 4, 2.0), PeakFilter(6000, -2, 1.0),
                 HighShelfFilter(9000, 3, 0.7), LowpassFilter(16000),
                 Compressor(-20, 4, 5, 80), Gain(3)],
        # Big EQ moves, fast and hard compression, make-up gain.
        "heavy": [HighpassFilter(60), LowShelfFilter(100, 6, 0.7), PeakFilter(350, -6, 1.2),
                  PeakFilter(2500, 6, 1.0), HighShelfFilter(10000, 8, 0.7),
                  Compressor(-30, 8, 0.5, 60), Gain(10)],
        # Gentle: small tilt, 2:1 with slow attack and release.
        "gentle": [LowShelfFilter(200, -2, 0.7), PeakFilter(3500, 2, 0.8),
                   HighShelfFilter(12000, 2, 0.7), Compressor(-18, 2, 20, 300), Gain(2)],
        # Telephone-like corners: first-order high-pass at 300 Hz and low-pass at 3.4 kHz.
        "corners": [HighpassFilter(300), LowpassFilter(3400), PeakFilter(1000, 4, 0.7),
                    Compressor(-24, 4, 2, 150), Gain(6)],
    }


def process_juce(chain_name, dry):
    """The reference: dry through the chain in 512-frame blocks (as a host), then, as an
    engineer would, pulled down to −1 dBFS peak if it went above."""
    from pedalboard import Pedalboard
    board = Pedalboard(chains()[chain_name])
    out = board.process(dry.astype(np.float32), FS, buffer_size=512)
    peak = float(np.max(np.abs(out)))
    limit = 10 ** (-1 / 20)
    if peak > limit:
        out = out * (limit / peak)
    return out


# ----------------------------------------------------------------------------------------
# Files and tools


def write_wav(path, audio):
    import soundfile as sf
    sf.write(str(path), np.ascontiguousarray(audio.T, dtype=np.float32), FS, subtype="FLOAT")


def run_matchbox(binary, work, ref, src):
    preset, out = work / "matchbox.json", work / "matchbox.wav"
    t = time.perf_counter()
    analyze = subprocess.run(
        [binary, "analyze", "--reference", str(ref), "--source", str(src), "--output", str(preset)],
        check=True, capture_output=True, text=True)
    subprocess.run([binary, "render", "--preset", str(preset), str(src), str(out)],
                   check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    p = json.loads(preset.read_text())
    source_line = next((l for l in analyze.stdout.splitlines() if l.startswith("source:")), "")
    return out, elapsed, {
        "summary": analyze.stdout,
        "stderr": analyze.stderr,
        "paired": "same performance" in source_line,
        "source_line": source_line.strip(),
        "correlation": p["analysis"]["metrics"].get("source_coherence"),
        "lag": p["analysis"]["metrics"].get("source_lag_samples"),
        "settings": p["settings"],
    }


def run_matchering(work, ref, src, limited):
    out = work / "matchering.wav"
    limited = work / "matchering-limited.wav" if limited else "-"
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--matchering", str(src), str(ref), str(out),
                    str(limited)], check=True, capture_output=True, text=True)
    return out, (None if limited == "-" else limited), time.perf_counter() - t


def matchering_main(target, reference, out, out_limited):
    """Matchering 2.0.6: its float result before the limiter, unnormalised
    (`Result(..., "FLOAT", use_limiter=False, normalize=False)`), and, unless `out_limited`
    is "-", its default result (limiter on) as float (the limiter more than doubles the
    time). Matchering peak-normalises the reference to full scale
    before matching and, on the default path only, scales the result back by that
    `final_amplitude_coefficient` after the limiter; the pre-limiter result misses that
    step, so it is applied here (config.threshold as in matchering/stage_helpers)."""
    import matchering as mg
    import soundfile as sf
    config = mg.Config()
    results = [mg.Result(out, "FLOAT", use_limiter=False, normalize=False)]
    if out_limited != "-":
        results.append(mg.Result(out_limited, "FLOAT", use_limiter=True, normalize=True))
    mg.process(target=target, reference=reference, config=config, results=results)
    ref, _ = sf.read(reference, dtype="float64")
    peak = float(np.max(np.abs(ref)))
    coefficient = max(config.min_value, peak / config.threshold) if peak < config.threshold else 1.0
    audio, rate = sf.read(out, dtype="float64")
    sf.write(out, (audio * coefficient).astype(np.float32), rate, subtype="FLOAT")


def compare(binary, out, ref):
    r = subprocess.run([binary, "compare", str(out), str(ref)], check=True,
                       capture_output=True, text=True)
    return json.loads(r.stdout)


# ----------------------------------------------------------------------------------------
# Cases


def figures(c):
    return {
        "ltas": c["ltas_error_rms_db"],
        "loudness": c["loudness_diff_lu"],
        "spread": c["level_spread_diff_db"],
        "crest": c["crest_factor_diff_db"],
        "snr": c["snr_db"],
    }


def run_case(binary, root, limited, material, chain, kind, takes):
    work = root / f"{material}-{chain}-{kind}"
    work.mkdir(parents=True, exist_ok=True)
    ref, src = work / "reference.wav", work / "source.wav"
    write_wav(ref, takes["reference"])
    write_wav(src, takes["dry"] if kind == "paired" else takes["other"])
    mb_out, mb_time, mb_info = run_matchbox(binary, work, ref, src)
    mg_out, mg_limited, mg_time = run_matchering(work, ref, src, limited)
    return {
        "name": f"{material}/{chain}/{kind}",
        "kind": kind,
        "matchbox": figures(compare(binary, mb_out, ref)),
        "matchering": figures(compare(binary, mg_out, ref)),
        "matchering_limited": figures(compare(binary, mg_limited, ref)) if mg_limited else None,
        "matchbox_s": mb_time,
        "matchering_s": mg_time,
        "info": mb_info,
    }


LABELS = [("ltas", "spectrum error, dB RMS"), ("loudness", "loudness diff, LU"),
          ("spread", "level-spread diff, dB"), ("crest", "crest-factor diff, dB"),
          ("snr", "waveform SNR, dB")]


def better(metric, a, b):
    """Is figure a (Matchbox) at least as good as b (Matchering)?"""
    if metric == "snr":
        return a >= b
    return abs(a) <= abs(b)


def table(case):
    mb, mg, ml = case["matchbox"], case["matchering"], case["matchering_limited"]
    extra = (lambda key: f"{ml[key]:>11.2f}") if ml else (lambda key: "")
    info = case["info"]
    lines = [f"== {case['name']}: Matchbox {case['matchbox_s']:.1f} s, "
             f"Matchering {case['matchering_s']:.1f} s",
             f"   analyze: {info['source_line']} "
             f"(source_coherence {info['correlation']}, lag {info['lag']} samples)"]
    lines.append(f"   {'metric':<26}{'Matchbox':>10}{'Matchering':>12}{'(limited)' if ml else '':>11}  note")
    for key, label in LABELS:
        if key == "snr" and case["kind"] != "paired":
            lines.append(f"   {label:<26}{mb[key]:>10.2f}{mg[key]:>12.2f}{extra(key)}  (unpaired: not scored)")
            continue
        notes = []
        if not better(key, mb[key], mg[key]):
            notes.append("worse than Matchering")
        if case["kind"] == "paired":
            bound = ISSUE_PAIRED[key]
            miss = mb[key] < bound if key == "snr" else abs(mb[key]) > bound
            if miss:
                notes.append(f"REPORT-ONLY: misses issue bound {'≥' if key == 'snr' else '≤'} {bound}")
        lines.append(f"   {label:<26}{mb[key]:>10.2f}{mg[key]:>12.2f}{extra(key)}  {'; '.join(notes)}")
    c = info["settings"]["compressor"]
    bands = [b for b in info["settings"]["eq"]["bands"] if b["enabled"]]
    lines.append("   fitted: " + ", ".join(
        f"{b['type']} {b['freq_hz']:.0f} Hz {b['gain_db']:+.1f} dB Q{b['q']:.2f}" for b in bands))
    if c["enabled"]:
        lines.append(f"   fitted compressor: {c['threshold_db']:.1f} dB, {c['ratio']}:1, knee "
                     f"{c['knee_db']:.1f} dB, attack {c['attack_ms']:.1f} ms, release "
                     f"{c['release_ms']:.0f} ms, {c['detector']}, link {c['stereo_link_pct']:.0f} %, "
                     f"output {info['settings']['output_gain_db']:+.1f} dB")
    else:
        lines.append(f"   fitted compressor: off, output {info['settings']['output_gain_db']:+.1f} dB")
    return "\n".join(lines)


def check(case):
    """The assertions for one case: a list of (figure, failure, known) triples; `known` names
    the listed exception that covers the failure (None when nothing does)."""
    failures = []
    name, mb, mg = case["name"], case["matchbox"], case["matchering"]
    for tool in ("matchbox", "matchering", "matchering_limited"):
        for key, v in (case[tool] or {}).items():
            if not math.isfinite(v):
                failures.append((key, f"{tool} {key} is not finite: {v}", None))
    lag = case["info"]["lag"]
    if case["kind"] == "paired" and not abs(lag) <= LAG_BOUND:
        failures.append(("lag", f"pairing lag {lag:+.0f} samples beyond ±{LAG_BOUND} (true lag 0)", None))
    for key, _ in LABELS:
        if key == "snr" and case["kind"] != "paired":
            continue
        bound = regression_bound(name, key)
        if bound is None:
            failures.append((key, f"no MEASURED figure for {key}: run with --measured", None))
        elif bound[1] and not mb[key] >= bound[0]:
            failures.append((key, f"Matchbox SNR {mb[key]:.2f} dB below the regression bound "
                                  f"{bound[0]:.2f} dB (measured {MEASURED[name][key]:.2f})", None))
        elif not bound[1] and not abs(mb[key]) <= bound[0]:
            failures.append((key, f"Matchbox {key} {mb[key]:+.3f} beyond the regression bound "
                                  f"±{bound[0]:.3f} (measured {MEASURED[name][key]:+.3f})", None))
        if not better(key, mb[key], mg[key]):
            failures.append((key, f"Matchbox {key} {mb[key]:+.3f} worse than Matchering's "
                                  f"{mg[key]:+.3f}", MATCHERING_EXCEPTIONS.get((name, key))))
    paired = case["info"]["paired"]
    if paired != (case["kind"] == "paired"):
        failures.append(("pairing", f"pairing detected as {'paired' if paired else 'unpaired'}: "
                                    f"{case['info']['source_line']}", None))
    return failures


def measured_table(results):
    """MEASURED for these results, as Python source."""
    lines = ["MEASURED = {"]
    for case in sorted(results, key=lambda c: c["name"]):
        figs = {k: round(v, 3) for k, v in case["matchbox"].items()
                if not (k == "snr" and case["kind"] != "paired")}
        lines.append(f"    {case['name']!r}: {figs!r},")
    lines.append("}")
    return "\n".join(lines)


def check_targets(results):
    """The TARGETS not met: a list of messages."""
    missed = []
    for (kind, key, statistic, bound), note in TARGETS.items():
        values = [abs(c["matchbox"][key]) for c in results if c["kind"] == kind]
        if not values:
            continue
        value = float(np.mean(values)) if statistic == "mean" else max(values)
        status = "met" if value <= bound else "NOT MET"
        print(f"   target: {note}: {statistic} {value:.2f} → {status}")
        if value > bound:
            missed.append(note)
    return missed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("matchbox")
    ap.add_argument("--work", help="keep the files here (default: a temporary directory)")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limited", action="store_true",
                    help="also score Matchering's default (limited) result")
    ap.add_argument("--report-only", default="",
                    help="comma-separated case-name substrings whose failures are reported, not counted")
    ap.add_argument("--measured", action="store_true",
                    help="print the MEASURED table (the regression bounds' base) for this code")
    args = ap.parse_args()
    binary = os.path.abspath(args.matchbox)
    report_only = [s for s in args.report_only.split(",") if s]

    tmp = None
    if args.work:
        root = Path(args.work)
        root.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory()
        root = Path(tmp.name)

    t0 = time.perf_counter()
    jobs = []
    for m_index, (material, make) in enumerate(MATERIALS.items()):
        dry = make(1000 + m_index)
        other = make(2000 + m_index)
        for chain in chains():
            takes = {"dry": dry, "other": other, "reference": process_juce(chain, dry)}
            for kind in ("paired", "unpaired"):
                name = f"{material}/{chain}/{kind}"
                if args.only in name:
                    jobs.append((material, chain, kind, takes))
    print(f"juce_match: synthesised and processed {len(jobs)} cases in "
          f"{time.perf_counter() - t0:.1f} s")

    passed = failed = known = 0
    results = []
    known_seen = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_case, binary, root, args.limited, *job): job for job in jobs}
        for future in futures:
            material, chain, kind, _ = futures[future]
            name = f"{material}/{chain}/{kind}"
            try:
                case = future.result()
            except Exception:
                traceback.print_exc()
                print(f"test juce_match {name} ... FAILED (did not run)")
                failed += 1
                continue
            results.append(case)
            print(table(case))
            problems, gaps = [], set()
            for key, message, why in check(case):
                if why or any(part in name for part in report_only):
                    print(f"   KNOWN ({why or 'listed in --report-only'}): {message}")
                    gaps.add(key)
                    known_seen.append(f"{name} {key}")
                else:
                    problems.append(message)
            for (gap_case, key) in MATCHERING_EXCEPTIONS:
                if gap_case == name and key not in gaps:
                    print(f"   NOTE: Matchering exception ({gap_case}, {key}) no longer loses: "
                          "remove it from MATCHERING_EXCEPTIONS")
            for p in problems:
                print(f"   FAILED: {p}")
            if problems:
                failed += 1
                print(f"test juce_match {name} ... FAILED")
            elif gaps:
                known += 1
                print(f"test juce_match {name} ... known failure")
            else:
                passed += 1
                print(f"test juce_match {name} ... ok")

    if results:
        print(summary(results))
        missed = check_targets(results)
        for note in missed:
            print(f"   FAILED: target {note}")
        failed += len(missed)
        passed += len(TARGETS) - len(missed)
    if known_seen:
        print(f"juce_match: {len(known_seen)} known failure(s) (MATCHERING_EXCEPTIONS): "
              + ", ".join(known_seen))
    if args.measured and results:
        print(measured_table(results))
    print(f"juce_match: {time.perf_counter() - t0:.1f} s in all")
    if tmp:
        tmp.cleanup()
    print(f"test result: {'ok' if failed == 0 else 'FAILED'}. {passed} passed; {failed} failed; "
          f"{known} known failures")
    sys.exit(1 if failed else 0)


def summary(results):
    """Means over the cases of each kind, the form of the issue's Matchering figures."""
    lines = ["== summary (mean of |figure| over cases; SNR plain mean)"]
    for kind in ("paired", "unpaired"):
        cases = [c for c in results if c["kind"] == kind]
        if not cases:
            continue
        lines.append(f"   {kind} ({len(cases)} cases){'':<8}{'Matchbox':>10}{'Matchering':>12}")
        for key, label in LABELS:
            if key == "snr" and kind != "paired":
                continue
            f = (lambda v: v) if key == "snr" else abs
            mb = np.mean([f(c["matchbox"][key]) for c in cases])
            mg = np.mean([f(c["matchering"][key]) for c in cases])
            lines.append(f"   {label:<26}{mb:>10.2f}{mg:>12.2f}")
        wins = sum(better(k, c["matchbox"][k], c["matchering"][k])
                   for c in cases for k, _ in LABELS if not (k == "snr" and kind != "paired"))
        total = sum(1 for c in cases for k, _ in LABELS if not (k == "snr" and kind != "paired"))
        lines.append(f"   Matchbox at least as good as Matchering on {wins} of {total} figures")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--matchering":
        matchering_main(*sys.argv[2:])
    else:
        main()
