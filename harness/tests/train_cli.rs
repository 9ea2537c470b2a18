//! `harness train` end to end on Fashion-MNIST (the Debian package installed by setup.sh).

use std::process::{Command, Output};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs")
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
        "--quick",
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

    let dir = zoo.path().join("fa-mlp-s3");
    let (net, config) = model_zoo::checkpoint::load(&dir.join("model.safetensors")).unwrap();
    assert_eq!(net.layers.len(), 4);
    assert_eq!(config.seed, 3);
    let history = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 3, "{history}");
    assert!(
        history
            .starts_with("epoch,train_loss,train_accuracy,test_loss,test_accuracy,alignment_fc1")
    );

    let manifest = model_zoo::manifest::Manifest::load(&zoo.path().join("manifest.yaml")).unwrap();
    let entry = &manifest.models[0];
    assert_eq!(
        (entry.name.as_str(), entry.rule.as_str(), entry.epochs),
        ("fa-mlp-s3", "fa", 2)
    );
    assert!(entry.test_accuracy > 0.7, "{}", entry.test_accuracy);
    let sha = brain_data::sha256_file(&dir.join("model.safetensors")).unwrap();
    assert_eq!(entry.sha256, sha);
}

#[test]
fn unimplemented_choices_are_refused_clearly() {
    let out = harness(&["train", "--rule", "dfc", "--quick", "--offline"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("deep feedback control (dfc) is not implemented yet")
    );
    let out = harness(&[
        "train",
        "--rule",
        "bp",
        "--arch",
        "cnn",
        "--quick",
        "--offline",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CNN architecture is not implemented yet")
    );
}
