//! The CIFAR-10 convnet of the presets on the real data mirror: every rule lowers the loss in a
//! few steps, and training is seeded.

mod common;

use model_zoo::{Preset, Rule, TrainConfig, TrainingData, evaluate, train};

/// The quick preset's config of `rule`, cut to `steps` steps of 32 images.
fn few_steps(rule: Rule, steps: usize) -> TrainConfig {
    let mut config = Preset::builtin(TrainingData::Cifar10, "quick")
        .unwrap()
        .config(rule, "cnn")
        .unwrap();
    config.epochs = 1;
    config.batch_size = 32;
    config.max_steps_per_epoch = Some(steps);
    config.alignment_every = 0;
    config
}

#[test]
fn every_rule_lowers_the_loss_of_the_cifar_convnet_in_a_few_steps() {
    let (train_set, test_set) = common::cifar10(100, 20);
    let rules = Preset::builtin(TrainingData::Cifar10, "quick").unwrap();
    for rule in rules.rules() {
        let config = few_steps(rule, 25);
        let initial = config
            .architecture
            .build(
                (32, 32, 3),
                &config.hidden,
                10,
                config.activation,
                config.seed,
            )
            .unwrap();
        let (before, _) = evaluate(&initial, train_set.x.view(), &train_set.y).unwrap();
        let trained = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
        let (after, _) = evaluate(&trained.net, train_set.x.view(), &train_set.y).unwrap();
        assert!(
            after < before - 0.02,
            "{rule}: loss {before} before and {after} after 25 steps"
        );
    }
}

#[test]
fn augmented_training_is_seeded() {
    let (train_set, test_set) = common::cifar10(20, 5);
    let config = few_steps(Rule::Bp, 5);
    assert!(config.augmentation.is_some());
    let a = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
    let b = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
    assert_eq!(a.net, b.net);
    let other = TrainConfig { seed: 2, ..config };
    let c = train(&other, &train_set, &test_set, |_, _| {}).unwrap();
    assert_ne!(a.net, c.net);
}
