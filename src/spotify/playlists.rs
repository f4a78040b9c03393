//! `workbench spotify playlists`: place the liked songs that have features into moods with the
//! song model, and make the user's six private "workbench · <mood>" playlists hold exactly those
//! songs (nearest the mood's centroid first). Playlists are found by name among the user's own,
//! so re-running updates them in place: no second playlist, no repeated track.

use super::library::{read_placed, ImportError};
use super::session::Session;
use super::settings::SpotifySettings;
use super::{playlist_name, SpotifyError};
use crate::emotion::Mood;
use crate::tracks::catalog::CatalogSource;
use crate::tracks::model::{PlaylistTrack, SongClusters};
use rspotify::clients::OAuthClient;
use rspotify::model::{PlayableId, PlaylistId, SimplifiedPlaylist, TrackId};
use rspotify::prelude::Id;
use std::path::{Path, PathBuf};

/// Items per add/replace request: Spotify's maximum.
const ITEMS_PER_REQUEST: usize = 100;

#[derive(Debug, Clone)]
pub struct PlaylistOptions {
    pub library: PathBuf,
    pub songs: PathBuf,
    pub dry_run: bool,
}

/// One mood's songs, nearest the centroid first.
#[derive(Debug, Clone)]
pub struct MoodSongs {
    pub mood: Mood,
    pub name: String,
    pub tracks: Vec<PlaylistTrack>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Created,
    Updated,
    WouldCreate,
    WouldUpdate,
    /// Dry run without a login: whether it exists is unknown.
    Planned,
}

#[derive(Debug, Clone)]
pub struct SyncedPlaylist {
    pub mood: Mood,
    pub name: String,
    pub songs: usize,
    pub action: Action,
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SyncSummary {
    pub library: CatalogSource,
    pub placed: usize,
    pub playlists: Vec<SyncedPlaylist>,
    /// Other playlists of the user with a workbench name (left alone; the first is used).
    pub duplicates: Vec<String>,
    pub logged_in: bool,
}

/// Reads the library and groups its songs with features by mood (all six moods, maybe empty).
pub fn plan(
    library: &Path,
    model: &SongClusters,
) -> Result<(Vec<MoodSongs>, CatalogSource), ImportError> {
    let placed = read_placed(model, library)?;
    let groups = Mood::ALL
        .iter()
        .map(|&mood| {
            let tracks = model.songs_in(mood, &placed.tracks);
            MoodSongs {
                mood,
                name: playlist_name(mood),
                tracks,
            }
        })
        .collect();
    Ok((groups, placed.source))
}

pub fn sync(
    settings: &SpotifySettings,
    options: &PlaylistOptions,
) -> Result<SyncSummary, ImportError> {
    let model = SongClusters::read(&options.songs)?;
    let (groups, library) = plan(&options.library, &model)?;
    let placed = groups.iter().map(|g| g.tracks.len()).sum();
    let session = match Session::open(settings) {
        Ok(s) => s,
        Err(SpotifyError::NotLoggedIn(_)) if options.dry_run => {
            return Ok(SyncSummary {
                library,
                placed,
                playlists: groups
                    .iter()
                    .map(|g| SyncedPlaylist {
                        mood: g.mood,
                        name: g.name.clone(),
                        songs: g.tracks.len(),
                        action: Action::Planned,
                        url: None,
                    })
                    .collect(),
                duplicates: vec![],
                logged_in: false,
            })
        }
        Err(e) => return Err(e.into()),
    };
    let me = session.call("GET me", |c| c.me())?;
    let mine = own_playlists(&session, me.id.id())?;
    let mut duplicates = Vec::new();
    let mut playlists = Vec::new();
    for group in &groups {
        let mut same_name = mine.iter().filter(|p| p.name == group.name);
        let existing = same_name.next();
        duplicates.extend(same_name.map(|p| format!("{} ({})", p.name, p.id.id())));
        let (id, url, action) = target(&session, &me.id, group, existing, options.dry_run)?;
        if let Some(id) = id {
            replace_items(&session, &id, &group.tracks)?;
        }
        playlists.push(SyncedPlaylist {
            mood: group.mood,
            name: group.name.clone(),
            songs: group.tracks.len(),
            action,
            url,
        });
    }
    Ok(SyncSummary {
        library,
        placed,
        playlists,
        duplicates,
        logged_in: true,
    })
}

/// Where a mood's songs go: the user's playlist of that name (updated), a new private one
/// (created), or, on a dry run, what would happen. Returns the playlist to fill (none on a dry
/// run), its URL and the action.
fn target(
    session: &Session,
    me: &rspotify::model::UserId<'_>,
    group: &MoodSongs,
    existing: Option<&SimplifiedPlaylist>,
    dry_run: bool,
) -> Result<(Option<PlaylistId<'static>>, Option<String>, Action), ImportError> {
    Ok(match (existing, dry_run) {
        (Some(p), true) => (None, Some(playlist_url(p.id.id())), Action::WouldUpdate),
        (None, true) => (None, None, Action::WouldCreate),
        (Some(p), false) => (
            Some(p.id.clone_static()),
            Some(playlist_url(p.id.id())),
            Action::Updated,
        ),
        (None, false) => {
            let created = session.call("POST me/playlists", |c| {
                c.user_playlist_create(
                    me.as_ref(),
                    &group.name,
                    Some(false),
                    Some(false),
                    Some(&format!(
                        "Your liked songs that sound {}: placed by the workbench song model, nearest the mood first. Rewritten by `workbench spotify playlists`.",
                        group.mood
                    )),
                )
            })?;
            let url = created
                .external_urls
                .get("spotify")
                .cloned()
                .unwrap_or_else(|| playlist_url(created.id.id()));
            (Some(created.id.clone_static()), Some(url), Action::Created)
        }
    })
}

fn playlist_url(id: &str) -> String {
    format!("https://open.spotify.com/playlist/{id}")
}

/// The user's own playlists (followed ones are someone else's and are never touched).
fn own_playlists(
    session: &Session,
    user_id: &str,
) -> Result<Vec<SimplifiedPlaylist>, SpotifyError> {
    let mut all = Vec::new();
    let mut offset = 0u32;
    loop {
        let page = session.call(&format!("GET me/playlists (offset {offset})"), |c| {
            c.current_user_playlists_manual(Some(50), Some(offset))
        })?;
        let n = page.items.len();
        all.extend(
            page.items
                .into_iter()
                .filter(|p| p.owner.id.id() == user_id),
        );
        offset += 50;
        if page.next.is_none() || offset >= page.total || n == 0 {
            return Ok(all);
        }
    }
}

/// Makes the playlist hold exactly `tracks`, in order: replace with the first 100, append the rest.
fn replace_items(
    session: &Session,
    playlist: &PlaylistId<'static>,
    tracks: &[PlaylistTrack],
) -> Result<(), SpotifyError> {
    let ids: Vec<TrackId<'static>> = tracks
        .iter()
        .filter_map(|t| t.track.id.as_deref())
        .filter_map(|id| TrackId::from_id(id.to_string()).ok())
        .collect();
    let mut chunks = ids.chunks(ITEMS_PER_REQUEST);
    let first: Vec<PlayableId> = chunks
        .next()
        .unwrap_or(&[])
        .iter()
        .map(|id| PlayableId::Track(id.clone()))
        .collect();
    let what = format!("PUT playlists/{}/items", playlist.id());
    session.call(&what, |c| {
        c.playlist_replace_items(playlist.as_ref(), first.clone())
    })?;
    for chunk in chunks {
        let items: Vec<PlayableId> = chunk
            .iter()
            .map(|id| PlayableId::Track(id.clone()))
            .collect();
        let what = format!("POST playlists/{}/items", playlist.id());
        session.call(&what, |c| {
            c.playlist_add_items(playlist.as_ref(), items.clone(), None)
        })?;
    }
    Ok(())
}
