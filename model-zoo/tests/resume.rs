//! Resumable training: a run stopped after an epoch and continued from its saved state ends
//! with the same weights and history, bit for bit, as a run that never stopped, for rules with
//! state (NMNC's running statistics and subspaces, DFC's learned feedback and noise stream)
//! and without, and for the vectorized networks of GEVB and backprop; a state of another
//! config, or a damaged one, is refused with the file's name.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::fashion_mnist;
use model_zoo::architecture::ConvStage;
use model_zoo::rules::deep_feedback_control::{DfcOptions, FeedbackNoise, FeedbackWeights};
use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
use model_zoo::vectorized::{
    VectorRule, VectorTrainConfig, train_vectorized, train_vectorized_resumable,
};
use model_zoo::{Augmentation, RuleConfig, TrainConfig, train, train_resumable};

/// Holds OpenBLAS at one thread for the rest of this test process. The tests here run side by
/// side, and with some CPUs' kernels (Haswell's) an OpenBLAS product rounds differently with
/// the number of threads it gets, which then depends on what the other tests are doing: two
/// runs of one config would differ for that reason alone, which is not what these tests check.
fn one_blas_thread() {
    std::mem::forget(model_zoo::blas_threads::SingleThreadedBlas::new());
}

fn config(rule: RuleConfig) -> TrainConfig {
    TrainConfig {
        hidden: vec![64, 32],
        max_steps_per_epoch: Some(6),
        alignment_every: 2,
        augmentation: Some(Augmentation {
            crop_padding: 2,
            horizontal_flip: true,
        }),
        ..TrainConfig::mlp_default(rule, 3, 5)
    }
}

fn rules() -> Vec<RuleConfig> {
    let mut dfc = DfcOptions::default();
    // Sampled feedback noise, so that DFC's own random stream matters too.
    if let FeedbackWeights::Trained {
        pretrain_steps,
        noise,
        ..
    } = &mut dfc.feedback
    {
        *pretrain_steps = 3;
        *noise = FeedbackNoise::Sampled { sigma: 0.01 };
    }
    vec![
        RuleConfig::Fa,
        RuleConfig::Nmnc(ManifoldOptions {
            refresh_every: 4,
            ..ManifoldOptions::default()
        }),
        RuleConfig::Dfc(dfc),
    ]
}

#[test]
fn a_stopped_run_continued_from_its_state_equals_one_that_never_stopped() {
    one_blas_thread();
    let (train_set, test_set) = fashion_mnist(1000, 200);
    for rule in rules() {
        let config = config(rule);
        let name = config.rule.name();
        let whole = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.safetensors");
        // A kill during epoch 2: the state of epoch 1 is what is on disk.
        let stopped = catch_unwind(AssertUnwindSafe(|| {
            train_resumable(&config, &train_set, &test_set, &state, |record, _| {
                assert!(record.epoch < 2, "stopped during epoch 2");
            })
        }));
        assert!(stopped.is_err(), "{name}: the first run must stop");
        let mut seen = vec![];
        let resumed = train_resumable(&config, &train_set, &test_set, &state, |record, _| {
            seen.push(record.epoch)
        })
        .unwrap();
        assert_eq!(resumed.resumed_after, 1, "{name}");
        assert_eq!(seen, [2, 3], "{name}: on_epoch sees the new epochs only");
        assert_eq!(
            resumed.net, whole.net,
            "{name}: weights differ after resuming"
        );
        assert_eq!(resumed.history, whole.history, "{name}");
        // A finished state gives the finished network without training again.
        let again = train_resumable(&config, &train_set, &test_set, &state, |_, _| {
            panic!("nothing left to train")
        })
        .unwrap();
        assert_eq!((again.resumed_after, &again.net), (3, &whole.net), "{name}");
    }
}

#[test]
fn a_state_of_another_config_or_a_damaged_one_is_refused_by_name() {
    one_blas_thread();
    let (train_set, test_set) = fashion_mnist(500, 100);
    let config = TrainConfig {
        epochs: 1,
        ..config(RuleConfig::Bp)
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.safetensors");
    train_resumable(&config, &train_set, &test_set, &state, |_, _| {}).unwrap();
    let other = TrainConfig {
        seed: 6,
        ..config.clone()
    };
    let err = train_resumable(&other, &train_set, &test_set, &state, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("state.safetensors") && err.contains("another training config"),
        "{err}"
    );
    let mut bytes = std::fs::read(&state).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&state, &bytes).unwrap();
    let err = train_resumable(&config, &train_set, &test_set, &state, |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("state.safetensors"), "{err}");
}

#[test]
fn a_stopped_vnn_run_continued_from_its_state_equals_one_that_never_stopped() {
    one_blas_thread();
    let (train_set, test_set) = fashion_mnist(1000, 200);
    let mlp = VectorTrainConfig {
        hidden: vec![32, 16],
        batch_size: 32,
        max_steps_per_epoch: Some(6),
        alignment_every: 2,
        augmentation: Some(Augmentation {
            crop_padding: 2,
            horizontal_flip: true,
        }),
        ..VectorTrainConfig::mlp_default(VectorRule::Gevb, 3, 5)
    };
    let cnn = VectorTrainConfig {
        rule: VectorRule::Bp,
        stages: vec![ConvStage {
            channels: 4,
            kernel: 3,
            padding: 1,
        }],
        hidden: vec![8],
        ..mlp.clone()
    };
    for config in [mlp, cnn] {
        let name = format!("{:?} {:?}", config.rule, config.stages);
        let whole = train_vectorized(&config, &train_set, &test_set, |_| {}).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.safetensors");
        let stopped = catch_unwind(AssertUnwindSafe(|| {
            train_vectorized_resumable(&config, &train_set, &test_set, &state, |record| {
                assert!(record.record.epoch < 2, "stopped during epoch 2");
            })
        }));
        assert!(stopped.is_err(), "{name}: the first run must stop");
        let mut seen = vec![];
        let resumed = train_vectorized_resumable(&config, &train_set, &test_set, &state, |r| {
            seen.push(r.record.epoch)
        })
        .unwrap();
        assert_eq!((resumed.resumed_after, seen), (1, vec![2, 3]), "{name}");
        assert_eq!(
            resumed.net, whole.net,
            "{name}: weights differ after resuming"
        );
        assert_eq!(resumed.history, whole.history, "{name}");
        let other = VectorTrainConfig {
            seed: 6,
            ..config.clone()
        };
        let err = train_vectorized_resumable(&other, &train_set, &test_set, &state, |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("state.safetensors") && err.contains("another training config"),
            "{err}"
        );
    }
}
