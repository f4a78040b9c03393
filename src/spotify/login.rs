//! `workbench spotify login`: Authorization Code with PKCE. A listener on 127.0.0.1 (never any
//! other interface) waits for Spotify's redirect, accepts exactly one callback, checks its
//! `state` against the one we sent (a forged or stale callback ends the login), and closes. The
//! code and the verifier are then traded for tokens, which go to the token file (0600).

use super::settings::{SpotifySettings, CALLBACK_PATH};
use super::token_store::{StoredToken, TokenStore};
use super::{SpotifyError, SCOPES};
use rspotify::clients::OAuthClient;
use rspotify::{AuthCodePkceSpotify, Credentials, OAuth};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// 0 lets the OS choose (only useful against a mock: Spotify wants the registered port).
    pub port: u16,
    pub timeout: Duration,
}

pub struct LoginOutcome {
    pub user: String,
    pub token_path: std::path::PathBuf,
}

/// What came back to the callback path.
#[derive(Debug, PartialEq)]
enum Callback {
    Code(String),
    Refused(String),
}

/// Runs the whole flow; `show_url` receives the URL the user must open.
pub fn login(
    settings: &SpotifySettings,
    options: &LoginOptions,
    show_url: impl FnOnce(&str),
) -> Result<LoginOutcome, SpotifyError> {
    settings.require_client_id()?;
    // Bind before showing the URL, so the redirect cannot arrive before we listen.
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
        .map_err(|e| {
            SpotifyError::Login(format!(
                "cannot listen on 127.0.0.1:{} for Spotify's redirect: {e} (choose another with --port, and register http://127.0.0.1:<port>/callback in your app)",
                options.port
            ))
        })?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(options.port);
    let pending = begin(settings, settings.redirect_uri(port))?;
    show_url(&pending.url);
    let callback = wait_for_callback(listener, &pending.state, options.timeout)?;
    match callback {
        Callback::Code(code) => finish(settings, pending, &code),
        Callback::Refused(why) => Err(SpotifyError::Login(format!(
            "Spotify did not authorise the app: {why}"
        ))),
    }
}

/// A login in flight: the PKCE client (it holds the verifier), the `state` Spotify must send
/// back, and the URL the user opens. `serve` keeps these between its login and callback pages.
pub struct PendingLogin {
    client: AuthCodePkceSpotify,
    client_id: String,
    pub state: String,
    pub url: String,
}

/// Starts a login whose redirect comes back to `redirect_uri`.
pub fn begin(
    settings: &SpotifySettings,
    redirect_uri: String,
) -> Result<PendingLogin, SpotifyError> {
    let client_id = settings.require_client_id()?.to_string();
    let oauth = OAuth {
        redirect_uri,
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let state = oauth.state.clone();
    let mut client = AuthCodePkceSpotify::with_config(
        Credentials::new_pkce(&client_id),
        oauth,
        settings.rspotify_config(),
    );
    let url = client
        .get_authorize_url(None)
        .map_err(|e| SpotifyError::Login(format!("cannot build the authorisation URL: {e}")))?;
    Ok(PendingLogin {
        client,
        client_id,
        state,
        url,
    })
}

/// Trades the callback's code (and the pending login's verifier) for a token, saved 0600.
pub fn finish(
    settings: &SpotifySettings,
    mut pending: PendingLogin,
    code: &str,
) -> Result<LoginOutcome, SpotifyError> {
    let client = &mut pending.client;
    client.request_token(code).map_err(|e| {
        SpotifyError::Login(format!(
            "trading the authorisation code for a token failed: {}",
            short_error(&e)
        ))
    })?;
    let token = client
        .token
        .lock()
        .expect("token lock")
        .clone()
        .ok_or_else(|| SpotifyError::Login("Spotify sent no token".into()))?;
    let store = TokenStore::new(&settings.token_path);
    store.save(&StoredToken {
        client_id: pending.client_id.clone(),
        token,
    })?;
    let user = client
        .me()
        .ok()
        .map(|me| me.display_name.unwrap_or_else(|| me.id.to_string()))
        .unwrap_or_else(|| "(profile unavailable)".into());
    Ok(LoginOutcome {
        user,
        token_path: store.path,
    })
}

/// An rspotify error without anything that could echo a secret: the status, or the kind.
fn short_error(err: &rspotify::ClientError) -> String {
    match err {
        rspotify::ClientError::Http(http) => match http.as_ref() {
            rspotify::http::HttpError::StatusCode(r) => format!("status {}", r.status()),
            rspotify::http::HttpError::Transport(t) => t.kind().to_string(),
            rspotify::http::HttpError::Io(e) => e.to_string(),
        },
        rspotify::ClientError::ParseJson(_) => "the answer is not a token".into(),
        other => other.to_string(),
    }
}

/// Serves the loopback listener until one request reaches the callback path (other paths, such
/// as a browser's favicon request, get a 404), answers it, and returns; the listener is dropped,
/// so the port closes.
fn wait_for_callback(
    listener: TcpListener,
    state: &str,
    timeout: Duration,
) -> Result<Callback, SpotifyError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| SpotifyError::Login(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Some(result) = handle_request(stream, state) {
                    return result;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(SpotifyError::Login(format!(
                        "no redirect from Spotify within {} s (run the command again, then open the URL)",
                        timeout.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(SpotifyError::Login(format!("listener: {e}"))),
        }
    }
}

/// `None`: not the callback, keep listening. `Some`: the one callback, answered.
fn handle_request(mut stream: TcpStream, state: &str) -> Option<Result<Callback, SpotifyError>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return None;
    }
    // "GET /callback?code=...&state=... HTTP/1.1"
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != CALLBACK_PATH {
        respond(
            &mut stream,
            "404 Not Found",
            "Not the workbench login callback.",
        );
        return None;
    }
    let param = |name: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let result = match (param("state"), param("code"), param("error")) {
        (Some(s), _, _) if s != state => {
            respond(&mut stream, "400 Bad Request", "This login link does not match the one workbench started (state mismatch). Nothing was saved; run `workbench spotify login` again.");
            Err(SpotifyError::Login(
                "the callback's state does not match the login's: a forged or stale redirect was refused and nothing was saved".into(),
            ))
        }
        (None, _, _) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "The callback carries no state. Nothing was saved.",
            );
            Err(SpotifyError::Login(
                "the callback carries no state: refused, nothing saved".into(),
            ))
        }
        (Some(_), _, Some(error)) => {
            respond(
                &mut stream,
                "200 OK",
                "Spotify did not authorise workbench. You can close this tab.",
            );
            Ok(Callback::Refused(error))
        }
        (Some(_), Some(code), None) => {
            respond(
                &mut stream,
                "200 OK",
                "Logged in to workbench. You can close this tab.",
            );
            Ok(Callback::Code(code))
        }
        (Some(_), None, None) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "The callback carries no code.",
            );
            Err(SpotifyError::Login("the callback carries no code".into()))
        }
    };
    Some(result)
}

fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>workbench</title><p>{}</p>",
        crate::report::html::escape(text)
    );
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn serve_one(
        request: &'static str,
        state: &'static str,
    ) -> (Option<Result<Callback, SpotifyError>>, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            answer
        });
        let (stream, _) = listener.accept().unwrap();
        let result = handle_request(stream, state);
        (result, client.join().unwrap())
    }

    #[test]
    fn the_right_state_yields_the_code() {
        let (r, answer) = serve_one("GET /callback?code=abc&state=s1 HTTP/1.1\r\n\r\n", "s1");
        assert_eq!(r.unwrap().unwrap(), Callback::Code("abc".into()));
        assert!(answer.starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn a_forged_state_is_refused() {
        let (r, answer) = serve_one("GET /callback?code=abc&state=evil HTTP/1.1\r\n\r\n", "s1");
        assert!(r.unwrap().is_err());
        assert!(answer.starts_with("HTTP/1.1 400"));
        let (r, _) = serve_one("GET /callback?code=abc HTTP/1.1\r\n\r\n", "s1");
        assert!(r.unwrap().is_err());
    }

    #[test]
    fn other_paths_do_not_count_as_the_callback() {
        let (r, answer) = serve_one("GET /favicon.ico HTTP/1.1\r\n\r\n", "s1");
        assert!(r.is_none());
        assert!(answer.starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn a_denied_authorisation_is_reported() {
        let (r, _) = serve_one(
            "GET /callback?error=access_denied&state=s1 HTTP/1.1\r\n\r\n",
            "s1",
        );
        assert_eq!(
            r.unwrap().unwrap(),
            Callback::Refused("access_denied".into())
        );
    }
}
