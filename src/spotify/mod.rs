//! Spotify, optional: log in (Authorization Code with PKCE), import the liked songs into a local
//! library CSV, and keep six private mood playlists in the user's account. Nothing else in the
//! workbench needs it: the pipeline runs from local CSVs, and the library CSV written here is the
//! only thing other stages read (`infer --from liked`).
//!
//! Spotify closed the audio-features and recommendations endpoints to new apps on 2024-11-27, so
//! features come from the endpoint when it answers and otherwise from local tables matched by
//! track id; nothing is ever invented.
//!
//! Secrets: PKCE needs no client secret (none is read). Tokens live only in the token file
//! (mode 0600) and in memory; rspotify logs requests with their `Authorization` header through
//! the `log` crate, so `main` drops every log record of rspotify and ureq.

pub mod library;
pub mod login;
pub mod playlists;
pub mod session;
pub mod settings;
pub mod token_store;

use std::path::PathBuf;

/// The scopes the workbench asks for: read the liked songs and the user's playlists, and write
/// private playlists.
pub const SCOPES: [&str; 3] = [
    "user-library-read",
    "playlist-read-private",
    "playlist-modify-private",
];

/// Log targets whose records can carry tokens (rspotify logs whole requests, headers included).
pub const SECRET_BEARING_LOG_TARGETS: [&str; 3] = ["rspotify", "rspotify_http", "ureq"];

#[derive(Debug, thiserror::Error)]
pub enum SpotifyError {
    #[error("no Spotify client id: set RSPOTIFY_CLIENT_ID or put `client_id = \"...\"` in {config} (create an app at https://developer.spotify.com/dashboard with the redirect URI {redirect_uri})")]
    NoClientId {
        config: PathBuf,
        redirect_uri: String,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("not logged in to Spotify (no token at {0}): run `workbench spotify login`")]
    NotLoggedIn(PathBuf),
    #[error("{path}: unreadable token file ({message}); run `workbench spotify login` again")]
    BadTokenFile { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("login: {0}")]
    Login(String),
    #[error("Spotify answered {status} to {what}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        what: String,
        status: u16,
        message: Option<String>,
    },
    #[error("Spotify answered {status} to {what} {attempts} times; giving up (try again later)")]
    GaveUp {
        what: String,
        status: u16,
        attempts: usize,
    },
    #[error("Spotify asked to wait {seconds} s before retrying {what} (Retry-After); more than the {limit} s this command waits")]
    RateLimited {
        what: String,
        seconds: u64,
        limit: u64,
    },
    #[error("could not reach Spotify for {what}: {message}")]
    Transport { what: String, message: String },
    #[error("Spotify still refuses the token (401) after refreshing it, on {0}: run `workbench spotify login` again")]
    Unauthorized(String),
    #[error("{what}: unexpected answer from Spotify: {message}")]
    Protocol { what: String, message: String },
}

/// The playlist a mood is kept in.
pub fn playlist_name(mood: crate::emotion::Mood) -> String {
    format!("workbench · {mood}")
}
