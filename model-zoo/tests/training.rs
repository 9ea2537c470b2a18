//! The engine and the rules on real Fashion-MNIST (from the Debian package set up by setup.sh)
//! and on small exact checks.

use brain_data::loaders::fashion_mnist::{Part, load};
use brain_data::{Catalog, DataStore};
use model_zoo::loss::cross_entropy;
use model_zoo::rules::backprop::Backprop;
use model_zoo::{Activation, LabelledData, Mlp, RuleConfig, TrainConfig, train};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fashion_mnist(n_train: usize, n_test: usize) -> (LabelledData, LabelledData) {
    let cache = std::env::temp_dir().join("cortexbench-test-unused-cache");
    let store = DataStore::new(cache).offline(true);
    let catalog = Catalog::builtin();
    let train = load(&store, &catalog, Part::Train)
        .expect("Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    let test = load(&store, &catalog, Part::Test).unwrap();
    (
        LabelledData::from_u8_images(&train.images, train.labels)
            .unwrap()
            .head(n_train),
        LabelledData::from_u8_images(&test.images, test.labels)
            .unwrap()
            .head(n_test),
    )
}

fn quick(rule: RuleConfig, seed: u64) -> TrainConfig {
    TrainConfig {
        max_steps_per_epoch: Some(150),
        alignment_every: 25,
        ..TrainConfig::mlp_default(rule, 2, seed)
    }
}

#[test]
fn backprop_gradient_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for activation in [Activation::Tanh, Activation::Relu] {
        let net = Mlp::new(&[6, 5, 4, 3], activation, 11).unwrap();
        let x = Array2::from_shape_fn((8, 6), |_| rng.random::<f32>() * 2.0 - 1.0);
        let y: Vec<u8> = (0..8).map(|i| (i % 3) as u8).collect();
        let gradient = Backprop::gradient(&net, &net.forward(x.view()).unwrap(), &y);
        let loss =
            |net: &Mlp| f64::from(cross_entropy(net.forward(x.view()).unwrap().output(), &y).0);
        let eps = 1e-2f32;
        for l in 0..net.layers.len() {
            for ((i, j), &analytic) in gradient.weight[l].indexed_iter() {
                let (mut plus, mut minus) = (net.clone(), net.clone());
                plus.layers[l].weight[[i, j]] += eps;
                minus.layers[l].weight[[i, j]] -= eps;
                let numeric = (loss(&plus) - loss(&minus)) / (2.0 * f64::from(eps));
                let err = (numeric - f64::from(analytic)).abs();
                assert!(
                    err < 2e-3 + 2e-2 * numeric.abs(),
                    "{activation:?} layer {l} ({i},{j}): {analytic} vs {numeric}"
                );
            }
        }
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let (train_set, test_set) = fashion_mnist(2000, 500);
    let config = TrainConfig {
        max_steps_per_epoch: Some(20),
        ..quick(RuleConfig::Fa, 9)
    };
    let a = train(&config, &train_set, &test_set, |_| {}).unwrap();
    let b = train(&config, &train_set, &test_set, |_| {}).unwrap();
    assert_eq!(a.net, b.net);
    assert_eq!(a.history, b.history);
    let c = train(
        &TrainConfig { seed: 10, ..config },
        &train_set,
        &test_set,
        |_| {},
    )
    .unwrap();
    assert_ne!(a.net, c.net);
}

#[test]
fn every_rule_learns_fashion_mnist_well_above_chance() {
    let (train_set, test_set) = fashion_mnist(20_000, 2000);
    for rule in [
        RuleConfig::Bp,
        RuleConfig::Fa,
        RuleConfig::Dfa,
        RuleConfig::SignSymmetry,
    ] {
        let trained = train(&quick(rule.clone(), 1), &train_set, &test_set, |_| {}).unwrap();
        let (first, last) = (&trained.history[0], trained.history.last().unwrap());
        assert!(
            last.test_accuracy > 0.72,
            "{rule:?}: test accuracy {}",
            last.test_accuracy
        );
        assert!(
            last.train_loss < first.train_loss,
            "{rule:?}: loss did not fall"
        );
        let alignment = &last.alignment;
        match rule {
            RuleConfig::Bp => assert!(
                alignment.iter().all(|&c| (c - 1.0).abs() < 1e-4),
                "{alignment:?}"
            ),
            _ => {
                // The output layer always gets the true error; hidden layers align partially.
                assert!((alignment[3] - 1.0).abs() < 1e-4, "{rule:?}: {alignment:?}");
                assert!(
                    alignment[..3].iter().all(|&c| c > 0.0 && c < 0.9999),
                    "{rule:?}: {alignment:?}"
                );
            }
        }
    }
}
