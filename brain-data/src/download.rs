//! HTTP downloads: to a `.part` file beside the target, resumed with a Range request after an
//! interrupted transfer, retried with exponential backoff, verified, then renamed into place.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::ProgressBar;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::RANGE;

use crate::catalog::FileEntry;
use crate::error::{DataError, Result};
use crate::verify::{self, Verdict};

/// How hard to try.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Attempts per file before giving up.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub initial_backoff: Duration,
    /// Time limit of one request. A transfer cut off by it is resumed by the next attempt, so
    /// it bounds a stalled connection rather than a file's size.
    pub timeout: Duration,
    /// Parallel downloads when fetching a whole dataset.
    pub parallel: usize,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(120),
            parallel: 8,
        }
    }
}

pub(crate) fn client(options: &DownloadOptions) -> Result<Client> {
    Client::builder()
        .connect_timeout(options.timeout)
        .timeout(options.timeout)
        .user_agent(concat!("cortexbench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DataError::Download {
            url: String::new(),
            message: format!("cannot create an HTTP client: {e}"),
        })
}

/// Downloads `url` to `target`, which afterwards holds exactly the pinned content, or fails
/// with nothing left at `target` or in its `.part` file.
pub(crate) fn download(
    client: &Client,
    url: &str,
    target: &Path,
    entry: &FileEntry,
    options: &DownloadOptions,
    quarantine_dir: &Path,
    progress: &ProgressBar,
) -> Result<()> {
    let part = part_path(target);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let mut last_problem = String::new();
    let mut backoff = options.initial_backoff;
    for attempt in 1..=options.attempts.max(1) {
        if attempt > 1 {
            std::thread::sleep(backoff);
            backoff *= 2;
        }
        match transfer(client, url, &part, entry.size, progress) {
            Ok(()) => {}
            Err(Transfer::Permanent(message)) => {
                let _ = std::fs::remove_file(&part);
                return Err(fail(message));
            }
            Err(Transfer::Retry(message)) => {
                last_problem = message;
                continue;
            }
        }
        return match verify::check(&part, entry)? {
            Verdict::Good => {
                std::fs::rename(&part, target).map_err(|e| DataError::io(target, e))?;
                Ok(())
            }
            Verdict::WrongSize(size) => {
                let _ = std::fs::remove_file(&part);
                Err(fail(format!(
                    "received {size} bytes, expected {}",
                    entry.size
                )))
            }
            Verdict::WrongHash(actual) => {
                let moved = verify::quarantine(&part, quarantine_dir)?;
                Err(DataError::ChecksumMismatch {
                    path: target.to_path_buf(),
                    expected: entry.sha256.clone(),
                    actual,
                    moved: format!("; the download was moved to {}", moved.display()),
                })
            }
        };
    }
    let _ = std::fs::remove_file(&part);
    Err(fail(format!(
        "gave up after {} attempts; last problem: {last_problem}",
        options.attempts.max(1)
    )))
}

pub(crate) fn part_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    target.with_file_name(name)
}

enum Transfer {
    Permanent(String),
    Retry(String),
}

/// One request: resumes from the bytes already in `part` when the server supports ranges,
/// and returns once `part` holds `size` bytes.
fn transfer(
    client: &Client,
    url: &str,
    part: &Path,
    size: u64,
    progress: &ProgressBar,
) -> std::result::Result<(), Transfer> {
    let mut have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if have > size {
        let _ = std::fs::remove_file(part);
        have = 0;
    }
    if have == size && size > 0 {
        return Ok(());
    }
    let mut request = client.get(url);
    if have > 0 {
        request = request.header(RANGE, format!("bytes={have}-"));
    }
    let mut response = request
        .send()
        .map_err(|e| Transfer::Retry(format!("request failed: {e}")))?;
    let status = response.status();
    let append = match status {
        StatusCode::PARTIAL_CONTENT if have > 0 => true,
        StatusCode::OK => false,
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let _ = std::fs::remove_file(part);
            return Err(Transfer::Retry(
                "the server rejected the resume range".into(),
            ));
        }
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            return Err(Transfer::Retry(format!("HTTP {s}")));
        }
        s => return Err(Transfer::Permanent(format!("HTTP {s}"))),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .map_err(|e| Transfer::Permanent(format!("cannot write {}: {e}", part.display())))?;
    if !append && have > 0 {
        // Restarting from zero: take back the progress of the discarded bytes.
        progress.set_position(progress.position().saturating_sub(have));
    }
    let mut written = if append { have } else { 0 };
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match response.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(Transfer::Retry(format!(
                    "connection broke after {written} of {size} bytes: {e}"
                )));
            }
        };
        if written + n as u64 > size {
            drop(file);
            let _ = std::fs::remove_file(part);
            return Err(Transfer::Retry(format!(
                "the server sent more than the expected {size} bytes"
            )));
        }
        file.write_all(&buffer[..n])
            .map_err(|e| Transfer::Permanent(format!("cannot write {}: {e}", part.display())))?;
        written += n as u64;
        progress.inc(n as u64);
    }
    if written < size {
        return Err(Transfer::Retry(format!(
            "transfer ended after {written} of {size} bytes"
        )));
    }
    Ok(())
}
