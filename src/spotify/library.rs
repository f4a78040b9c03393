//! `workbench spotify import-liked`: every saved track (paginated), with audio features from the
//! endpoint while it answers, else from local tables matched by track id, written to one library
//! CSV: `id,name,artists,added_at,popularity,<the song model's features>,features_from`. A song
//! with no features keeps empty feature cells; none is ever guessed.

use super::session::Session;
use super::settings::SpotifySettings;
use super::SpotifyError;
use crate::artifacts;
use crate::progress;
use crate::report::csv_field;
use crate::tracks::catalog::{read_catalog, valid_range, CatalogError, CatalogSource};
use crate::tracks::model::{PlaylistTrack, SongClusters, SongModelError};
use rspotify::clients::{BaseClient, OAuthClient};
use rspotify::model::{AudioFeatures, Modality, TrackId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `import-liked` writes and `playlists` / `infer --from liked` read (gitignored).
pub const DEFAULT_LIBRARY: &str = "datasets/spotify/liked-songs.csv";
/// Saved tracks per page: Spotify's maximum.
const PAGE: u32 = 50;
/// Ids per audio-features request: Spotify's maximum.
const FEATURE_BATCH: usize = 100;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub out: PathBuf,
    /// The song model: its features are the columns written, its tracks a first local table.
    pub songs: PathBuf,
    /// More local tables to match ids against (Kaggle data.csv, genres_v2.csv, TidyTuesday).
    pub catalogs: Vec<PathBuf>,
    /// Try the audio-features endpoint first (closed to apps created after 2024-11-27).
    pub features_endpoint: bool,
}

#[derive(Debug, Clone)]
pub struct LikedSong {
    pub id: String,
    pub name: String,
    pub artists: String,
    pub added_at: String,
    pub popularity: Option<u32>,
    pub features: Option<Vec<f64>>,
    pub features_from: Option<String>,
}

/// How the audio-features endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    NotTried,
    Answered { songs: usize },
    Closed { status: u16 },
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub out: PathBuf,
    pub local_files: usize,
    pub songs: usize,
    pub with_features: usize,
    /// Songs per features source, in the order the sources were tried.
    pub sources: Vec<(String, usize)>,
    pub endpoint: Endpoint,
    pub features: Vec<String>,
}

impl Endpoint {
    /// Why local tables were used, when the endpoint did not serve every song.
    pub fn explanation(&self) -> Option<String> {
        match self {
            Endpoint::Closed { status } => Some(format!(
                "the audio-features endpoint answered {status}: Spotify closed it to apps created after 2024-11-27; ids were matched against local tables instead"
            )),
            Endpoint::Failed(e) => Some(format!(
                "audio features: {e}; ids were matched against local tables instead"
            )),
            Endpoint::NotTried | Endpoint::Answered { .. } => None,
        }
    }
}

impl ImportSummary {
    /// "312 of 540 liked songs have features (…)".
    pub fn coverage(&self) -> String {
        let by: Vec<String> = self
            .sources
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} from {s}"))
            .collect();
        format!(
            "{} of {} liked songs have features{}",
            self.with_features,
            self.songs,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Spotify(#[from] SpotifyError),
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error(transparent)]
    SongModel(#[from] SongModelError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn import_liked(
    settings: &SpotifySettings,
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    // Everything local is checked before the first request.
    let model = SongClusters::read(&options.songs)?;
    for c in &options.catalogs {
        if !c.is_file() {
            return Err(ImportError::Io {
                path: c.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such catalogue"),
            });
        }
    }
    let session = Session::open(settings)?;
    let (mut songs, local_files) = fetch_saved_tracks(&session)?;

    let mut sources: Vec<(String, usize)> = Vec::new();
    let endpoint = if options.features_endpoint {
        let (endpoint, n) = features_from_endpoint(&session, &model.features, &mut songs);
        sources.push(("the audio-features endpoint".into(), n));
        endpoint
    } else {
        Endpoint::NotTried
    };
    for (label, n) in
        features_from_local_tables(&model, &options.songs, &options.catalogs, &mut songs)?
    {
        sources.push((label, n));
    }

    write_library(&options.out, &model.features, &songs)?;
    Ok(ImportSummary {
        out: options.out.clone(),
        local_files,
        songs: songs.len(),
        with_features: songs.iter().filter(|s| s.features.is_some()).count(),
        sources,
        endpoint,
        features: model.features.clone(),
    })
}

/// All saved tracks, page by page. Local files (no Spotify id) and repeats are skipped.
fn fetch_saved_tracks(session: &Session) -> Result<(Vec<LikedSong>, usize), SpotifyError> {
    let mut songs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut local_files = 0;
    let mut offset = 0u32;
    let bar = progress::bar(0, "liked songs");
    loop {
        let page = session.call(&format!("GET me/tracks (offset {offset})"), |c| {
            c.current_user_saved_tracks_manual(None, Some(PAGE), Some(offset))
        })?;
        bar.set_length(u64::from(page.total));
        for item in &page.items {
            bar.inc(1);
            let track = &item.track;
            let Some(id) = track.id.as_ref().filter(|_| !track.is_local) else {
                local_files += 1;
                continue;
            };
            let id = rspotify::prelude::Id::id(id).to_string();
            if !seen.insert(id.clone()) {
                continue;
            }
            #[allow(deprecated)] // popularity left dev-mode answers in Feb 2026 (then it reads 0)
            let popularity = Some(track.popularity).filter(|p| *p > 0);
            songs.push(LikedSong {
                id,
                name: track.name.clone(),
                artists: track
                    .artists
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                added_at: item.added_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                popularity,
                features: None,
                features_from: None,
            });
        }
        // Advance by the page size asked for: Spotify drops unavailable items from `items`
        // (rspotify skips nulls), so counting items would fetch some twice.
        offset += PAGE;
        if page.next.is_none() || offset >= page.total {
            break;
        }
    }
    bar.finish_and_clear();
    Ok((songs, local_files))
}

/// Fills features from the endpoint, 100 ids at a time. A 403/404 means the endpoint is closed
/// to this app: stop asking. Any other failure is reported and the local tables take over; a
/// song the answer leaves out (null) simply stays without features here.
fn features_from_endpoint(
    session: &Session,
    features: &[String],
    songs: &mut [LikedSong],
) -> (Endpoint, usize) {
    let mut answered = 0;
    let index: HashMap<String, usize> = songs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let ids: Vec<String> = songs.iter().map(|s| s.id.clone()).collect();
    for chunk in ids.chunks(FEATURE_BATCH) {
        let track_ids: Vec<TrackId<'static>> = chunk
            .iter()
            .filter_map(|id| TrackId::from_id(id.clone()).ok())
            .collect();
        #[allow(deprecated)] // closed to new apps on 2024-11-27; still open to older ones
        let result = session.call("GET audio-features", |c| {
            c.tracks_features(track_ids.clone())
        });
        match result {
            Ok(Some(list)) => {
                for f in list {
                    let id = rspotify::prelude::Id::id(&f.id).to_string();
                    let Some(&i) = index.get(&id) else { continue };
                    if let Some(values) = endpoint_features(&f, features) {
                        songs[i].features = Some(values);
                        songs[i].features_from = Some("api".into());
                        answered += 1;
                    }
                }
            }
            Ok(None) => {}
            Err(SpotifyError::Status {
                status: status @ (403 | 404),
                ..
            }) => {
                return (Endpoint::Closed { status }, answered);
            }
            Err(e) => return (Endpoint::Failed(e.to_string()), answered),
        }
    }
    (Endpoint::Answered { songs: answered }, answered)
}

/// The model's features from one endpoint answer, or `None` if one is missing or out of its
/// documented range.
fn endpoint_features(f: &AudioFeatures, names: &[String]) -> Option<Vec<f64>> {
    // Through text, so 0.751f32 becomes 0.751, not 0.7509999871253967.
    let wide = |x: f32| x.to_string().parse::<f64>().ok();
    names
        .iter()
        .map(|name| {
            let v = match name.as_str() {
                "acousticness" => wide(f.acousticness),
                "danceability" => wide(f.danceability),
                "energy" => wide(f.energy),
                "instrumentalness" => wide(f.instrumentalness),
                "liveness" => wide(f.liveness),
                "loudness" => wide(f.loudness),
                "speechiness" => wide(f.speechiness),
                "tempo" => wide(f.tempo),
                "valence" => wide(f.valence),
                "key" => Some(f64::from(f.key)),
                "time_signature" => Some(f64::from(f.time_signature)),
                "duration_ms" => Some(f.duration.num_milliseconds() as f64),
                "mode" => match f.mode {
                    Modality::Major => Some(1.0),
                    Modality::Minor => Some(0.0),
                    Modality::NoResult => None,
                },
                _ => None,
            }?;
            match valid_range(name) {
                Some((lo, hi)) if !(lo..=hi).contains(&v) => None,
                _ if !v.is_finite() => None,
                _ => Some(v),
            }
        })
        .collect()
}

/// Fills the songs still without features from local tables, matched by track id: the song
/// model's own tracks, the table it was fitted on when that file is here, then `catalogs`.
fn features_from_local_tables(
    model: &SongClusters,
    model_path: &Path,
    catalogs: &[PathBuf],
    songs: &mut [LikedSong],
) -> Result<Vec<(String, usize)>, ImportError> {
    let mut counts = Vec::new();
    let missing = |songs: &[LikedSong]| songs.iter().filter(|s| s.features.is_none()).count();

    let mut from_model: HashMap<&str, &Vec<f64>> = HashMap::new();
    for t in model.playlists.iter().flat_map(|p| &p.tracks) {
        if let Some(id) = t.track.id.as_deref() {
            from_model.insert(id, &t.features);
        }
    }
    let label = format!("the song model ({})", model_path.display());
    counts.push((
        label.clone(),
        fill(songs, &label, |id| from_model.get(id).map(|f| (*f).clone())),
    ));

    let mut tables: Vec<(PathBuf, bool)> = Vec::new();
    let fitted_on = PathBuf::from(&model.dataset.path);
    if fitted_on.is_file() && !catalogs.contains(&fitted_on) {
        tables.push((fitted_on, false));
    }
    tables.extend(catalogs.iter().map(|c| (c.clone(), true)));
    for (path, asked_for) in tables {
        if missing(songs) == 0 {
            break;
        }
        let spinner = progress::spinner(&format!("matching ids in {}", path.display()));
        let catalog = match read_catalog(&path, &model.features) {
            Ok(c) => c,
            Err(e) if asked_for => return Err(e.into()),
            Err(e) => {
                spinner.finish_and_clear();
                tracing::warn!("skipping the song model's own table: {e}");
                continue;
            }
        };
        spinner.finish_and_clear();
        let by_id: HashMap<&str, usize> = catalog
            .tracks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.id.as_deref().map(|id| (id, i)))
            .collect();
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let n = fill(songs, &label, |id| {
            by_id.get(id).map(|&i| catalog.features.row(i).to_vec())
        });
        counts.push((label, n));
    }
    Ok(counts)
}

fn fill(songs: &mut [LikedSong], label: &str, lookup: impl Fn(&str) -> Option<Vec<f64>>) -> usize {
    let mut n = 0;
    for s in songs.iter_mut().filter(|s| s.features.is_none()) {
        if let Some(f) = lookup(&s.id) {
            s.features = Some(f);
            s.features_from = Some(label.to_string());
            n += 1;
        }
    }
    n
}

pub fn write_library(
    path: &Path,
    features: &[String],
    songs: &[LikedSong],
) -> Result<(), ImportError> {
    let mut out = String::from("id,name,artists,added_at,popularity");
    for f in features {
        out.push(',');
        out.push_str(&csv_field(f));
    }
    out.push_str(",features_from\n");
    for s in songs {
        let mut row = vec![
            csv_field(&s.id),
            csv_field(&s.name),
            csv_field(&s.artists),
            csv_field(&s.added_at),
            s.popularity.map(|p| p.to_string()).unwrap_or_default(),
        ];
        match &s.features {
            Some(values) => row.extend(values.iter().map(|v| v.to_string())),
            None => row.extend(features.iter().map(|_| String::new())),
        }
        row.push(csv_field(s.features_from.as_deref().unwrap_or("")));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    artifacts::write_atomic(path, out.as_bytes()).map_err(|source| ImportError::Io {
        path: path.into(),
        source,
    })
}

/// A library CSV read back: its songs with features, each placed in its cluster by the song
/// model (rows without features are skipped and counted in `source`).
#[derive(Debug, Clone)]
pub struct PlacedLibrary {
    pub tracks: Vec<PlaylistTrack>,
    pub source: CatalogSource,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{0}: no liked-songs library here: run `workbench spotify import-liked` first")]
    Missing(PathBuf),
    #[error("{path}: none of its {rows_read} songs has audio features, so none can be placed in a mood (see `workbench spotify import-liked --catalog`)")]
    NoFeatures { path: PathBuf, rows_read: usize },
    #[error(transparent)]
    Catalog(CatalogError),
    #[error(transparent)]
    SongModel(#[from] SongModelError),
}

/// Reads what `import-liked` wrote, with the model's features, and places every song: what
/// `playlists` and `infer --from liked` both start from.
pub fn read_placed(model: &SongClusters, library: &Path) -> Result<PlacedLibrary, LibraryError> {
    let catalog = read_catalog(library, &model.features).map_err(|e| match e {
        CatalogError::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            LibraryError::Missing(path)
        }
        CatalogError::NoUsableRows {
            path, rows_read, ..
        } => LibraryError::NoFeatures { path, rows_read },
        other => LibraryError::Catalog(other),
    })?;
    Ok(PlacedLibrary {
        tracks: model.place_all(&catalog)?,
        source: catalog.source,
    })
}
