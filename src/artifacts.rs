//! Run ids, run directories, atomic writes and input hashes: what every stage needs to leave
//! artifacts that are either complete or absent.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (or a kill) never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| {
        let mut file = fs::File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// Like [`write_atomic`], for writers that insist on a path of their own (Burnpack, plotters):
/// `write` fills the temporary path, which is then renamed over `path`. The temporary file is
/// removed on every error path, the rename's included.
pub fn write_atomic_with<E>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<io::Error>,
{
    prepare_parent(path)?;
    let tmp = temp_sibling(path);
    let result = write(&tmp).and_then(|()| fs::rename(&tmp, path).map_err(E::from));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates the parent directory of `path` and sweeps the temporary files that dead processes
/// left in it.
fn prepare_parent(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
        sweep_stale_temps(parent);
    }
    Ok(())
}

/// Like [`write_atomic`] for secrets: the temporary file is created with mode 0600 before any
/// byte is written, so the content is never readable by others, not even for a moment.
#[cfg(unix)]
pub fn write_atomic_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    write_atomic_with(path, |tmp| {
        let _ = fs::remove_file(tmp); // a leftover of a killed run would be reused with its mode
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// Builds a whole directory (a run report) in a temporary sibling and renames it to `dir` once
/// `build` succeeds; on failure the temporary directory is removed, so no half report is left.
/// `dir` may be absent or an empty directory reserved by [`reserve_run_dir`] (removed again on
/// failure); a directory with content is never replaced.
pub fn write_dir_atomic<E>(dir: &Path, build: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E>
where
    E: From<io::Error>,
{
    let staged = StagedDir::new(dir)?;
    build(staged.path())?;
    staged.commit()?;
    Ok(())
}

/// A directory being built under a temporary name beside its final place. [`StagedDir::commit`]
/// renames it into place; dropped uncommitted (an error, a panic), it is removed, and so is the
/// empty reservation of its final name. Lets a command write several outputs and commit them in
/// a chosen order.
pub struct StagedDir {
    tmp: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl StagedDir {
    pub fn new(dir: &Path) -> io::Result<StagedDir> {
        prepare_parent(dir)?;
        let tmp = temp_sibling(dir);
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        Ok(StagedDir {
            tmp,
            dir: dir.to_path_buf(),
            committed: false,
        })
    }

    /// Where to write the content.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the staged directory into place (over an empty reservation, never over content).
    pub fn commit(mut self) -> io::Result<PathBuf> {
        fs::rename(&self.tmp, &self.dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.dir.display())))?;
        self.committed = true;
        Ok(self.dir.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
            // Only an empty reservation goes; `remove_dir` never deletes content.
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// `text` with every character but ASCII letters, digits, `-`, `_` and those in `also`
/// replaced by `_`: safe to put in a file or run-directory name.
pub fn name_safe(text: &str, also: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || also.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Reserves a fresh run directory `parent/<name>-<utc stamp>` by creating it, empty; when two
/// runs start in the same second the later one gets `-2`, `-3`, … Creation is atomic, so
/// concurrent runs never share a directory. Returns the run id and the directory.
pub fn reserve_run_dir(parent: &Path, name: &str) -> io::Result<(String, PathBuf)> {
    fs::create_dir_all(parent)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
    sweep_stale_temps(parent);
    let base = new_run_id(name);
    for n in 1..10_000 {
        let id = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
    }
    Err(io::Error::other(format!(
        "{}: no free run id for {base}",
        parent.display()
    )))
}

/// Removes the temporary entries (`.<pid>.tmp.*`, see [`temp_sibling`]) that processes no longer
/// running left in `dir`, e.g. after a `kill -9` mid-write. Entries of live processes stay.
pub fn sweep_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = temp_owner(&name.to_string_lossy()) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

/// The pid in a temporary entry's name, `None` for any other name.
fn temp_owner(name: &str) -> Option<u32> {
    let (pid, _) = name.strip_prefix('.')?.split_once(".tmp.")?;
    pid.parse().ok()
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Without /proc nothing can be told dead, so nothing is swept.
#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Refuses to let a command replace existing outputs (a model, a card) unless `force` is given.
/// Called before any work, so a refusal costs nothing.
pub fn check_replaceable(paths: &[PathBuf], force: bool) -> Result<(), WouldReplace> {
    match paths.iter().find(|p| p.exists()) {
        Some(path) if !force => Err(WouldReplace { path: path.clone() }),
        _ => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{} already exists; give --force to replace it (the old file is then kept under {}), or choose another name or directory", path.display(), path.with_file_name(REPLACED_DIR).display())]
pub struct WouldReplace {
    pub path: PathBuf,
}

/// Where replaced outputs are kept: `<their dir>/replaced/<stem>-<utc stamp>/`.
pub const REPLACED_DIR: &str = "replaced";

/// Moves the existing files among `paths` (which share a directory, e.g. a card and its
/// weights) together into `<dir>/replaced/<file stem>-<utc stamp>/`, so a forced replacement
/// keeps the old model whole and loadable. Returns (old path, where it went) for each file moved.
pub fn set_aside(paths: &[PathBuf]) -> io::Result<Vec<(PathBuf, PathBuf)>> {
    let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
    let Some(first) = existing.first() else {
        return Ok(Vec::new());
    };
    let dir = first.parent().unwrap_or(Path::new(".")).join(REPLACED_DIR);
    let stem = first.file_stem().unwrap_or_default().to_string_lossy();
    let (_, keep) = reserve_run_dir(&dir, &stem)?;
    existing
        .into_iter()
        .map(|path| {
            let to = keep.join(path.file_name().unwrap_or_default());
            fs::rename(path, &to)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            Ok((path.clone(), to))
        })
        .collect()
}

/// `dir/name.ext` → `dir/.<pid>.tmp.name.ext`: hidden, told apart per process (a dead process's
/// are swept by [`sweep_stale_temps`]), and with the extension kept last for writers that choose
/// a format by it.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".into());
    path.with_file_name(format!(".{}.tmp.{name}", std::process::id()))
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Hex sha256 of a file's bytes as stored on disk.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The commit the binary runs from, with `-dirty` when the tree has changes; `unknown` outside
/// a git checkout. Recorded in every artifact so a number can be traced to its code.
pub fn git_commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .map(|s| !s.is_empty())
                .unwrap_or(false);
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        _ => "unknown".into(),
    }
}

/// UTC time as `YYYYMMDD-HHMMSS`, used in run ids so they sort by time.
pub fn utc_stamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// UTC time in RFC 3339, for provenance fields.
pub fn utc_rfc3339() -> String {
    let s = utc_stamp();
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    )
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm; avoids a date crate
/// for one line of provenance.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Peak resident memory of this process (Linux `VmHWM`), for benchmark lines.
pub fn peak_rss_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A run id: `<name>-<utc stamp>`.
pub fn new_run_id(name: &str) -> String {
    format!("{name}-{}", utc_stamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    #[test]
    fn atomic_write_leaves_no_temp_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.json");
        let res: io::Result<()> = write_atomic_with(&target, |tmp| {
            fs::write(tmp, b"half")?;
            Err(io::Error::other("boom"))
        });
        assert!(res.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"{}").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"{}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failed_rename_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory where the file should go: the rename fails.
        let target = dir.path().join("x.json");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"mine").unwrap();
        assert!(write_atomic(&target, b"{}").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.json")]);
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"mine");
    }

    #[test]
    fn temps_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // No pid reaches 2^22 on Linux (pid_max), so this owner is dead.
        let dead_file = dir.path().join(".4294967.tmp.model.bpk");
        let dead_dir = dir.path().join(".4294967.tmp.run-1");
        let live = dir
            .path()
            .join(format!(".{}.tmp.other.json", std::process::id()));
        let user = dir.path().join(".hidden-but-mine");
        fs::write(&dead_file, b"half").unwrap();
        fs::create_dir(&dead_dir).unwrap();
        fs::write(dead_dir.join("index.html"), b"half").unwrap();
        fs::write(&live, b"in progress").unwrap();
        fs::write(&user, b"x").unwrap();
        write_atomic(&dir.path().join("model.json"), b"{}").unwrap();
        assert!(!dead_file.exists() && !dead_dir.exists());
        assert!(live.exists() && user.exists());
    }

    #[test]
    fn concurrent_reservations_get_distinct_run_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| reserve_run_dir(dir.path(), "clip").unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 8, "{ids:?}");
    }

    #[test]
    fn a_staged_dir_lands_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (_, reserved) = reserve_run_dir(dir.path(), "run").unwrap();
        {
            let staged = StagedDir::new(&reserved).unwrap();
            fs::write(staged.path().join("index.html"), b"half").unwrap();
            // dropped without commit: an error on the way
        }
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "reservation and temp removed"
        );
        let (_, reserved) = reserve_run_dir(dir.path(), "run").unwrap();
        let staged = StagedDir::new(&reserved).unwrap();
        fs::write(staged.path().join("index.html"), b"whole").unwrap();
        assert_eq!(staged.commit().unwrap(), reserved);
        assert_eq!(fs::read(reserved.join("index.html")).unwrap(), b"whole");
        // A directory with content is never replaced.
        let res: io::Result<()> =
            write_dir_atomic(&reserved, |tmp| fs::write(tmp.join("x"), b"new"));
        assert!(res.is_err());
        assert_eq!(fs::read(reserved.join("index.html")).unwrap(), b"whole");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn replacing_needs_force_and_keeps_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let card = dir.path().join("m.json");
        let weights = dir.path().join("m.bpk");
        let both = [weights.clone(), card.clone()];
        check_replaceable(&both, false).unwrap();
        fs::write(&card, b"old card").unwrap();
        fs::write(&weights, b"old weights").unwrap();
        let err = check_replaceable(&both, false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        check_replaceable(&both, true).unwrap();
        let moved = set_aside(&both).unwrap();
        assert_eq!(moved.len(), 2);
        assert!(!card.exists() && !weights.exists());
        assert_eq!(
            moved[0].1.parent(),
            moved[1].1.parent(),
            "card and weights stay together"
        );
        assert_eq!(fs::read(&moved[1].1).unwrap(), b"old card");
        assert!(moved[0].1.starts_with(dir.path().join(REPLACED_DIR)));
    }
}
