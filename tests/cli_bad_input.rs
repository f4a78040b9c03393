//! Bad input to train-fer and eval-fer: a clear message naming the file (and line), a non-zero
//! exit code, and no model or card left behind. These tests write their own small files.

mod common;

use common::*;
use std::fs;
use std::path::Path;

use common::TINY_EXPERIMENT as CONFIG;

fn grey(v: u8) -> String {
    vec![v.to_string(); 2304].join(" ")
}

/// A tiny CSV with the real header: 8 Training faces and 2 of each test split.
fn tiny_csv(extra: &str) -> String {
    let mut text = String::from("emotion,pixels,Usage\n");
    for i in 0..8u8 {
        text += &format!("{},{},Training\n", i % 7, grey(i * 30));
    }
    text += extra;
    for split in ["PublicTest", "PrivateTest"] {
        for i in 0..2u8 {
            text += &format!("{},{},{split}\n", i, grey(i * 90));
        }
    }
    text
}

fn train_in(dir: &Path, csv: &str, config: &str, extra: &[&str]) -> std::process::Output {
    let data = dir.join("fer.csv");
    fs::write(&data, csv).unwrap();
    let cfg = dir.join("tiny.toml");
    fs::write(&cfg, config).unwrap();
    let mut args = vec![
        "train-fer".to_string(),
        "--config".into(),
        s(&cfg).into(),
        "--data".into(),
        s(&data).into(),
        "--models-dir".into(),
        s(&dir.join("models")).into(),
        "--reports-dir".into(),
        s(&dir.join("reports")).into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    workbench().args(&args).output().unwrap()
}

fn assert_no_model(dir: &Path) {
    let models = dir.join("models");
    if models.exists() {
        let left: Vec<_> = fs::read_dir(&models)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "partial model left behind: {left:?}");
    }
}

fn assert_fails_with(out: &std::process::Output, needles: &[&str]) {
    let all = text(out);
    assert!(!out.status.success(), "expected failure:\n{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: "), "{all}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} missing:\n{all}");
    }
}

#[test]
fn each_bad_row_stops_training_with_its_line_and_leaves_no_model() {
    let cases = [
        (
            format!("3,{} 7,Training\n", grey(1)),
            "expected 2304 pixels (48x48), found 2305",
        ),
        (
            format!("3,{},Training\n", grey(1).replacen("1", "300", 1)),
            "pixel 0 is `300`",
        ),
        (
            format!("8,{},Training\n", grey(1)),
            "emotion `8` is not a label 0-6",
        ),
        (format!("3,{},Test\n", grey(1)), "unknown Usage `Test`"),
    ];
    for (bad_row, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = train_in(dir.path(), &tiny_csv(&bad_row), CONFIG, &[]);
        // The header is line 1 and eight good rows come first: the bad row is line 10.
        assert_fails_with(&out, &["fer.csv:10: ", message]);
        assert_no_model(dir.path());
    }
}

#[test]
fn skip_bad_rows_counts_them_and_the_card_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!("9,{},Training\n3,1 2,Training\n", grey(1));
    let out = train_in(dir.path(), &tiny_csv(&bad), CONFIG, &["--skip-bad-rows"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 2 bad rows"), "{stderr}");
    assert!(
        stderr.contains("line 10: emotion `9`") && stderr.contains("line 11: expected 2304 pixels"),
        "{stderr}"
    );
    let card: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("models/tiny.json")).unwrap())
            .unwrap();
    assert_eq!(card["data"]["skipped_rows"], 2);
    assert_eq!(card["data"]["training"], 8);
}

#[test]
fn missing_data_and_bad_configs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tiny.toml");
    fs::write(&cfg, CONFIG).unwrap();
    let out = run(&[
        "train-fer",
        "--config",
        s(&cfg),
        "--data",
        "/nonexistent/fer2013.csv",
        "--models-dir",
        s(&dir.path().join("models")),
        "--reports-dir",
        s(&dir.path().join("reports")),
    ]);
    assert_fails_with(
        &out,
        &[
            "/nonexistent/fer2013.csv: no such file",
            "datasets/README.md",
        ],
    );
    assert_no_model(dir.path());

    let config_cases = [
        (
            ("epochs = 1", "epochs = 1\nepoch = 2"),
            "unknown field `epoch`",
        ),
        (("lr = 0.001", "lr = 0.0"), "optimizer.lr = 0"),
        (
            ("[model]", "[model]\ninput_size = 65"),
            "model.input_size = 65",
        ),
    ];
    for ((from, to), message) in config_cases {
        let out = train_in(dir.path(), &tiny_csv(""), &CONFIG.replace(from, to), &[]);
        assert_fails_with(&out, &["tiny.toml", message]);
    }
    let out = train_in(dir.path(), "label,image\n1,2\n", CONFIG, &[]);
    assert_fails_with(&out, &["fer.csv: not a FER2013 CSV", "label,image"]);
    let only_training =
        "emotion,pixels,Usage\n".to_string() + &format!("1,{},Training\n", grey(3)).repeat(8);
    let out = train_in(dir.path(), &only_training, CONFIG, &[]);
    assert_fails_with(&out, &["the PublicTest split is empty"]);
    assert_no_model(dir.path());
}

#[test]
fn eval_refuses_unknown_files_and_cards_with_wrong_labels() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fer.csv");
    fs::write(&data, tiny_csv("")).unwrap();
    let eval = |card: &Path| {
        run(&[
            "eval-fer",
            "--model",
            s(card),
            "--data",
            s(&data),
            "--reports-dir",
            s(&dir.path().join("reports")),
        ])
    };

    assert_fails_with(&eval(&dir.path().join("absent.json")), &["absent.json"]);
    let not_a_card = dir.path().join("text.json");
    fs::write(&not_a_card, "this is not json").unwrap();
    assert_fails_with(
        &eval(&not_a_card),
        &["text.json: not a workbench FER model card"],
    );

    // Train a real tiny model, then tamper with copies of its card.
    let out = train_in(dir.path(), &tiny_csv(""), CONFIG, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let card_path = dir.path().join("models/tiny.json");
    let card: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&card_path).unwrap()).unwrap();
    assert!(eval(&card_path).status.success());

    let mut swapped = card.clone();
    swapped["labels"][0] = "happy".into();
    swapped["labels"][3] = "angry".into();
    let path = dir.path().join("models/swapped.json");
    fs::write(&path, serde_json::to_string(&swapped).unwrap()).unwrap();
    assert_fails_with(
        &eval(&path),
        &["swapped.json: labels", "name emotions wrongly"],
    );

    let mut missing = card.clone();
    missing["weights"] = "gone.bpk".into();
    let path = dir.path().join("models/missing.json");
    fs::write(&path, serde_json::to_string(&missing).unwrap()).unwrap();
    assert_fails_with(&eval(&path), &["gone.bpk: cannot load the weights"]);

    let mut other_arch = card.clone();
    other_arch["model"]["arch"] = "vgg".into();
    let path = dir.path().join("models/other.json");
    fs::write(&path, serde_json::to_string(&other_arch).unwrap()).unwrap();
    assert_fails_with(&eval(&path), &["tiny.bpk: cannot load the weights"]);

    let text_weights = dir.path().join("models/text.bpk");
    fs::write(&text_weights, "not burnpack").unwrap();
    let mut text_card = card;
    text_card["weights"] = "text.bpk".into();
    let path = dir.path().join("models/textw.json");
    fs::write(&path, serde_json::to_string(&text_card).unwrap()).unwrap();
    assert_fails_with(&eval(&path), &["text.bpk: cannot load the weights"]);
}
