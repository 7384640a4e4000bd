#!/usr/bin/env python3
"""Peer benchmark: Spotify's Pedalboard (JUCE's DSP inside) running the EQ + compressor chain
that `matchbox bench` runs by default (8 filter bands, compressor, output gain), stereo,
48 kHz, in blocks as a live host calls it; then `matchbox bench` on the same machine right
after, and both side by side with the CPU they ran on.

Set up and run, in one command from the repository root:

    python3 -m venv venv && venv/bin/pip install -q "pedalboard==0.9.26" "numpy>=2,<3" \
        && cargo build --release --bin matchbox \
        && venv/bin/python benches/pedalboard_chain.py target/release/matchbox

Options: --seconds S (audio per run, default 60), --blocks 64 512. Each figure is the best of
three runs (the least disturbed by other processes), in ns per sample per channel and times
real time, the terms `matchbox bench` prints.

The chains differ in two details, both in Pedalboard's favour: its high- and low-pass
filters are first order (6 dB/oct; Matchbox's default chain has 12 dB/oct cuts), and its
compressor has a peak detector without a sidechain filter (Matchbox's: RMS detector and a
100 Hz sidechain high-pass).
"""

import argparse
import platform
import re
import subprocess
import time

import numpy as np
from pedalboard import (Compressor, Gain, HighpassFilter, HighShelfFilter, LowpassFilter,
                        LowShelfFilter, Pedalboard, PeakFilter)

# The CPU features the speed of both depends on.
FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl")


def cpu():
    """CPU model, core count and the relevant feature flags, from /proc/cpuinfo (Linux)."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = re.search(r"model name\s*:\s*(.*)", info)
    flags = set(re.search(r"flags\s*:\s*(.*)", info).group(1).split())
    cores = info.count("processor\t:")
    have = " ".join(f for f in FLAGS if f in flags)
    return f"{model.group(1) if model else 'unknown'}, {cores} logical cores, flags: {have}"


def pedalboard_ns(seconds, blocks, sample_rate=48_000):
    """Best-of-3 ns per sample per channel for each block size."""
    x = (np.random.default_rng(0).standard_normal((2, int(sample_rate * seconds))) * 0.1)
    x = x.astype(np.float32)
    board = Pedalboard([
        HighpassFilter(80), LowShelfFilter(120, 3, 0.7), PeakFilter(400, -3, 1.0),
        PeakFilter(1200, 2, 1.5), PeakFilter(3000, 4, 2.0), PeakFilter(6000, -2, 1.0),
        HighShelfFilter(9000, 3, 0.7), LowpassFilter(16000), Compressor(-20, 4, 5, 80), Gain(3)])
    result = {}
    for block in blocks:
        best = float("inf")
        for _ in range(3):
            board.reset()
            t = time.perf_counter()
            for i in range(0, x.shape[1], block):
                board.process(x[:, i:i + block], sample_rate, reset=False)
            best = min(best, time.perf_counter() - t)
        result[block] = best / x.size * 1e9
    return result


def matchbox_ns(binary, seconds, blocks):
    """`matchbox bench` (its default chain) for the same block sizes."""
    args = [binary, "bench", "--seconds", str(seconds)]
    for block in blocks:
        args += ["--block", str(block)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return {int(b): float(ns) for b, ns in
            re.findall(r"^matchbox block=(\d+): ([\d.]+) ns/sample/ch", out, re.MULTILINE)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("matchbox", help="the matchbox binary (a release build)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--blocks", type=int, nargs="+", default=[64, 512])
    a = ap.parse_args()
    print(f"CPU: {cpu()}")
    theirs = pedalboard_ns(a.seconds, a.blocks)
    ours = matchbox_ns(a.matchbox, a.seconds, a.blocks)
    print(f"{'block':>6} {'Pedalboard ns':>14} {'Matchbox ns':>12} {'Matchbox faster':>16}")
    for block in a.blocks:
        print(f"{block:>6} {theirs[block]:>14.1f} {ours[block]:>12.1f} "
              f"{theirs[block] / ours[block]:>15.1f}x")


if __name__ == "__main__":
    main()
