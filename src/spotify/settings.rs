//! Where the Spotify pieces live: the client id, the token file, the redirect port, and the base
//! URLs (overridable so tests can point the real client at a local mock).

use super::SpotifyError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_API_BASE_URL: &str = "https://api.spotify.com/v1/";
pub const DEFAULT_ACCOUNTS_BASE_URL: &str = "https://accounts.spotify.com/";
/// The redirect URI registered in the Spotify dashboard must be exactly
/// `http://127.0.0.1:<port>/callback`.
pub const DEFAULT_REDIRECT_PORT: u16 = 8888;
pub const CALLBACK_PATH: &str = "/callback";

/// `$XDG_CONFIG_HOME/workbench/spotify.toml`; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    client_id: Option<String>,
    redirect_port: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct SpotifySettings {
    pub client_id: Option<String>,
    pub redirect_port: u16,
    pub api_base_url: String,
    pub accounts_base_url: String,
    pub config_path: PathBuf,
    pub token_path: PathBuf,
}

/// `$XDG_CONFIG_HOME/workbench`, else `~/.config/workbench`.
pub fn config_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".config")
        });
    base.join("workbench")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl SpotifySettings {
    /// Environment first (`RSPOTIFY_CLIENT_ID`, `WORKBENCH_SPOTIFY_API_URL`,
    /// `WORKBENCH_SPOTIFY_ACCOUNTS_URL`), then the config file, then defaults.
    pub fn resolve() -> Result<SpotifySettings, SpotifyError> {
        let dir = config_dir();
        let config_path = dir.join("spotify.toml");
        let file = read_config(&config_path)?;
        Ok(SpotifySettings {
            client_id: env("RSPOTIFY_CLIENT_ID").or(file.client_id),
            redirect_port: file.redirect_port.unwrap_or(DEFAULT_REDIRECT_PORT),
            api_base_url: env("WORKBENCH_SPOTIFY_API_URL")
                .unwrap_or_else(|| DEFAULT_API_BASE_URL.into()),
            accounts_base_url: env("WORKBENCH_SPOTIFY_ACCOUNTS_URL")
                .unwrap_or_else(|| DEFAULT_ACCOUNTS_BASE_URL.into()),
            config_path,
            token_path: dir.join("spotify-token.json"),
        })
    }

    pub fn redirect_uri(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{CALLBACK_PATH}")
    }

    pub fn require_client_id(&self) -> Result<&str, SpotifyError> {
        self.client_id
            .as_deref()
            .ok_or_else(|| SpotifyError::NoClientId {
                config: self.config_path.clone(),
                redirect_uri: self.redirect_uri(self.redirect_port),
            })
    }

    pub fn rspotify_config(&self) -> rspotify::Config {
        rspotify::Config {
            api_base_url: self.api_base_url.clone(),
            auth_base_url: self.accounts_base_url.clone(),
            // The session refreshes and stores tokens itself (mode 0600, refresh token kept).
            token_cached: false,
            token_refreshing: false,
            ..Default::default()
        }
    }
}

fn read_config(path: &Path) -> Result<ConfigFile, SpotifyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| SpotifyError::Config {
            path: path.into(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(source) => Err(SpotifyError::Io {
            path: path.into(),
            source,
        }),
    }
}
