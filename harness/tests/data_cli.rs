//! `harness datasets` and `harness fetch` against the real mirror.

mod support;

use support::{mirror, offline};

use std::process::Command;

use ndarray::Array3;

fn stdout_of(args: &[&str], cache: &std::path::Path) -> String {
    let out = offline(args, cache);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn datasets_lists_every_dataset_with_where_it_is() {
    let cache = tempfile::tempdir().unwrap();
    let out = stdout_of(&["datasets"], cache.path());
    for id in [
        "kriegeskorte2008-92images",
        "cowley2023-v4",
        "tang2018-v1",
        "fashion-mnist",
    ] {
        assert!(out.contains(id), "{out}");
    }
    let cowley = out
        .lines()
        .find(|l| l.starts_with("cowley2023-v4"))
        .unwrap();
    assert!(
        cowley.contains("66") && cowley.contains("GPL-3.0") && cowley.ends_with("mirror"),
        "{cowley}"
    );
    assert!(
        out.contains(&format!("mirror: {}", mirror().display())),
        "{out}"
    );
    // A served mirror is named as the URL it is.
    let served = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "datasets",
            "--offline",
            "--data-dir",
            cache.path().to_str().unwrap(),
        ])
        .env("CORTEXBENCH_MIRROR", "http://127.0.0.1:9/lab-mirror/")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&served.stdout);
    assert!(
        text.contains("mirror: http://127.0.0.1:9/lab-mirror\n"),
        "{text}"
    );
}

#[test]
fn fetch_verifies_a_dataset_from_the_mirror_and_rejects_unknown_ids() {
    let cache = tempfile::tempdir().unwrap();
    let out = stdout_of(&["fetch", "kriegeskorte2008-92images"], cache.path());
    assert!(
        out.contains("4 files verified") && out.contains("4 from the mirror"),
        "{out}"
    );
    let failed = offline(&["fetch", "no-such-dataset"], cache.path());
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("unknown dataset 'no-such-dataset'"), "{err}");
}

#[test]
fn benchmark_listing_reports_the_measured_v4_ceiling() {
    let cache = tempfile::tempdir().unwrap();
    let out = stdout_of(&["datasets", "--benchmarks"], cache.path());
    let row = out
        .lines()
        .find(|l| l.starts_with("cowley2023.V4-pls"))
        .unwrap();
    let listed: f64 = row.split_whitespace().nth(5).unwrap().parse().unwrap();
    // Independently: the raw file, transposed to (images, neurons, repeats), same seed and splits.
    let raw: Array3<f64> =
        ndarray_npy::read_npy(mirror().join("cowley2023-v4/responses_raw/responses_210325.npy"))
            .unwrap();
    let responses = raw
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned();
    let expected = evaluators::split_half_ceiling(responses.view(), 10, 1)
        .unwrap()
        .ceiling;
    assert!((listed - expected).abs() < 5e-5, "{listed} vs {expected}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("tang2018.V1-pls") && l.contains("none:")),
        "{out}"
    );
    // scipy on 92_brainRDMs.mat (mean-pooled Nili bounds): lower 0.326552, upper 0.519459.
    assert!(out.contains("lower 0.3266, upper 0.5195"), "{out}");
}

#[test]
fn every_failure_ends_with_one_error_line_and_status_1_and_usage_errors_with_2() {
    let cache = tempfile::tempdir().unwrap();
    // A panic (forced here; debug builds only) is reported like any other failure.
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["datasets", "--data-dir", cache.path().to_str().unwrap()])
        .env("CORTEXBENCH_DEBUG_PANIC", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: internal error at ") && err.contains("please report it"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // An ordinary failure.
    let out = offline(&["fetch", "no-such-dataset"], cache.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    // A command-line usage error keeps clap's status 2 (as the README says).
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["score", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}
