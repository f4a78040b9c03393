//! `workbench infer`: the committed clip, the real clips of ../shared/media (skipped, saying
//! why, when absent), every bad input, escaping of untrusted track names, and the report loaded
//! in a real headless browser.

mod common;

use common::{run, s, text};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CLIP: &str = "datasets/clips/clip.gif";

struct Infer {
    out: std::process::Output,
    reports: PathBuf,
}

fn infer(dir: &Path, clip: &str, extra: &[&str]) -> Infer {
    let reports = dir.join("reports");
    let mut args = vec!["infer", clip, "--reports-dir", s(&reports)];
    args.extend_from_slice(extra);
    Infer {
        out: run(&args),
        reports,
    }
}

fn report_dir(r: &Infer) -> PathBuf {
    common::only_run_dir(&r.reports.join("infer"))
}

fn result(r: &Infer) -> Value {
    assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out));
    serde_json::from_slice(&std::fs::read(report_dir(r).join("result.json")).unwrap()).unwrap()
}

fn assert_refused(r: &Infer, needles: &[&str]) {
    let all = text(&r.out);
    assert_ne!(r.out.status.code(), Some(0), "{all}");
    let err = String::from_utf8_lossy(&r.out.stderr);
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{all}");
    }
    assert!(
        !r.reports.join("infer").exists()
            || std::fs::read_dir(r.reports.join("infer")).unwrap().count() == 0,
        "a report was left:\n{all}"
    );
}

#[test]
fn the_committed_clip_gives_a_mood_songs_and_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let r = infer(dir.path(), CLIP, &[]);
    let v = result(&r);
    assert_eq!(v["schema"], "workbench/infer-result/v3");
    assert_eq!(v["clip"]["frames_sampled"], 33);
    let with_face = v["clip"]["frames_with_face"].as_u64().unwrap();
    assert!(with_face >= 30, "face found in {with_face}/33 frames");
    // The laughing end of the Pexels clip.
    assert_eq!(v["verdict"]["mood"], "happy", "{}", v["verdict"]);
    let songs = v["recommendations"].as_array().unwrap();
    assert_eq!(songs.len(), 10);
    for (i, song) in songs.iter().enumerate() {
        assert_eq!(song["rank"], i + 1);
        assert!(song["url"]
            .as_str()
            .unwrap()
            .starts_with("https://open.spotify.com/track/"));
    }
    let stdout = String::from_utf8_lossy(&r.out.stdout);
    assert!(stdout.starts_with("You seem happy"), "{stdout}");
    // A laughing face points to pleasant and active; the songs come nearest that point first.
    let target = &v["affect"]["target"];
    assert!(
        target["valence"].as_f64().unwrap() > 0.3 && target["arousal"].as_f64().unwrap() > 0.2,
        "{target}"
    );
    assert_eq!(v["affect"]["aim"], *target, "match aims at the target");
    let distances: Vec<f64> = songs
        .iter()
        .map(|s| s["distance"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");

    let report = report_dir(&r);
    for f in [
        "index.html",
        "timeline.png",
        "shares.png",
        "annotated.gif",
        "frames.csv",
        "result.json",
        "plane.png",
    ] {
        assert!(report.join(f).is_file(), "{f} missing");
    }
    let frames = std::fs::read_to_string(report.join("frames.csv")).unwrap();
    assert!(frames.starts_with(
        "frame,time_s,face_id,kept,x,y,w,h,angry,disgust,fear,happy,sad,surprise,neutral\n"
    ));
    assert!(frames.lines().count() > with_face as usize);
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("You seem happy"));
    assert!(!html.contains("src=\"/"), "image paths are relative");

    // --json prints the same result to stdout, with --no-report writing nothing.
    let dir2 = tempfile::tempdir().unwrap();
    let j = infer(dir2.path(), CLIP, &["--json", "--no-report"]);
    assert_eq!(j.out.status.code(), Some(0), "{}", text(&j.out));
    let printed: Value = serde_json::from_slice(&j.out.stdout).unwrap();
    assert_eq!(printed["verdict"], v["verdict"]);
    assert_eq!(printed["recommendations"], v["recommendations"]);
    assert!(!j.reports.exists());
}

#[test]
fn lift_aims_more_pleasant_and_its_songs_are() {
    let mean_valence = |v: &Value| {
        let songs = v["recommendations"].as_array().unwrap();
        assert!(!songs.is_empty(), "{v}");
        songs
            .iter()
            .map(|s| s["affect"]["valence"].as_f64().unwrap())
            .sum::<f64>()
            / songs.len() as f64
    };
    let dir = tempfile::tempdir().unwrap();
    let matched = result(&infer(dir.path(), CLIP, &["--strategy", "match"]));
    let dir = tempfile::tempdir().unwrap();
    let lifted = result(&infer(dir.path(), CLIP, &["--strategy", "lift"]));
    let (target, aim) = (&lifted["affect"]["target"], &lifted["affect"]["aim"]);
    assert_eq!(target, &matched["affect"]["target"]);
    let v = target["valence"].as_f64().unwrap();
    assert!(
        (aim["valence"].as_f64().unwrap() - (v + 0.5).min(1.0)).abs() < 1e-9,
        "{aim}"
    );
    assert_eq!(aim["arousal"], target["arousal"]);
    assert_eq!(lifted["affect"]["strategy"], "lift");
    assert!(
        mean_valence(&lifted) > mean_valence(&matched),
        "lift {} vs match {}",
        mean_valence(&lifted),
        mean_valence(&matched)
    );
}

#[test]
fn seeds_give_variety_and_every_and_max_frames_sample() {
    let dir = tempfile::tempdir().unwrap();
    let a = result(&infer(
        dir.path(),
        CLIP,
        &[
            "--seed",
            "1",
            "--every",
            "3",
            "--max-frames",
            "5",
            "--top",
            "5",
        ],
    ));
    assert_eq!(a["clip"]["frames_sampled"], 5);
    let dir = tempfile::tempdir().unwrap();
    let b = result(&infer(
        dir.path(),
        CLIP,
        &[
            "--seed",
            "2",
            "--every",
            "3",
            "--max-frames",
            "5",
            "--top",
            "5",
        ],
    ));
    let ids = |v: &Value| -> Vec<String> {
        v["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].to_string())
            .collect()
    };
    assert_eq!(ids(&a).len(), 5);
    assert_ne!(ids(&a), ids(&b), "different seeds, different songs");
}

fn media(name: &str) -> Option<String> {
    common::shared_file(&format!("media/{name}")).map(|p| p.to_string_lossy().into_owned())
}

#[test]
fn no_face_is_an_outcome_not_an_error_and_faces_that_come_and_go_are_counted() {
    let Some(no_face) = media("no_face.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = infer(dir.path(), &no_face, &["--every", "2"]);
    let v = result(&r);
    assert_eq!(v["verdict"]["outcome"], "no_face");
    assert_eq!(v["clip"]["frames_with_face"], 0);
    assert!(v["recommendations"].as_array().unwrap().is_empty());
    let html = std::fs::read_to_string(report_dir(&r).join("index.html")).unwrap();
    assert!(html.contains("No face found"));

    for clip in ["face_noface.mov", "noface_face.mov"] {
        let Some(path) = media(clip) else { return };
        let dir = tempfile::tempdir().unwrap();
        let v = result(&infer(dir.path(), &path, &["--every", "4"]));
        let sampled = v["clip"]["frames_sampled"].as_u64().unwrap();
        let with_face = v["clip"]["frames_with_face"].as_u64().unwrap();
        assert!(
            with_face > 0 && with_face < sampled,
            "{clip}: {with_face}/{sampled}"
        );
        assert_ne!(v["verdict"]["outcome"], "no_face", "{clip}");
    }
}

#[test]
fn stills_work_and_several_faces_get_several_ids() {
    let Some(single) = media("single_face.jpg") else {
        return;
    };
    let Some(multi) = media("multi_face.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let v = result(&infer(dir.path(), &single, &[]));
    assert_eq!(v["clip"]["frames_sampled"], 1);
    assert_eq!(v["clip"]["frames_with_face"], 1);
    let dir = tempfile::tempdir().unwrap();
    let v = result(&infer(dir.path(), &multi, &[]));
    let kept = v["faces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kept"] == true)
        .count();
    assert!(kept >= 2, "{kept} faces kept in multi_face.jpg");
    let dir = tempfile::tempdir().unwrap();
    let v = result(&infer(dir.path(), &multi, &["--largest-face"]));
    assert_eq!(v["faces"].as_array().unwrap().len(), 1);
}

#[test]
fn bad_inputs_are_refused_clearly_with_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.gif");
    assert_refused(&infer(d, s(&missing), &[]), &["nope.gif", "no such file"]);

    let text_gif = d.join("notes.gif");
    std::fs::write(&text_gif, "this is not a gif\n").unwrap();
    assert_refused(&infer(d, s(&text_gif), &[]), &["notes.gif", "text"]);

    let empty = d.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_refused(&infer(d, s(&empty), &[]), &["empty.mp4", "empty"]);

    let clip = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/clips/WolfgangLanger_Pexels.mp4"),
    )
    .unwrap();
    let truncated = d.join("truncated.mp4");
    std::fs::write(&truncated, &clip[..4096]).unwrap();
    assert_refused(&infer(d, s(&truncated), &[]), &["truncated.mp4"]);

    // Models: a missing card, a file that is not a card, a card whose labels differ.
    assert_refused(
        &infer(d, CLIP, &["--model", "models/nope.json"]),
        &["models/nope.json"],
    );
    let not_card = d.join("not-a-card.json");
    std::fs::write(&not_card, "{\"hello\": 1}").unwrap();
    assert_refused(
        &infer(d, CLIP, &["--model", s(&not_card)]),
        &["not-a-card.json", "not a workbench FER model card"],
    );
    let card: String = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fer-default.json"),
    )
    .unwrap();
    let swapped = card.replacen("\"angry\"", "\"furious\"", 1).replace(
        "\"weights\": \"fer-default.bpk\"",
        &format!(
            "\"weights\": \"{}\"",
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models/fer-default.bpk")
                .display()
        ),
    );
    let wrong_labels = d.join("wrong-labels.json");
    std::fs::write(&wrong_labels, swapped).unwrap();
    assert_refused(
        &infer(d, CLIP, &["--model", s(&wrong_labels)]),
        &["wrong-labels.json", "labels"],
    );

    // A missing song model and a missing cascade.
    assert_refused(
        &infer(d, CLIP, &["--songs", "models/nope-songs.json"]),
        &["nope-songs.json"],
    );
    assert_refused(
        &infer(d, CLIP, &["--cascade", "/nonexistent/cascade.xml"]),
        &["/nonexistent/cascade.xml", "cascade"],
    );
    assert_refused(&infer(d, CLIP, &["--every", "0"]), &["--every"]);
}

/// A song model whose first playlist track is named like an attack.
fn hostile_song_model(dir: &Path) -> PathBuf {
    let mut model: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("models/song-clusters.json"))
            .unwrap(),
    )
    .unwrap();
    for playlist in model["playlists"].as_array_mut().unwrap() {
        for track in playlist["tracks"].as_array_mut().unwrap() {
            track["name"] = "<script>alert(1)</script>".into();
            track["artists"] = "<img src=x onerror=alert(2)>".into();
        }
    }
    let path = dir.join("hostile-songs.json");
    std::fs::write(&path, serde_json::to_vec(&model).unwrap()).unwrap();
    path
}

fn chromium() -> Option<&'static str> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c);
        }
    }
    common::skip("no chromium here (scripts/setup.sh installs Debian's)");
    None
}

#[test]
fn the_report_escapes_track_names_and_loads_in_a_real_browser_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let songs = hostile_song_model(dir.path());
    let r = infer(dir.path(), CLIP, &["--songs", s(&songs)]);
    let report = {
        assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out));
        report_dir(&r)
    };
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(!html.contains("<img src=x"));

    let Some(browser) = chromium() else { return };
    // A harness page beside the report loads it in a frame and lists every image that did not
    // load; --dump-dom prints the harness's DOM once the page has settled.
    std::fs::write(
        report.join("check.html"),
        r#"<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="index.html" width="1200" height="800"></iframe>
<script>
document.getElementById('f').addEventListener('load', function () {
  var doc = this.contentDocument, bad = [], imgs = doc.images;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad.push(imgs[i].getAttribute('src'));
  }
  document.getElementById('out').textContent = 'IMAGES ' + imgs.length + ' BROKEN [' + bad.join(',') + ']';
});
</script></body></html>"#,
    )
    .unwrap();
    let common_flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let url = |f: &str| format!("file://{}", report.join(f).display());
    let dom = Command::new(browser)
        .args(common_flags)
        .arg("--dump-dom")
        .arg(url("check.html"))
        .output()
        .unwrap();
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("BROKEN []"),
        "broken images or no load:\n{}",
        text(&dom)
    );
    let shown: usize = dom_text
        .split("IMAGES ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        shown, 4,
        "timeline, shares, the annotated GIF and the valence-arousal plane:\n{dom_text}"
    );

    let shot = dir.path().join("report.png");
    let page = Command::new(browser)
        .args(common_flags)
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,2400")
        .arg(url("index.html"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&page.stderr);
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let png = std::fs::read(&shot).expect("a screenshot was taken");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot of {} bytes",
        png.len()
    );
}

/// The shipped model's card and weights copied to `dir`, the card re-sealed with `tta` as its
/// test-time augmentation.
fn with_test_time(tta: workbench::fer::evaluate::Tta, dir: &Path) -> PathBuf {
    use workbench::fer::card::{ModelCard, DEFAULT_CARD};
    let mut card = ModelCard::read(Path::new(DEFAULT_CARD)).unwrap();
    let weights = dir.join(&card.weights);
    std::fs::copy(card.weights_path(Path::new(DEFAULT_CARD)), &weights).unwrap();
    card.model.test_time = tta;
    card.seal(&weights).unwrap();
    let path = dir.join(format!("{}-{}.json", card.name, tta.name()));
    std::fs::write(&path, serde_json::to_vec_pretty(&card).unwrap()).unwrap();
    path
}

/// A card's test-time augmentation is how infer reads faces: with `flip`, each face's
/// probabilities are the mean of the model's on its crop and on the mirrored crop, the first
/// view is exactly the input read without augmentation, and the result names the recipe.
#[test]
fn a_cards_test_time_augmentation_is_how_infer_reads_each_face() {
    use workbench::backend::Backend;
    use workbench::fer::evaluate::Tta;
    use workbench::infer::pipeline::Analyser;
    use workbench::vision::faces::{self, DetectorParams};
    let Some(multi) = media("multi_face.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Both recipes made here, whichever the shipped card has.
    let (plain_card, flip_card) = (
        with_test_time(Tta::None, dir.path()),
        with_test_time(Tta::Flip, dir.path()),
    );
    let load = |card: &Path| Analyser::load(card, Backend::Cpu, &DetectorParams::default());
    let (plain, flip) = (load(&plain_card).unwrap(), load(&flip_card).unwrap());
    let frame = opencv::imgcodecs::imread(&multi, opencv::imgcodecs::IMREAD_COLOR).unwrap();
    let grey = faces::to_grey(&frame).unwrap();
    let found = flip.detectors.with(|d| d.detect(&grey)).unwrap();
    assert!(found.len() >= 2, "{} faces", found.len());
    let (mut one, mut two) = (Vec::new(), Vec::new());
    plain.crop_inputs(&grey, &found, &mut one).unwrap();
    flip.crop_inputs(&grey, &found, &mut two).unwrap();
    let n = plain.prep.input_len();
    assert_eq!(two.len(), 2 * one.len());
    for (face, views) in one.chunks(n).zip(two.chunks(2 * n)) {
        assert_eq!(face, &views[..n]);
        assert_ne!(face, &views[n..], "the second view is another image");
    }
    let each_view = plain.classify(two.clone(), &flip_card).unwrap();
    let averaged = flip.classify(two, &flip_card).unwrap();
    assert_eq!(averaged.len(), found.len());
    for (face, views) in averaged.iter().zip(each_view.chunks(2)) {
        for k in 0..face.len() {
            let mean = (views[0][k] + views[1][k]) / 2.0;
            assert!((face[k] - mean).abs() < 1e-5, "{face:?} vs {views:?}");
        }
    }
    let r = infer(dir.path(), &multi, &["--model", s(&flip_card)]);
    assert_eq!(result(&r)["provenance"]["model_test_time"], "flip");
    let html = std::fs::read_to_string(report_dir(&r).join("index.html")).unwrap();
    assert!(html.contains("test-time augmentation flip"));
}

/// `bench-fer --model` counts faces, not images, for a card with test-time augmentation.
#[test]
fn bench_fer_counts_each_faces_views() {
    use workbench::fer::evaluate::Tta;
    let dir = tempfile::tempdir().unwrap();
    let card = with_test_time(Tta::TenCrop, dir.path());
    let out = run(&[
        "bench-fer",
        "--arch",
        "none",
        "--model",
        s(&card),
        "--train-batches",
        "0",
        "--infer-seconds",
        "0.05",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v[0];
    assert_eq!(r["views_per_face"], 10);
    assert!(r["model"].as_str().unwrap().contains("TTA ten_crop"));
    let at_16 = r["infer"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["batch"] == 16)
        .unwrap()["img_per_s"]
        .as_f64()
        .unwrap();
    let faces = r["faces_per_s_batch16"].as_f64().unwrap();
    assert!(
        (faces * 10.0 - at_16).abs() < 1e-6 * at_16,
        "{faces} {at_16}"
    );
}
