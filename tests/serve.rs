//! `workbench serve` as a client sees it: the real binary on a free loopback port, spoken to over
//! raw HTTP and WebSocket. Security (paths, uploads, Origin, malformed frames) and load (four
//! live clients at once). The browser tests are in `serve_browser.rs`.

mod common;

use common::serve_client::{clip_jpegs, connect, get_redirect, http, until, Server};
use std::path::Path;
use std::time::{Duration, Instant};
use tungstenite::Message;

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

#[test]
fn spotify_login_from_the_page_says_how_without_a_client_id_and_refuses_forged_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let reports = dir.path().join("reports");
    {
        let server =
            Server::start_with_env(&reports, &[], &[("XDG_CONFIG_HOME", config.as_os_str())]);
        let (status, body) = http(&server.addr, "GET", "/api/status", &[], b"");
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["spotify_login"], false);
        assert!(
            v["spotify"]
                .as_str()
                .unwrap()
                .contains("RSPOTIFY_CLIENT_ID"),
            "{v}"
        );
        let (status, _, page) = get_redirect(&server.addr, "/spotify/login");
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("client id"), "{page}");
    }
    std::fs::create_dir_all(config.join("workbench")).unwrap();
    std::fs::write(
        config.join("workbench/spotify.toml"),
        "client_id = \"test-client\"\n",
    )
    .unwrap();
    let server = Server::start_with_env(&reports, &[], &[("XDG_CONFIG_HOME", config.as_os_str())]);
    let (status, to, _) = get_redirect(&server.addr, "/spotify/login");
    assert_eq!(status, 303);
    assert!(
        to.starts_with("https://accounts.spotify.com/authorize?"),
        "{to}"
    );
    let redirect = format!(
        "redirect_uri=http%3A%2F%2F{}%2Fcallback",
        server.addr.replace(':', "%3A")
    );
    assert!(to.contains(&redirect), "{to}");
    assert!(to.contains("code_challenge_method=S256"), "{to}");
    let state = to
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();

    let token = config.join("workbench/spotify-token.json");
    let (status, _, page) = get_redirect(&server.addr, "/callback?state=forged&code=abc");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("state mismatch"), "{page}");
    let (status, _, page) = get_redirect(
        &server.addr,
        &format!("/callback?state={state}&error=access_denied"),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("did not authorise"), "{page}");
    // That state is used up: replaying it is refused too.
    let (status, _, _) = get_redirect(&server.addr, &format!("/callback?state={state}&code=abc"));
    assert_eq!(status, 400);
    assert!(!token.exists(), "no token may be saved");
}

#[test]
fn live_songs_can_come_from_the_users_liked_songs() {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("liked.csv");
    let server = Server::start(dir.path(), &["--library", library.to_str().unwrap()]);
    let mut socket = connect(&server.addr, None).unwrap();
    let mut seen = Vec::new();
    // No library yet: a clear error naming it, and the session goes on.
    socket
        .send(Message::Text(r#"{"type":"source","value":"liked"}"#.into()))
        .unwrap();
    let e = until(&mut socket, "error", &mut seen);
    assert!(e["message"].as_str().unwrap().contains("liked.csv"), "{e}");

    // A library of 12 songs from every playlist of the shipped model.
    let model = workbench::tracks::model::SongClusters::read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("models/song-clusters.json"),
    )
    .unwrap();
    let mine: Vec<_> = model
        .playlists
        .iter()
        .flat_map(|p| p.tracks.iter().skip(50).take(4))
        .map(common::liked_song)
        .collect();
    workbench::spotify::library::write_library(&library, &model.features, &mine).unwrap();
    let ids: Vec<String> = mine.iter().map(|m| m.id.clone()).collect();
    socket
        .send(Message::Text(r#"{"type":"source","value":"liked"}"#.into()))
        .unwrap();
    for jpeg in clip_jpegs(33) {
        socket.send(Message::Binary(jpeg.into())).unwrap();
        until(&mut socket, "frame", &mut seen);
    }
    let last = seen.iter().rev().find(|v| v["type"] == "mood").unwrap();
    assert!(last["from"].as_str().unwrap().contains("liked"), "{last}");
    let songs = last["songs"].as_array().unwrap();
    assert_eq!(songs.len(), 4, "{last}");
    for song in songs {
        assert!(
            ids.contains(&song["id"].as_str().unwrap().to_string()),
            "{song}"
        );
    }
}
