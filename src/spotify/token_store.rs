//! The token file: `$XDG_CONFIG_HOME/workbench/spotify-token.json`, mode 0600 in a 0700
//! directory, written atomically. It holds the access and refresh tokens and the client id they
//! belong to (a PKCE refresh must name the same client).

use super::SpotifyError;
use crate::artifacts;
use rspotify::Token;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Serialize, Deserialize)]
pub struct StoredToken {
    pub client_id: String,
    pub token: Token,
}

// Debug must never print a token.
impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("client_id", &self.client_id)
            .field("expires_at", &self.token.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct TokenStore {
    pub path: PathBuf,
}

impl TokenStore {
    pub fn new(path: impl Into<PathBuf>) -> TokenStore {
        TokenStore { path: path.into() }
    }

    pub fn load(&self) -> Result<StoredToken, SpotifyError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpotifyError::NotLoggedIn(self.path.clone()))
            }
            Err(source) => {
                return Err(SpotifyError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        self.tighten_mode()?;
        serde_json::from_str(&text).map_err(|e| SpotifyError::BadTokenFile {
            path: self.path.clone(),
            // Not serde's message: it can quote the offending value, i.e. a token.
            message: format!(
                "not a token file (JSON {:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        })
    }

    pub fn save(&self, stored: &StoredToken) -> Result<(), SpotifyError> {
        let io = |source| SpotifyError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io)?;
        }
        let mut text = serde_json::to_string_pretty(stored).expect("a token serialises");
        text.push('\n');
        artifacts::write_atomic_private(&self.path, text.as_bytes()).map_err(io)
    }

    /// Removes the file; `Ok(false)` when there was none.
    pub fn remove(&self) -> Result<bool, SpotifyError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(SpotifyError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// A token file someone made readable by others is put back to 0600, with a warning.
    fn tighten_mode(&self) -> Result<(), SpotifyError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |source| SpotifyError::Io {
            path: self.path.clone(),
            source,
        };
        let mode = std::fs::metadata(&self.path)
            .map_err(io)?
            .permissions()
            .mode()
            & 0o777;
        if mode != 0o600 {
            tracing::warn!(
                "{}: mode {mode:o} lets others read your Spotify token; set to 600",
                self.path.display()
            );
            std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn token(access: &str) -> StoredToken {
        StoredToken {
            client_id: "client".into(),
            token: Token {
                access_token: access.into(),
                refresh_token: Some("refresh-secret".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn saved_token_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("cfg/workbench/spotify-token.json"));
        assert!(matches!(store.load(), Err(SpotifyError::NotLoggedIn(_))));
        store.save(&token("access-secret")).unwrap();
        let mode = std::fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(store.path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(store.load().unwrap().token.access_token, "access-secret");
        assert!(!format!("{:?}", store.load().unwrap()).contains("secret"));
        // Made world-readable by hand: loading puts it back.
        std::fs::set_permissions(&store.path, std::fs::Permissions::from_mode(0o644)).unwrap();
        store.load().unwrap();
        let mode = std::fs::metadata(&store.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(store.remove().unwrap());
        assert!(!store.remove().unwrap());
    }

    #[test]
    fn a_corrupt_file_says_log_in_again_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("t.json"));
        std::fs::write(
            &store.path,
            "{\"client_id\": \"c\", \"token\": \"access-secret\"}",
        )
        .unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("login"), "{err}");
        assert!(!err.contains("access-secret"), "{err}");
    }
}
