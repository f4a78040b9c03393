//! How often the song model's moods agree with people's labels (`cluster --labels`).
//!
//! People label songs in their own words (Happy / Sad / Calm / Energetic, say); a *fold* says
//! which of their labels each of our six moods stands for. A labelled song of the catalogue is
//! placed by the model (nearest centroid → the cluster's mood → folded) and compared with its
//! label. Two baselines put the number in context: the valence × energy quadrant rule (the
//! one-liner any mood feature must beat) and always answering the most common label.

use super::catalog::{self, Catalog, CatalogError};
use super::model::{SongClusters, SongModelError};
use crate::emotion::Mood;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Our moods folded into the four labels of the common music-mood sets.
pub const DEFAULT_FOLD: &str =
    "happy=Happy,sad=Sad,neutral=Calm,angry=Energetic,fear=Energetic,surprise=Energetic";

const ID_COLUMNS: [&str; 2] = ["track_id", "id"];

#[derive(Debug, thiserror::Error)]
pub enum AgreementError {
    #[error("--label-fold {spec:?}: {why} (write mood=label pairs for all six moods, e.g. {DEFAULT_FOLD})")]
    Fold { spec: String, why: String },
    #[error(transparent)]
    Table(#[from] CatalogError),
    #[error(transparent)]
    Model(#[from] SongModelError),
    #[error("{path}: no track id column: the labels need one named track_id or id")]
    NoIdColumn { path: PathBuf },
    #[error("{path}: no label can be used: {why}")]
    Unusable { path: PathBuf, why: String },
}

/// Which label each mood stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    pub spec: String,
    /// The labels in the order they first appear in the spec.
    pub labels: Vec<String>,
    /// For each mood in `Mood::ALL` order, its label's index in `labels`.
    pub of_mood: Vec<usize>,
}

impl Fold {
    pub fn parse(spec: &str) -> Result<Fold, AgreementError> {
        let bad = |why: String| AgreementError::Fold {
            spec: spec.into(),
            why,
        };
        let mut labels: Vec<String> = Vec::new();
        let mut of_mood: Vec<Option<usize>> = vec![None; Mood::ALL.len()];
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (mood, label) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{pair:?} is not mood=label")))?;
            let m = Mood::ALL
                .iter()
                .position(|m| m.name().eq_ignore_ascii_case(mood.trim()))
                .ok_or_else(|| bad(format!("{:?} is not one of our moods", mood.trim())))?;
            let label = label.trim();
            if label.is_empty() {
                return Err(bad(format!("{} folds into an empty label", Mood::ALL[m])));
            }
            if of_mood[m].is_some() {
                return Err(bad(format!("{} is folded twice", Mood::ALL[m])));
            }
            let l = match labels.iter().position(|x| x.eq_ignore_ascii_case(label)) {
                Some(l) => l,
                None => {
                    labels.push(label.to_string());
                    labels.len() - 1
                }
            };
            of_mood[m] = Some(l);
        }
        let missing: Vec<&str> = Mood::ALL
            .iter()
            .zip(&of_mood)
            .filter(|(_, l)| l.is_none())
            .map(|(m, _)| m.name())
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!("no label for {}", missing.join(", "))));
        }
        Ok(Fold {
            spec: spec.into(),
            labels,
            of_mood: of_mood.into_iter().map(|l| l.expect("checked")).collect(),
        })
    }

    pub fn label_of(&self, mood: Mood) -> usize {
        self.of_mood[Mood::ALL.iter().position(|&m| m == mood).expect("a mood")]
    }

    fn find(&self, label: &str) -> Option<usize> {
        self.labels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(label.trim()))
    }
}

/// People's labels, by track id, as indices into the fold's labels.
#[derive(Debug, Clone)]
pub struct Labels {
    pub path: PathBuf,
    pub by_id: HashMap<String, usize>,
    pub rows_read: usize,
    /// Rows whose label the fold does not know, and a few of them ("line 7: \"workout\"").
    pub unknown_label: usize,
    pub unknown_examples: Vec<String>,
    /// Rows without an id or a label.
    pub blank: usize,
    /// Ids labelled twice with different labels (dropped).
    pub conflicting: usize,
}

/// Reads a labels CSV: a track id column and a `mood` column.
pub fn read_labels(path: &Path, fold: &Fold) -> Result<Labels, AgreementError> {
    let mood_column = vec!["mood".to_string()];
    let df = catalog::read_text_columns(
        path,
        (
            &mood_column,
            "label",
            " (the labels go in a column named mood)",
        ),
        &|c| ID_COLUMNS.contains(&c),
    )?;
    let id_name = ID_COLUMNS
        .into_iter()
        .find(|c| df.column(c).is_ok())
        .ok_or_else(|| AgreementError::NoIdColumn { path: path.into() })?;
    let ids = catalog::text_column(&df, id_name, path)?;
    let moods = catalog::text_column(&df, "mood", path)?;
    let mut labels = Labels {
        path: path.into(),
        by_id: HashMap::new(),
        rows_read: df.height(),
        unknown_label: 0,
        unknown_examples: Vec::new(),
        blank: 0,
        conflicting: 0,
    };
    let mut conflicted: Vec<String> = Vec::new();
    for (row, (id, mood)) in ids.iter().zip(moods.iter()).enumerate() {
        let (id, mood) = (id.unwrap_or("").trim(), mood.unwrap_or("").trim());
        if id.is_empty() || mood.is_empty() {
            labels.blank += 1;
            continue;
        }
        let Some(l) = fold.find(mood) else {
            labels.unknown_label += 1;
            if labels.unknown_examples.len() < 5 {
                labels
                    .unknown_examples
                    .push(format!("line {}: {mood:?}", row + 2));
            }
            continue;
        };
        match labels.by_id.insert(id.to_string(), l) {
            Some(before) if before != l => conflicted.push(id.to_string()),
            _ => {}
        }
    }
    conflicted.sort();
    conflicted.dedup();
    labels.conflicting = conflicted.len();
    for id in &conflicted {
        labels.by_id.remove(id);
    }
    if labels.by_id.is_empty() {
        return Err(AgreementError::Unusable {
            path: path.into(),
            why: format!(
                "{} rows read, {} with a label the fold ({}) does not know (e.g. {}), {} blank, {} ids labelled two ways",
                labels.rows_read,
                labels.unknown_label,
                fold.labels.join(" / "),
                labels.unknown_examples.join("; "),
                labels.blank,
                labels.conflicting
            ),
        });
    }
    Ok(labels)
}

/// One way of guessing labels, and how often it agreed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub name: String,
    pub rule: String,
    pub agreement: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub labels_path: String,
    pub fold: Fold,
    /// Labelled songs found in the catalogue (the ones measured).
    pub measured: usize,
    /// Labelled ids not in the catalogue.
    pub not_in_catalogue: usize,
    pub unknown_label: usize,
    pub unknown_examples: Vec<String>,
    pub conflicting: usize,
    /// Share of measured songs whose folded mood is their label.
    pub agreement: f64,
    /// `confusion[label][folded mood]`, both indexing `fold.labels`.
    pub confusion: Vec<Vec<usize>>,
    /// Per folded mood: of the songs the model put there, the share people agree with.
    pub precision: Vec<Option<f64>>,
    /// Per label: the share of its songs the model put in a mood folding to it.
    pub recall: Vec<Option<f64>>,
    pub baselines: Vec<Scored>,
}

impl Agreement {
    /// The result as text: the agreement line, the baselines, the confusion table.
    pub fn table(&self) -> String {
        let l = &self.fold.labels;
        let mut out = format!(
            "agreement with {} on {} labelled songs: {:.1} %\n",
            self.labels_path,
            self.measured,
            100.0 * self.agreement
        );
        for b in &self.baselines {
            out += &format!(
                "  baseline {}: {:.1} % ({})\n",
                b.name,
                100.0 * b.agreement,
                b.rule
            );
        }
        let width = l.iter().map(|s| s.len()).max().unwrap_or(5).max(9);
        out += &format!("{:>width$} | model says →\n", "people say");
        out += &format!("{:>width$} |", "");
        for name in l {
            out += &format!(" {name:>width$}");
        }
        out += &format!(" {:>width$}\n", "recall");
        for (i, row) in self.confusion.iter().enumerate() {
            out += &format!("{:>width$} |", l[i]);
            for v in row {
                out += &format!(" {v:>width$}");
            }
            out += &format!(" {:>width$}\n", percent(self.recall[i]));
        }
        out += &format!("{:>width$} |", "precision");
        for p in &self.precision {
            out += &format!(" {:>width$}", percent(*p));
        }
        out.push('\n');
        out
    }
}

pub fn percent(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1} %", 100.0 * v))
}

/// Measures `model` on the labelled songs of `catalog` (read with the model's features).
pub fn measure(
    model: &SongClusters,
    catalog: &Catalog,
    labels: &Labels,
    fold: &Fold,
) -> Result<Agreement, AgreementError> {
    let placed = model.place_all(catalog)?;
    let mut pairs: Vec<(usize, usize, Option<usize>)> = Vec::new(); // (label, model, quadrant)
    for (row, (track, song)) in catalog.tracks.iter().zip(&placed).enumerate() {
        let Some(&label) = track.id.as_deref().and_then(|id| labels.by_id.get(id)) else {
            continue;
        };
        let quadrant = quadrant_mood(
            &catalog.feature_names,
            catalog
                .features
                .row(row)
                .as_slice()
                .expect("standard layout"),
        );
        pairs.push((
            label,
            fold.label_of(model.mood_of(song.cluster)),
            quadrant.map(|m| fold.label_of(m)),
        ));
    }
    if pairs.is_empty() {
        return Err(AgreementError::Unusable {
            path: labels.path.clone(),
            why: format!(
                "none of its {} labelled ids is a track of {}",
                labels.by_id.len(),
                catalog.source.path
            ),
        });
    }
    Ok(score(labels, fold, &pairs))
}

/// The quadrant rule's mood: valence ≥ 0.5 and energy ≥ 0.5 happy, valence < 0.5 and energy ≥
/// 0.5 angry, both < 0.5 sad, valence ≥ 0.5 and energy < 0.5 neutral (calm). `None` without
/// both columns.
pub fn quadrant_mood(names: &[String], values: &[f64]) -> Option<Mood> {
    let at = |n: &str| names.iter().position(|f| f == n).map(|i| values[i]);
    let (v, e) = (at("valence")?, at("energy")?);
    Some(match (v >= 0.5, e >= 0.5) {
        (true, true) => Mood::Happy,
        (false, true) => Mood::Angry,
        (false, false) => Mood::Sad,
        (true, false) => Mood::Neutral,
    })
}

fn score(labels: &Labels, fold: &Fold, pairs: &[(usize, usize, Option<usize>)]) -> Agreement {
    let n = fold.labels.len();
    let mut confusion = vec![vec![0usize; n]; n];
    for &(label, said, _) in pairs {
        confusion[label][said] += 1;
    }
    let total = pairs.len() as f64;
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let precision = (0..n)
        .map(|j| ratio(confusion[j][j], (0..n).map(|i| confusion[i][j]).sum()))
        .collect();
    let recall = (0..n)
        .map(|i| ratio(confusion[i][i], confusion[i].iter().sum()))
        .collect();
    let agreed = (0..n).map(|i| confusion[i][i]).sum::<usize>() as f64;
    let mut baselines = Vec::new();
    if pairs.iter().all(|p| p.2.is_some()) {
        let hits = pairs.iter().filter(|p| p.2 == Some(p.0)).count();
        baselines.push(Scored {
            name: "quadrant".into(),
            rule: "valence and energy above or below 0.5: happy, angry, sad, neutral, folded"
                .into(),
            agreement: hits as f64 / total,
        });
    }
    let counts: Vec<usize> = confusion.iter().map(|r| r.iter().sum()).collect();
    let common = (0..n).max_by_key(|&i| (counts[i], n - i)).expect("labels");
    baselines.push(Scored {
        name: "most common label".into(),
        rule: format!("always {}", fold.labels[common]),
        agreement: counts[common] as f64 / total,
    });
    Agreement {
        labels_path: labels.path.display().to_string(),
        fold: fold.clone(),
        measured: pairs.len(),
        not_in_catalogue: labels.by_id.len() - pairs.len(),
        unknown_label: labels.unknown_label,
        unknown_examples: labels.unknown_examples.clone(),
        conflicting: labels.conflicting,
        agreement: agreed / total,
        confusion,
        precision,
        recall,
        baselines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_fold_reads_and_bad_folds_say_why() {
        let f = Fold::parse(DEFAULT_FOLD).unwrap();
        assert_eq!(f.labels, ["Happy", "Sad", "Calm", "Energetic"]);
        assert_eq!(f.label_of(Mood::Surprise), 3);
        assert_eq!(f.label_of(Mood::Neutral), 2);
        assert_eq!(f.find(" calm "), Some(2));
        for (spec, why) in [
            ("happy=Happy", "no label for sad"),
            (
                "happy=H,happy=H,sad=S,angry=A,fear=F,surprise=X,neutral=N",
                "folded twice",
            ),
            ("joy=Happy", "not one of our moods"),
            ("happy", "not mood=label"),
        ] {
            let err = Fold::parse(spec).unwrap_err().to_string();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }

    #[test]
    fn the_quadrant_rule_splits_at_one_half() {
        let names: Vec<String> = vec!["energy".into(), "valence".into()];
        assert_eq!(quadrant_mood(&names, &[0.8, 0.9]), Some(Mood::Happy));
        assert_eq!(quadrant_mood(&names, &[0.8, 0.1]), Some(Mood::Angry));
        assert_eq!(quadrant_mood(&names, &[0.2, 0.1]), Some(Mood::Sad));
        assert_eq!(quadrant_mood(&names, &[0.2, 0.5]), Some(Mood::Neutral));
        assert_eq!(quadrant_mood(&names[..1], &[0.2]), None);
    }
}
