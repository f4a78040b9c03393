//! FER2013 on disk → validated faces in memory, split by `Usage`.
//!
//! Two layouts are read: the canonical CSV (`emotion,pixels,Usage`, plain or gzip) and the
//! image-folder layout (`train/<label>/*.jpg`, `test/<label>/{PublicTest,PrivateTest}_*.jpg`).
//! Every row is validated; a bad row is an error naming its line, unless the caller asks to skip
//! bad rows, in which case each one is counted and reported.

use crate::artifacts;
use crate::emotion::Emotion;
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// FER2013 faces are 48×48 grey levels.
pub const SIDE: usize = 48;
pub const PIXELS: usize = SIDE * SIDE;

/// The three FER2013 splits, named as in the CSV's `Usage` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
pub enum Split {
    #[value(name = "Training")]
    Training,
    #[value(name = "PublicTest")]
    PublicTest,
    #[value(name = "PrivateTest")]
    PrivateTest,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Training, Split::PublicTest, Split::PrivateTest];

    pub fn usage(self) -> &'static str {
        match self {
            Split::Training => "Training",
            Split::PublicTest => "PublicTest",
            Split::PrivateTest => "PrivateTest",
        }
    }

    pub fn from_usage(usage: &str) -> Option<Split> {
        Self::ALL.into_iter().find(|s| s.usage() == usage)
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.usage())
    }
}

/// Faces stored contiguously: image `i` is `pixels[i*2304..(i+1)*2304]`, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaceSet {
    pixels: Vec<u8>,
    labels: Vec<Emotion>,
}

impl FaceSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn push(&mut self, image: &[u8], label: Emotion) {
        assert_eq!(image.len(), PIXELS, "a FER face has 48x48 pixels");
        self.pixels.extend_from_slice(image);
        self.labels.push(label);
    }

    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    pub fn label(&self, i: usize) -> Emotion {
        self.labels[i]
    }

    pub fn labels(&self) -> &[Emotion] {
        &self.labels
    }

    pub fn class_counts(&self) -> [usize; Emotion::COUNT] {
        let mut counts = [0; Emotion::COUNT];
        for label in &self.labels {
            counts[label.index()] += 1;
        }
        counts
    }

    /// Up to `per_class` faces of each emotion, drawn without replacement by `seed`, in a
    /// seeded order. Tests and smoke runs train on these so they stay small yet balanced.
    pub fn stratified_subset(&self, per_class: usize, seed: u64) -> FaceSet {
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); Emotion::COUNT];
        for (i, label) in self.labels.iter().enumerate() {
            by_class[label.index()].push(i);
        }
        let mut rng = SplitMix64::for_stream(seed, 0x5ab5e7);
        let mut chosen = Vec::new();
        for indices in &mut by_class {
            rng.shuffle(indices);
            chosen.extend(indices.iter().take(per_class).copied());
        }
        rng.shuffle(&mut chosen);
        let mut subset = FaceSet::default();
        for i in chosen {
            subset.push(self.image(i), self.label(i));
        }
        subset
    }
}

/// Where the faces came from, for model cards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataSource {
    pub path: PathBuf,
    pub format: String,
    /// sha256 of the file as stored (for a folder: of its sorted paths and bytes).
    pub sha256: String,
}

/// A row that failed validation and was skipped (`--skip-bad-rows`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SkippedRow {
    /// 1-based line in the CSV (the header is line 1), or the image file for folders.
    pub location: String,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub struct Fer2013 {
    pub training: FaceSet,
    pub public_test: FaceSet,
    pub private_test: FaceSet,
    pub source: DataSource,
    pub skipped: Vec<SkippedRow>,
}

impl Fer2013 {
    pub fn split(&self, split: Split) -> &FaceSet {
        match split {
            Split::Training => &self.training,
            Split::PublicTest => &self.public_test,
            Split::PrivateTest => &self.private_test,
        }
    }

    fn split_mut(&mut self, split: Split) -> &mut FaceSet {
        match split {
            Split::Training => &mut self.training,
            Split::PublicTest => &mut self.public_test,
            Split::PrivateTest => &mut self.private_test,
        }
    }

    pub fn total(&self) -> usize {
        Split::ALL.iter().map(|s| self.split(*s).len()).sum()
    }
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowProblem {
    #[error("expected {expected} comma-separated fields, found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("expected 2304 pixels (48x48), found {0}")]
    PixelCount(usize),
    #[error("pixel {index} is `{value}`, not a grey level 0-255")]
    PixelValue { index: usize, value: String },
    #[error(
        "emotion `{0}` is not a label 0-6 (angry, disgust, fear, happy, sad, surprise, neutral)"
    )]
    Label(String),
    #[error("unknown Usage `{0}` (expected Training, PublicTest or PrivateTest)")]
    Usage(String),
    #[error("image is {width}x{height}, FER2013 faces are 48x48")]
    ImageSize { width: u32, height: u32 },
    #[error("cannot decode image: {0}")]
    ImageDecode(String),
    #[error("cannot tell the split from the file name (expected PublicTest_* or PrivateTest_*)")]
    TestFileName,
}

#[derive(Debug, thiserror::Error)]
pub enum FerDataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: no such file or directory. Get FER2013 as described in datasets/README.md")]
    NotFound { path: PathBuf },
    #[error("{path}: not a FER2013 CSV: the header is `{found}`, expected the columns emotion, pixels and Usage")]
    BadHeader { path: PathBuf, found: String },
    #[error("{path}:{line}: {problem}")]
    BadRow {
        path: PathBuf,
        line: usize,
        problem: RowProblem,
    },
    #[error("{path}: {problem}")]
    BadImage { path: PathBuf, problem: RowProblem },
    #[error("{path}: not the FER2013 image-folder layout: {reason}")]
    BadFolder { path: PathBuf, reason: String },
    #[error("{path}: no faces were read ({skipped} rows skipped)")]
    Empty { path: PathBuf, skipped: usize },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Count and report bad rows instead of failing on the first one.
    pub skip_bad_rows: bool,
}

/// Reads FER2013 from a CSV (plain or gzip, told apart by content) or an image folder.
pub fn load(path: &Path, options: LoadOptions) -> Result<Fer2013, FerDataError> {
    if !path.exists() {
        return Err(FerDataError::NotFound { path: path.into() });
    }
    let data = if path.is_dir() {
        load_image_folder(path, options)?
    } else {
        load_csv(path, options)?
    };
    if data.total() == 0 {
        return Err(FerDataError::Empty {
            path: path.into(),
            skipped: data.skipped.len(),
        });
    }
    Ok(data)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FerDataError + '_ {
    move |source| FerDataError::Io {
        path: path.into(),
        source,
    }
}

fn empty_dataset(source: DataSource) -> Fer2013 {
    Fer2013 {
        training: FaceSet::default(),
        public_test: FaceSet::default(),
        private_test: FaceSet::default(),
        source,
        skipped: Vec::new(),
    }
}

fn load_csv(path: &Path, options: LoadOptions) -> Result<Fer2013, FerDataError> {
    let sha256 = artifacts::sha256_file(path).map_err(io_err(path))?;
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut magic = [0u8; 2];
    let gzipped = file.read(&mut magic).map_err(io_err(path))? == 2 && magic == [0x1f, 0x8b];
    drop(file);
    let file = fs::File::open(path).map_err(io_err(path))?;
    let reader: Box<dyn BufRead> = if gzipped {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let source = DataSource {
        path: path.into(),
        format: if gzipped { "csv.gz" } else { "csv" }.into(),
        sha256,
    };
    read_csv_rows(path, reader, source, options)
}

/// Positions of the three columns we need, found from the header so column order may vary.
struct Columns {
    emotion: usize,
    pixels: usize,
    usage: usize,
    count: usize,
}

fn parse_header(path: &Path, header: &str) -> Result<Columns, FerDataError> {
    let names: Vec<String> = header
        .split(',')
        .map(|f| unquote(f.trim()).to_ascii_lowercase())
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    match (find("emotion"), find("pixels"), find("usage")) {
        (Some(emotion), Some(pixels), Some(usage)) => Ok(Columns {
            emotion,
            pixels,
            usage,
            count: names.len(),
        }),
        _ => Err(FerDataError::BadHeader {
            path: path.into(),
            found: header.chars().take(120).collect(),
        }),
    }
}

fn unquote(field: &str) -> &str {
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .unwrap_or(field)
}

fn read_csv_rows(
    path: &Path,
    mut reader: Box<dyn BufRead>,
    source: DataSource,
    options: LoadOptions,
) -> Result<Fer2013, FerDataError> {
    let mut data = empty_dataset(source);
    let mut line = String::new();
    let mut line_no = 0usize;
    let mut columns = None;
    let mut image = vec![0u8; PIXELS];
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io_err(path))? == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        let Some(cols) = &columns else {
            columns = Some(parse_header(path, text.trim_start_matches('\u{feff}'))?);
            continue;
        };
        match parse_row(text, cols, &mut image) {
            Ok((label, split)) => data.split_mut(split).push(&image, label),
            Err(problem) if options.skip_bad_rows => data.skipped.push(SkippedRow {
                location: format!("line {line_no}"),
                problem: problem.to_string(),
            }),
            Err(problem) => {
                return Err(FerDataError::BadRow {
                    path: path.into(),
                    line: line_no,
                    problem,
                })
            }
        }
    }
    if columns.is_none() {
        return Err(FerDataError::BadHeader {
            path: path.into(),
            found: String::new(),
        });
    }
    Ok(data)
}

/// Parses one data row into `image`; returns its label and split.
fn parse_row(text: &str, cols: &Columns, image: &mut [u8]) -> Result<(Emotion, Split), RowProblem> {
    let fields: Vec<&str> = text.split(',').map(|f| unquote(f.trim())).collect();
    if fields.len() != cols.count {
        return Err(RowProblem::FieldCount {
            expected: cols.count,
            found: fields.len(),
        });
    }
    let label = fields[cols.emotion]
        .parse::<usize>()
        .ok()
        .and_then(Emotion::from_index)
        .ok_or_else(|| RowProblem::Label(fields[cols.emotion].into()))?;
    let usage = fields[cols.usage];
    let split = Split::from_usage(usage).ok_or_else(|| RowProblem::Usage(usage.into()))?;
    let mut count = 0;
    for (index, token) in fields[cols.pixels].split_ascii_whitespace().enumerate() {
        let value = token
            .parse::<u16>()
            .ok()
            .filter(|v| *v <= 255)
            .ok_or_else(|| RowProblem::PixelValue {
                index,
                value: token.chars().take(20).collect(),
            })?;
        if index < PIXELS {
            image[index] = value as u8;
        }
        count += 1;
    }
    if count != PIXELS {
        return Err(RowProblem::PixelCount(count));
    }
    Ok((label, split))
}

/// `train/<label>/*`, `test/<label>/{PublicTest,PrivateTest}_*`: the layout of the Kaggle
/// "FER-2013" image release. Files are read in sorted order so runs are reproducible.
fn load_image_folder(root: &Path, options: LoadOptions) -> Result<Fer2013, FerDataError> {
    let bad_folder = |reason: String| FerDataError::BadFolder {
        path: root.into(),
        reason,
    };
    let train_dir = root.join("train");
    let test_dir = root.join("test");
    if !train_dir.is_dir() && !test_dir.is_dir() {
        return Err(bad_folder("neither train/ nor test/ is in it".into()));
    }
    let mut files: Vec<(PathBuf, Emotion, bool)> = Vec::new();
    for (dir, is_test) in [(&train_dir, false), (&test_dir, true)] {
        if !dir.is_dir() {
            continue;
        }
        for label_dir in sorted_entries(dir)? {
            if !label_dir.is_dir() {
                continue;
            }
            let name = label_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let label = Emotion::from_name(&name).ok_or_else(|| {
                bad_folder(format!(
                    "`{}` is not an emotion folder (expected {})",
                    label_dir.display(),
                    Emotion::names().join(", ")
                ))
            })?;
            for file in sorted_entries(&label_dir)? {
                if file.is_file() {
                    files.push((file, label, is_test));
                }
            }
        }
    }
    let mut hasher = Sha256::new();
    let mut data = empty_dataset(DataSource {
        path: root.into(),
        format: "image-folder".into(),
        sha256: String::new(),
    });
    for (file, label, is_test) in files {
        let bytes = fs::read(&file).map_err(io_err(&file))?;
        let rel = file.strip_prefix(root).unwrap_or(&file);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(&bytes);
        match decode_folder_image(&file, &bytes, is_test) {
            Ok((image, split)) => data.split_mut(split).push(&image, label),
            Err(problem) if options.skip_bad_rows => data.skipped.push(SkippedRow {
                location: file.display().to_string(),
                problem: problem.to_string(),
            }),
            Err(problem) => {
                return Err(FerDataError::BadImage {
                    path: file,
                    problem,
                })
            }
        }
    }
    data.source.sha256 = artifacts::hex(&hasher.finalize());
    Ok(data)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, FerDataError> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn decode_folder_image(
    file: &Path,
    bytes: &[u8],
    is_test: bool,
) -> Result<(Vec<u8>, Split), RowProblem> {
    let split = if is_test {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("PublicTest_") {
            Split::PublicTest
        } else if name.starts_with("PrivateTest_") {
            Split::PrivateTest
        } else {
            return Err(RowProblem::TestFileName);
        }
    } else {
        Split::Training
    };
    let img = image::load_from_memory(bytes)
        .map_err(|e| RowProblem::ImageDecode(e.to_string()))?
        .into_luma8();
    if img.width() as usize != SIDE || img.height() as usize != SIDE {
        return Err(RowProblem::ImageSize {
            width: img.width(),
            height: img.height(),
        });
    }
    Ok((img.into_raw(), split))
}

/// Writes faces back as a canonical FER2013 CSV (`emotion,pixels,Usage`). Used to hand small,
/// seeded samples of the real data to tests and smoke runs.
pub fn write_csv(path: &Path, splits: &[(Split, &FaceSet)]) -> io::Result<()> {
    let mut out = Vec::new();
    writeln!(out, "emotion,pixels,Usage")?;
    for (split, faces) in splits {
        for i in 0..faces.len() {
            let pixels: Vec<String> = faces.image(i).iter().map(|p| p.to_string()).collect();
            writeln!(
                out,
                "{},{},{}",
                faces.label(i).index(),
                pixels.join(" "),
                split.usage()
            )?;
        }
    }
    artifacts::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, pixels: &str, usage: &str) -> String {
        format!("{label},{pixels},{usage}\n")
    }

    fn grey(n: usize, v: u8) -> String {
        vec![v.to_string(); n].join(" ")
    }

    fn load_text(text: &str, skip: bool) -> Result<Fer2013, FerDataError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fer.csv");
        fs::write(&path, text).unwrap();
        load(
            &path,
            LoadOptions {
                skip_bad_rows: skip,
            },
        )
    }

    #[test]
    fn each_bad_row_names_its_line_and_problem() {
        let good = row("3", &grey(PIXELS, 7), "Training");
        let cases = [
            (
                row("3", &grey(PIXELS - 1, 7), "Training"),
                "expected 2304 pixels (48x48), found 2303",
            ),
            (
                row("3", &format!("{} 256", grey(PIXELS - 1, 7)), "Training"),
                "pixel 2303 is `256`",
            ),
            (
                row("3", &format!("-1 {}", grey(PIXELS - 1, 7)), "Training"),
                "pixel 0 is `-1`",
            ),
            (
                row("7", &grey(PIXELS, 7), "Training"),
                "emotion `7` is not a label 0-6",
            ),
            (
                row("x", &grey(PIXELS, 7), "Training"),
                "emotion `x` is not a label 0-6",
            ),
            (
                row("3", &grey(PIXELS, 7), "Validation"),
                "unknown Usage `Validation`",
            ),
            (
                "3,1 2 3\n".to_string(),
                "expected 3 comma-separated fields, found 2",
            ),
        ];
        for (bad, expected) in cases {
            let text = format!("emotion,pixels,Usage\n{good}{good}{bad}{good}");
            let err = load_text(&text, false).unwrap_err().to_string();
            assert!(err.contains("fer.csv:4: "), "{err}");
            assert!(err.contains(expected), "{err} lacks {expected}");
            let data = load_text(&text, true).unwrap();
            assert_eq!(data.training.len(), 3);
            assert_eq!(data.skipped.len(), 1);
            assert_eq!(data.skipped[0].location, "line 4");
        }
    }

    #[test]
    fn header_must_name_the_columns() {
        let err = load_text("label,image\n1,2\n", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a FER2013 CSV"), "{err}");
        let err = load_text("", false).unwrap_err().to_string();
        assert!(err.contains("not a FER2013 CSV"), "{err}");
    }

    #[test]
    fn all_rows_bad_is_an_error_even_when_skipping() {
        let text = format!(
            "emotion,pixels,Usage\n{}",
            row("9", &grey(PIXELS, 1), "Training")
        );
        let err = load_text(&text, true).unwrap_err().to_string();
        assert!(err.contains("no faces were read (1 rows skipped)"), "{err}");
    }

    #[test]
    fn columns_may_come_in_any_order_and_crlf_is_fine() {
        let text = format!(
            "Usage,emotion,pixels\r\nPrivateTest,5,{}\r\n",
            grey(PIXELS, 255)
        );
        let data = load_text(&text, false).unwrap();
        assert_eq!(data.private_test.len(), 1);
        assert_eq!(data.private_test.label(0), Emotion::Surprise);
        assert!(data.private_test.image(0).iter().all(|&p| p == 255));
    }

    #[test]
    fn csv_round_trips_through_gzip_and_folders() {
        let mut faces = FaceSet::default();
        for i in 0..14u8 {
            let img: Vec<u8> = (0..PIXELS).map(|p| (p as u8).wrapping_mul(i)).collect();
            faces.push(&img, Emotion::from_index(i as usize % 7).unwrap());
        }
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("sample.csv");
        write_csv(
            &csv,
            &[(Split::Training, &faces), (Split::PrivateTest, &faces)],
        )
        .unwrap();
        let plain = load(&csv, LoadOptions::default()).unwrap();
        assert_eq!(plain.training, faces);
        assert_eq!(plain.private_test, faces);
        assert_eq!(plain.source.format, "csv");

        let gz = dir.path().join("sample.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&fs::read(&csv).unwrap()).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        let zipped = load(&gz, LoadOptions::default()).unwrap();
        assert_eq!(zipped.source.format, "csv.gz");
        assert_eq!(zipped.training, faces);

        // The same faces as PNG files in the image-folder layout.
        let root = dir.path().join("folders");
        for (split_dir, prefix) in [("train", "Training"), ("test", "PrivateTest")] {
            for k in 0..faces.len() {
                let label_dir = root.join(split_dir).join(faces.label(k).name());
                fs::create_dir_all(&label_dir).unwrap();
                let img = image::GrayImage::from_raw(48, 48, faces.image(k).to_vec()).unwrap();
                img.save(label_dir.join(format!("{prefix}_{k:03}.png")))
                    .unwrap();
            }
        }
        let folders = load(&root, LoadOptions::default()).unwrap();
        assert_eq!(folders.source.format, "image-folder");
        assert_eq!(folders.training.len(), 14);
        assert_eq!(folders.private_test.len(), 14);
        assert_eq!(folders.training.class_counts(), faces.class_counts());
        // Same bytes under a folder: the label order differs, the multiset of (image, label) not.
        let mut a: Vec<(Vec<u8>, Emotion)> = (0..14)
            .map(|k| (faces.image(k).to_vec(), faces.label(k)))
            .collect();
        let mut b: Vec<(Vec<u8>, Emotion)> = (0..14)
            .map(|k| {
                (
                    folders.training.image(k).to_vec(),
                    folders.training.label(k),
                )
            })
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);

        // A test image whose name does not tell its split is an error naming the file.
        let stray = root.join("test/happy/stray.png");
        image::GrayImage::new(48, 48).save(&stray).unwrap();
        let err = load(&root, LoadOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("stray.png") && err.contains("cannot tell the split"),
            "{err}"
        );
        let skipped = load(
            &root,
            LoadOptions {
                skip_bad_rows: true,
            },
        )
        .unwrap();
        assert_eq!(skipped.skipped.len(), 1);
    }

    #[test]
    fn stratified_subset_is_seeded_and_balanced() {
        let mut faces = FaceSet::default();
        for i in 0..70usize {
            faces.push(&[i as u8; PIXELS], Emotion::from_index(i % 7).unwrap());
        }
        let a = faces.stratified_subset(3, 1);
        assert_eq!(a.class_counts(), [3; 7]);
        assert_eq!(a, faces.stratified_subset(3, 1));
        assert_ne!(a, faces.stratified_subset(3, 2));
    }
}
