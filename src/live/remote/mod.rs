//! `matchbox live --remote`: a web page, served by the live monitor itself, that shows the
//! compressor at work (transfer curve with the live level, gain reduction, meters, DSP load
//! and xruns) and turns it (threshold, ratio, knee, attack, release, makeup, mix, output gain,
//! bypass, compressor on/off, presets) from a phone or another computer.
//!
//! The page (`page.html`, `page.css`, `page.js`) is embedded in the binary and loads nothing
//! else. Threads, no async runtime: one accepts connections, one per connection serves it
//! ([`http`] for the page and the upgrade, [`page`] for the WebSocket session), one makes the
//! meter frames ([`hub`]). A page's change is checked against the parameter's range
//! ([`protocol`]) and goes to the audio thread through a lock-free ring that the plugin empties
//! at the start of each `process` call, so it is heard within one period (plus the network).
//!
//! Safe by default: off unless asked; on loopback unless an address is given; a 128-bit token
//! ([`token`]) in the URL, compared in constant time; cross-origin sockets refused; every
//! queue, buffer, message and the number of connections bounded.
//!
//! The threads are never joined: the session ends the process (see [`super::run`]), and
//! nothing here holds what that needs.

pub mod http;
pub mod hub;
pub mod page;
pub mod protocol;
pub mod token;

use super::LiveError;
use crate::plugin::live::{Dropouts, ProcessLoad, RemoteLink};
use http::Status;
use hub::Hub;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use token::Token;

/// The port `--remote` listens on when none is given.
pub const DEFAULT_PORT: u16 = 7878;
/// At most this many pages at once.
pub const MAX_PAGES: usize = 64;
/// At most this many connections at once (pages, page loads, refusals being written).
pub const MAX_CONNECTIONS: usize = MAX_PAGES + 16;
/// How long a client may take to send its request, and to take the answer.
const REQUEST_WAIT: Duration = Duration::from_secs(5);

/// The page, its styles and script put together once (all inline: one request).
fn page_text() -> String {
    include_str!("page.html")
        .replace("/*STYLE*/", include_str!("page.css"))
        .replace("/*SCRIPT*/", include_str!("page.js"))
}

/// What `--remote` asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOptions {
    pub addr: SocketAddr,
    /// `--remote-token-file`: a fixed token instead of a new one each start.
    pub token_file: Option<PathBuf>,
}

/// `--remote`'s value: `ADDR:PORT`, `ADDR` (port [`DEFAULT_PORT`]) or `:PORT` / `PORT`
/// (loopback). Port 0: any free port (the URL printed says which).
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let port = |p: &str| p.parse::<u16>().ok();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    if let Some(p) = port(text.strip_prefix(':').unwrap_or(text)) {
        return Ok(SocketAddr::new(loopback, p));
    }
    Err(format!(
        "--remote {}: give ADDR:PORT (127.0.0.1:{DEFAULT_PORT}, 0.0.0.0:{DEFAULT_PORT} for \
         every network interface), an address, or a port",
        crate::text::escape(text)
    ))
}

/// A running remote control: what to tell the user.
pub struct Remote {
    /// The lines to print: the URL(s), the QR code, a warning beyond loopback.
    pub announcement: String,
    /// One line for stderr when the page is reachable from the network.
    pub warning: Option<String>,
}

impl Remote {
    /// Listen on `options.addr` and serve. `ring` is the server's end of the plugin's
    /// [`RemoteLink`] (whose `shared` half is read here). Fails when the address cannot be
    /// listened on or the token cannot be made.
    pub fn start(
        options: &RemoteOptions,
        ring: rtrb::Producer<crate::plugin::params::ParamChange>,
        link: &RemoteLink,
        load: Arc<ProcessLoad>,
        dropouts: Arc<Dropouts>,
    ) -> Result<Remote, LiveError> {
        let token = match &options.token_file {
            Some(path) => Token::from_file(path).map_err(LiveError::Usage)?,
            None => Token::random().map_err(LiveError::Failed)?,
        };
        let listener = TcpListener::bind(options.addr).map_err(|e| {
            LiveError::Failed(format!(
                "--remote: cannot listen on {}: {e} (another program on that port? try \
                 another, or :0 for any free one)",
                options.addr
            ))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| LiveError::Failed(format!("--remote: {e}")))?;
        let hub = Arc::new(Hub::new(ring, link.shared.clone(), load, dropouts));
        hub.start_sampler();
        let server = Arc::new(Server {
            token: token.clone(),
            page: page_text(),
            hub,
        });
        std::thread::Builder::new()
            .name("matchbox-remote".into())
            .spawn(move || server.accept(listener))
            .map_err(|e| LiveError::Failed(format!("--remote: {e}")))?;
        Ok(announce(bound, &token))
    }
}

/// The URLs to open (one per network address when listening on all of them), the first as a
/// QR code, and the warning when the page is reachable beyond this machine.
fn announce(bound: SocketAddr, token: &Token) -> Remote {
    let hosts: Vec<IpAddr> = if bound.ip().is_unspecified() {
        let mut found = interface_addresses();
        if found.is_empty() {
            found.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        found
    } else {
        vec![bound.ip()]
    };
    let urls: Vec<String> = hosts
        .iter()
        .map(|ip| {
            format!(
                "http://{}/?token={}",
                SocketAddr::new(*ip, bound.port()),
                token.reveal()
            )
        })
        .collect();
    let mut lines = vec![format!("remote control: open {}", urls[0])];
    lines.extend(urls[1..].iter().map(|u| format!("                or {u}")));
    if let Some(qr) = token::qr_lines(&urls[0]) {
        lines.push(qr);
    }
    let warning = (!bound.ip().is_loopback()).then(|| {
        format!(
            "the remote control listens beyond this machine ({bound}): anyone on the network \
             who gets the address with its token can change the sound; the page is not \
             encrypted (plain HTTP), so use it on a network you trust"
        )
    });
    if bound.ip().is_loopback() {
        lines.push(format!(
            "(this machine only; `--remote 0.0.0.0:{}` opens it to the network)",
            bound.port()
        ));
    }
    Remote {
        announcement: lines.join("\n"),
        warning,
    }
}

/// This machine's IPv4 addresses other than loopback, from its interfaces.
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    #[cfg(unix)]
    // SAFETY: getifaddrs fills a list that is read here and freed with freeifaddrs.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) == 0 {
            let mut item = list;
            while !item.is_null() {
                let addr = (*item).ifa_addr;
                if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                    let v4 = &*(addr as *const libc::sockaddr_in);
                    let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                    if !ip.is_loopback() && !out.contains(&IpAddr::V4(ip)) {
                        out.push(IpAddr::V4(ip));
                    }
                }
                item = (*item).ifa_next;
            }
            libc::freeifaddrs(list);
        }
    }
    out
}

struct Server {
    token: Token,
    page: String,
    hub: Arc<Hub>,
}

/// Counts a connection while it lives.
struct Counted(Arc<Hub>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    fn accept(self: Arc<Self>, listener: TcpListener) {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else {
                // Out of file descriptors, or a connection reset before it was taken: go on.
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            if self.hub.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                self.hub.connections.fetch_sub(1, Ordering::SeqCst);
                // Answer without waiting on the client.
                let _ = stream.set_nonblocking(true);
                http::refuse(&mut stream, Status::Busy);
                continue;
            }
            let guard = Counted(self.hub.clone());
            let server = self.clone();
            let spawned = std::thread::Builder::new()
                .name("matchbox-remote-client".into())
                .spawn(move || {
                    let _guard = guard;
                    server.serve(stream);
                });
            if spawned.is_err() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// One connection: the page, or a WebSocket session, or a refusal.
    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(REQUEST_WAIT));
        let _ = stream.set_write_timeout(Some(REQUEST_WAIT));
        let _ = stream.set_nodelay(true);
        let request = match http::read_head(&mut stream) {
            Ok(r) => r,
            Err(http::HeadError::Gone) => return,
            Err(http::HeadError::TooLarge) => {
                return http::refuse(&mut stream, Status::HeadTooLarge);
            }
            Err(http::HeadError::Malformed) => {
                return http::refuse(&mut stream, Status::BadRequest);
            }
        };
        if request.method != "GET" {
            return http::refuse(&mut stream, Status::MethodNotAllowed);
        }
        if request.path != "/" && request.path != "/ws" {
            return http::refuse(&mut stream, Status::NotFound);
        }
        if let Err(status) = http::check_token(&request, &self.token) {
            return http::refuse(&mut stream, status);
        }
        if request.path == "/" {
            return http::send_page(&mut stream, &self.page);
        }
        let Some(key) = http::websocket_key(&request) else {
            return http::refuse(&mut stream, Status::BadRequest);
        };
        if !http::same_origin(&request) {
            return http::refuse(&mut stream, Status::Forbidden);
        }
        let pages = &self.hub.pages;
        if pages.fetch_add(1, Ordering::SeqCst) >= MAX_PAGES {
            pages.fetch_sub(1, Ordering::SeqCst);
            return http::refuse(&mut stream, Status::Busy);
        }
        if http::accept_websocket(&mut stream, key).is_ok() {
            page::run(&self.hub, stream, request.rest);
        }
        pages.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback_and_the_default_port() {
        let at = |s: &str| parse_addr(s).unwrap().to_string();
        assert_eq!(at("127.0.0.1:7878"), "127.0.0.1:7878");
        assert_eq!(at("0.0.0.0"), "0.0.0.0:7878");
        assert_eq!(at(":9000"), "127.0.0.1:9000");
        assert_eq!(at("9000"), "127.0.0.1:9000");
        assert_eq!(at("[::1]:80"), "[::1]:80");
        assert!(parse_addr("phone").unwrap_err().contains("ADDR:PORT"));
    }

    #[test]
    fn the_page_is_one_file_with_no_outside_resources() {
        let page = page_text();
        assert!(!page.contains("/*STYLE*/") && !page.contains("/*SCRIPT*/"));
        for outside in ["http://", "https://", "//cdn", "@import", "src=\""] {
            assert!(!page.contains(outside), "{outside}");
        }
    }

    #[test]
    fn the_announcement_warns_beyond_loopback_only() {
        let token = Token::parse("0123456789abcdefghijklmnop").unwrap();
        let local = announce("127.0.0.1:7878".parse().unwrap(), &token);
        assert!(local.warning.is_none());
        assert!(local.announcement.starts_with(
            "remote control: open http://127.0.0.1:7878/?token=0123456789abcdefghijklmnop"
        ));
        let open = announce("0.0.0.0:7878".parse().unwrap(), &token);
        assert!(open.warning.unwrap().contains("beyond this machine"));
    }
}
