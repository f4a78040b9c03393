//! Faults a user can cause or suffer, each held to: a clear error (or a clear warning), an exit
//! code that says so, nothing half-written, nothing of the user's lost, and no hang. One test
//! per case of issue 13; each failed on the code before its fix.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use workbench::fer::card::ModelCard;

const CLIP: &str = "datasets/clips/clip.gif";

/// Runs the binary with a deadline: a hang is a failure, not a stuck test run.
fn run_within(args: &[&str], seconds: u64) -> Output {
    let mut child = workbench()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the workbench binary runs");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "workbench {args:?} hung (killed after {seconds} s)\n{}",
                text(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clear_failure(out: &Output, needles: &[&str]) {
    let all = text(out);
    assert!(!out.status.success(), "expected a failure:\n{all}");
    assert_eq!(out.status.code(), Some(1), "an error, not a panic:\n{all}");
    let err = stderr(out);
    assert!(err.contains("error: "), "{all}");
    assert!(!err.contains("panicked"), "{all}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing:\n{all}");
    }
}

/// Every entry under `dir`, recursively, as paths relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn no_temp_left(dir: &Path) {
    let temps: Vec<String> = tree(dir)
        .into_iter()
        .filter(|p| p.contains(".tmp."))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// The shipped default model copied into `dir` (card and weights), for damaging.
fn copy_default_model(dir: &Path) -> (PathBuf, PathBuf) {
    let card = dir.join("fer-default.json");
    let weights = dir.join("fer-default.bpk");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(root.join("models/fer-default.json"), &card).unwrap();
    fs::copy(root.join("models/fer-default.bpk"), &weights).unwrap();
    (card, weights)
}

/// Overwrites 4 KiB in the middle of the weights with 0xFF bytes: NaNs in some tensor.
fn poison(weights: &Path) {
    let mut bytes = fs::read(weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4096].fill(0xFF);
    fs::write(weights, bytes).unwrap();
}

fn reseal(card_path: &Path, weights: &Path) {
    let mut card: ModelCard =
        serde_json::from_str(&fs::read_to_string(card_path).unwrap()).unwrap();
    card.seal(weights).unwrap();
    fs::write(card_path, serde_json::to_string_pretty(&card).unwrap()).unwrap();
}

fn edit_card(card_path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(card_path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(card_path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

// 1. Non-finite numbers: a model that outputs NaN is refused, naming it; nothing is written.

#[test]
fn a_model_that_outputs_nan_is_refused_not_reported_as_a_mood() {
    let dir = tempfile::tempdir().unwrap();
    let (card, weights) = copy_default_model(dir.path());
    poison(&weights);
    reseal(&card, &weights); // weights that "still load": the card vouches for them
    let reports = dir.path().join("reports");
    for extra in [&[][..], &["--no-report"][..]] {
        let mut args = vec![
            "infer",
            CLIP,
            "--model",
            s(&card),
            "--reports-dir",
            s(&reports),
        ];
        args.extend_from_slice(extra);
        let out = run_within(&args, 120);
        assert_clear_failure(&out, &["non-finite", s(&card)]);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("NaN"),
            "{}",
            text(&out)
        );
    }
    assert!(
        tree(&reports).iter().all(|p| p == "infer"),
        "report left: {:?}",
        tree(&reports)
    );
}

/// 300 real songs (TidyTuesday), as a CSV of their own.
fn real_songs(dir: &Path, rows: usize) -> Option<PathBuf> {
    use std::io::Read;
    let table = shared_file("datasets/spotify/spotify_songs.csv.gz")?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(table).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let kept: Vec<&str> = text.lines().take(rows + 1).collect();
    let path = dir.join("songs.csv");
    fs::write(&path, kept.join("\n") + "\n").unwrap();
    Some(path)
}

#[test]
fn a_sweep_up_to_every_song_terminates_and_says_what_is_undefined() {
    let dir = tempfile::tempdir().unwrap();
    let Some(songs) = real_songs(dir.path(), 300) else {
        return;
    };
    let model = dir.path().join("songs.json");
    let reports = dir.path().join("reports");
    let out = run_within(
        &[
            "cluster",
            "--data",
            s(&songs),
            "--k",
            "6",
            "--k-range",
            "295..300",
            "--seeds",
            "2",
            "--out",
            s(&model),
            "--reports-dir",
            s(&reports),
        ],
        300,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("undefined"), "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&model).unwrap()).unwrap();
    let scores = json["sweep"]["scores"].as_array().unwrap();
    assert!(
        scores.iter().any(|s| s["calinski_harabasz"].is_null()),
        "{scores:?}"
    );
    let report = only_run_dir(&reports.join("cluster"));
    assert!(report.join("sweep.png").is_file());
}

// 2. One feature works (it panicked in the PCA).

#[test]
fn clustering_on_one_feature_works() {
    let dir = tempfile::tempdir().unwrap();
    let Some(songs) = real_songs(dir.path(), 300) else {
        return;
    };
    let reports = dir.path().join("reports");
    let out = run_within(
        &[
            "cluster",
            "--data",
            s(&songs),
            "--features",
            "valence",
            "--k",
            "3",
            "--no-sweep",
            "--out",
            s(&dir.path().join("m.json")),
            "--reports-dir",
            s(&reports),
        ],
        120,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(only_run_dir(&reports.join("cluster"))
        .join("pca.png")
        .is_file());
    no_temp_left(dir.path());
}

// 3. A model is never replaced without --force, and a forced replacement keeps the old one.

use common::TINY_EXPERIMENT as TINY;

fn tiny_fer_csv(shift: u8) -> String {
    let grey = |v: u8| vec![v.to_string(); 2304].join(" ");
    let mut text = String::from("emotion,pixels,Usage\n");
    for i in 0..8u8 {
        text += &format!("{},{},Training\n", i % 7, grey(i * 30 + shift));
    }
    for split in ["PublicTest", "PrivateTest"] {
        for i in 0..4u8 {
            text += &format!("{},{},{split}\n", i, grey(i * 60 + shift));
        }
    }
    text
}

fn train_tiny(dir: &Path, extra: &[&str]) -> Output {
    let data = dir.join("fer.csv");
    if !data.exists() {
        fs::write(&data, tiny_fer_csv(0)).unwrap();
    }
    let cfg = dir.join("tiny.toml");
    fs::write(&cfg, TINY).unwrap();
    let (models, reports) = (dir.join("models"), dir.join("reports"));
    let mut args = vec![
        "train-fer",
        "--config",
        s(&cfg),
        "--data",
        s(&data),
        "--models-dir",
        s(&models),
        "--reports-dir",
        s(&reports),
    ];
    args.extend_from_slice(extra);
    run_within(&args, 300)
}

#[test]
fn training_refuses_to_replace_a_model_and_keeps_it_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let first = train_tiny(dir.path(), &[]);
    assert!(first.status.success(), "{}", text(&first));
    let card = dir.path().join("models/tiny.json");
    let before = fs::read(&card).unwrap();
    let runs_before = tree(&dir.path().join("reports/fer")).len();

    let again = train_tiny(dir.path(), &[]);
    assert_clear_failure(&again, &["tiny.bpk", "already exists", "--force"]);
    assert_eq!(fs::read(&card).unwrap(), before, "the model was touched");
    assert_eq!(
        tree(&dir.path().join("reports/fer")).len(),
        runs_before,
        "a run was started anyway"
    );

    let forced = train_tiny(dir.path(), &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(stderr(&forced).contains("replaced"), "{}", text(&forced));
    let kept: Vec<String> = tree(&dir.path().join("models/replaced"));
    let old_card = kept
        .iter()
        .find(|p| p.ends_with("tiny.json"))
        .expect("old card kept");
    assert!(kept.iter().any(|p| p.ends_with("tiny.bpk")), "{kept:?}");
    assert_eq!(
        fs::read(dir.path().join("models/replaced").join(old_card)).unwrap(),
        before
    );
    no_temp_left(dir.path());
}

// 4. eval-fer on other data never replaces the run's own figures, and the page says which data.

#[test]
fn evaluating_on_other_data_is_kept_apart_from_the_runs_own_figures() {
    let dir = tempfile::tempdir().unwrap();
    let trained = train_tiny(dir.path(), &[]);
    assert!(trained.status.success(), "{}", text(&trained));
    let run = only_run_dir(&dir.path().join("reports/fer"));
    let own = run.join("eval-PrivateTest-none.json");
    let own_before = fs::read(&own).unwrap();
    let other = dir.path().join("other.csv");
    fs::write(&other, tiny_fer_csv(7)).unwrap();
    let out = run_within(
        &[
            "eval-fer",
            "--model",
            s(&dir.path().join("models/tiny.json")),
            "--data",
            s(&other),
            "--reports-dir",
            s(&dir.path().join("reports")),
        ],
        120,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        fs::read(&own).unwrap(),
        own_before,
        "the run's own evaluation was replaced"
    );
    let other_sha = workbench::artifacts::sha256_file(&other).unwrap();
    let theirs = run.join(format!(
        "eval-PrivateTest-none-data-{}.json",
        &other_sha[..12]
    ));
    assert!(theirs.is_file(), "{:?}", tree(&run));
    let page = fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        page.contains(&other_sha),
        "the page does not name the other data's sha256"
    );
    let own_sha = workbench::artifacts::sha256_file(&dir.path().join("fer.csv")).unwrap();
    assert!(
        page.contains(&own_sha[..12]),
        "the page does not name the run's data"
    );
}

// 5. Runs started together get their own directories.

#[test]
fn four_runs_at_once_in_one_folder_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let children: Vec<_> = (0..4)
        .map(|_| {
            workbench()
                .args([
                    "infer",
                    CLIP,
                    "--max-frames",
                    "4",
                    "--reports-dir",
                    s(&reports),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let runs = fs::read_dir(reports.join("infer")).unwrap().count();
    assert_eq!(runs, 4, "{:?}", tree(&reports));
    no_temp_left(dir.path());
}

// 6. Temporary files of a killed run are swept by the next one; earlier outputs stay whole.

#[test]
fn a_run_killed_mid_write_leaves_nothing_the_next_run_does_not_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let first = run_within(
        &[
            "infer",
            CLIP,
            "--max-frames",
            "4",
            "--reports-dir",
            s(&reports),
        ],
        120,
    );
    assert!(first.status.success(), "{}", text(&first));
    let kept = only_run_dir(&reports.join("infer"));
    let kept_files = tree(&kept);

    // kill -9 in the middle of a run...
    let mut child = workbench()
        .args([
            "infer",
            "datasets/clips/WolfgangLanger_Pexels.mp4",
            "--reports-dir",
            s(&reports),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    let _ = child.wait();
    // ...and what a kill during a report's write leaves (a dead process's temp dir and file).
    let dead = 4_294_967u32; // above Linux's pid_max: never alive
    fs::create_dir_all(reports.join(format!("infer/.{dead}.tmp.clip-x"))).unwrap();
    fs::write(
        reports.join(format!("infer/.{dead}.tmp.clip-x/index.html")),
        b"half",
    )
    .unwrap();

    let next = run_within(
        &[
            "infer",
            CLIP,
            "--max-frames",
            "4",
            "--reports-dir",
            s(&reports),
        ],
        120,
    );
    assert!(next.status.success(), "{}", text(&next));
    no_temp_left(dir.path());
    assert_eq!(tree(&kept), kept_files, "an earlier report changed");
}

// 7. cluster commits the model before its report: a failed model write leaves no report.

#[test]
fn a_failed_model_write_leaves_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let Some(songs) = real_songs(dir.path(), 300) else {
        return;
    };
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, b"a file where a folder should be").unwrap();
    let reports = dir.path().join("reports");
    let out = run_within(
        &[
            "cluster",
            "--data",
            s(&songs),
            "--k",
            "3",
            "--no-sweep",
            "--out",
            s(&blocker.join("songs.json")),
            "--reports-dir",
            s(&reports),
        ],
        120,
    );
    assert_clear_failure(&out, &["not-a-dir"]);
    let left: Vec<String> = tree(&reports)
        .into_iter()
        .filter(|p| p != "cluster")
        .collect();
    assert!(left.is_empty(), "a report without its model: {left:?}");
}

#[test]
fn cluster_refuses_to_replace_a_song_model_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let Some(songs) = real_songs(dir.path(), 300) else {
        return;
    };
    let model = dir.path().join("songs.json");
    fs::write(&model, b"{\"mine\": true}").unwrap();
    let reports = dir.path().join("reports");
    let args = [
        "cluster",
        "--data",
        s(&songs),
        "--k",
        "3",
        "--no-sweep",
        "--out",
        s(&model),
        "--reports-dir",
        s(&reports),
    ];
    assert_clear_failure(&run_within(&args, 120), &["songs.json", "--force"]);
    assert_eq!(fs::read(&model).unwrap(), b"{\"mine\": true}");
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = run_within(&forced, 120);
    assert!(out.status.success(), "{}", text(&out));
    let kept = tree(&dir.path().join("replaced"));
    assert!(kept.iter().any(|p| p.ends_with("songs.json")), "{kept:?}");
}

// 8. Weights are verified against the card, and the card against the weights.

#[test]
fn damaged_weights_and_edited_cards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (card, weights) = copy_default_model(dir.path());
    let original = fs::read(&weights).unwrap();
    let mut flipped = original.clone();
    let at = flipped.len() / 3;
    flipped[at] ^= 0x01;
    fs::write(&weights, &flipped).unwrap();
    let out = run_within(&["infer", CLIP, "--model", s(&card), "--no-report"], 60);
    assert_clear_failure(&out, &["fer-default.bpk", "sha256", "damaged"]);

    fs::write(&weights, &original).unwrap();
    edit_card(&card, |v| {
        v["model"]["input_size"] = 64.into();
        // An ensemble's members read what it reads (else the card is refused as inconsistent).
        if let Some(members) = v["model"]["members"].as_array_mut() {
            for member in members {
                member["input_size"] = 64.into();
            }
        }
        v["input"]["shape"] = serde_json::json!([1, 1, 64, 64]);
        v["preprocessing"]["input_size"] = 64.into();
        v["preprocessing"]["resize"] = "grey face crop resized to 64x64".into();
    });
    let out = run_within(&["infer", CLIP, "--model", s(&card), "--no-report"], 60);
    assert_clear_failure(&out, &["fer-default.json", "changed after export"]);
}

// 9. A truncated GIF is said, not silently half-read.

#[test]
fn a_truncated_gif_gives_a_warning_recorded_in_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let gif = fs::read(CLIP).unwrap();
    let cut = dir.path().join("cut.gif");
    fs::write(&cut, &gif[..gif.len() * 45 / 100]).unwrap();
    let out = run_within(&["infer", s(&cut), "--json", "--no-report"], 60);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("warning: "), "{}", text(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = result["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("cut short")
                || w.as_str().unwrap().contains("truncated")),
        "{warnings:?}"
    );
}

// 10. Messages that help.

#[test]
fn detector_settings_are_checked_before_opencv_sees_them() {
    for (flag, value) in [
        ("--detect-width", "0"),
        ("--scale-factor", "1.0"),
        ("--min-face", "0"),
    ] {
        let out = run_within(&["infer", CLIP, flag, value, "--no-report"], 60);
        assert_clear_failure(&out, &[flag]);
        assert!(!stderr(&out).contains("OpenCV"), "{}", text(&out));
    }
}

#[test]
fn song_tables_get_errors_that_name_the_line_and_handle_semicolons() {
    let dir = tempfile::tempdir().unwrap();
    let Some(songs) = real_songs(dir.path(), 300) else {
        return;
    };
    let table = fs::read_to_string(&songs).unwrap();
    let out_of = |name: &str, body: &str| {
        let p = dir.path().join(name);
        fs::write(&p, body).unwrap();
        p
    };
    let base = |data: &Path, extra: &[&str]| {
        let mut a = vec![
            "cluster".to_string(),
            "--data".into(),
            s(data).into(),
            "--no-sweep".into(),
            "--out".into(),
            s(&dir.path().join("m.json")).into(),
            "--force".into(),
            "--reports-dir".into(),
            s(&dir.path().join("reports")).into(),
        ];
        a.extend(extra.iter().map(|e| e.to_string()));
        a
    };
    let run_args = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
        run_within(&refs, 120)
    };

    // A ragged line: named.
    let mut lines: Vec<String> = table.lines().map(String::from).collect();
    lines[41].push_str(",extra");
    let ragged = out_of("ragged.csv", &(lines.join("\n") + "\n"));
    assert_clear_failure(&run_args(base(&ragged, &["--k", "3"])), &["line 42"]);

    // Semicolons: read as such (the header has commas inside no field here).
    let semi: String = table
        .lines()
        .take(201)
        .map(|l| l.replace(',', ";"))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let semi = out_of("semi.csv", &semi);
    let out = run_args(base(&semi, &["--k", "3"]));
    // Names with commas in them become extra fields once commas are semicolons; either it works
    // or the error names a line: never polars' bare hint.
    assert!(
        out.status.success() || stderr(&out).contains("line "),
        "{}",
        text(&out)
    );

    // An infinite cell is called that, not "missing".
    let mut lines: Vec<String> = table.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let energy = header.iter().position(|h| *h == "energy").unwrap();
    let mut cells: Vec<String> = lines[5].split(',').map(String::from).collect();
    if cells.len() == header.len() {
        cells[energy] = "inf".into();
        lines[5] = cells.join(",");
    }
    let inf = out_of("inf.csv", &(lines.join("\n") + "\n"));
    let out = run_args(base(&inf, &["--k", "3"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("not a finite number"),
        "{}",
        text(&out)
    );

    // Fewer distinct songs than clusters: said so.
    let few: String = std::iter::once(lines[0].clone())
        .chain((0..12).map(|i| {
            lines[1 + i % 3].replace(
                &lines[1 + i % 3].split(',').next().unwrap().to_string(),
                &format!("id{i}"),
            )
        }))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let few = out_of("few.csv", &few);
    assert_clear_failure(&run_args(base(&few, &["--k", "5"])), &["distinct"]);
}

#[test]
fn model_mistakes_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // The weights instead of the card.
    let out = run_within(
        &[
            "infer",
            CLIP,
            "--model",
            "models/fer-default.bpk",
            "--no-report",
        ],
        60,
    );
    assert_clear_failure(&out, &["fer-default.json", "card"]);
    assert!(!stderr(&out).contains("UTF-8"), "{}", text(&out));

    // Weights of another width under a card without digests (an older card): one line.
    let (card, weights) = copy_default_model(dir.path());
    fs::copy("models/fer-mini-xception-c2.bpk", &weights).unwrap();
    edit_card(&card, |v| {
        let o = v.as_object_mut().unwrap();
        o.remove("weights_sha256");
        o.remove("model_sha256");
    });
    let out = run_within(&["infer", CLIP, "--model", s(&card), "--no-report"], 60);
    assert_clear_failure(&out, &["do not fit", "more"]);
    let error_lines = stderr(&out)
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.contains("WARN"))
        .count();
    assert!(error_lines <= 2, "{}", text(&out));
}

#[test]
fn asking_for_more_songs_than_the_model_keeps_says_why() {
    let out = run_within(&["infer", CLIP, "--top", "100000", "--no-report"], 60);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("--top 100000 asked for more songs than there are"),
        "{}",
        text(&out)
    );
}

// 11. Huge input.

/// A PNG chunk: length, type, data, CRC.
fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

/// A small PNG file whose header announces `w`×`h` RGB pixels; only its first row is stored
/// (as a real huge PNG's first row would be), so it is ~100 bytes on disk.
fn png_announcing(w: u32, h: u32) -> Vec<u8> {
    use std::io::Write;
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&vec![0u8; 1 + 3 * w as usize]).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &z.finish().unwrap()));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

#[test]
fn a_giant_still_is_refused_before_it_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    fs::write(&big, png_announcing(20_000, 20_000)).unwrap();
    let out = run_within(&["infer", s(&big), "--no-report"], 60);
    assert_clear_failure(&out, &["big.png", "megapixels"]);
}

#[test]
fn every_committed_card_records_and_matches_its_weights() {
    let device = burn::prelude::Device::flex();
    for entry in fs::read_dir("models").unwrap().flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "json")
            && p.file_name().unwrap() != "song-clusters.json"
        {
            let card = ModelCard::read(&p).unwrap();
            assert!(
                card.weights_sha256.is_some() && card.model_sha256.is_some(),
                "{} is not sealed",
                p.display()
            );
            workbench::fer::card::load_model(&p, &device).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn an_ensemble_is_never_written_over_an_existing_model() {
    let before = fs::read("models/fer-default.json").unwrap();
    let out = run_within(
        &[
            "ensemble-fer",
            "--member",
            "models/fer-mini-xception-c1.json",
            "--member",
            "models/fer-mini-xception-c2.json",
            "--name",
            "fer-default",
        ],
        60,
    );
    assert_clear_failure(
        &out,
        &["models/fer-default.bpk", "already exists", "--force"],
    );
    assert_eq!(fs::read("models/fer-default.json").unwrap(), before);
}
