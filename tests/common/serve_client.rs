//! A client of `workbench serve` for the tests: the real binary on a free loopback port, raw
//! HTTP/1.1 and WebSocket.

use super::workbench;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;
use tungstenite::Message;

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `workbench serve --port 0` with `reports` and extra flags; waits for its address.
    pub fn start(reports: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(reports, extra, &[])
    }

    /// As [`Server::start`], with environment variables set (Spotify settings, say).
    pub fn start_with_env(
        reports: &Path,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Server {
        let mut command = workbench();
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .args(["serve", "--port", "0", "--reports-dir"])
            .arg(reports)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// One raw HTTP/1.1 request (the path sent exactly as given); returns (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let text = exchange(addr, method, path, headers, body);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status_of(&text), body)
}

/// A GET that does not follow redirects: (status, its Location header or "", the whole answer).
pub fn get_redirect(addr: &str, path: &str) -> (u16, String, String) {
    let text = exchange(addr, "GET", path, &[], b"");
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or("")
        .to_string();
    (status_of(&text), location, text)
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// Sends one request (the path exactly as given) and returns the whole answer as text.
fn exchange(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    // A server may answer (413) before reading the whole body; a failed write is fine then.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).to_string()
}

/// The committed clip's frames as JPEGs, downscaled as the page downscales them.
pub fn clip_jpegs(limit: usize) -> Vec<Vec<u8>> {
    use opencv::prelude::*;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/clip.gif");
    let mut source = workbench::vision::video::FrameSource::open(&path, 1, Some(limit)).unwrap();
    let mut out = Vec::new();
    while let Some(frame) = source.next_frame().unwrap() {
        let mut buf = opencv::core::Vector::<u8>::new();
        opencv::imgcodecs::imencode(".jpg", &frame.bgr, &mut buf, &opencv::core::Vector::new())
            .unwrap();
        assert!(frame.bgr.cols() > 0);
        out.push(buf.to_vec());
    }
    out
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

pub fn connect(addr: &str, origin: Option<&str>) -> Result<Socket, tungstenite::Error> {
    let mut request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws/live"))
            .unwrap();
    if let Some(o) = origin {
        request.headers_mut().insert("Origin", o.parse().unwrap());
    }
    tungstenite::connect(request).map(|(socket, _)| socket)
}

/// Reads messages until one of type `kind` (others, such as mood updates, are collected).
pub fn until(
    socket: &mut Socket,
    kind: &str,
    seen: &mut Vec<serde_json::Value>,
) -> serde_json::Value {
    loop {
        match socket.read().unwrap() {
            Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == kind {
                    return v;
                }
                seen.push(v);
            }
            Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}
