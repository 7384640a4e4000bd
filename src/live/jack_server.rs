//! The JACK server as the live monitor sees it: its rate and period (the plugin must be
//! prepared at those, whatever the command line says), its capture and playback ports, and a
//! small client of our own that stays connected while Matchbox runs to count the server's
//! xruns and notice when the server goes away.

use super::LiveError;
use super::figures::Dropouts;
use jack::{Client, ClientOptions, ClientStatus, Control, LatencyType, PortFlags};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Name of the client nice-plug's wrapper opens for Matchbox (`P::NAME` lower-cased).
pub const PLUGIN_CLIENT: &str = "matchbox";
/// Name of the monitoring client (no ports; callbacks only).
pub const MONITOR_CLIENT: &str = "matchbox-monitor";
/// JACK's type name for audio ports.
const AUDIO_TYPE: &str = "32 bit float mono audio";

/// What a running server looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct JackInfo {
    /// Sample rate, Hz.
    pub sample_rate: u32,
    /// Period (buffer size), frames.
    pub period: u32,
    /// Physical capture ports (microphones), in order.
    pub capture_ports: Vec<String>,
    /// Physical playback ports (speakers, headphones), in order.
    pub playback_ports: Vec<String>,
    /// Latency the server reports for the first capture port plus the first playback port,
    /// frames: what the hardware path adds around any client.
    pub hardware_latency_frames: u32,
}

/// What the monitoring client learns from JACK's callback thread.
#[derive(Debug, Default)]
pub struct ServerEvents {
    /// The server shut the client down (stopped, crashed, or kicked us out).
    pub shut_down: AtomicBool,
}

/// A connection to the running server, kept open for the whole live session.
pub struct JackMonitor {
    client: jack::AsyncClient<MonitorHandler, ()>,
    pub events: Arc<ServerEvents>,
}

struct MonitorHandler {
    events: Arc<ServerEvents>,
    dropouts: Arc<Dropouts>,
}

impl jack::NotificationHandler for MonitorHandler {
    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        // Async-signal context: an atomic store only.
        self.events.shut_down.store(true, Ordering::SeqCst);
    }

    fn xrun(&mut self, _: &Client) -> Control {
        self.dropouts.jack_xruns.fetch_add(1, Ordering::Relaxed);
        Control::Continue
    }
}

/// Silence libjack's own messages ("Cannot connect to server socket…"): every failure is
/// reported by Matchbox in one line of its own. Process-wide; call before any client opens.
pub fn quiet_libjack() {
    jack::set_logger(jack::LoggerType::None);
}

/// Connect to the running JACK server (never starting one). `Ok(None)` when no server runs
/// or libjack is not installed.
pub fn connect() -> Option<Client> {
    quiet_libjack();
    match Client::new(MONITOR_CLIENT, ClientOptions::NO_START_SERVER) {
        Ok((client, status)) if !status.contains(ClientStatus::SERVER_FAILED) => Some(client),
        _ => None,
    }
}

/// The server's settings and ports, read through `client`.
pub fn info(client: &Client) -> JackInfo {
    let physical =
        |flag: PortFlags| client.ports(None, Some(AUDIO_TYPE), PortFlags::IS_PHYSICAL | flag);
    // A physical *output* port carries audio from the hardware: a capture port.
    let capture_ports = physical(PortFlags::IS_OUTPUT);
    let playback_ports = physical(PortFlags::IS_INPUT);
    let latency = |ports: &[String], mode| {
        ports
            .first()
            .and_then(|name| client.port_by_name(name))
            .map_or(0, |port| port.get_latency_range(mode).1)
    };
    JackInfo {
        sample_rate: client.sample_rate(),
        period: client.buffer_size(),
        hardware_latency_frames: latency(&capture_ports, LatencyType::Capture)
            + latency(&playback_ports, LatencyType::Playback),
        capture_ports,
        playback_ports,
    }
}

/// Whether another Matchbox already has its client on this server: the wrapper would fail
/// with a bare status code, so say it first.
pub fn plugin_client_exists(client: &Client) -> bool {
    !client
        .ports(
            Some(&format!("^{PLUGIN_CLIENT}:")),
            None,
            PortFlags::empty(),
        )
        .is_empty()
}

/// Every port that can feed Matchbox's input: physical capture ports first, then other
/// clients' outputs. Used to check `--connect-input` and to list choices in its error.
pub fn source_ports(client: &Client) -> Vec<String> {
    let mut ports = client.ports(None, Some(AUDIO_TYPE), PortFlags::IS_OUTPUT);
    ports.retain(|p| !p.starts_with(&format!("{PLUGIN_CLIENT}:")));
    ports.sort_by_key(|p| {
        !client
            .port_by_name(p)
            .is_some_and(|port| port.flags().contains(PortFlags::IS_PHYSICAL))
    });
    ports
}

impl JackMonitor {
    /// Activate `client` as the monitor: from now on it counts the server's xruns into
    /// `dropouts` and notices a shutdown.
    pub fn start(client: Client, dropouts: Arc<Dropouts>) -> Result<Self, LiveError> {
        let events = Arc::new(ServerEvents::default());
        let handler = MonitorHandler {
            events: events.clone(),
            dropouts,
        };
        let client = client
            .activate_async(handler, ())
            .map_err(|e| LiveError::Server(format!("cannot start the JACK monitor client: {e}")))?;
        Ok(Self { client, events })
    }

    /// The server's DSP load, 0…1: the share of each cycle the server and all its clients
    /// use (JACK's own smoothed reading).
    pub fn server_load(&self) -> f64 {
        f64::from(self.client.as_client().cpu_load()) / 100.0
    }
}
