//! `workbench infer <clip>`: frames → faces (Haar, tracked) → emotions (the FER model, batched)
//! → a mood with a confidence → songs → `reports/infer/<clip>-<run-id>/`.

pub mod mood;
pub mod recommend;
pub mod report;

use crate::artifacts;
use crate::backend::Backend;
use crate::emotion::{Emotion, Mood};
use crate::fer::card::{self, ModelCard};
use crate::fer::model::FerNet;
use crate::fer::preprocess::Preprocessing;
use crate::tracks::model::SongClusters;
use crate::vision::faces::{self, DetectorParams, FaceDetector};
use crate::vision::tracker::{Tracker, TrackerParams};
use crate::vision::video::FrameSource;
use crate::vision::BBox;
use anyhow::{Context, Result};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use mood::{EmotionStats, Verdict};
use recommend::Recommendation;
use serde::{Deserialize, Serialize};
use opencv::core::Mat;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

pub const RESULT_SCHEMA: &str = "workbench/infer-result/v1";

#[derive(Debug, Clone)]
pub struct InferOptions {
    pub clip: PathBuf,
    pub model: PathBuf,
    pub songs: PathBuf,
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
pub struct TrackSummary {
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub model_card: String,
    pub model_name: String,
    pub model_private_test_accuracy: f64,
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
    pub cascade: String,
    pub scale_factor: f64,
    pub min_neighbors: i32,
    pub min_face: i32,
    pub detect_width: i32,
    pub false_face_rule: String,
    pub smoothing: String,
    pub uncertain_margin: f64,
    pub top: usize,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Decode + detect + classify, the pipeline's own work.
    pub pipeline_s: f64,
    pub decode_s: f64,
    pub detect_s: f64,
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
    pub tracks: Vec<TrackSummary>,
    pub recommendations: Vec<Recommendation>,
    pub recommended_from: String,
    pub settings: Settings,
    pub provenance: Provenance,
    pub timing: Timing,
}

pub struct InferOutcome {
    pub result: InferResult,
    pub report_dir: Option<PathBuf>,
}

/// Runs the model on a batch of crops; returns probabilities per crop.
fn classify(
    model: &FerNet,
    prep: &Preprocessing,
    inputs: Vec<f32>,
    device: &Device,
) -> Vec<[f32; Emotion::COUNT]> {
    if inputs.is_empty() {
        return vec![];
    }
    let logits = model.forward(prep.batch_tensor(inputs, device));
    let flat: Vec<f32> = softmax(logits, 1)
        .into_data()
        .try_to_vec()
        .expect("f32 probabilities");
    flat.chunks(Emotion::COUNT)
        .map(|c| {
            let mut p = [0.0; Emotion::COUNT];
            p.copy_from_slice(c);
            p
        })
        .collect()
}

fn check_options(o: &InferOptions) -> Result<()> {
    anyhow::ensure!(o.every >= 1, "--every must be at least 1");
    anyhow::ensure!(o.max_frames != Some(0), "--max-frames must be at least 1");
    anyhow::ensure!(o.top >= 1, "--top must be at least 1");
    anyhow::ensure!(o.key_every >= 1, "--key-every must be at least 1");
    anyhow::ensure!(o.batch_size >= 1, "--batch-size must be at least 1");
    anyhow::ensure!(
        (0.0..1.0).contains(&o.uncertain_margin),
        "--uncertain-margin must be in 0..1"
    );
    if let Some(a) = o.ema_alpha {
        anyhow::ensure!(a > 0.0 && a <= 1.0, "--ema must be in (0, 1]");
    }
    Ok(())
}

pub fn run(o: &InferOptions) -> Result<InferOutcome> {
    check_options(o)?;
    // Inputs first, so a bad model, catalogue, cascade or clip fails before any work.
    let load_started = Instant::now();
    let device = o.backend.device().map_err(anyhow::Error::msg)?;
    let (card, model) = card::load_model(&o.model, &device)?;
    let songs = SongClusters::read(&o.songs)?;
    // The whole library is placed now (all moods), so a bad library fails before any work.
    let library_pool = match &o.library {
        Some(path) => Some(crate::spotify::library::read_placed(&songs, path)?.tracks),
        None => None,
    };
    // One cascade per thread (OpenCV's own pool would only contend with ours), loaded before
    // the clip is opened: a missing cascade fails early, naming it.
    opencv::core::set_num_threads(0).context("configuring OpenCV threads")?;
    let detectors: Vec<Mutex<FaceDetector>> = (0..rayon::current_num_threads().max(1))
        .map(|_| FaceDetector::new(o.detector.clone()).map(Mutex::new))
        .collect::<Result<_, _>>()?;
    let mut source = FrameSource::open(&o.clip, o.every, o.max_frames)?;
    let prep = card.model.preprocessing();
    let load_s = load_started.elapsed().as_secs_f64();

    let started = Instant::now();
    let (mut decode_s, mut detect_s, mut classify_s) = (0.0, 0.0, 0.0);
    let mut clock = Instant::now();
    let mut lap = |acc: &mut f64| {
        let now = Instant::now();
        *acc += (now - clock).as_secs_f64();
        clock = now;
    };
    let bar = crate::progress::bar(
        (source.frame_count_hint / o.every).max(1) as u64,
        "frames",
    );
    let mut tracker = Tracker::new(o.tracker);
    let mut records: Vec<FaceRecord> = Vec::new();
    let mut annotator = report::FrameKeeper::new(report::GIF_MAX_FRAMES);
    let mut pending: Vec<f32> = Vec::new();
    let mut pending_records = 0usize;
    let mut sampled = 0usize;
    // Key frames are searched whole; the frames up to the next key frame only near the key
    // frame's faces, in parallel (one cascade per thread).
    // Runs `f` with whichever cascade is free (there is one per thread).
    let with_detector = |f: &dyn Fn(&mut FaceDetector) -> Result<Vec<BBox>, faces::FaceError>| loop {
        for d in &detectors {
            if let Ok(mut d) = d.try_lock() {
                return f(&mut d);
            }
        }
        std::thread::yield_now();
    };
    // Frames are read in groups of one key-frame span per thread, so key frames are searched in
    // parallel too; which frames are key frames depends only on their index.
    let group = o.key_every * detectors.len();
    let mut chunk = Vec::with_capacity(group);
    loop {
        chunk.clear();
        while chunk.len() < group {
            match source.next_frame()? {
                Some(f) => chunk.push(f),
                None => break,
            }
        }
        if chunk.is_empty() {
            break;
        }
        lap(&mut decode_s);
        let greys: Vec<Mat> = chunk
            .iter()
            .map(|f| faces::to_grey(&f.bgr))
            .collect::<Result<_, _>>()
            .context("converting a frame to grey")?;
        let keys: Vec<Vec<BBox>> = (0..chunk.len())
            .step_by(o.key_every)
            .collect::<Vec<_>>()
            .par_iter()
            .map(|&i| with_detector(&|d| d.detect(&greys[i])))
            .collect::<Result<_, _>>()?;
        let found: Vec<Vec<BBox>> = (0..chunk.len())
            .into_par_iter()
            .map(|i| {
                let key = &keys[i / o.key_every];
                if i % o.key_every == 0 {
                    Ok(key.clone())
                } else if key.is_empty() {
                    Ok(vec![])
                } else {
                    with_detector(&|d| d.detect_near(&greys[i], key))
                }
            })
            .collect::<Result<_, _>>()?;
        lap(&mut detect_s);
        for (i, frame) in chunk.iter().enumerate() {
            let mut boxes = found[i].clone();
            if o.largest_face {
                boxes.truncate(1);
            }
            let ids = tracker.update(sampled, &boxes);
            for (b, &id) in boxes.iter().zip(&ids) {
                let (pixels, w, h) = faces::crop_grey(&greys[i], *b)?;
                let start = pending.len();
                pending.resize(start + prep.input_len(), 0.0);
                prep.write_input(&pixels, w, h, &mut pending[start..]);
                records.push(FaceRecord {
                    frame: frame.index,
                    time_s: frame.time_s,
                    track: id,
                    bbox: *b,
                    kept: false,
                    probabilities: [0.0; Emotion::COUNT],
                });
                pending_records += 1;
            }
            annotator.offer(sampled, frame.index, &frame.bgr)?;
            sampled += 1;
            bar.inc(1);
        }
        lap(&mut detect_s);
        if pending_records >= o.batch_size {
            let probs = classify(&model, &prep, std::mem::take(&mut pending), &device);
            let first = records.len() - pending_records;
            for (r, p) in records[first..].iter_mut().zip(probs) {
                r.probabilities = p;
            }
            pending_records = 0;
            lap(&mut classify_s);
        }
    }
    let probs = classify(&model, &prep, std::mem::take(&mut pending), &device);
    let first = records.len() - pending_records;
    for (r, p) in records[first..].iter_mut().zip(probs) {
        r.probabilities = p;
    }
    lap(&mut classify_s);
    bar.finish_and_clear();
    let pipeline_s = started.elapsed().as_secs_f64();
    if sampled == 0 {
        anyhow::bail!(
            "{}: no frame could be decoded (a zero-length or truncated video?)",
            o.clip.display()
        );
    }

    // The false-face rule, then smoothing within each kept track.
    let kept = tracker.kept_tracks(sampled);
    for r in records.iter_mut() {
        r.kept = kept.contains(&r.track);
    }
    if let Some(alpha) = o.ema_alpha {
        for &t in &kept {
            let idx: Vec<usize> = (0..records.len()).filter(|&i| records[i].track == t).collect();
            let mut series: Vec<[f32; Emotion::COUNT]> = idx.iter().map(|&i| records[i].probabilities).collect();
            mood::ema(&mut series, alpha);
            for (&i, p) in idx.iter().zip(series) {
                records[i].probabilities = p;
            }
        }
    }
    let overall = EmotionStats::from_probabilities(records.iter().filter(|r| r.kept).map(|r| &r.probabilities));
    let verdict = mood::verdict(&overall, o.uncertain_margin);
    let tracks = summarise_tracks(&records, tracker.track_count(), &kept);
    let catalogue_source = format!(
        "{} ({} per-mood playlists of the {} catalogue)",
        o.songs.display(),
        songs.playlists.len(),
        songs.dataset.schema.describe()
    );
    let (recommendations, recommended_from) = match (verdict.mood, &library_pool) {
        (Some(m), Some(pool)) => {
            let mine: Vec<_> = pool.iter().filter(|t| songs.mood_of(t.cluster) == m).cloned().collect();
            let library = o.library.as_ref().expect("pool read from it").display();
            if mine.is_empty() {
                (
                    recommend::recommend(&songs, m, o.top, o.seed),
                    format!("{catalogue_source}: none of your liked songs ({library}) is placed in {m}"),
                )
            } else {
                (
                    recommend::pick(&mine, o.top, o.seed),
                    format!("your liked songs, {library} ({} of them placed in {m} by {})", mine.len(), o.songs.display()),
                )
            }
        }
        (Some(m), None) => (recommend::recommend(&songs, m, o.top, o.seed), catalogue_source),
        (None, _) => (vec![], catalogue_source),
    };
    let frames_with_face = {
        let mut f: Vec<usize> = records.iter().filter(|r| r.kept).map(|r| r.frame).collect();
        f.dedup();
        f.len()
    };
    let mut result = InferResult {
        schema: RESULT_SCHEMA.into(),
        clip: ClipInfo {
            path: o.clip.display().to_string(),
            sha256: artifacts::sha256_file(&o.clip)?,
            container: format!("{:?}", source.container),
            width: source.width,
            height: source.height,
            fps: source.fps,
            frames_sampled: sampled,
            frames_with_face,
            duration_s: records
                .last()
                .map_or(0.0, |r| r.time_s)
                .max(annotator.last_time(source.fps)),
        },
        verdict,
        overall,
        tracks,
        recommendations,
        recommended_from,
        settings: Settings {
            every: o.every,
            max_frames: o.max_frames,
            largest_face: o.largest_face,
            key_every: o.key_every,
            cascade: o.detector.cascade.display().to_string(),
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
        },
        provenance: provenance(o, &card, &songs)?,
        timing: Timing {
            pipeline_s,
            decode_s,
            detect_s,
            classify_s,
            load_s,
            frames_per_s: sampled as f64 / pipeline_s.max(1e-9),
            report_s: 0.0,
        },
    };
    let report_dir = if o.write_report {
        let t = Instant::now();
        let stem = o
            .clip
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "clip".into());
        let safe: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
            .collect();
        let dir = o
            .reports_dir
            .join("infer")
            .join(artifacts::new_run_id(&safe));
        report::write(&dir, &mut result, &records, &annotator, t)
            .with_context(|| format!("writing the report in {}", dir.display()))?;
        Some(dir)
    } else {
        None
    };
    Ok(InferOutcome { result, report_dir })
}

fn summarise_tracks(records: &[FaceRecord], count: usize, kept: &[usize]) -> Vec<TrackSummary> {
    (0..count)
        .filter_map(|t| {
            let rs: Vec<&FaceRecord> = records.iter().filter(|r| r.track == t).collect();
            let first = rs.first()?;
            let last = rs.last()?;
            let mut sides: Vec<i32> = rs.iter().map(|r| r.bbox.w.max(r.bbox.h)).collect();
            sides.sort_unstable();
            let stats = EmotionStats::from_probabilities(rs.iter().map(|r| &r.probabilities));
            let top_mood = Some(stats.top_two().0 .0);
            Some(TrackSummary {
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
        model_name: card.name.clone(),
        model_private_test_accuracy: card.metrics.private_test.accuracy,
        model_weights_sha256: artifacts::sha256_file(&weights)
            .with_context(|| format!("hashing {}", weights.display()))?,
        songs: o.songs.display().to_string(),
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
