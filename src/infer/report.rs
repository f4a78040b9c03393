//! The `infer` report: `index.html` (self-contained, relative paths, all text escaped),
//! `timeline.png`, `shares.png`, `annotated.gif`, `frames.csv` and `result.json`. Built in a
//! temporary sibling directory and renamed into place when complete.

use super::{FaceRecord, InferResult};
use crate::artifacts;
use crate::emotion::{Emotion, Mood};
use crate::fer::evaluate::Tta;
use crate::report::html::{escape, Page};
use crate::report::plots::{self, Series, PALETTE};
use anyhow::Result;
use opencv::core::{Mat, Point, Rect, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Frames kept for the annotated GIF: long clips are thinned so memory stays flat.
pub const GIF_MAX_FRAMES: usize = 120;
/// Width of the annotated GIF's frames.
const GIF_WIDTH: i32 = 320;

/// Keeps small copies of every `stride`-th sampled frame, halving them (and doubling the
/// stride) whenever the buffer is full.
pub struct FrameKeeper {
    max: usize,
    stride: usize,
    /// (sampled index, frame index, thumbnail BGR, scale from frame to thumbnail)
    frames: Vec<(usize, usize, Mat, f64)>,
}

impl FrameKeeper {
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(2),
            stride: 1,
            frames: Vec::new(),
        }
    }

    pub fn offer(
        &mut self,
        sampled: usize,
        frame_index: usize,
        bgr: &Mat,
    ) -> Result<(), opencv::Error> {
        if sampled % self.stride != 0 {
            return Ok(());
        }
        let scale = (GIF_WIDTH as f64 / bgr.cols().max(1) as f64).min(1.0);
        let mut small = Mat::default();
        imgproc::resize(
            bgr,
            &mut small,
            Size::new(
                ((bgr.cols() as f64 * scale).round() as i32).max(1),
                ((bgr.rows() as f64 * scale).round() as i32).max(1),
            ),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        self.frames.push((sampled, frame_index, small, scale));
        if self.frames.len() >= self.max {
            self.stride *= 2;
            let stride = self.stride;
            self.frames.retain(|f| f.0 % stride == 0);
        }
        Ok(())
    }

    pub fn last_time(&self, fps: f64) -> f64 {
        self.frames
            .last()
            .map_or(0.0, |f| f.1 as f64 / fps.max(1e-9))
    }
}

fn emotion_colour(e: Emotion) -> plotters::style::RGBColor {
    PALETTE[e.index() % PALETTE.len()]
}

pub fn write(
    dir: &Path,
    result: &mut InferResult,
    records: &[FaceRecord],
    keeper: &FrameKeeper,
    started: Instant,
) -> Result<()> {
    artifacts::write_dir_atomic(dir, |tmp| build(tmp, result, records, keeper, started))
}

fn build(
    dir: &Path,
    result: &mut InferResult,
    records: &[FaceRecord],
    keeper: &FrameKeeper,
    started: Instant,
) -> Result<()> {
    write_frames_csv(&dir.join("frames.csv"), records)?;
    let has_faces = records.iter().any(|r| r.kept);
    if has_faces {
        charts(dir, result, records)?;
    }
    annotated_gif(&dir.join("annotated.gif"), records, keeper, result.clip.fps)?;
    let mut page = Page::new(&format!("workbench infer: {}", result.clip.path));
    summary_section(&mut page, result);
    emotions_section(&mut page, result, has_faces);
    page.heading(2, "Frames");
    page.image(
        "annotated.gif",
        "sampled frames with the faces found and their top emotion",
    );
    page.muted(
        "Boxes: green for faces that count, grey for detections the false-face rule dropped.",
    );
    faces_section(&mut page, result);
    songs_section(&mut page, result);
    provenance_section(&mut page, result);
    artifacts::write_atomic(&dir.join("index.html"), page.finish().as_bytes())?;
    result.timing.report_s = started.elapsed().as_secs_f64();
    artifacts::write_json_atomic(&dir.join("result.json"), result)?;
    Ok(())
}

/// The emotion timeline and the shares of top emotions.
fn charts(dir: &Path, result: &InferResult, records: &[FaceRecord]) -> Result<()> {
    timeline(&dir.join("timeline.png"), records)?;
    if let Some(choice) = &result.affect {
        plane(&dir.join("plane.png"), choice, &result.recommendations)?;
    }
    let labels: Vec<String> = Emotion::ALL.iter().map(|e| e.name().to_string()).collect();
    let colours: Vec<_> = Emotion::ALL.iter().map(|&e| emotion_colour(e)).collect();
    plots::bar_chart(
        &dir.join("shares.png"),
        "Share of face-frames by top emotion",
        "share",
        &labels,
        &result.overall.share,
        &colours,
    )?;
    Ok(())
}

/// The verdict, what was read, and the warnings.
fn summary_section(page: &mut Page, result: &InferResult) {
    page.raw(&format!("<h2>{}</h2>\n", escape(&result.verdict.sentence)));
    page.muted(&format!(
        "{} · {}×{} · {:.2} fps · {} frames sampled (every {}), {} with a face · {:.1} s of clip",
        result.clip.container,
        result.clip.width,
        result.clip.height,
        result.clip.fps,
        result.clip.frames_sampled,
        result.settings.every,
        result.clip.frames_with_face,
        result.clip.duration_s
    ));
    for w in &result.warnings {
        page.paragraph(&format!("Warning: {w}"));
    }
}

fn emotions_section(page: &mut Page, result: &InferResult, has_faces: bool) {
    if has_faces {
        page.heading(2, "Emotions over time");
        page.paragraph(&format!(
            "Each emotion's probability per sampled frame (mean over the faces kept in that frame). Smoothing: {}.",
            result.settings.smoothing
        ));
        page.image("timeline.png", "emotion probabilities over time");
        page.image("shares.png", "share of frames by top emotion");
        let mut rows: Vec<Vec<String>> = Emotion::ALL
            .iter()
            .map(|e| {
                vec![
                    e.name().to_string(),
                    e.mood().to_string(),
                    format!("{:.1} %", 100.0 * result.overall.share[e.index()]),
                    format!("{:.3}", result.overall.mean_probability[e.index()]),
                ]
            })
            .collect();
        rows.sort_by(|a, b| b[3].cmp(&a[3]));
        page.table(
            &[
                "emotion",
                "mood",
                "share of face-frames",
                "mean probability",
            ],
            &rows,
        );
    } else {
        page.paragraph(
            "No face was found in any sampled frame, so there is no emotion timeline and no mood.",
        );
    }
}

fn faces_section(page: &mut Page, result: &InferResult) {
    page.heading(2, "Faces");
    if result.faces.is_empty() {
        page.paragraph("No detections.");
    } else {
        let rows: Vec<Vec<String>> = result
            .faces
            .iter()
            .map(|t| {
                vec![
                    t.id.to_string(),
                    if t.kept {
                        "yes".into()
                    } else {
                        "no (false-face rule)".into()
                    },
                    t.frames.to_string(),
                    format!("{:.2}–{:.2} s", t.first_s, t.last_s),
                    t.median_side.to_string(),
                    t.top_mood.map(|m| m.to_string()).unwrap_or_default(),
                    Mood::ALL
                        .iter()
                        .zip(&t.stats.mood_probability)
                        .map(|(m, p)| format!("{m} {p:.2}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        page.table(
            &[
                "face",
                "counts",
                "frames",
                "seen",
                "median side (px)",
                "top mood",
                "mood probabilities",
            ],
            &rows,
        );
        page.muted(&format!(
            "False-face rule: {}.",
            result.settings.false_face_rule
        ));
    }
}

/// The clip's point, the point aimed at, the song model's moods and the songs, on the plane.
fn plane(
    path: &Path,
    choice: &crate::infer::AffectChoice,
    songs: &[crate::infer::recommend::Recommendation],
) -> Result<()> {
    let names: Vec<String> = choice
        .mood_points
        .iter()
        .map(|(m, _)| format!("{m} songs"))
        .collect();
    let mut marked: Vec<plots::Marked<'_>> = choice
        .mood_points
        .iter()
        .zip(&names)
        .map(|((_, p), name)| plots::Marked {
            label: name,
            point: (p.valence, p.arousal),
            colour: plots::BLUE_,
            emphasis: false,
        })
        .collect();
    for (i, r) in songs.iter().enumerate() {
        marked.push(plots::Marked {
            label: if i == 0 { "the songs" } else { "" },
            point: (r.affect.valence, r.affect.arousal),
            colour: plots::GREEN_,
            emphasis: false,
        });
    }
    marked.push(plots::Marked {
        label: "your face",
        point: (choice.target.valence, choice.target.arousal),
        colour: plots::RED_,
        emphasis: true,
    });
    if choice.aim != choice.target {
        marked.push(plots::Marked {
            label: "aimed at (lift)",
            point: (choice.aim.valence, choice.aim.arousal),
            colour: plots::ORANGE_,
            emphasis: true,
        });
    }
    plots::affect_plane(
        path,
        "Your mood and the songs, valence–arousal",
        &[],
        &marked,
    )?;
    Ok(())
}

fn songs_section(page: &mut Page, result: &InferResult) {
    page.heading(2, "Songs");
    if let Some(c) = &result.affect {
        let from = match (c.songs_mood, c.songs_mood_point) {
            (Some(m), Some(p)) => format!(
                "the {m} playlist, whose songs sit nearest it on average ({})",
                p.describe()
            ),
            _ => "no playlist: the song model has none".into(),
        };
        page.paragraph(&format!(
            "The faces' emotions, weighted by their probabilities, point to {} in the valence–arousal plane; strategy {}{}. Songs come from {from}.",
            c.target.describe(),
            c.strategy.name(),
            if c.aim != c.target {
                format!(", so the songs aim at {}", c.aim.describe())
            } else {
                String::new()
            }
        ));
        page.image(
            "plane.png",
            "the clip's point and the songs in the valence-arousal plane",
        );
    }
    if result.recommendations.is_empty() {
        page.paragraph("No songs: there is no mood to match.");
    } else {
        page.paragraph(&format!(
            "For the {} mood: the songs nearest the point first (ties: more popular first){}. From {}.",
            result
                .affect
                .as_ref()
                .and_then(|c| c.songs_mood)
                .map(|m| m.to_string())
                .unwrap_or_default(),
            result
                .settings
                .seed
                .map(|s| format!(", a seeded draw (seed {s}) from the nearest"))
                .unwrap_or_default(),
            result.recommended_from
        ));
        let mut html = String::from(
            "<table><tr><th>#</th><th>track</th><th>artists</th><th>popularity</th><th>valence</th><th>arousal</th><th>distance</th></tr>\n",
        );
        for r in &result.recommendations {
            let name = if r.name.is_empty() {
                "(no name)"
            } else {
                &r.name
            };
            let cell = match &r.url {
                Some(url) => format!("<a href=\"{}\">{}</a>", escape(url), escape(name)),
                None => escape(name),
            };
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{cell}</td><td>{}</td><td>{}</td><td>{:+.2}</td><td>{:+.2}</td><td>{:.3}</td></tr>",
                r.rank,
                escape(&r.artists),
                r.popularity.map(|p| format!("{p:.0}")).unwrap_or_default(),
                r.affect.valence,
                r.affect.arousal,
                r.distance
            );
        }
        html.push_str("</table>\n");
        page.raw(&html);
    }
}

/// Which detector ran, with the settings that matter for it.
fn detector_line(s: &crate::infer::Settings) -> String {
    if s.detector == "YuNet" {
        format!(
            "YuNet {} (score ≥ {}, min face {} px, input scaled to the width rule in src/vision/faces.rs; crops aligned on the eyes and framed as FER2013's)",
            s.detector_model, s.score_threshold, s.min_face
        )
    } else {
        format!(
            "{} {} (scale {}, {} neighbours, min face {} px, detection width {} px)",
            s.detector,
            s.detector_model,
            s.scale_factor,
            s.min_neighbors,
            s.min_face,
            s.detect_width
        )
    }
}

fn provenance_section(page: &mut Page, result: &InferResult) {
    page.heading(2, "Provenance");
    let p = &result.provenance;
    page.table(
        &["", ""],
        &[
            vec![
                "model".into(),
                format!(
                    "{} ({}, PrivateTest accuracy {:.2} %{}, weights sha256 {})",
                    p.model_card,
                    p.model_name,
                    100.0 * p.model_private_test_accuracy,
                    match p.model_test_time {
                        Tta::None => String::new(),
                        tta => format!(
                            " reading each face with test-time augmentation {}",
                            tta.name()
                        ),
                    },
                    &p.model_weights_sha256[..12]
                ),
            ],
            vec![
                "songs".into(),
                format!(
                    "{} (from {}, sha256 {})",
                    p.songs,
                    p.songs_dataset,
                    &p.songs_dataset_sha256[..12.min(p.songs_dataset_sha256.len())]
                ),
            ],
            vec![
                "clip".into(),
                format!(
                    "{} (sha256 {})",
                    result.clip.path,
                    &result.clip.sha256[..12]
                ),
            ],
            vec!["face detector".into(), detector_line(&result.settings)],
            vec!["backend".into(), p.backend.clone()],
            vec!["OpenCV".into(), p.opencv.clone()],
            vec![
                "workbench".into(),
                format!("{} ({})", p.workbench_version, p.git_commit),
            ],
            vec!["created".into(), p.created.clone()],
        ],
    );
    page.code_block(&p.command);
    page.paragraph(
        "Files: frames.csv (every face in every sampled frame), result.json (this page as data).",
    );
    page.raw(
        "<p><a href=\"frames.csv\">frames.csv</a> · <a href=\"result.json\">result.json</a></p>\n",
    );
}

fn write_frames_csv(path: &Path, records: &[FaceRecord]) -> Result<()> {
    let mut out = String::from("frame,time_s,face_id,kept,x,y,w,h");
    for e in Emotion::ALL {
        out.push(',');
        out.push_str(e.name());
    }
    out.push('\n');
    for r in records {
        let _ = write!(
            out,
            "{},{:.4},{},{},{},{},{},{}",
            r.frame, r.time_s, r.track, r.kept, r.bbox.x, r.bbox.y, r.bbox.w, r.bbox.h
        );
        for p in r.probabilities {
            let _ = write!(out, ",{p:.5}");
        }
        out.push('\n');
    }
    artifacts::write_atomic(path, out.as_bytes())?;
    Ok(())
}

fn timeline(path: &Path, records: &[FaceRecord]) -> Result<()> {
    // Mean over the kept faces of each frame.
    let mut frames: Vec<(f64, [f64; Emotion::COUNT], usize)> = Vec::new();
    for r in records.iter().filter(|r| r.kept) {
        if frames.last().is_none_or(|f| (f.0 - r.time_s).abs() > 1e-9) {
            frames.push((r.time_s, [0.0; Emotion::COUNT], 0));
        }
        let f = frames.last_mut().expect("pushed");
        for (a, &p) in f.1.iter_mut().zip(&r.probabilities) {
            *a += p as f64;
        }
        f.2 += 1;
    }
    let names: Vec<String> = Emotion::ALL.iter().map(|e| e.name().to_string()).collect();
    let series: Vec<Series> = Emotion::ALL
        .iter()
        .map(|&e| Series {
            name: &names[e.index()],
            points: frames
                .iter()
                .map(|(t, sum, n)| (*t, sum[e.index()] / *n as f64))
                .collect(),
            colour: emotion_colour(e),
        })
        .collect();
    plots::render_png(path, 1000, 480, |root| {
        plots::line_chart(
            root,
            "Emotion probabilities over time",
            "time (s)",
            "probability",
            &series,
        )
    })?;
    Ok(())
}

/// A 6×6×6 colour cube plus 40 greys: a fixed palette, so frames are quantised in one pass.
fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(768);
    for r in 0..6u32 {
        for g in 0..6u32 {
            for b in 0..6u32 {
                p.extend([r * 51, g * 51, b * 51].map(|v| v as u8));
            }
        }
    }
    for i in 0..40u32 {
        let v = (i * 255 / 39) as u8;
        p.extend([v, v, v]);
    }
    p
}

fn palette_index(r: u8, g: u8, b: u8) -> u8 {
    let (mx, mn) = (r.max(g).max(b), r.min(g).min(b));
    if mx - mn < 20 {
        let avg = (r as u32 + g as u32 + b as u32) / 3;
        216 + ((avg * 39 + 127) / 255) as u8
    } else {
        let q = |v: u8| (v as u32 * 5 + 127) / 255;
        (q(r) * 36 + q(g) * 6 + q(b)) as u8
    }
}

fn annotated_gif(
    path: &Path,
    records: &[FaceRecord],
    keeper: &FrameKeeper,
    fps: f64,
) -> Result<()> {
    let Some(first) = keeper.frames.first() else {
        return Ok(());
    };
    let (w, h) = (first.2.cols(), first.2.rows());
    let pal = palette();
    let mut bytes = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut bytes, w as u16, h as u16, &pal)?;
        encoder.set_repeat(gif::Repeat::Infinite)?;
        for (i, (_, frame_index, thumb, scale)) in keeper.frames.iter().enumerate() {
            let mut img = thumb.try_clone()?;
            for r in records.iter().filter(|r| r.frame == *frame_index) {
                let b = r.bbox;
                let rect = Rect::new(
                    (b.x as f64 * scale) as i32,
                    (b.y as f64 * scale) as i32,
                    ((b.w as f64 * scale) as i32).max(1),
                    ((b.h as f64 * scale) as i32).max(1),
                );
                let colour = if r.kept {
                    Scalar::new(60.0, 200.0, 60.0, 0.0)
                } else {
                    Scalar::new(150.0, 150.0, 150.0, 0.0)
                };
                imgproc::rectangle(&mut img, rect, colour, 2, imgproc::LINE_8, 0)?;
                let top = crate::fer::evaluate::argmax(&r.probabilities);
                let label = format!(
                    "{} {} {:.2}",
                    r.track,
                    Emotion::ALL[top].name(),
                    r.probabilities[top]
                );
                imgproc::put_text(
                    &mut img,
                    &label,
                    Point::new(rect.x, (rect.y - 4).max(10)),
                    imgproc::FONT_HERSHEY_SIMPLEX,
                    0.4,
                    colour,
                    1,
                    imgproc::LINE_AA,
                    false,
                )?;
            }
            let data = img.data_bytes()?;
            let channels = img.channels() as usize;
            let mut indices = Vec::with_capacity((w * h) as usize);
            for px in data.chunks(channels) {
                let (b, g, r) = if channels >= 3 {
                    (px[0], px[1], px[2])
                } else {
                    (px[0], px[0], px[0])
                };
                indices.push(palette_index(r, g, b));
            }
            // Delay until the next kept frame, in centiseconds.
            let next = keeper.frames.get(i + 1).map_or(*frame_index + 1, |f| f.1);
            let delay = (((next - frame_index) as f64 / fps.max(1e-9)) * 100.0)
                .round()
                .clamp(2.0, 500.0) as u16;
            let gif_frame = gif::Frame {
                width: w as u16,
                height: h as u16,
                buffer: std::borrow::Cow::Owned(indices),
                delay,
                ..Default::default()
            };
            encoder.write_frame(&gif_frame)?;
        }
    }
    artifacts::write_atomic(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_maps_greys_and_colours_near_themselves() {
        let pal = palette();
        assert_eq!(pal.len(), 768);
        for (r, g, b) in [
            (0, 0, 0),
            (255, 255, 255),
            (128, 128, 128),
            (255, 0, 0),
            (30, 200, 90),
        ] {
            let i = palette_index(r, g, b) as usize;
            let (pr, pg, pb) = (pal[3 * i], pal[3 * i + 1], pal[3 * i + 2]);
            let err = (pr as i32 - r as i32).abs()
                + (pg as i32 - g as i32).abs()
                + (pb as i32 - b as i32).abs();
            assert!(err <= 80, "({r},{g},{b}) -> ({pr},{pg},{pb})");
        }
    }
}
