//! A logged-in rspotify client with the retry rules Spotify asks for: refresh the token when it
//! has expired (or on a 401, once), wait out a 429 for as long as `Retry-After` says, retry a 5xx
//! a few times with backoff, and turn anything else into one clear error naming the call.

use super::settings::SpotifySettings;
use super::token_store::{StoredToken, TokenStore};
use super::SpotifyError;
use rspotify::clients::BaseClient;
use rspotify::http::HttpError;
use rspotify::{AuthCodePkceSpotify, ClientError, ClientResult, Credentials, OAuth};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts for a call answered 5xx (the first included).
    pub server_error_attempts: usize,
    /// Backoff before the n-th retry of a 5xx: `base × 2^(n-1)`.
    pub backoff_base: Duration,
    /// 429s tolerated per call.
    pub rate_limit_attempts: usize,
    /// Longest `Retry-After` waited for; a longer one is an error that says so.
    pub max_retry_after_s: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            server_error_attempts: 4,
            backoff_base: Duration::from_millis(250),
            rate_limit_attempts: 5,
            max_retry_after_s: 120,
        }
    }
}

pub struct Session {
    pub client: AuthCodePkceSpotify,
    store: TokenStore,
    client_id: String,
    policy: RetryPolicy,
}

/// What went wrong with one attempt, sorted by what to do about it.
enum Failure {
    Unauthorized,
    RateLimited(u64),
    Server(u16),
    Other(SpotifyError),
}

impl Session {
    /// Opens the session stored by `workbench spotify login`.
    pub fn open(settings: &SpotifySettings) -> Result<Session, SpotifyError> {
        let store = TokenStore::new(&settings.token_path);
        let stored = store.load()?;
        let client = AuthCodePkceSpotify::from_token_with_config(
            stored.token,
            Credentials::new_pkce(&stored.client_id),
            OAuth::default(),
            settings.rspotify_config(),
        );
        Ok(Session {
            client,
            store,
            client_id: stored.client_id,
            policy: RetryPolicy::default(),
        })
    }

    /// Runs `op` under the retry rules; `what` names the call in errors ("GET me/tracks").
    pub fn call<T>(
        &self,
        what: &str,
        op: impl Fn(&AuthCodePkceSpotify) -> ClientResult<T>,
    ) -> Result<T, SpotifyError> {
        if self.token_expired() {
            self.refresh()?;
        }
        let mut refreshed = false;
        let mut server_errors = 0;
        let mut rate_limits = 0;
        loop {
            let failure = match op(&self.client) {
                Ok(value) => return Ok(value),
                Err(err) => classify(what, err),
            };
            match failure {
                Failure::Unauthorized if !refreshed => {
                    tracing::info!("{what}: 401, refreshing the token and retrying");
                    self.refresh()?;
                    refreshed = true;
                }
                Failure::Unauthorized => return Err(SpotifyError::Unauthorized(what.into())),
                Failure::RateLimited(seconds) => {
                    rate_limits += 1;
                    if seconds > self.policy.max_retry_after_s {
                        return Err(SpotifyError::RateLimited {
                            what: what.into(),
                            seconds,
                            limit: self.policy.max_retry_after_s,
                        });
                    }
                    if rate_limits >= self.policy.rate_limit_attempts {
                        return Err(SpotifyError::GaveUp {
                            what: what.into(),
                            status: 429,
                            attempts: rate_limits,
                        });
                    }
                    eprintln!("Spotify rate limit on {what}: waiting {seconds} s (Retry-After)");
                    std::thread::sleep(Duration::from_secs(seconds));
                }
                Failure::Server(status) => {
                    server_errors += 1;
                    if server_errors >= self.policy.server_error_attempts {
                        return Err(SpotifyError::GaveUp {
                            what: what.into(),
                            status,
                            attempts: server_errors,
                        });
                    }
                    let wait = self.policy.backoff_base * 2u32.pow(server_errors as u32 - 1);
                    tracing::warn!("{what}: Spotify answered {status}; retrying in {wait:?}");
                    std::thread::sleep(wait);
                }
                Failure::Other(err) => return Err(err),
            }
        }
    }

    fn token_expired(&self) -> bool {
        let token = self.client.token.lock().expect("token lock");
        token.as_ref().is_none_or(rspotify::Token::is_expired)
    }

    /// Trades the refresh token for a new access token and stores it (0600). Spotify may or may
    /// not send a new refresh token; the old one is kept when it does not.
    pub fn refresh(&self) -> Result<(), SpotifyError> {
        let old_refresh = self
            .client
            .token
            .lock()
            .expect("token lock")
            .as_ref()
            .and_then(|t| t.refresh_token.clone());
        if old_refresh.is_none() {
            return Err(SpotifyError::Login(
                "the stored token has expired and holds no refresh token: run `workbench spotify login` again".into(),
            ));
        }
        match self.client.refetch_token() {
            Ok(Some(mut token)) => {
                if token.refresh_token.is_none() {
                    token.refresh_token = old_refresh;
                }
                *self.client.token.lock().expect("token lock") = Some(token.clone());
                self.store.save(&StoredToken {
                    client_id: self.client_id.clone(),
                    token,
                })
            }
            Ok(None) => Err(SpotifyError::Login("no refresh token: run `workbench spotify login` again".into())),
            Err(err) => match classify("POST api/token (refresh)", err) {
                Failure::Other(SpotifyError::Status { status: 400, message, .. }) => {
                    Err(SpotifyError::Login(format!(
                        "Spotify refused to refresh the token ({}): run `workbench spotify login` again",
                        message.unwrap_or_else(|| "400".into())
                    )))
                }
                Failure::Other(e) => Err(e),
                Failure::Unauthorized => Err(SpotifyError::Unauthorized("POST api/token (refresh)".into())),
                Failure::RateLimited(_) | Failure::Server(_) => Err(SpotifyError::Login(
                    "Spotify's accounts service is unavailable; try again later".into(),
                )),
            },
        }
    }
}

/// Sorts an rspotify error. Only the status, `Retry-After` and Spotify's own error message are
/// read from a response: never a header that could hold a token.
fn classify(what: &str, err: ClientError) -> Failure {
    match err {
        ClientError::Http(http) => match *http {
            HttpError::StatusCode(response) => {
                let status = response.status();
                let retry_after = response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match status {
                    401 => Failure::Unauthorized,
                    429 => Failure::RateLimited(retry_after.unwrap_or(1)),
                    500..=599 => Failure::Server(status),
                    _ => Failure::Other(SpotifyError::Status {
                        what: what.into(),
                        status,
                        message: response
                            .into_string()
                            .ok()
                            .and_then(|body| api_message(&body)),
                    }),
                }
            }
            HttpError::Transport(t) => Failure::Other(SpotifyError::Transport {
                what: what.into(),
                message: t.kind().to_string(),
            }),
            HttpError::Io(e) => Failure::Other(SpotifyError::Transport {
                what: what.into(),
                message: e.to_string(),
            }),
        },
        ClientError::ParseJson(e) => Failure::Other(SpotifyError::Protocol {
            what: what.into(),
            message: format!(
                "JSON {:?} error at line {}, column {}",
                e.classify(),
                e.line(),
                e.column()
            ),
        }),
        other => Failure::Other(SpotifyError::Protocol {
            what: what.into(),
            message: other.to_string(),
        }),
    }
}

/// Spotify's error body: `{"error": {"status": 403, "message": "..."}}` from the API, or
/// `{"error": "invalid_grant", "error_description": "..."}` from the accounts service.
fn api_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let text = match &v["error"] {
        serde_json::Value::Object(o) => o.get("message")?.as_str()?.to_string(),
        serde_json::Value::String(code) => match v["error_description"].as_str() {
            Some(d) => format!("{code}: {d}"),
            None => code.clone(),
        },
        _ => return None,
    };
    Some(text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::api_message;

    #[test]
    fn reads_both_kinds_of_error_body() {
        assert_eq!(
            api_message(r#"{"error": {"status": 403, "message": "Forbidden"}}"#).as_deref(),
            Some("Forbidden")
        );
        assert_eq!(
            api_message(
                r#"{"error": "invalid_grant", "error_description": "Refresh token revoked"}"#
            )
            .as_deref(),
            Some("invalid_grant: Refresh token revoked")
        );
        assert_eq!(api_message("<html>"), None);
    }
}
