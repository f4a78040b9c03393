//! Track tables → a feature matrix plus each track's id, name and artists.
//!
//! The schema is told by the header: the Kaggle "Spotify Dataset 1921–2020" `data.csv`,
//! `genres_v2.csv`, the TidyTuesday `spotify_songs.csv`, or any CSV that has the feature
//! columns. `.csv` and `.csv.gz` are read (gzip is told by content, not by name). Rows with a
//! missing feature or a value outside its documented range are dropped, and so are repeats of
//! a track id; every drop is counted with its reason. Text where a number belongs is an error
//! that names the line: a catalogue like that is broken, not merely incomplete.

use crate::artifacts;
use ndarray::Array2;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The eight features the original project clustered on.
pub const DEFAULT_FEATURES: [&str; 8] = [
    "acousticness",
    "danceability",
    "energy",
    "instrumentalness",
    "liveness",
    "loudness",
    "speechiness",
    "valence",
];

/// Where users get a catalogue; printed when none is given or found.
pub const WHERE_TO_GET_DATA: &str = "\
get a track table with Spotify audio features, then pass it with --data:
  - Kaggle \"Spotify Dataset 1921-2020, 160k+ Tracks\" data.csv
    https://www.kaggle.com/datasets/yamaerenay/spotify-dataset-19212020-600k-tracks
  - Kaggle \"Dataset of songs in Spotify\" genres_v2.csv
    https://www.kaggle.com/datasets/mrmorj/dataset-of-songs-in-spotify
  - TidyTuesday 2020-01-21 spotify_songs.csv
    https://raw.githubusercontent.com/rfordatascience/tidytuesday/master/data/2020/2020-01-21/spotify_songs.csv
(see datasets/README.md)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schema {
    /// Kaggle "Spotify Dataset 1921–2020" `data.csv` (`artists` is a Python list string).
    Kaggle19212020,
    /// Kaggle "Dataset of songs in Spotify" `genres_v2.csv`.
    GenresV2,
    /// TidyTuesday 2020-01-21 `spotify_songs.csv`.
    TidyTuesday,
    /// Any other table with the feature columns.
    Generic,
}

impl Schema {
    pub fn detect(columns: &[String]) -> Schema {
        let has = |c: &str| columns.iter().any(|x| x == c);
        if has("track_id") && has("track_name") && has("track_artist") {
            Schema::TidyTuesday
        } else if has("id") && has("name") && has("artists") && has("release_date") {
            Schema::Kaggle19212020
        } else if has("song_name") || (has("genre") && has("analysis_url")) {
            Schema::GenresV2
        } else {
            Schema::Generic
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Schema::Kaggle19212020 => "Kaggle Spotify 1921-2020 data.csv",
            Schema::GenresV2 => "Kaggle genres_v2.csv",
            Schema::TidyTuesday => "TidyTuesday spotify_songs.csv",
            Schema::Generic => "generic table with feature columns",
        }
    }
}

/// Columns that name a track, in order of preference.
const ID_COLUMNS: [&str; 2] = ["id", "track_id"];
const NAME_COLUMNS: [&str; 3] = ["name", "track_name", "song_name"];
const ARTIST_COLUMNS: [&str; 2] = ["artists", "track_artist"];
const POPULARITY_COLUMNS: [&str; 2] = ["popularity", "track_popularity"];

/// Spotify's documented range of each feature; values outside are recording errors.
pub fn valid_range(feature: &str) -> Option<(f64, f64)> {
    match feature {
        "acousticness" | "danceability" | "energy" | "instrumentalness" | "liveness"
        | "speechiness" | "valence" => Some((0.0, 1.0)),
        // dB relative to full scale; a few masters are mixed slightly above 0.
        "loudness" => Some((-60.0, 5.0)),
        "tempo" => Some((0.0, 300.0)),
        "popularity" | "track_popularity" => Some((0.0, 100.0)),
        "duration_ms" => Some((0.0, 1e8)),
        "mode" => Some((0.0, 1.0)),
        "key" => Some((-1.0, 11.0)),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub id: Option<String>,
    pub name: String,
    pub artists: String,
    pub popularity: Option<f64>,
}

impl Track {
    pub fn spotify_url(&self) -> Option<String> {
        self.id
            .as_ref()
            .map(|id| format!("https://open.spotify.com/track/{id}"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropCount {
    pub reason: String,
    pub rows: usize,
    /// Up to five examples, e.g. "line 17: energy = 1.7".
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogSource {
    pub path: String,
    pub sha256: String,
    pub schema: Schema,
    pub rows_read: usize,
    pub rows_used: usize,
    pub dropped: Vec<DropCount>,
}

impl CatalogSource {
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {} ({}), {} rows read, {} used",
            self.path,
            self.schema.describe(),
            &self.sha256[..12],
            self.rows_read,
            self.rows_used
        );
        for d in &self.dropped {
            s.push_str(&format!("; {} dropped ({})", d.rows, d.reason));
        }
        s
    }
}

/// A catalogue ready for clustering: `features` in original units, one row per kept track.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub source: CatalogSource,
    pub feature_names: Vec<String>,
    pub features: Array2<f64>,
    pub tracks: Vec<Track>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable CSV table: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: missing {what} column(s) {missing:?}; the columns found are {found:?}{hint}")]
    MissingColumns {
        path: PathBuf,
        what: &'static str,
        missing: Vec<String>,
        found: Vec<String>,
        hint: &'static str,
    },
    #[error("{path}: line {line}: column {column} holds {value:?}, which is not a number")]
    NonNumeric {
        path: PathBuf,
        line: usize,
        column: String,
        value: String,
    },
    #[error("{path}: no usable rows: {rows_read} read, {why}")]
    NoUsableRows {
        path: PathBuf,
        rows_read: usize,
        why: String,
    },
    #[error("no features asked for: name at least one with --features")]
    NoFeatures,
    #[error("feature {0:?} is named twice")]
    DuplicateFeature(String),
}

/// Reads the whole file, un-gzipping when its first bytes say so, and drops a UTF-8 BOM.
fn read_bytes(path: &Path) -> Result<(Vec<u8>, String), CatalogError> {
    let io = |source| CatalogError::Io {
        path: path.into(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    let sha256 = artifacts::sha256_bytes(&raw);
    let mut bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        out
    } else {
        raw
    };
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    Ok((bytes, sha256))
}

/// Splits the Kaggle `['A', "B's"]` list string into "A, B's"; other text is kept.
pub fn parse_artist_list(text: &str) -> String {
    let t = text.trim();
    if !(t.starts_with('[') && t.ends_with(']')) {
        return t.to_string();
    }
    let mut names = Vec::new();
    let mut chars = t[1..t.len() - 1].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            let mut name = String::new();
            while let Some(n) = chars.next() {
                if n == '\\' {
                    if let Some(escaped) = chars.next() {
                        name.push(escaped);
                    }
                } else if n == c {
                    break;
                } else {
                    name.push(n);
                }
            }
            names.push(name);
        }
    }
    if names.is_empty() {
        t.to_string()
    } else {
        names.join(", ")
    }
}

/// The header's column names (quotes removed), as the CSV reader names them.
fn header_names(bytes: &[u8], separator: u8) -> Vec<String> {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(header)
        .trim_end_matches('\r')
        .split(separator as char)
        .map(|c| c.trim_matches('"').to_string())
        .collect()
}

/// `;` when the header line has more semicolons than commas (spreadsheets in many locales
/// export so), else `,`.
fn sniff_separator(bytes: &[u8]) -> u8 {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

/// The first line whose field count differs from the header's: (1-based line, its fields, the
/// header's). Quotes are honoured (separators and newlines inside them do not count); blank
/// lines are skipped, as the reader skips them.
fn first_ragged_line(bytes: &[u8], separator: u8) -> Option<(usize, usize, usize)> {
    let (mut line, mut record_line, mut fields, mut quoted, mut blank) =
        (1usize, 1usize, 1usize, false, true);
    let mut expected = None;
    for &b in bytes {
        match b {
            b'"' => {
                quoted = !quoted;
                blank = false;
            }
            b'\n' if !quoted => {
                if !blank {
                    match expected {
                        None => expected = Some(fields),
                        Some(n) if n != fields => return Some((record_line, fields, n)),
                        _ => {}
                    }
                }
                line += 1;
                record_line = line;
                fields = 1;
                blank = true;
            }
            b'\n' => line += 1,
            b'\r' => {}
            _ if b == separator && !quoted => {
                fields += 1;
                blank = false;
            }
            _ => blank = false,
        }
    }
    match expected {
        Some(n) if !blank && n != fields => Some((record_line, fields, n)),
        _ => None,
    }
}

fn is_missing(value: Option<&str>) -> bool {
    match value {
        None => true,
        Some(v) => {
            let v = v.trim();
            v.is_empty() || v.eq_ignore_ascii_case("nan") || v.eq_ignore_ascii_case("na")
        }
    }
}

fn string_column<'a>(
    df: &'a DataFrame,
    name: &str,
    path: &Path,
) -> Result<&'a StringChunked, CatalogError> {
    df.column(name)
        .and_then(|c| c.str())
        .map_err(|e| CatalogError::Csv {
            path: path.into(),
            message: e.to_string(),
        })
}

/// Reads `path` and keeps the rows that have every one of `features` in range.
pub fn read_catalog(path: &Path, features: &[String]) -> Result<Catalog, CatalogError> {
    check_features(features)?;
    let (bytes, sha256) = read_bytes(path)?;
    let (df, columns) = read_table(path, bytes, features)?;
    let values = parse_features(&df, path, features)?;
    let texts = TextColumns::find(&df, &columns, path)?;
    let (tracks, kept_rows, dropped) = keep_rows(features, &values, &texts);
    let rows_read = df.height();
    if kept_rows.is_empty() {
        return Err(no_usable_rows(path, rows_read, &dropped));
    }
    let mut matrix = Array2::zeros((kept_rows.len(), features.len()));
    for (r, &i) in kept_rows.iter().enumerate() {
        for (c, col) in values.iter().enumerate() {
            matrix[[r, c]] = col[i].expect("kept rows have every feature");
        }
    }
    Ok(Catalog {
        source: CatalogSource {
            path: path.display().to_string(),
            sha256,
            schema: Schema::detect(&columns),
            rows_read,
            rows_used: kept_rows.len(),
            dropped,
        },
        feature_names: features.to_vec(),
        features: matrix,
        tracks,
    })
}

fn check_features(features: &[String]) -> Result<(), CatalogError> {
    if features.is_empty() {
        return Err(CatalogError::NoFeatures);
    }
    let mut seen = HashSet::new();
    match features.iter().find(|f| !seen.insert(f.as_str())) {
        Some(f) => Err(CatalogError::DuplicateFeature(f.clone())),
        None => Ok(()),
    }
}

/// The table as text columns, and the header's column names. Only the columns used are read
/// (wide tables hold long text columns nobody needs), every one as text (infer length 0):
/// numbers are parsed later, so a bad value is reported with its line instead of silently
/// turning a column into text.
fn read_table(
    path: &Path,
    bytes: Vec<u8>,
    features: &[String],
) -> Result<(DataFrame, Vec<String>), CatalogError> {
    let text_sets = [
        &ID_COLUMNS[..],
        &NAME_COLUMNS,
        &ARTIST_COLUMNS,
        &POPULARITY_COLUMNS,
    ];
    read_text_table(
        path,
        bytes,
        (features, "feature", " (choose others with --features)"),
        &|c| text_sets.iter().any(|set| set.contains(&c)),
    )
}

/// Any table read the catalogue's way (separator sniffed, ragged lines and missing columns
/// refused naming the file): the `required` columns and those `optional` accepts, all as text.
/// `required` is (names, what they are, a hint for the user).
pub fn read_text_columns(
    path: &Path,
    required: (&[String], &'static str, &'static str),
    optional: &dyn Fn(&str) -> bool,
) -> Result<DataFrame, CatalogError> {
    let (bytes, _) = read_bytes(path)?;
    read_text_table(path, bytes, required, optional).map(|(df, _)| df)
}

/// A text column of a table read by [`read_text_columns`].
pub fn text_column<'a>(
    df: &'a DataFrame,
    name: &str,
    path: &Path,
) -> Result<&'a StringChunked, CatalogError> {
    string_column(df, name, path)
}

fn read_text_table(
    path: &Path,
    bytes: Vec<u8>,
    (features, what, hint): (&[String], &'static str, &'static str),
    optional: &dyn Fn(&str) -> bool,
) -> Result<(DataFrame, Vec<String>), CatalogError> {
    let csv_err = |message: String| CatalogError::Csv {
        path: path.into(),
        message,
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(csv_err("the file is empty".into()));
    }
    let separator = sniff_separator(&bytes);
    if let Some((line, found, expected)) = first_ragged_line(&bytes, separator) {
        return Err(csv_err(format!(
            "line {line} has {found} fields but the header has {expected} (a stray separator or quote?)"
        )));
    }
    let columns = header_names(&bytes, separator);
    let missing: Vec<String> = features
        .iter()
        .filter(|f| !columns.contains(f))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(CatalogError::MissingColumns {
            path: path.into(),
            what,
            missing,
            found: columns,
            hint,
        });
    }
    let used: Vec<PlSmallStr> = columns
        .iter()
        .filter(|c| features.contains(c) || optional(c.as_str()))
        .map(|c| PlSmallStr::from(c.as_str()))
        .collect();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_columns(Some(Arc::from(used)))
        .with_parse_options(CsvParseOptions::default().with_separator(separator))
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| csv_err(e.to_string()))?;
    Ok((df, columns))
}

/// Every feature column parsed; `None` marks a missing value. Infinite values are kept here
/// and dropped by [`keep_rows`], saying so; text is an error naming its line.
fn parse_features(
    df: &DataFrame,
    path: &Path,
    features: &[String],
) -> Result<Vec<Vec<Option<f64>>>, CatalogError> {
    features
        .iter()
        .map(|f| {
            let col = string_column(df, f, path)?;
            col.iter()
                .enumerate()
                .map(|(i, v)| {
                    if is_missing(v) {
                        return Ok(None);
                    }
                    let text = v.unwrap_or_default().trim();
                    text.parse::<f64>()
                        .map(Some)
                        .map_err(|_| CatalogError::NonNumeric {
                            path: path.into(),
                            line: i + 2,
                            column: f.clone(),
                            value: text.chars().take(60).collect(),
                        })
                })
                .collect()
        })
        .collect()
}

/// The id, name, artist and popularity columns, when the table has them.
struct TextColumns<'a> {
    ids: Option<&'a StringChunked>,
    names: Option<&'a StringChunked>,
    artists: Option<&'a StringChunked>,
    popularity: Option<&'a StringChunked>,
}

impl<'a> TextColumns<'a> {
    fn find(
        df: &'a DataFrame,
        columns: &[String],
        path: &Path,
    ) -> Result<TextColumns<'a>, CatalogError> {
        let column = |candidates: &[&str]| -> Result<Option<&'a StringChunked>, CatalogError> {
            candidates
                .iter()
                .find(|c| columns.iter().any(|x| x == *c))
                .map(|n| string_column(df, n, path))
                .transpose()
        };
        Ok(TextColumns {
            ids: column(&ID_COLUMNS)?,
            names: column(&NAME_COLUMNS)?,
            artists: column(&ARTIST_COLUMNS)?,
            popularity: column(&POPULARITY_COLUMNS)?,
        })
    }

    fn get(c: Option<&'a StringChunked>, i: usize) -> Option<&'a str> {
        c.and_then(|c| c.get(i)).map(str::trim)
    }
}

/// A reason rows are dropped, counted, with a few examples.
fn drop_count(reason: &str) -> DropCount {
    DropCount {
        reason: reason.into(),
        rows: 0,
        examples: vec![],
    }
}

fn note(d: &mut DropCount, text: String) {
    d.rows += 1;
    if d.examples.len() < 5 {
        d.examples.push(text);
    }
}

/// The rows kept (every feature present, finite and in range; the first of each track id) with
/// their tracks, and the counts of those dropped, by reason.
fn keep_rows(
    features: &[String],
    values: &[Vec<Option<f64>>],
    texts: &TextColumns<'_>,
) -> (Vec<Track>, Vec<usize>, Vec<DropCount>) {
    let mut nan = drop_count("missing or NaN feature");
    let mut infinite = drop_count("infinite feature");
    let mut range = drop_count("feature out of its documented range");
    let mut duplicate = drop_count("duplicate track id (first kept)");
    let mut seen_ids: HashSet<String> = HashSet::new();
    let (mut tracks, mut kept_rows) = (Vec::new(), Vec::new());
    let rows = values.first().map_or(0, Vec::len);
    'rows: for i in 0..rows {
        let line = i + 2;
        for (f, col) in features.iter().zip(values) {
            let (d, why) = match col[i] {
                None => (&mut nan, format!("line {line}: {f} missing")),
                Some(x) if !x.is_finite() => (
                    &mut infinite,
                    format!("line {line}: {f} = {x} (not a finite number)"),
                ),
                Some(x) => match valid_range(f) {
                    Some((lo, hi)) if !(lo..=hi).contains(&x) => (
                        &mut range,
                        format!("line {line}: {f} = {x} (not {lo}..{hi})"),
                    ),
                    _ => continue,
                },
            };
            note(d, why);
            continue 'rows;
        }
        let id = TextColumns::get(texts.ids, i)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(id) = &id {
            if !seen_ids.insert(id.clone()) {
                note(&mut duplicate, format!("line {line}: {id}"));
                continue;
            }
        }
        tracks.push(Track {
            id,
            name: TextColumns::get(texts.names, i)
                .unwrap_or_default()
                .to_string(),
            artists: parse_artist_list(TextColumns::get(texts.artists, i).unwrap_or_default()),
            popularity: TextColumns::get(texts.popularity, i).and_then(|p| p.parse::<f64>().ok()),
        });
        kept_rows.push(i);
    }
    let dropped = [nan, infinite, range, duplicate]
        .into_iter()
        .filter(|d| d.rows > 0)
        .collect();
    (tracks, kept_rows, dropped)
}

fn no_usable_rows(path: &Path, rows_read: usize, dropped: &[DropCount]) -> CatalogError {
    let why = if dropped.is_empty() {
        "the table has a header but no rows".to_string()
    } else {
        dropped
            .iter()
            .map(|d| {
                format!(
                    "{} dropped for {} (e.g. {})",
                    d.rows, d.reason, d.examples[0]
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    CatalogError::NoUsableRows {
        path: path.into(),
        rows_read,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_lines_are_found_and_quotes_respected() {
        let ok = b"a,b,c\n1,\"x,y\",3\n\n4,5,6\n";
        assert_eq!(first_ragged_line(ok, b','), None);
        let ragged = b"a,b,c\n1,2,3\n4,5\n7,8,9\n";
        assert_eq!(first_ragged_line(ragged, b','), Some((3, 2, 3)));
        let quoted_newline = b"a,b\n\"multi\nline\",2\n3,4,5\n";
        assert_eq!(first_ragged_line(quoted_newline, b','), Some((4, 3, 2)));
        assert_eq!(sniff_separator(b"a;b;c\n1;2;3"), b';');
        assert_eq!(sniff_separator(b"a,b;c\n"), b',');
    }

    #[test]
    fn kaggle_artist_lists_become_plain_names() {
        assert_eq!(
            parse_artist_list("['Sergei Rachmaninoff', 'James Levine']"),
            "Sergei Rachmaninoff, James Levine"
        );
        assert_eq!(parse_artist_list(r#"["Guns N' Roses"]"#), "Guns N' Roses");
        assert_eq!(parse_artist_list("Ed Sheeran"), "Ed Sheeran");
        assert_eq!(parse_artist_list("[]"), "[]");
    }

    #[test]
    fn schemas_are_told_by_their_headers() {
        let cols = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            Schema::detect(&cols("valence,year,acousticness,artists,danceability,duration_ms,energy,explicit,id,instrumentalness,key,liveness,loudness,mode,name,popularity,release_date,speechiness,tempo")),
            Schema::Kaggle19212020
        );
        assert_eq!(
            Schema::detect(&cols("danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,type,id,uri,track_href,analysis_url,duration_ms,time_signature,genre,song_name,Unnamed: 0,title")),
            Schema::GenresV2
        );
        assert_eq!(
            Schema::detect(&cols(
                "track_id,track_name,track_artist,track_popularity,danceability"
            )),
            Schema::TidyTuesday
        );
        assert_eq!(Schema::detect(&cols("energy,valence")), Schema::Generic);
    }
}
