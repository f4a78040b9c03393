//! Property tests: whatever bytes reach the parsers (song tables, FER2013 CSVs, experiment
//! configs) and whatever numbers reach the charts, the result is Ok or a clear error: never a
//! panic, never a hang.

use proptest::prelude::*;
use std::io::Write;
use workbench::fer::config::Experiment;
use workbench::fer::data::{self, LoadOptions};
use workbench::report::plots::{self, Series, BLUE_};
use workbench::tracks::catalog;

/// Numbers as they come in real files and broken ones: ordinary, extreme, and not finite.
fn any_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3f64..1e3,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(-f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
    ]
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

/// Lines built from fragments that real song tables contain, so the parser gets past the header.
fn song_table() -> impl Strategy<Value = String> {
    let cell = prop_oneof![
        Just("0.5".to_string()),
        Just("".to_string()),
        Just("inf".to_string()),
        Just("NaN".to_string()),
        Just("\"a, b\"".to_string()),
        Just("\"".to_string()),
        Just("-7.2".to_string()),
        Just("x".to_string()),
        "[a-z0-9;,. ]{0,6}",
    ];
    let row = prop::collection::vec(cell, 0..10).prop_map(|c| c.join(","));
    prop::collection::vec(row, 0..12).prop_map(|rows| {
        let header = "track_id,energy,valence,danceability,acousticness,instrumentalness,liveness,loudness,speechiness";
        std::iter::once(header.to_string()).chain(rows).collect::<Vec<_>>().join("\n")
    })
}

fn fer_csv() -> impl Strategy<Value = String> {
    let pixels = prop_oneof![
        Just(["128"; 2304].join(" ")),
        Just(["300"; 2304].join(" ")),
        Just(["1"; 10].join(" ")),
        Just(String::new()),
        "[0-9 a]{0,20}",
    ];
    let label = prop_oneof![
        Just("3".to_string()),
        Just("9".to_string()),
        Just("-1".to_string()),
        "[0-9a-z]{0,2}"
    ];
    let usage = prop_oneof![
        Just("Training"),
        Just("PublicTest"),
        Just("PrivateTest"),
        Just("Other")
    ];
    let row = (label, pixels, usage).prop_map(|(l, p, u)| format!("{l},{p},{u}"));
    prop::collection::vec(row, 0..6).prop_map(|rows| {
        std::iter::once("emotion,pixels,Usage".to_string())
            .chain(rows)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn song_tables_parse_or_fail_clearly(text in song_table()) {
        let f = temp_file(text.as_bytes());
        let features: Vec<String> = ["energy", "valence"].iter().map(|s| s.to_string()).collect();
        if let Err(e) = catalog::read_catalog(f.path(), &features) {
            prop_assert!(e.to_string().contains(&f.path().display().to_string()) || e.to_string().contains("feature"), "{e}");
        }
    }

    #[test]
    fn song_tables_of_any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let f = temp_file(&bytes);
        let _ = catalog::read_catalog(f.path(), &["energy".to_string()]);
    }

    #[test]
    fn fer_csvs_parse_or_fail_clearly(text in fer_csv()) {
        let f = temp_file(text.as_bytes());
        let renamed = f.path().with_extension("csv");
        std::fs::copy(f.path(), &renamed).unwrap();
        let result = data::load(&renamed, LoadOptions::default());
        let _ = std::fs::remove_file(&renamed);
        if let Err(e) = result {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn configs_parse_or_fail_clearly(text in "[a-z_=\\[\\]\" .0-9\n]{0,120}") {
        let f = temp_file(text.as_bytes());
        let renamed = f.path().with_extension("toml");
        std::fs::copy(f.path(), &renamed).unwrap();
        let result = Experiment::load(&renamed);
        let _ = std::fs::remove_file(&renamed);
        if let Ok(e) = result {
            let _ = e.check();
        }
    }

    #[test]
    fn charts_of_any_numbers_terminate(points in prop::collection::vec((any_number(), any_number()), 0..20)) {
        let dir = tempfile::tempdir().unwrap();
        let _ = plots::render_png(&dir.path().join("c.png"), 320, 240, |root| {
            plots::line_chart(root, "t", "x", "y", &[Series { name: "s", points: points.clone(), colour: BLUE_ }])
        });
        let labels: Vec<String> = (0..points.len()).map(|i| i.to_string()).collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        let _ = plots::bar_chart(&dir.path().join("b.png"), "t", "y", &labels, &values, &[]);
    }
}
