//! What the command-line tests share: where the data mirror and the golden values are, and
//! running the `harness` binary against them. Each test file uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared data mirror: `CORTEXBENCH_MIRROR`, else `../shared/brain-data` beside the
/// checkout.
pub fn mirror() -> PathBuf {
    let dir = std::env::var_os("CORTEXBENCH_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/brain-data")
        });
    assert!(
        dir.is_dir(),
        "data mirror not found at {} (set CORTEXBENCH_MIRROR)",
        dir.display()
    );
    dir
}

/// The pretrained EfficientNet-Lite0 beside the data mirror (`../models/`).
pub fn efficientnet() -> PathBuf {
    let path = mirror().join("../models/efficientnet_lite0.onnx");
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// A file of the golden metric values: `CORTEXBENCH_GOLDEN/metrics/<name>`, else
/// `../shared/golden/metrics/<name>`.
pub fn golden(name: &str) -> PathBuf {
    let dir = std::env::var_os("CORTEXBENCH_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden"));
    let path = dir.join("metrics").join(name);
    assert!(
        path.is_file(),
        "{} missing (set CORTEXBENCH_GOLDEN)",
        path.display()
    );
    path
}

/// Runs `harness` with the mirror as its data source and the default cache.
pub fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .env("CORTEXBENCH_MIRROR", mirror())
        .output()
        .expect("harness runs")
}

/// Runs `harness` offline with `cache` as its data folder and the mirror as its source.
pub fn offline(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .args(["--offline", "--data-dir", s(cache)])
        .env("CORTEXBENCH_MIRROR", mirror())
        .output()
        .expect("harness runs")
}

/// The standard output of a run that must succeed (else a failure showing both streams).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A path as a command-line argument.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Every path under `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

/// Polls (every 5 ms, up to 300 s) until `found` returns something, failing if `child` exits
/// first: e.g. until a training run has saved its first epoch, to kill it there.
pub fn wait_while_running<T>(
    child: &mut std::process::Child,
    mut found: impl FnMut() -> Option<T>,
) -> T {
    let started = std::time::Instant::now();
    loop {
        if let Some(it) = found() {
            return it;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before what it waited for was seen"
        );
        assert!(started.elapsed().as_secs() < 300, "not seen after 300 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
