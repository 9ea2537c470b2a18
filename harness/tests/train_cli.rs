//! `harness train` end to end on Fashion-MNIST (the Debian package installed by setup.sh) and
//! CIFAR-10 (the data mirror).

mod support;

use support::{harness, wait_while_running, walk};

use std::process::Command;

use model_zoo::rules::deep_feedback_control::FeedbackWeights;

#[test]
fn an_operating_system_error_is_printed_once() {
    // A zoo "folder" that is a file: creating the lock folder inside it fails with ENOTDIR,
    // which used to appear twice ("Not a directory (os error 20): Not a directory ...").
    let dir = tempfile::tempdir().unwrap();
    let zoo = dir.path().join("zoo");
    std::fs::write(&zoo, b"not a folder").unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "bp",
        "--dataset",
        "fashion-mnist",
        "--arch",
        "mlp",
        "--quick",
        "--zoo",
        zoo.to_str().unwrap(),
        "--data-dir",
        dir.path().join("cache").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("zoo/locks"),
        "{err}"
    );
    assert_eq!(err.matches("os error 20").count(), 1, "{err}");
}

#[test]
fn quick_training_writes_checkpoint_history_config_and_manifest() {
    let zoo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let zoo_arg = zoo.path().to_str().unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "fa",
        "--dataset",
        "fashion-mnist",
        "--preset",
        "quick",
        "--seed",
        "3",
        "--zoo",
        zoo_arg,
        "--offline",
        "--data-dir",
        cache.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("epoch   2:"),
        "per-epoch lines reach the log: {log}"
    );

    let dir = zoo.path().join("fa-fmnist-mlp-s3");
    let (net, config) = model_zoo::checkpoint::load(&dir.join("model.safetensors")).unwrap();
    assert_eq!(net.layers.len(), 4);
    assert_eq!(config.seed, 3);
    let history = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 3, "{history}");
    for state in ["training-state.safetensors", "training-state.jacobian.json"] {
        assert!(!dir.join(state).exists(), "{state} is removed at the end");
    }
    assert!(
        history
            .starts_with("epoch,train_loss,train_accuracy,test_loss,test_accuracy,alignment_fc1")
    );

    let manifest = model_zoo::manifest::Manifest::load(&zoo.path().join("manifest.yaml")).unwrap();
    let entry = &manifest.models[0];
    assert_eq!(
        (entry.name.as_str(), entry.rule.as_str(), entry.epochs),
        ("fa-fmnist-mlp-s3", "fa", 2)
    );
    assert!(entry.test_accuracy > 0.7, "{}", entry.test_accuracy);
    let sha = brain_data::sha256_file(&dir.join("model.safetensors")).unwrap();
    assert_eq!(entry.sha256, sha);

    // The ONNX export beside the checkpoint lists the network's layers, and `harness export`
    // writes the same file again from the checkpoint.
    let onnx = dir.join("model.onnx");
    let listing = harness(&["layers", onnx.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    assert!(text.contains("input 1x28x28"), "{text}");
    for (layer, op, features) in [("fc1", "Tanh", "256"), ("fc4", "Gemm", "10")] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(layer))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(
            line.contains(op) && line.trim_end().ends_with(features),
            "{line}"
        );
    }
    // ONNX Runtime leaves nothing in the user's cache folder (its telemetry, which kept a
    // device id and an event store under ~/.cache/Microsoft, is off).
    let home = tempfile::tempdir().unwrap();
    let quiet = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["layers", onnx.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", model_zoo::onnx::library_path())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        quiet.status.success(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let left: Vec<_> = walk(home.path());
    assert!(left.is_empty(), "{left:?}");
    let missing_runtime = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["layers", onnx.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", zoo.path().join("no-libonnxruntime.so"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&missing_runtime.stderr);
    assert!(!missing_runtime.status.success(), "{err}");
    assert!(
        err.contains("ORT_DYLIB_PATH") && err.contains("no-libonnxruntime.so"),
        "{err}"
    );

    let again = zoo.path().join("again.onnx");
    let exported = harness(&[
        "export",
        dir.join("model.safetensors").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&onnx).unwrap()
    );
    let same_layers = harness(&["layers", dir.join("model.safetensors").to_str().unwrap()]);
    let zoo_text = String::from_utf8_lossy(&same_layers.stdout);
    assert!(
        zoo_text
            .lines()
            .any(|l| l.split_whitespace().next() == Some("fc1") && l.trim_end().ends_with("256")),
        "{zoo_text}"
    );
}

#[test]
fn a_killed_training_run_continues_from_its_last_epoch_to_the_same_network() {
    let cache = tempfile::tempdir().unwrap();
    let train_args = |zoo: &std::path::Path| -> Vec<String> {
        [
            "train",
            "--rule",
            "nmnc",
            "--dataset",
            "fashion-mnist",
            "--preset",
            "quick",
            "--epochs",
            "3",
            "--zoo",
            zoo.to_str().unwrap(),
            "--offline",
            "--data-dir",
            cache.path().to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = tempfile::tempdir().unwrap();
    let args = train_args(whole.path());
    let out = harness(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Killed (SIGKILL) as soon as the first epoch's state is on disk.
    let stopped = tempfile::tempdir().unwrap();
    let args = train_args(stopped.path());
    let dir = stopped.path().join("nmnc-fmnist-mlp-s1");
    let state = dir.join("training-state.safetensors");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(&args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_while_running(&mut child, || state.exists().then_some(()));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir.join("model.safetensors").exists());

    let resumed = harness(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let report = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(report.contains("resumed after epoch 1"), "{report}");
    let whole_dir = whole.path().join("nmnc-fmnist-mlp-s1");
    let load =
        |d: &std::path::Path| model_zoo::checkpoint::load(&d.join("model.safetensors")).unwrap();
    assert_eq!(
        load(&dir),
        load(&whole_dir),
        "same weights as the run that never stopped"
    );
    for table in ["history.csv", "jacobian_alignment.csv"] {
        let read = |d: &std::path::Path| std::fs::read_to_string(d.join(table)).unwrap();
        assert_eq!(read(&dir), read(&whole_dir), "{table}");
    }
    assert!(
        !state.exists(),
        "the state is removed once the checkpoint is written"
    );
}

#[test]
fn layers_of_a_broken_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.onnx");
    std::fs::write(&path, [8u8, 7, 18, 4, 0xff, 0xff]).unwrap();
    let out = harness(&["layers", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.onnx") && err.contains("ONNX"), "{err}");
    let out = harness(&["layers", dir.path().join("model.pt").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(".onnx") && err.contains("model.pt"),
        "{err}"
    );
}

/// A CNN trained by DFC for a few steps from a YAML config, with the config's rule options kept.
#[test]
fn a_config_file_trains_a_cnn_with_dfc() {
    let zoo = tempfile::tempdir().unwrap();
    let config_path = zoo.path().join("run.yaml");
    let mut config =
        model_zoo::TrainConfig::cnn_default(model_zoo::RuleConfig::Dfc(Default::default()), 1, 5);
    config.max_steps_per_epoch = Some(3);
    if let model_zoo::RuleConfig::Dfc(options) = &mut config.rule {
        options.target_step = 0.02;
        if let FeedbackWeights::Trained { pretrain_steps, .. } = &mut options.feedback {
            *pretrain_steps = 10;
        }
    }
    std::fs::write(&config_path, serde_norway::to_string(&config).unwrap()).unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "dfc",
        "--config",
        config_path.to_str().unwrap(),
        "--zoo",
        zoo.path().to_str().unwrap(),
        "--offline",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = zoo.path().join("dfc-fmnist-cnn-s5");
    let (net, saved) = model_zoo::checkpoint::load(&dir.join("model.safetensors")).unwrap();
    assert_eq!(net.layer_names(), ["conv1", "conv2", "fc1", "fc2"]);
    assert_eq!(saved, config);
    let history = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert!(
        history
            .lines()
            .next()
            .unwrap()
            .ends_with("alignment_conv1,alignment_conv2,alignment_fc1,alignment_fc2"),
        "{history}"
    );
    let manifest = model_zoo::manifest::Manifest::load(&zoo.path().join("manifest.yaml")).unwrap();
    assert_eq!(
        manifest.models[0].architecture,
        "28x28x1-conv5x5x32/2-conv5x5x64/2-fc256-fc10 tanh"
    );
}

#[test]
fn conflicting_or_broken_configs_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cnn = dir.path().join("cnn.yaml");
    let config = model_zoo::TrainConfig::cnn_default(model_zoo::RuleConfig::Bp, 1, 1);
    std::fs::write(&cnn, serde_norway::to_string(&config).unwrap()).unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "bp",
        "--arch",
        "mlp",
        "--config",
        cnn.to_str().unwrap(),
        "--offline",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cnn.yaml: the config is for a cnn, but --arch mlp was given"),
        "{err}"
    );

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "hidden: [256\n").unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "bp",
        "--config",
        broken.to_str().unwrap(),
        "--offline",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml: not a valid training config"),
        "{err}"
    );
}

/// Test accuracy the CIFAR-10 quick preset's BP network must exceed: it reached 57.3 % on the
/// project machine (seed 1), chance is 10 %, and the untrained network's is about that.
const QUICK_BP_THRESHOLD: f32 = 0.50;

/// The CIFAR-10 quick preset (the default run's zoo) trains BP well above chance, on the data
/// mirror, and records the training set's channel statistics with the network.
#[test]
fn the_cifar_quick_preset_trains_bp_above_its_threshold() {
    let zoo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = harness(&[
        "train",
        "--rule",
        "bp",
        "--dataset",
        "cifar10",
        "--preset",
        "quick",
        "--zoo",
        zoo.path().to_str().unwrap(),
        "--offline",
        "--data-dir",
        cache.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = model_zoo::manifest::Manifest::load(&zoo.path().join("manifest.yaml")).unwrap();
    let entry = &manifest.models[0];
    assert_eq!(
        (entry.name.as_str(), entry.data.as_str()),
        ("bp-cifar-cnn-s1", "cifar10")
    );
    assert!(
        entry.test_accuracy > QUICK_BP_THRESHOLD,
        "quick BP test accuracy {}",
        entry.test_accuracy
    );
    let (net, config) =
        model_zoo::checkpoint::load(&zoo.path().join("bp-cifar-cnn-s1/model.safetensors")).unwrap();
    assert_eq!(net.layer_names(), ["conv1", "conv2", "conv3", "fc1", "fc2"]);
    let normalization = config.normalization.expect("CIFAR statistics recorded");
    assert!(
        (normalization.mean[0] - 0.4914).abs() < 0.005,
        "{normalization:?}"
    );
    assert_eq!(config.augmentation, Some(model_zoo::Augmentation::cifar()));
}

/// `harness train --rule gevb --arch vnn-mlp` trains a vectorized network on the mirror's
/// Fashion-MNIST and writes its checkpoint, config and history with the sign agreement of
/// one example's update with the gradient (1 in every layer, GEVB's theorem); other rules
/// and architectures are refused by name.
#[test]
fn gevb_trains_a_vectorized_mlp_and_logs_its_sign_agreement() {
    let zoo = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let args = |rule: &'static str, arch: &'static str| {
        vec![
            "train".to_string(),
            "--rule".into(),
            rule.into(),
            "--arch".into(),
            arch.into(),
            "--preset".into(),
            "quick".into(),
            "--epochs".into(),
            "1".into(),
            "--zoo".into(),
            zoo.path().to_str().unwrap().into(),
            "--offline".into(),
            "--data-dir".into(),
            cache.path().to_str().unwrap().into(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        harness(&args)
    };
    let out = run(args("gevb", "vnn-mlp"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = zoo.path().join("gevb-fmnist-vnn-mlp-s1");
    let (net, config) =
        model_zoo::vectorized::load_vectorized(&dir.join("model.safetensors")).unwrap();
    assert_eq!(net.describe(), "784x10-fc1024-fc512-fc1 vnn");
    assert_eq!(config.rule, model_zoo::vectorized::VectorRule::Gevb);
    let history = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let mut lines = history.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| -> f32 {
        let i = header.iter().position(|h| *h == name).unwrap();
        row[i].parse().unwrap()
    };
    assert!(column("test_accuracy") > 0.7, "{history}");
    for layer in ["fc1", "fc2", "fc3"] {
        assert_eq!(column(&format!("sign_agreement_example_{layer}")), 1.0);
        assert!(column(&format!("alignment_{layer}")) > 0.3, "{history}");
    }
    assert!(dir.join("config.yaml").is_file());
    let mut onnx = model_zoo::OnnxModel::open(&dir.join("model.onnx"), None).unwrap();
    assert_eq!(model_zoo::Model::input_shape(&onnx), [1, 28, 28]);
    let layers: Vec<String> = model_zoo::Model::layers(&mut onnx)
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(layers.iter().any(|l| l == "fc2"), "{layers:?}");
    // Not in the manifest of networks the default run reuses.
    assert!(!zoo.path().join("manifest.yaml").exists());

    for (rule, arch, message) in [
        (
            "fa",
            "vnn-mlp",
            "vectorized networks train with gevb or bp, not fa",
        ),
        ("gevb", "cnn", "--arch vnn-mlp or vnn-cnn, not cnn"),
    ] {
        let out = run(args(rule, arch));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{err}");
    }
}
