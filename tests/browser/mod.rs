//! A real browser for tests: Debian's headless Chromium driven over WebDriver by its
//! chromedriver, with a WebDriver client small enough to read (HTTP/1.1 and JSON over std's
//! TcpStream). Chromium starts with a fresh profile and nothing that reaches the network.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and its driver are installed. CI installs them (Debian: chromium,
/// chromium-driver); elsewhere the browser tests say so and pass.
pub fn available() -> bool {
    let found =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium and chromium-driver are not installed; CI must run the browser tests"
        );
        eprintln!(
            "chromium or chromedriver is not installed (Debian: chromium chromium-driver): skipping"
        );
    }
    found
}

/// A browser session at a phone's size (CSS pixels, device pixel ratio).
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver and a headless Chromium whose page is `width`×`height` CSS pixels.
    pub fn start(width: u32, height: u32, pixel_ratio: f64) -> Browser {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--disable-default-apps".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "mobileEmulation": {"deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": pixel_ratio, "touch": true,
                }},
            },
        }}});
        let reply = browser.call("POST", "/session", Some(capabilities));
        browser.session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {reply}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; its JSON answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        // chromedriver keeps the connection open whatever `Connection: close` says: read the
        // head, then exactly its Content-Length.
        let mut response = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let body_start = loop {
            if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).expect("WebDriver answers");
            assert!(n > 0, "WebDriver closed the connection: {response:?}");
            response.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&response[..body_start]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("WebDriver's answer has no Content-Length: {head}"));
        while response.len() < body_start + length {
            let n = stream.read(&mut chunk).expect("WebDriver answers");
            assert!(n > 0, "WebDriver closed the connection early");
            response.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&response[body_start..body_start + length]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver said {text:?}: {e}"))
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self.call(method, &format!("/session/{}{path}", self.session), body);
        if reply["value"]["error"].is_string() {
            panic!("WebDriver {path}: {reply}");
        }
        reply["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})));
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Wait until `script` returns something truthy (at most `limit`); that value.
    pub fn wait_for(&self, what: &str, limit: Duration, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.run(script, json!([]));
            if !(v.is_null() || v == json!(false) || v == json!(0)) {
                return v;
            }
            assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let data = self.session_call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Width, height, distinct colours and the standard deviation of the grey level (0…1) of a
/// PNG: a blank or broken page has few colours and little contrast.
pub fn picture_stats(png_bytes: &[u8]) -> (u32, u32, usize, f64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buffer[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let (mut sum, mut sum2, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for px in pixels.chunks(channels) {
        colours.insert([px[0], px[1 % channels], px[2 % channels]]);
        let grey =
            (px[0] as f64 + px[1 % channels] as f64 + px[2 % channels] as f64) / (3.0 * 255.0);
        sum += grey;
        sum2 += grey * grey;
        n += 1.0;
    }
    let mean = sum / n;
    (
        info.width,
        info.height,
        colours.len(),
        (sum2 / n - mean * mean).max(0.0).sqrt(),
    )
}
