//! `workbench spotify …` and `infer --from liked`: the real binary and the real rspotify client
//! against a mock Spotify on 127.0.0.1 (tests/spotify_mock). Nothing here talks to Spotify.

mod common;
mod spotify_mock;

use common::{liked_song, s, text, workbench};
use serde_json::{json, Value};
use spotify_mock::{audio_features, saved_track, Fault, Mock, MockPlaylist};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use workbench::affect::Affect;
use workbench::emotion::Mood;
use workbench::tracks::catalog::read_catalog;
use workbench::tracks::model::{PlaylistTrack, SongClusters};

const CLIENT_ID: &str = "wbtestclient";
const SONGS: &str = "models/song-clusters.json";

struct Env {
    dir: tempfile::TempDir,
    mock: Mock,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            mock: Mock::start(CLIENT_ID),
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = workbench();
        cmd.args(args)
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("RSPOTIFY_CLIENT_ID", CLIENT_ID)
            .env("WORKBENCH_SPOTIFY_API_URL", self.mock.api_url())
            .env("WORKBENCH_SPOTIFY_ACCOUNTS_URL", self.mock.accounts_url())
            .env_remove("RUST_LOG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn token_path(&self) -> PathBuf {
        self.dir.path().join("config/workbench/spotify-token.json")
    }

    /// The token file's permission bits.
    fn token_mode(&self) -> u32 {
        std::fs::metadata(self.token_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    fn library(&self) -> PathBuf {
        self.dir.path().join("liked.csv")
    }

    /// A stored login, as `spotify login` leaves it; `expired` puts expires_at in the past.
    fn log_in(&self, expired: bool) -> (String, String) {
        let (access, refresh) = self.mock.issue_tokens();
        let expires_at = if expired {
            "2020-01-01T00:00:00Z"
        } else {
            "2099-01-01T00:00:00Z"
        };
        let stored = json!({
            "client_id": CLIENT_ID,
            "token": {
                "access_token": access,
                "expires_in": 3600,
                "expires_at": expires_at,
                "refresh_token": refresh,
                "scope": "user-library-read playlist-read-private playlist-modify-private",
            }
        });
        let path = self.token_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, stored.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        (access, refresh)
    }

    fn import(&self, extra: &[&str]) -> Output {
        let library = self.library();
        let mut args = vec![
            "spotify",
            "import-liked",
            "--out",
            s(&library),
            "--songs",
            SONGS,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Every token the mock ever issued must be absent from `haystack`.
    fn assert_no_tokens(&self, haystack: &str) {
        let tokens: Vec<String> = self.mock.with(|s| {
            s.access_tokens
                .iter()
                .chain(s.refresh_tokens.iter())
                .cloned()
                .collect()
        });
        let issued = self.mock.with(|s| s.issued);
        for n in 1..=issued {
            for kind in ["mock-access-", "mock-refresh-"] {
                let prefix = format!("{kind}{n}-");
                assert!(
                    !haystack.contains(&prefix),
                    "a token ({prefix}…) leaked:\n{haystack}"
                );
            }
        }
        for t in tokens {
            assert!(!haystack.contains(&t), "a token leaked");
        }
    }
}

fn model() -> SongClusters {
    SongClusters::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(SONGS).as_path()).unwrap()
}

/// The committed model's playlist songs: real Spotify ids with their features.
fn model_tracks() -> Vec<PlaylistTrack> {
    model()
        .playlists
        .iter()
        .flat_map(|p| p.tracks.clone())
        .collect()
}

fn liked_from(tracks: &[PlaylistTrack]) -> Vec<Value> {
    tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            saved_track(
                t.track.id.as_deref(),
                &t.track.name,
                &t.track.artists,
                &format!("2026-01-{:02}T10:00:00Z", 1 + i % 28),
            )
        })
        .collect()
}

fn read_library(env: &Env) -> workbench::tracks::catalog::Catalog {
    read_catalog(&env.library(), &model().features).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One plain HTTP GET; returns (status, body).
fn http_get(url: &str) -> (u16, String) {
    let u = url::Url::parse(url).unwrap();
    let mut stream = TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// Starts `spotify login`, returns the child and the authorisation URL it printed.
fn start_login(env: &Env) -> (std::process::Child, url::Url) {
    let mut child = env
        .command(&["spotify", "login", "--port", "0", "--timeout", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("login prints the URL").unwrap();
        if line.starts_with("http") {
            break url::Url::parse(&line).unwrap();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    let rest =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    std::mem::forget(rest);
    (child, url)
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[test]
fn login_trades_the_code_with_pkce_and_stores_a_private_token() {
    let env = Env::new();
    let (child, url) = start_login(&env);
    assert!(
        url.as_str()
            .starts_with(&format!("{}authorize", env.mock.accounts_url())),
        "{url}"
    );
    assert_eq!(param(&url, "client_id"), CLIENT_ID);
    assert_eq!(param(&url, "response_type"), "code");
    assert_eq!(param(&url, "code_challenge_method"), "S256");
    for scope in [
        "user-library-read",
        "playlist-read-private",
        "playlist-modify-private",
    ] {
        assert!(param(&url, "scope").contains(scope), "{url}");
    }
    let redirect = param(&url, "redirect_uri");
    assert!(
        redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"),
        "{redirect}"
    );
    env.mock.with(|s| {
        s.codes
            .insert("code-1".into(), param(&url, "code_challenge"))
    });

    // A browser's stray request is not the callback; the listener keeps waiting.
    let favicon = redirect.replace("/callback", "/favicon.ico");
    assert_eq!(http_get(&favicon).0, 404);
    let (status, page) = http_get(&format!(
        "{redirect}?code=code-1&state={}",
        param(&url, "state")
    ));
    assert_eq!(status, 200, "{page}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The verifier matched the challenge (the mock checks it) and the token is stored privately.
    assert_eq!(
        env.mock.with(|s| s.grants.clone()),
        vec!["authorization_code"]
    );
    assert_eq!(env.token_mode(), 0o600);
    let stored: Value = serde_json::from_slice(&std::fs::read(env.token_path()).unwrap()).unwrap();
    let access = stored["token"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(env.mock.with(|s| s.access_tokens.contains(&access)));
    env.assert_no_tokens(&format!("{}{}", stderr(&out), page));
    // One callback, then the listener is gone.
    assert!(TcpStream::connect(
        redirect
            .trim_start_matches("http://")
            .trim_end_matches("/callback")
    )
    .is_err());

    let out = env.run(&["spotify", "logout"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!env.token_path().exists());
    let out = env.run(&["spotify", "logout"]);
    assert!(stdout(&out).contains("not logged in"), "{}", text(&out));
}

#[test]
fn login_refuses_a_forged_callback_and_saves_nothing() {
    let env = Env::new();
    let (child, url) = start_login(&env);
    env.mock.with(|s| {
        s.codes
            .insert("code-1".into(), param(&url, "code_challenge"))
    });
    let redirect = param(&url, "redirect_uri");
    let (status, _) = http_get(&format!(
        "{redirect}?code=code-1&state=forged{}",
        param(&url, "state")
    ));
    assert_eq!(status, 400);
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains("state"), "{}", text(&out));
    assert!(!env.token_path().exists());
    assert!(
        env.mock.with(|s| s.grants.is_empty()),
        "the code was traded anyway"
    );
    assert!(TcpStream::connect(
        redirect
            .trim_start_matches("http://")
            .trim_end_matches("/callback")
    )
    .is_err());
}

#[test]
fn login_without_a_client_id_says_where_to_put_one() {
    let env = Env::new();
    let out = env
        .command(&["spotify", "login"])
        .env_remove("RSPOTIFY_CLIENT_ID")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("RSPOTIFY_CLIENT_ID")
            && err.contains("spotify.toml")
            && err.contains("127.0.0.1:8888/callback"),
        "{err}"
    );
}

#[test]
fn import_pages_through_every_liked_song_and_falls_back_to_local_tables() {
    let env = Env::new();
    let tracks = model_tracks();
    let mut liked = liked_from(&tracks[..120]);
    liked.push(saved_track(
        Some("0000000000000000000000"),
        "Unknown Song",
        "Nobody",
        "2026-02-01T00:00:00Z",
    ));
    liked.push(saved_track(
        None,
        "A Local File",
        "Me",
        "2026-02-02T00:00:00Z",
    ));
    env.mock.with(|s| {
        s.liked = liked;
        s.features = None; // closed to new apps: 403
    });
    env.log_in(false);
    let out = env
        .command(&[
            "spotify",
            "import-liked",
            "--out",
            s(&env.library()),
            "--songs",
            SONGS,
        ])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let offsets: Vec<String> = env
        .mock
        .requests("GET", "/me/tracks")
        .iter()
        .map(|l| l.query["offset"].clone())
        .collect();
    assert_eq!(offsets, ["0", "50", "100"]);
    assert!(env
        .mock
        .requests("GET", "/me/tracks")
        .iter()
        .all(|l| l.query["limit"] == "50"));
    assert_eq!(
        env.mock.requests("GET", "/audio-features").len(),
        1,
        "asked again after a 403"
    );
    let said = stdout(&out);
    assert!(
        said.contains("120 of 121 liked songs have features"),
        "{said}"
    );
    assert!(said.contains("1 local files skipped"), "{said}");
    assert!(
        stderr(&out).contains("audio-features endpoint answered 403"),
        "{}",
        text(&out)
    );

    // Features are the model's own for its songs; the unknown song has none (nothing invented).
    let library = read_library(&env);
    assert_eq!(library.source.rows_read, 121);
    assert_eq!(library.tracks.len(), 120);
    let expected: HashMap<&str, &Vec<f64>> = tracks
        .iter()
        .map(|t| (t.track.id.as_deref().unwrap(), &t.features))
        .collect();
    for (t, row) in library.tracks.iter().zip(library.features.rows()) {
        assert_eq!(
            &row.to_vec(),
            expected[t.id.as_deref().unwrap()],
            "{:?}",
            t.id
        );
    }
    let csv = std::fs::read_to_string(env.library()).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("id,name,artists,added_at,popularity,")
            && header.ends_with(",features_from"),
        "{header}"
    );
    let unknown = csv
        .lines()
        .find(|l| l.starts_with("0000000000000000000000"))
        .unwrap();
    assert!(
        unknown.ends_with(&",".repeat(model().features.len() + 1)),
        "{unknown}"
    );
    env.assert_no_tokens(&format!("{}{}{csv}", stdout(&out), stderr(&out)));
}

#[test]
fn import_takes_features_from_the_endpoint_where_it_answers() {
    let env = Env::new();
    let tracks = model_tracks();
    let chosen = &tracks[..60];
    let mut answered = HashMap::new();
    for (i, t) in chosen.iter().take(20).enumerate() {
        let id = t.track.id.clone().unwrap();
        let values = HashMap::from([
            ("valence".to_string(), 0.01 * i as f64),
            ("tempo".to_string(), 100.0 + i as f64),
        ]);
        answered.insert(id.clone(), audio_features(&id, &values));
    }
    env.mock.with(|s| {
        s.liked = liked_from(chosen);
        s.features = Some(answered); // a partial answer: null for the other 40
    });
    env.log_in(false);
    let out = env.import(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("60 of 60 liked songs have features (20 from the audio-features endpoint, 40 from the song model"), "{}", text(&out));
    let library = read_library(&env);
    let names = model().features;
    let valence = names.iter().position(|n| n == "valence").unwrap();
    for (i, t) in chosen.iter().take(20).enumerate() {
        let row = library
            .tracks
            .iter()
            .position(|x| x.id == t.track.id)
            .unwrap();
        assert!((library.features[[row, valence]] - 0.01 * i as f64).abs() < 1e-9);
    }
    let csv = std::fs::read_to_string(env.library()).unwrap();
    assert_eq!(csv.lines().filter(|l| l.ends_with(",api")).count(), 20);
}

#[test]
fn an_expired_token_is_refreshed_first_and_stored_privately() {
    let env = Env::new();
    env.mock
        .with(|s| s.liked = liked_from(&model_tracks()[..3]));
    let (old_access, old_refresh) = env.log_in(true);
    let out = env.import(&["--no-features-endpoint"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(env.mock.with(|s| s.grants.clone()), vec!["refresh_token"]);
    assert!(
        env.mock
            .requests("GET", "/me/tracks")
            .iter()
            .all(|l| l.status == 200),
        "used the expired token"
    );
    let stored: Value = serde_json::from_slice(&std::fs::read(env.token_path()).unwrap()).unwrap();
    assert_ne!(stored["token"]["access_token"], old_access.as_str());
    assert_ne!(
        stored["token"]["refresh_token"],
        old_refresh.as_str(),
        "the rotated refresh token was not kept"
    );
    assert_eq!(env.token_mode(), 0o600);
}

#[test]
fn a_401_refreshes_the_token_once_and_retries() {
    let env = Env::new();
    env.mock
        .with(|s| s.liked = liked_from(&model_tracks()[..3]));
    env.log_in(false);
    env.mock.with(|s| s.access_tokens.clear()); // revoked server-side before it expired
    let out = env.import(&["--no-features-endpoint"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let statuses: Vec<u16> = env
        .mock
        .requests("GET", "/me/tracks")
        .iter()
        .map(|l| l.status)
        .collect();
    assert_eq!(statuses, [401, 200]);
    assert_eq!(env.mock.with(|s| s.grants.clone()), vec!["refresh_token"]);
}

#[test]
fn a_401_after_refreshing_is_an_error_that_says_log_in_again() {
    let env = Env::new();
    env.log_in(false);
    env.mock.with(|s| {
        s.faults.push(Fault {
            method: "GET",
            path_suffix: "/me/tracks",
            query: None,
            status: 401,
            retry_after: None,
            times: usize::MAX,
        })
    });
    let out = env.import(&["--no-features-endpoint"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("spotify login"), "{}", text(&out));
    assert_eq!(env.mock.requests("GET", "/me/tracks").len(), 2);
    assert!(!env.library().exists());
}

#[test]
fn a_429_is_waited_out_for_retry_after() {
    let env = Env::new();
    env.mock.with(|s| {
        s.liked = liked_from(&model_tracks()[..70]);
        s.faults.push(Fault {
            method: "GET",
            path_suffix: "/me/tracks",
            query: Some(("offset", "50")),
            status: 429,
            retry_after: Some(1),
            times: 1,
        });
    });
    env.log_in(false);
    let out = env.import(&["--no-features-endpoint"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let second_page: Vec<_> = env
        .mock
        .requests("GET", "/me/tracks")
        .into_iter()
        .filter(|l| l.query["offset"] == "50")
        .collect();
    assert_eq!(
        second_page.iter().map(|l| l.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = second_page[1].at.duration_since(second_page[0].at);
    assert!(
        waited >= Duration::from_millis(1000),
        "retried after {waited:?}, before Retry-After"
    );
    assert!(stderr(&out).contains("waiting 1 s"), "{}", text(&out));
    assert_eq!(read_library(&env).tracks.len(), 70);
}

#[test]
fn server_errors_are_retried_then_reported_and_nothing_is_written() {
    let env = Env::new();
    env.mock.with(|s| {
        s.liked = liked_from(&model_tracks()[..3]);
        s.faults.push(Fault {
            method: "GET",
            path_suffix: "/me/tracks",
            query: None,
            status: 503,
            retry_after: None,
            times: usize::MAX,
        });
    });
    env.log_in(false);
    let out = env.import(&["--no-features-endpoint"]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("503") && err.contains("me/tracks") && err.contains("4 times"),
        "{err}"
    );
    assert_eq!(env.mock.requests("GET", "/me/tracks").len(), 4);
    assert!(!env.library().exists());

    // A 5xx that clears up is just retried.
    env.mock.with(|s| {
        s.faults.clear();
        s.faults.push(Fault {
            method: "GET",
            path_suffix: "/me/tracks",
            query: None,
            status: 502,
            retry_after: None,
            times: 2,
        });
    });
    let out = env.import(&["--no-features-endpoint"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn import_without_a_login_or_with_a_missing_catalogue_fails_before_any_request() {
    let env = Env::new();
    let out = env.import(&[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("not logged in") && stderr(&out).contains("spotify login"),
        "{}",
        text(&out)
    );
    env.log_in(false);
    let missing = env.dir.path().join("nope.csv");
    let out = env.import(&["--catalog", s(&missing)]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nope.csv"), "{}", text(&out));
    assert!(env.mock.with(|s| s.log.is_empty()));
    assert!(!env.library().exists());
}

/// A library CSV of the model's songs: `per_mood` songs from each mood's model playlist.
fn write_library(path: &Path, per_mood: usize) -> HashMap<Mood, Vec<PlaylistTrack>> {
    let model = model();
    let mut songs = Vec::new();
    let mut by_mood = HashMap::new();
    for p in &model.playlists {
        let chosen: Vec<PlaylistTrack> = p.tracks.iter().take(per_mood).cloned().collect();
        songs.extend(chosen.iter().map(liked_song));
        by_mood.insert(p.mood, chosen);
    }
    workbench::spotify::library::write_library(path, &model.features, &songs).unwrap();
    by_mood
}

fn own_workbench_playlists(env: &Env) -> Vec<MockPlaylist> {
    env.mock.with(|s| {
        s.playlists
            .iter()
            .filter(|p| p.owner == s.user_id && p.name.starts_with("workbench · "))
            .cloned()
            .collect()
    })
}

#[test]
fn playlists_are_created_once_then_updated_in_place() {
    let env = Env::new();
    let expected = write_library(&env.library(), 12);
    env.log_in(false);
    env.mock.with(|s| {
        // The user already has a happy one (stale), and follows someone else's "sad" one.
        s.playlists.push(MockPlaylist {
            id: "wbplaylist000000000happy".into(),
            name: "workbench · happy".into(),
            owner: "wbuser".into(),
            public: false,
            description: String::new(),
            uris: vec!["spotify:track:0000000000000000000001".into()],
        });
        s.playlists.push(MockPlaylist {
            id: "otherplaylist000000000sad".into(),
            name: "workbench · sad".into(),
            owner: "someoneelse".into(),
            public: true,
            description: String::new(),
            uris: vec!["spotify:track:0000000000000000000002".into()],
        });
    });
    let library = env.library();
    let args = [
        "spotify",
        "playlists",
        "--library",
        s(&library),
        "--songs",
        SONGS,
    ];
    for round in 0..2 {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
        let mine = own_workbench_playlists(&env);
        assert_eq!(mine.len(), 6, "round {round}: {mine:?}");
        for mood in Mood::ALL {
            let p = mine
                .iter()
                .find(|p| p.name == format!("workbench · {mood}"))
                .unwrap();
            assert!(!p.public, "{} is public", p.name);
            let mut want = expected.get(&mood).cloned().unwrap_or_default();
            want.sort_by(|a, b| a.distance.total_cmp(&b.distance));
            let want: Vec<String> = want
                .iter()
                .map(|t| format!("spotify:track:{}", t.track.id.as_deref().unwrap()))
                .collect();
            assert_eq!(p.uris, want, "round {round}: {}", p.name);
            assert!(
                stdout(&out).contains(&format!("https://open.spotify.com/playlist/{}", p.id)),
                "{}",
                text(&out)
            );
        }
        assert_eq!(
            env.mock.requests("POST", "/me/playlists").len(),
            5,
            "round {round}: a playlist was duplicated"
        );
    }
    let theirs = env.mock.with(|s| {
        s.playlists
            .iter()
            .find(|p| p.owner == "someoneelse")
            .cloned()
            .unwrap()
    });
    assert_eq!(theirs.uris, ["spotify:track:0000000000000000000002"]);
}

#[test]
fn a_dry_run_changes_nothing_logged_in_or_out() {
    let env = Env::new();
    write_library(&env.library(), 5);
    let library = env.library();
    let args = [
        "spotify",
        "playlists",
        "--dry-run",
        "--library",
        s(&library),
        "--songs",
        SONGS,
    ];
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("not logged in"), "{}", text(&out));
    assert!(env.mock.with(|s| s.log.is_empty()));
    env.log_in(false);
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        stdout(&out).matches("would be created").count(),
        6,
        "{}",
        text(&out)
    );
    assert!(env.mock.writes().is_empty(), "{:?}", env.mock.writes());
}

#[test]
fn playlists_without_a_library_say_how_to_make_one() {
    let env = Env::new();
    env.log_in(false);
    let missing = env.dir.path().join("none.csv");
    let out = env.run(&[
        "spotify",
        "playlists",
        "--library",
        s(&missing),
        "--songs",
        SONGS,
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("none.csv") && stderr(&out).contains("import-liked"),
        "{}",
        text(&out)
    );
    assert_eq!(
        stderr(&out).matches("import-liked").count(),
        1,
        "said twice: {}",
        text(&out)
    );
    assert!(env.mock.with(|s| s.log.is_empty()));
}

#[test]
fn infer_from_liked_recommends_from_the_library() {
    let env = Env::new();
    // A happy clip draws from the playlist whose songs sit nearest happiness; take its 5 songs
    // farthest from the centroid (not what the catalogue would pick) and 5 of another mood.
    let model = model();
    let (songs_mood, _) = model.mood_nearest(Mood::Happy.affect()).unwrap();
    let playlist = model.playlist(songs_mood).unwrap();
    let far: Vec<PlaylistTrack> = playlist.tracks.iter().rev().take(5).cloned().collect();
    let other: Vec<PlaylistTrack> = model
        .playlists
        .iter()
        .find(|p| p.mood != songs_mood)
        .unwrap()
        .tracks
        .iter()
        .take(5)
        .cloned()
        .collect();
    let songs: Vec<_> = far.iter().chain(&other).map(liked_song).collect();
    workbench::spotify::library::write_library(&env.library(), &model.features, &songs).unwrap();

    let run = |library: &Path| {
        workbench()
            .args([
                "infer",
                "datasets/clips/clip.gif",
                "--from",
                "liked",
                "--library",
                s(library),
                "--json",
                "--no-report",
            ])
            .output()
            .unwrap()
    };
    let out = run(&env.library());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"]["mood"], "happy", "{r}");
    assert_eq!(r["affect"]["songs_mood"], songs_mood.name(), "{r}");
    let aim: Affect = serde_json::from_value(r["affect"]["aim"].clone()).unwrap();
    let got: Vec<&str> = r["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    // Nearest the clip's point first.
    let mut want = far.clone();
    want.sort_by(|a, b| {
        let d = |t: &PlaylistTrack| t.affect(&model.features).distance(aim);
        d(a).total_cmp(&d(b))
    });
    let want: Vec<&str> = want
        .iter()
        .map(|t| t.track.id.as_deref().unwrap())
        .collect();
    assert_eq!(got, want);
    assert!(
        r["recommended_from"].as_str().unwrap().contains("liked"),
        "{r}"
    );

    // No liked song in the mood: the catalogue, saying so.
    let songs: Vec<_> = other.iter().map(liked_song).collect();
    workbench::spotify::library::write_library(&env.library(), &model.features, &songs).unwrap();
    let out = run(&env.library());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["recommendations"].as_array().unwrap().len(), 10);
    assert!(
        r["recommended_from"]
            .as_str()
            .unwrap()
            .contains("none of your liked songs"),
        "{r}"
    );

    // No library at all: a clear error, before any work.
    let out = run(&env.dir.path().join("absent.csv"));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("import-liked"), "{}", text(&out));
}

#[test]
fn a_mood_of_more_than_a_hundred_songs_is_written_in_chunks_in_order() {
    // 150 real songs of one mood (the biggest playlist's), from the table the default model was
    // fitted on.
    let Some(table) = common::shared_file("datasets/spotify/spotify_songs.csv.gz") else {
        return;
    };
    let env = Env::new();
    let model = model();
    let mood = model.mood_of((0..model.k).max_by_key(|&c| model.sizes[c]).unwrap());
    let catalog = read_catalog(&table, &model.features).unwrap();
    let mut in_mood: Vec<PlaylistTrack> = model
        .place_all(&catalog)
        .unwrap()
        .into_iter()
        .filter(|t| model.mood_of(t.cluster) == mood)
        .take(150)
        .collect();
    assert_eq!(in_mood.len(), 150);
    let songs: Vec<_> = in_mood.iter().map(liked_song).collect();
    workbench::spotify::library::write_library(&env.library(), &model.features, &songs).unwrap();
    env.log_in(false);
    let library = env.library();
    let out = env.run(&[
        "spotify",
        "playlists",
        "--library",
        s(&library),
        "--songs",
        SONGS,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    in_mood.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let want: Vec<String> = in_mood
        .iter()
        .map(|t| format!("spotify:track:{}", t.track.id.as_deref().unwrap()))
        .collect();
    let mine = own_workbench_playlists(&env);
    let p = mine
        .iter()
        .find(|p| p.name == format!("workbench · {mood}"))
        .unwrap();
    assert_eq!(p.uris, want);
    let id = &p.id;
    assert_eq!(
        env.mock
            .requests("PUT", &format!("/playlists/{id}/items"))
            .len(),
        1
    );
    assert_eq!(
        env.mock
            .requests("POST", &format!("/playlists/{id}/items"))
            .len(),
        1
    );
}

#[test]
fn serve_logs_in_through_its_own_callback_and_imports_liked_songs() {
    let env = Env::new();
    let tracks = model_tracks();
    env.mock.with(|s| {
        s.liked = liked_from(&tracks[..20]);
        s.features = None;
    });
    let reports = env.dir.path().join("reports");
    let library = env.library();
    let config = env.dir.path().join("config");
    let (api, accounts) = (env.mock.api_url(), env.mock.accounts_url());
    let server = common::serve_client::Server::start_with_env(
        &reports,
        &["--songs", SONGS, "--library", s(&library)],
        &[
            ("XDG_CONFIG_HOME", config.as_os_str()),
            ("RSPOTIFY_CLIENT_ID", CLIENT_ID.as_ref()),
            ("WORKBENCH_SPOTIFY_API_URL", api.as_ref()),
            ("WORKBENCH_SPOTIFY_ACCOUNTS_URL", accounts.as_ref()),
        ],
    );
    let base = format!("http://{}", server.addr);
    // "Log in with Spotify" redirects to the consent page, with this server's /callback.
    let (status, to, answer) = common::serve_client::get_redirect(&server.addr, "/spotify/login");
    assert_eq!(status, 303, "{answer}");
    let url = url::Url::parse(&to).unwrap();
    assert_eq!(param(&url, "redirect_uri"), format!("{base}/callback"));
    env.mock.with(|s| {
        s.codes
            .insert("code-7".into(), param(&url, "code_challenge"))
    });
    let (status, page) = http_get(&format!(
        "{base}/callback?code=code-7&state={}",
        param(&url, "state")
    ));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Logged in to Spotify"), "{page}");
    assert_eq!(env.token_mode(), 0o600);
    env.assert_no_tokens(&page);

    // "Import my liked songs" writes the library the live page's "my liked songs" reads.
    let (status, coverage) =
        common::serve_client::http(&server.addr, "POST", "/api/spotify/import", &[], b"");
    assert_eq!(status, 200, "{coverage}");
    assert!(coverage.contains("20 of 20"), "{coverage}");
    let placed = workbench::spotify::library::read_placed(&model(), &library).unwrap();
    assert_eq!(placed.tracks.len(), 20);
    env.assert_no_tokens(&coverage);
}
