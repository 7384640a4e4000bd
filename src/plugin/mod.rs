//! Matchbox as a CLAP and VST3 plugin (nice-plug). Thin: host parameters → [`ChainSettings`] →
//! [`Chain`]; everything that sounds lives in [`crate::dsp`].
//!
//! Automation is sample-accurate: nice-plug splits each block at parameter events, and every
//! piece starts by handing the current settings to the chain, which glides to them from that
//! sample on (the chain smooths internally, so the parameters themselves are not smoothed).

pub mod choices;
pub mod format;
pub mod params;
pub mod preset;
pub mod state;
pub mod table;

use crate::dsp::{Chain, ChainMeters, ChainSettings};
use nice_plug::prelude::*;
use params::MatchboxParams;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Whether an editor is open, so the chain publishes meters. The GUI issue sets it from the
    /// editor's lifetime; until then it stays false and metering costs nothing.
    editor_open: Arc<AtomicBool>,
}

impl Default for Matchbox {
    fn default() -> Self {
        let params = Arc::new(MatchboxParams::default());
        let applied = params.to_settings();
        Self {
            chain: Chain::new(&applied, DEFAULT_SAMPLE_RATE_HZ),
            params,
            applied,
            preset_wait: Default::default(),
            preset_timeout_frames: frames_for_ms(preset::PRESET_TIMEOUT_MS, DEFAULT_SAMPLE_RATE_HZ),
            editor_open: Arc::new(AtomicBool::new(false)),
        }
    }
}

fn frames_for_ms(ms: f64, sample_rate: f32) -> u64 {
    (ms * 1e-3 * sample_rate as f64).round() as u64
}

impl Matchbox {
    /// Levels for the editor's meters (published only while `editor_open` is set).
    pub fn meters(&self) -> Arc<ChainMeters> {
        self.chain.meters()
    }
}

impl Plugin for Matchbox {
    const NAME: &'static str = "Matchbox";
    const VENDOR: &'static str = "Matchbox";
    const URL: &'static str = "";
    const EMAIL: &'static str = "";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

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
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = true;

    type Editor = ();
    type SysExMessage = ();
    type BackgroundTask = ();

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn filter_state(state: &mut PluginState) {
        if let Err(e) = state::migrate_and_check(state) {
            nice_warn!("Refusing plugin state, keeping the current settings: {e}");
        }
    }

    fn activate(
        &mut self,
        _layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        context: &mut impl ActivateContext<Self>,
    ) -> bool {
        context.set_latency_samples(LATENCY_SAMPLES);
        self.preset_timeout_frames =
            frames_for_ms(preset::PRESET_TIMEOUT_MS, buffer_config.sample_rate);
        self.applied = self.params.to_settings();
        self.chain.set_settings(&self.applied);
        // `prepare` resets, so the chain starts at these settings without a glide.
        self.chain.prepare(buffer_config.sample_rate);
        true
    }

    fn reset(&mut self) {
        self.chain.reset();
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        _context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        self.chain
            .set_metering(self.editor_open.load(Ordering::Relaxed));
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
        self.chain.process(buffer.as_slice());
        ProcessStatus::Normal
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
