//! Matchbox as a CLAP and VST3 plugin (nice-plug). Thin: host parameters → [`ChainSettings`] →
//! [`Chain`]; everything that sounds lives in [`crate::dsp`].
//!
//! Automation is sample-accurate: nice-plug splits each block at parameter events, and every
//! piece starts by handing the current settings to the chain, which glides to them from that
//! sample on (the chain smooths internally, so the parameters themselves are not smoothed).

pub mod choices;
pub mod explain;
pub mod format;
pub mod live;
pub mod params;
pub mod preset;
pub mod state;
pub mod table;
pub mod taps;

use crate::dsp::{Chain, ChainMeters, ChainSettings};
use nice_plug::prelude::*;
use params::MatchboxParams;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Matchbox has no lookahead: the host needs no delay compensation.
pub const LATENCY_SAMPLES: u32 = 0;

/// Sample rate the chain is built for before the host activates the plugin, Hz.
const DEFAULT_SAMPLE_RATE_HZ: f32 = 48_000.0;

/// The plugin instance.
pub struct Matchbox {
    params: Arc<MatchboxParams>,
    chain: Chain,
    /// The settings last handed to `chain`, to skip unchanged ones.
    applied: ChainSettings,
    /// Waiting for a preset's values to arrive ([`preset::PresetGate`]).
    preset_wait: preset::PresetWait,
    /// [`preset::PRESET_TIMEOUT_MS`] at the current sample rate, samples.
    preset_timeout_frames: u64,
    /// One input channel feeding two outputs (the live monitor's microphone layout): the chain
    /// runs on the input and both outputs get the result.
    mono_to_stereo: bool,
    /// What runs around the chain: the live monitor's extras, the editor's scope.
    taps: taps::Taps,
    /// The live monitor's remote control (`--remote`): parameter changes from its pages.
    remote: Option<live::RemoteLink>,
    /// The sample rate the chain runs at, as f32 bits (for the editor's curves).
    sample_rate: Arc<AtomicU32>,
    /// What the editor is handed; `None` without a GUI (`--headless`, or built without it).
    #[cfg(feature = "gui")]
    editor: Option<Arc<crate::editor::EditorShared>>,
}

impl Default for Matchbox {
    fn default() -> Self {
        let mut setup = live::take();
        let remote = setup.as_mut().and_then(|s| s.remote.take());
        let settings = setup
            .as_ref()
            .map_or_else(ChainSettings::default, |s| s.settings.clone());
        let params = Arc::new(MatchboxParams::new(&settings));
        let applied = params.to_settings();
        let chain = Chain::new(&applied, DEFAULT_SAMPLE_RATE_HZ);
        let sample_rate = Arc::new(AtomicU32::new(DEFAULT_SAMPLE_RATE_HZ.to_bits()));
        #[cfg(feature = "gui")]
        let editor = (!setup.as_ref().is_some_and(|s| s.headless)).then(|| {
            Arc::new(crate::editor::EditorShared {
                params: params.clone(),
                meters: chain.meters(),
                sample_rate: sample_rate.clone(),
                scope: Default::default(),
                live: setup.as_ref().map(|s| (s.load.clone(), s.dropouts.clone())),
                repaint: Default::default(),
                state: setup
                    .as_ref()
                    .map_or_else(crate::editor::initial_state, |s| s.editor_state.clone()),
            })
        });
        if let Some(remote) = &remote {
            let _ = remote.shared.plugin.set(live::PluginHandles {
                params: params.clone(),
                meters: chain.meters(),
                sample_rate: sample_rate.clone(),
            });
        }
        let (taps, scope) = taps::Taps::new(setup);
        #[cfg(feature = "gui")]
        if let Some(editor) = &editor {
            *editor.scope.lock().unwrap_or_else(|e| e.into_inner()) = Some(scope);
        }
        #[cfg(not(feature = "gui"))]
        drop(scope);
        Self {
            chain,
            params,
            applied,
            preset_wait: Default::default(),
            preset_timeout_frames: frames_for_ms(preset::PRESET_TIMEOUT_MS, DEFAULT_SAMPLE_RATE_HZ),
            mono_to_stereo: false,
            taps,
            remote,
            sample_rate,
            #[cfg(feature = "gui")]
            editor,
        }
    }
}

fn frames_for_ms(ms: f64, sample_rate: f32) -> u64 {
    (ms * 1e-3 * sample_rate as f64).round() as u64
}

impl Matchbox {
    /// Levels for the editor's meters (published only while an editor is open).
    pub fn meters(&self) -> Arc<ChainMeters> {
        self.chain.meters()
    }

    /// Whether an editor window is open: then the chain meters and the scope runs.
    fn editor_open(&self) -> bool {
        #[cfg(feature = "gui")]
        return self.editor.as_ref().is_some_and(|e| e.state.is_open());
        #[cfg(not(feature = "gui"))]
        false
    }
}

impl Plugin for Matchbox {
    const NAME: &'static str = "Matchbox";
    const VENDOR: &'static str = "Matchbox";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    /// Stereo → stereo first (what DAWs pick), then mono → mono, then one microphone → both
    /// ears ([`LAYOUT_MONO_TO_STEREO`], the live monitor's default).
    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    #[cfg(feature = "gui")]
    type Editor = nice_plug_egui::EguiEditor<crate::editor::EditorApp>;
    #[cfg(not(feature = "gui"))]
    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    #[cfg(feature = "gui")]
    fn editor(&mut self, _executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        crate::editor::create(self.editor.clone()?)
    }

    fn filter_state(state: &mut PluginState) {
        if let Err(e) = state::migrate_and_check(state) {
            nice_warn!("Refusing plugin state, keeping the current settings: {e}");
        }
    }

    fn activate(
        &mut self,
        layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        context.set_latency_samples(LATENCY_SAMPLES);
        self.mono_to_stereo = layout.main_input_channels.map(NonZeroU32::get) == Some(1)
            && layout.main_output_channels.map(NonZeroU32::get) == Some(2);
        self.preset_timeout_frames =
            frames_for_ms(preset::PRESET_TIMEOUT_MS, buffer_config.sample_rate);
        self.sample_rate
            .store(buffer_config.sample_rate.to_bits(), Ordering::Relaxed);
        self.applied = self.params.to_settings();
        self.chain.set_settings(&self.applied);
        self.chain.set_bypass(self.params.bypass.value());
        // `prepare` resets, so the chain starts at these settings without a glide.
        self.chain.prepare(buffer_config.sample_rate);
        true
    }

    fn reset(&mut self) {
        // A reset starts at the bypass state the host has set, without a fade.
        self.chain.set_bypass(self.params.bypass.value());
        self.chain.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let editor_open = self.editor_open();
        // The remote's changes first, so the chain reads them in this very block.
        let remote_changed = self
            .remote
            .as_mut()
            .is_some_and(|r| r.apply(self.chain.sample_rate()));
        let remote_watching = self
            .remote
            .as_ref()
            .is_some_and(|r| r.shared.watching.load(Ordering::Relaxed));
        self.chain.set_metering(editor_open || remote_watching);
        // Called once per sample-accurate piece: a change at sample k starts here, at k.
        let settings = self.params.to_settings();
        let admitted = self.params.preset_gate.admits(
            buffer.samples(),
            self.preset_timeout_frames,
            &mut self.preset_wait,
        );
        if admitted && settings != self.applied {
            self.chain.set_settings(&settings);
            self.applied = settings;
        }
        self.chain.set_bypass(self.params.bypass.value());
        let started = self.taps.load.as_ref().map(|_| Instant::now());
        let frames = buffer.samples();
        let (chain, mono_to_stereo) = (&mut self.chain, self.mono_to_stereo);
        let inputs = if mono_to_stereo { 1 } else { 2 };
        self.taps
            .run(buffer.as_slice(), inputs, editor_open, |channels| {
                process_layout(chain, channels, mono_to_stereo)
            });
        if let (Some(load), Some(started)) = (&self.taps.load, started) {
            load.record(started.elapsed(), frames, self.chain.sample_rate());
        }
        // Something to show, or a value the remote changed: the window redraws at its next
        // poll (an atomic store).
        #[cfg(feature = "gui")]
        if editor_open
            && (self.chain.last_peak() > SHOW_LEVEL || remote_changed)
            && let Some(editor) = &self.editor
        {
            editor.repaint.request_repaint();
        }
        #[cfg(not(feature = "gui"))]
        let _ = remote_changed;
        ProcessStatus::Normal
    }
}

/// Below this peak (−80 dBFS) a block has nothing for the editor to show.
#[cfg(feature = "gui")]
const SHOW_LEVEL: f32 = 1e-4;

/// Index of the one-microphone layout in [`Matchbox::AUDIO_IO_LAYOUTS`] (1 in → 2 out), 0-based.
pub const LAYOUT_MONO_TO_STEREO: usize = 2;
/// Index of the stereo layout (2 in → 2 out), 0-based.
pub const LAYOUT_STEREO: usize = 0;

/// Run `chain` over `channels` as the layout asks: with one input feeding two outputs, the
/// chain processes the first channel and the second gets a copy.
fn process_layout(chain: &mut Chain, channels: &mut [&mut [f32]], mono_to_stereo: bool) {
    if mono_to_stereo && channels.len() >= 2 {
        let (first, rest) = channels.split_at_mut(1);
        chain.process(first);
        rest[0].copy_from_slice(first[0]);
    } else {
        chain.process(channels);
    }
}

impl ClapPlugin for Matchbox {
    const CLAP_ID: &'static str = "audio.matchbox.matchbox";
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("EQ + compressor for beatbox and voice that learns from a reference recording");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Equalizer,
        ClapFeature::Compressor,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for Matchbox {
    const VST3_CLASS_ID: [u8; 16] = *b"MatchboxEqComp01";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Eq,
        Vst3SubCategory::Dynamics,
    ];
}
