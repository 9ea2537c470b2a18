//! ONNX: exported zoo networks reproduce the engine through ONNX Runtime, a real pretrained
//! model classifies real photos and yields its intermediate layers, and bad files or requests
//! fail with errors that say what is wrong.

use std::path::PathBuf;

use brain_data::{Catalog, DataStore, Preprocessing};
use model_zoo::onnx::{OnnxGraph, save_onnx};
use model_zoo::{
    Activation, ExtractionOptions, Model, Network, OnnxModel, RandomProjection, ZooModel, extract,
};
use ndarray::{Array4, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_stimuli(n: usize, shape: [usize; 3], seed: u64) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array4::from_shape_fn((n, shape[0], shape[1], shape[2]), |_| {
        rng.random_range(-1.0..1.0)
    })
}

/// Exports `net`, reads every layer back through ONNX Runtime and compares with the engine.
fn assert_export_reproduces_engine(net: Network) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.onnx");
    let mut zoo = ZooModel::new(net).unwrap();
    save_onnx(&path, &mut zoo, &[("rule".into(), "bp".into())]).unwrap();
    let mut onnx = OnnxModel::open(&path, None).unwrap();
    assert_eq!(onnx.input_shape(), zoo.input_shape());

    let names: Vec<String> = zoo.layers().unwrap().into_iter().map(|l| l.name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let onnx_layers: Vec<String> = onnx.layers().unwrap().into_iter().map(|l| l.name).collect();
    for name in &names {
        assert!(
            onnx_layers.iter().any(|l| l == name),
            "{name} not in {onnx_layers:?}"
        );
    }
    let stimuli = random_stimuli(37, zoo.input_shape(), 5);
    let engine = zoo.activations(stimuli.view(), &names).unwrap();
    let runtime = onnx.activations(stimuli.view(), &names).unwrap();
    for (name, expected) in engine.iter() {
        let got = runtime.get(name).unwrap();
        assert_eq!(got.dim(), expected.dim(), "{name}");
        let worst = (got - expected).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(
            worst < 1e-5,
            "{name}: ONNX Runtime differs from the engine by {worst}"
        );
        assert!(
            expected.iter().any(|&v| v.abs() > 0.05),
            "{name} is all near zero"
        );
    }
}

#[test]
fn exported_cnn_reproduces_the_engine_to_1e5() {
    let net = Network::cnn(
        (28, 28, 1),
        &[(8, 5), (16, 5)],
        &[32, 10],
        Activation::Tanh,
        3,
    )
    .unwrap();
    assert_export_reproduces_engine(net);
}

#[test]
fn exported_relu_cnn_on_colour_images_reproduces_the_engine() {
    let net = Network::cnn((20, 24, 3), &[(6, 3)], &[12, 4], Activation::Relu, 9).unwrap();
    assert_export_reproduces_engine(net);
}

#[test]
fn exported_mlp_reproduces_the_engine() {
    let net = Network::mlp(&[784, 64, 32, 10], Activation::Tanh, 4).unwrap();
    assert_export_reproduces_engine(net);
}

/// The mirror's `models/` folder: `CORTEXBENCH_MODELS`, else beside `CORTEXBENCH_MIRROR`,
/// else `../shared/models` beside the checkout.
fn efficientnet_path() -> PathBuf {
    let dir = std::env::var_os("CORTEXBENCH_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CORTEXBENCH_MIRROR").map(|m| PathBuf::from(m).join("../models"))
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    let path = dir.join("efficientnet_lite0.onnx");
    assert!(
        path.is_file(),
        "{} not found (set CORTEXBENCH_MODELS or CORTEXBENCH_MIRROR)",
        path.display()
    );
    path
}

fn mirror_store() -> DataStore {
    let mirror = std::env::var_os("CORTEXBENCH_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/brain-data")
        });
    DataStore::new(std::env::temp_dir().join("cortexbench-test-unused-cache"))
        .with_mirror(mirror)
        .offline(true)
}

fn top5(logits: ndarray::ArrayView1<f32>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order.truncate(5);
    order
}

#[test]
fn efficientnet_classifies_real_photos_and_exposes_intermediate_layers() {
    let set = brain_data::loaders::kriegeskorte2008::stimuli(&mirror_store(), &Catalog::builtin())
        .unwrap();
    // k92-041 is a dog's face, k92-043 a monkey's face (category "nonhuman face").
    let picks = [40, 42];
    for &i in &picks {
        assert_eq!(set.categories.as_ref().unwrap()[i], "nonhuman face");
    }
    let pre = Preprocessing::imagenet(224);
    let planes: Vec<_> = picks
        .iter()
        .map(|&i| pre.apply(&set.images[i]).unwrap())
        .collect();
    let views: Vec<_> = planes
        .iter()
        .map(|p| p.view().insert_axis(Axis(0)))
        .collect();
    let stimuli = ndarray::concatenate(Axis(0), &views).unwrap();

    let mut model = OnnxModel::open(&efficientnet_path(), None).unwrap();
    assert_eq!(model.input_shape(), [3, 224, 224]);
    let library = model_zoo::onnx::loaded_library().unwrap();
    assert!(library.contains("git-commit-id="), "{library}");
    let layers = [
        "/_blocks.1/_project_conv/Conv_output_0",
        "/_blocks.5/_project_conv/Conv_output_0",
        "/_swish_1/Clip_output_0",
        // A node name stands for its one output.
        "/_avg_pooling/GlobalAveragePool",
        "logits",
    ];
    let acts = model.activations(stimuli.view(), &layers).unwrap();
    let logits = acts.get("logits").unwrap();
    assert_eq!(logits.dim(), (2, 1000));
    // ImageNet classes 151-280 are dogs, wolves and foxes; 365-384 are primates.
    let dog = top5(logits.row(0));
    assert!(
        dog.iter().all(|c| (151..=280).contains(c)),
        "dog photo: top-5 {dog:?}"
    );
    let monkey = top5(logits.row(1));
    assert!(
        monkey.iter().all(|c| (365..=384).contains(c)),
        "monkey photo: top-5 {monkey:?}"
    );

    let infos = model.layers().unwrap();
    let shape_of = |name: &str| infos.iter().find(|l| l.name == name).unwrap().shape.clone();
    assert_eq!(
        shape_of("/_blocks.1/_project_conv/Conv_output_0"),
        vec![24, 56, 56]
    );
    assert_eq!(shape_of("/_swish_1/Clip_output_0"), vec![1280, 7, 7]);
    for (name, features) in [
        ("/_blocks.1/_project_conv/Conv_output_0", 24 * 56 * 56),
        (
            "/_blocks.5/_project_conv/Conv_output_0",
            shape_of("/_blocks.5/_project_conv/Conv_output_0")
                .iter()
                .product(),
        ),
        ("/_swish_1/Clip_output_0", 1280 * 49),
        ("/_avg_pooling/GlobalAveragePool", 1280),
    ] {
        let a = acts.get(name).unwrap();
        assert_eq!(a.dim(), (2, features), "{name}");
        assert!(a.iter().all(|v| v.is_finite()));
        assert!(a.iter().any(|&v| v != 0.0), "{name} is all zero");
    }
    // The ReLU6 (Clip) output is within [0, 6].
    let clip = acts.get("/_swish_1/Clip_output_0").unwrap();
    assert!(clip.iter().all(|&v| (0.0..=6.0).contains(&v)));
    // The pooled features are the mean of the last feature map over space.
    let pooled = acts.get("/_avg_pooling/GlobalAveragePool").unwrap();
    let mean = clip
        .to_shape((2, 1280, 49))
        .unwrap()
        .mean_axis(Axis(2))
        .unwrap();
    let worst = (&mean - pooled).iter().fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(worst < 1e-4, "{worst}");

    // Streaming in batches of 1 with a seeded projection: same logits, bounded width, repeatable.
    let options = ExtractionOptions {
        batch_size: 1,
        projection: Some(RandomProjection { dim: 500, seed: 11 }),
    };
    let load = |r: std::ops::Range<usize>| Ok(stimuli.slice_axis(Axis(0), r.into()).to_owned());
    let wanted = ["/_blocks.1/_project_conv/Conv_output_0", "logits"];
    let (streamed, records) = extract(&mut model, 2, load, &wanted, &options).unwrap();
    assert_eq!(streamed.get(wanted[0]).unwrap().dim(), (2, 500));
    assert_eq!(records[0].features, 24 * 56 * 56);
    assert_eq!(records[0].projection_seed, Some(11));
    let streamed_logits = streamed.get("logits").unwrap();
    assert_eq!(streamed_logits.dim(), (2, 500));
    let (again, _) = extract(&mut model, 2, load, &wanted, &options).unwrap();
    assert_eq!(again, streamed);
    let unprojected = ExtractionOptions {
        batch_size: 1,
        projection: None,
    };
    let (plain, _) = extract(&mut model, 2, load, &["logits"], &unprojected).unwrap();
    let worst = (plain.get("logits").unwrap() - logits)
        .iter()
        .fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(worst < 1e-3, "batch of 1 vs 2: {worst}");
}

#[test]
fn bad_files_and_requests_fail_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let source = efficientnet_path();
    let bytes = std::fs::read(&source).unwrap();

    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let err = OnnxModel::open(&truncated, None).unwrap_err().to_string();
    assert!(
        err.contains("truncated.onnx") && err.contains("truncated"),
        "{err}"
    );

    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"this is not a protobuf at all, just some text\n").unwrap();
    let err = OnnxModel::open(&garbage, None).unwrap_err().to_string();
    assert!(err.contains("garbage.onnx"), "{err}");

    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let err = OnnxModel::open(&empty, None).unwrap_err().to_string();
    assert!(err.contains("empty.onnx") && err.contains("empty"), "{err}");

    let missing = OnnxModel::open(&dir.path().join("nope.onnx"), None)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("nope.onnx"), "{missing}");

    let err = OnnxModel::open(&source, Some([3, 100, 100]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("height") && err.contains("224"), "{err}");

    let mut model = OnnxModel::open(&source, None).unwrap();
    let wrong = Array4::<f32>::zeros((1, 3, 100, 100));
    let err = model
        .activations(wrong.view(), &["logits"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("3x224x224") && err.contains("3x100x100"),
        "{err}"
    );

    let ok = Array4::<f32>::zeros((1, 3, 224, 224));
    let err = model
        .activations(ok.view(), &["/no/such/layer"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/no/such/layer") && err.contains("harness layers"),
        "{err}"
    );

    // The original file is untouched by rewriting.
    model
        .activations(ok.view(), &["/_swish_1/Clip_output_0"])
        .unwrap();
    assert_eq!(std::fs::read(&source).unwrap(), bytes);
    let graph = OnnxGraph::open(&source).unwrap();
    assert_eq!(graph.output_names(), vec!["logits"]);
}

/// Exports a VNN, reads every hidden layer and the logits back through ONNX Runtime and
/// compares them with the engine.
fn assert_vectorized_export_reproduces_engine(net: model_zoo::vectorized::VectorNetwork) {
    use model_zoo::onnx::save_vectorized_onnx;
    use model_zoo::vectorized::VectorZooModel;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vnn.onnx");
    let mut vnn = VectorZooModel::new(net).unwrap();
    save_vectorized_onnx(&path, &mut vnn, &[("rule".into(), "gevb".into())]).unwrap();
    let mut onnx = OnnxModel::open(&path, None).unwrap();
    assert_eq!(onnx.input_shape(), vnn.input_shape());
    let names: Vec<String> = vnn.layers().unwrap().into_iter().map(|l| l.name).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let stimuli = random_stimuli(13, vnn.input_shape(), 9);
    let engine = vnn.activations(stimuli.view(), &names).unwrap();
    let runtime = onnx.activations(stimuli.view(), &names).unwrap();
    for (name, expected) in engine.iter() {
        let got = runtime.get(name).unwrap();
        assert_eq!(got.dim(), expected.dim(), "{name}");
        let worst = (got - expected).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(worst < 1e-5, "{name}: ONNX Runtime differs by {worst}");
        assert!(expected.iter().any(|&v| v.abs() > 0.05), "{name} near zero");
        assert!(expected.iter().any(|&v| v == 0.0), "{name}: no closed gate");
    }
    let x = stimuli
        .view()
        .permuted_axes([0, 2, 3, 1])
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((13, vnn.network().n_inputs()))
        .unwrap();
    let logits = vnn.network().forward(x.view()).unwrap().logits;
    let got = onnx.activations(stimuli.view(), &["logits"]).unwrap();
    let worst = (got.get("logits").unwrap() - &logits)
        .iter()
        .fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(worst < 1e-5, "logits differ by {worst}");
}

#[test]
fn exported_vectorized_networks_reproduce_the_engine() {
    use model_zoo::vectorized::VectorNetwork;
    // An MLP on colour images (flattened channels-last), and a convnet with a dense layer
    // after its maps.
    assert_vectorized_export_reproduces_engine(VectorNetwork::mlp(48, &[8, 6], 4, 1).unwrap());
    assert_vectorized_export_reproduces_engine(
        VectorNetwork::cnn((8, 8, 3), &[(4, 3, 1), (6, 3, 1)], &[6], 4, 2).unwrap(),
    );
}
