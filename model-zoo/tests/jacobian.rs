//! The logits' Jacobian with respect to a layer's output, against finite differences.

use model_zoo::{Activation, Network};
use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The logits computed from layer `from`'s output `h` upwards.
fn logits_from(net: &Network, from: usize, h: ArrayView2<f32>) -> Array2<f32> {
    let mut h = h.to_owned();
    for l in from + 1..net.layers.len() {
        let (_, pre) = net.drive(l, h.view());
        let act = net.layers[l].activation.apply(&pre);
        h = net.layer_output(l, &act, h.nrows()).0;
    }
    h
}

#[test]
fn output_jacobian_matches_finite_differences_on_mlp_and_cnn() {
    let mlp = Network::mlp(&[12, 9, 7, 4], Activation::Tanh, 3).unwrap();
    // 6x6x2 images -> conv 3x3x3 (4x4) -> pool (2x2x3) -> fc 5 -> fc 3.
    let cnn = Network::cnn((6, 6, 2), &[(3, 3)], &[5, 3], Activation::Tanh, 7).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (net, layer) in [(&mlp, "fc1"), (&mlp, "fc2"), (&cnn, "conv1")] {
        let x = Array2::from_shape_fn((3, net.n_inputs()), |_| rng.random::<f32>() * 2.0 - 1.0);
        let l = net.layer_index(layer).unwrap();
        let forward = net.forward(x.view()).unwrap();
        let h = &forward.post[l];
        let classes = forward.output().ncols();
        let jacobian = net.output_jacobian(&forward, layer).unwrap();
        assert_eq!(jacobian.dim(), (3 * classes, h.ncols()));
        let eps = 1e-2f32;
        for e in 0..3 {
            for unit in 0..h.ncols() {
                let (mut plus, mut minus) = (h.clone(), h.clone());
                plus[[e, unit]] += eps;
                minus[[e, unit]] -= eps;
                let change = (logits_from(net, l, plus.view()) - logits_from(net, l, minus.view()))
                    / (2.0 * eps);
                for j in 0..classes {
                    let analytic = jacobian[[e * classes + j, unit]];
                    let numeric = change[[e, j]];
                    assert!(
                        (analytic - numeric).abs() < 2e-3 + 1e-2 * numeric.abs(),
                        "{layer} example {e} unit {unit} logit {j}: {analytic} vs {numeric}"
                    );
                }
            }
        }
    }
    let forward = mlp.forward(Array2::zeros((1, 12)).view()).unwrap();
    assert!(mlp.output_jacobian(&forward, "fc9").is_err());
}
