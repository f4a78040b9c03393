//! `workbench serve` as a client sees it: the real binary on a free loopback port, spoken to over
//! raw HTTP and WebSocket. Security (paths, uploads, Origin, malformed frames) and load (four
//! live clients at once). The browser tests are in `serve_browser.rs`.

mod common;

use common::workbench;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
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
        let mut child = workbench()
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
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
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

#[test]
fn live_frames_are_read_like_infer_and_reach_the_clips_mood_with_songs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut socket = connect(&server.addr, Some(&format!("http://{}", server.addr))).unwrap();
    let mut seen = Vec::new();
    let mut faces = 0;
    for jpeg in clip_jpegs(33) {
        socket.send(Message::Binary(jpeg.into())).unwrap();
        let answer = until(&mut socket, "frame", &mut seen);
        faces += answer["faces"].as_array().unwrap().len();
        for f in answer["faces"].as_array().unwrap() {
            let p: f64 = f["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .sum();
            assert!((p - 1.0).abs() < 1e-3, "{f}");
        }
    }
    assert!(faces >= 30, "{faces} faces in 33 frames");
    // Moods are announced when they change, not every frame; the last is the laughing end's.
    let moods: Vec<&serde_json::Value> = seen.iter().filter(|v| v["type"] == "mood").collect();
    assert!(
        !moods.is_empty() && moods.len() < 10,
        "{} mood messages",
        moods.len()
    );
    let last = moods.last().unwrap();
    assert_eq!(last["verdict"]["mood"], "happy", "{last}");
    assert_eq!(last["songs"].as_array().unwrap().len(), 10);

    // Save: the session becomes an ordinary infer report, served under /reports/.
    socket
        .send(Message::Text(r#"{"type":"save"}"#.into()))
        .unwrap();
    let saved = until(&mut socket, "saved", &mut seen);
    let url = saved["report"].as_str().unwrap();
    assert!(url.starts_with("/reports/infer/live-"), "{saved}");
    let (status, html) = http(&server.addr, "GET", url, &[], b"");
    assert_eq!(status, 200);
    assert!(html.contains("You seem"), "{html}");
    assert!(
        !dir.path()
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".upload")),
        "staging left behind"
    );
}

#[test]
fn paths_outside_reports_uploads_over_the_limit_and_non_videos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--upload-limit-mb", "1"]);
    let a = &server.addr;
    for path in [
        "/reports/../Cargo.toml",
        "/reports/%2e%2e/Cargo.toml",
        "/reports//etc/passwd",
        "/reports/infer/..%2f..%2fCargo.toml",
    ] {
        let (status, _) = http(a, "GET", path, &[], b"");
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    let (status, _) = http(a, "GET", "/reports/nothing/here.html", &[], b"");
    assert_eq!(status, 404);

    let big = vec![0u8; 2 << 20];
    let (status, body) = http(a, "POST", "/api/clip?name=big.mp4", &[], &big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than the 1 MB"), "{body}");

    let (status, body) = http(
        a,
        "POST",
        "/api/clip?name=notes.gif",
        &[],
        b"just some text, no video",
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("notes.gif") && body.contains("not an image or a video"),
        "{body}"
    );
    assert!(
        !body.contains(".upload-"),
        "the staging folder leaks: {body}"
    );

    // Nothing was written for either.
    let left: Vec<_> = dir
        .path()
        .read_dir()
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A clip that is fine gives infer's own verdict and a report.
    let clip = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/clip.gif"))
        .unwrap();
    let (status, body) = http(a, "POST", "/api/clip?name=clip.gif", &[], &clip);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["verdict"]["mood"], "happy");
    let (status, _) = http(a, "GET", v["report"].as_str().unwrap(), &[], b"");
    assert_eq!(status, 200);
}

#[test]
fn a_websocket_from_another_origin_is_refused_and_bad_frames_do_not_kill_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    match connect(&server.addr, Some("http://evil.example")) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("not refused: {:?}", other.map(|_| ())),
    }
    let mut socket = connect(&server.addr, Some(&format!("http://{}", server.addr))).unwrap();
    let mut seen = Vec::new();
    for bad in [
        b"not an image".to_vec(),
        vec![0xFF, 0xD8, 0xFF, 0x00, 0x01],
        vec![],
    ] {
        socket.send(Message::Binary(bad.into())).unwrap();
        let e = until(&mut socket, "error", &mut seen);
        assert!(e["message"].as_str().unwrap().starts_with("frame "), "{e}");
    }
    socket.send(Message::Text("{nonsense".into())).unwrap();
    until(&mut socket, "error", &mut seen);
    // The same connection still reads a good frame, and a second client is served.
    let jpeg = clip_jpegs(1).remove(0);
    socket.send(Message::Binary(jpeg.clone().into())).unwrap();
    let ok = until(&mut socket, "frame", &mut seen);
    assert_eq!(ok["faces"].as_array().unwrap().len(), 1, "{ok}");
    let mut other = connect(&server.addr, None).unwrap();
    other.send(Message::Binary(jpeg.into())).unwrap();
    until(&mut other, "frame", &mut seen);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn four_live_clients_at_once_all_get_answers_and_memory_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let frames = clip_jpegs(33);
    let run_for = |seconds: u64| {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let (addr, frames) = (&server.addr, &frames);
                    scope.spawn(move || {
                        let mut socket = connect(addr, None).unwrap();
                        let mut seen = Vec::new();
                        let deadline = Instant::now() + Duration::from_secs(seconds);
                        let mut answered = 0;
                        for jpeg in frames.iter().cycle() {
                            if Instant::now() > deadline {
                                break;
                            }
                            socket.send(Message::Binary(jpeg.clone().into())).unwrap();
                            until(&mut socket, "frame", &mut seen);
                            answered += 1;
                        }
                        answered
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        })
    };
    let first = run_for(6);
    let after_first = rss_kib(server.pid());
    let second = run_for(6);
    let after_second = rss_kib(server.pid());
    for answered in first.iter().chain(&second) {
        assert!(
            *answered >= 5,
            "a client got only {answered} answers: {first:?} {second:?}"
        );
    }
    // Flat: the second round (same load) does not keep what the first left.
    assert!(
        after_second < after_first + 40 * 1024,
        "RSS grew from {after_first} KiB to {after_second} KiB"
    );
    let (status, _) = http(&server.addr, "GET", "/api/status", &[], b"");
    assert_eq!(status, 200, "the server still answers");
}
