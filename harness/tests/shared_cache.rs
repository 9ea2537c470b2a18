//! Two shards of one run, started at once on one empty cache, with a loopback HTTP server as
//! the only source of the data: both succeed, each file is downloaded once (the second process
//! waits on the first one's lock instead of writing the same file), every cached file
//! verifies, and the zoo network both need is trained once.

mod support;

use support::mirror;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brain_data::Catalog;

const DATASET: &str = "kriegeskorte2008-92images";

/// Paths requested so far, with their counts.
type Requests = Arc<Mutex<HashMap<String, usize>>>;

/// Serves the mirror folder over HTTP on 127.0.0.1, one thread per connection, sending each
/// file slowly (64 KiB every 2 ms) so that the two processes' requests overlap.
fn serve(root: PathBuf) -> (u16, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests: Requests = Arc::default();
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, seen) = (root.clone(), seen.clone());
            std::thread::spawn(move || answer(stream, &root, &seen));
        }
    });
    (port, requests)
}

fn answer(mut stream: TcpStream, root: &Path, seen: &Requests) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    *seen.lock().unwrap().entry(path.clone()).or_default() += 1;
    let file = root.join(path.trim_start_matches('/'));
    let body = match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => body,
        _ => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
    };
    let header = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if stream.write_all(header.as_bytes()).is_err() {
        return;
    }
    for chunk in body.chunks(1 << 16) {
        if stream.write_all(chunk).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn two_shards_on_one_empty_cache_download_and_train_everything_once() {
    let (port, requests) = serve(mirror());
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("run.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: zoo, rule: bp, arch: mlp, dataset: fashion-mnist}\n\
         benchmarks: [kiani2007.IT-rsa, kriegeskorte2008.hIT-rsa]\nseed: 3\n",
    )
    .unwrap();
    let shard = |i: usize| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["score", "--config", config.to_str().unwrap()])
            .args(["--shard", &format!("{i}/2")])
            .args(["--data-dir", cache.to_str().unwrap()])
            .args(["--out", tmp.path().join(format!("s{i}")).to_str().unwrap()])
            .env("CORTEXBENCH_MIRROR", format!("http://127.0.0.1:{port}/"))
            .env_remove("CORTEXBENCH_OFFLINE")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (shard(0), shard(1));
    let mut logs = String::new();
    for (i, child) in [first, second].into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "shard {i} failed: {log}");
        logs.push_str(&log);
    }
    // One shard trained it and says so; the other waited and uses it.
    assert_eq!(logs.matches("model: trained").count(), 1, "{logs}");

    // Every file the benchmarks read came from the server exactly once, and verifies.
    let catalog = Catalog::builtin();
    let dataset = catalog.dataset(DATASET).unwrap();
    let requests = requests.lock().unwrap().clone();
    assert!(!requests.is_empty());
    for (path, count) in &requests {
        assert_eq!(
            *count, 1,
            "{path} was downloaded {count} times: {requests:?}"
        );
    }
    let folder = cache.join("datasets").join(DATASET);
    let mut cached = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let pinned = dataset
            .file(&name)
            .unwrap_or_else(|_| panic!("{} is not a file of the dataset", path.display()));
        assert_eq!(
            brain_data::sha256_file(&path).unwrap(),
            pinned.sha256,
            "{name}"
        );
        assert!(
            requests.contains_key(&format!("/{DATASET}/{name}")),
            "{name}"
        );
        cached += 1;
    }
    assert_eq!(cached, requests.len());
    assert!(!cache.join("quarantine").exists());

    // The zoo network both shards score was trained once, into one folder.
    let zoo: Vec<_> = std::fs::read_dir(cache.join("zoo/by-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(zoo.len(), 1, "{zoo:?}");
    let names: Vec<String> = std::fs::read_dir(&zoo[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["model.safetensors"], "{names:?}");
    // Both shards scored that checkpoint, by its hash in their manifests.
    let trained = brain_data::sha256_file(&zoo[0].join("model.safetensors")).unwrap();
    for shard in ["s0", "s1"] {
        let text = std::fs::read_to_string(tmp.path().join(shard).join("manifest.yaml")).unwrap();
        let manifest: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let models = manifest["models"].as_sequence().expect("a models list");
        let hashes: Vec<&str> = models.iter().filter_map(|m| m["sha256"].as_str()).collect();
        assert_eq!(hashes, [trained.as_str()], "{shard}");
    }
}
