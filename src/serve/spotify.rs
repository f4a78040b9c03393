//! "Log in with Spotify" from the page: the same PKCE flow as `workbench spotify login`
//! (`spotify::login::{begin, finish}`), with this server's own `/callback` as the redirect.
//! A callback whose `state` is not one this server started is refused and nothing is saved.
//! Without a client id the page says how to set one; nothing else needs Spotify.

use super::AppState;
use crate::report::html::escape;
use crate::spotify::login::{self, PendingLogin};
use crate::spotify::settings::{SpotifySettings, CALLBACK_PATH};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Logins started and not yet called back, by state.
#[derive(Default)]
pub struct Pending(Mutex<HashMap<String, PendingLogin>>);

fn page(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>workbench · Spotify</title><p>{}</p><p><a href=\"/#spotify\">Back to workbench</a></p>",
        escape(text)
    );
    (status, Html(body)).into_response()
}

/// `GET /spotify/login`: redirects to Spotify's consent page.
pub async fn start(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let settings = match SpotifySettings::resolve() {
        Ok(s) => s,
        Err(e) => return page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return page(StatusCode::BAD_REQUEST, "the request names no Host");
    };
    let redirect = format!("http://{host}{CALLBACK_PATH}");
    match login::begin(&settings, redirect) {
        Ok(pending) => {
            let url = pending.url.clone();
            let mut map = state.spotify.0.lock().unwrap_or_else(|e| e.into_inner());
            map.insert(pending.state.clone(), pending);
            Redirect::to(&url).into_response()
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            &format!(
                "{e} (register http://{host}{CALLBACK_PATH} as a redirect URI of your Spotify app)"
            ),
        ),
    }
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: Spotify's redirect back.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let pending = query.state.as_ref().and_then(|s| {
        let mut map = state.spotify.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(s)
    });
    let Some(pending) = pending else {
        return page(
            StatusCode::BAD_REQUEST,
            "This callback does not match a login this server started (state mismatch): refused, nothing was saved.",
        );
    };
    if let Some(error) = query.error {
        return page(
            StatusCode::OK,
            &format!("Spotify did not authorise workbench: {error}"),
        );
    }
    let Some(code) = query.code else {
        return page(
            StatusCode::BAD_REQUEST,
            "The callback carries no code: nothing was saved.",
        );
    };
    let finished = tokio::task::spawn_blocking(move || {
        let settings = SpotifySettings::resolve()?;
        login::finish(&settings, pending, &code)
    })
    .await;
    match finished {
        Ok(Ok(outcome)) => page(
            StatusCode::OK,
            &format!(
                "Logged in to Spotify as {} (token in {}, readable by you only). `workbench spotify import-liked` now brings your liked songs.",
                outcome.user,
                outcome.token_path.display()
            ),
        ),
        Ok(Err(e)) => page(StatusCode::BAD_GATEWAY, &e.to_string()),
        Err(e) => page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `POST /api/spotify/import`: `workbench spotify import-liked` for the logged-in user, into
/// the server's library file. Answers with the coverage line.
pub async fn import(State(state): State<Arc<AppState>>) -> Response {
    let options = crate::spotify::library::ImportOptions {
        out: state.options.library.clone(),
        songs: state.options.song_model.clone(),
        catalogs: vec![],
        features_endpoint: true,
    };
    let imported = tokio::task::spawn_blocking(move || -> Result<String, String> {
        let settings = SpotifySettings::resolve().map_err(|e| e.to_string())?;
        crate::spotify::library::import_liked(&settings, &options)
            .map(|summary| summary.coverage())
            .map_err(|e| e.to_string())
    })
    .await;
    match imported {
        Ok(Ok(coverage)) => (StatusCode::OK, coverage).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, e).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
