//! `workbench cluster`: each real schema (small tables with the real headers, and the real
//! tables from ../shared), every bad input, and the exported model placing known songs back in
//! their clusters.

mod common;

use common::{run, s, text};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use workbench::emotion::Mood;
use workbench::tracks::catalog::Schema;
use workbench::tracks::model::SongClusters;

const KAGGLE_HEADER: &str = "valence,year,acousticness,artists,danceability,duration_ms,energy,explicit,id,instrumentalness,key,liveness,loudness,mode,name,popularity,release_date,speechiness,tempo";
const GENRES_V2_HEADER: &str = "danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,type,id,uri,track_href,analysis_url,duration_ms,time_signature,genre,song_name,Unnamed: 0,title";
const TIDY_HEADER: &str = "track_id,track_name,track_artist,track_popularity,track_album_id,track_album_name,track_album_release_date,playlist_name,playlist_id,playlist_genre,playlist_subgenre,danceability,energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,duration_ms";

/// A deterministic, varied value for column `col` of row `i` in the column's own range.
fn value(col: &str, i: usize) -> String {
    let t = ((i * 37 + col.len() * 11) % 97) as f64 / 96.0;
    match col {
        "loudness" => format!("{:.3}", -30.0 + 28.0 * t),
        "tempo" => format!("{:.3}", 60.0 + 120.0 * t),
        "year" => "1999".into(),
        "duration_ms" => "200000".into(),
        "key" => format!("{}", i % 12),
        "mode" | "explicit" => format!("{}", i % 2),
        "popularity" | "track_popularity" => format!("{}", i % 100),
        "acousticness" | "danceability" | "energy" | "instrumentalness" | "liveness"
        | "speechiness" | "valence" => format!("{t:.4}"),
        "id" | "track_id" => format!("id{i:04}"),
        "name" | "track_name" | "song_name" => format!("Song, number {i}"),
        "artists" => format!("['Artist {i}', \"Guns N' Roses\"]"),
        "track_artist" => format!("Artist {i}"),
        "release_date" => "1999-01-01".into(),
        _ => "x".into(),
    }
}

fn quote(cell: &str) -> String {
    if cell.contains([',', '"']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// `rows` rows under `header`; `edit(row, column, value)` may change a cell.
fn table(header: &str, rows: usize, edit: &dyn Fn(usize, &str, String) -> String) -> String {
    let cols: Vec<&str> = header.split(',').collect();
    let mut out = format!("{header}\n");
    for i in 0..rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| quote(&edit(i, c, value(c, i))))
            .collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

struct Run {
    out: std::process::Output,
    model: PathBuf,
    reports: PathBuf,
}

fn cluster(dir: &Path, csv_name: &str, csv: &[u8], args: &[&str]) -> Run {
    let data = dir.join(csv_name);
    std::fs::write(&data, csv).unwrap();
    let model = dir.join("models/song-clusters.json");
    let reports = dir.join("reports");
    let mut all = vec![
        "cluster",
        "--data",
        s(&data),
        "--out",
        s(&model),
        "--reports-dir",
        s(&reports),
        "--seeds",
        "3",
    ];
    all.extend_from_slice(args);
    let out = run(&all);
    Run {
        out,
        model,
        reports,
    }
}

fn assert_failed_cleanly(r: &Run, needles: &[&str]) {
    let all = text(&r.out);
    assert_ne!(r.out.status.code(), Some(0), "{all}");
    let stderr = String::from_utf8_lossy(&r.out.stderr);
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}:\n{all}");
    }
    assert!(!r.model.exists(), "a model was written:\n{all}");
    let report_files = walk(&r.reports);
    assert!(
        report_files.is_empty(),
        "report files were left: {report_files:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn report_dir(r: &Run) -> PathBuf {
    common::only_run_dir(&r.reports.join("cluster"))
}

#[test]
fn each_real_header_is_detected_and_its_names_are_mapped() {
    let cases: [(&str, &str, Schema, &str); 4] = [
        ("data.csv", KAGGLE_HEADER, Schema::Kaggle19212020, "Artist 3, Guns N' Roses"),
        ("genres_v2.csv", GENRES_V2_HEADER, Schema::GenresV2, ""),
        ("spotify_songs.csv", TIDY_HEADER, Schema::TidyTuesday, "Artist 3"),
        (
            "mine.csv",
            "valence,energy,danceability,acousticness,instrumentalness,liveness,loudness,speechiness",
            Schema::Generic,
            "",
        ),
    ];
    for (name, header, schema, artist_of_row_3) in cases {
        let dir = tempfile::tempdir().unwrap();
        // 60 rows, then: one with an empty energy, one with valence 1.7, one repeating row 0's id.
        let mut csv = table(header, 60, &|_, _, v| v);
        let extra = table(header, 63, &|i, c, v| match (i, c) {
            (60, "energy") => String::new(),
            (61, "valence") => "1.7".into(),
            (62, "id" | "track_id") => "id0000".into(),
            _ => v,
        });
        csv.extend(extra.lines().skip(61).map(|l| format!("{l}\n")));
        let r = cluster(
            dir.path(),
            name,
            csv.as_bytes(),
            &["--k", "3", "--k-range", "2..4"],
        );
        assert_eq!(r.out.status.code(), Some(0), "{name}: {}", text(&r.out));
        let model = SongClusters::read(&r.model).unwrap();
        assert_eq!(model.dataset.schema, schema, "{name}");
        assert_eq!(model.dataset.rows_read, 63, "{name}");
        let has_ids = header.contains("id,") || header.starts_with("track_id");
        let dropped: Vec<(String, usize)> = model
            .dataset
            .dropped
            .iter()
            .map(|d| (d.reason.clone(), d.rows))
            .collect();
        let mut expected = vec![
            ("missing or NaN feature".to_string(), 1),
            ("feature out of its documented range".to_string(), 1),
        ];
        if has_ids {
            expected.push(("duplicate track id (first kept)".to_string(), 1));
        }
        assert_eq!(dropped, expected, "{name}");
        assert_eq!(model.dataset.rows_used, 63 - expected.len(), "{name}");
        assert_eq!(model.k, 3);
        assert_eq!(model.sweep.as_ref().unwrap().scores.len(), 3);
        // Names and artists come through (the Kaggle list string is unpacked).
        let all_tracks: Vec<_> = model.playlists.iter().flat_map(|p| &p.tracks).collect();
        let three = all_tracks
            .iter()
            .find(|t| t.track.name.ends_with("number 3"));
        if !artist_of_row_3.is_empty() {
            if let Some(t) = three {
                assert_eq!(t.track.artists, artist_of_row_3, "{name}");
            }
            assert!(all_tracks.iter().all(|t| t.track.id.is_some()), "{name}");
        }
        let report = report_dir(&r);
        for f in [
            "index.html",
            "sweep.png",
            "pca.png",
            "profile.png",
            "sizes.png",
        ] {
            assert!(report.join(f).is_file(), "{name}: {f} missing");
        }
        assert!(!walk(&report.join("playlists")).is_empty());
    }
}

#[test]
fn gzip_is_told_by_content_and_a_bom_is_ignored() {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let csv = format!("\u{feff}{}", table(TIDY_HEADER, 40, &|_, _, v| v));
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(csv.as_bytes()).unwrap();
    let r = cluster(
        dir.path(),
        "songs.csv.gz",
        &gz.finish().unwrap(),
        &["--k", "2", "--no-sweep"],
    );
    assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out));
    let model = SongClusters::read(&r.model).unwrap();
    assert_eq!(model.dataset.schema, Schema::TidyTuesday);
    assert_eq!(model.dataset.rows_used, 40);
    assert!(model.sweep.is_none());
}

#[test]
fn bad_tables_and_bad_k_are_refused_with_nothing_written() {
    let good = |i: usize, c: &str, v: String| -> String {
        let _ = (i, c);
        v
    };
    let dir = tempfile::tempdir().unwrap();
    // A missing feature column: the message lists the columns found.
    let no_valence = table(
        "energy,danceability,acousticness,instrumentalness,liveness,loudness,speechiness",
        20,
        &good,
    );
    assert_failed_cleanly(
        &cluster(dir.path(), "a.csv", no_valence.as_bytes(), &[]),
        &[
            "a.csv",
            "missing feature column(s) [\"valence\"]",
            "columns found",
            "speechiness",
        ],
    );
    // Zero usable rows: every row lacks a feature.
    let empty_energy = table(TIDY_HEADER, 20, &|_, c, v| {
        if c == "energy" {
            String::new()
        } else {
            v
        }
    });
    assert_failed_cleanly(
        &cluster(dir.path(), "b.csv", empty_energy.as_bytes(), &[]),
        &[
            "b.csv",
            "no usable rows",
            "20 read",
            "missing or NaN feature",
        ],
    );
    // A header and nothing else.
    assert_failed_cleanly(
        &cluster(
            dir.path(),
            "c.csv",
            format!("{TIDY_HEADER}\n").as_bytes(),
            &[],
        ),
        &["c.csv", "no usable rows"],
    );
    // Text where a number belongs, named by line and column.
    let text_cell = table(TIDY_HEADER, 20, &|i, c, v| {
        if i == 7 && c == "loudness" {
            "loud".into()
        } else {
            v
        }
    });
    assert_failed_cleanly(
        &cluster(dir.path(), "d.csv", text_cell.as_bytes(), &[]),
        &["d.csv", "line 9", "loudness", "\"loud\"", "not a number"],
    );
    // Every row identical.
    let same = table(TIDY_HEADER, 20, &|_, c, v| {
        if c == "track_id" {
            v
        } else {
            value(c, 0)
        }
    });
    assert_failed_cleanly(
        &cluster(dir.path(), "e.csv", same.as_bytes(), &[]),
        &["e.csv", "identical"],
    );
    // k = 0 and k above the rows.
    let ok = table(TIDY_HEADER, 20, &good);
    assert_failed_cleanly(
        &cluster(dir.path(), "f.csv", ok.as_bytes(), &["--k", "0"]),
        &["--k 0"],
    );
    assert_failed_cleanly(
        &cluster(
            dir.path(),
            "g.csv",
            ok.as_bytes(),
            &["--k", "21", "--no-sweep"],
        ),
        &["k = 21 is more than the 20 usable rows"],
    );
    assert_failed_cleanly(
        &cluster(dir.path(), "h.csv", ok.as_bytes(), &["--k-range", "5..2"]),
        &["--k-range"],
    );
    // A missing file and a binary file.
    assert_failed_cleanly(&cluster(dir.path(), "i.csv", b"", &[]), &["i.csv", "empty"]);
    let missing = run(&["cluster", "--data", "/nonexistent/songs.csv"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/songs.csv"));
}

fn spotify(name: &str) -> Option<PathBuf> {
    common::shared_file(&format!("datasets/spotify/{name}"))
}

/// `cluster` on the real TidyTuesday table with the test's settings, writing into `dir`.
fn cluster_tidytuesday(data: &Path, dir: &Path, extra: &[&str]) -> Run {
    let model_path = dir.join("song-clusters.json");
    let reports = dir.join("reports");
    let mut args = vec![
        "cluster",
        "--data",
        s(data),
        "--k",
        "6",
        "--k-range",
        "4..7",
        "--seeds",
        "4",
        "--silhouette-sample",
        "3000",
        "--out",
        s(&model_path),
        "--reports-dir",
        s(&reports),
    ];
    args.extend_from_slice(extra);
    Run {
        out: run(&args),
        model: model_path,
        reports,
    }
}

#[test]
fn the_real_tidytuesday_catalogue_is_named_in_the_valence_arousal_plane_and_places_its_songs() {
    let Some(data) = spotify("spotify_songs.csv.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = cluster_tidytuesday(&data, dir.path(), &[]);
    assert_eq!(r.out.status.code(), Some(0), "{}", text(&r.out));
    let stdout = String::from_utf8_lossy(&r.out.stdout);
    assert!(stdout.contains("metrics favour k="), "{stdout}");
    assert!(stdout.contains("you asked for k=6"), "{stdout}");

    let model = SongClusters::read(&r.model).unwrap();
    assert_eq!(model.dataset.schema, Schema::TidyTuesday);
    assert_eq!(model.dataset.rows_read, 32_833);
    // 32,833 rows hold 28,356 distinct track ids.
    assert_eq!(model.dataset.rows_used, 28_356);
    // Each cluster sits where its centroid's valence and energy put it, and takes the mood
    // whose point is nearest; the map lists the moods no cluster took.
    let at =
        |c: usize, f: &str| model.centroids[c][model.features.iter().position(|x| x == f).unwrap()];
    for c in &model.moods.clusters {
        assert!((c.affect.valence - (2.0 * at(c.cluster, "valence") - 1.0)).abs() < 1e-9);
        assert!((c.affect.arousal - (2.0 * at(c.cluster, "energy") - 1.0)).abs() < 1e-9);
        for other in Mood::ALL {
            assert!(
                c.distance <= other.affect().distance(c.affect) + 1e-12,
                "{c:?} vs {other}"
            );
        }
    }
    for m in Mood::ALL {
        let taken = model.moods.clusters.iter().any(|c| c.mood == m);
        assert_eq!(taken, !model.moods.empty_moods.contains(&m), "{m}");
        assert_eq!(taken, model.playlist(m).is_some(), "{m}");
    }
    // The catalogue's calm, acoustic cluster is neutral, not sad: the rule's point.
    let acoustic = (0..model.k)
        .max_by(|&a, &b| at(a, "acousticness").total_cmp(&at(b, "acousticness")))
        .unwrap();
    assert_eq!(model.mood_of(acoustic), Mood::Neutral);
    assert!((model.pca.explained_variance_ratio.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(model.pca.explained_variance_ratio.len(), 8);

    // The saved model, read back, places every playlist song in the cluster it was listed
    // under, and every playlist is full, with Spotify ids.
    for playlist in &model.playlists {
        assert_eq!(playlist.tracks.len(), 100);
        for t in &playlist.tracks {
            let placed = model.place(&t.features).unwrap();
            assert_eq!(placed.cluster, t.cluster, "{:?}", t.track);
            assert_eq!(placed.mood, playlist.mood);
            assert!((placed.distance - t.distance).abs() < 1e-9);
            assert!(t.track.id.is_some());
        }
        let d: Vec<f64> = playlist.tracks.iter().map(|t| t.distance).collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "ranked by distance");
    }
    // A text round trip changes nothing.
    let again: SongClusters =
        serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(again, model);

    let report = report_dir(&r);
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("https://open.spotify.com/track/"));
    assert!(report.join("plane.png").is_file());
    let first = &model.playlists[0];
    let csv =
        std::fs::read_to_string(report.join(format!("playlists/{}.csv", first.mood))).unwrap();
    assert!(csv.starts_with("rank,cluster,distance,id,name,artists,popularity,url,acousticness"));
    let in_mood: usize = first.clusters.iter().map(|&c| model.sizes[c]).sum();
    assert_eq!(csv.lines().count() - 1, in_mood);
}

#[test]
fn labels_are_measured_for_a_model_being_built_and_for_an_existing_one() {
    let Some(data) = spotify("spotify_songs.csv.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let first = cluster_tidytuesday(&data, &dir.path().join("a"), &[]);
    assert_eq!(first.out.status.code(), Some(0), "{}", text(&first.out));
    let model = SongClusters::read(&first.model).unwrap();
    // Three songs of each playlist labelled with their mood folded (Happy/Sad/Calm/Energetic),
    // one labelled wrongly, a label the fold does not know, an id the catalogue lacks, an id
    // labelled two ways, and a blank row.
    let fold = |m: Mood| match m {
        Mood::Happy => "Happy",
        Mood::Sad => "Sad",
        Mood::Neutral => "calm",
        _ => "Energetic",
    };
    let mut csv = String::from("id,mood,note\n");
    let mut right = 0;
    for p in &model.playlists {
        for t in p.tracks.iter().take(3) {
            writeln!(
                csv,
                "{},{},ok",
                t.track.id.as_deref().unwrap(),
                fold(p.mood)
            )
            .unwrap();
            right += 1;
        }
    }
    let last = &model.playlists[0].tracks[10];
    let wrong = if fold(model.mood_of(last.cluster)) == "Sad" {
        "Happy"
    } else {
        "Sad"
    };
    writeln!(csv, "{},{wrong},wrong", last.track.id.as_deref().unwrap()).unwrap();
    let twice = model.playlists[0].tracks[11].track.id.as_deref().unwrap();
    writeln!(csv, "{twice},Happy,x\n{twice},Sad,y").unwrap();
    csv.push_str("5xyz,workout,unknown\nnot-a-track,Calm,absent\n,,blank\n");
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, csv).unwrap();

    // `cluster --model <first> --data <data> --labels <file>` and more.
    let measure = |labels: &Path, extra: &[&str]| {
        let mut args = vec!["cluster", "--model", s(&first.model), "--data", s(&data)];
        args.extend_from_slice(&["--labels", s(labels)]);
        args.extend_from_slice(extra);
        run(&args)
    };
    let measured = measure(&labels, &[]);
    assert_eq!(measured.status.code(), Some(0), "{}", text(&measured));
    let stdout = String::from_utf8_lossy(&measured.stdout);
    let want = format!(
        "on {} labelled songs: {:.1} %",
        right + 1,
        100.0 * right as f64 / (right + 1) as f64
    );
    assert!(stdout.contains(&want), "{want}\n{stdout}");
    assert!(stdout.contains("baseline quadrant"), "{stdout}");
    assert!(stdout.contains("precision"), "{stdout}");
    assert!(
        stdout.contains("1 labels not in the fold, e.g. line"),
        "{stdout}"
    );
    assert!(stdout.contains("1 ids labelled two ways"), "{stdout}");
    assert!(
        stdout.contains("1 labelled ids not in the catalogue"),
        "{stdout}"
    );

    // Built with the labels, the same model reports the same agreement, in its report too.
    let second = cluster_tidytuesday(&data, &dir.path().join("b"), &["--labels", s(&labels)]);
    assert_eq!(second.out.status.code(), Some(0), "{}", text(&second.out));
    assert!(String::from_utf8_lossy(&second.out.stdout).contains(&want));
    let report = report_dir(&second);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("agreement.json")).unwrap()).unwrap();
    assert_eq!(json["measured"], right + 1);
    assert!(std::fs::read_to_string(report.join("index.html"))
        .unwrap()
        .contains("Agreement with people"));

    // A fold that misses a mood, and labels without an id column, are refused by name.
    let out = measure(&labels, &["--label-fold", "happy=Happy"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no label for sad"),
        "{}",
        text(&out)
    );
    let no_id = dir.path().join("no-id.csv");
    std::fs::write(&no_id, "song,mood\nx,Happy\n").unwrap();
    let out = measure(&no_id, &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-id.csv: no track id column"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_real_kaggle_slice_reads_and_genres_v2_without_loudness_is_refused_then_clustered() {
    let Some(kaggle) = spotify("data_first_4998_rows.csv.gz") else {
        return;
    };
    let Some(genres) = spotify("genres_v2_features_only.csv.gz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("m.json");
    let reports = dir.path().join("r");
    let base = [
        "--out",
        s(&model_path),
        "--reports-dir",
        s(&reports),
        "--seeds",
        "3",
    ];
    let mut args = vec!["cluster", "--data", s(&kaggle), "--k", "6", "--no-sweep"];
    args.extend_from_slice(&base);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let model = SongClusters::read(&model_path).unwrap();
    assert_eq!(model.dataset.schema, Schema::Kaggle19212020);
    assert_eq!(model.dataset.rows_used, 4998);
    let first = &model.playlists[0].tracks[0].track;
    assert!(!first.artists.starts_with('['), "{first:?}");

    std::fs::remove_file(&model_path).unwrap();
    let mut args = vec!["cluster", "--data", s(&genres), "--k", "4", "--no-sweep"];
    args.extend_from_slice(&base);
    let out = run(&args);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("instrumentalness") && err.contains("columns found"),
        "{err}"
    );
    assert!(!model_path.exists());

    let mut args = vec![
        "cluster",
        "--data",
        s(&genres),
        "--k",
        "4",
        "--no-sweep",
        "--features",
        "acousticness,danceability,energy,liveness,speechiness,valence",
        "--scaling",
        "min-max",
    ];
    args.extend_from_slice(&base);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let model = SongClusters::read(&model_path).unwrap();
    assert_eq!(model.dataset.rows_read, 42_305);
    assert_eq!(model.features.len(), 6);
    // No ids in this table, so no duplicates can be told apart.
    assert!(model
        .dataset
        .dropped
        .iter()
        .all(|d| !d.reason.contains("duplicate")));
    assert!(model.moods.clusters.len() == 4 && !model.moods.empty_moods.is_empty());
}
