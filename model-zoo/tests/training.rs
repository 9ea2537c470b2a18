//! The engine and the rules on real Fashion-MNIST (from the Debian package set up by setup.sh)
//! and on small exact checks.

mod common;

use common::fashion_mnist;
use model_zoo::loss::cross_entropy;
use model_zoo::rules::backprop::Backprop;
use model_zoo::{Activation, Network, RuleConfig, TrainConfig, train};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
        let net = Network::mlp(&[6, 5, 4, 3], activation, 11).unwrap();
        let x = Array2::from_shape_fn((8, 6), |_| rng.random::<f32>() * 2.0 - 1.0);
        let y: Vec<u8> = (0..8).map(|i| (i % 3) as u8).collect();
        let gradient = Backprop::gradient(&net, &net.forward(x.view()).unwrap(), &y);
        let loss =
            |net: &Network| f64::from(cross_entropy(net.forward(x.view()).unwrap().output(), &y).0);
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
    let a = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
    let b = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
    assert_eq!(a.net, b.net);
    assert_eq!(a.history, b.history);
    let c = train(
        &TrainConfig { seed: 10, ..config },
        &train_set,
        &test_set,
        |_, _| {},
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
        let trained = train(&quick(rule.clone(), 1), &train_set, &test_set, |_, _| {}).unwrap();
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

#[test]
fn nmnc_estimates_point_closer_to_the_gradient_than_nc_at_equal_perturbations() {
    use model_zoo::alignment::cosine_per_layer;
    use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
    use model_zoo::rules::perturbation::PerturbationOptions;

    let (train_set, test_set) = fashion_mnist(6000, 500);
    // A network with some training behind it, shared by both estimators.
    let net = train(
        &TrainConfig {
            max_steps_per_epoch: Some(40),
            ..quick(RuleConfig::Bp, 4)
        },
        &train_set,
        &test_set,
        |_, _| {},
    )
    .unwrap()
    .net;
    let perturbation = PerturbationOptions {
        perturbations: 8,
        sigma: 1e-3,
    };
    let mut nc = RuleConfig::Nc(perturbation).build(&net, 5).unwrap();
    let mut nmnc = RuleConfig::Nmnc(ManifoldOptions {
        perturbation,
        ..ManifoldOptions::default()
    })
    .build(&net, 5)
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (mut nc_sum, mut nmnc_sum) = (0.0, 0.0);
    for batch in 0..6 {
        let rows: Vec<usize> = (batch * 128..(batch + 1) * 128).collect();
        let x = train_set.x.select(ndarray::Axis(0), &rows);
        let y: Vec<u8> = rows.iter().map(|&i| train_set.y[i]).collect();
        let forward = net.forward(x.view()).unwrap();
        let gradient = Backprop::gradient(&net, &forward, &y);
        let hidden_mean = |c: Vec<f32>| c[..3].iter().sum::<f32>() / 3.0;
        nc_sum += hidden_mean(cosine_per_layer(
            &nc.updates(&net, &forward, &y, &mut rng).unwrap(),
            &gradient,
        ));
        nmnc_sum += hidden_mean(cosine_per_layer(
            &nmnc.updates(&net, &forward, &y, &mut rng).unwrap(),
            &gradient,
        ));
    }
    let (nc_alignment, nmnc_alignment) = (nc_sum / 6.0, nmnc_sum / 6.0);
    assert!(
        nc_alignment > 0.02,
        "NC must still point along the gradient: {nc_alignment}"
    );
    assert!(
        nmnc_alignment > 1.5 * nc_alignment,
        "NMNC {nmnc_alignment} vs NC {nc_alignment}"
    );
}

#[test]
fn perturbation_rules_learn_well_above_chance() {
    use model_zoo::rules::neural_manifold_noise_correlation::ManifoldOptions;
    use model_zoo::rules::perturbation::PerturbationOptions;
    let (train_set, test_set) = fashion_mnist(10_000, 1000);
    for rule in [
        RuleConfig::Nc(PerturbationOptions::default()),
        RuleConfig::Nmnc(ManifoldOptions::default()),
    ] {
        let config = TrainConfig {
            max_steps_per_epoch: Some(100),
            epochs: 1,
            ..quick(rule.clone(), 2)
        };
        let trained = train(&config, &train_set, &test_set, |_, _| {}).unwrap();
        let accuracy = trained.history[0].test_accuracy;
        assert!(accuracy > 0.6, "{rule:?}: {accuracy}");
        // NMNC records its noise subspace per layer (1 to the layer's units); NC has none.
        let subspace = &trained.history[0].noise_subspace;
        match rule {
            RuleConfig::Nmnc(_) => {
                assert_eq!(subspace.len(), trained.net.layers.len());
                for (k, layer) in subspace.iter().zip(&trained.net.layers) {
                    assert!((1..=layer.bias.len()).contains(k), "{subspace:?}");
                }
            }
            _ => assert!(subspace.is_empty(), "{subspace:?}"),
        }
    }
}
