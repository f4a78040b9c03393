//! The shipped defaults — the FER model (card and weights), the song model and the YuNet face
//! detector — travel with the binary, so an installed `workbench` works from any directory.
//!
//! Where a default is looked for, first found wins:
//! 1. the command-line flag (`--model`, `--songs`, `--detector-model`);
//! 2. `$WORKBENCH_HOME/models/<file>`;
//! 3. the user's data directory, `$XDG_DATA_HOME/workbench/models/<file>` (else
//!    `~/.local/share/workbench/models/<file>`);
//! 4. `models/<file>` under the current directory (a checkout);
//! 5. the copy embedded in the binary at build time, written once to
//!    `$XDG_CACHE_HOME/workbench/embedded/<sha256 prefix>/<file>` (else `~/.cache/…`), since
//!    OpenCV and Burn read files. An embedded model goes through the same checks as any file:
//!    the card is read, its weights verified against its digests.

use crate::artifacts;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One shipped default: the file's name, and its bytes (and those of the files it needs).
struct Shipped {
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
}

const FER_MODEL: Shipped = Shipped {
    name: "fer-default.json",
    files: &[
        (
            "fer-default.json",
            include_bytes!("../models/fer-default.json"),
        ),
        (
            "fer-default.bpk",
            include_bytes!("../models/fer-default.bpk"),
        ),
    ],
};

const SONG_MODEL: Shipped = Shipped {
    name: "song-clusters.json",
    files: &[(
        "song-clusters.json",
        include_bytes!("../models/song-clusters.json"),
    )],
};

const YUNET: Shipped = Shipped {
    name: "face_detection_yunet_2022mar.onnx",
    files: &[(
        "face_detection_yunet_2022mar.onnx",
        include_bytes!("../models/face_detection_yunet_2022mar.onnx"),
    )],
};

/// Where a default came from (recorded in `result.json` and the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flag,
    WorkbenchHome,
    DataDir,
    CurrentDir,
    Embedded,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "given on the command line",
            Source::WorkbenchHome => "from $WORKBENCH_HOME/models",
            Source::DataDir => "from the user's data directory",
            Source::CurrentDir => "from ./models",
            Source::Embedded => "the copy embedded in the binary",
        }
    }
}

/// A resolved default: the file to read, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub path: PathBuf,
    pub source: Source,
}

/// The FER model's card (`--model`).
pub fn fer_model(flag: Option<&Path>) -> std::io::Result<Resolved> {
    resolve(flag, &FER_MODEL)
}

/// The song model (`--songs`).
pub fn song_model(flag: Option<&Path>) -> std::io::Result<Resolved> {
    resolve(flag, &SONG_MODEL)
}

/// The YuNet detector (`--detector-model`).
pub fn yunet(flag: Option<&Path>) -> std::io::Result<Resolved> {
    resolve(flag, &YUNET)
}

/// The model file of `kind`: YuNet's looked for as the other defaults are, a cascade's from
/// the flag or OpenCV's data directory.
#[cfg(feature = "vision")]
pub fn detector_model(
    kind: crate::vision::faces::DetectorKind,
    flag: Option<&Path>,
) -> std::io::Result<Resolved> {
    match kind {
        crate::vision::faces::DetectorKind::Yunet => yunet(flag),
        cascade => Ok(Resolved {
            path: flag.map_or_else(|| cascade.default_model().into(), Path::to_path_buf),
            source: Source::Flag,
        }),
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_<kind>_HOME/workbench`, else `~/<fallback>/workbench`.
fn user_dir(xdg: &str, fallback: &str) -> Option<PathBuf> {
    env_dir(xdg)
        .or_else(|| env_dir("HOME").map(|h| h.join(fallback)))
        .map(|d| d.join("workbench"))
}

fn resolve(flag: Option<&Path>, shipped: &Shipped) -> std::io::Result<Resolved> {
    if let Some(path) = flag {
        return Ok(Resolved {
            path: path.to_path_buf(),
            source: Source::Flag,
        });
    }
    let candidates = [
        (
            env_dir("WORKBENCH_HOME").map(|h| h.join("models")),
            Source::WorkbenchHome,
        ),
        (
            user_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("models")),
            Source::DataDir,
        ),
        (Some(PathBuf::from("models")), Source::CurrentDir),
    ];
    for (dir, source) in candidates {
        if let Some(path) = dir.map(|d| d.join(shipped.name)).filter(|p| p.is_file()) {
            return Ok(Resolved { path, source });
        }
    }
    Ok(Resolved {
        path: unpack(shipped)?,
        source: Source::Embedded,
    })
}

/// Writes the embedded files once into the cache (atomically; a folder per content digest, so
/// binaries of different builds never share one) and returns the path of the named file.
fn unpack(shipped: &Shipped) -> std::io::Result<PathBuf> {
    let digest: String = {
        let mut all = Vec::new();
        for (name, bytes) in shipped.files {
            all.extend_from_slice(name.as_bytes());
            all.extend_from_slice(&artifacts::sha256_bytes(bytes).into_bytes());
        }
        artifacts::sha256_bytes(&all)[..16].to_string()
    };
    let cache = user_dir("XDG_CACHE_HOME", ".cache")
        .unwrap_or_else(|| std::env::temp_dir().join("workbench"))
        .join("embedded")
        .join(digest);
    for (name, bytes) in shipped.files {
        let path = cache.join(name);
        let intact = std::fs::read(&path).is_ok_and(|on_disk| on_disk == *bytes);
        if !intact {
            artifacts::write_atomic(&path, bytes)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        }
    }
    Ok(cache.join(shipped.name))
}
