//! A small Spotify on 127.0.0.1 for the tests: the accounts service (PKCE code and refresh
//! grants, with the verifier checked against the challenge) under `/accounts/`, and the Web API
//! endpoints the workbench uses under `/v1/`, answering the shapes Spotify documents. Faults
//! (429 with Retry-After, 5xx, revoked tokens, a closed audio-features endpoint) are switched on
//! per test, and every request is logged so tests can check what the client did.

#![allow(dead_code)]

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    /// Matches when the path ends with this (e.g. "/me/tracks").
    pub path_suffix: &'static str,
    /// And, if set, when this query parameter has this value.
    pub query: Option<(&'static str, &'static str)>,
    pub status: u16,
    pub retry_after: Option<u64>,
    /// How many requests it hits; `usize::MAX`: all.
    pub times: usize,
}

#[derive(Debug, Clone)]
pub struct MockPlaylist {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub public: bool,
    pub description: String,
    pub uris: Vec<String>,
}

#[derive(Debug, Default)]
pub struct State {
    pub client_id: String,
    pub user_id: String,
    /// code → expected PKCE challenge.
    pub codes: HashMap<String, String>,
    pub access_tokens: HashSet<String>,
    pub refresh_tokens: HashSet<String>,
    pub issued: usize,
    /// Grant types seen at the token endpoint, in order.
    pub grants: Vec<String>,
    /// Saved-track objects (`{added_at, track}`), in the user's order.
    pub liked: Vec<Value>,
    /// `None`: the endpoint answers 403 (closed to new apps). `Some`: features by id; ids not
    /// in it come back `null`.
    pub features: Option<HashMap<String, Value>>,
    pub playlists: Vec<MockPlaylist>,
    pub faults: Vec<Fault>,
    pub log: Vec<Logged>,
}

pub struct Mock {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl Mock {
    pub fn start(client_id: &str) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            client_id: client_id.into(),
            user_id: "wbuser".into(),
            ..Default::default()
        }));
        let shared = Arc::clone(&state);
        let base_for_pages = base.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                let base = base_for_pages.clone();
                std::thread::spawn(move || serve(stream, &state, &base));
            }
        });
        Mock { base, state }
    }

    pub fn api_url(&self) -> String {
        format!("{}/v1/", self.base)
    }

    pub fn accounts_url(&self) -> String {
        format!("{}/accounts/", self.base)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Issues a token pair as if a login had happened.
    pub fn issue_tokens(&self) -> (String, String) {
        self.with(issue)
    }

    pub fn requests(&self, method: &str, path_suffix: &str) -> Vec<Logged> {
        self.with(|s| {
            s.log
                .iter()
                .filter(|l| {
                    l.method == method && l.path.trim_end_matches('/').ends_with(path_suffix)
                })
                .cloned()
                .collect()
        })
    }

    pub fn writes(&self) -> Vec<Logged> {
        self.with(|s| {
            s.log
                .iter()
                .filter(|l| l.method != "GET" && !l.path.contains("/accounts/"))
                .cloned()
                .collect()
        })
    }
}

fn issue(s: &mut State) -> (String, String) {
    s.issued += 1;
    let access = format!(
        "mock-access-{}-{:x}",
        s.issued,
        0x5eed_u64.wrapping_mul(s.issued as u64 + 7)
    );
    let refresh = format!(
        "mock-refresh-{}-{:x}",
        s.issued,
        0xfeed_u64.wrapping_mul(s.issued as u64 + 3)
    );
    s.access_tokens.insert(access.clone());
    s.refresh_tokens.insert(refresh.clone());
    (access, refresh)
}

pub fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn pkce_challenge(verifier: &str) -> String {
    base64url(&Sha256::digest(verifier.as_bytes()))
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: String,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let url = url::Url::parse(&format!("http://mock{target}")).ok()?;
    Some(Request {
        method,
        path: url.path().to_string(),
        query: url.query_pairs().into_owned().collect(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, base: &str) {
    let Some(req) = read_request(&stream) else {
        return;
    };
    let (status, headers, body) = {
        let mut s = state.lock().unwrap();
        let answer = route(&mut s, &req, base);
        s.log.push(Logged {
            at: Instant::now(),
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            status: answer.0,
            body: req.body.clone(),
        });
        answer
    };
    let text = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(status),
        text.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

type Answer = (u16, Vec<(String, String)>, Value);

fn api_error(status: u16, message: &str) -> Answer {
    (
        status,
        vec![],
        json!({"error": {"status": status, "message": message}}),
    )
}

fn route(s: &mut State, req: &Request, base: &str) -> Answer {
    // Injected faults first.
    if let Some(i) = s.faults.iter().position(|f| {
        f.times > 0
            && f.method == req.method
            && req.path.ends_with(f.path_suffix)
            && f.query
                .is_none_or(|(k, v)| req.query.get(k).map(String::as_str) == Some(v))
    }) {
        let f = &mut s.faults[i];
        if f.times != usize::MAX {
            f.times -= 1;
        }
        let headers = f
            .retry_after
            .map(|r| vec![("Retry-After".to_string(), r.to_string())])
            .unwrap_or_default();
        let (status, _, body) = api_error(f.status, "injected fault");
        return (status, headers, body);
    }
    if req.path == "/accounts/api/token" && req.method == "POST" {
        return token_endpoint(s, req);
    }
    let Some(path) = req.path.strip_prefix("/v1/") else {
        return api_error(404, "no such path");
    };
    let bearer = req
        .headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    if !s.access_tokens.contains(bearer) {
        return api_error(401, "The access token expired");
    }
    let path = path.trim_end_matches('/');
    let user = user_json(&s.user_id, base);
    let q = |k: &str, default: usize| {
        req.query
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    match (req.method.as_str(), path) {
        ("GET", "me") => (200, vec![], {
            let mut u = user;
            u["product"] = json!("premium");
            u
        }),
        ("GET", "me/tracks") => {
            let (limit, offset) = (q("limit", 20).min(50), q("offset", 0));
            (
                200,
                vec![],
                page(base, "me/tracks", &s.liked, limit, offset),
            )
        }
        ("GET", "audio-features") => match &s.features {
            None => api_error(403, "Forbidden"),
            Some(map) => {
                let ids = req.query.get("ids").cloned().unwrap_or_default();
                let list: Vec<Value> = ids
                    .split(',')
                    .filter(|i| !i.is_empty())
                    .map(|id| map.get(id).cloned().unwrap_or(Value::Null))
                    .collect();
                (200, vec![], json!({"audio_features": list}))
            }
        },
        ("GET", "me/playlists") => {
            let (limit, offset) = (q("limit", 20).min(50), q("offset", 0));
            let items: Vec<Value> = s
                .playlists
                .iter()
                .map(|p| playlist_json(p, base, false))
                .collect();
            (
                200,
                vec![],
                page(base, "me/playlists", &items, limit, offset),
            )
        }
        ("POST", "me/playlists") => {
            let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            let Some(name) = body["name"].as_str() else {
                return api_error(400, "Missing name");
            };
            let p = MockPlaylist {
                id: format!("wbplaylist{:012}", s.playlists.len() + 1),
                name: name.to_string(),
                owner: s.user_id.clone(),
                public: body["public"].as_bool().unwrap_or(true),
                description: body["description"].as_str().unwrap_or("").to_string(),
                uris: vec![],
            };
            s.playlists.push(p.clone());
            (201, vec![], playlist_json(&p, base, true))
        }
        (method @ ("PUT" | "POST"), p) if p.starts_with("playlists/") && p.ends_with("/items") => {
            let id = p
                .trim_start_matches("playlists/")
                .trim_end_matches("/items")
                .to_string();
            let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            let Some(uris) = body["uris"].as_array() else {
                return api_error(400, "Missing uris");
            };
            if uris.len() > 100 {
                return api_error(400, "Too many ids requested");
            }
            let uris: Vec<String> = uris
                .iter()
                .filter_map(|u| u.as_str().map(String::from))
                .collect();
            let user_id = s.user_id.clone();
            let Some(pl) = s.playlists.iter_mut().find(|x| x.id == id) else {
                return api_error(404, "Not found");
            };
            if pl.owner != user_id {
                return api_error(403, "You cannot add tracks to a playlist you don't own.");
            }
            if method == "PUT" {
                pl.uris = uris;
            } else {
                pl.uris.extend(uris);
            }
            (
                if method == "PUT" { 200 } else { 201 },
                vec![],
                json!({"snapshot_id": format!("snap{}", pl.uris.len())}),
            )
        }
        _ => api_error(404, "Service not found"),
    }
}

fn token_endpoint(s: &mut State, req: &Request) -> Answer {
    let form: HashMap<String, String> = url::form_urlencoded::parse(req.body.as_bytes())
        .into_owned()
        .collect();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    s.grants.push(grant.clone());
    let bad = |e: &str, d: &str| (400, vec![], json!({"error": e, "error_description": d}));
    if form.get("client_id") != Some(&s.client_id) {
        return bad("invalid_client", "Invalid client");
    }
    match grant.as_str() {
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(challenge) = s.codes.remove(&code) else {
                return bad("invalid_grant", "Invalid authorization code");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if pkce_challenge(&verifier) != challenge {
                return bad("invalid_grant", "code_verifier was incorrect");
            }
            if !form
                .get("redirect_uri")
                .is_some_and(|r| r.starts_with("http://127.0.0.1:"))
            {
                return bad("invalid_grant", "Invalid redirect URI");
            }
        }
        "refresh_token" => {
            let old = form.get("refresh_token").cloned().unwrap_or_default();
            // PKCE refresh tokens are single use: Spotify rotates them.
            if !s.refresh_tokens.remove(&old) {
                return bad("invalid_grant", "Refresh token revoked");
            }
        }
        _ => {
            return bad(
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )
        }
    }
    let (access, refresh) = issue(s);
    (
        200,
        vec![],
        json!({
            "access_token": access,
            "token_type": "Bearer",
            "scope": "user-library-read playlist-read-private playlist-modify-private",
            "expires_in": 3600,
            "refresh_token": refresh,
        }),
    )
}

fn page(base: &str, what: &str, all: &[Value], limit: usize, offset: usize) -> Value {
    let items: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset + limit < all.len())
        .then(|| format!("{base}/v1/{what}?offset={}&limit={limit}", offset + limit));
    json!({
        "href": format!("{base}/v1/{what}?offset={offset}&limit={limit}"),
        "items": items,
        "limit": limit,
        "next": next,
        "offset": offset,
        "previous": Value::Null,
        "total": all.len(),
    })
}

fn user_json(id: &str, base: &str) -> Value {
    json!({
        "display_name": "Mock Listener",
        "external_urls": {"spotify": format!("https://open.spotify.com/user/{id}")},
        "href": format!("{base}/v1/users/{id}"),
        "id": id,
        "images": [],
        "type": "user",
        "uri": format!("spotify:user:{id}"),
    })
}

fn playlist_json(p: &MockPlaylist, base: &str, full: bool) -> Value {
    let items_ref =
        json!({"href": format!("{base}/v1/playlists/{}/items", p.id), "total": p.uris.len()});
    let mut v = json!({
        "collaborative": false,
        "description": p.description,
        "external_urls": {"spotify": format!("https://open.spotify.com/playlist/{}", p.id)},
        "href": format!("{base}/v1/playlists/{}", p.id),
        "id": p.id,
        "images": [],
        "name": p.name,
        "owner": user_json(&p.owner, base),
        "public": p.public,
        "snapshot_id": format!("snap{}", p.uris.len()),
        "type": "playlist",
        "uri": format!("spotify:playlist:{}", p.id),
        "items": items_ref,
        "tracks": items_ref,
    });
    if full {
        let empty = json!({"href": format!("{base}/v1/playlists/{}/items", p.id), "items": [], "limit": 100, "next": null, "offset": 0, "previous": null, "total": 0});
        v["items"] = empty.clone();
        v["tracks"] = empty;
        v["followers"] = json!({"href": null, "total": 0});
    }
    v
}

/// A saved-track object as Spotify sends it (since Feb 2026 without popularity).
pub fn saved_track(id: Option<&str>, name: &str, artist: &str, added_at: &str) -> Value {
    json!({
        "added_at": added_at,
        "track": {
            "album": {
                "album_type": "album",
                "artists": [{"external_urls": {}, "href": null, "id": null, "name": artist, "type": "artist", "uri": ""}],
                "external_urls": {},
                "href": null,
                "id": null,
                "images": [],
                "name": "An Album",
                "type": "album",
                "uri": "",
            },
            "artists": [{"external_urls": {}, "href": null, "id": null, "name": artist, "type": "artist", "uri": ""}],
            "disc_number": 1,
            "duration_ms": 200000,
            "explicit": false,
            "external_ids": {},
            "external_urls": {},
            "href": null,
            "id": id,
            "is_local": id.is_none(),
            "name": name,
            "preview_url": null,
            "track_number": 1,
            "type": "track",
            "uri": id.map(|i| format!("spotify:track:{i}")).unwrap_or_else(|| "spotify:local:x:y:z:1".into()),
        }
    })
}

/// An audio-features object for `id` with the given values (others neutral).
pub fn audio_features(id: &str, values: &HashMap<String, f64>) -> Value {
    let v = |k: &str, d: f64| values.get(k).copied().unwrap_or(d);
    json!({
        "acousticness": v("acousticness", 0.5),
        "analysis_url": format!("https://api.spotify.com/v1/audio-analysis/{id}"),
        "danceability": v("danceability", 0.5),
        "duration_ms": v("duration_ms", 200000.0) as i64,
        "energy": v("energy", 0.5),
        "id": id,
        "instrumentalness": v("instrumentalness", 0.0),
        "key": v("key", 5.0) as i64,
        "liveness": v("liveness", 0.1),
        "loudness": v("loudness", -7.0),
        "mode": v("mode", 1.0) as i64,
        "speechiness": v("speechiness", 0.05),
        "tempo": v("tempo", 120.0),
        "time_signature": 4,
        "track_href": format!("https://api.spotify.com/v1/tracks/{id}"),
        "type": "audio_features",
        "uri": format!("spotify:track:{id}"),
        "valence": v("valence", 0.5),
    })
}
