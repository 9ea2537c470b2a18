//! Writing output files so that a reader never sees half of one.

use std::path::Path;

use crate::error::{ReportError, Result};

/// Writes `bytes` to a temporary file beside `path`, then renames it into place. The file
/// gets the permissions a plain create would give it (0666 less the umask), not the private
/// 0600 of temporary files.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The mode is passed to open(2), which applies the umask.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| ReportError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| ReportError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn outputs_get_the_usual_permissions_not_private_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        super::write_atomically(&path, b"x").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&plain));
    }
}
