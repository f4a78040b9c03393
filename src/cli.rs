//! Command-line definitions only; `commands/` turns them into checked settings and runs them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
#[cfg(feature = "vision")]
use workbench::affect::Strategy;
use workbench::backend::Backend;
use workbench::fer::data::Split;
use workbench::fer::evaluate::Tta;
use workbench::tracks::scale::Scaling;
#[cfg(feature = "vision")]
use workbench::vision::faces::DetectorKind;

#[derive(Debug, Parser)]
#[command(
    name = "workbench",
    version,
    about = "Emotion-aware music recommendation, measured: faces in a clip -> emotions over time (a FER2013 CNN in Burn) -> a mood -> songs from mood clusters of Spotify audio features",
    long_about = None,
    after_help = "Logs: set RUST_LOG=debug for more. CPU threads: RAYON_NUM_THREADS (default: all cores).\nData: see datasets/README.md for FER2013 and the Spotify track tables, with checksums."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a FER2013 model from an experiment config; checkpoints every epoch, selects on
    /// PublicTest, measures PrivateTest once, exports models/<name>.bpk and its card.
    #[command(name = "train-fer")]
    TrainFer(TrainFerArgs),
    /// Evaluate an exported model on a FER2013 split: accuracy, macro-F1, per-class precision and
    /// recall, confusion matrix; optionally with test-time augmentation.
    #[command(name = "eval-fer")]
    EvalFer(EvalFerArgs),
    /// Join trained FER models into one that averages their class probabilities (a soft vote):
    /// writes models/<name>.bpk (every member's weights) and a card with the ensemble's own
    /// PublicTest and PrivateTest metrics, and reports/fer/<name>-<stamp>/.
    #[command(name = "ensemble-fer")]
    EnsembleFer(EnsembleFerArgs),
    /// Average the weights of a training run's last epochs into one model (SWA), recompute its
    /// BatchNorm statistics on the Training faces, measure it on PublicTest and PrivateTest, and
    /// export models/<name>.bpk with its card and reports/fer/<name>-<stamp>/.
    #[command(name = "average-fer")]
    AverageFer(AverageFerArgs),
    /// Publish a trained model's weights, unchanged, as a new model that reads every face with a
    /// test-time recipe (mirror or ten crops): measured on PublicTest and PrivateTest with it,
    /// exported as models/<name>.bpk with its card (which `infer` follows) and
    /// reports/fer/<name>-<stamp>/.
    #[command(name = "tta-fer")]
    TtaFer(TtaFerArgs),
    /// Measure training and inference speed (img/s) of the FER networks on this machine.
    #[command(name = "bench-fer")]
    BenchFer(BenchFerArgs),
    /// Measure where the face detector puts its box on FER2013 faces (upscaled 4x): the framing
    /// `infer` uses to crop faces the way FER2013 frames them (src/fer/preprocess.rs).
    #[command(name = "measure-framing")]
    #[cfg(feature = "vision")]
    MeasureFraming(MeasureFramingArgs),
    /// Cluster songs by Spotify audio features into mood playlists: sweep k with evidence
    /// (elbow, silhouette, Calinski-Harabasz, Davies-Bouldin, stability), fit k, name each cluster
    /// with a mood, write models/song-clusters.json and reports/cluster/<run-id>/.
    Cluster(ClusterArgs),
    /// Derive weak mood labels (Happy / Sad / Calm / Energetic) from people's own playlist
    /// names in the TidyTuesday table, by the stated rule of src/tracks/weak_labels.rs, for
    /// `cluster --labels`.
    #[command(name = "mood-labels")]
    MoodLabels(MoodLabelsArgs),
    /// Time the whole cluster job (k sweep + final fit) on a catalogue bootstrapped to N rows;
    /// writes the matrix it used so benches/cluster_sklearn.py can time scikit-learn on it.
    #[command(name = "bench-cluster")]
    BenchCluster(BenchClusterArgs),
    /// Read a clip (GIF, MP4, MOV, ... or a still image), find the faces, classify their
    /// emotions frame by frame, decide a mood with a confidence, recommend songs for it, and
    /// write reports/infer/<clip>-<run-id>/ (index.html, timeline, annotated GIF, frames.csv,
    /// result.json).
    #[cfg(feature = "vision")]
    Infer(InferArgs),
    /// The local web app: live webcam → faces → mood → songs, clip upload → an infer report,
    /// every run's report, Spotify status. Binds 127.0.0.1 unless --host says otherwise.
    #[cfg(feature = "vision")]
    Serve(ServeArgs),
    /// Optional Spotify account link (rspotify, PKCE): log in, import your liked songs with
    /// their audio features, keep six private mood playlists. Nothing else needs it.
    #[command(subcommand)]
    Spotify(SpotifyCommand),
}

#[derive(Debug, Subcommand)]
pub enum SpotifyCommand {
    /// Log in with Authorization Code + PKCE (no client secret): prints the URL to open, catches
    /// Spotify's redirect on http://127.0.0.1:<port>/callback, checks its state, and stores the
    /// token in $XDG_CONFIG_HOME/workbench/spotify-token.json (mode 0600).
    ///
    /// The client id comes from RSPOTIFY_CLIENT_ID or `client_id = "..."` in
    /// $XDG_CONFIG_HOME/workbench/spotify.toml; register the redirect URI
    /// http://127.0.0.1:8888/callback in your app at https://developer.spotify.com/dashboard.
    Login(SpotifyLoginArgs),
    /// Forget the stored token (deletes the token file).
    Logout,
    /// Fetch all your liked songs and write the library CSV (id, name, artists, added_at,
    /// popularity, the song model's features, features_from). Features come from the
    /// audio-features endpoint when Spotify still answers it (closed to new apps on 2024-11-27),
    /// else from local tables matched by track id; the coverage is printed. Nothing is guessed.
    #[command(name = "import-liked")]
    ImportLiked(SpotifyImportArgs),
    /// Place your liked songs that have features into moods with the song model and create or
    /// update six private playlists "workbench · <mood>" (idempotent: found by name, their
    /// tracks replaced). Prints their URLs.
    Playlists(SpotifyPlaylistsArgs),
}

#[derive(Debug, Args)]
pub struct SpotifyLoginArgs {
    /// Loopback port for the redirect (default: the config's redirect_port, else 8888). It must
    /// match the redirect URI registered for the app.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Give up waiting for the redirect after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct SpotifyImportArgs {
    /// The library CSV to write.
    #[arg(long, default_value = workbench::spotify::library::DEFAULT_LIBRARY, value_name = "CSV")]
    pub out: PathBuf,
    /// Song model: its features are the columns written and its tracks a first local table
    /// (default: as for `infer --songs`).
    #[arg(long, value_name = "JSON")]
    pub songs: Option<PathBuf>,
    /// A local track table to match liked songs against by id (Kaggle data.csv,
    /// genres_v2.csv, TidyTuesday spotify_songs.csv; .csv or .csv.gz). Repeatable. The table
    /// the song model was fitted on is used too when it is on this machine.
    #[arg(long = "catalog", value_name = "PATH")]
    pub catalogs: Vec<PathBuf>,
    /// Do not try the audio-features endpoint (local tables only).
    #[arg(long)]
    pub no_features_endpoint: bool,
}

#[derive(Debug, Args)]
pub struct SpotifyPlaylistsArgs {
    /// The library CSV from `import-liked`.
    #[arg(long, default_value = workbench::spotify::library::DEFAULT_LIBRARY, value_name = "CSV")]
    pub library: PathBuf,
    /// Song model that places songs into moods (default: as for `infer --songs`).
    #[arg(long, value_name = "JSON")]
    pub songs: Option<PathBuf>,
    /// Show what would be created or updated; change nothing (works logged out too).
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(feature = "vision")]
/// Where `infer` takes its songs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SongSource {
    /// The song model's per-mood playlists (the catalogue it was fitted on).
    Catalog,
    /// Your liked songs (the library CSV from `workbench spotify import-liked`).
    Liked,
}

#[cfg(feature = "vision")]
#[derive(Debug, Args)]
pub struct InferArgs {
    /// The clip or image to read; several, or folders (their clip and image files, sorted),
    /// make a batch: one report each and a summary (reports/infer/batch-<run-id>/).
    #[arg(value_name = "CLIP", required = true, num_args = 1..)]
    pub clips: Vec<PathBuf>,
    /// FER model card (its weights sit beside it). Default: fer-default.json from
    /// $WORKBENCH_HOME/models, the user's data dir (~/.local/share/workbench/models), ./models,
    /// else the copy built into the binary.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Song model with per-mood playlists, from `workbench cluster`. Default: song-clusters.json,
    /// looked for as --model is.
    #[arg(long, value_name = "JSON")]
    pub songs: Option<PathBuf>,
    /// Keep one frame in N.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub every: usize,
    /// Stop after this many sampled frames.
    #[arg(long, value_name = "N")]
    pub max_frames: Option<usize>,
    /// Only the largest face of each frame.
    #[arg(long)]
    pub largest_face: bool,
    /// Search whole frames for faces every N sampled frames; in between, search only near the
    /// faces of the last whole-frame search (1: every frame whole; faster with more).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub key_every: usize,
    /// Face detector: YuNet (boxes and eye landmarks; crops are aligned and framed as
    /// FER2013's), or OpenCV's Haar or LBP cascade (boxes only).
    #[arg(long, value_enum, default_value_t = DetectorKind::Yunet)]
    pub detector: DetectorKind,
    /// The detector's model file (default: YuNet's face_detection_yunet_2022mar.onnx, looked for
    /// as --model is; Debian's cascades for haar and lbp).
    #[arg(long, alias = "cascade", value_name = "PATH")]
    pub detector_model: Option<PathBuf>,
    /// Smallest face side, in frame pixels. YuNet's input width follows from it: wide enough
    /// that such a face is still 12 input pixels (at least 128, at most the frame).
    #[arg(long, default_value_t = 30, value_name = "PX")]
    pub min_face: i32,
    /// YuNet: faces scoring below this are dropped.
    #[arg(long, default_value_t = 0.7, value_name = "S")]
    pub score_threshold: f32,
    /// Cascades: scale step between detection sizes (smaller finds more, slower).
    #[arg(long, default_value_t = 1.1, value_name = "F")]
    pub scale_factor: f64,
    /// Cascades: frames wider than this are downscaled for detection (crops stay full size).
    #[arg(long, default_value_t = 320, value_name = "PX")]
    pub detect_width: i32,
    /// A face track counts only if seen in at least this many sampled frames.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub min_track_frames: usize,
    /// Smooth each face's probabilities over time with an exponential moving average of this
    /// weight on the newest frame (e.g. 0.3). Default: no smoothing.
    #[arg(long, value_name = "ALPHA")]
    pub ema: Option<f32>,
    /// Call the mood uncertain when the top two moods are closer than this.
    #[arg(long, default_value_t = 0.1, value_name = "P")]
    pub uncertain_margin: f64,
    /// Songs to recommend.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Draw the songs at random (seeded) from the nearest 3×N, for variety.
    #[arg(long)]
    pub seed: Option<u64>,
    /// match: songs for the clip's own point in the valence–arousal plane; lift: songs one step
    /// (+0.5 valence) more pleasant than it.
    #[arg(long, value_enum, default_value_t = Strategy::Match)]
    pub strategy: Strategy,
    /// Recommend from the catalogue's mood playlists, or from your liked songs (falls back to
    /// the catalogue, saying so, when none of them is in the mood).
    #[arg(long, value_enum, default_value_t = SongSource::Catalog)]
    pub from: SongSource,
    /// The liked-songs library read by `--from liked`.
    #[arg(long, default_value = workbench::spotify::library::DEFAULT_LIBRARY, value_name = "CSV")]
    pub library: PathBuf,
    /// Faces per model batch. The model classifies one batch while the next frames are searched,
    /// so smaller batches start that overlap sooner.
    #[arg(long, default_value_t = workbench::infer::DEFAULT_BATCH_SIZE, value_name = "N")]
    pub batch_size: usize,
    /// Print result.json to stdout (logs stay on stderr).
    #[arg(long)]
    pub json: bool,
    /// Skip writing the report (for timing runs).
    #[arg(long)]
    pub no_report: bool,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Track table (.csv or .csv.gz): Kaggle 1921-2020 data.csv, genres_v2.csv, TidyTuesday
    /// spotify_songs.csv, or any CSV with the feature columns. Default: the first of
    /// datasets/spotify/{spotify_songs,data,genres_v2}.csv[.gz] that exists.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Clusters in the final fit.
    #[arg(long, default_value_t = 6)]
    pub k: usize,
    /// k values to sweep and score, as MIN..MAX (inclusive).
    #[arg(long, default_value = "2..12", value_name = "MIN..MAX", value_parser = parse_k_range)]
    pub k_range: (usize, usize),
    /// Skip the sweep: fit --k only.
    #[arg(long)]
    pub no_sweep: bool,
    /// Features to cluster on, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "acousticness,danceability,energy,instrumentalness,liveness,loudness,speechiness,valence"
    )]
    pub features: Vec<String>,
    /// How features are scaled before clustering (fitted on the catalogue and saved).
    #[arg(long, value_enum, default_value_t = Scaling::Standard)]
    pub scaling: Scaling,
    /// k-means++ starts per k (the best is kept; all of them measure stability).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub seeds: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Rows in the silhouette's seeded sample (silhouette costs O(n^2)).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub silhouette_sample: usize,
    /// Tracks kept per mood in the model, nearest their centroid (the report's CSVs hold them
    /// all); `infer` ranks them by their place in the valence–arousal plane.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub playlist_length: usize,
    /// Where the song model goes.
    #[arg(long, default_value = workbench::tracks::model::DEFAULT_SONG_MODEL, value_name = "JSON")]
    pub out: PathBuf,
    /// Replace an existing song model at --out (the old one is kept under models/replaced/).
    #[arg(long)]
    pub force: bool,
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// People's mood labels to measure the moods against: a CSV with a track id column
    /// (track_id or id) and a mood column. Agreement, a confusion table and per-mood precision go
    /// to stdout and the report.
    #[arg(long, value_name = "CSV")]
    pub labels: Option<PathBuf>,
    /// How our six moods fold into the labels' vocabulary, as mood=label pairs (labels compared
    /// case-insensitively). The default folds into Happy / Sad / Calm / Energetic.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = workbench::tracks::agreement::DEFAULT_FOLD
    )]
    pub label_fold: String,
    /// With --labels: measure this existing song model on --data instead of building one
    /// (nothing is written).
    #[arg(long, value_name = "JSON", requires = "labels")]
    pub model: Option<PathBuf>,
}

#[cfg(feature = "vision")]
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback exposes the camera analysis to the network
    /// and is printed as a warning.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub host: std::net::IpAddr,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// FER model card (default: as for `infer`).
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Song model (default: as for `infer`).
    #[arg(long, value_name = "JSON")]
    pub songs: Option<PathBuf>,
    /// Face detector, as for `infer`.
    #[arg(long, value_enum, default_value_t = DetectorKind::Yunet)]
    pub detector: DetectorKind,
    #[arg(long, value_name = "PATH")]
    pub detector_model: Option<PathBuf>,
    /// Smallest face side, in frame pixels.
    #[arg(long, default_value_t = 30, value_name = "PX")]
    pub min_face: i32,
    /// The live mood is decided over this many latest face readings (about 2 s at 10 frames/s).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub window: usize,
    /// Songs shown.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Largest clip upload, in megabytes (bigger ones get 413, nothing written).
    #[arg(long, default_value_t = 100, value_name = "MB")]
    pub upload_limit_mb: usize,
    /// Where reports are listed from and uploads' reports go.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// The liked-songs library the page's "my liked songs" reads (and its import writes).
    #[arg(long, default_value = workbench::spotify::library::DEFAULT_LIBRARY, value_name = "CSV")]
    pub library: PathBuf,
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

#[derive(Debug, Args)]
pub struct MoodLabelsArgs {
    /// The TidyTuesday table (spotify_songs.csv[.gz]): its playlist_name column holds people's
    /// own playlist names.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Where the labels CSV (track_id, mood, playlist_name) goes.
    #[arg(long, value_name = "CSV")]
    pub out: PathBuf,
    /// Replace an existing file at --out.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct BenchClusterArgs {
    /// Real track table to bootstrap from (default as for `cluster`).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Rows to bootstrap up to (the full Kaggle data.csv has 170,653); 0 uses the table as is.
    #[arg(long, default_value_t = 170_653, value_name = "N")]
    pub rows: usize,
    #[arg(long, default_value = "2..12", value_name = "MIN..MAX", value_parser = parse_k_range)]
    pub k_range: (usize, usize),
    #[arg(long, default_value_t = 6)]
    pub k: usize,
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub seeds: usize,
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub silhouette_sample: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the bootstrapped feature table here (CSV) for the scikit-learn peer.
    #[arg(long, value_name = "CSV")]
    pub write_matrix: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Where exported models and their cards go.
    #[arg(long, default_value = "models", value_name = "DIR")]
    pub models_dir: PathBuf,
    /// Where run reports go (reports/fer/<run-id>/).
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
    /// Skip rows that fail validation (counted and reported) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

#[derive(Debug, Args)]
pub struct TrainFerArgs {
    /// Experiment config (TOML): seed, data, model, optimiser, schedule, augmentation.
    #[arg(long, value_name = "TOML", required_unless_present = "run_id")]
    pub config: Option<PathBuf>,
    /// FER2013 as CSV (.csv or .csv.gz) or image folders (train/<label>/, test/<label>/).
    /// Default: the config's data.path, else datasets/fer2013/fer2013.csv.gz.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Override the config's number of epochs (not allowed with --resume).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Continue the latest unfinished run of this config (or --run-id) from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Name the run directory reports/fer/<RUN_ID> (default: <name>-<utc time>).
    #[arg(long, value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// Replace an existing model of the experiment's name (the old files are kept under
    /// <models-dir>/replaced/). Without it, train-fer refuses before training.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct EvalFerArgs {
    /// The model card (models/<name>.json); the weights are found beside it.
    #[arg(long, value_name = "JSON")]
    pub model: PathBuf,
    /// FER2013 CSV or image folders (default: the path the model was trained on, if present).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Which split to evaluate.
    #[arg(long, value_enum, default_value_t = Split::PrivateTest)]
    pub split: Split,
    /// Report every test-time augmentation (none, flip, ten-crop), not only the card's own.
    #[arg(long)]
    pub tta: bool,
    /// Also run every face through the path `infer` uses (YuNet on the face upscaled 4x, eye
    /// alignment, FER2013 framing) and report that accuracy and how many faces were found.
    #[arg(long)]
    pub through_detector: bool,
    /// Faces per forward pass.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch_size: usize,
    #[command(flatten)]
    pub common: Common,
}

#[cfg(feature = "vision")]
#[derive(Debug, Args)]
pub struct MeasureFramingArgs {
    /// FER2013 CSV (.csv or .csv.gz) or image folders.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Which split's faces to measure on.
    #[arg(long, value_enum, default_value_t = Split::Training)]
    pub split: Split,
    /// How many faces (the first N of the split).
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct EnsembleFerArgs {
    /// A member's model card; give two or more (`--member a.json --member b.json`). Members must
    /// read the same input (size and normalisation).
    #[arg(long = "member", value_name = "JSON", required = true)]
    pub members: Vec<PathBuf>,
    /// Name of the ensemble: its files are <models-dir>/<name>.bpk and <name>.json.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Test-time augmentation the model reads faces with, in its measurements and in `infer`:
    /// the face as it is, with its mirror image, or ten crops. Choose it on PublicTest
    /// (`eval-fer --split PublicTest --tta` compares them) before PrivateTest is measured.
    #[arg(long, value_enum, default_value_t = Tta::None)]
    pub tta: Tta,
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// What `ensemble-fer`, `average-fer` and `tta-fer` share: the data the model is measured on and where it goes.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// FER2013 CSV or image folders to measure the model on: the file its members, run or source
    /// model were trained on (default: that file, if present).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Faces per forward pass when measuring.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub batch_size: usize,
    /// Replace an existing model of that name (the old files are kept under
    /// <models-dir>/replaced/).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct AverageFerArgs {
    /// The train-fer run: its directory, or its run id under <reports-dir>/fer/. A run keeps the
    /// weights of its last 5 epochs in checkpoint/; a run still training can be averaged too.
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// How many of the run's last epochs to average (2 to 5).
    #[arg(long, default_value_t = workbench::fer::train::KEPT_SNAPSHOTS, value_name = "N")]
    pub last: usize,
    /// Name of the model: its files are <models-dir>/<name>.bpk and <name>.json (default:
    /// <experiment name>-swa).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Test-time augmentation the model reads faces with, in its measurements and in `infer`:
    /// the face as it is, with its mirror image, or ten crops. Choose it on PublicTest
    /// (`eval-fer --split PublicTest --tta` compares them) before PrivateTest is measured. Default: the run's own.
    #[arg(long, value_enum)]
    pub tta: Option<Tta>,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Debug, Args)]
pub struct TtaFerArgs {
    /// The trained model's card.
    #[arg(long, value_name = "JSON")]
    pub model: PathBuf,
    /// Name of the new model: its files are <models-dir>/<name>.bpk and <name>.json.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The test-time recipe: the face with its mirror image, ten crops, or the face as it is.
    /// Choose it on PublicTest (`eval-fer --split PublicTest --tta` compares them) before
    /// PrivateTest is measured.
    #[arg(long, value_enum)]
    pub tta: Tta,
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// A network `bench-fer` can time with fresh weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchArch {
    /// The `fer` library's network (width from --base-channels).
    #[value(name = "mini_xception")]
    MiniXception,
    /// The VGG-style network.
    Vgg,
    /// None: time only --model.
    None,
}

/// `MIN..MAX` (inclusive), e.g. `2..12`.
fn parse_k_range(text: &str) -> Result<(usize, usize), String> {
    let parsed = text.split_once("..").map(|(a, b)| {
        (
            a.trim().parse::<usize>(),
            b.trim_start_matches('=').trim().parse::<usize>(),
        )
    });
    match parsed {
        Some((Ok(lo), Ok(hi))) if lo >= 1 && hi >= lo => Ok((lo, hi)),
        _ => Err("write MIN..MAX with 1 <= MIN <= MAX, e.g. 2..12".into()),
    }
}

#[derive(Debug, Args)]
pub struct BenchFerArgs {
    /// Which networks to time (fresh weights; speed does not depend on them).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "mini_xception,vgg",
        value_name = "ARCH,..."
    )]
    pub arch: Vec<BenchArch>,
    /// Input side in pixels, 32 to 64 (48: FER2013's own; smaller sides are the face resized
    /// down, for comparing step times).
    #[arg(long, default_value_t = 48, value_name = "PX")]
    pub input_size: usize,
    /// mini-Xception's stem width (8: the `fer` library's 58k-parameter net; 16: about 205k).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub base_channels: usize,
    /// Also time an exported model, through its card.
    #[arg(long, value_name = "JSON")]
    pub model: Option<PathBuf>,
    /// Training batches of 64 to time per network (0: skip training).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub train_batches: usize,
    /// Seconds to run each inference measurement.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub infer_seconds: f64,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}
