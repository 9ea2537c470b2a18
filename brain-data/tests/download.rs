//! The store against a local HTTP server on 127.0.0.1 that serves a good file, drops or
//! truncates transfers, corrupts content, or answers 404: every case ends with a verified file
//! or a clear error, and never with a partial file in the cache.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_data::{Catalog, DataError, DataStore, Dataset, DownloadOptions, sha256_file};

const SIZE: usize = 100_000;

fn payload() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 7 % 251) as u8).collect()
}

/// Requests seen by the server: (path, Range header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// Serves at most 64 connections or for 30 s, whichever comes first, then stops by itself.
fn start_server() -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut served = 0;
        let mut first_seen: HashMap<String, bool> = HashMap::new();
        while served < 64 && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    served += 1;
                    stream.set_nonblocking(false).unwrap();
                    handle(stream, &seen, &mut first_seen);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (port, log)
}

fn handle(mut stream: TcpStream, log: &Log, first_seen: &mut HashMap<String, bool>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            range = Some(v.trim().trim_end_matches('-').to_string());
        }
    }
    log.lock().unwrap().push((path.clone(), range.clone()));
    let body = payload();
    let first = !first_seen.contains_key(&path);
    first_seen.insert(path.clone(), true);
    let start: usize = range.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0);
    let send = |stream: &mut TcpStream, status: &str, headers: String, bytes: &[u8]| {
        let _ = stream.write_all(
            format!("HTTP/1.1 {status}\r\n{headers}Connection: close\r\n\r\n").as_bytes(),
        );
        let _ = stream.write_all(bytes);
    };
    let full_length = format!("Content-Length: {SIZE}\r\n");
    match path.as_str() {
        "/ok.bin" | "/flaky.bin" if start > 0 => {
            let headers = format!(
                "Content-Length: {}\r\nContent-Range: bytes {start}-{}/{SIZE}\r\n",
                SIZE - start,
                SIZE - 1
            );
            send(&mut stream, "206 Partial Content", headers, &body[start..]);
        }
        "/ok.bin" | "/mirror/test-data/ok.bin" => send(&mut stream, "200 OK", full_length, &body),
        "/flaky.bin" if first => send(&mut stream, "200 OK", full_length, &body[..SIZE / 2]),
        "/flaky.bin" => send(&mut stream, "200 OK", full_length, &body),
        "/short.bin" => send(&mut stream, "200 OK", full_length, &body[..SIZE / 3]),
        "/corrupt.bin" => {
            let mut bad = body.clone();
            bad[1234] ^= 0xff;
            send(&mut stream, "200 OK", full_length, &bad);
        }
        "/drop.bin" => {}
        _ => send(
            &mut stream,
            "404 Not Found",
            "Content-Length: 0\r\n".into(),
            &[],
        ),
    }
}

fn dataset(port: u16) -> Dataset {
    let yaml = format!(
        "- {{id: test-data, description: d, citation: c, license: l, regions: [], species: [],\n   \
         upstream: {{repository: a/b, commit: c}}, base_url: 'http://127.0.0.1:{port}/'}}"
    );
    let sha = hex_sha(&payload());
    let sums: String = [
        "ok.bin",
        "flaky.bin",
        "short.bin",
        "corrupt.bin",
        "drop.bin",
        "missing.bin",
    ]
    .iter()
    .map(|f| format!("{sha} {SIZE} {f}\n"))
    .collect();
    Catalog::parse(&yaml, |_| Some(sums.clone()))
        .unwrap()
        .dataset("test-data")
        .unwrap()
        .clone()
}

fn hex_sha(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, bytes).unwrap();
    sha256_file(&p).unwrap()
}

fn store(cache: &Path) -> DataStore {
    DataStore::new(cache).with_download_options(DownloadOptions {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        parallel: 2,
    })
}

/// Every file left under the dataset's cache folder (there must be no `.part` or bad file).
fn cache_files(cache: &Path) -> Vec<PathBuf> {
    let dir = cache.join("datasets").join("test-data");
    std::fs::read_dir(&dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn requests(log: &Log, path: &str) -> Vec<Option<String>> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, r)| r.clone())
        .collect()
}

#[test]
fn fetch_downloads_verifies_and_then_reuses_the_cache() {
    let (port, log) = start_server();
    let cache = tempfile::tempdir().unwrap();
    let d = dataset(port);
    let path = store(cache.path()).resolve(&d, "ok.bin").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), payload());
    assert_eq!(path, cache.path().join("datasets/test-data/ok.bin"));
    store(cache.path()).resolve(&d, "ok.bin").unwrap();
    assert_eq!(
        requests(&log, "/ok.bin").len(),
        1,
        "the second resolve must use the cache"
    );
}

#[test]
fn fetch_resumes_an_interrupted_transfer_with_a_range_request() {
    let (port, log) = start_server();
    let cache = tempfile::tempdir().unwrap();
    let path = store(cache.path())
        .resolve(&dataset(port), "flaky.bin")
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), payload());
    assert_eq!(
        requests(&log, "/flaky.bin"),
        vec![None, Some((SIZE / 2).to_string())]
    );
    assert_eq!(cache_files(cache.path()).len(), 1);
}

#[test]
fn fetch_rejects_corrupted_content_and_quarantines_it() {
    let (port, _) = start_server();
    let cache = tempfile::tempdir().unwrap();
    let err = store(cache.path())
        .resolve(&dataset(port), "corrupt.bin")
        .unwrap_err();
    match &err {
        DataError::ChecksumMismatch {
            path,
            expected,
            actual,
            ..
        } => {
            assert!(path.ends_with("corrupt.bin"));
            assert_eq!(expected, &hex_sha(&payload()));
            assert_ne!(actual, expected);
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("corrupt.bin") && message.contains("moved to"),
        "{message}"
    );
    assert!(cache_files(cache.path()).is_empty());
    assert_eq!(
        std::fs::read_dir(cache.path().join("quarantine/test-data"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn fetch_reports_404_at_once() {
    let (port, log) = start_server();
    let cache = tempfile::tempdir().unwrap();
    let err = store(cache.path())
        .resolve(&dataset(port), "missing.bin")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains(&format!("127.0.0.1:{port}/missing.bin")),
        "{err}"
    );
    assert_eq!(
        requests(&log, "/missing.bin").len(),
        1,
        "a 404 is not retried"
    );
    assert!(cache_files(cache.path()).is_empty());
}

#[test]
fn fetch_gives_up_on_dropped_connections_and_truncated_bodies() {
    let (port, log) = start_server();
    let cache = tempfile::tempdir().unwrap();
    for name in ["drop.bin", "short.bin"] {
        let err = store(cache.path())
            .resolve(&dataset(port), name)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(name) && err.contains("gave up after 3 attempts"),
            "{err}"
        );
        assert_eq!(requests(&log, &format!("/{name}")).len(), 3);
    }
    assert!(
        cache_files(cache.path()).is_empty(),
        "{:?}",
        cache_files(cache.path())
    );
}

#[test]
fn mirror_copies_are_verified_and_used_without_downloading() {
    let (port, log) = start_server();
    let d = dataset(port);
    let cache = tempfile::tempdir().unwrap();
    let mirror = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(mirror.path().join("test-data")).unwrap();
    std::fs::write(mirror.path().join("test-data/ok.bin"), payload()).unwrap();
    let path = store(cache.path())
        .with_mirror(mirror.path())
        .resolve(&d, "ok.bin")
        .unwrap();
    assert_eq!(path, mirror.path().join("test-data/ok.bin"));
    assert!(log.lock().unwrap().is_empty());

    // A bad mirror copy is passed over with a warning, and the file comes from the next
    // source (here upstream), verified, into the cache.
    let mut bad = payload();
    bad[0] ^= 1;
    std::fs::write(mirror.path().join("test-data/flaky.bin"), &bad).unwrap();
    std::fs::write(mirror.path().join("test-data/short.bin"), &bad).unwrap();
    let path = store(cache.path())
        .with_mirror(mirror.path())
        .resolve(&d, "ok.bin")
        .unwrap();
    assert_eq!(path, mirror.path().join("test-data/ok.bin"));
    std::fs::write(mirror.path().join("test-data/ok.bin"), &bad).unwrap();
    let path = store(cache.path())
        .with_mirror(mirror.path())
        .resolve(&d, "ok.bin")
        .unwrap();
    assert_eq!(path, cache.path().join("datasets/test-data/ok.bin"));
    assert_eq!(std::fs::read(&path).unwrap(), payload());
    assert_eq!(requests(&log, "/ok.bin").len(), 1);

    // Offline, the error says which copy was passed over and why.
    let err = store(cache.path())
        .with_mirror(mirror.path())
        .offline(true)
        .resolve(&d, "short.bin")
        .unwrap_err();
    assert!(matches!(err, DataError::Offline { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("passed over")
            && text.contains("test-data/short.bin does not match its pinned sha256"),
        "{text}"
    );
    // With upstream failing too, the error names both problems.
    let text = store(cache.path())
        .with_mirror(mirror.path())
        .resolve(&d, "short.bin")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("gave up after 3 attempts")
            && text.contains("test-data/short.bin does not match"),
        "{text}"
    );
}

#[test]
fn an_http_mirror_is_tried_before_upstream() {
    let (port, log) = start_server();
    let d = dataset(port);
    let cache = tempfile::tempdir().unwrap();
    let path = store(cache.path())
        .with_http_mirror(format!("http://127.0.0.1:{port}/mirror/"))
        .resolve(&d, "ok.bin")
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), payload());
    assert_eq!(requests(&log, "/mirror/test-data/ok.bin").len(), 1);
    assert!(requests(&log, "/ok.bin").is_empty());
    // A mirror without the file (404) falls through to upstream.
    let cache = tempfile::tempdir().unwrap();
    let path = store(cache.path())
        .with_http_mirror(format!("http://127.0.0.1:{port}/elsewhere"))
        .resolve(&d, "ok.bin")
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), payload());
    assert_eq!(requests(&log, "/elsewhere/test-data/ok.bin").len(), 1);
    assert_eq!(requests(&log, "/ok.bin").len(), 1);
}

#[test]
fn a_damaged_cache_entry_that_cannot_be_moved_is_reported_as_damaged() {
    // A cache where the quarantine cannot be made (a file in its place) stands for a
    // read-only cache, which root, running the tests, would write anyway.
    let cache = tempfile::tempdir().unwrap();
    let target = cache.path().join("datasets/test-data/ok.bin");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"stale").unwrap();
    std::fs::write(cache.path().join("quarantine"), b"in the way").unwrap();
    let text = store(cache.path())
        .offline(true)
        .resolve(&dataset(9), "ok.bin")
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("datasets/test-data/ok.bin")
            && text.contains("does not match its pinned size (5 bytes instead of 100000)")
            && text.contains("cannot move it to the quarantine"),
        "{text}"
    );
}

#[test]
fn damaged_cache_entries_are_set_aside_and_fetched_again() {
    let (port, log) = start_server();
    let cache = tempfile::tempdir().unwrap();
    let target = cache.path().join("datasets/test-data/ok.bin");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, b"stale").unwrap();
    let path = store(cache.path())
        .resolve(&dataset(port), "ok.bin")
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), payload());
    assert_eq!(requests(&log, "/ok.bin").len(), 1);
    assert_eq!(
        std::fs::read_dir(cache.path().join("quarantine/test-data"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn offline_store_without_a_local_copy_is_an_error() {
    let cache = tempfile::tempdir().unwrap();
    let err = store(cache.path())
        .offline(true)
        .resolve(&dataset(9), "ok.bin")
        .unwrap_err();
    assert!(matches!(err, DataError::Offline { .. }));
    assert!(err.to_string().contains("test-data/ok.bin"), "{err}");
}

#[test]
fn fetching_a_whole_dataset_reports_where_files_came_from() {
    let (port, _) = start_server();
    let mut d = dataset(port);
    d.files
        .retain(|f| f.path == "ok.bin" || f.path == "flaky.bin");
    let cache = tempfile::tempdir().unwrap();
    let summary = store(cache.path()).fetch(&d).unwrap();
    assert_eq!(summary.downloaded, 2);
    let again = store(cache.path()).fetch(&d).unwrap();
    assert_eq!(again.cached, 2);
    assert_eq!(again.downloaded, 0);
    // A damaged cache entry replaced from the mirror counts as a mirror file, not a cached one.
    let mirror = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(mirror.path().join("test-data")).unwrap();
    std::fs::write(mirror.path().join("test-data/ok.bin"), payload()).unwrap();
    std::fs::write(cache.path().join("datasets/test-data/ok.bin"), b"damaged").unwrap();
    let repaired = store(cache.path())
        .with_mirror(mirror.path())
        .fetch(&d)
        .unwrap();
    assert_eq!(
        (repaired.cached, repaired.mirror, repaired.downloaded),
        (1, 1, 0)
    );
}
