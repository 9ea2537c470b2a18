//! A dataset of many small files, laid out like CIFAR-10's (`train/<class>/NNNN.jpg`), fetched
//! from a threaded HTTP server on 127.0.0.1: downloads run several at a time but never more
//! than the configured bound, an interrupted transfer is resumed, and every file ends verified.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brain_data::{Catalog, DataStore, DownloadOptions, sha256_file};

const CLASSES: [&str; 3] = ["cat", "dog", "frog"];
const PER_CLASS: usize = 40;
const PARALLEL: usize = 4;

fn content(path: &str) -> Vec<u8> {
    let seed = path.bytes().map(usize::from).sum::<usize>();
    (0..900 + seed % 200)
        .map(|i| ((i * 31 + seed) % 251) as u8)
        .collect()
}

fn paths() -> Vec<String> {
    CLASSES
        .iter()
        .flat_map(|c| (0..PER_CLASS).map(move |i| format!("train/{c}/{i:04}.jpg")))
        .collect()
}

struct Server {
    port: u16,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    ranges: Arc<Mutex<Vec<String>>>,
}

/// Serves each connection on its own thread, slowly enough (20 ms) that parallel downloads
/// overlap; the first request for `train/dog/0007.jpg` is cut off halfway. Stops by itself
/// after 400 connections or 60 s.
fn start_server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server {
        port,
        in_flight: Arc::default(),
        most_in_flight: Arc::default(),
        ranges: Arc::default(),
    };
    let (in_flight, most, ranges) = (
        server.in_flight.clone(),
        server.most_in_flight.clone(),
        server.ranges.clone(),
    );
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let cut_once = Arc::new(AtomicUsize::new(0));
        let mut served = 0;
        while served < 400 && Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            served += 1;
            let (in_flight, most, ranges, cut_once) = (
                in_flight.clone(),
                most.clone(),
                ranges.clone(),
                cut_once.clone(),
            );
            std::thread::spawn(move || {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // A request stops counting before its response is written: once the client
                // has the whole body it may open the next connection, possibly before this
                // thread would get to run again.
                serve(stream, &ranges, &cut_once, || {
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            });
        }
    });
    server
}

fn serve(
    mut stream: TcpStream,
    ranges: &Mutex<Vec<String>>,
    cut_once: &AtomicUsize,
    responding: impl FnOnce(),
) {
    stream.set_nonblocking(false).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    reader.read_line(&mut request).unwrap();
    let path = request.split_whitespace().nth(1).unwrap_or("/")[1..].to_string();
    let mut start = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
            start = v.trim().trim_end_matches('-').parse().unwrap_or(0);
            ranges.lock().unwrap().push(path.clone());
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    responding();
    if !paths().contains(&path) {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let body = content(&path);
    let n = body.len();
    if start > 0 {
        let head = format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{n}\r\nConnection: close\r\n\r\n",
            n - start,
            n - 1
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body[start..]);
        return;
    }
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let cut = path == "train/dog/0007.jpg" && cut_once.fetch_add(1, Ordering::SeqCst) == 0;
    let _ = stream.write_all(if cut { &body[..n / 2] } else { &body });
}

#[test]
fn many_small_files_download_in_bounded_parallel_and_resume() {
    let server = start_server();
    let yaml = format!(
        "- {{id: many, description: d, citation: c, license: l, regions: [], species: [],\n   \
         upstream: {{repository: a/b, commit: c}}, base_url: 'http://127.0.0.1:{}/'}}",
        server.port
    );
    let sums: String = paths()
        .iter()
        .map(|p| {
            let body = content(p);
            let sha = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&body))
            };
            format!("{sha} {} {p}\n", body.len())
        })
        .collect();
    let catalog = Catalog::parse(&yaml, |_| Some(sums.clone())).unwrap();
    let dataset = catalog.dataset("many").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let store = DataStore::new(cache.path()).with_download_options(DownloadOptions {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        parallel: PARALLEL,
    });
    let summary = store.fetch(dataset).unwrap();
    assert_eq!(summary.downloaded, CLASSES.len() * PER_CLASS);
    for file in &dataset.files {
        let local = cache.path().join("datasets/many").join(&file.path);
        assert_eq!(sha256_file(&local).unwrap(), file.sha256, "{}", file.path);
    }
    let most = server.most_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=PARALLEL).contains(&most),
        "{most} downloads at once, bound {PARALLEL}"
    );
    assert_eq!(*server.ranges.lock().unwrap(), ["train/dog/0007.jpg"]);
    // Nothing half-written is left behind.
    let leftovers = walk(cache.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "part"))
        .count();
    assert_eq!(leftovers, 0);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
