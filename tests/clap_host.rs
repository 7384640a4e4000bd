//! Matchbox.clap inside a real CLAP host (clack-host): parameters, latency, sound against the
//! DSP chain, sample-accurate automation, state save/restore, odd block sizes and rates.
//!
//! Builds the debug bundle first (`cargo xtask bundle matchbox --features
//! assert_process_allocs`): its audio thread runs under nice-plug's allocation checker, so any
//! allocation there aborts this test run.
//! `MATCHBOX_CLAP=<path>` points the tests at another bundle instead.

use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::latency::PluginLatency;
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState as ClapState;
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use matchbox::dsp::{Chain, ChainSettings, Detector, FilterKind};
use matchbox::plugin::params::{MatchboxParams, ParamChange};
use matchbox::plugin::state::state_for;
use nice_plug::prelude::{Param, ParamPtr, Params};
use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::OnceLock;

struct Shared;
impl SharedHandler<'_> for Shared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}
struct Handlers;
impl HostHandlers for Handlers {
    type Shared<'a> = Shared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();
}

/// The bundle under test: `$MATCHBOX_CLAP`, or a fresh debug bundle with allocation checks that
/// this test builds (`cargo xtask bundle matchbox --features assert_process_allocs`, once per
/// run; quick when nothing changed) in its own target directory, so `cargo test` never tests a
/// stale bundle.
fn bundle() -> PathBuf {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("MATCHBOX_CLAP") {
                return path.into();
            }
            // This test runs as <target dir>/<profile>/deps/clap_host-<hash>.
            let exe = std::env::current_exe().unwrap();
            let target = exe.ancestors().nth(3).unwrap();
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "xtask",
                    "bundle",
                    "matchbox",
                    "--features",
                    "assert_process_allocs",
                ])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("CARGO_TARGET_DIR", target)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "`cargo xtask bundle matchbox` failed");
            target.join("bundled/Matchbox.clap")
        })
        .clone()
}

/// CLAP parameter ID nice-plug gives a string ID (its `hash_param_id`, a Rabin fingerprint;
/// the VST3 ParamID is the same number).
fn clap_id(id: &str) -> ClapId {
    let hash = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    // The top bit is reserved for host parameters in VST3.
    ClapId::new(hash & !(1 << 31))
}

/// A host-side parameter description.
#[derive(Debug)]
struct HostParam {
    name: String,
    /// Group path ("Band 3", "Compressor"; "" at the top).
    module: String,
    min: f64,
    max: f64,
    default: f64,
}

/// Events for one process call: (sample offset, string ID, CLAP value).
type Events = Vec<(u32, String, f64)>;

/// The bundle, loaded once and never unloaded: unloading a Rust library while test threads
/// that ran its code are still alive crashes when those threads exit (their thread-local
/// destructors point into the unloaded code).
fn entry() -> &'static PluginEntry {
    static ENTRY: OnceLock<PluginEntry> = OnceLock::new();
    // SAFETY: loading a CLAP bundle runs its initialiser; Matchbox's is nice-plug's.
    ENTRY.get_or_init(|| unsafe { PluginEntry::load(bundle()) }.unwrap())
}

struct Loaded {
    instance: PluginInstance<Handlers>,
}

impl Loaded {
    fn new() -> Self {
        let host = HostInfo::new("matchbox-tests", "matchbox", "", "0.1").unwrap();
        let entry = entry();
        let factory = entry.get_plugin_factory().unwrap();
        let id = factory.plugin_descriptors().next().unwrap().id().unwrap();
        assert_eq!(id.to_str().unwrap(), "audio.matchbox.matchbox");
        let id = id.to_owned();
        let instance =
            PluginInstance::<Handlers>::new(|_| Shared, |_| (), entry, &id, &host).unwrap();
        Self { instance }
    }

    fn params_ext(&mut self) -> PluginParams {
        self.instance
            .plugin_handle()
            .get_extension::<PluginParams>()
            .unwrap()
    }

    fn params(&mut self) -> HashMap<ClapId, HostParam> {
        let ext = self.params_ext();
        let handle = self.instance.plugin_handle();
        let mut buffer = ParamInfoBuffer::new();
        (0..ext.count(&handle))
            .map(|i| {
                let info = ext.get_info(&handle, i, &mut buffer).unwrap();
                let param = HostParam {
                    name: String::from_utf8_lossy(info.name).into_owned(),
                    module: String::from_utf8_lossy(info.module).into_owned(),
                    min: info.min_value,
                    max: info.max_value,
                    default: info.default_value,
                };
                (info.id, param)
            })
            .collect()
    }

    fn value(&mut self, id: &str) -> f64 {
        let ext = self.params_ext();
        ext.get_value(&self.instance.plugin_handle(), clap_id(id))
            .unwrap()
    }

    fn text(&mut self, id: &str, value: f64) -> String {
        let ext = self.params_ext();
        let mut buffer = [0u8; 64];
        let text = ext
            .value_to_text(
                &self.instance.plugin_handle(),
                clap_id(id),
                value,
                &mut buffer,
            )
            .unwrap();
        String::from_utf8_lossy(text).into_owned()
    }

    fn parse(&mut self, id: &str, text: &str) -> Option<f64> {
        let ext = self.params_ext();
        let text = CString::new(text).unwrap();
        ext.text_to_value(&self.instance.plugin_handle(), clap_id(id), &text)
    }

    /// Sets parameters while inactive (the host's `flush`).
    fn flush(&mut self, values: &[(String, f64)]) {
        let ext = self.params_ext();
        let events = event_buffer(
            &values
                .iter()
                .map(|(id, v)| (0, id.clone(), *v))
                .collect::<Events>(),
        );
        let mut handle = self.instance.inactive_plugin_handle().unwrap();
        ext.flush(
            &mut handle,
            &InputEvents::from_buffer(&events),
            &mut OutputEvents::void(),
        );
    }

    fn save(&mut self) -> Vec<u8> {
        let ext: ClapState = self.instance.plugin_handle().get_extension().unwrap();
        let mut bytes = Vec::new();
        ext.save(&self.instance.plugin_handle(), &mut bytes)
            .unwrap();
        bytes
    }

    fn load(&mut self, bytes: &[u8]) -> bool {
        let ext: ClapState = self.instance.plugin_handle().get_extension().unwrap();
        ext.load(&self.instance.plugin_handle(), &mut &bytes[..])
            .is_ok()
    }

    /// Chooses the mono → mono layout.
    fn select_mono(&mut self) {
        self.select_layout(1, 1);
    }

    /// Chooses the layout with `inputs` → `outputs` main channels.
    fn select_layout(&mut self, inputs: u32, outputs: u32) {
        let ext: PluginAudioPortsConfig = self.instance.plugin_handle().get_extension().unwrap();
        let handle = self.instance.plugin_handle();
        let mut buffer = AudioPortsConfigBuffer::new();
        let id = (0..ext.count(&handle))
            .find_map(|i| {
                let config = ext.get(&handle, i, &mut buffer)?;
                let input = config.main_input.as_ref().map(|p| p.channel_count);
                let output = config.main_output.as_ref().map(|p| p.channel_count);
                (input == Some(inputs) && output == Some(outputs)).then_some(config.id)
            })
            .unwrap_or_else(|| panic!("a {inputs} → {outputs} layout"));
        ext.select(&handle, id).unwrap();
    }

    /// Activates at `rate_hz`, processes `input` (one Vec per channel) in `blocks` (frames and
    /// events of each process call) on an audio thread, deactivates, returns the output and the
    /// latency reported while active.
    fn run(
        &mut self,
        rate_hz: f64,
        input: &[Vec<f32>],
        blocks: &[(usize, Events)],
    ) -> (Vec<Vec<f32>>, u32) {
        self.run_io(rate_hz, input, input.len(), blocks)
    }

    /// [`Loaded::run`] with `outputs` output channels (the layout chosen must have them).
    fn run_io(
        &mut self,
        rate_hz: f64,
        input: &[Vec<f32>],
        outputs: usize,
        blocks: &[(usize, Events)],
    ) -> (Vec<Vec<f32>>, u32) {
        let max_frames = blocks.iter().map(|b| b.0).max().unwrap_or(1).max(1) as u32;
        let config = PluginAudioConfiguration {
            sample_rate: rate_hz,
            min_frames_count: 1,
            max_frames_count: max_frames,
        };
        let stopped = self.instance.activate(|_, _| (), config).unwrap();
        let latency = self
            .instance
            .plugin_handle()
            .get_extension::<PluginLatency>()
            .map(|ext| ext.get(&self.instance.plugin_handle()))
            .expect("latency extension");
        let channels = input.len();
        let (stopped, output) = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let mut processor = stopped.start_processing().unwrap();
                    let mut output = vec![Vec::new(); outputs];
                    let mut start = 0;
                    let (mut ins, mut outs) = (
                        AudioPorts::with_capacity(channels, 1),
                        AudioPorts::with_capacity(outputs, 1),
                    );
                    for (frames, events) in blocks {
                        let mut in_bufs: Vec<Vec<f32>> = input
                            .iter()
                            .map(|c| c[start..start + frames].to_vec())
                            .collect();
                        let mut out_bufs = vec![vec![0.0f32; *frames]; outputs];
                        let in_audio = ins.with_input_buffers([AudioPortBuffer {
                            latency: 0,
                            channels: AudioPortBufferType::f32_input_only(
                                in_bufs.iter_mut().map(InputChannel::variable),
                            ),
                        }]);
                        let mut out_audio = outs.with_output_buffers([AudioPortBuffer {
                            latency: 0,
                            channels: AudioPortBufferType::f32_output_only(
                                out_bufs.iter_mut().map(|b| b.as_mut_slice()),
                            ),
                        }]);
                        let events = event_buffer(events);
                        processor
                            .process(
                                &in_audio,
                                &mut out_audio,
                                &InputEvents::from_buffer(&events),
                                &mut OutputEvents::void(),
                                Some(start as u64),
                                None,
                            )
                            .unwrap();
                        for (o, b) in output.iter_mut().zip(&out_bufs) {
                            o.extend_from_slice(b);
                        }
                        start += frames;
                    }
                    (processor.stop_processing(), output)
                })
                .join()
                .unwrap()
        });
        self.instance.deactivate(stopped);
        (output, latency)
    }
}

/// A state as nice-plug's CLAP wrapper streams it: the JSON's length (u64, little endian),
/// then the JSON.
fn clap_state<T: serde::Serialize>(state: &T) -> Vec<u8> {
    let json = serde_json::to_vec(state).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend(json);
    bytes
}

fn event_buffer(events: &Events) -> EventBuffer {
    let mut buffer = EventBuffer::new();
    for (time, id, value) in events {
        buffer.push(&ParamValueEvent::new(
            *time,
            clap_id(id),
            Pckn::match_all(),
            *value,
        ));
    }
    buffer
}

/// String IDs of the in-process parameters, keyed by pointer.
fn ids(params: &MatchboxParams) -> HashMap<ParamPtr, String> {
    params
        .param_map()
        .into_iter()
        .map(|(id, ptr, _)| (ptr, id))
        .collect()
}

/// CLAP value of a change: nice-plug sends floats normalized and discrete values as steps.
fn clap_value(change: &ParamChange) -> f64 {
    match change.param {
        ParamPtr::FloatParam(_) => change.normalized as f64,
        _ => change.plain as f64,
    }
}

/// The CLAP values that set every parameter to `settings`, and the settings the plugin ends up
/// with from them (floats pass through normalized f32 values).
fn host_values(settings: &ChainSettings) -> (Vec<(String, f64)>, ChainSettings) {
    let params = MatchboxParams::default();
    let ids = ids(&params);
    let changes = params.changes_for(settings);
    for c in &changes {
        // SAFETY: `c.param` points into `params`, alive here. This is what nice-plug does with
        // a host's value.
        unsafe { c.param._internal_set_normalized_value(c.normalized) };
    }
    let values = changes
        .iter()
        .map(|c| (ids[&c.param].clone(), clap_value(c)))
        .collect();
    (values, params.to_settings())
}

/// A voice-like test signal: a 150 Hz buzz under decaying noise bursts every 60 ms.
fn signal(channels: usize, frames: usize, rate_hz: f64) -> Vec<Vec<f32>> {
    let mut seed = 0x2545_f491_u32;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let burst = (0.060 * rate_hz) as usize;
    let mono: Vec<f32> = (0..frames)
        .map(|n| {
            let t = n as f64 / rate_hz;
            let envelope = (-((n % burst) as f64) / (0.008 * rate_hz)).exp() as f32;
            0.2 * (2.0 * std::f64::consts::PI * 150.0 * t).sin() as f32 + 0.6 * envelope * noise()
        })
        .collect();
    (0..channels)
        .map(|c| mono.iter().map(|x| x * (1.0 - 0.3 * c as f32)).collect())
        .collect()
}

fn chain_output(
    settings: &ChainSettings,
    rate_hz: f32,
    input: &[Vec<f32>],
    block: usize,
) -> Vec<Vec<f32>> {
    let mut chain = Chain::new(settings, rate_hz);
    let mut out = input.to_vec();
    let frames = out[0].len();
    let mut start = 0;
    while start < frames {
        let end = (start + block).min(frames);
        let mut slices: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..end]).collect();
        chain.process(&mut slices);
        start = end;
    }
    out
}

fn max_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

fn first_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> Option<usize> {
    (0..a[0].len()).find(|&n| a.iter().zip(b).any(|(x, y)| x[n] != y[n]))
}

fn blocks(frames: usize, block: usize) -> Vec<(usize, Events)> {
    (0..frames.div_ceil(block))
        .map(|i| (block.min(frames - i * block), Vec::new()))
        .collect()
}

/// Settings that exercise every stage.
fn busy_settings() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.input_gain_db = 3.0;
    let bands = &mut s.eq.bands;
    bands[0].enabled = true;
    bands[0].kind = FilterKind::LowCut;
    bands[0].freq_hz = 80.0;
    bands[0].slope_db_per_oct = 24;
    bands[1].enabled = true;
    bands[1].freq_hz = 3_200.0;
    bands[1].gain_db = 4.5;
    bands[1].q = 1.4;
    bands[2].enabled = true;
    bands[2].kind = FilterKind::HighShelf;
    bands[2].freq_hz = 9_000.0;
    bands[2].gain_db = -3.0;
    let c = &mut s.compressor;
    c.enabled = true;
    c.threshold_db = -24.0;
    c.ratio = 6.0;
    c.attack_ms = 3.0;
    c.release_ms = 80.0;
    c.makeup_db = 4.0;
    c.detector = Detector::Rms;
    c.sidechain_hpf = true;
    s.output_gain_db = -1.5;
    s.ceiling.ceiling_db = -1.0;
    s
}

#[test]
fn parameters_are_listed_with_ranges_and_readable_text() {
    let mut plugin = Loaded::new();
    let host = plugin.params();
    let params = MatchboxParams::default();
    let map = params.param_map();
    assert_eq!(host.len(), map.len(), "host sees {} parameters", host.len());
    for (id, ptr, _) in &map {
        let p = host
            .get(&clap_id(id))
            .unwrap_or_else(|| panic!("{id} not listed"));
        // SAFETY: `ptr` points into `params`, alive here.
        let (name, steps, default) = unsafe {
            (
                ptr.name().to_owned(),
                ptr.step_count(),
                ptr.default_normalized_value(),
            )
        };
        assert_eq!(p.name, name);
        assert_eq!(p.min, 0.0, "{id}");
        assert_eq!(p.max, steps.unwrap_or(1) as f64, "{id}");
        let want_default = default as f64 * steps.unwrap_or(1) as f64;
        assert!(
            (p.default - want_default).abs() < 1e-6,
            "{id}: {} vs {want_default}",
            p.default
        );
    }
    assert_eq!(host[&clap_id("freq_3")].module, "Band 3");
    assert_eq!(host[&clap_id("thresh")].module, "Compressor");
    assert_eq!(host[&clap_id("ingain")].module, "");
    let thr = params.compressor.threshold_db.preview_normalized(-18.0) as f64;
    assert_eq!(plugin.text("thresh", thr), "-18.0 dB");
    assert_eq!(plugin.text("ratio", 1.0), "∞:1");
    let four = params.compressor.ratio.preview_normalized(4.0) as f64;
    assert_eq!(plugin.text("ratio", four), "4.0:1");
    let freq = params.bands[0].freq_hz.preview_normalized(3_200.0) as f64;
    assert_eq!(plugin.text("freq_1", freq), "3.20 kHz");
    assert_eq!(
        plugin.text(
            "attack",
            params.compressor.attack_ms.preview_normalized(12.0) as f64
        ),
        "12 ms"
    );
    let parsed = plugin.parse("freq_1", "3.20 kHz").unwrap();
    assert!((parsed - freq).abs() < 1e-6, "{parsed} vs {freq}");
    assert_eq!(plugin.parse("ratio", "inf"), Some(1.0));
    assert_eq!(plugin.parse("thresh", "loud"), None);
}

#[test]
fn reports_zero_latency() {
    let mut plugin = Loaded::new();
    let input = signal(2, 64, 48_000.0);
    let (_, latency) = plugin.run(48_000.0, &input, &blocks(64, 64));
    assert_eq!(latency, 0);
}

#[test]
fn output_equals_the_chain_with_the_same_settings() {
    let rate = 48_000.0;
    let settings = busy_settings();
    // Exact settings through the host state (as a project or preset restores them).
    let mut plugin = Loaded::new();
    assert!(plugin.load(&clap_state(&state_for(&settings))));
    let input = signal(2, 24_000, rate);
    let (out, _) = plugin.run(rate, &input, &blocks(24_000, 512));
    let want = chain_output(&settings, rate as f32, &input, 512);
    let diff = max_difference(&out, &want);
    println!("stereo, state: max |plugin - chain| = {diff:e}");
    assert!(diff <= 1e-6, "{diff}");
    assert!(
        max_difference(&out, &input) > 0.1,
        "the settings must change the sound"
    );

    // Settings as host automation values (normalized), mono.
    let (values, applied) = host_values(&settings);
    let mut plugin = Loaded::new();
    plugin.select_mono();
    plugin.flush(&values);
    let input = signal(1, 24_000, rate);
    let (out, _) = plugin.run(rate, &input, &blocks(24_000, 300));
    let want = chain_output(&applied, rate as f32, &input, 300);
    let diff = max_difference(&out, &want);
    println!("mono, host values: max |plugin - chain| = {diff:e}");
    assert!(diff <= 1e-6, "{diff}");
}

/// The live monitor's layout, one input to two outputs: both outputs carry the mono chain's
/// output (a DAW may pick it too).
#[test]
fn one_input_feeds_both_outputs() {
    let rate = 48_000.0;
    let settings = busy_settings();
    let mut plugin = Loaded::new();
    plugin.select_layout(1, 2);
    assert!(plugin.load(&clap_state(&state_for(&settings))));
    let input = signal(1, 24_000, rate);
    let (out, _) = plugin.run_io(rate, &input, 2, &blocks(24_000, 256));
    let want = chain_output(&settings, rate as f32, &input, 256);
    for (side, got) in ["left", "right"].iter().zip(&out) {
        let diff = max_difference(std::slice::from_ref(got), &want);
        assert!(diff <= 1e-6, "{side}: max |plugin - mono chain| = {diff}");
    }
    assert!(
        max_difference(&out[..1], &input) > 0.1,
        "the chain must act"
    );
}

#[test]
fn automation_event_takes_effect_at_its_sample() {
    let rate = 48_000.0;
    let params = MatchboxParams::default();
    let input = signal(2, 1024, rate);
    // Every stage active, so each kind of parameter has something to change.
    let state = clap_state(&state_for(&busy_settings()));
    let warm_up = (512, Vec::new());
    let comp = &params.compressor;
    let band = &params.bands[1];
    let cases = [
        ("outgn", params.output_gain_db.preview_normalized(-12.0)),
        ("ingain", params.input_gain_db.preview_normalized(9.0)),
        ("gain_2", band.gain_db.preview_normalized(-9.0)),
        ("freq_2", band.freq_hz.preview_normalized(700.0)),
        ("q_2", band.q.preview_normalized(5.0)),
        ("on_3", 0.0),
        ("thresh", comp.threshold_db.preview_normalized(-40.0)),
        ("ratio", 1.0),
        ("mix", comp.mix_pct.preview_normalized(40.0)),
        ("comp", 0.0),
    ];
    for k in [1u32, 200, 511] {
        for (id, value) in cases {
            let value = value as f64;
            // A fresh instance for each run: an event changes the parameter for good.
            let run = |blocks: &[(usize, Events)]| {
                let mut plugin = Loaded::new();
                assert!(plugin.load(&state));
                plugin.run(rate, &input, blocks).0
            };
            let one_block = run(&[warm_up.clone(), (512, vec![(k, id.to_owned(), value)])]);
            let split_blocks = run(&[
                warm_up.clone(),
                (k as usize, Vec::new()),
                (512 - k as usize, vec![(0, id.to_owned(), value)]),
            ]);
            let untouched = run(&[warm_up.clone(), (512, Vec::new())]);
            let first = first_difference(&one_block, &untouched);
            let offset = first.map(|n| n as i64 - 512);
            let diff = max_difference(&one_block, &split_blocks);
            println!(
                "{id} event at offset {k}: output changes from offset {offset:?}; \
                 |event - split block| = {diff:e}"
            );
            assert_eq!(first, Some(512 + k as usize), "{id} at {k}");
            assert!(
                diff <= 1e-6,
                "{id} at {k}: event vs split block differ by {diff}"
            );
        }
    }
}

#[test]
fn saved_state_gives_identical_sound_in_a_fresh_instance() {
    let rate = 44_100.0;
    let mut settings = busy_settings();
    settings.compressor.ratio = f32::INFINITY;
    settings.eq.bands[5].enabled = true;
    settings.eq.bands[5].kind = FilterKind::Notch;
    settings.eq.bands[5].freq_hz = 1_234.5;
    let (values, _) = host_values(&settings);
    let input = signal(2, 20_000, rate);
    let mut first = Loaded::new();
    first.flush(&values);
    let (want, _) = first.run(rate, &input, &blocks(20_000, 441));
    let state = first.save();

    let mut fresh = Loaded::new();
    assert!(fresh.load(&state));
    let (got, _) = fresh.run(rate, &input, &blocks(20_000, 441));
    assert_eq!(max_difference(&got, &want), 0.0);
    for (id, _) in &values {
        assert_eq!(fresh.value(id), first.value(id), "{id}");
    }
}

#[test]
fn old_state_is_migrated_and_garbage_is_refused() {
    let rate = 48_000.0;
    let input = signal(2, 4_800, rate);
    let mut plugin = Loaded::new();
    let settings = busy_settings();
    assert!(plugin.load(&clap_state(&state_for(&settings))));
    let (before, _) = plugin.run(rate, &input, &blocks(4_800, 480));
    let values_before: Vec<f64> = ["thresh", "freq_2", "ceil", "type_1"]
        .iter()
        .map(|id| plugin.value(id))
        .collect();

    // Not JSON at all, an empty stream, and well-formed JSON with values out of range or of
    // the wrong kind: refused, nothing changes.
    assert!(!plugin.load(b"\x00\x9f garbage \xff"));
    assert!(!plugin.load(b""));
    for (id, value) in [
        ("gain_2", serde_json::json!({"f32": 99.0})),
        ("slp_1", serde_json::json!({"i32": 7})),
        ("ceil", serde_json::json!({"f32": 1.0})),
    ] {
        let mut state = serde_json::to_value(state_for(&ChainSettings::default())).unwrap();
        state["params"][id] = value;
        plugin.load(&clap_state(&state));
    }
    let values_after: Vec<f64> = ["thresh", "freq_2", "ceil", "type_1"]
        .iter()
        .map(|id| plugin.value(id))
        .collect();
    assert_eq!(values_after, values_before);
    let (after, _) = plugin.run(rate, &input, &blocks(4_800, 480));
    assert_eq!(max_difference(&after, &before), 0.0);

    // Layout 0 (no version marker, no ceiling): the ceiling stays off to keep its sound.
    let mut v0 = serde_json::to_value(state_for(&settings)).unwrap();
    v0["fields"] = serde_json::json!({});
    v0["params"].as_object_mut().unwrap().remove("ceil");
    v0["params"].as_object_mut().unwrap().remove("ceildb");
    let mut fresh = Loaded::new();
    assert_eq!(fresh.value("ceil"), 1.0);
    assert!(fresh.load(&clap_state(&v0)));
    assert_eq!(fresh.value("ceil"), 0.0);
    let saved: serde_json::Value = serde_json::from_slice(&fresh.save()[8..]).unwrap();
    assert_eq!(saved["fields"]["stver"], "1");
}

#[test]
fn random_blocks_rates_and_automation_give_finite_output() {
    let params = MatchboxParams::default();
    let ids: Vec<String> = params
        .param_map()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let mut seed = 0x9e37_79b9_u32;
    let mut next = move |n: u32| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed % n
    };
    for rate in [
        22_050.0, 32_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 176_400.0, 192_000.0,
    ] {
        let mut run: Vec<(usize, Events)> = Vec::new();
        for _ in 0..24 {
            let frames = 1 + next(4096) as usize;
            let mut events = (0..next(4))
                .map(|_| {
                    let id = ids[next(ids.len() as u32) as usize].clone();
                    let (_, ptr, _) = params.param_map().into_iter().find(|p| p.0 == id).unwrap();
                    // SAFETY: points into `params`, alive here.
                    let steps = unsafe { ptr.step_count() };
                    let value = match steps {
                        Some(n) => next(n as u32 + 1) as f64,
                        None => next(1001) as f64 / 1000.0,
                    };
                    (next(frames as u32), id, value)
                })
                .collect::<Vec<_>>();
            events.sort_by_key(|e| e.0);
            run.push((frames, events));
        }
        let total = run.iter().map(|b| b.0).sum();
        let mut input = signal(2, total, rate);
        // Denormals, silence and full scale in the input too.
        for (n, x) in input[0].iter_mut().enumerate().take(total / 3) {
            *x = if n % 2 == 0 { 1e-39 } else { 0.0 };
        }
        input[1]
            .iter_mut()
            .skip(total / 2)
            .step_by(97)
            .for_each(|x| *x = 1.0);
        let mut plugin = Loaded::new();
        let (out, _) = plugin.run(rate, &input, &run);
        let bad = out.iter().flatten().filter(|x| !x.is_finite()).count();
        assert_eq!(bad, 0, "{bad} non-finite samples at {rate} Hz");
        assert_eq!(out[0].len(), total);
    }
}

#[test]
fn bundle_checks_the_audio_thread_for_allocations() {
    // nice-plug's allocation checker is compiled in only with debug assertions and
    // `assert_process_allocs`; its failure message is then part of the binary.
    let bytes = std::fs::read(bundle()).unwrap();
    let marker = b"bytes failed from:";
    assert!(
        bytes.windows(marker.len()).any(|w| w == marker),
        "{} is not a debug bundle with allocation checks: \
         `cargo xtask bundle matchbox --features assert_process_allocs`",
        bundle().display()
    );
}
