//! Speed of the metrics at realistic sizes (see the README's performance table):
//! RDM + Spearman on 2000 stimuli × 4096 features; debiased linear CKA 2000 × 4096 vs
//! 2000 × 200; PLS-25 and ridge-CV with 10 splits on 640 stimuli × 16384 features → 50 neuroids;
//! the spectral theory of neural prediction (Gram, eigendecomposition, theory and simulated
//! learning curves at ten sizes, five trials each) on 640 stimuli × 56000 features → 50.
//!
//! The arrays are written once to `target/bench-data/*.npy` so that
//! `scripts/bench_reference.py` can time the Python reference tools on identical inputs.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use evaluators::{
    CkaOptions, CompareMethod, CrossValidation, RdmMethod, Regression, RidgeCvCriterion,
    SpectralOptions, cka, compare_rdms, compute_rdm, cross_validated_predictivity,
    default_alpha_grid, spectral_prediction,
};
use ndarray::Array2;
use ndarray_npy::{read_npy, write_npy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data")
}

fn uniform(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |_| rng.random::<f64>() - 0.5)
}

/// Activation-like features: a 64-dimensional latent signal spread over `features`, plus noise,
/// rectified (as after a ReLU).
fn features(stimuli: usize, features: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let latent = uniform(stimuli, 64, &mut rng);
    let mixing = uniform(64, features, &mut rng);
    (latent.dot(&mixing) + uniform(stimuli, features, &mut rng)).mapv(|v| v.max(0.0))
}

/// Responses that depend linearly on the first 64 features, plus noise.
fn responses(x: &Array2<f64>, neuroids: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = uniform(64, neuroids, &mut rng);
    x.slice(ndarray::s![.., ..64]).dot(&w) + uniform(x.nrows(), neuroids, &mut rng) * 2.0
}

/// Loads a bench array, generating and saving it the first time.
fn cached(name: &str, make: impl FnOnce() -> Array2<f64>) -> Array2<f64> {
    let path = data_dir().join(format!("{name}.npy"));
    if let Ok(a) = read_npy(&path) {
        return a;
    }
    let a = make();
    std::fs::create_dir_all(data_dir()).expect("target/ is writable");
    let tmp = path.with_extension("npy.tmp");
    write_npy(&tmp, &a).expect("write bench data");
    std::fs::rename(&tmp, &path).expect("rename bench data");
    a
}

fn benches(c: &mut Criterion) {
    let rsa_x = cached("rsa_x_2000x4096", || features(2000, 4096, 1));
    let rsa_y = cached("rsa_y_2000x200", || features(2000, 200, 2));
    let reg_x = cached("reg_x_640x16384", || features(640, 16384, 3));
    let reg_y = cached("reg_y_640x50", || responses(&reg_x, 50, 4));
    // Half of the 9500 V1 patterns on a layer projected to 4096 features (the feature form).
    let v1_x = cached("v1_x_4750x4096", || features(4750, 4096, 5));
    let v1_y = cached("v1_y_4750x4", || responses(&v1_x, 4, 6));

    let mut group = c.benchmark_group("metrics");
    group.sample_size(10);
    group.bench_function("rdm_correlation_spearman_2000x4096", |b| {
        let ry = compute_rdm(rsa_y.view(), RdmMethod::Correlation).unwrap();
        b.iter(|| {
            let rx = compute_rdm(rsa_x.view(), RdmMethod::Correlation).unwrap();
            compare_rdms(&rx, &ry, CompareMethod::Spearman).unwrap()
        })
    });
    group.bench_function("cka_linear_debiased_2000x4096_vs_2000x200", |b| {
        b.iter(|| cka(rsa_x.view(), rsa_y.view(), CkaOptions::default()).unwrap())
    });
    let cv = CrossValidation::default();
    group.bench_function("pls25_10splits_640x16384_to_50", |b| {
        let pls = Regression::Pls { n_components: 25 };
        b.iter(|| {
            cross_validated_predictivity(reg_x.view(), reg_y.view(), None, &pls, &cv).unwrap()
        })
    });
    group.bench_function("pls25_10splits_4750x4096_to_4", |b| {
        let pls = Regression::Pls { n_components: 25 };
        b.iter(|| cross_validated_predictivity(v1_x.view(), v1_y.view(), None, &pls, &cv).unwrap())
    });
    group.bench_function("ridge_cv_10splits_640x16384_to_50", |b| {
        let ridge = Regression::RidgeCv {
            alphas: default_alpha_grid(),
            criterion: RidgeCvCriterion::LeaveOneOut,
            per_target: false,
        };
        b.iter(|| {
            cross_validated_predictivity(reg_x.view(), reg_y.view(), None, &ridge, &cv).unwrap()
        })
    });
    // The size the spectral theory must handle in 2 s: a V4 session's 640 images on a wide
    // layer (56k features), generated in memory (460 MB as .npy).
    let wide_x = features(640, 56_000, 7);
    let wide_y = responses(&wide_x, 50, 8);
    group.bench_function("spectral_prediction_640x56000_to_50", |b| {
        let options = SpectralOptions::for_stimuli(640);
        b.iter(|| spectral_prediction(wide_x.view(), wide_y.view(), &options).unwrap())
    });
    group.finish();
}

criterion_group!(metrics, benches);
criterion_main!(metrics);
