"""Matchbox.vst3 inside pedalboard (JUCE's VST3 host): list the parameters by name, set some,
and check the output against `matchbox render` with the same settings.

The settings are read back from the plugin's own saved state (exact plain values), written as
a preset file, and rendered by the `matchbox` binary; both outputs must agree within 1e-6.
Which parameter ID stands for which setting comes from the plugin's own parameter table
(`matchbox plugin-params`), not from a list kept here.

Run by .ci/plugin-tests (which bundles first):
    python tests/vst3_host.py <Matchbox.vst3> <matchbox binary>
Ends with a cargo-style "test result:" line so .ci/test counts it.
"""

import json
import re
import struct
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pedalboard

BUNDLE, MATCHBOX = sys.argv[1], sys.argv[2]
# The plugin's parameter table: ID, name, the settings field it stands for, range, choices.
PARAMS = json.loads(subprocess.run([MATCHBOX, "plugin-params"], check=True,
                                   capture_output=True, text=True).stdout)
TOLERANCE = 1e-6
MAX_DIFFERENCES = []


def load():
    plugin = pedalboard.load_plugin(BUNDLE)
    assert isinstance(plugin, pedalboard.VST3Plugin), type(plugin)
    return plugin


def component_state(plugin):
    """nice-plug's JSON state, out of JUCE's state XML (MemoryBlock base64: 6-bit groups,
    least significant first, over its own alphabet)."""
    raw = plugin.raw_state
    xml = raw[raw.index(b"<?xml"):].decode()
    size, text = re.search(r"<IComponent>(\d+)\.([^<]*)</IComponent>", xml).groups()
    alphabet = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"
    bits = 0
    for i, ch in enumerate(text):
        bits |= alphabet.index(ch) << (6 * i)
    size = int(size)
    return json.loads((bits & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))


def plugin_settings(plugin):
    """The settings the plugin runs with. VST3 hands parameter edits to the processor with the
    next process call, so process a few silent frames first."""
    plugin(np.zeros((2, 64), dtype=np.float32), 48_000, reset=True)
    return settings_from_state(component_state(plugin))


def settings_from_state(state):
    """ChainSettings (preset JSON) from the plugin's saved parameter values, each put where the
    parameter table says it belongs: choices by their saved ID (or index) to the value presets
    write, plain values above a parameter's `infinite_above` as "inf"."""
    values = {k: next(iter(v.values())) for k, v in state["params"].items()}
    settings = {}
    for param in PARAMS:
        if param["setting"] is None:
            continue  # the host's bypass: not part of the settings
        value = values[param["id"]]
        if param["kind"] == "choice":
            choices = param["choices"]
            choice = choices[value] if isinstance(value, int) else \
                next(c for c in choices if c["id"] == value)
            value = choice["setting"]
        elif "infinite_above" in param and value > param["infinite_above"]:
            value = "inf"
        put(settings, param["setting"], value)
    return settings


def put(tree, path, value):
    """Set `tree` at `path` ("eq.bands[2].freq_hz"), making the objects and lists on the way."""
    keys = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        keys.append(name)
        keys.extend(int(i) for i in indices if i != "")
    for key, following in zip(keys, keys[1:]):
        empty = [] if isinstance(following, int) else {}
        if isinstance(key, int):
            while len(tree) <= key:
                tree.append(None)
            if tree[key] is None:
                tree[key] = empty
        else:
            tree.setdefault(key, empty)
        tree = tree[key]
    tree[keys[-1]] = value


def write_wav_f32(path, audio, rate):
    """32-bit float WAV (format 3), channels × frames."""
    frames = np.ascontiguousarray(audio.T, dtype="<f4").tobytes()
    channels = audio.shape[0]
    header = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    Path(path).write_bytes(header + b"data" + struct.pack("<I", len(frames)) + frames)


def read_wav_f32(path):
    data = Path(path).read_bytes()
    pos, fmt = 12, None
    while pos < len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif chunk == b"data":
            assert fmt[0] in (3, 0xFFFE) and fmt[5] == 32, fmt
            return np.frombuffer(body, dtype="<f4").reshape(-1, fmt[1]).T
        pos += 8 + size + (size & 1)
    raise AssertionError(f"{path}: no data chunk")


def signal(channels, frames, rate):
    """A 150 Hz buzz under decaying noise bursts every 60 ms (voice/beatbox-like)."""
    n = np.arange(frames)
    burst = int(0.060 * rate)
    envelope = np.exp(-(n % burst) / (0.008 * rate))
    noise = np.random.default_rng(7).uniform(-1, 1, frames)
    mono = 0.2 * np.sin(2 * np.pi * 150 * n / rate) + 0.6 * envelope * noise
    return np.stack([mono * (1 - 0.3 * c) for c in range(channels)]).astype(np.float32)


def render(settings, audio, rate, block):
    with tempfile.TemporaryDirectory() as tmp:
        preset = Path(tmp, "p.json")
        preset.write_text(json.dumps({
            "schema": "matchbox-preset", "version": 1, "name": "pedalboard test",
            "description": "settings read back from the VST3 plugin", "settings": settings,
        }))
        write_wav_f32(Path(tmp, "in.wav"), audio, rate)
        subprocess.run(
            [MATCHBOX, "render", "--preset", str(preset), "--block", str(block),
             str(Path(tmp, "in.wav")), str(Path(tmp, "out.wav"))],
            check=True, capture_output=True,
        )
        return read_wav_f32(Path(tmp, "out.wav"))


def compare(plugin, audio, rate, block, label):
    got = plugin(audio, rate, buffer_size=block, reset=True)
    want = render(plugin_settings(plugin), audio, rate, block)
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = float(np.max(np.abs(got - want)))
    MAX_DIFFERENCES.append(diff)
    print(f"  {label}: max |pedalboard - matchbox render| = {diff:.3e}")
    assert diff <= TOLERANCE, diff
    return got


def test_parameters_are_listed_by_name():
    plugin = load()
    names = [p.name for p in plugin.parameters.values()]
    assert names == [p["name"] for p in PARAMS], (names, PARAMS)
    for name in ["Input Gain", "Band 1 Freq", "Band 8 Slope", "Threshold", "Ratio", "Attack",
                 "Sidechain HPF Freq", "Mix", "Output Gain", "Ceiling", "Bypass"]:
        assert name in names, name
    ratio = plugin.parameters["ratio"]
    assert ratio.label == ":1", ratio.label
    assert plugin.parameters["threshold_db"].range[:2] == (-60.0, 0.0)
    assert plugin.parameters["band_1_freq"].range[:2] == (20.0, 20000.0)


def test_output_matches_render_with_parameters_set_in_the_host():
    plugin = load()
    plugin.input_gain_db = 3.0
    plugin.band_1_on = True
    plugin.band_1_type = "Low Cut"
    plugin.band_1_freq = 80.0
    plugin.band_1_slope = "24 dB/oct"
    plugin.band_2_on = True
    plugin.band_2_freq = 3200.0
    plugin.band_2_gain_db = 4.5
    plugin.band_2_q = 1.4
    plugin.compressor_on = True
    plugin.threshold_db = -24.0
    plugin.ratio = "6.0"
    plugin.attack_ms = 3.0
    plugin.detector = "RMS"
    plugin.output_gain_db = -1.5
    settings = plugin_settings(plugin)
    assert settings["compressor"]["enabled"] is True
    assert settings["eq"]["bands"][0]["type"] == "low_cut"
    assert abs(settings["compressor"]["threshold_db"] + 24.0) < 0.05, settings["compressor"]
    audio = signal(2, 48_000, 48_000)
    out = compare(plugin, audio, 48_000, 512, "stereo 48 kHz, 512-frame blocks")
    assert float(np.max(np.abs(out - audio))) > 0.05, "the settings must change the sound"
    compare(plugin, signal(1, 44_100, 44_100), 44_100, 128, "mono 44.1 kHz, 128-frame blocks")


def test_infinite_ratio_and_factory_like_settings():
    plugin = load()
    plugin.compressor_on = True
    plugin.ratio = "∞"
    plugin.threshold_db = -30.0
    plugin.band_3_on = True
    plugin.band_3_type = "High Shelf"
    plugin.band_3_freq = 8000.0
    plugin.band_3_gain_db = 3.0
    assert plugin_settings(plugin)["compressor"]["ratio"] == "inf"
    compare(plugin, signal(2, 96_000, 96_000), 96_000, 1024, "stereo 96 kHz, ∞:1")


def test_bypass_gives_the_input_back():
    plugin = load()
    plugin.compressor_on = True
    plugin.threshold_db = -40.0
    plugin.output_gain_db = -6.0
    audio = signal(2, 48_000, 48_000)
    processed = plugin(audio, 48_000, buffer_size=512, reset=True)
    assert float(np.max(np.abs(processed - audio))) > 0.05, "the settings must change the sound"
    plugin.bypass = True
    # The host delivers the switch with the next block, and the plugin fades over 10 ms (480
    # frames): exactly the input from there on.
    fading = plugin(audio, 48_000, buffer_size=512, reset=True)
    changed = np.nonzero(np.max(np.abs(fading - audio), axis=0) > 0)[0]
    assert len(changed) > 0 and changed[-1] < 480, changed[-5:]
    bypassed = plugin(audio, 48_000, buffer_size=512, reset=False)
    diff = float(np.max(np.abs(bypassed - audio)))
    print(f"  bypassed: fade over the first {changed[-1] + 1} frames, then "
          f"max |output - input| = {diff:.3e}")
    assert diff == 0.0, diff


def main():
    passed = failed = 0
    for name, test in list(globals().items()):
        if name.startswith("test_") and callable(test):
            try:
                print(f"test {name} ...")
                test()
                passed += 1
                print(f"test {name} ... ok")
            except Exception:
                failed += 1
                traceback.print_exc()
                print(f"test {name} ... FAILED")
    if MAX_DIFFERENCES:
        print(f"vst3_host: max difference over all renders = {max(MAX_DIFFERENCES):.3e}")
    print(f"test result: {'ok' if failed == 0 else 'FAILED'}. {passed} passed; {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
