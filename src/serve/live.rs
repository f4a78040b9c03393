//! The live page's WebSocket. The page sends downscaled webcam frames as JPEG (binary
//! messages, one at a time: it waits for each answer, at most 10 a second); each is read by the
//! same path as `infer`'s frames ([`Analyser::read_frame`]) and answered with its faces. The mood
//! is decided by `infer`'s verdict rule over the latest `window` face readings, and a `mood`
//! message (verdict, the point in the valence–arousal plane, songs) goes out only when it
//! changes. Text messages are commands: `{"type":"strategy","value":"lift"}` and
//! `{"type":"save"}` (the session's frames become an ordinary `infer` report).

use super::AppState;
use crate::affect::Strategy;
use crate::emotion::{Emotion, Mood};
use crate::infer::mood::{self, EmotionStats, Outcome, Verdict};
use crate::infer::pipeline::ReadFace;
use crate::infer::recommend::{self, Pool, Recommendation};
use crate::infer::AffectChoice;
use crate::tracks::model::PlaylistTrack;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Largest frame message accepted (a 640×480 JPEG is ~50 KB).
pub const MAX_FRAME_BYTES: usize = 2 << 20;
/// Largest frame side decoded.
pub const MAX_FRAME_SIDE: i32 = 1920;
/// Frames kept for "Save" (the latest; ~40 s at the page's 10 frames a second).
pub const SAVED_FRAMES: usize = 400;
/// The verdict's margin, as `infer`'s default.
const UNCERTAIN_MARGIN: f64 = 0.1;

/// Refuses a WebSocket whose Origin is not this server: a page elsewhere must not read the
/// camera analysis of a user who happens to have the app open.
pub async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    State(state): State<Arc<AppState>>,
) -> Response {
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "refused: this WebSocket comes from another origin",
        )
            .into_response();
    }
    ws.max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| session(socket, state))
}

/// No Origin (not a browser) or an Origin naming the Host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .to_str()
        .is_ok_and(|o| !host.is_empty() && o == format!("http://{host}"))
}

/// One face in an answer.
#[derive(Debug, Serialize)]
pub struct FaceAnswer {
    /// x, y, width, height in the frame's pixels.
    pub bbox: [i32; 4],
    pub top: Emotion,
    pub confidence: f32,
    pub probabilities: [f32; Emotion::COUNT],
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Answer {
    Frame {
        seq: u64,
        width: i32,
        height: i32,
        faces: Vec<FaceAnswer>,
        /// Decode + detect + classify on the server.
        server_ms: f64,
    },
    Mood {
        verdict: Verdict,
        /// The most face readings the verdict is decided over.
        window: usize,
        affect: Option<AffectChoice>,
        songs: Vec<Recommendation>,
        /// Where the songs come from, in words.
        from: String,
    },
    Saved {
        report: String,
        sentence: String,
    },
    Error {
        message: String,
    },
}

/// What a live session remembers.
pub struct LiveSession {
    window: usize,
    readings: VecDeque<[f32; Emotion::COUNT]>,
    frames: VecDeque<Vec<u8>>,
    strategy: Strategy,
    /// The user's liked songs, placed, when the page asked for them.
    liked: Option<Vec<PlaylistTrack>>,
    seq: u64,
    /// (outcome, mood, songs' mood) last announced.
    announced: Option<(Outcome, Option<Mood>, Option<Mood>)>,
}

impl LiveSession {
    pub fn new(window: usize) -> LiveSession {
        LiveSession {
            window,
            readings: VecDeque::new(),
            frames: VecDeque::new(),
            strategy: Strategy::Match,
            liked: None,
            seq: 0,
            announced: None,
        }
    }

    /// Adds a frame's faces; returns a `Mood` answer when the mood (or its songs) changed.
    pub fn add(&mut self, faces: &[ReadFace], state: &AppState) -> Option<Answer> {
        for f in faces {
            if self.readings.len() == self.window {
                self.readings.pop_front();
            }
            self.readings.push_back(f.probabilities);
        }
        self.mood_if_changed(state, false)
    }

    fn mood_if_changed(&mut self, state: &AppState, force: bool) -> Option<Answer> {
        let stats = EmotionStats::from_probabilities(self.readings.iter());
        let verdict = mood::verdict(&stats, UNCERTAIN_MARGIN);
        let affect = AffectChoice::of(&stats, self.strategy, &state.songs);
        let songs_mood = affect.as_ref().and_then(|a| a.songs_mood);
        let key = (verdict.outcome, verdict.mood, songs_mood);
        if !force && self.announced == Some(key) {
            return None;
        }
        self.announced = Some(key);
        let (songs, pool) = match (&affect, songs_mood) {
            (Some(a), Some(m)) => recommend::from_library_or_catalogue(
                &state.songs,
                self.liked.as_deref(),
                m,
                a.aim,
                state.options.top,
                None,
            ),
            _ => (vec![], Pool::Catalogue),
        };
        let from = match pool {
            Pool::Catalogue => "the catalogue".to_string(),
            Pool::Liked { in_mood } => format!("your liked songs ({in_mood} in this mood)"),
            Pool::CatalogueNoneLiked => {
                "the catalogue: none of your liked songs is in this mood".to_string()
            }
        };
        Some(Answer::Mood {
            verdict,
            window: self.window,
            affect,
            songs,
            from,
        })
    }

    fn keep_frame(&mut self, jpeg: Vec<u8>) {
        if self.frames.len() == SAVED_FRAMES {
            self.frames.pop_front();
        }
        self.frames.push_back(jpeg);
    }
}

async fn session(mut socket: WebSocket, state: Arc<AppState>) {
    let mut live = LiveSession::new(state.options.window);
    while let Some(Ok(message)) = socket.recv().await {
        let answers = match message {
            Message::Binary(bytes) => frame(&state, &mut live, bytes.to_vec()).await,
            Message::Text(text) => command(&state, &mut live, text.as_str()).await,
            Message::Close(_) => break,
            _ => continue,
        };
        for answer in answers {
            let text = serde_json::to_string(&answer).expect("answers serialise");
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
}

/// Reads one JPEG frame; a frame that cannot be read is answered with an error, and the
/// session goes on.
async fn frame(state: &Arc<AppState>, live: &mut LiveSession, jpeg: Vec<u8>) -> Vec<Answer> {
    live.seq += 1;
    let seq = live.seq;
    let started = Instant::now();
    let shared = Arc::clone(state);
    let read = tokio::task::spawn_blocking(move || {
        let read = read_jpeg(&shared, &jpeg);
        read.map(|r| (r, jpeg))
    })
    .await;
    let ((width, height, faces), jpeg) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(message)) => {
            return vec![Answer::Error {
                message: format!("frame {seq}: {message}"),
            }]
        }
        Err(e) => {
            return vec![Answer::Error {
                message: format!("frame {seq}: {e}"),
            }]
        }
    };
    live.keep_frame(jpeg);
    let mut answers = vec![Answer::Frame {
        seq,
        width,
        height,
        faces: faces.iter().map(face_answer).collect(),
        server_ms: started.elapsed().as_secs_f64() * 1e3,
    }];
    answers.extend(live.add(&faces, state));
    answers
}

/// Decodes and reads a frame: (width, height, faces), or why not.
pub fn read_jpeg(state: &AppState, jpeg: &[u8]) -> Result<(i32, i32, Vec<ReadFace>), String> {
    let bgr = decode(jpeg)?;
    let faces = state
        .analyser
        .read_frame(&bgr, &state.options.model)
        .map_err(|e| crate::error_line(&e))?;
    Ok((bgr.cols(), bgr.rows(), faces))
}

/// A JPEG (or PNG) frame as a BGR image, or why not.
pub fn decode(bytes: &[u8]) -> Result<Mat, String> {
    let is_image = bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(b"\x89PNG");
    if !is_image {
        return Err("not a JPEG or PNG image".into());
    }
    let buffer = Vector::<u8>::from_slice(bytes);
    let bgr = opencv::imgcodecs::imdecode(&buffer, opencv::imgcodecs::IMREAD_COLOR)
        .map_err(|e| format!("cannot decode the image: {e}"))?;
    if bgr.empty() {
        return Err("cannot decode the image (truncated or corrupt)".into());
    }
    if bgr.cols() > MAX_FRAME_SIDE || bgr.rows() > MAX_FRAME_SIDE {
        return Err(format!(
            "{}×{} is larger than the {MAX_FRAME_SIDE}-pixel side frames may have",
            bgr.cols(),
            bgr.rows()
        ));
    }
    Ok(bgr)
}

fn face_answer(f: &ReadFace) -> FaceAnswer {
    let top = crate::fer::evaluate::argmax(&f.probabilities);
    let b = f.face.bbox;
    FaceAnswer {
        bbox: [b.x, b.y, b.w, b.h],
        top: Emotion::ALL[top],
        confidence: f.probabilities[top],
        probabilities: f.probabilities,
    }
}

#[derive(serde::Deserialize)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    value: Option<String>,
}

async fn command(state: &Arc<AppState>, live: &mut LiveSession, text: &str) -> Vec<Answer> {
    let Ok(command) = serde_json::from_str::<Command>(text) else {
        return vec![Answer::Error {
            message: "a command is JSON: {\"type\": \"strategy\" | \"save\", ...}".into(),
        }];
    };
    match command.kind.as_str() {
        "strategy" => {
            live.strategy = match command.value.as_deref() {
                Some("lift") => Strategy::Lift,
                Some("match") => Strategy::Match,
                other => {
                    return vec![Answer::Error {
                        message: format!("strategy {other:?}: use \"match\" or \"lift\""),
                    }]
                }
            };
            live.mood_if_changed(state, true).into_iter().collect()
        }
        "save" => vec![save(state, live).await],
        "source" => {
            live.liked = match command.value.as_deref() {
                Some("liked") => {
                    let path = &state.options.library;
                    match crate::spotify::library::read_placed(&state.songs, path) {
                        Ok(placed) => Some(placed.tracks),
                        Err(e) => {
                            return vec![Answer::Error {
                                message: format!(
                                    "{e} (log in and import your liked songs on the Spotify tab)"
                                ),
                            }]
                        }
                    }
                }
                Some("catalog") => None,
                other => {
                    return vec![Answer::Error {
                        message: format!("source {other:?}: use \"catalog\" or \"liked\""),
                    }]
                }
            };
            live.mood_if_changed(state, true).into_iter().collect()
        }
        other => vec![Answer::Error {
            message: format!("unknown command {other:?}"),
        }],
    }
}

/// Writes the session's frames as a clip and runs `infer` on it: an ordinary report.
async fn save(state: &Arc<AppState>, live: &LiveSession) -> Answer {
    if live.frames.is_empty() {
        return Answer::Error {
            message: "nothing to save yet: no frame has arrived".into(),
        };
    }
    let frames: Vec<Vec<u8>> = live.frames.iter().cloned().collect();
    let strategy = live.strategy;
    let shared = Arc::clone(state);
    let saved = tokio::task::spawn_blocking(move || {
        super::upload::save_session(&shared, &frames, strategy)
    })
    .await;
    match saved {
        Ok(Ok((report, sentence))) => Answer::Saved { report, sentence },
        Ok(Err(e)) => Answer::Error {
            message: format!("saving failed: {}", crate::error_line(&e)),
        },
        Err(e) => Answer::Error {
            message: format!("saving failed: {e}"),
        },
    }
}
