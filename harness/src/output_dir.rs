//! Run output folders written whole. Every file goes into a hidden sibling staging folder,
//! which replaces the output folder only once everything is written: a failed or interrupted
//! run leaves the previous outputs (or nothing), never a mix of old and new files. A folder
//! that already holds files is replaced only when asked (`--overwrite`), and that is checked
//! before any work.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Fails unless `out` is absent, an empty folder, or (with `overwrite`) a folder to replace.
pub fn check_target(out: &Path, overwrite: bool) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("{}: exists and is not a folder", out.display());
    }
    let holds_files = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .next()
        .is_some();
    if holds_files && !overwrite {
        bail!(
            "{}: the output folder already holds files; pass --overwrite to replace it (it is replaced whole once the new outputs are complete)",
            out.display()
        );
    }
    Ok(())
}

/// Runs `write` on a staging folder beside `out` and, when it succeeds, puts that folder in
/// place of `out`; when it fails, removes the staging folder and leaves `out` as it was.
pub fn write_staged<T>(
    out: &Path,
    overwrite: bool,
    write: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    check_target(out, overwrite)?;
    let sibling = |tag: &str| -> Result<PathBuf> {
        let name = out
            .file_name()
            .with_context(|| format!("{}: not a folder name", out.display()))?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(parent.join(format!(
            ".{}.{tag}-{}",
            name.to_string_lossy(),
            std::process::id()
        )))
    };
    let staging = sibling("partial")?;
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("removing {}", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let value = match write(&staging) {
        Ok(value) => value,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out.exists() {
        let old = sibling("old")?;
        std::fs::rename(out, &old).with_context(|| format!("moving {} aside", out.display()))?;
        if let Err(e) = std::fs::rename(&staging, out) {
            let _ = std::fs::rename(&old, out);
            return Err(e).with_context(|| format!("moving the new outputs to {}", out.display()));
        }
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    } else {
        std::fs::rename(&staging, out)
            .with_context(|| format!("moving the new outputs to {}", out.display()))?;
    }
    Ok(value)
}

/// The files every complete run folder holds (what `merge` needs from each shard).
pub const RUN_FILES: [&str; 4] = [
    "manifest.yaml",
    "results.json",
    "rdms.json",
    "bootstrap.json",
];

/// Fails, listing what is missing, unless `dir` is a complete run folder.
pub fn check_complete_run(dir: &Path) -> Result<()> {
    let missing: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: not a complete cortexbench run (missing {})",
            dir.display(),
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_folder_and_a_good_one_replaces_it_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        write_staged(&out, false, |d| Ok(std::fs::write(d.join("a.txt"), "old")?)).unwrap();
        // Not empty: refused without overwrite, before the writer runs.
        let err = write_staged(&out, false, |_| -> Result<()> { panic!("must not run") })
            .unwrap_err()
            .to_string();
        assert!(err.contains("--overwrite"), "{err}");
        // A failing writer leaves the old folder as it was, and no staging folder.
        let err = write_staged(&out, true, |d| -> Result<()> {
            std::fs::write(d.join("b.txt"), "half")?;
            bail!("disk full")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "old");
        assert!(!out.join("b.txt").exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        // A good one replaces the folder whole: no stale file survives.
        write_staged(&out, true, |d| Ok(std::fs::write(d.join("b.txt"), "new")?)).unwrap();
        assert!(!out.join("a.txt").exists());
        assert_eq!(std::fs::read_to_string(out.join("b.txt")).unwrap(), "new");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
        // A file in the way, and an incomplete run folder, are named.
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(
            check_target(&file, true)
                .unwrap_err()
                .to_string()
                .contains("not a folder")
        );
        let err = check_complete_run(&out).unwrap_err().to_string();
        assert!(err.contains("missing manifest.yaml, results.json"), "{err}");
    }
}
