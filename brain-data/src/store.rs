//! Finding a dataset's files: the cache, then a mirror, then a system folder, then upstream.
//! Every file is verified against the catalog before it is handed out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::{Dataset, FileEntry};
use crate::download::{self, DownloadOptions};
use crate::error::{DataError, Result};
use crate::lock::CacheLock;
use crate::verify::{self, Verdict};

/// Where a file was found, without verifying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In the cache.
    Cache(PathBuf),
    /// In the mirror.
    Mirror(PathBuf),
    /// In the dataset's system folder.
    System(PathBuf),
    /// Nowhere locally.
    Missing,
}

/// A copy of the upstream files laid out as `<mirror>/<dataset folder>/<path>`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mirror {
    /// A local (or network-mounted) folder, read in place.
    Folder(PathBuf),
    /// An HTTP(S) server (a lab's copy), downloaded from into the cache before upstream.
    Http(String),
}

/// Access to the catalog's files on this machine.
#[derive(Debug, Clone)]
pub struct DataStore {
    cache: PathBuf,
    mirror: Option<Mirror>,
    offline: bool,
    show_progress: bool,
    download: DownloadOptions,
    client: std::sync::OnceLock<reqwest::blocking::Client>,
}

impl DataStore {
    /// A store caching under `cache`, with no mirror, downloads allowed.
    pub fn new(cache: impl Into<PathBuf>) -> Self {
        Self {
            cache: cache.into(),
            mirror: None,
            offline: false,
            show_progress: false,
            download: DownloadOptions::default(),
            client: std::sync::OnceLock::new(),
        }
    }

    /// The store a user gets: cache in `data_dir`, else `$XDG_CACHE_HOME/cortexbench`, else
    /// `~/.cache/cortexbench`; mirror from `CORTEXBENCH_MIRROR` (a folder, a `file://` URL, or
    /// an `http://`/`https://` URL of a served copy);
    /// offline when `CORTEXBENCH_OFFLINE` is `1`, `true`, `yes` or `on`; progress bars on.
    pub fn from_env(data_dir: Option<PathBuf>) -> Result<Self> {
        let cache = match data_dir {
            Some(dir) => dir,
            None => default_cache_root()?,
        };
        let mut store = DataStore::new(cache).with_progress(true);
        if let Some(mirror) = std::env::var_os("CORTEXBENCH_MIRROR").filter(|m| !m.is_empty()) {
            let mirror = mirror.to_string_lossy();
            store = if mirror.starts_with("http://") || mirror.starts_with("https://") {
                store.with_http_mirror(mirror)
            } else {
                store.with_mirror(mirror_dir(&mirror)?)
            };
        }
        if let Ok(value) = std::env::var("CORTEXBENCH_OFFLINE") {
            store = store.offline(env_flag("CORTEXBENCH_OFFLINE", &value)?);
        }
        Ok(store)
    }

    /// Looks for files in `<mirror>/<dataset folder>/<path>` before downloading (the folder is
    /// the dataset's id unless the catalog names a `mirror_folder`).
    pub fn with_mirror(mut self, mirror: impl Into<PathBuf>) -> Self {
        self.mirror = Some(Mirror::Folder(mirror.into()));
        self
    }

    /// Downloads files from `<url>/<dataset folder>/<path>` (a served copy of a mirror folder)
    /// before trying upstream.
    pub fn with_http_mirror(mut self, url: impl Into<String>) -> Self {
        self.mirror = Some(Mirror::Http(url.into().trim_end_matches('/').to_string()));
        self
    }

    /// Never download when `offline`.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Show progress bars on standard error (when it is a terminal).
    pub fn with_progress(mut self, show: bool) -> Self {
        self.show_progress = show;
        self
    }

    /// Retry, backoff, timeout and parallelism of downloads.
    pub fn with_download_options(mut self, options: DownloadOptions) -> Self {
        self.download = options;
        self.client = std::sync::OnceLock::new();
        self
    }

    /// The HTTP client, made on first use.
    fn client(&self) -> Result<&reqwest::blocking::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = download::client(&self.download)?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The cache root.
    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// The mirror folder, if the mirror is one.
    pub fn mirror_dir(&self) -> Option<&Path> {
        match &self.mirror {
            Some(Mirror::Folder(dir)) => Some(dir),
            _ => None,
        }
    }

    /// The mirror as a user would write it (folder or URL), if any.
    pub fn mirror_description(&self) -> Option<String> {
        match &self.mirror {
            Some(Mirror::Folder(dir)) => Some(dir.display().to_string()),
            Some(Mirror::Http(url)) => Some(url.clone()),
            None => None,
        }
    }

    fn cached_path(&self, dataset: &Dataset, file: &FileEntry) -> PathBuf {
        self.cache
            .join("datasets")
            .join(&dataset.id)
            .join(&file.path)
    }

    fn quarantine_dir(&self, dataset: &Dataset) -> PathBuf {
        self.cache.join("quarantine").join(&dataset.id)
    }

    /// Where a file would be taken from, without reading it.
    pub fn locate(&self, dataset: &Dataset, file: &FileEntry) -> Location {
        let cached = self.cached_path(dataset, file);
        if cached.is_file() {
            return Location::Cache(cached);
        }
        if let Some(mirror) = self.mirror_dir() {
            let p = mirror.join(dataset.mirror_name()).join(&file.path);
            if p.is_file() {
                return Location::Mirror(p);
            }
        }
        if let Some(system) = &dataset.system_dir {
            let p = system.join(&file.path);
            if p.is_file() {
                return Location::System(p);
            }
        }
        Location::Missing
    }

    /// A verified local path of `path` in `dataset`, downloading it if needed.
    pub fn resolve(&self, dataset: &Dataset, path: &str) -> Result<PathBuf> {
        let file = dataset.file(path)?;
        Ok(self.resolve_entry(dataset, file, &ProgressBar::hidden())?.0)
    }

    /// A verified local path of a file of `dataset` given its catalog entry (no lookup by
    /// path, for datasets of many files).
    pub fn local_path(&self, dataset: &Dataset, file: &FileEntry) -> Result<PathBuf> {
        Ok(self.resolve_entry(dataset, file, &ProgressBar::hidden())?.0)
    }

    /// Whether progress bars are shown.
    pub fn shows_progress(&self) -> bool {
        self.show_progress
    }

    /// Locks a file of `dataset` in the cache against other processes sharing the cache.
    fn lock(&self, dataset: &Dataset, entry: &str) -> Result<CacheLock> {
        CacheLock::acquire(
            &self.cache,
            &Path::new("datasets").join(&dataset.id).join(entry),
        )
    }

    /// The verified file and where it came from: the cache (checked without a lock: entries
    /// are renamed into place whole), else a local copy (mirror folder, system folder), else a
    /// download under the entry's lock. A source whose copy fails verification is passed over
    /// with a warning, and the error names every source that was tried.
    fn resolve_entry(
        &self,
        dataset: &Dataset,
        file: &FileEntry,
        progress: &ProgressBar,
    ) -> Result<(PathBuf, Location)> {
        let cached = self.cached_path(dataset, file);
        if cached.is_file() {
            match verify::check(&cached, file)? {
                Verdict::Good => return Ok((cached.clone(), Location::Cache(cached))),
                bad => {
                    let _lock = self.lock(dataset, &file.path).map_err(|e| {
                        corrupt_cache_entry(&cached, &bad, file, "lock it", e.to_string())
                    })?;
                    // Another process may have replaced it while this one waited.
                    match verify::check(&cached, file) {
                        Ok(Verdict::Good) => return Ok((cached.clone(), Location::Cache(cached))),
                        Ok(bad) if cached.is_file() => {
                            self.set_aside(dataset, &cached, &bad, file, progress)?
                        }
                        _ => {}
                    }
                }
            }
        }
        let mut passed_over = vec![];
        let locals = [
            self.mirror_dir()
                .map(|m| Location::Mirror(m.join(dataset.mirror_name()).join(&file.path))),
            dataset
                .system_dir
                .as_ref()
                .map(|s| Location::System(s.join(&file.path))),
        ];
        for location in locals.into_iter().flatten() {
            let (Location::Mirror(local) | Location::System(local)) = &location else {
                continue;
            };
            if !local.is_file() {
                continue;
            }
            match verify::check(local, file)? {
                Verdict::Good => return Ok((local.clone(), location)),
                bad => {
                    let problem = format!(
                        "{} does not match its pinned {}",
                        local.display(),
                        describe(&bad, file)
                    );
                    progress.suspend(|| {
                        eprintln!("warning: {problem}; not using it, trying the next source")
                    });
                    passed_over.push(problem);
                }
            }
        }
        if self.offline {
            return Err(DataError::Offline {
                dataset: dataset.id.clone(),
                path: file.path.clone(),
                cache: self.cache.clone(),
                passed_over: sentence(&passed_over),
            });
        }
        let _lock = self.lock(dataset, &file.path)?;
        if cached.is_file() && matches!(verify::check(&cached, file)?, Verdict::Good) {
            // Another process downloaded it while this one waited.
            return Ok((cached.clone(), Location::Cache(cached)));
        }
        let mut urls = vec![];
        if let Some(Mirror::Http(base)) = &self.mirror {
            urls.push(format!("{base}/{}/{}", dataset.mirror_name(), file.path));
        }
        urls.push(dataset.url(file));
        let last = urls.len() - 1;
        for (i, url) in urls.iter().enumerate() {
            let result = download::download(
                self.client()?,
                url,
                &cached,
                file,
                &self.download,
                &self.quarantine_dir(dataset),
                progress,
            );
            match result {
                Ok(()) => return Ok((cached, Location::Missing)),
                Err(e) if i < last => {
                    progress.suspend(|| eprintln!("warning: {e}; trying upstream"));
                    passed_over.push(e.to_string());
                }
                Err(DataError::Download { url, message }) if !passed_over.is_empty() => {
                    return Err(DataError::Download {
                        url,
                        message: format!("{message}{}", sentence(&passed_over)),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the last source returns")
    }

    /// Moves a damaged cache entry to the quarantine (never deleted, never used), with a
    /// warning; an error that says the entry is damaged when it cannot be moved (a read-only
    /// cache).
    fn set_aside(
        &self,
        dataset: &Dataset,
        cached: &Path,
        bad: &Verdict,
        file: &FileEntry,
        progress: &ProgressBar,
    ) -> Result<()> {
        let moved = verify::quarantine(cached, &self.quarantine_dir(dataset)).map_err(|e| {
            corrupt_cache_entry(
                cached,
                bad,
                file,
                "move it to the quarantine",
                e.to_string(),
            )
        })?;
        progress.suspend(|| {
            eprintln!(
                "warning: {} did not match its pinned {}; moved to {} and fetching it again",
                cached.display(),
                describe(bad, file),
                moved.display()
            )
        });
        Ok(())
    }

    /// Makes every file of a dataset available and verified, downloading what is missing
    /// (several at a time). Returns how many files came from each kind of place.
    pub fn fetch(&self, dataset: &Dataset) -> Result<FetchSummary> {
        let progress = if self.show_progress {
            let bar = ProgressBar::new(dataset.total_size());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(dataset.id.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        let next = AtomicUsize::new(0);
        let results: Vec<Result<Vec<(usize, Location)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.download.parallel.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = vec![];
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(file) = dataset.files.get(i) else {
                                break;
                            };
                            let (_, source) = self.resolve_entry(dataset, file, &progress)?;
                            if source != Location::Missing {
                                progress.inc(file.size);
                            }
                            done.push((i, source));
                        }
                        Ok(done)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("fetch worker panicked"))
                .collect()
        });
        progress.finish_and_clear();
        let mut summary = FetchSummary::default();
        for result in results {
            for (_, location) in result? {
                match location {
                    Location::Cache(_) => summary.cached += 1,
                    Location::Mirror(_) => summary.mirror += 1,
                    Location::System(_) => summary.system += 1,
                    Location::Missing => summary.downloaded += 1,
                }
            }
        }
        Ok(summary)
    }
}

/// Where the files of a fetch came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchSummary {
    /// Already in the cache.
    pub cached: usize,
    /// Found in the mirror.
    pub mirror: usize,
    /// Found in the system folder.
    pub system: usize,
    /// Downloaded.
    pub downloaded: usize,
}

fn describe(verdict: &Verdict, file: &FileEntry) -> String {
    match verdict {
        Verdict::Good => "content".into(),
        Verdict::WrongSize(size) => format!("size ({size} bytes instead of {})", file.size),
        Verdict::WrongHash(actual) => format!("sha256 ({actual} instead of {})", file.sha256),
    }
}

/// The error for a damaged cache entry that cannot be set aside: it says the entry is
/// damaged, not only why it could not be moved.
fn corrupt_cache_entry(
    cached: &Path,
    bad: &Verdict,
    file: &FileEntry,
    action: &str,
    why: String,
) -> DataError {
    DataError::format(
        cached,
        format!(
            "the cached copy does not match its pinned {}, and cortexbench cannot {action} ({why}); \
             delete it, or make the cache writable",
            describe(bad, file)
        ),
    )
}

/// `"; passed over: a; b"`, or nothing.
fn sentence(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!("; passed over: {}", problems.join("; "))
    }
}

fn default_cache_root() -> Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("cortexbench"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("cortexbench"))
        .ok_or_else(|| DataError::Catalog {
            what: "cache location".into(),
            message: "neither XDG_CACHE_HOME nor HOME is set; pass --data-dir".into(),
        })
}

fn mirror_dir(value: &str) -> Result<PathBuf> {
    let path = PathBuf::from(value.strip_prefix("file://").unwrap_or(value));
    if !path.is_dir() {
        return Err(DataError::format(
            &path,
            "CORTEXBENCH_MIRROR must name an existing folder (or a file:// URL of one)",
        ));
    }
    Ok(path)
}

/// A yes/no environment variable: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, empty
/// (any case); anything else is an error, not silently "no".
fn env_flag(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(DataError::Environment {
            name: name.into(),
            value: value.into(),
            message: "expected 1/0, true/false, yes/no or on/off".into(),
        }),
    }
}

#[cfg(test)]
mod env_tests {
    use super::*;

    #[test]
    fn yes_no_variables_read_the_usual_spellings_and_refuse_others() {
        for yes in ["1", "true", "TRUE", "yes", "On"] {
            assert!(env_flag("X", yes).unwrap(), "{yes}");
        }
        for no in ["", "0", "false", "No", "off"] {
            assert!(!env_flag("X", no).unwrap(), "{no}");
        }
        let err = env_flag("CORTEXBENCH_OFFLINE", "ja")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CORTEXBENCH_OFFLINE=ja") && err.contains("true/false"),
            "{err}"
        );
    }
}
