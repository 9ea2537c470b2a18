//! `harness score` end to end on the real data mirror, and what runs are for afterwards:
//! `compare` (the CI gate), `reproduce`, `--shard` + `merge`, and clear failures.

mod support;

use support::{mirror, offline, ok, wait_while_running};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reports::{Leaderboard, ScoreRow};

/// Commands that read no brain data (`compare`, `merge`).
fn harness_without_data(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs")
}

/// A small CNN checkpoint, as `harness train` would write it (untrained weights).
fn checkpoint(dir: &Path, seed: u64) -> PathBuf {
    let config = model_zoo::TrainConfig::cnn_default(model_zoo::RuleConfig::Bp, 1, seed);
    let net = model_zoo::Network::cnn(
        (28, 28, 1),
        &[(4, 5), (8, 5)],
        &[16, 10],
        model_zoo::Activation::Tanh,
        seed,
    )
    .unwrap();
    let folder = dir.join("tiny-cnn");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("model.safetensors");
    model_zoo::checkpoint::save(&path, &net, &config).unwrap();
    path
}

fn manifest_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("manifest.yaml")).unwrap()
}

fn rows(dir: &Path) -> Vec<ScoreRow> {
    reports::read_results(&dir.join("results.json")).unwrap()
}

#[test]
fn one_off_score_writes_tables_leaderboard_report_and_manifest_and_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let ckpt = checkpoint(tmp.path(), 7);
    let out = tmp.path().join("run");
    let stdout = ok(&offline(
        &[
            "score",
            "--model",
            ckpt.to_str().unwrap(),
            "--benchmark",
            "kiani2007.IT-rsa,kriegeskorte2008.hIT-rsa,cowley2023.V4-pls",
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    ));
    assert!(stdout.contains("kriegeskorte2008.hIT-rsa"), "{stdout}");
    for file in [
        "results.parquet",
        "results.csv",
        "results.json",
        "leaderboard.json",
        "leaderboard.md",
        "report.html",
        "manifest.yaml",
        "rdms.json",
        "bootstrap.json",
        "leaderboard.csv",
        "leaderboard.parquet",
        "pairwise.csv",
        "pairwise.parquet",
        "groups.csv",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let rows = rows(&out);
    // 4 layers x 3 benchmarks, one chosen layer per benchmark.
    assert_eq!(rows.len(), 12);
    for b in [
        "kiani2007.IT-rsa",
        "kriegeskorte2008.hIT-rsa",
        "cowley2023.V4-pls",
    ] {
        let of: Vec<&ScoreRow> = rows.iter().filter(|r| r.benchmark == b).collect();
        assert_eq!(of.len(), 4, "{b}");
        assert_eq!(of.iter().filter(|r| r.selected).count(), 1, "{b}");
        let chosen = of.iter().find(|r| r.selected).unwrap();
        let best = of
            .iter()
            .map(|r| r.selection_score)
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(
            chosen.selection_score, best,
            "{b}: the layer is chosen on the selection half"
        );
        for r in &of {
            assert!(r.raw.is_finite() && r.raw.abs() <= 1.0, "{r:?}");
        }
    }
    // The spectral decomposition of every layer against the V4 responses (the one response
    // target here), ten training-set sizes each, with E_g = R_em √D_em.
    let spectral: Vec<reports::SpectralRow> = serde_json::from_str(
        &std::fs::read_to_string(out.join("spectral.json")).expect("spectral.json"),
    )
    .unwrap();
    assert_eq!(spectral.len(), 4 * 10);
    assert!(out.join("spectral.csv").is_file());
    for r in &spectral {
        assert_eq!(
            (r.target.as_str(), r.n_stimuli),
            ("V4 cowley2023 210325", 640)
        );
        assert!(
            (r.radius * r.dimension.sqrt() - r.theory).abs() < 1e-9,
            "{r:?}"
        );
        assert!(r.theory > 0.0 && r.empirical.unwrap() > 0.0, "{r:?}");
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Spectral theory of neural prediction"));
    assert!(report.contains("error-mode radius R_em"));
    // Ceilings: none for the monkey RDM, Nili upper bound for human IT, split-half for V4.
    let kiani = rows
        .iter()
        .find(|r| r.benchmark == "kiani2007.IT-rsa")
        .unwrap();
    assert!(kiani.ceiling.is_none() && kiani.normalization.is_none());
    assert!(
        kiani.ceiling_method.starts_with("none: "),
        "{}",
        kiani.ceiling_method
    );
    for b in ["kriegeskorte2008.hIT-rsa", "cowley2023.V4-pls"] {
        for r in rows.iter().filter(|r| r.benchmark == b) {
            let c = r.ceiling.unwrap();
            assert!(c > 0.0 && c < 1.0, "{b} ceiling {c}");
            assert!((r.normalized.unwrap() - r.raw / c).abs() < 1e-12);
            assert_eq!(r.normalization.as_deref(), Some("raw/ceiling"));
        }
    }
    // Stimuli: the report half of 92 and of 640.
    assert_eq!(kiani.n_stimuli, 46);
    assert_eq!(
        rows.iter()
            .find(|r| r.benchmark == "cowley2023.V4-pls")
            .unwrap()
            .n_stimuli,
        320
    );
    // Parquet and CSV hold the same table.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    assert!(csv.starts_with("model,rule,architecture,layer,layer_index,benchmark"));
    let parquet = std::fs::read(out.join("results.parquet")).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    // The leaderboard holds the chosen layers, each with a bootstrap interval around it (one
    // model: no pairs to test, and it is its benchmarks' best).
    let board = Leaderboard::load(&out.join("leaderboard.json")).unwrap();
    assert_eq!(board.entries.len(), 3);
    for e in &board.entries {
        assert!(e.row.selected);
        assert_eq!((e.n_seeds, e.seeds.as_slice()), (1, &[1][..]));
        let [lo, hi] = e.ci95.expect("interval");
        assert!(lo < e.headline() && e.headline() < hi, "{e:?}");
        assert_eq!(e.tied_with_best, Some(true));
    }
    assert!(board.pairwise.is_empty() && board.groups.len() == 3);
    let note = board.statistics.as_ref().unwrap();
    assert_eq!((note.resamples, note.confidence), (1000, 0.95));
    // The human-IT interval draws subjects too (4 subjects of 2 sessions each).
    assert!(manifest_text(&out).contains("resampled_subjects: 4"));
    // The report is self-contained: inline SVG, nothing fetched.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 5,
        "bar chart, 3 layer curves, RDMs"
    );
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script")
    );
    assert!(html.contains("tiny-cnn") && html.contains("cortexbench-run-1"));
    // The manifest pins the data and the model.
    let manifest = std::fs::read_to_string(out.join("manifest.yaml")).unwrap();
    let catalog = brain_data::Catalog::builtin();
    let sums = &catalog.dataset("cowley2023-v4").unwrap().files[0].sha256;
    assert!(manifest.contains(sums.as_str()));
    assert!(manifest.contains(&brain_data::sha256_file(&ckpt).unwrap()));
    // The commit is cortexbench's own, recorded when it was built (issue 16, item 9).
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head {
        assert!(
            manifest.contains(&format!("git_commit: {head}")),
            "{manifest}"
        );
    }

    // Rerunning from the manifest reproduces every score bit for bit.
    let again = ok(&offline(
        &["reproduce", out.join("manifest.yaml").to_str().unwrap()],
        &cache,
    ));
    assert!(again.contains("12 rows: 12 bit-identical"), "{again}");
    // A rerun on a different model file says so, and fails.
    checkpoint(tmp.path(), 8);
    let changed = offline(
        &[
            "reproduce",
            out.join("manifest.yaml").to_str().unwrap(),
            "--out",
            tmp.path().join("changed").to_str().unwrap(),
        ],
        &cache,
    );
    let report = String::from_utf8_lossy(&changed.stdout);
    assert!(!changed.status.success());
    assert!(
        report.contains("tiny-cnn") && report.contains("is not the file the run scored"),
        "{report}"
    );
    // A manifest whose shard or config is invalid is refused by name, before any work (a
    // shard [0, 0] used to panic on a division by zero).
    let text = std::fs::read_to_string(out.join("manifest.yaml")).unwrap();
    for (from, to, says) in [
        ("shard: null", "shard: [0, 0]", "is not a shard"),
        ("resamples: 1000", "resamples: 3", "resamples"),
    ] {
        assert!(text.contains(from), "{from}");
        let bad = tmp.path().join("bad-manifest.yaml");
        std::fs::write(&bad, text.replacen(from, to, 1)).unwrap();
        let refused = offline(&["reproduce", bad.to_str().unwrap()], &cache);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{err}");
        assert!(
            err.contains("bad-manifest.yaml") && err.contains(says),
            "{err}"
        );
    }

    // The CI gate: the same leaderboard passes; a drop beyond tolerance or a lost row fails.
    let board_path = out.join("leaderboard.json");
    let same = harness_without_data(&[
        "compare",
        board_path.to_str().unwrap(),
        out.join("reproduction/leaderboard.json").to_str().unwrap(),
    ]);
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );
    let mut worse = board.clone();
    worse.entries[0].row.raw -= 0.5;
    if let Some(n) = worse.entries[0].row.normalized.as_mut() {
        *n -= 0.5;
    }
    worse.entries.pop();
    let worse_path = tmp.path().join("worse.json");
    worse.save(&worse_path).unwrap();
    let gate = harness_without_data(&[
        "compare",
        board_path.to_str().unwrap(),
        worse_path.to_str().unwrap(),
        "--tolerance",
        "0.01",
    ]);
    let table = String::from_utf8_lossy(&gate.stdout);
    assert!(!gate.status.success());
    assert!(
        table.contains("DROPPED") && table.contains("MISSING"),
        "{table}"
    );
}

#[test]
fn a_run_beyond_the_available_memory_is_refused_before_training_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("run.yaml");
    // A zoo entry that would need training: the refusal must come before it.
    std::fs::write(
        &config,
        "models:\n  - {kind: zoo, rule: bp, arch: mlp, dataset: fashion-mnist}\nbenchmarks: [kiani2007.IT-rsa]\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_harness"))
            .args([
                "score",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .args(extra)
            .args(["--offline", "--data-dir", cache.to_str().unwrap()])
            .env("CORTEXBENCH_MIRROR", mirror())
            .env("CORTEXBENCH_MEMORY_AVAILABLE", "1M")
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(
        err.contains("activations of 1 network on kriegeskorte2008-92images (92 stimuli)")
            && err.contains("1 MiB is available")
            && err.contains("--force")
            && !err.contains("model: trained"),
        "{err}"
    );
    assert!(!out.exists() && !cache.join("zoo").exists());
    let forced = run(&["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(out.join("leaderboard.json").is_file());
}

#[test]
fn shards_merge_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("run.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: untrained, arch: mlp}\n  - {kind: untrained, arch: cnn, seeds: [1, 2]}\nbenchmarks: [kiani2007.IT-rsa, cowley2023.V4-rsa]\nseed: 2\n",
    )
    .unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let run = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "score",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&offline(&args, &cache));
    };
    run(&[], &dir("whole"));
    run(&["--shard", "0/3"], &dir("s0"));
    run(&["--shard", "1/3"], &dir("s1"));
    run(&["--shard", "2/3"], &dir("s2"));
    let parts: Vec<usize> = ["s0", "s1", "s2"]
        .iter()
        .map(|s| rows(&dir(s)).len())
        .collect();
    assert!(parts.iter().all(|&n| n > 0), "{parts:?}");
    ok(&harness_without_data(&[
        "merge",
        dir("s0").to_str().unwrap(),
        dir("s1").to_str().unwrap(),
        dir("s2").to_str().unwrap(),
        "--out",
        dir("merged").to_str().unwrap(),
    ]));
    let key = |r: &ScoreRow| {
        (
            r.model.clone(),
            r.benchmark.clone(),
            r.layer.clone(),
            r.seed,
        )
    };
    let mut whole = rows(&dir("whole"));
    let mut merged = rows(&dir("merged"));
    whole.sort_by_key(key);
    merged.sort_by_key(key);
    assert_eq!(whole, merged);
    let board = Leaderboard::load(&dir("whole").join("leaderboard.json")).unwrap();
    assert_eq!(
        board,
        Leaderboard::load(&dir("merged").join("leaderboard.json")).unwrap()
    );
    // The CNN entry stands for its two seeds; both models on both benchmarks are tested.
    let cnn = board
        .entries
        .iter()
        .find(|e| e.row.model.contains("cnn"))
        .unwrap();
    assert_eq!((cnn.n_seeds, cnn.seeds.clone()), (2, vec![1, 2]));
    assert!(cnn.ci95.is_some());
    assert_eq!(board.pairwise.len(), 2);
    // Merging a shard twice is refused.
    let twice = harness_without_data(&[
        "merge",
        dir("s0").to_str().unwrap(),
        dir("s0").to_str().unwrap(),
        "--out",
        dir("bad").to_str().unwrap(),
    ]);
    assert!(!twice.status.success());
    assert!(!dir("bad").exists());
    // So is a merge that lacks a shard.
    let partial = harness_without_data(&[
        "merge",
        dir("s0").to_str().unwrap(),
        dir("s2").to_str().unwrap(),
        "--out",
        dir("bad").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&partial.stderr);
    assert!(
        !partial.status.success() && err.contains("shard 1/3 missing"),
        "{err}"
    );
    assert!(!dir("bad").exists());
}

#[test]
fn significant_compare_passes_noise_and_fails_a_real_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let ckpt = checkpoint(tmp.path(), 7);
    // The same network scored with two run seeds: other selection halves and resamples, so
    // the scores differ by noise only.
    let run = |seed: &str| {
        let out = tmp.path().join(format!("seed{seed}"));
        ok(&offline(
            &[
                "score",
                "--model",
                ckpt.to_str().unwrap(),
                "--benchmark",
                "kiani2007.IT-rsa,cowley2023.V4-pls",
                "--seed",
                seed,
                "--out",
                out.to_str().unwrap(),
            ],
            &cache,
        ));
        out.join("leaderboard.json")
    };
    let (a, b) = (run("1"), run("3"));
    let score = |p: &Path, bench: &str| {
        Leaderboard::load(p)
            .unwrap()
            .entries
            .iter()
            .find(|e| e.row.benchmark == bench)
            .unwrap()
            .headline()
    };
    // Old = the run that scored higher on IT, so that the new one "drops".
    let (old, new) = if score(&a, "kiani2007.IT-rsa") > score(&b, "kiani2007.IT-rsa") {
        (a, b)
    } else {
        (b, a)
    };
    let compare = |new: &Path, significant: bool| {
        let mut args = vec![
            "compare",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
            "--tolerance",
            "0",
        ];
        if significant {
            args.push("--significant");
        }
        harness_without_data(&args)
    };
    let strict = compare(&new, false);
    assert!(!strict.status.success(), "a drop beyond tolerance 0 fails");
    let noise = compare(&new, true);
    let table = String::from_utf8_lossy(&noise.stdout);
    assert!(noise.status.success(), "{table}");
    assert!(
        table.contains("within noise") && !table.contains("DROPPED"),
        "{table}"
    );
    // A real drop: the IT entry 0.3 lower, its interval with it.
    let mut dropped = Leaderboard::load(&new).unwrap();
    let entry = dropped
        .entries
        .iter_mut()
        .find(|e| e.row.benchmark == "kiani2007.IT-rsa")
        .unwrap();
    entry.row.raw -= 0.3;
    entry.ci95 = entry.ci95.map(|[lo, hi]| [lo - 0.3, hi - 0.3]);
    let path = tmp.path().join("dropped.json");
    dropped.save(&path).unwrap();
    let gate = compare(&path, true);
    let table = String::from_utf8_lossy(&gate.stdout);
    assert!(!gate.status.success(), "{table}");
    assert!(table.contains("DROPPED"), "{table}");
}

#[test]
fn config_metric_options_replace_the_benchmark_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("run.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: untrained, arch: mlp}\nbenchmarks: [cowley2023.V4-pls]\nmetrics:\n  cowley2023.V4-pls:\n    kind: predictivity\n    regression: {kind: ridge, alpha: 10.0}\n    cross_validation: {n_splits: 3, test_fraction: 0.2, seed: 4}\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    ok(&offline(
        &[
            "score",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    ));
    let rows = rows(&out);
    assert_eq!(rows.len(), 4, "one row per MLP layer");
    assert!(rows.iter().all(|r| r.metric == "ridge"), "{rows:?}");
    assert!(rows.iter().all(|r| r.raw.is_finite() && r.sem.is_some()));
    // The split-half ceiling does not depend on the regression, and normalises the score.
    assert!(
        rows.iter()
            .all(|r| r.ceiling.is_some() && r.normalized.is_some())
    );
    let manifest = std::fs::read_to_string(out.join("manifest.yaml")).unwrap();
    assert!(
        manifest.contains("kind: ridge") && manifest.contains("n_splits: 3"),
        "{manifest}"
    );
}

#[test]
fn bad_requests_fail_clearly_and_leave_no_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let ckpt = checkpoint(tmp.path(), 7);
    let out = tmp.path().join("out");
    let unknown = offline(
        &[
            "score",
            "--model",
            ckpt.to_str().unwrap(),
            "--benchmark",
            "nope.IT-rsa",
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    );
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success()
            && err.contains("nope.IT-rsa")
            && err.contains("kiani2007.IT-rsa"),
        "{err}"
    );

    // --preset chooses the default set's training; --model files are trained already.
    let preset = offline(
        &[
            "score",
            "--preset",
            "standard",
            "--model",
            ckpt.to_str().unwrap(),
        ],
        &cache,
    );
    let err = String::from_utf8_lossy(&preset.stderr);
    assert!(
        !preset.status.success() && err.contains("--preset") && err.contains("--model"),
        "{err}"
    );

    // Bad configs are refused with the file and the entry named.
    let config = tmp.path().join("bad.yaml");
    let refused = |text: &str| {
        std::fs::write(&config, text).unwrap();
        let bad = offline(
            &[
                "score",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &cache,
        );
        assert!(!bad.status.success());
        String::from_utf8_lossy(&bad.stderr).to_string()
    };
    let err = refused("models:\n  - {kind: zoo, rule: backprop, arch: mlp}\n");
    assert!(
        err.contains("bad.yaml") && err.contains("backprop"),
        "{err}"
    );
    // A metric the benchmark's data cannot support.
    let err = refused(
        "models:\n  - {kind: untrained, arch: mlp}\nbenchmarks: [kiani2007.IT-rsa]\nmetrics:\n  kiani2007.IT-rsa: {kind: cka}\n",
    );
    assert!(
        err.contains("bad.yaml") && err.contains("set of RDMs"),
        "{err}"
    );

    // Offline without the data: the error names the file, and nothing is written.
    let missing = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args([
            "score",
            "--model",
            ckpt.to_str().unwrap(),
            "--benchmark",
            "tang2018.V1-pls",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--offline", "--data-dir", cache.to_str().unwrap()])
        .env("CORTEXBENCH_MIRROR", "")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success() && err.contains("tang2018"),
        "{err}"
    );
    assert!(!out.exists(), "a failed run left {}", out.display());

    // An output folder that holds files is refused before any work unless --overwrite, and
    // merge refuses a folder that is not a complete run (issue 16, item 2).
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("geometry.csv"), "stale").unwrap();
    let occupied = offline(
        &[
            "score",
            "--model",
            ckpt.to_str().unwrap(),
            "--benchmark",
            "kiani2007.IT-rsa",
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    );
    let err = String::from_utf8_lossy(&occupied.stderr);
    assert!(
        !occupied.status.success() && err.contains("--overwrite") && !err.contains("extract"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("geometry.csv")).unwrap(),
        "stale"
    );
    let merged = harness_without_data(&[
        "merge",
        out.to_str().unwrap(),
        "--out",
        tmp.path().join("merged").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(
        !merged.status.success() && err.contains("not a complete cortexbench run"),
        "{err}"
    );
    assert!(!tmp.path().join("merged").exists());
}

/// A vectorized network's checkpoint (`harness train --rule gevb`) is scored like any zoo
/// checkpoint, on its hidden layers' vectors, under its rule and architecture.
#[test]
fn a_vectorized_checkpoint_is_scored_on_its_hidden_vectors() {
    use model_zoo::vectorized::{VectorNetwork, VectorRule, VectorTrainConfig, save_vectorized};
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let net = VectorNetwork::mlp(784, &[32, 16], 10, 3).unwrap();
    let config = VectorTrainConfig::mlp_default(VectorRule::Gevb, 1, 3);
    let path = tmp.path().join("gevb-fmnist-vnn-mlp-s3.safetensors");
    save_vectorized(&path, &net, &config).unwrap();
    let out = tmp.path().join("run");
    ok(&offline(
        &[
            "score",
            "--model",
            path.to_str().unwrap(),
            "--benchmark",
            "kiani2007.IT-rsa",
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    ));
    let rows = rows(&out);
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.rule, "gevb", "{row:?}");
        assert_eq!(row.architecture, "vnn-mlp", "{row:?}");
        assert!(["fc1", "fc2"].contains(&row.layer.as_str()), "{row:?}");
        assert!(row.raw.is_finite(), "{row:?}");
    }
}

/// A `vectorized` entry of a run config trains its VNN once (quick preset: 200 steps), caches
/// it by config, scores its hidden vectors, and a second run reuses the cached network.
#[test]
fn a_vectorized_run_entry_trains_once_and_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("vnn.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: vectorized, rule: gevb, arch: vnn-mlp, dataset: fashion-mnist, seeds: [3]}\nbenchmarks: [kiani2007.IT-rsa]\n",
    )
    .unwrap();
    let run = |out: &Path| {
        offline(
            &[
                "score",
                "--config",
                config.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &cache,
        )
    };
    let stderr = |out: Output| {
        ok(&out);
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let first = stderr(run(&tmp.path().join("first")));
    assert!(
        first.contains("model: trained gevb-fmnist-vnn-mlp seed 3 ("),
        "{first}"
    );
    let folders: Vec<_> = std::fs::read_dir(cache.join("zoo").join("by-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let checkpoint = folders[0].join("model.safetensors");
    // The resumable state of the training run is gone once the checkpoint is written.
    assert!(!folders[0].join(model_zoo::resume::STATE_FILE).exists());
    let (net, training) = model_zoo::vectorized::load_vectorized(&checkpoint).unwrap();
    assert_eq!(training.seed, 3);
    assert_eq!(training.rule, model_zoo::vectorized::VectorRule::Gevb);
    // The log says what it trains, where, and each epoch's test accuracy.
    let epochs = training.epochs;
    assert!(
        first.contains(&format!(
            "model: training gevb-fmnist-vnn-mlp seed 3 ({epochs} epochs) into {}\n",
            folders[0].display()
        )),
        "{first}"
    );
    assert_eq!(
        first
            .matches("model: gevb-fmnist-vnn-mlp seed 3 epoch ")
            .count(),
        epochs,
        "{first}"
    );
    assert!(
        first.contains(&format!(
            "model: gevb-fmnist-vnn-mlp seed 3 epoch {epochs}/{epochs}: test accuracy "
        )),
        "{first}"
    );
    // Fashion-MNIST is shown as [0, 1] intensities, as to the scalar zoo (CIFAR-10 is
    // standardised by its training set's channel statistics, recorded in the config).
    assert!(training.normalization.is_none());
    assert_eq!(net.hidden_names(), vec!["fc1", "fc2"]);
    let rows = rows(&tmp.path().join("first"));
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.model, "gevb-fmnist-vnn-mlp", "{row:?}");
        assert_eq!((row.rule.as_str(), row.seed), ("gevb", 3), "{row:?}");
        assert_eq!(row.architecture, "vnn-mlp", "{row:?}");
        assert!(row.raw.is_finite(), "{row:?}");
    }
    let second = stderr(run(&tmp.path().join("second")));
    assert!(
        second.contains("model: using gevb-fmnist-vnn-mlp"),
        "{second}"
    );
    let again = std::fs::read_dir(cache.join("zoo").join("by-config"))
        .unwrap()
        .count();
    assert_eq!(again, 1);
    assert_eq!(
        rows.iter().map(|r| r.raw).collect::<Vec<_>>(),
        reports::read_results(&tmp.path().join("second").join("results.json"))
            .unwrap()
            .iter()
            .map(|r| r.raw)
            .collect::<Vec<_>>()
    );
}

/// Networks `harness train` wrote into the zoo are scored as they are when a run asks for
/// exactly their config (a scalar MLP and a VNN here), and a network of the run's name
/// trained with another config is not used: the run says so and trains its own.
#[test]
fn networks_harness_train_wrote_with_the_same_config_are_used_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let zoo = tmp.path().join("zoo");
    ok(&offline(
        &[
            "train",
            "--rule",
            "fa",
            "--arch",
            "mlp",
            "--dataset",
            "fashion-mnist",
            "--preset",
            "quick",
            "--seed",
            "3",
            "--zoo",
            zoo.to_str().unwrap(),
        ],
        &cache,
    ));
    // The VNN's checkpoint as `harness train` would write it (its quick training takes
    // minutes in a debug build): the initial weights with the config a run asks for
    // (Fashion-MNIST's pixels are not standardised).
    let entry: harness::run_config::ModelSpec = serde_norway::from_str(
        "{kind: vectorized, rule: gevb, arch: vnn-mlp, dataset: fashion-mnist, preset: quick}",
    )
    .unwrap();
    let vnn = entry.vectorized_config(3).unwrap().unwrap();
    assert!(vnn.normalization.is_none());
    let folder = zoo.join("gevb-fmnist-vnn-mlp-s3");
    std::fs::create_dir_all(&folder).unwrap();
    model_zoo::vectorized::save_vectorized(
        &folder.join("model.safetensors"),
        &vnn.network().unwrap(),
        &vnn,
    )
    .unwrap();
    // The run's seed-4 FA network would be fa-fmnist-mlp-s4: a copy of the seed-3 network
    // there was trained with another config (seed 3).
    let other = zoo.join("fa-fmnist-mlp-s4");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(
        zoo.join("fa-fmnist-mlp-s3/model.safetensors"),
        other.join("model.safetensors"),
    )
    .unwrap();
    // Seed 5's is a stopped run: its training state and no checkpoint.
    let unfinished = zoo.join("fa-fmnist-mlp-s5");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::write(unfinished.join(model_zoo::resume::STATE_FILE), b"state").unwrap();
    let config = tmp.path().join("run.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: zoo, rule: fa, arch: mlp, dataset: fashion-mnist, seeds: [3, 4, 5]}\n  - {kind: vectorized, rule: gevb, arch: vnn-mlp, dataset: fashion-mnist, seeds: [3]}\nbenchmarks: [kiani2007.IT-rsa]\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = offline(
        &[
            "score",
            "--config",
            config.to_str().unwrap(),
            "--zoo",
            zoo.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &cache,
    );
    ok(&run);
    let log = String::from_utf8_lossy(&run.stderr);
    for (name, folder) in [
        ("fa-fmnist-mlp", "fa-fmnist-mlp-s3"),
        ("gevb-fmnist-vnn-mlp", "gevb-fmnist-vnn-mlp-s3"),
    ] {
        let checkpoint = zoo.join(folder).join("model.safetensors");
        assert!(
            log.contains(&format!("model: using {name} ({})", checkpoint.display())),
            "{log}"
        );
        // The manifest names the checkpoint scored and its sum.
        let sha = brain_data::sha256_file(&checkpoint).unwrap();
        assert!(manifest_text(&out).contains(&sha), "{folder}");
    }
    assert!(
        log.contains(&format!(
            "note: {} was trained with another config",
            other.join("model.safetensors").display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "note: {} holds an unfinished `harness train` run",
            unfinished.display()
        )),
        "{log}"
    );
    // Only the seed-4 and seed-5 networks were trained, into the run's cache, each announced
    // (one after another on one core, side by side on more).
    assert_eq!(log.matches("model: trained").count(), 2, "{log}");
    assert!(log.contains("training 2 networks, "), "{log}");
    for seed in [4, 5] {
        assert_eq!(
            log.matches(&format!("model: training fa-fmnist-mlp seed {seed} ("))
                .count(),
            1,
            "{log}"
        );
        assert_eq!(
            log.matches(&format!("model: trained fa-fmnist-mlp seed {seed} ("))
                .count(),
            1,
            "{log}"
        );
    }
    assert!(!log.contains("continuing a stopped run"), "{log}");
    let mut seeds: Vec<u64> = std::fs::read_dir(zoo.join("by-config"))
        .unwrap()
        .map(|e| {
            let folder = e.unwrap().path();
            let name = folder.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("fa-fmnist-mlp-"), "{name}");
            let checkpoint = folder.join("model.safetensors");
            model_zoo::checkpoint::load(&checkpoint).unwrap().1.seed
        })
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, vec![4, 5]);
    // The stopped run's folder is left as it was.
    assert_eq!(
        std::fs::read(unfinished.join(model_zoo::resume::STATE_FILE)).unwrap(),
        b"state"
    );
}

#[test]
fn a_stopped_scoring_run_continues_its_training_from_the_last_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let config = tmp.path().join("run.yaml");
    std::fs::write(
        &config,
        "models:\n  - {kind: zoo, rule: fa, arch: mlp, dataset: fashion-mnist, epochs: 3, seeds: [2]}\nbenchmarks: [kiani2007.IT-rsa]\n",
    )
    .unwrap();
    let args = |name: &str| -> Vec<String> {
        let zoo = tmp.path().join(name).join("zoo");
        let out = tmp.path().join(name).join("out");
        ["score", "--config", config.to_str().unwrap()]
            .into_iter()
            .map(String::from)
            .chain(["--zoo".into(), zoo.to_str().unwrap().into()])
            .chain(["--out".into(), out.to_str().unwrap().into()])
            .collect()
    };
    let whole = offline(&as_strs(&args("whole")), &cache);
    ok(&whole);

    // Killed (SIGKILL) as soon as its network's first epoch is saved.
    let stopped = args("stopped");
    let by_config = tmp.path().join("stopped/zoo/by-config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(&stopped)
        .args(["--offline", "--data-dir", cache.to_str().unwrap()])
        .env("CORTEXBENCH_MIRROR", mirror())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = wait_while_running(&mut child, || {
        let folders = std::fs::read_dir(&by_config).ok()?;
        folders
            .map(|f| f.unwrap().path().join(model_zoo::resume::STATE_FILE))
            .find(|state| state.is_file())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let folder = state.parent().unwrap();
    assert!(!folder.join("model.safetensors").exists());

    let resumed = offline(&as_strs(&stopped), &cache);
    ok(&resumed);
    let log = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        log.contains(&format!(
            "model: training fa-fmnist-mlp seed 2 (3 epochs, continuing a stopped run) into {}\n",
            folder.display()
        )),
        "{log}"
    );
    // Only the epochs after the saved one run again.
    assert!(!log.contains("seed 2 epoch 1/3"), "{log}");
    assert!(log.contains("seed 2 epoch 3/3: test accuracy "), "{log}");
    let whole_folder = tmp
        .path()
        .join("whole/zoo/by-config")
        .join(folder.file_name().unwrap());
    let load = |d: &Path| model_zoo::checkpoint::load(&d.join("model.safetensors")).unwrap();
    assert_eq!(
        load(folder),
        load(&whole_folder),
        "same weights as the run that never stopped"
    );
    assert_eq!(
        rows(&tmp.path().join("whole/out"))
            .iter()
            .map(|r| r.raw)
            .collect::<Vec<_>>(),
        rows(&tmp.path().join("stopped/out"))
            .iter()
            .map(|r| r.raw)
            .collect::<Vec<_>>(),
    );
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
