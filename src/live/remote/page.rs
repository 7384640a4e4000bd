//! One page's WebSocket session, on its own thread: requests in (checked, then into the
//! audio thread's ring), frames out at the sampler's pace. Everything is bounded: a message
//! is at most [`MAX_MESSAGE_BYTES`]; what waits to be sent to a page that does not read is at
//! most one frame plus the kernel's socket buffer, since frames are skipped while the socket
//! is full; a page that reads nothing for [`STALL_LIMIT`], or says nothing (not even a pong)
//! for [`SILENCE_LIMIT`], is dropped.

use super::hub::{FRAME, Hub};
use super::protocol::{self, Controls, Numbered, PresetChoice, Refusal, Request};
use crate::plugin::params::ParamChange;
use crate::preset;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Error, Message, WebSocket};

/// The largest message (and frame) a page may send, bytes: a request is a few dozen.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The most that may wait in the session's own write buffer, bytes (a few frames).
const MAX_BACKLOG_BYTES: usize = 64 * 1024;
/// How long one write may block before the frame is left for later.
const WRITE_WAIT: Duration = Duration::from_millis(20);
/// A page whose socket stays full this long is dropped.
pub const STALL_LIMIT: Duration = Duration::from_secs(10);
/// A page silent this long (no request, no pong to the pings) is dropped.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// How often the page is pinged.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a new page waits for the plugin to exist.
const PLUGIN_WAIT: Duration = Duration::from_secs(10);

/// What became of a write.
enum Sent {
    Done,
    /// The socket is full: the frame waits in the buffer, or was dropped.
    Blocked,
    Closed,
}

fn would_block(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn send(ws: &mut WebSocket<TcpStream>, text: String) -> Sent {
    match ws.send(Message::text(text)) {
        Ok(()) => Sent::Done,
        Err(Error::Io(e)) if would_block(&e) => Sent::Blocked,
        Err(Error::WriteBufferFull(_)) => Sent::Blocked,
        Err(_) => Sent::Closed,
    }
}

/// Run a page's session on `stream` (already upgraded; `rest`: bytes read past the request)
/// until it closes, fails or is dropped.
pub fn run(hub: &Hub, stream: TcpStream, rest: Vec<u8>) {
    let _ = stream.set_write_timeout(Some(WRITE_WAIT));
    let config = WebSocketConfig::default()
        .read_buffer_size(MAX_MESSAGE_BYTES)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_BACKLOG_BYTES)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let mut ws = WebSocket::from_partially_read(stream, rest, Role::Server, Some(config));
    let Some(controls) = hub.wait_for_controls(PLUGIN_WAIT) else {
        close(&mut ws, CloseCode::Again, "Matchbox is not running yet");
        return;
    };
    let presets = protocol::preset_choices();
    if let Sent::Closed = send(&mut ws, hub.hello(controls, &presets)) {
        return;
    }
    let mut session = Session {
        hub,
        controls,
        presets,
        sent_values: 0,
        sent_meters: 0,
        blocked_since: None,
        last_heard: Instant::now(),
        last_ping: Instant::now(),
    };
    session.run(&mut ws);
}

struct Session<'a> {
    hub: &'a Hub,
    controls: &'a Controls,
    presets: Vec<PresetChoice>,
    sent_values: u64,
    sent_meters: u64,
    blocked_since: Option<Instant>,
    last_heard: Instant,
    last_ping: Instant,
}

impl Session<'_> {
    fn run(&mut self, ws: &mut WebSocket<TcpStream>) {
        loop {
            // Wake just after the sampler's next frame, or at a message.
            let wait = self.hub.until_next_frame() + Duration::from_millis(2);
            let _ = ws.get_ref().set_read_timeout(Some(wait.min(FRAME * 2)));
            match ws.read() {
                Ok(Message::Text(text)) => {
                    self.last_heard = Instant::now();
                    let reply = self.handle(text.as_str());
                    if let Sent::Closed = send(ws, reply) {
                        return;
                    }
                }
                Ok(Message::Binary(_)) => {
                    self.last_heard = Instant::now();
                    let refusal = Refusal {
                        seq: None,
                        message: "binary messages are not understood; send JSON text; nothing \
                                  changed"
                            .into(),
                    };
                    if let Sent::Closed = send(ws, refusal.to_message()) {
                        return;
                    }
                }
                Ok(_) => self.last_heard = Instant::now(),
                Err(Error::Io(e)) if would_block(&e) => {}
                Err(Error::Capacity(_)) => {
                    let limit = format!("messages are at most {MAX_MESSAGE_BYTES} bytes");
                    close(ws, CloseCode::Size, &limit);
                    return;
                }
                Err(Error::Utf8(_)) => {
                    close(ws, CloseCode::Invalid, "text must be UTF-8");
                    return;
                }
                Err(_) => return,
            }
            if !self.keep_up(ws) {
                return;
            }
        }
    }

    /// Send what is new, ping, and drop a page that stopped reading or talking. Whether the
    /// session goes on.
    fn keep_up(&mut self, ws: &mut WebSocket<TcpStream>) -> bool {
        let now = Instant::now();
        if let Some(since) = self.blocked_since {
            match ws.flush() {
                Ok(()) => self.blocked_since = None,
                Err(Error::Io(e)) if would_block(&e) => {
                    // Frames are skipped while the page does not read.
                    return now - since < STALL_LIMIT;
                }
                Err(_) => return false,
            }
        }
        if now - self.last_heard > SILENCE_LIMIT {
            close(ws, CloseCode::Away, "no answer to pings");
            return false;
        }
        let frames = self.hub.frames();
        let mut out = Vec::with_capacity(3);
        if let Some((n, text)) = frames.values.filter(|(n, _)| *n != self.sent_values) {
            self.sent_values = n;
            out.push(Message::text(text.to_string()));
        }
        if let Some((n, text)) = frames.meters.filter(|(n, _)| *n != self.sent_meters) {
            self.sent_meters = n;
            out.push(Message::text(text.to_string()));
        }
        if now - self.last_ping > PING_EVERY {
            self.last_ping = now;
            out.push(Message::Ping(Default::default()));
        }
        for message in out {
            match ws.send(message) {
                Ok(()) => {}
                Err(Error::Io(e)) if would_block(&e) => {
                    self.blocked_since = Some(now);
                    break;
                }
                Err(Error::WriteBufferFull(_)) => {
                    self.blocked_since.get_or_insert(now);
                    break;
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// One request: checked, applied (all of it or nothing), answered.
    fn handle(&mut self, text: &str) -> String {
        let arrived = Instant::now();
        let Numbered { seq, request } = match protocol::parse(text, self.controls) {
            Ok(n) => n,
            Err(refusal) => return refusal.to_message(),
        };
        let refuse = |message: String| {
            Refusal {
                seq,
                message: format!("{message}; nothing changed"),
            }
            .to_message()
        };
        let (changes, preset_name) = match request {
            Request::Set(change) => (vec![change], None),
            Request::Preset(id) => match self.preset_changes(&id) {
                Ok((changes, name)) => (changes, Some(name)),
                Err(message) => return refuse(message),
            },
        };
        let count = match self.hub.push(&changes) {
            Ok(count) => count,
            Err(_) => {
                return refuse("the audio thread is not taking changes now; try again".into());
            }
        };
        let applied = self.hub.wait_applied(count);
        let audio_ms = arrived.elapsed().as_secs_f64() * 1e3;
        match preset_name {
            Some(name) => self.hub.set_preset(name),
            None => self.hub.refresh_values(),
        }
        protocol::ack_message(seq, applied, audio_ms)
    }

    /// Every change preset `id` makes, and its name; an error when it is not on offer or does
    /// not load.
    fn preset_changes(&mut self, id: &str) -> Result<(Vec<ParamChange>, String), String> {
        // The list as it is now (the user may have saved one since the page opened).
        self.presets = protocol::preset_choices();
        let quoted = serde_json::to_string(id).unwrap_or_default();
        let choice = self
            .presets
            .iter()
            .find(|p| p.id() == id)
            .ok_or_else(|| format!("no preset {quoted} (the hello message lists them)"))?;
        let loaded = match choice {
            PresetChoice::Factory(name) => preset::find_factory(name).map(|(_, p)| p),
            PresetChoice::User(path) => preset::load(path),
        }
        .map_err(|e| e.to_string())?;
        Ok((
            self.controls.params().changes_for(&loaded.settings),
            choice.label(),
        ))
    }
}

fn close(ws: &mut WebSocket<TcpStream>, code: CloseCode, reason: &str) {
    let _ = ws.close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }));
    let _ = ws.flush();
}
