//! Advisory locks on cache entries, so that processes sharing one cache (the shards of a Slurm
//! array, two terminals) never download, verify, quarantine or write the same entry at once.
//!
//! A lock is an exclusive `flock` on a file of its own under `<cache>/locks/`, mirroring the
//! entry's path. Lock files are left in place: removing one while another process waits on it
//! would let a third process lock a new file of the same name. Readers take no lock: every
//! entry is written under another name and renamed into place whole, so a reader sees all of
//! it or nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// An exclusive lock on one cache entry, released when dropped (or when the process ends, so a
/// killed process never leaves a cache locked).
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
    path: PathBuf,
}

impl CacheLock {
    /// Locks the entry `key` (a relative path) of the cache at `root`, waiting while another
    /// process or thread holds it; says on standard error when it has to wait.
    pub fn acquire(root: &Path, key: &Path) -> Result<CacheLock> {
        let mut name = key.as_os_str().to_os_string();
        name.push(".lock");
        let path = root.join("locks").join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| DataError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!(
                    "waiting for another cortexbench process to finish with {} (lock {})",
                    key.display(),
                    path.display()
                );
                file.lock().map_err(|e| DataError::io(&path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(DataError::io(&path, e)),
        }
        Ok(CacheLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::CacheLock;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_until_the_first_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let key = Path::new("datasets/x/a.bin");
        let first = CacheLock::acquire(root.path(), key).unwrap();
        assert!(first.path().ends_with("locks/datasets/x/a.bin.lock"));
        let released = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                let _second = CacheLock::acquire(root.path(), key).unwrap();
                // The second lock is only granted after the first was dropped.
                released.load(Ordering::SeqCst)
            });
            std::thread::sleep(Duration::from_millis(200));
            released.store(true, Ordering::SeqCst);
            drop(first);
            assert!(waiter.join().unwrap(), "the second lock was granted early");
        });
        // Another entry's lock is independent.
        let _a = CacheLock::acquire(root.path(), key).unwrap();
        let _b = CacheLock::acquire(root.path(), Path::new("datasets/x/b.bin")).unwrap();
    }
}
