//! `workbench serve` in a real browser: Debian's Chromium, headless, driven over its DevTools
//! protocol, with a fake camera that plays the committed clip. The live page must draw boxes,
//! reach the clip's mood and list songs; the clip page must show `infer`'s verdict; the runs page
//! must list the committed reports. Screenshots go to `target/serve-screenshots/`.

mod common;

use common::serve_client::{self, Server};
use common::{s, workbench};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::Message;

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        common::skip("no chromium here (scripts/setup.sh installs Debian's)");
    }
    found
}

/// The committed clip as a YUV4MPEG2 file, the format Chromium's fake camera plays (looping).
fn clip_as_y4m(dir: &Path) -> PathBuf {
    use opencv::prelude::*;
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/clip.gif");
    let mut source = workbench::vision::video::FrameSource::open(&clip, 1, None).unwrap();
    let (w, h) = (source.width & !1, source.height & !1);
    let mut out = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    while let Some(frame) = source.next_frame().unwrap() {
        let roi = opencv::core::Mat::roi(&frame.bgr, opencv::core::Rect::new(0, 0, w, h)).unwrap();
        let mut yuv = opencv::core::Mat::default();
        opencv::imgproc::cvt_color_def(
            &roi.try_clone().unwrap(),
            &mut yuv,
            opencv::imgproc::COLOR_BGR2YUV_I420,
        )
        .unwrap();
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(yuv.data_bytes().unwrap());
    }
    let path = dir.join("camera.y4m");
    std::fs::write(&path, out).unwrap();
    path
}

/// Headless Chromium with the fake camera, and a DevTools connection to its page.
struct Browser {
    child: Child,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(binary: &str, profile: &Path, camera: &Path) -> Browser {
        let child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--window-size=1280,1000",
                "--remote-debugging-port=0",
            ])
            .arg(format!(
                "--use-file-for-fake-video-capture={}",
                camera.display()
            ))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
            {
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (_, list) =
            serve_client::http(&format!("127.0.0.1:{port}"), "GET", "/json/list", &[], b"");
        let targets: Value = serde_json::from_str(&list).unwrap();
        let url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (socket, _) = tungstenite::connect(url).unwrap();
        Browser {
            child,
            socket,
            next_id: 0,
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::Text(request.into())).unwrap();
        loop {
            if let Message::Text(t) = self.socket.read().unwrap() {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
            }
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        r["result"]["value"].clone()
    }

    fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval("document.readyState") != "complete" {
            assert!(Instant::now() < deadline, "{url} did not load");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls the page's `document.body.dataset` until `done` holds (or panics after `seconds`).
    fn wait_for(&mut self, seconds: u64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let data = self.eval("Object.assign({}, document.body.dataset)");
            if done(&data) {
                return data;
            }
            assert!(Instant::now() < deadline, "{what}: the page shows {data}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn screenshot(&mut self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/serve-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        path
    }
}

fn number(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn the_live_page_draws_boxes_reaches_the_clips_mood_and_lists_songs() {
    let Some(binary) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("reports"), &[]);
    let camera = clip_as_y4m(dir.path());
    let mut browser = Browser::start(binary, &dir.path().join("profile"), &camera);
    browser.open(&format!("http://{}/#live-auto", server.addr));
    let shown = browser.wait_for(90, "live: boxes, the happy mood and songs", |d| {
        number(&d["frames"]) >= 15
            && number(&d["boxes"]) >= 10
            && d["mood"] == "happy"
            && number(&d["songs"]) > 0
    });
    let songs = browser.eval("document.querySelectorAll('#songs li a[href^=\"https://open.spotify.com/track/\"]').length");
    assert!(songs.as_u64().unwrap_or(0) > 0, "{shown} {songs}");
    let shot = browser.screenshot("live.png");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);
}

#[test]
fn the_clip_page_shows_infers_verdict_and_the_runs_page_lists_the_committed_reports() {
    let Some(binary) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("reports"),
        &reports,
    );
    let server = Server::start(&reports, &[]);
    let camera = clip_as_y4m(dir.path());
    let mut browser = Browser::start(binary, &dir.path().join("profile"), &camera);

    // What `workbench infer` says of the clip.
    let clip = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/clip.gif");
    let out = workbench()
        .args(["infer", s(&clip), "--json", "--no-report"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();

    browser.open(&format!("http://{}/#clip", server.addr));
    let document = browser.call("DOM.getDocument", json!({}));
    let input = browser.call(
        "DOM.querySelector",
        json!({"nodeId": document["root"]["nodeId"], "selector": "#file"}),
    );
    browser.call(
        "DOM.setFileInputFiles",
        json!({"nodeId": input["nodeId"], "files": [clip.display().to_string()]}),
    );
    browser.eval("document.getElementById('file').dispatchEvent(new Event('change')); document.getElementById('upload').click(); true");
    let shown = browser.wait_for(60, "clip: the verdict", |d| {
        d["clip"] == "done" || d["clip"] == "error"
    });
    assert_eq!(shown["clip"], "done", "{shown}");
    assert_eq!(shown["clipMood"], cli["verdict"]["mood"], "{shown}");
    let verdict = browser.eval("document.getElementById('clip-verdict').textContent");
    assert_eq!(verdict, cli["verdict"]["sentence"]);
    browser.screenshot("clip.png");

    browser.open(&format!("http://{}/#runs", server.addr));
    browser.wait_for(20, "runs: the list", |d| number(&d["runs"]) > 0);
    let listed = browser.eval("document.getElementById('runs-table').innerText");
    let listed = listed.as_str().unwrap();
    for committed in committed_runs() {
        assert!(
            listed.contains(&committed),
            "{committed} not listed:\n{listed}"
        );
    }
    browser.screenshot("runs.png");
}

/// The committed reports' run names (folders with an index.html).
fn committed_runs() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let mut names = Vec::new();
    for kind in ["fer", "cluster"] {
        for entry in std::fs::read_dir(root.join(kind)).unwrap().flatten() {
            if entry.path().join("index.html").is_file() {
                names.push(entry.file_name().to_string_lossy().to_string());
            }
        }
    }
    assert!(!names.is_empty());
    names
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
