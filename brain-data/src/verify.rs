//! Content verification against the catalog's pinned size and sha256.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::catalog::FileEntry;
use crate::error::{DataError, Result};

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// What checking a file against its pinned entry found.
pub(crate) enum Verdict {
    /// Size and hash match.
    Good,
    /// Size differs (no hash computed).
    WrongSize(u64),
    /// Size matches, hash does not.
    WrongHash(String),
}

pub(crate) fn check(path: &Path, entry: &FileEntry) -> Result<Verdict> {
    let size = std::fs::metadata(path)
        .map_err(|e| DataError::io(path, e))?
        .len();
    if size != entry.size {
        return Ok(Verdict::WrongSize(size));
    }
    let actual = sha256_file(path)?;
    Ok(if actual == entry.sha256 {
        Verdict::Good
    } else {
        Verdict::WrongHash(actual)
    })
}

/// Moves a bad file out of the way (never deleted, never used) and returns where it went.
pub(crate) fn quarantine(path: &Path, quarantine_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(quarantine_dir).map_err(|e| DataError::io(quarantine_dir, e))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = quarantine_dir.join(format!("{name}.{stamp}.bad"));
    std::fs::rename(path, &target).map_err(|e| DataError::io(path, e))?;
    Ok(target)
}
