//! Checkpoints round-trip exactly; damaged files are clear errors; the manifest keeps one entry
//! per model.

use model_zoo::checkpoint::{load, save};
use model_zoo::manifest::{Manifest, ManifestEntry};
use model_zoo::{Activation, Network, RuleConfig, TrainConfig};

#[test]
fn a_checkpoint_restores_identical_weights_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let net = Network::mlp(&[20, 7, 5, 3], Activation::Relu, 4).unwrap();
    let config = TrainConfig::mlp_default(RuleConfig::Dfa, 3, 4);
    let path = dir.path().join("model.safetensors");
    let sha = save(&path, &net, &config).unwrap();
    assert_eq!(sha.len(), 64);
    let (restored, restored_config) = load(&path).unwrap();
    assert_eq!(restored, net);
    assert_eq!(restored_config, config);
    assert!(!dir.path().join("model.tmp").exists());
}

#[test]
fn the_same_network_saves_to_the_same_bytes() {
    // safetensors writes its metadata map in hash order, which is random per map: without a
    // canonical header, identical weights gave files (and checksums) that differed.
    let dir = tempfile::tempdir().unwrap();
    let net = Network::mlp(&[6, 4, 3], Activation::Tanh, 9).unwrap();
    let config = TrainConfig::mlp_default(RuleConfig::Fa, 2, 9);
    let saved: Vec<(String, Vec<u8>)> = (0..8)
        .map(|i| {
            let path = dir.path().join(format!("m{i}.safetensors"));
            let sha = save(&path, &net, &config).unwrap();
            (sha, std::fs::read(&path).unwrap())
        })
        .collect();
    assert!(saved.iter().all(|s| s == &saved[0]));
    let bytes = &saved[0].1;
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(len % 8, 0, "the data starts 8-byte aligned");
    let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap();
    let keys = ["\"format\"", "\"layers\"", "\"train_config\""];
    let at: Vec<usize> = keys.iter().map(|k| header.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{header}");
    assert_eq!(load(&dir.path().join("m7.safetensors")).unwrap().0, net);
}

#[test]
fn a_cnn_checkpoint_keeps_its_convolution_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let net = Network::cnn((12, 12, 3), &[(4, 3), (6, 2)], &[8, 5], Activation::Tanh, 2).unwrap();
    let config = TrainConfig::cnn_default(RuleConfig::Nc(Default::default()), 1, 2);
    let path = dir.path().join("cnn.safetensors");
    save(&path, &net, &config).unwrap();
    let (restored, restored_config) = load(&path).unwrap();
    assert_eq!(restored, net);
    assert_eq!(restored_config, config);
    let x = ndarray::Array2::from_elem((2, 12 * 12 * 3), 0.3f32);
    assert_eq!(
        restored.forward(x.view()).unwrap().output(),
        net.forward(x.view()).unwrap().output()
    );
}

#[test]
fn damaged_checkpoints_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save(
        &path,
        &Network::mlp(&[4, 3, 2], Activation::Tanh, 1).unwrap(),
        &TrainConfig::mlp_default(RuleConfig::Bp, 1, 1),
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let err = load(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.safetensors"), "{err}");
    let missing = load(&dir.path().join("none.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("none.safetensors"), "{missing}");
}

#[test]
fn manifest_entries_are_replaced_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.yaml");
    let entry = |accuracy| ManifestEntry {
        name: "bp-mlp-s1".into(),
        rule: "bp".into(),
        architecture: "mlp".into(),
        data: "fashion-mnist".into(),
        seed: 1,
        epochs: 2,
        test_accuracy: accuracy,
        checkpoint: "bp-mlp-s1/model.safetensors".into(),
        sha256: "0".repeat(64),
    };
    let mut manifest = Manifest::load(&path).unwrap();
    manifest.upsert(entry(0.5));
    manifest.upsert(entry(0.8));
    manifest.save(&path).unwrap();
    let again = Manifest::load(&path).unwrap();
    assert_eq!(again.models.len(), 1);
    assert_eq!(again.models[0].test_accuracy, 0.8);
}

#[test]
fn built_rules_report_the_names_their_configs_use() {
    use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
    use model_zoo::rules::perturbation::PerturbationOptions;
    let net = Network::mlp(&[4, 3, 2], Activation::Tanh, 1).unwrap();
    for config in [
        RuleConfig::Bp,
        RuleConfig::Fa,
        RuleConfig::Dfa,
        RuleConfig::SignSymmetry,
        RuleConfig::Nc(PerturbationOptions::default()),
        RuleConfig::Nmnc(ManifoldOptions::default()),
    ] {
        assert_eq!(config.build(&net, 0).unwrap().name(), config.name());
    }
}
