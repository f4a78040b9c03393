//! Faces found like a modern pipeline (issue 15): YuNet by default, the cascades on request, the
//! downscaling rule that still finds small faces, FER2013's framing measured and held, and a
//! missing or broken detector model named.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use workbench::fer::preprocess::FER2013_FRAMING;
use workbench::vision::faces::{yunet_input_width, DetectorParams};
use workbench::vision::framing;

fn infer_json(clip: &str, extra: &[&str]) -> Value {
    let mut args = vec!["infer", clip, "--json", "--no-report"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kept_faces(v: &Value) -> usize {
    v["faces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kept"] == true)
        .count()
}

#[test]
fn yunet_is_the_default_and_the_result_says_which_detector_ran() {
    let v = infer_json("datasets/clips/clip.gif", &[]);
    assert_eq!(v["settings"]["detector"], "YuNet");
    assert_eq!(
        v["settings"]["detector_model"],
        "models/face_detection_yunet_2022mar.onnx"
    );
    assert_eq!(v["verdict"]["mood"], "happy", "{}", v["verdict"]);
    assert_eq!(v["clip"]["frames_with_face"], 33);
    let haar = infer_json("datasets/clips/clip.gif", &["--detector", "haar"]);
    assert_eq!(haar["settings"]["detector"], "Haar cascade");
    assert_eq!(haar["verdict"]["mood"], "happy");
    let lbp = infer_json("datasets/clips/clip.gif", &["--detector", "lbp"]);
    assert_eq!(lbp["settings"]["detector"], "LBP cascade");
}

#[test]
fn every_real_clip_keeps_its_verdict_and_every_face_in_the_group_photo_is_found() {
    let v = infer_json(
        "datasets/clips/WolfgangLanger_Pexels.mp4",
        &["--every", "2"],
    );
    assert_eq!(
        v["verdict"]["mood"], "happy",
        "laughing at the end: {}",
        v["verdict"]
    );
    let Some(no_face) = shared_file("media/no_face.mp4") else {
        return;
    };
    let v = infer_json(s(&no_face), &[]);
    assert_eq!(v["verdict"]["outcome"], "no_face", "{}", v["verdict"]);
    let Some(multi) = shared_file("media/multi_face.jpg") else {
        return;
    };
    // Five people, all facing the camera: YuNet finds the five (Haar found three).
    assert_eq!(kept_faces(&infer_json(s(&multi), &[])), 5);
    let Some(single) = shared_file("media/single_face.jpg") else {
        return;
    };
    assert_eq!(kept_faces(&infer_json(s(&single), &[])), 1);
}

/// The single-face photo (572×562, a face of 257 px) shrunk into the corner of a black 640×360
/// frame: a face of about 40 px.
fn small_face_frame(photo: &Path, dir: &Path) -> std::path::PathBuf {
    let photo = image::open(photo).unwrap().to_luma8();
    let small = image::imageops::resize(&photo, 89, 88, image::imageops::FilterType::Triangle);
    let mut frame = image::GrayImage::new(640, 360);
    image::imageops::overlay(&mut frame, &small, 500, 250);
    let path = dir.join("small-face.png");
    frame.save(&path).unwrap();
    path
}

#[test]
fn a_small_face_in_a_large_frame_is_found_because_the_scale_follows_min_face() {
    // The rule: a face of --min-face frame pixels stays 12 input pixels.
    assert_eq!(yunet_input_width(640, 30), 256);
    assert_eq!(yunet_input_width(640, 120), 128);
    assert_eq!(yunet_input_width(220, 30), 128);
    assert_eq!(yunet_input_width(100, 30), 128); // the frame's 100 px, rounded up to 32
    let Some(photo) = shared_file("media/single_face.jpg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frame = small_face_frame(&photo, dir.path());
    let v = infer_json(s(&frame), &[]);
    assert_eq!(v["clip"]["frames_with_face"], 1, "{}", v["faces"]);
    // Asked only for faces of 120 px and up, the frame is read at 128 px and this face is gone.
    let v = infer_json(s(&frame), &["--min-face", "120"]);
    assert_eq!(v["clip"]["frames_with_face"], 0);
}

#[test]
fn the_committed_framing_is_what_the_detector_measures_on_fer2013() {
    let Some(fer) = fer2013() else { return };
    let m = framing::measure(&fer.training, 400, &DetectorParams::default()).unwrap();
    assert!(m.found as f64 >= 0.9 * m.faces as f64, "{m:?}");
    assert!(
        (m.framing.side - FER2013_FRAMING.side).abs() < 0.05,
        "{m:?}"
    );
    assert!((m.framing.dx - FER2013_FRAMING.dx).abs() < 0.05, "{m:?}");
    assert!((m.framing.dy - FER2013_FRAMING.dy).abs() < 0.05, "{m:?}");
}

#[test]
fn a_missing_or_broken_detector_model_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let out = run(&[
        "infer",
        "datasets/clips/clip.gif",
        "--no-report",
        "--detector-model",
        s(&missing),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope.onnx: face detector model not found"),
        "{}",
        text(&out)
    );
    let broken = dir.path().join("broken.onnx");
    std::fs::write(&broken, b"not a network").unwrap();
    let out = run(&[
        "infer",
        "datasets/clips/clip.gif",
        "--no-report",
        "--detector-model",
        s(&broken),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.onnx: not a usable YuNet model"),
        "{}",
        text(&out)
    );
}

/// `eval-fer --through-detector` puts real PrivateTest faces through the path `infer` crops
/// with: the detector finds nearly all of them (3,520 of 3,589 on the whole split), and the
/// accuracy over all faces counts each missed face as wrong.
#[test]
fn eval_fer_through_the_detector_counts_a_missed_face_as_wrong() {
    let Some(fer) = fer2013() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sample = write_sample(fer, dir.path(), 1, 12, 23);
    let faces = workbench::fer::data::load(&sample, Default::default())
        .unwrap()
        .private_test
        .len();
    let reports = dir.path().join("reports");
    let out = run(&[
        "eval-fer",
        "--model",
        "models/fer-mini-xception-c2.json",
        "--data",
        s(&sample),
        "--split",
        "PrivateTest",
        "--through-detector",
        "--reports-dir",
        s(&reports),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("through the detector"))
        .unwrap_or_else(|| panic!("{}", text(&out)));
    // "... : N of M faces found; accuracy A % on those, B % on all (...)"
    let numbers: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|w| w.parse().ok())
        .collect();
    let tail = &numbers[numbers.len() - 5..];
    let (found, seen, on_found, on_all) = (tail[0], tail[1], tail[2], tail[3]);
    assert_eq!(seen as usize, faces, "{line}");
    assert!(found <= seen && found >= 0.9 * seen, "{line}");
    assert!((on_all - on_found * found / seen).abs() < 0.01, "{line}");
}
