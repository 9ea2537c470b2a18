use ndarray::{Array2, s};
use rand::Rng;

use super::*;
use crate::loss::cross_entropy;

/// A small VNN, a batch of five examples and their labels.
fn small() -> (VectorNetwork, Array2<f32>, Vec<u8>) {
    let net = VectorNetwork::mlp(6, &[8, 6], 3, 11).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let x = Array2::from_shape_fn((5, 6), |_| rng.random_range(-1.0f32..1.0));
    (net, x, vec![0, 2, 1, 1, 0])
}

/// A small VNN convnet on 8×8×2 images (two padded convolutions, a dense layer), a batch of
/// four and their labels.
fn small_cnn() -> (VectorNetwork, Array2<f32>, Vec<u8>) {
    let net = VectorNetwork::cnn((8, 8, 2), &[(4, 3, 1), (6, 3, 1)], &[6], 3, 21).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let x = Array2::from_shape_fn((4, 128), |_| rng.random_range(-1.0f32..1.0));
    (net, x, vec![2, 0, 1, 2])
}

fn loss(net: &VectorNetwork, x: &Array2<f32>, y: &[u8]) -> f64 {
    f64::from(cross_entropy(&net.forward(x.view()).unwrap().logits, y).0)
}

#[test]
fn backprop_gradient_equals_finite_differences_of_the_loss() {
    for make in [small, small_cnn] {
        check_gradient(make);
    }
}

fn check_gradient(make: fn() -> (VectorNetwork, Array2<f32>, Vec<u8>)) {
    let (mut net, x, y) = make();
    // Random biases: at initialisation (zero biases) an example whose first-layer gates are all
    // closed gives the next layer zero vectors, exactly on its gates' threshold, where the
    // loss has no derivative.
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for layer in &mut net.layers {
        layer.bias.mapv_inplace(|_| rng.random_range(-0.3f32..0.3));
    }
    let gradient = net.gradient(&net.forward(x.view()).unwrap(), &y);
    let eps = 1e-3f32;
    let mut checked = 0;
    for l in 0..net.layers.len() {
        let (rows, cols) = net.layers[l].weight.dim();
        for (r, c) in [(0, 0), (rows - 1, cols - 1), (rows / 2, cols / 3)] {
            let mut plus = net.clone();
            plus.layers[l].weight[[r, c]] += eps;
            let mut minus = net.clone();
            minus.layers[l].weight[[r, c]] -= eps;
            let numeric = (loss(&plus, &x, &y) - loss(&minus, &x, &y)) / (2.0 * f64::from(eps));
            let analytic = f64::from(gradient.weight[l][[r, c]]);
            assert!(
                (numeric - analytic).abs() < 2e-3 + 2e-2 * analytic.abs(),
                "layer {l} weight ({r}, {c}): numeric {numeric}, backprop {analytic}"
            );
            checked += usize::from(analytic.abs() > 1e-4);
        }
        let last = net.layers[l].bias.len() - 1;
        for i in [0, last] {
            let mut plus = net.clone();
            plus.layers[l].bias[i] += eps;
            let mut minus = net.clone();
            minus.layers[l].bias[i] -= eps;
            let numeric = (loss(&plus, &x, &y) - loss(&minus, &x, &y)) / (2.0 * f64::from(eps));
            let analytic = f64::from(gradient.bias[l][i]);
            assert!(
                (numeric - analytic).abs() < 2e-3 + 2e-2 * analytic.abs(),
                "layer {l} bias {i}: numeric {numeric}, backprop {analytic}"
            );
        }
    }
    assert!(checked >= 4, "only {checked} nonzero gradients checked");
}

#[test]
fn gevb_updates_have_the_gradients_sign_for_every_example_only_in_nonnegative_networks() {
    for make in [small, small_cnn] {
        check_signs(make);
    }
}

/// Per example and layer (example-major), the sign agreement of GEVB's update with the
/// gradient.
fn per_example_signs(net: &VectorNetwork, x: &Array2<f32>, y: &[u8]) -> Vec<Vec<f32>> {
    (0..y.len())
        .map(|e| {
            let one = net.forward(x.slice(s![e..e + 1, ..])).unwrap();
            let gradient = net.gradient(&one, &y[e..e + 1]);
            sign_agreement(&net.gevb(&one, &y[e..e + 1]), &gradient)
        })
        .collect()
}

fn check_signs(make: fn() -> (VectorNetwork, Array2<f32>, Vec<u8>)) {
    let (net, x, y) = make();
    for signs in per_example_signs(&net, &x, &y) {
        for (layer, &a) in net.layers.iter().zip(&signs) {
            match layer.kind {
                // The theorem: every weight of a dense layer.
                VectorLayerKind::Dense => assert_eq!(a, 1.0, "{}: {signs:?}", layer.name),
                // A convolution's weight sums its uses at every pixel, each with its own
                // nonnegative factor, so one example's update can differ in sign from the
                // gradient; most signs still agree.
                VectorLayerKind::Conv(_) => {
                    assert!(a > 0.6 && a <= 1.0, "{}: {signs:?}", layer.name)
                }
            }
        }
    }
    // The same network with mixed-sign weights past the first layer: the theorem's premise
    // fails, and so does the sign match.
    let mut mixed = net.clone();
    for layer in &mut mixed.layers[1..] {
        for (i, w) in layer.weight.iter_mut().enumerate() {
            if i % 3 == 0 {
                *w = -*w;
            }
        }
    }
    let signs = per_example_signs(&mixed, &x, &y);
    assert!(signs.iter().flatten().any(|&a| a < 0.9), "{signs:?}");
}

#[test]
fn initialisation_pairs_units_with_opposite_vectors_that_gate_alike() {
    let (net, x, _) = small();
    for layer in &net.layers[1..] {
        assert!(layer.weight.iter().all(|&w| w >= 0.0), "{}", layer.name);
    }
    let gates = net.layers[0].gates.as_ref().unwrap();
    for pair in 0..4 {
        for c in 0..3 {
            assert_eq!(gates[[c, 2 * pair]], -gates[[c, 2 * pair + 1]]);
            assert_eq!(gates[[c, 2 * pair]].abs(), 1.0);
        }
    }
    let forward = net.forward(x.view()).unwrap();
    for l in 0..2 {
        let open = &forward.open[l];
        let features = forward.hidden_features(l);
        let units = open.ncols();
        for e in 0..5 {
            for pair in 0..units / 2 {
                assert_eq!(open[[e, 2 * pair]], open[[e, 2 * pair + 1]], "layer {l}");
                for c in 0..3 {
                    let (even, odd) = (
                        features[[e, c * units + 2 * pair]],
                        features[[e, c * units + 2 * pair + 1]],
                    );
                    assert!((even + odd).abs() < 1e-5, "layer {l}: {even} and {odd}");
                }
            }
        }
        // Some pairs open, some closed.
        assert!(
            open.sum() > 0.0 && open.sum() < open.len() as f32,
            "layer {l}"
        );
    }
    assert_eq!(net.describe(), "6x3-fc8-fc6-fc1 vnn");
}

#[test]
fn hidden_features_are_each_examples_components_in_a_row() {
    let (net, x, _) = small();
    let forward = net.forward(x.view()).unwrap();
    let features = forward.hidden_features(1);
    assert_eq!(features.dim(), (5, 3 * 6));
    for c in 0..3 {
        for m in 0..6 {
            assert_eq!(features[[4, c * 6 + m]], forward.hidden[1][[c, 4, m]]);
        }
    }
    let named = net.activations(x.view(), &["fc2", "fc1"]).unwrap();
    assert_eq!(named[0].1, features);
    assert_eq!(named[1].1.ncols(), 3 * 8);
    let err = net.activations(x.view(), &["fc3"]).unwrap_err().to_string();
    assert!(err.contains("no hidden layer named 'fc3'"), "{err}");
}

/// Forwarding in batches gives every example the features it gets forwarded with all the
/// others (a convnet's, whose first-layer maps are what batching keeps small).
#[test]
fn hidden_layers_forwarded_in_batches_equal_one_pass() {
    let (net, x, _) = small_cnn();
    let whole = net.forward(x.view()).unwrap();
    for batch in [1, 3, 4, 10] {
        let batched = net.hidden_in_batches(x.view(), batch).unwrap();
        assert_eq!(batched.len(), net.layers.len() - 1);
        for (l, features) in batched.iter().enumerate() {
            let expected = whole.hidden_features(l);
            assert_eq!(features.dim(), expected.dim());
            let worst = (features - &expected)
                .iter()
                .fold(0f32, |m, d| m.max(d.abs()));
            assert!(worst < 1e-5, "layer {l}, batch {batch}: differs by {worst}");
        }
    }
    let none = net.hidden_in_batches(x.slice(s![..0, ..]), 4).unwrap();
    assert!(none.iter().all(|f| f.nrows() == 0));
}

#[test]
fn bad_shapes_are_refused() {
    let err = VectorNetwork::mlp(6, &[8, 5], 3, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 units"), "{err}");
    assert!(VectorNetwork::mlp(6, &[], 3, 1).is_err());
    let (net, _, _) = small();
    let err = net.forward(Array2::zeros((2, 7)).view()).unwrap_err();
    assert!(err.to_string().contains("takes 6 inputs"), "{err}");
}

#[test]
fn checkpoints_round_trip_and_bad_files_are_named() {
    let (net, _, _) = small();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vnn.safetensors");
    let config = VectorTrainConfig::mlp_default(VectorRule::Gevb, 2, 5);
    let sha = save_vectorized(&path, &net, &config).unwrap();
    assert_eq!(sha.len(), 64);
    let (loaded, loaded_config) = load_vectorized(&path).unwrap();
    assert_eq!(loaded, net);
    assert_eq!(loaded_config, config);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_vectorized(&path).unwrap_err().to_string();
    assert!(err.contains("vnn.safetensors"), "{err}");
}

#[test]
fn convolutional_pairs_carry_opposite_maps_and_pooling_is_its_adjoints_adjoint() {
    let (net, x, _) = small_cnn();
    assert_eq!(
        net.describe(),
        "8x8x2x3-conv3x3x4p1/2-conv3x3x6p1/2-fc6-fc1 vnn"
    );
    for layer in &net.layers[1..] {
        assert!(layer.weight.iter().all(|&w| w >= 0.0), "{}", layer.name);
    }
    let forward = net.forward(x.view()).unwrap();
    // conv1's pooled maps: 4×4 pixels × 4 channels; conv2's: 2×2 × 6.
    for (l, channels) in [(0, 4), (1, 6)] {
        let features = forward.hidden_features(l);
        let per_component = features.ncols() / 3;
        assert_eq!(per_component % channels, 0);
        for e in 0..4 {
            for c in 0..3 {
                for at in (0..per_component).step_by(2) {
                    let (even, odd) = (
                        features[[e, c * per_component + at]],
                        features[[e, c * per_component + at + 1]],
                    );
                    assert!((even + odd).abs() < 1e-5, "layer {l}: {even} and {odd}");
                }
            }
        }
    }
    let g = match net.layers[0].kind {
        VectorLayerKind::Conv(g) => g,
        VectorLayerKind::Dense => unreachable!(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let maps = Array2::from_shape_fn((2 * 64, 4), |_| rng.random_range(-1.0f32..1.0));
    let gradient = Array2::from_shape_fn((2, 64), |_| rng.random_range(-1.0f32..1.0));
    let pooled = pass::average_pool(maps.view(), &g, 2);
    let unpooled = pass::average_unpool(gradient.view(), &g, 2);
    let left: f32 = (&pooled * &gradient).sum();
    let right: f32 = (&maps * &unpooled).sum();
    assert!((left - right).abs() < 1e-4, "{left} vs {right}");
    // Pooling 2×2 windows: each window's mean.
    let window_mean = (maps[[0, 0]] + maps[[1, 0]] + maps[[8, 0]] + maps[[9, 0]]) / 4.0;
    assert!((pooled[[0, 0]] - window_mean).abs() < 1e-5);
}

#[test]
fn a_vnn_is_a_model_whose_layers_are_its_hidden_vectors_channels_first() {
    use crate::model::Model;
    let (net, x, _) = small_cnn();
    let forward = net.forward(x.view()).unwrap();
    let mut model = VectorZooModel::new(net).unwrap();
    assert_eq!(model.input_shape(), [2, 8, 8]);
    let layers = model.layers().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["conv1", "conv2", "fc1"]);
    assert_eq!(layers[0].shape, [3, 4, 4, 4]);
    assert_eq!(layers[2].shape, [3, 6]);
    // Stimuli channels-first, as every model takes them.
    let stimuli = x
        .clone()
        .into_shape_with_order((4, 8, 8, 2))
        .unwrap()
        .permuted_axes([0, 3, 1, 2])
        .as_standard_layout()
        .into_owned();
    let acts = model
        .activations(stimuli.view(), &["conv1", "fc1"])
        .unwrap();
    let conv1 = acts.get("conv1").unwrap();
    let engine = forward.hidden_features(0);
    // Component 2, channel 3, pixel (1, 2) of example 1: channels-last at (1·4 + 2)·4 + 3.
    assert_eq!(
        conv1[[1, 2 * 64 + 3 * 16 + 4 + 2]],
        engine[[1, 2 * 64 + (4 + 2) * 4 + 3]]
    );
    assert_eq!(acts.get("fc1").unwrap(), &forward.hidden_features(2));
    let wrong = ndarray::Array4::<f32>::zeros((1, 3, 8, 8));
    assert!(model.activations(wrong.view(), &["fc1"]).is_err());
}
