//! `workbench infer <clip>`: frames → faces (YuNet by default, tracked) → emotions (the FER
//! model, in batches on a thread of its own beside the search for faces) → a mood with a
//! confidence → songs → `reports/infer/<clip>-<run-id>/`.

pub mod batch;
pub mod mood;
pub mod pipeline;
pub mod recommend;
pub mod report;

use crate::affect::{self, Affect, Strategy};
use crate::artifacts;
use crate::backend::Backend;
use crate::defaults::Source;
use crate::emotion::{Emotion, Mood};
use crate::fer::card::ModelCard;
use crate::fer::evaluate::Tta;
use crate::tracks::model::SongClusters;
use crate::vision::faces::{self, DetectorParams, Face};
use crate::vision::tracker::{Tracker, TrackerParams};
use crate::vision::video::{Frame, FrameSource};
use crate::vision::BBox;
use anyhow::{Context, Result};
use mood::{EmotionStats, Verdict};
use opencv::core::Mat;
use pipeline::{Analyser, DetectorPool};
use rayon::prelude::*;
use recommend::Recommendation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// v2: `tracks` (the faces followed through the clip) became `faces`, and `warnings` came.
/// v3: songs are chosen in the valence–arousal plane (`affect`).
pub const RESULT_SCHEMA: &str = "workbench/infer-result/v3";

/// Faces per model batch: the fastest of 8, 16 and 32 on the shipped clips (`benches/infer.sh`);
/// smaller batches start the overlap of classifying and searching sooner on short clips.
pub const DEFAULT_BATCH_SIZE: usize = 16;

#[derive(Debug, Clone)]
pub struct InferOptions {
    pub clip: PathBuf,
    pub model: PathBuf,
    /// The song model (`song-clusters.json`) whose playlists the songs come from.
    pub song_model: PathBuf,
    /// Where the model, song model and detector came from (`crate::defaults`).
    pub sources: Sources,
    pub every: usize,
    pub max_frames: Option<usize>,
    pub largest_face: bool,
    /// Every this many sampled frames the whole frame is searched for faces; the frames in
    /// between are searched near the key frame's faces only.
    pub key_every: usize,
    pub detector: DetectorParams,
    pub tracker: TrackerParams,
    /// EMA weight of the newest frame; `None`: no smoothing.
    pub ema_alpha: Option<f32>,
    pub uncertain_margin: f64,
    pub top: usize,
    pub seed: Option<u64>,
    /// Songs that match the mood or lift it (`crate::affect::Strategy`).
    pub strategy: Strategy,
    /// Recommend from this liked-songs library CSV instead of the model's playlists.
    pub library: Option<PathBuf>,
    pub batch_size: usize,
    pub backend: Backend,
    pub reports_dir: PathBuf,
    /// Skip the report (timing runs); result.json is still built.
    pub write_report: bool,
    pub command: String,
}

/// One face in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceRecord {
    pub frame: usize,
    pub time_s: f64,
    pub track: usize,
    pub bbox: BBox,
    /// Kept by the false-face rule.
    pub kept: bool,
    /// Model output, in `Emotion::ALL` order (smoothed when smoothing is on).
    pub probabilities: [f32; Emotion::COUNT],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceSummary {
    pub id: usize,
    pub kept: bool,
    pub frames: usize,
    pub first_s: f64,
    pub last_s: f64,
    pub median_side: i32,
    pub stats: EmotionStats,
    pub top_mood: Option<Mood>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipInfo {
    pub path: String,
    pub sha256: String,
    pub container: String,
    pub width: i32,
    pub height: i32,
    pub fps: f64,
    pub frames_sampled: usize,
    pub frames_with_face: usize,
    pub duration_s: f64,
}

/// Where each default came from: a flag, a data directory, or the binary itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sources {
    pub model: Source,
    pub song_model: Source,
    pub detector: Source,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            model: Source::Flag,
            song_model: Source::Flag,
            detector: Source::Flag,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub model_card: String,
    /// Where the model, song model and detector came from.
    #[serde(default)]
    pub sources: Sources,
    pub model_name: String,
    pub model_private_test_accuracy: f64,
    /// The test-time augmentation the model reads faces with (its card's, which that accuracy
    /// was measured with).
    #[serde(default, skip_serializing_if = "Tta::is_none")]
    pub model_test_time: Tta,
    pub model_weights_sha256: String,
    pub songs: String,
    pub songs_dataset: String,
    pub songs_dataset_sha256: String,
    pub backend: String,
    pub opencv: String,
    pub workbench_version: String,
    pub git_commit: String,
    pub command: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub every: usize,
    pub max_frames: Option<usize>,
    pub largest_face: bool,
    pub key_every: usize,
    /// Which detector ran ("YuNet", "Haar cascade", "LBP cascade") and its model file.
    pub detector: String,
    pub detector_model: String,
    /// YuNet's score threshold.
    pub score_threshold: f32,
    pub scale_factor: f64,
    pub min_neighbors: i32,
    pub min_face: i32,
    pub detect_width: i32,
    pub false_face_rule: String,
    pub smoothing: String,
    pub uncertain_margin: f64,
    pub top: usize,
    pub seed: Option<u64>,
    pub strategy: Strategy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Decode + detect + classify, the pipeline's own work (wall time).
    pub pipeline_s: f64,
    pub decode_s: f64,
    pub detect_s: f64,
    /// The model's busy time, on a thread of its own beside decoding and detection: the three
    /// stages add up to more than `pipeline_s`.
    pub classify_s: f64,
    /// Loading the model, the song model and the cascade.
    pub load_s: f64,
    pub frames_per_s: f64,
    pub report_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferResult {
    pub schema: String,
    pub clip: ClipInfo,
    pub verdict: Verdict,
    pub overall: EmotionStats,
    /// Each face followed through the clip (a face track), kept or dropped as a false face.
    pub faces: Vec<FaceSummary>,
    /// Where the clip's emotions point in the valence–arousal plane and where the songs come
    /// from; `None` without a face.
    pub affect: Option<AffectChoice>,
    pub recommendations: Vec<Recommendation>,
    pub recommended_from: String,
    /// Things the user should know about this result (a truncated clip, fewer songs than
    /// asked); also printed on stderr and shown in the report.
    #[serde(default)]
    pub warnings: Vec<String>,
    pub settings: Settings,
    pub provenance: Provenance,
    pub timing: Timing,
}

/// The clip's point in the valence–arousal plane and the mood the songs are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffectChoice {
    /// The probability-weighted mean of the emotions' points (`crate::affect::target`).
    pub target: Affect,
    pub strategy: Strategy,
    /// The point the songs are chosen for: the target, or the target lifted.
    pub aim: Affect,
    /// The mood whose songs sit nearest the aim, and where they sit; `None` when the song
    /// model has no playlist at all.
    pub songs_mood: Option<Mood>,
    pub songs_mood_point: Option<Affect>,
    /// Every mood of the song model that has songs, with its point (for the chart).
    pub mood_points: Vec<(Mood, Affect)>,
}

impl AffectChoice {
    /// From the clip's mean emotion probabilities; `None` when there was no face.
    pub fn of(stats: &EmotionStats, strategy: Strategy, songs: &SongClusters) -> Option<Self> {
        let target = affect::target(&stats.mean_probability)?;
        let aim = strategy.aim(target);
        let mood_points = songs.mood_points();
        let nearest = crate::tracks::model::nearest_mood_point(&mood_points, aim);
        Some(AffectChoice {
            target,
            strategy,
            aim,
            songs_mood: nearest.map(|n| n.0),
            songs_mood_point: nearest.map(|n| n.1),
            mood_points,
        })
    }
}

pub struct InferOutcome {
    pub result: InferResult,
    pub report_dir: Option<PathBuf>,
}

/// Checked settings: every value the CLI or a caller can get wrong is refused here, naming the
/// option, before anything is loaded.
impl InferOptions {
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(self.every >= 1, "--every must be at least 1");
        anyhow::ensure!(
            self.max_frames != Some(0),
            "--max-frames must be at least 1"
        );
        anyhow::ensure!(self.top >= 1, "--top must be at least 1");
        anyhow::ensure!(self.key_every >= 1, "--key-every must be at least 1");
        anyhow::ensure!(self.batch_size >= 1, "--batch-size must be at least 1");
        anyhow::ensure!(
            (0.0..1.0).contains(&self.uncertain_margin),
            "--uncertain-margin must be in 0..1"
        );
        if let Some(a) = self.ema_alpha {
            anyhow::ensure!(a > 0.0 && a <= 1.0, "--ema must be in (0, 1]");
        }
        anyhow::ensure!(
            self.tracker.min_frames >= 1,
            "--min-track-frames must be at least 1"
        );
        self.detector.check()?;
        Ok(())
    }
}

/// Everything loaded before the clip is read: a bad model, song model, library or cascade fails
/// here, before any work.
struct Loaded {
    /// The FER model and the face detectors: the per-frame path `serve` shares.
    analyser: Analyser,
    songs: SongClusters,
    /// The liked-songs library, placed into moods, for `--from liked`.
    library: Option<Vec<crate::tracks::model::PlaylistTrack>>,
    load_s: f64,
}

fn load(o: &InferOptions) -> Result<Loaded> {
    let started = Instant::now();
    let analyser = Analyser::load(&o.model, o.backend, &o.detector)?;
    let songs = SongClusters::read(&o.song_model)?;
    let library = match &o.library {
        Some(path) => Some(crate::spotify::library::read_placed(&songs, path)?.tracks),
        None => None,
    };
    Ok(Loaded {
        analyser,
        songs,
        library,
        load_s: started.elapsed().as_secs_f64(),
    })
}

/// Time spent per stage of the scan.
#[derive(Default)]
struct Laps {
    decode_s: f64,
    detect_s: f64,
    classify_s: f64,
    clock: Option<Instant>,
}

impl Laps {
    fn lap(&mut self, stage: fn(&mut Laps) -> &mut f64) {
        let now = Instant::now();
        let since = self.clock.replace(now).unwrap_or(now);
        *stage(self) += (now - since).as_secs_f64();
    }
}

/// What reading the clip produced: every face in every sampled frame, classified.
struct Scan {
    records: Vec<FaceRecord>,
    sampled: usize,
    tracker: Tracker,
    annotator: report::FrameKeeper,
    laps: Laps,
    pipeline_s: f64,
}

/// Crops waiting for the model, and the records they belong to (from `first` on).
#[derive(Default)]
struct FaceQueue {
    inputs: Vec<f32>,
    first: usize,
    faces: usize,
}

/// A batch of crops and the index of the first record it classifies.
type Batch = (usize, Vec<f32>);

/// What the classifying thread hands back: each batch's probabilities, and its busy time.
type Classified = (Vec<(usize, Vec<[f32; Emotion::COUNT]>)>, f64);

/// Reads the clip: frames in groups of one key-frame span per detector, faces found (whole
/// key frames, near the key frame's faces in between), tracked and cropped; the crops are
/// classified in batches on a thread of their own while the next frames are decoded and
/// searched (alone, each stage leaves a core idle part of the time).
fn scan_clip(o: &InferOptions, l: &Loaded, source: &mut FrameSource) -> Result<Scan> {
    let started = Instant::now();
    let mut scan = Scan {
        records: Vec::new(),
        sampled: 0,
        tracker: Tracker::new(o.tracker),
        annotator: report::FrameKeeper::new(report::GIF_MAX_FRAMES),
        laps: Laps::default(),
        pipeline_s: 0.0,
    };
    let (scanned, classified) = std::thread::scope(|s| {
        // Two batches in flight at most: detection never runs far ahead of the model.
        let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(2);
        let worker = s.spawn(|| classify_batches(l, &o.model, receive));
        let scanned = find_faces(o, l, source, &mut scan, send);
        let classified = worker.join().expect("the classifying thread panicked");
        (scanned, classified)
    });
    // The model's error first: a failed send only means the model had stopped.
    let (batches, classify_s) = classified?;
    scanned?;
    for (first, probs) in batches {
        for (r, p) in scan.records[first..].iter_mut().zip(probs) {
            r.probabilities = p;
        }
    }
    scan.laps.classify_s = classify_s;
    scan.pipeline_s = started.elapsed().as_secs_f64();
    if scan.sampled == 0 {
        anyhow::bail!(
            "{}: no frame could be decoded (a zero-length or truncated video?)",
            o.clip.display()
        );
    }
    Ok(scan)
}

/// The classifying thread: every batch through the model, in order, until the sender is done.
fn classify_batches(
    l: &Loaded,
    card_path: &std::path::Path,
    batches: std::sync::mpsc::Receiver<Batch>,
) -> Result<Classified> {
    let mut out = Vec::new();
    let mut busy = 0.0;
    for (first, inputs) in batches {
        let started = Instant::now();
        out.push((first, l.analyser.classify(inputs, card_path)?));
        busy += started.elapsed().as_secs_f64();
    }
    Ok((out, busy))
}

/// Decodes, detects, tracks and crops every sampled frame, sending the crops to `model` in
/// batches of `--batch-size` faces.
fn find_faces(
    o: &InferOptions,
    l: &Loaded,
    source: &mut FrameSource,
    scan: &mut Scan,
    model: std::sync::mpsc::SyncSender<Batch>,
) -> Result<()> {
    let bar = crate::progress::bar((source.frame_count_hint / o.every).max(1) as u64, "frames");
    scan.laps.lap(|t| &mut t.decode_s);
    let mut queue = FaceQueue::default();
    let group = o.key_every * l.analyser.detectors.len();
    loop {
        let chunk = read_frames(source, group)?;
        if chunk.is_empty() {
            break;
        }
        scan.laps.lap(|t| &mut t.decode_s);
        let greys: Vec<Mat> = chunk
            .iter()
            .map(|f| faces::to_grey(&f.bgr))
            .collect::<Result<_, _>>()
            .context("converting a frame to grey")?;
        let found = detect_chunk(&l.analyser.detectors, &greys, o.key_every)?;
        for ((frame, grey), mut boxes) in chunk.iter().zip(&greys).zip(found) {
            if o.largest_face {
                boxes.truncate(1);
            }
            queue_faces(scan, &mut queue, &l.analyser, frame, grey, &boxes)?;
            scan.annotator
                .offer(scan.sampled, frame.index, &frame.bgr)?;
            scan.sampled += 1;
            bar.inc(1);
        }
        if queue.faces >= o.batch_size {
            send_queued(&mut queue, scan.records.len(), &model)?;
        }
        scan.laps.lap(|t| &mut t.detect_s);
    }
    send_queued(&mut queue, scan.records.len(), &model)?;
    bar.finish_and_clear();
    Ok(())
}

/// Hands the queued crops to the model; the next batch starts at record `next`.
fn send_queued(
    queue: &mut FaceQueue,
    next: usize,
    model: &std::sync::mpsc::SyncSender<Batch>,
) -> Result<()> {
    if queue.faces > 0 {
        model
            .send((queue.first, std::mem::take(&mut queue.inputs)))
            .map_err(|_| anyhow::anyhow!("the model stopped classifying faces"))?;
    }
    queue.first = next;
    queue.faces = 0;
    Ok(())
}

fn read_frames(source: &mut FrameSource, n: usize) -> Result<Vec<Frame>> {
    let mut chunk = Vec::with_capacity(n);
    while chunk.len() < n {
        match source.next_frame()? {
            Some(f) => chunk.push(f),
            None => break,
        }
    }
    Ok(chunk)
}

/// Faces in each frame of a chunk: every `key_every`-th frame is searched whole, the frames
/// after it only near its faces; both in parallel. Which frames are key frames depends only on
/// their index, so results do not depend on the number of threads.
fn detect_chunk(
    detectors: &DetectorPool,
    greys: &[Mat],
    key_every: usize,
) -> Result<Vec<Vec<Face>>> {
    let keys: Vec<Vec<Face>> = (0..greys.len())
        .step_by(key_every)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&i| detectors.with(|d| d.detect(&greys[i])))
        .collect::<Result<_, _>>()?;
    let found = (0..greys.len())
        .into_par_iter()
        .map(|i| {
            let key = &keys[i / key_every];
            if i % key_every == 0 {
                Ok(key.clone())
            } else if key.is_empty() {
                Ok(vec![])
            } else {
                let boxes: Vec<BBox> = key.iter().map(|f| f.bbox).collect();
                detectors.with(|d| d.detect_near(&greys[i], &boxes))
            }
        })
        .collect::<Result<_, faces::FaceError>>()?;
    Ok(found)
}

/// Tracks a frame's faces and queues their crops for the model (records get their
/// probabilities when the queue is classified).
fn queue_faces(
    scan: &mut Scan,
    queue: &mut FaceQueue,
    analyser: &Analyser,
    frame: &Frame,
    grey: &Mat,
    found: &[Face],
) -> Result<()> {
    let boxes: Vec<BBox> = found.iter().map(|f| f.bbox).collect();
    let ids = scan.tracker.update(scan.sampled, &boxes);
    analyser.crop_inputs(grey, found, &mut queue.inputs)?;
    for (b, &id) in boxes.iter().zip(&ids) {
        scan.records.push(FaceRecord {
            frame: frame.index,
            time_s: frame.time_s,
            track: id,
            bbox: *b,
            kept: false,
            probabilities: [0.0; Emotion::COUNT],
        });
        queue.faces += 1;
    }
    Ok(())
}

/// The faces that count, their smoothed probabilities, and the clip's mood.
struct Decision {
    overall: EmotionStats,
    verdict: Verdict,
    faces: Vec<FaceSummary>,
    frames_with_face: usize,
}

/// Applies the false-face rule and the smoothing to the records, then decides the mood.
fn decide(o: &InferOptions, scan: &mut Scan) -> Decision {
    let kept = scan.tracker.kept_tracks(scan.sampled);
    let records = &mut scan.records;
    for r in records.iter_mut() {
        r.kept = kept.contains(&r.track);
    }
    if let Some(alpha) = o.ema_alpha {
        for &t in &kept {
            let idx: Vec<usize> = (0..records.len())
                .filter(|&i| records[i].track == t)
                .collect();
            let mut series: Vec<[f32; Emotion::COUNT]> =
                idx.iter().map(|&i| records[i].probabilities).collect();
            mood::ema(&mut series, alpha);
            for (&i, p) in idx.iter().zip(series) {
                records[i].probabilities = p;
            }
        }
    }
    let overall = EmotionStats::from_probabilities(
        records.iter().filter(|r| r.kept).map(|r| &r.probabilities),
    );
    let verdict = mood::verdict(&overall, o.uncertain_margin);
    let mut frames: Vec<usize> = records.iter().filter(|r| r.kept).map(|r| r.frame).collect();
    frames.dedup();
    Decision {
        overall,
        verdict,
        faces: summarise_faces(records, scan.tracker.track_count(), &kept),
        frames_with_face: frames.len(),
    }
}

/// Songs for the clip's point in the valence–arousal plane, from the mood whose songs sit
/// nearest it: from the liked-songs library when given (the catalogue when none of them is in
/// that mood), else from the song model's playlists. Returns the songs, where they came from,
/// and a warning when fewer than `--top` exist.
fn recommend_songs(
    o: &InferOptions,
    l: &Loaded,
    choice: Option<&AffectChoice>,
) -> (Vec<Recommendation>, String, Option<String>) {
    let songs = &l.songs;
    let catalogue = format!(
        "{} ({} per-mood playlists of the {} catalogue)",
        o.song_model.display(),
        songs.playlists.len(),
        songs.dataset.schema.describe()
    );
    let Some((m, aim)) = choice.and_then(|c| Some((c.songs_mood?, c.aim))) else {
        return (vec![], catalogue, None);
    };
    let (list, pool) =
        recommend::from_library_or_catalogue(songs, l.library.as_deref(), m, aim, o.top, o.seed);
    let liked = o
        .library
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let from = match pool {
        recommend::Pool::Catalogue => catalogue,
        recommend::Pool::CatalogueNoneLiked => {
            format!("{catalogue}: none of your liked songs ({liked}) is placed in {m}")
        }
        recommend::Pool::Liked { in_mood } => format!(
            "your liked songs, {liked} ({in_mood} of them placed in {m} by {})",
            o.song_model.display()
        ),
    };
    let short = (list.len() < o.top).then(|| {
        format!(
            "--top {} asked for more songs than there are: {} in {m} from {from} (a song model keeps --playlist-length songs per mood; `workbench cluster --playlist-length N` keeps more)",
            o.top,
            list.len()
        )
    });
    (list, from, short)
}

pub fn run(o: &InferOptions) -> Result<InferOutcome> {
    o.check()?;
    let loaded = load(o)?;
    let mut source = FrameSource::open(&o.clip, o.every, o.max_frames)?;
    let mut scan = scan_clip(o, &loaded, &mut source)?;
    let decision = decide(o, &mut scan);
    let choice = AffectChoice::of(&decision.overall, o.strategy, &loaded.songs);
    let (recommendations, recommended_from, short) = recommend_songs(o, &loaded, choice.as_ref());
    let mut warnings = source.warnings();
    warnings.extend(short);
    let mut result = assemble(
        o,
        &loaded,
        &source,
        &scan,
        decision,
        Songs {
            affect: choice,
            recommendations,
            recommended_from,
        },
        warnings,
    )?;
    let report_dir = if o.write_report {
        Some(write_report(o, &mut result, &scan)?)
    } else {
        None
    };
    Ok(InferOutcome { result, report_dir })
}

/// Writes the report into a fresh run directory `reports/infer/<clip stem>-<run id>/`.
fn write_report(o: &InferOptions, result: &mut InferResult, scan: &Scan) -> Result<PathBuf> {
    let started = Instant::now();
    let stem = o
        .clip
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "clip".into());
    let safe = artifacts::name_safe(&stem, "");
    let (_, dir) = artifacts::reserve_run_dir(&o.reports_dir.join("infer"), &safe)?;
    report::write(&dir, result, &scan.records, &scan.annotator, started)
        .with_context(|| format!("writing the report in {}", dir.display()))?;
    Ok(dir)
}

/// The songs part of a result.
struct Songs {
    affect: Option<AffectChoice>,
    recommendations: Vec<Recommendation>,
    recommended_from: String,
}

/// The result document (`result.json`): clip, verdict, faces, songs, settings, provenance.
fn assemble(
    o: &InferOptions,
    l: &Loaded,
    source: &FrameSource,
    scan: &Scan,
    decision: Decision,
    songs: Songs,
    warnings: Vec<String>,
) -> Result<InferResult> {
    Ok(InferResult {
        schema: RESULT_SCHEMA.into(),
        clip: ClipInfo {
            path: o.clip.display().to_string(),
            sha256: artifacts::sha256_file(&o.clip)?,
            container: format!("{:?}", source.container),
            width: source.width,
            height: source.height,
            fps: source.fps,
            frames_sampled: scan.sampled,
            frames_with_face: decision.frames_with_face,
            duration_s: scan
                .records
                .last()
                .map_or(0.0, |r| r.time_s)
                .max(scan.annotator.last_time(source.fps)),
        },
        verdict: decision.verdict,
        overall: decision.overall,
        faces: decision.faces,
        affect: songs.affect,
        recommendations: songs.recommendations,
        recommended_from: songs.recommended_from,
        warnings,
        settings: settings(o),
        provenance: provenance(o, &l.analyser.card, &l.songs)?,
        timing: Timing {
            pipeline_s: scan.pipeline_s,
            decode_s: scan.laps.decode_s,
            detect_s: scan.laps.detect_s,
            classify_s: scan.laps.classify_s,
            load_s: l.load_s,
            frames_per_s: scan.sampled as f64 / scan.pipeline_s.max(1e-9),
            report_s: 0.0,
        },
    })
}

fn settings(o: &InferOptions) -> Settings {
    Settings {
        every: o.every,
        max_frames: o.max_frames,
        largest_face: o.largest_face,
        key_every: o.key_every,
        detector: o.detector.kind.name().into(),
        detector_model: o.detector.model.display().to_string(),
        score_threshold: o.detector.score_threshold,
        scale_factor: o.detector.scale_factor,
        min_neighbors: o.detector.min_neighbors,
        min_face: o.detector.min_face,
        detect_width: o.detector.detect_width,
        false_face_rule: format!(
            "a face track counts when seen in at least {} sampled frames (every frame of a shorter clip) and its median box side is at least {:.0} % of the largest such track's",
            o.tracker.min_frames,
            100.0 * o.tracker.min_relative_size
        ),
        smoothing: match o.ema_alpha {
            Some(a) => format!("exponential moving average per face track, weight {a} on the newest frame"),
            None => "none (raw per-frame probabilities)".into(),
        },
        uncertain_margin: o.uncertain_margin,
        top: o.top,
        seed: o.seed,
        strategy: o.strategy,
    }
}

fn summarise_faces(records: &[FaceRecord], count: usize, kept: &[usize]) -> Vec<FaceSummary> {
    (0..count)
        .filter_map(|t| {
            let rs: Vec<&FaceRecord> = records.iter().filter(|r| r.track == t).collect();
            let first = rs.first()?;
            let last = rs.last()?;
            let mut sides: Vec<i32> = rs.iter().map(|r| r.bbox.w.max(r.bbox.h)).collect();
            sides.sort_unstable();
            let stats = EmotionStats::from_probabilities(rs.iter().map(|r| &r.probabilities));
            let top_mood = Some(stats.top_two().0 .0);
            Some(FaceSummary {
                id: t,
                kept: kept.contains(&t),
                frames: rs.len(),
                first_s: first.time_s,
                last_s: last.time_s,
                median_side: sides[sides.len() / 2],
                stats,
                top_mood,
            })
        })
        .collect()
}

fn provenance(o: &InferOptions, card: &ModelCard, songs: &SongClusters) -> Result<Provenance> {
    let weights = card.weights_path(&o.model);
    Ok(Provenance {
        model_card: o.model.display().to_string(),
        sources: o.sources,
        model_name: card.name.clone(),
        model_private_test_accuracy: card.metrics.private_test.accuracy,
        model_test_time: card.model.test_time,
        model_weights_sha256: card
            .loaded_weights_sha256(&o.model)
            .with_context(|| format!("hashing {}", weights.display()))?,
        songs: o.song_model.display().to_string(),
        songs_dataset: songs.dataset.path.clone(),
        songs_dataset_sha256: songs.dataset.sha256.clone(),
        backend: o.backend.describe(),
        opencv: opencv::core::get_version_string().unwrap_or_default(),
        workbench_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: artifacts::git_commit(),
        command: o.command.clone(),
        created: artifacts::utc_rfc3339(),
    })
}
