//! `harness similarity` from the command line, on the golden arrays and on bad input.

mod support;

use support::golden;

use std::path::Path;
use std::process::{Command, Output};

use ndarray::{Array1, Array2};
use ndarray_npy::write_npy;
use serde_json::Value;

fn golden_value(key: &str) -> f64 {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(golden("golden.json")).unwrap()).unwrap();
    json["values"][key].as_f64().unwrap()
}

/// `harness similarity` with `args` (no data needed).
fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("similarity")
        .args(args)
        .output()
        .expect("harness runs")
}

fn json_score(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = harness(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn rsa_and_cka_on_golden_arrays_match_reference_values() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let rsa = json_score(&["--metric", "rsa", "--x", p(&x), "--y", p(&y)]);
    assert_eq!(rsa["metric"], "rsa");
    assert_eq!(rsa["options"]["compare"], "spearman");
    assert!((rsa["score"].as_f64().unwrap() - golden_value("compare_spearman")).abs() < 1e-6);
    let tau = json_score(&[
        "--metric",
        "rsa",
        "--compare",
        "tau-a",
        "--x",
        p(&x),
        "--y",
        p(&y),
    ]);
    assert!((tau["score"].as_f64().unwrap() - golden_value("compare_tau-a")).abs() < 1e-6);
    let cka = json_score(&[
        "--metric",
        "cka",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--bootstrap",
        "50",
    ]);
    assert!((cka["score"].as_f64().unwrap() - golden_value("cka_linear_debiased")).abs() < 1e-6);
    let ci = &cka["confidence_interval"];
    assert!(ci["low"].as_f64().unwrap() < ci["high"].as_f64().unwrap());
    let rbf = json_score(&[
        "--metric",
        "cka",
        "--kernel",
        "rbf",
        "--biased",
        "--x",
        p(&x),
        "--y",
        p(&y),
    ]);
    assert!((rbf["score"].as_f64().unwrap() - golden_value("cka_rbf_0.5")).abs() < 1e-6);
}

/// `--spec` takes any metric in the words of `benchmarks.yaml` and scores it as a benchmark
/// does: the same numbers as the dedicated flags; a bad spec is refused by name.
#[test]
fn a_yaml_metric_spec_scores_exactly_as_the_dedicated_flags() {
    let (x, y, labels) = (golden("X.npy"), golden("Y.npy"), golden("labels.npy"));
    let base = ["--x", p(&x), "--y", p(&y)];
    let with = |extra: &[&str]| {
        let mut all = base.to_vec();
        all.extend(extra);
        json_score(&all)
    };
    let pairs: [(&[&str], &str); 3] = [
        (
            &["--metric", "rsa", "--compare", "tau-a"],
            "{kind: rsa, compare: tau-a}",
        ),
        (&["--metric", "cka"], "{kind: cka}"),
        (
            &["--metric", "ridge", "--alpha", "10", "--labels", p(&labels)],
            "{kind: predictivity, regression: {kind: ridge, alpha: 10}}",
        ),
    ];
    for (flags, spec) in pairs {
        let by_flags = with(flags);
        let mut spec_args = vec!["--spec", spec];
        if spec.contains("predictivity") {
            spec_args.extend(["--labels", p(&labels)]);
        }
        let by_spec = with(&spec_args);
        assert_eq!(by_spec["score"], by_flags["score"], "{spec}");
        assert_eq!(by_spec["sem"], by_flags["sem"], "{spec}");
        assert_eq!(by_spec["per_split"], by_flags["per_split"], "{spec}");
    }
    assert!(
        (with(&["--spec", "{kind: rsa}"])["score"].as_f64().unwrap()
            - golden_value("compare_spearman"))
        .abs()
            < 1e-6
    );
    for (spec, says) in [
        ("{kind: pls}", "pls"),
        ("{kind: cka, debiassed: true}", "debiassed"),
        (
            "{kind: predictivity, regression: {kind: pls, n_components: 0}}",
            "component",
        ),
    ] {
        let mut all = base.to_vec();
        all.extend(["--spec", spec]);
        let out = harness(&all);
        assert!(!out.status.success(), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--spec") && err.contains(says),
            "{spec}: {err}"
        );
    }
}

#[test]
fn pls_and_ridge_on_the_golden_split_match_sklearn() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let (train, test) = (golden("train_idx.npy"), golden("test_idx.npy"));
    let split = ["--train-idx", p(&train), "--test-idx", p(&test)];
    let mut pls_args = vec!["--metric", "pls", "--x", p(&x), "--y", p(&y)];
    pls_args.extend(split);
    let pls = json_score(&pls_args);
    assert!((pls["score"].as_f64().unwrap() - golden_value("pls25_median_r")).abs() < 1e-6);
    let mut ridge_args = vec![
        "--metric",
        "ridge",
        "--alpha",
        "1",
        "--x",
        p(&x),
        "--y",
        p(&y),
    ];
    ridge_args.extend(split);
    let ridge = json_score(&ridge_args);
    assert!((ridge["score"].as_f64().unwrap() - golden_value("ridge1_median_r")).abs() < 1e-6);
}

#[test]
fn cross_validated_pls_reports_splits_ceiling_and_normalisation() {
    let (x, y, labels, reps) = (
        golden("X.npy"),
        golden("Y.npy"),
        golden("labels.npy"),
        golden("R.npy"),
    );
    let args = [
        "--metric",
        "pls",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--labels",
        p(&labels),
        "--repetitions",
        p(&reps),
        "--normalization",
        "raw^2/ceiling",
    ];
    let out = json_score(&args);
    let per_split = out["per_split"].as_array().unwrap();
    assert_eq!(per_split.len(), 10);
    let mean = per_split.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / 10.0;
    assert!((out["score"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert_eq!(out["options"]["stratified"], true);
    let ceiling = &out["ceiling"];
    assert_eq!(ceiling["normalization"], "raw^2/ceiling");
    let (raw, c) = (
        out["score"].as_f64().unwrap(),
        ceiling["value"].as_f64().unwrap(),
    );
    assert!((ceiling["normalized_score"].as_f64().unwrap() - raw * raw / c).abs() < 1e-12);
    assert!(c > 0.9 && c < 1.0, "golden responses are reliable: {c}");
    // Same seed, same numbers.
    let again = json_score(&args);
    assert_eq!(out, again);
}

#[test]
fn ridge_cv_reports_chosen_penalties() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let out = json_score(&[
        "--metric",
        "ridge",
        "--alphas",
        "0.1,1,10,100",
        "--x",
        p(&x),
        "--y",
        p(&y),
    ]);
    let alphas = out["details"]["alpha_per_split"].as_array().unwrap();
    assert_eq!(alphas.len(), 10);
    assert!(
        alphas
            .iter()
            .all(|a| [0.1, 1.0, 10.0, 100.0].contains(&a.as_f64().unwrap()))
    );
}

fn stderr_of(args: &[&str]) -> String {
    let out = harness(args);
    assert!(!out.status.success(), "expected failure for {args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes a bad x file, scores it against the golden Y, and checks that the error names the
/// file and contains every expected fragment.
fn assert_bad_x(metric: &str, file: &str, write: impl FnOnce(&Path), expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    write(&path);
    let y = golden("Y.npy");
    let err = stderr_of(&["--metric", metric, "--x", p(&path), "--y", p(&y)]);
    assert!(err.contains(file), "{err}");
    for fragment in expected {
        assert!(err.contains(fragment), "expected '{fragment}' in: {err}");
    }
}

#[test]
fn bad_inputs_fail_with_messages_naming_the_file() {
    let mut with_nan = Array2::<f64>::ones((60, 4));
    with_nan[[7, 1]] = f64::NAN;
    assert_bad_x(
        "rsa",
        "nan.npy",
        |f| write_npy(f, &with_nan).unwrap(),
        &["NaN", "(7, 1)"],
    );
    assert_bad_x(
        "cka",
        "short.npy",
        |f| write_npy(f, &Array2::<f32>::ones((59, 4))).unwrap(),
        &["59 stimuli"],
    );
    assert_bad_x(
        "pls",
        "flat.npy",
        |f| write_npy(f, &Array1::<f64>::ones(60)).unwrap(),
        &["2 dimensions"],
    );
    assert_bad_x(
        "pls",
        "ints.npy",
        |f| write_npy(f, &Array2::<i64>::ones((60, 3))).unwrap(),
        &["float32 or float64"],
    );
    assert_bad_x("rsa", "missing.npy", |_| {}, &["not found"]);
    assert_bad_x(
        "rsa",
        "garbage.npy",
        |f| std::fs::write(f, b"not an npy file").unwrap(),
        &["not a readable .npy"],
    );
    assert_bad_x(
        "rsa",
        "constant.npy",
        |f| write_npy(f, &Array2::<f64>::ones((60, 4))).unwrap(),
        &["zero variance"],
    );
    // A header that claims 10^12 values is refused from the file size, not allocated.
    assert_bad_x(
        "rsa",
        "huge.npy",
        |f| {
            let mut header =
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"
                    .to_string();
            while !(10 + header.len() + 1).is_multiple_of(64) {
                header.push(' ');
            }
            header.push('\n');
            let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
            bytes.extend_from_slice(header.as_bytes());
            bytes.extend_from_slice(&[0u8; 60 * 4 * 8]);
            std::fs::write(f, bytes).unwrap();
        },
        &["1000000", "bytes"],
    );
}

#[test]
fn labels_of_another_type_are_refused_saying_which_types_are_read() {
    let (x, _) = (golden("X.npy"), golden("Y.npy"));
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("labels.npy");
    write_npy(&labels, &Array1::<u8>::ones(60)).unwrap();
    let err = stderr_of(&["--metric", "capacity", "--x", p(&x), "--labels", p(&labels)]);
    assert!(
        err.contains("labels.npy")
            && err.contains("int64, int32")
            && !err.contains("must be float32 or float64"),
        "{err}"
    );
}

#[test]
fn labels_of_the_wrong_length_are_refused_naming_the_file() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let rows = ndarray_npy::read_npy::<_, Array2<f64>>(&x).unwrap().nrows();
    let dir = tempfile::tempdir().unwrap();
    let labels = dir.path().join("short-labels.npy");
    write_npy(&labels, &Array1::<i64>::zeros(rows - 1)).unwrap();
    for args in [
        vec!["--metric", "capacity", "--x", p(&x), "--labels", p(&labels)],
        vec![
            "--metric",
            "pls",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--labels",
            p(&labels),
        ],
    ] {
        let err = stderr_of(&args);
        assert!(
            err.contains("short-labels.npy")
                && err.contains(&format!("{} labels", rows - 1))
                && err.contains(&format!("{rows} stimuli")),
            "{err}"
        );
    }
}

#[test]
fn work_beyond_the_available_memory_is_refused_before_reading_unless_forced() {
    // 2000 stimuli: RSA holds a few 2000 x 2000 matrices (about 130 MB), far more than the
    // 10 MB this run is told are available.
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    let y = dir.path().join("y.npy");
    write_npy(
        &x,
        &Array2::<f64>::from_shape_fn((2000, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64),
    )
    .unwrap();
    write_npy(
        &y,
        &Array2::<f64>::from_shape_fn((2000, 2), |(i, j)| ((i * 5 + j) % 13) as f64),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args(["similarity", "--metric", "rsa", "--x", p(&x), "--y", p(&y)])
            .args(extra)
            .env("CORTEXBENCH_MEMORY_AVAILABLE", "10M")
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: ")
            && err.contains("rsa on 2000 stimuli")
            && err.contains("10 MiB is available")
            && err.contains("--force"),
        "{err}"
    );
    let forced = run(&["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    // A bad value of the variable is an error, not ignored.
    let bad = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["similarity", "--metric", "rsa", "--x", p(&x), "--y", p(&y)])
        .env("CORTEXBENCH_MEMORY_AVAILABLE", "plenty")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("CORTEXBENCH_MEMORY_AVAILABLE=plenty"),
        "{err}"
    );
}

#[test]
fn float32_inputs_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let x: Array2<f64> = ndarray_npy::read_npy(golden("X.npy")).unwrap();
    let x32 = dir.path().join("x32.npy");
    write_npy(&x32, &x.mapv(|v| v as f32)).unwrap();
    let y = golden("Y.npy");
    let out = json_score(&["--metric", "rsa", "--x", p(&x32), "--y", p(&y)]);
    assert!((out["score"].as_f64().unwrap() - golden_value("compare_spearman")).abs() < 1e-4);
}

/// Issue 16, items 4 and 5: an empty, repeated or overlapping fixed split is refused with
/// both files named (it used to panic, or to score held-out stimuli that were also trained
/// on), and so is an empty test set.
#[test]
fn bad_fixed_splits_are_refused_naming_the_index_files() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, values: &[i64]| {
        let path = dir.path().join(name);
        write_npy(&path, &Array1::from(values.to_vec())).unwrap();
        path
    };
    let train = write("train.npy", &(0..30).collect::<Vec<_>>());
    let test = write("test.npy", &(30..40).collect::<Vec<_>>());
    let empty = write("empty.npy", &[]);
    let overlapping = write("overlap.npy", &(25..35).collect::<Vec<_>>());
    let repeated = write("repeated.npy", &[30, 31, 31, 32]);
    for (train, test, says) in [
        (&empty, &test, "train set of a split is empty"),
        (&train, &empty, "test set of a split is empty"),
        (&train, &overlapping, "in both the train and the test set"),
        (&train, &repeated, "appears twice in the test set"),
    ] {
        let err = stderr_of(&[
            "--metric",
            "pls",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--train-idx",
            p(train),
            "--test-idx",
            p(test),
        ]);
        let (a, b) = (
            train.file_name().unwrap().to_str().unwrap(),
            test.file_name().unwrap().to_str().unwrap(),
        );
        assert!(
            err.starts_with("error:") && err.contains(a) && err.contains(b) && err.contains(says),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    // Absurd split counts are refused before anything is allocated.
    let err = stderr_of(&[
        "--metric",
        "pls",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--splits",
        "100000000000",
    ]);
    assert!(err.contains("1 to 10000"), "{err}");
}

/// Issue 16, item 4: printing into a closed pipe (`harness similarity … | head -1`) ends the
/// process quietly, not with a panic.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "similarity",
            "--metric",
            "rsa",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--bootstrap",
            "200",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// `--metric spectral` prints the theory's learning curve of the numpy reference
/// (`scripts/spectral_reference.py`) on the golden arrays, to 1e-8, next to a simulated one.
#[test]
fn spectral_theory_on_the_golden_arrays_matches_the_numpy_reference() {
    let (x, y) = (golden("X.npy"), golden("Y.npy"));
    let out = json_score(&[
        "--metric",
        "spectral",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--alpha",
        "0.001",
        "--p",
        "5,10,20,30,40,50",
        "--trials",
        "3",
    ]);
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../evaluators/tests/data/spectral_reference.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let case = reference["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["centre"] == true && c["alpha"].as_f64() == Some(0.001))
        .unwrap();
    let curves = out["details"]["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 6);
    for (curve, want) in curves.iter().zip(case["theory"].as_array().unwrap()) {
        for (field, reference_field) in [
            ("theory", "error"),
            ("radius", "radius"),
            ("dimension", "dimension"),
            ("kappa", "kappa"),
        ] {
            let (got, want) = (
                curve[field].as_f64().unwrap(),
                want[reference_field].as_f64().unwrap(),
            );
            assert!(
                (got - want).abs() <= 1e-8 * want.abs().max(1.0),
                "p {}: {field} {got} vs numpy {want}",
                curve["p"]
            );
        }
        assert!(curve["empirical"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(out["score"], curves[5]["theory"]);
    assert_eq!(
        out["details"]["top_error_modes"].as_array().unwrap().len(),
        10
    );
    let bad = harness(&[
        "--metric",
        "spectral",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--p",
        "60",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1..60"));
}
