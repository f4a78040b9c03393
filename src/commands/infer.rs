use crate::cli::{InferArgs, SongSource};
use anyhow::Result;
use workbench::defaults;
use workbench::infer;
use workbench::vision::{faces::DetectorParams, tracker::TrackerParams};

pub fn run(args: InferArgs) -> Result<()> {
    let clips = infer::batch::expand(&args.clips)?;
    let single = clips.len() == 1 && !args.clips[0].is_dir();
    let json = args.json;
    let base = options(args, clips[0].clone())?;
    if single {
        one(&base, json)
    } else {
        batch(&clips, &base)
    }
}

/// Many clips: a line per clip as it ends, then the summary; an error when any failed.
fn batch(clips: &[std::path::PathBuf], base: &infer::InferOptions) -> Result<()> {
    let outcome = infer::batch::run_batch(clips, base, &|item| match &item.outcome {
        Ok(o) => println!(
            "{}: {} ({:.1} s)",
            item.clip.display(),
            o.result.verdict.sentence,
            item.seconds
        ),
        Err(e) => println!("{}: failed: {e}", item.clip.display()),
    })?;
    let summary = outcome.summary_dir.join("index.html");
    println!(
        "summary: {}",
        std::path::absolute(&summary).unwrap_or(summary).display()
    );
    match outcome.failed() {
        0 => Ok(()),
        n => anyhow::bail!(
            "{n} of {} clips failed (named in the summary)",
            outcome.items.len()
        ),
    }
}

fn one(options: &infer::InferOptions, json: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let outcome = infer::run(options)?;
    let r = &outcome.result;
    tracing::info!(
        "load {:.3} s, decode {:.3} s, detect {:.3} s, classify {:.3} s (beside decode and detect), pipeline {:.3} s, report {:.3} s",
        r.timing.load_s,
        r.timing.decode_s,
        r.timing.detect_s,
        r.timing.classify_s,
        r.timing.pipeline_s,
        r.timing.report_s
    );
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!("{}", r.verdict.sentence);
        if let (Some(c), Some(m)) = (&r.affect, r.affect.as_ref().and_then(|c| c.songs_mood)) {
            println!(
                "Your point: {} ({}); songs from the {m} playlist, nearest {} first:",
                c.target.describe(),
                c.strategy.name(),
                if c.aim == c.target {
                    "it"
                } else {
                    "the lifted point"
                }
            );
        }
        for s in &r.recommendations {
            println!(
                "{:>3}. {} — {}{}",
                s.rank,
                if s.name.is_empty() {
                    "(no name)"
                } else {
                    &s.name
                },
                s.artists,
                s.url.as_ref().map(|u| format!("  {u}")).unwrap_or_default()
            );
        }
    }
    eprintln!(
        "{} frames sampled, {} with a face: {:.1} frames/s (decode + detect + classify); {:.2} s in all; peak memory {:.0} MiB{}",
        r.clip.frames_sampled,
        r.clip.frames_with_face,
        r.timing.frames_per_s,
        started.elapsed().as_secs_f64(),
        workbench::artifacts::peak_rss_mib().unwrap_or(0.0),
        outcome
            .report_dir
            .as_ref()
            .map(|d| format!(
                "\nreport: {}",
                std::path::absolute(d.join("index.html")).unwrap_or_else(|_| d.join("index.html")).display()
            ))
            .unwrap_or_default()
    );
    Ok(())
}

fn options(args: InferArgs, clip: std::path::PathBuf) -> Result<infer::InferOptions> {
    let model = defaults::fer_model(args.model.as_deref())?;
    let song_model = defaults::song_model(args.songs.as_deref())?;
    let detector = defaults::detector_model(args.detector, args.detector_model.as_deref())?;
    Ok(infer::InferOptions {
        clip,
        model: model.path,
        song_model: song_model.path,
        sources: infer::Sources {
            model: model.source,
            song_model: song_model.source,
            detector: detector.source,
        },
        every: args.every,
        max_frames: args.max_frames,
        largest_face: args.largest_face,
        key_every: args.key_every,
        detector: DetectorParams {
            kind: args.detector,
            model: detector.path,
            score_threshold: args.score_threshold,
            min_face: args.min_face,
            detect_width: args.detect_width,
            scale_factor: args.scale_factor,
            ..Default::default()
        },
        tracker: TrackerParams {
            min_frames: args.min_track_frames,
            ..Default::default()
        },
        ema_alpha: args.ema,
        uncertain_margin: args.uncertain_margin,
        top: args.top,
        seed: args.seed,
        strategy: args.strategy,
        library: (args.from == SongSource::Liked).then_some(args.library),
        batch_size: args.batch_size,
        backend: args.backend,
        reports_dir: args.reports_dir,
        write_report: !args.no_report,
        command: super::command_line(),
    })
}
