//! `scripts/fer_pack.py`, which carries FER2013 to a GPU machine (scripts/gpu-run.sh): the CSV it
//! rebuilds is the real one byte for byte, so a run there and one here read data of the same
//! sha256; a row it could not rebuild stops it with the row's line.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Command;

/// The header and the first `rows` faces of the real FER2013, as its CSV has them.
fn real_rows(rows: usize) -> Option<String> {
    let path = common::fer2013_path();
    if !path.exists() {
        common::skip(&format!("{} is absent", path.display()));
        return None;
    }
    let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap());
    let mut text = String::new();
    for line in BufReader::new(gz).split(b'\n').take(rows + 1) {
        text.push_str(std::str::from_utf8(&line.unwrap()).unwrap());
        text.push('\n');
    }
    Some(text)
}

fn fer_pack(args: &[&Path]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fer_pack.py");
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_packed_faces_rebuild_the_csv_byte_for_byte() {
    let Some(csv) = real_rows(400) else { return };
    let dir = tempfile::tempdir().unwrap();
    let (original, packed, rebuilt) = (
        dir.path().join("fer.csv"),
        dir.path().join("fer.raw"),
        dir.path().join("rebuilt.csv"),
    );
    std::fs::write(&original, &csv).unwrap();
    let out = fer_pack(&[Path::new("pack"), &original, &packed]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::metadata(&packed).unwrap().len(), 400 * 2306);
    let out = fer_pack(&[Path::new("unpack"), &packed, &rebuilt]);
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::read(&rebuilt).unwrap() == csv.as_bytes());
}

#[test]
fn a_row_it_cannot_rebuild_stops_it_naming_the_line() {
    let Some(csv) = real_rows(3) else { return };
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("fer.csv");
    // Row 3 (line 4) with a pixel written "070": packed as 70, it would come back different.
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines[3] = lines[3].replacen(',', ",0", 1);
    let mut file = std::fs::File::create(&original).unwrap();
    writeln!(file, "{}", lines.join("\n")).unwrap();
    let out = fer_pack(&[Path::new("pack"), &original, &dir.path().join("fer.raw")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("fer.csv:4:"), "{stderr}");
}
