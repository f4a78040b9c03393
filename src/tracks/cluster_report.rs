//! The `cluster` report: `index.html` with every plot and table, the PNGs, and
//! `playlists/<mood>.csv`. `cluster` builds it in a staged directory and renames it into place
//! after the model is written, so a failed run leaves neither a half report nor a report
//! without its model.

use super::agreement::{self, Agreement};
use super::catalog::Catalog;
use super::kmeans::KMeansFit;
use super::model::SongClusters;
use super::playlists::mood_playlist;
use super::sweep::shown;
use super::sweep::Sweep;
use crate::artifacts;
use crate::emotion::Mood;
use crate::report::csv_field;
use crate::report::html::{escape, Page};
use crate::report::plots::{self, Series, PALETTE};
use anyhow::Result;
use ndarray::Array2;
use std::fmt::Write as _;
use std::path::Path;

/// Points drawn in the PCA scatter (a seeded sample beyond this: PNGs stay small).
const SCATTER_POINTS: usize = 20_000;

/// Writes the whole report into `dir` (a staged directory).
pub fn write_into(
    dir: &Path,
    model: &SongClusters,
    catalog: &Catalog,
    scaled: &Array2<f64>,
    fit: &KMeansFit,
    agreement: Option<&Agreement>,
) -> Result<()> {
    std::fs::create_dir_all(dir.join("playlists"))?;
    let inputs = Inputs {
        model,
        catalog,
        scaled,
        fit,
        cluster_names: (0..model.k)
            .map(|c| format!("{c} {}", model.mood_of(c)))
            .collect(),
    };
    build(dir, &inputs, agreement)
}

/// What the report is built from.
struct Inputs<'a> {
    model: &'a SongClusters,
    catalog: &'a Catalog,
    scaled: &'a Array2<f64>,
    fit: &'a KMeansFit,
    /// "<cluster> <mood>" per cluster, for charts and tables.
    cluster_names: Vec<String>,
}

fn build(dir: &Path, inputs: &Inputs<'_>, agreement: Option<&Agreement>) -> Result<()> {
    let model = inputs.model;
    // What the runs list of `serve` shows for this run.
    let summary = serde_json::json!({
        "k": model.k,
        "moods": model.moods.clusters.iter().map(|c| c.mood).collect::<Vec<_>>(),
        "agreement": agreement.map(|a| a.agreement),
    });
    artifacts::write_json_atomic(&dir.join("summary.json"), &summary)?;
    let mut page = header_section(model);
    if let Some(sweep) = &model.sweep {
        sweep_section(dir, &mut page, sweep, model.k)?;
    }
    clusters_section(dir, &mut page, inputs)?;
    plane_section(dir, &mut page, inputs)?;
    if let Some(a) = agreement {
        agreement_section(dir, &mut page, a)?;
    }
    profiles_section(dir, &mut page, inputs)?;
    pca_section(dir, &mut page, inputs)?;
    playlists_section(dir, &mut page, inputs)?;
    artifacts::write_atomic(&dir.join("index.html"), page.finish().as_bytes())?;
    Ok(())
}

/// What was read and how it was clustered, and the rows dropped.
fn header_section(model: &SongClusters) -> Page {
    let k = model.k;
    let mut page = Page::new(&format!("Song clusters: k = {k}"));
    page.paragraph(&model.dataset.summary());
    page.muted(&format!(
        "features: {} · scaling: {:?} · seed {} · {} k-means++ starts · built {} by workbench {} ({})",
        model.features.join(", "),
        model.scaler.kind,
        model.seed,
        model.n_init,
        model.created,
        model.workbench_version,
        model.git_commit
    ));
    page.code_block(&model.command);
    if !model.dataset.dropped.is_empty() {
        page.heading(2, "Rows dropped");
        let rows: Vec<Vec<String>> = model
            .dataset
            .dropped
            .iter()
            .map(|d| vec![d.reason.clone(), d.rows.to_string(), d.examples.join("; ")])
            .collect();
        page.table(&["reason", "rows", "examples"], &rows);
    }

    page
}

/// Sizes, moods and why.
fn clusters_section(dir: &Path, page: &mut Page, inputs: &Inputs<'_>) -> Result<()> {
    let (model, cluster_names, k) = (inputs.model, &inputs.cluster_names, inputs.model.k);
    page.heading(2, "Clusters and their moods");
    page.paragraph(&model.moods.method);
    let sizes: Vec<f64> = model.sizes.iter().map(|&s| s as f64).collect();
    let colours: Vec<_> = (0..k).map(|c| PALETTE[c % PALETTE.len()]).collect();
    plots::bar_chart(
        &dir.join("sizes.png"),
        "Songs per cluster",
        "songs",
        cluster_names,
        &sizes,
        &colours,
    )?;
    page.image("sizes.png", "songs per cluster");
    let rows: Vec<Vec<String>> = model
        .moods
        .clusters
        .iter()
        .map(|c| {
            vec![
                c.cluster.to_string(),
                c.mood.to_string(),
                model.sizes[c.cluster].to_string(),
                format!("{:+.2}", c.affect.valence),
                format!("{:+.2}", c.affect.arousal),
                format!("{:.2}", c.distance),
            ]
        })
        .collect();
    page.table(
        &[
            "cluster",
            "mood",
            "songs",
            "valence",
            "arousal",
            "distance to the mood's point",
        ],
        &rows,
    );
    if !model.moods.empty_moods.is_empty() {
        page.paragraph(&format!(
            "Moods no cluster took: {}.",
            join(&model.moods.empty_moods)
        ));
    }
    if !model.moods.shared_moods.is_empty() {
        page.paragraph(&format!(
            "Moods several clusters share: {}.",
            join(&model.moods.shared_moods)
        ));
    }

    Ok(())
}

/// The clusters on the valence–arousal plane, with the mood points they are named by.
fn plane_section(dir: &Path, page: &mut Page, inputs: &Inputs<'_>) -> Result<()> {
    let model = inputs.model;
    let songs: Vec<(f64, f64)> = inputs
        .catalog
        .features
        .rows()
        .into_iter()
        .step_by((inputs.catalog.tracks.len() / SCATTER_POINTS).max(1))
        .map(|row| {
            let a = crate::affect::song_affect(
                &model.features,
                row.as_slice().expect("standard layout"),
            );
            (a.valence, a.arousal)
        })
        .collect();
    let mut marked: Vec<plots::Marked<'_>> = Mood::ALL
        .iter()
        .map(|m| plots::Marked {
            label: m.name(),
            point: (m.affect().valence, m.affect().arousal),
            colour: plots::RED_,
            emphasis: false,
        })
        .collect();
    for (c, name) in model.moods.clusters.iter().zip(&inputs.cluster_names) {
        marked.push(plots::Marked {
            label: name,
            point: (c.affect.valence, c.affect.arousal),
            colour: PALETTE[c.cluster % PALETTE.len()],
            emphasis: true,
        });
    }
    plots::affect_plane(
        &dir.join("plane.png"),
        "Clusters in the valence–arousal plane",
        &songs,
        &marked,
    )?;
    page.heading(2, "Where the clusters sit");
    page.paragraph("Each cluster's centroid in the valence–arousal plane (filled, \"<cluster> <mood>\"), the six mood points it is named by (red rings; sources in src/affect.rs and the README), and the catalogue's songs (grey).");
    page.image("plane.png", "clusters in the valence-arousal plane");
    Ok(())
}

/// Agreement with people's labels: the numbers, the baselines, the confusion table.
fn agreement_section(dir: &Path, page: &mut Page, a: &Agreement) -> Result<()> {
    artifacts::write_json_atomic(&dir.join("agreement.json"), a)?;
    page.heading(2, "Agreement with people's labels");
    page.paragraph(&format!(
        "{} labelled songs of {} are in this catalogue; the model's mood, folded ({}), agrees with their label for {:.1} % of them. {} labels not in the fold, {} ids labelled two ways (dropped), {} labelled ids not in the catalogue.",
        a.measured,
        a.labels_path,
        a.fold.spec,
        100.0 * a.agreement,
        a.unknown_label,
        a.conflicting,
        a.not_in_catalogue
    ));
    let rows: Vec<Vec<String>> = a
        .baselines
        .iter()
        .map(|b| {
            vec![
                b.name.clone(),
                format!("{:.1} %", 100.0 * b.agreement),
                b.rule.clone(),
            ]
        })
        .collect();
    page.table(&["baseline", "agreement", "rule"], &rows);
    let mut header: Vec<String> = vec!["people say ↓ / model says →".into()];
    header.extend(a.fold.labels.iter().cloned());
    header.push("recall".into());
    let mut rows: Vec<Vec<String>> = a
        .confusion
        .iter()
        .zip(&a.fold.labels)
        .zip(&a.recall)
        .map(|((row, label), r)| {
            let mut cells = vec![label.clone()];
            cells.extend(row.iter().map(|v| v.to_string()));
            cells.push(agreement::percent(*r));
            cells
        })
        .collect();
    let mut precision = vec!["precision".to_string()];
    precision.extend(a.precision.iter().map(|p| agreement::percent(*p)));
    precision.push(String::new());
    rows.push(precision);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    page.table(&header, &rows);
    page.muted("agreement.json holds these numbers.");
    Ok(())
}

/// Centroids in the features' units, and as z-scores.
fn profiles_section(dir: &Path, page: &mut Page, inputs: &Inputs<'_>) -> Result<()> {
    let (model, cluster_names) = (inputs.model, &inputs.cluster_names);
    page.heading(2, "Profiles");
    page.paragraph("Centroids in the features' own units:");
    let mut header = vec!["cluster"];
    header.extend(model.features.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = model
        .centroids
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let mut r = vec![cluster_names[c].clone()];
            r.extend(row.iter().map(|v| format!("{v:.3}")));
            r
        })
        .collect();
    page.table(&header, &rows);
    plots::zscore_heatmap(
        &dir.join("profile.png"),
        "Centroids as z-scores of the catalogue",
        &model.centroids_z,
        cluster_names,
        &model.features,
    )?;
    page.image("profile.png", "centroid z-score heatmap");

    Ok(())
}

/// The songs on the first two principal components, and the variance each explains.
fn pca_section(dir: &Path, page: &mut Page, inputs: &Inputs<'_>) -> Result<()> {
    let (model, scaled, fit, cluster_names) = (
        inputs.model,
        inputs.scaled,
        inputs.fit,
        &inputs.cluster_names,
    );
    page.heading(2, "PCA");
    let sample = super::sweep::sample_rows(scaled.nrows(), SCATTER_POINTS, model.seed);
    let projected: Vec<(f64, f64)> = model
        .pca
        .project(scaled.select(ndarray::Axis(0), &sample).view(), 2)
        .rows()
        .into_iter()
        .map(|r| (r[0], r.get(1).copied().unwrap_or(0.0)))
        .collect();
    let groups: Vec<usize> = sample.iter().map(|&i| fit.labels[i]).collect();
    let ratio = &model.pca.explained_variance_ratio;
    plots::scatter(
        &dir.join("pca.png"),
        &format!(
            "Songs on the first two principal components ({} shown)",
            sample.len()
        ),
        (
            &format!("PC1 ({:.1} % of variance)", 100.0 * ratio[0]),
            &format!(
                "PC2 ({:.1} % of variance)",
                100.0 * ratio.get(1).copied().unwrap_or(0.0)
            ),
        ),
        &projected,
        &groups,
        cluster_names,
    )?;
    page.image("pca.png", "PCA scatter coloured by cluster");
    let mut cumulative = 0.0;
    let rows: Vec<Vec<String>> = ratio
        .iter()
        .enumerate()
        .map(|(i, r)| {
            cumulative += r;
            vec![
                format!("PC{}", i + 1),
                format!("{:.1} %", 100.0 * r),
                format!("{:.1} %", 100.0 * cumulative),
            ]
        })
        .collect();
    page.table(&["component", "explained variance", "cumulative"], &rows);

    Ok(())
}

/// Every mood's whole playlist as CSV, its first ten songs on the page.
fn playlists_section(dir: &Path, page: &mut Page, inputs: &Inputs<'_>) -> Result<()> {
    let (model, scaled, fit, catalog) = (inputs.model, inputs.scaled, inputs.fit, inputs.catalog);
    page.heading(2, "Playlists");
    page.paragraph("Tracks ranked by distance to their cluster's centroid (nearest first; ties go to the more popular). Each CSV holds the whole mood; the model keeps the first few.");
    for mood in Mood::ALL {
        let Some(full) = mood_playlist(&model.moods, mood, fit, scaled, catalog, usize::MAX) else {
            continue;
        };
        let file = format!("playlists/{mood}.csv");
        write_playlist_csv(&dir.join(&file), &model.features, &full)?;
        let mut html = String::new();
        let _ = writeln!(
            html,
            "<h3>{}</h3><p><a href=\"{}\">{}</a> · {} tracks</p><table><tr><th>#</th><th>track</th><th>artists</th><th>distance</th></tr>",
            escape(&mood.to_string()),
            escape(&file),
            escape(&file),
            full.tracks.len()
        );
        for (i, t) in full.tracks.iter().take(10).enumerate() {
            let name = if t.track.name.is_empty() {
                "(no name)"
            } else {
                &t.track.name
            };
            let cell = match t.track.spotify_url() {
                Some(url) => format!("<a href=\"{}\">{}</a>", escape(&url), escape(name)),
                None => escape(name),
            };
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{cell}</td><td>{}</td><td>{:.3}</td></tr>",
                i + 1,
                escape(&t.track.artists),
                t.distance
            );
        }
        html.push_str("</table>\n");
        page.raw(&html);
    }
    Ok(())
}

/// One chart of the sweep: title, y-axis label, (k, value) points.
type Panel<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

fn sweep_section(dir: &Path, page: &mut Page, sweep: &Sweep, k: usize) -> Result<()> {
    page.heading(2, "Choosing k");
    page.paragraph(&sweep.verdict.line(k));
    page.muted(&format!(
        "k = {}..{}, {} seeds each (the lowest-inertia start is the k's fit; stability is the mean adjusted Rand index over all pairs of starts); silhouette on a seeded sample of {} of {} rows; CH and DB on all rows.",
        sweep.params.k_min, sweep.params.k_max, sweep.params.seeds, sweep.silhouette_rows, sweep.rows
    ));
    sweep_chart(&dir.join("sweep.png"), sweep)?;
    page.image("sweep.png", "cluster metrics against k");
    let rows: Vec<Vec<String>> = sweep
        .scores
        .iter()
        .map(|s| {
            vec![
                s.k.to_string(),
                format!("{:.1}", s.inertia),
                shown(s.silhouette, 4),
                shown(s.calinski_harabasz, 1),
                shown(s.davies_bouldin, 4),
                shown(s.stability, 4),
            ]
        })
        .collect();
    page.table(
        &[
            "k",
            "inertia",
            "silhouette",
            "Calinski-Harabasz",
            "Davies-Bouldin",
            "stability",
        ],
        &rows,
    );
    Ok(())
}

/// Every metric against k, one panel each.
fn sweep_chart(path: &Path, sweep: &Sweep) -> Result<()> {
    // Undefined values become NaN, which the charts leave out (a gap), never draw.
    let metric = |f: &dyn Fn(&super::sweep::KScore) -> Option<f64>| -> Vec<(f64, f64)> {
        sweep
            .scores
            .iter()
            .map(|s| (s.k as f64, f(s).unwrap_or(f64::NAN)))
            .collect()
    };
    let panels: [Panel<'_>; 5] = [
        (
            "Inertia (elbow)",
            "sum of squared distances / 1000",
            metric(&|s| Some(s.inertia / 1000.0)),
        ),
        (
            "Silhouette (higher is better)",
            "mean silhouette",
            metric(&|s| s.silhouette),
        ),
        (
            "Calinski-Harabasz (higher is better)",
            "CH index",
            metric(&|s| s.calinski_harabasz),
        ),
        (
            "Davies-Bouldin (lower is better)",
            "DB index",
            metric(&|s| s.davies_bouldin),
        ),
        (
            "Stability across seeds",
            "mean pairwise ARI",
            metric(&|s| s.stability),
        ),
    ];
    plots::render_png(path, 1500, 860, |root| {
        let areas = root.split_evenly((2, 3));
        for (area, (title, y, points)) in areas.iter().zip(panels.iter()) {
            plots::line_chart(
                area,
                title,
                "k",
                y,
                &[Series {
                    name: "",
                    points: points.clone(),
                    colour: plots::BLUE_,
                }],
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

fn join(moods: &[Mood]) -> String {
    moods
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_playlist_csv(
    path: &Path,
    features: &[String],
    playlist: &super::model::Playlist,
) -> Result<()> {
    let mut out = String::from("rank,cluster,distance,id,name,artists,popularity,url");
    for f in features {
        out.push(',');
        out.push_str(&csv_field(f));
    }
    out.push('\n');
    for (i, t) in playlist.tracks.iter().enumerate() {
        let _ = write!(
            out,
            "{},{},{:.6},{},{},{},{},{}",
            i + 1,
            t.cluster,
            t.distance,
            csv_field(t.track.id.as_deref().unwrap_or("")),
            csv_field(&t.track.name),
            csv_field(&t.track.artists),
            t.track
                .popularity
                .map(|p| p.to_string())
                .unwrap_or_default(),
            t.track.spotify_url().unwrap_or_default()
        );
        for v in &t.features {
            let _ = write!(out, ",{v}");
        }
        out.push('\n');
    }
    artifacts::write_atomic(path, out.as_bytes())?;
    Ok(())
}
