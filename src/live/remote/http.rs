//! Just enough HTTP/1.1 for the remote control: one request per connection, `GET` only, its
//! head read within a size and time limit; the page, or the upgrade to a WebSocket; refusals
//! with their status codes.
//!
//! Access: the token goes in the request's query, `?token=…`, for the page and for the socket
//! alike (a browser's WebSocket can carry nothing else). A token anywhere else (a header, a
//! cookie, the path) is not looked at: the request has no token. No token: 401; a wrong one:
//! 403. A WebSocket upgrade must also come from the page's own origin (`Origin` equal to
//! `http://` and the `Host` it was sent to), so another site open in the same browser cannot
//! drive Matchbox even with the token.

use super::token::Token;
use std::io::{Read, Write};
use std::net::TcpStream;

/// The longest request head accepted, bytes.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most header lines accepted.
const MAX_HEADERS: usize = 32;

/// A request head, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// Bytes read after the head (a client's first WebSocket frames, if it did not wait).
    pub rest: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` in the query, if it is there once.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let mut found = self
            .query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v);
        let first = found.next();
        // Two tokens in one query: refuse rather than pick one.
        if found.next().is_some() { None } else { first }
    }
}

/// Why a request head could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum HeadError {
    /// Longer than [`MAX_HEAD_BYTES`] (431).
    TooLarge,
    /// Not HTTP (400).
    Malformed,
    /// The client went away or stayed silent past the timeout: nothing to answer.
    Gone,
}

/// Read one request head from `stream` (its read timeout bounds the wait).
pub fn read_head(stream: &mut TcpStream) -> Result<Request, HeadError> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(HeadError::Gone),
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(used)) => {
                // A fragment is the browser's own (never sent); one that arrives is dropped.
                let target = request.path.unwrap_or("").split('#').next().unwrap_or("");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                return Ok(Request {
                    method: request.method.unwrap_or("").to_owned(),
                    path: path.to_owned(),
                    query: query.to_owned(),
                    headers: request
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).trim().to_owned(),
                            )
                        })
                        .collect(),
                    rest: buffer[used..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) => return Err(HeadError::TooLarge),
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(_) => return Err(HeadError::Malformed),
        }
    }
}

/// Whether the request carries `token` where it belongs: `Err` with the refusal otherwise.
pub fn check_token(request: &Request, token: &Token) -> Result<(), Status> {
    match request.query_param("token") {
        None | Some("") => Err(Status::Unauthorized),
        Some(offered) if token.matches(offered.as_bytes()) => Ok(()),
        Some(_) => Err(Status::Forbidden),
    }
}

/// Whether a WebSocket upgrade comes from the page's own origin.
pub fn same_origin(request: &Request) -> bool {
    match (request.header("origin"), request.header("host")) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://") == Some(host) && !host.is_empty()
        }
        _ => false,
    }
}

/// The refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    HeadTooLarge,
    Busy,
}

impl Status {
    fn line(self) -> (u16, &'static str, &'static str) {
        match self {
            Status::BadRequest => (400, "Bad Request", "Not a request Matchbox understands."),
            Status::Unauthorized => (
                401,
                "Unauthorized",
                "This needs the token: open the full address `matchbox live --remote` printed \
                 (with ?token=…).",
            ),
            Status::Forbidden => (
                403,
                "Forbidden",
                "Wrong token, or not from Matchbox's own page.",
            ),
            Status::NotFound => (404, "Not Found", "Nothing here."),
            Status::MethodNotAllowed => (405, "Method Not Allowed", "Only GET is served."),
            Status::HeadTooLarge => (
                431,
                "Request Header Fields Too Large",
                "The request's head is too large.",
            ),
            Status::Busy => (
                503,
                "Service Unavailable",
                "Too many connections to Matchbox's remote control; try again later.",
            ),
        }
    }

    pub fn code(self) -> u16 {
        self.line().0
    }
}

/// Headers every response carries: nothing cached, no referrer (the token is in the URL), no
/// framing by other sites.
const COMMON: &str = "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
                      X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n\
                      Connection: close\r\n";

/// Answer with a refusal (quietly: the client may be gone).
pub fn refuse(stream: &mut TcpStream, status: Status) {
    let (code, reason, text) = status.line();
    let body = format!("{code} {reason}: {text}\n");
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\n{COMMON}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
}

/// Answer with the page. Its script and styles are inline, and the content security policy
/// allows nothing else: no other server is ever contacted.
pub fn send_page(stream: &mut TcpStream, page: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\n{COMMON}Content-Type: text/html; charset=utf-8\r\n\
         Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; \
         style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'\r\n\
         Content-Length: {}\r\n\r\n",
        page.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(page.as_bytes());
    let _ = stream.flush();
}

/// Whether `request` asks for a WebSocket, with what the handshake needs (RFC 6455 §4.2.1);
/// the key when it does.
pub fn websocket_key(request: &Request) -> Option<&str> {
    let has = |name: &str, word: &str| {
        request.header(name).is_some_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(word))
        })
    };
    (has("upgrade", "websocket")
        && has("connection", "upgrade")
        && request.header("sec-websocket-version") == Some("13"))
    .then(|| request.header("sec-websocket-key"))
    .flatten()
    .filter(|k| !k.is_empty())
}

/// Accept the upgrade: `101 Switching Protocols`.
pub fn accept_websocket(stream: &mut TcpStream, key: &str) -> std::io::Result<()> {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(head.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, headers: &[(&str, &str)]) -> Request {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rest: Vec::new(),
        }
    }

    #[test]
    fn the_token_counts_only_in_the_query() {
        let token = Token::parse("0123456789abcdefghijklmnop").unwrap();
        let good = "/?token=0123456789abcdefghijklmnop";
        assert_eq!(check_token(&request(good, &[]), &token), Ok(()));
        assert_eq!(
            check_token(&request("/?token=0123456789abcdefghijklmnoq", &[]), &token),
            Err(Status::Forbidden)
        );
        for (target, headers) in [
            ("/", vec![]),
            ("/?token=", vec![]),
            ("/?tok=0123456789abcdefghijklmnop", vec![]),
            (
                "/",
                vec![("authorization", "Bearer 0123456789abcdefghijklmnop")],
            ),
            ("/", vec![("cookie", "token=0123456789abcdefghijklmnop")]),
            ("/0123456789abcdefghijklmnop", vec![]),
        ] {
            let r = request(target, &headers);
            assert_eq!(
                check_token(&r, &token),
                Err(Status::Unauthorized),
                "{target} {headers:?}"
            );
        }
        // Twice in one query: neither is taken.
        let twice = format!("{good}&token=x");
        assert_eq!(
            check_token(&request(&twice, &[]), &token),
            Err(Status::Unauthorized)
        );
    }

    #[test]
    fn sockets_must_come_from_the_page_itself() {
        let with =
            |origin: &str| request("/ws", &[("host", "192.168.1.20:7878"), ("origin", origin)]);
        assert!(same_origin(&with("http://192.168.1.20:7878")));
        assert!(!same_origin(&with("http://evil.example")));
        assert!(!same_origin(&with("https://192.168.1.20:7878")));
        assert!(!same_origin(&with("null")));
        assert!(!same_origin(&request("/ws", &[("host", "a:1")])));
    }

    #[test]
    fn an_upgrade_needs_every_header() {
        let full = [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        assert_eq!(
            websocket_key(&request("/ws", &full)),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        for skip in 0..full.len() {
            let partial: Vec<_> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, h)| *h)
                .collect();
            assert_eq!(websocket_key(&request("/ws", &partial)), None);
        }
    }
}
