//! A tool you install, not a folder you stand in (issue 19): the built binary, copied alone into
//! an install root, run from a directory with no checkout files and a fresh home, finds its
//! shipped defaults (the FER model, the song model, YuNet) and writes where the user is.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Installed {
    _root: tempfile::TempDir,
    bin: PathBuf,
    home: PathBuf,
    work: PathBuf,
}

fn install() -> Installed {
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin/workbench");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_workbench"), &bin).unwrap();
    let (home, work) = (root.path().join("home"), root.path().join("work"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    Installed {
        bin,
        home,
        work,
        _root: root,
    }
}

impl Installed {
    fn run(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(&self.work)
            .env("HOME", &self.home)
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("WORKBENCH_HOME");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn absolute(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}

#[test]
fn the_installed_binary_works_from_any_directory_on_its_embedded_defaults() {
    let i = install();
    let clip = absolute("datasets/clips/clip.gif");
    let out = i.run(&["infer", &clip, "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The same verdict as `make demo` in the checkout.
    assert_eq!(v["verdict"]["mood"], "happy", "{}", v["verdict"]);
    let sources = &v["provenance"]["sources"];
    assert_eq!(sources["model"], "embedded");
    assert_eq!(sources["song_model"], "embedded");
    assert_eq!(sources["detector"], "embedded");
    assert_eq!(v["provenance"]["model_name"], "fer-default");
    // The report is where the user is, and its absolute path is said.
    let reports = i.work.join("reports/infer");
    assert_eq!(std::fs::read_dir(&reports).unwrap().count(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("report: {}", i.work.display())),
        "{stderr}"
    );
    // The embedded copies were unpacked into the user's cache, once.
    assert!(i.home.join(".cache/workbench/embedded").is_dir());
}

#[test]
fn cluster_writes_a_song_model_where_the_user_is_and_workbench_home_comes_first() {
    let Some(songs) = shared_file("datasets/spotify/spotify_songs.csv.gz") else {
        return;
    };
    let i = install();
    let out = i.run(
        &["cluster", "--data", s(&songs), "--k", "6", "--no-sweep"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let model = i.work.join("models/song-clusters.json");
    assert!(model.is_file());
    assert_eq!(
        std::fs::read_dir(i.work.join("reports/cluster"))
            .unwrap()
            .count(),
        1
    );

    // The user's own song model, in $WORKBENCH_HOME/models, is found before the embedded one.
    let wb_home = i.home.join("wb");
    std::fs::create_dir_all(wb_home.join("models")).unwrap();
    std::fs::rename(&model, wb_home.join("models/song-clusters.json")).unwrap();
    let clip = absolute("datasets/clips/clip.gif");
    let out = i.run(
        &["infer", &clip, "--json", "--no-report"],
        &[("WORKBENCH_HOME", &wb_home)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["provenance"]["sources"]["song_model"], "workbench_home");
    assert_eq!(v["provenance"]["sources"]["model"], "embedded");
}

#[test]
fn a_folder_of_clips_gives_a_report_each_and_a_summary_naming_the_broken_one() {
    let i = install();
    let folder = i.work.join("clips");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        absolute("datasets/clips/clip.gif"),
        folder.join("a-laugh.gif"),
    )
    .unwrap();
    let Some(photo) = shared_file("media/single_face.jpg") else {
        return;
    };
    std::fs::copy(&photo, folder.join("b-face.jpg")).unwrap();
    std::fs::write(folder.join("c-broken.mp4"), b"this is not a video at all").unwrap();
    std::fs::write(folder.join("notes.txt"), b"not a clip: ignored").unwrap();
    let out = i.run(&["infer", "clips"], &[]);
    assert!(
        !out.status.success(),
        "one clip failed: the exit code says so\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("a-laugh.gif: You seem happy"), "{stdout}");
    assert!(stdout.contains("c-broken.mp4: failed"), "{stdout}");
    let runs: Vec<String> = std::fs::read_dir(i.work.join("reports/infer"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(runs.len(), 3, "two reports and a summary: {runs:?}");
    let batch = runs
        .iter()
        .find(|r| r.starts_with("batch-"))
        .expect("a summary");
    let csv = std::fs::read_to_string(i.work.join("reports/infer").join(batch).join("summary.csv"))
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "clip,faces,mood,confidence,outcome,seconds,report"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(
        lines[1].contains("a-laugh.gif") && lines[1].contains(",happy,"),
        "{csv}"
    );
    assert!(
        lines[3].contains("c-broken.mp4") && lines[3].contains("failed: "),
        "{csv}"
    );
    assert!(i
        .work
        .join("reports/infer")
        .join(batch)
        .join("index.html")
        .is_file());
}
