//! Writing output files so that a reader never sees half of one.

use std::path::Path;

use crate::error::{ReportError, Result};

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ReportError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| ReportError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}
