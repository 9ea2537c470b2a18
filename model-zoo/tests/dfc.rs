//! Deep feedback control: the simulated controller settles where the steady state says, learned
//! feedback weights beat fixed ones, and DFC learns Fashion-MNIST with updates aligned to the
//! gradient.

mod common;

use common::fashion_mnist;
use model_zoo::rules::deep_feedback_control::{
    DeepFeedbackControl, DfcOptions, Dynamics, FeedbackWeights,
};
use model_zoo::{RuleConfig, TrainConfig, train};

fn quick(options: DfcOptions, steps: usize) -> TrainConfig {
    TrainConfig {
        max_steps_per_epoch: Some(steps),
        alignment_every: 10,
        ..TrainConfig::mlp_default(RuleConfig::Dfc(options), 1, 4)
    }
}

#[test]
fn dfc_learns_with_updates_aligned_to_the_gradient() {
    let (train_set, test_set) = fashion_mnist(20_000, 2000);
    let trained = train(
        &quick(DfcOptions::default(), 200),
        &train_set,
        &test_set,
        |_, _| {},
    )
    .unwrap();
    let record = &trained.history[0];
    assert!(record.test_accuracy > 0.75, "{record:?}");
    assert!(record.alignment.iter().all(|&c| c > 0.5), "{record:?}");
}

#[test]
fn learned_feedback_weights_align_updates_better_than_fixed_random_ones() {
    let (train_set, test_set) = fashion_mnist(10_000, 500);
    let mean_hidden_alignment = |options| {
        let trained = train(&quick(options, 100), &train_set, &test_set, |_, _| {}).unwrap();
        let a = &trained.history[0].alignment;
        a[..3].iter().sum::<f32>() / 3.0
    };
    let learned = mean_hidden_alignment(DfcOptions::default());
    let fixed = mean_hidden_alignment(DfcOptions {
        feedback: FeedbackWeights::Fixed,
        ..DfcOptions::default()
    });
    assert!(learned > fixed + 0.2, "learned {learned} vs fixed {fixed}");
}

#[test]
fn simulated_controller_dynamics_settle_at_the_linearised_steady_state() {
    let (train_set, _) = fashion_mnist(128, 0);
    let config = TrainConfig::mlp_default(RuleConfig::Bp, 1, 1);
    let net = config
        .architecture
        .build(train_set.image, &config.hidden, 10, config.activation, 1)
        .unwrap();
    let forward = net.forward(train_set.x.view()).unwrap();
    let steady = DfcOptions::default();
    let simulated = DfcOptions {
        dynamics: Dynamics::Simulated {
            steps: 400,
            dt: 0.1,
            tau_u: 1.0,
        },
        ..steady
    };
    // Same seed, same feedback weights; learn them so the controlled network is stable.
    let mut a = DeepFeedbackControl::new(&net, steady, 3).unwrap();
    let mut b = DeepFeedbackControl::new(&net, simulated, 3).unwrap();
    for _ in 0..300 {
        a.learn_feedback(&net, &forward).unwrap();
        b.learn_feedback(&net, &forward).unwrap();
    }
    assert_eq!(a.feedback_weights(), b.feedback_weights());
    let x = a.controlled_shift(&net, &forward, &train_set.y).unwrap();
    let y = b.controlled_shift(&net, &forward, &train_set.y).unwrap();
    for (l, (x, y)) in x.iter().zip(&y).enumerate() {
        let relative = (x - y).mapv(|v| v * v).sum().sqrt() / x.mapv(|v| v * v).sum().sqrt();
        assert!(relative < 0.05, "layer {l}: relative difference {relative}");
    }
}

#[test]
fn invalid_dfc_options_are_refused() {
    let (train_set, test_set) = fashion_mnist(256, 10);
    let err = train(
        &quick(
            DfcOptions {
                alpha: 0.0,
                ..DfcOptions::default()
            },
            1,
        ),
        &train_set,
        &test_set,
        |_, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("DFC needs positive"), "{err}");
}
