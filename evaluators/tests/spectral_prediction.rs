//! The spectral theory of neural prediction: the numpy/scipy reference on the golden arrays
//! (`scripts/spectral_reference.py` wrote `tests/data/spectral_reference.json`), to 1e-8; and
//! theory against simulation on synthetic data with a known power-law spectrum and alignment.

use std::path::PathBuf;

use evaluators::spectral_prediction::{
    SpectralOptions, ridge_error, spectral_prediction, spectrum_of_gram, theory,
};
use ndarray::{Array1, Array2, Axis};
use ndarray_npy::read_npy;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

fn golden(name: &str) -> Array2<f64> {
    let dir = std::env::var_os("CORTEXBENCH_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden"));
    let path = dir.join("metrics").join(name);
    read_npy(&path).unwrap_or_else(|e| panic!("{} (set CORTEXBENCH_GOLDEN): {e}", path.display()))
}

fn centred(x: &Array2<f64>) -> Array2<f64> {
    x - &x.mean_axis(Axis(0)).unwrap().insert_axis(Axis(0))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[track_caller]
fn close(got: f64, expected: f64, what: &str) {
    let tol = 1e-8 * expected.abs().max(1.0);
    assert!(
        (got - expected).abs() <= tol,
        "{what}: got {got}, numpy {expected} (difference {:e})",
        (got - expected).abs()
    );
}

#[test]
fn spectrum_theory_and_ridge_errors_match_the_numpy_reference() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/spectral_reference.json"
    ))
    .unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let (x0, y0) = (golden("X.npy"), golden("Y.npy"));
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let centre = case["centre"].as_bool().unwrap();
        let alpha = case["alpha"].as_f64().unwrap();
        let ridge = case["ridge"].as_f64().unwrap();
        let (x, y) = if centre {
            (centred(&x0), centred(&y0))
        } else {
            (x0.clone(), y0.clone())
        };
        let label = format!("centre {centre}, alpha {alpha}");
        let gram = x.dot(&x.t());
        let spectrum = spectrum_of_gram(&gram, y.view()).unwrap();
        let (lambdas, shares) = (floats(&case["eigenvalues"]), floats(&case["alignment"]));
        assert_eq!(spectrum.eigenvalues.len(), lambdas.len(), "{label}");
        for (i, (got, want)) in spectrum.eigenvalues.iter().zip(&lambdas).enumerate() {
            close(*got, *want, &format!("{label}: eigenvalue {i}"));
        }
        for (i, (got, want)) in spectrum.alignment.iter().zip(&shares).enumerate() {
            close(*got, *want, &format!("{label}: alignment {i}"));
        }
        let expected = case["theory"].as_array().unwrap();
        let sizes: Vec<usize> = expected
            .iter()
            .map(|t| t["p"].as_u64().unwrap() as usize)
            .collect();
        close(
            alpha * spectrum.eigenvalues.iter().sum::<f64>(),
            ridge,
            &format!("{label}: ridge"),
        );
        let points = theory(&spectrum, ridge, &sizes).unwrap();
        for (point, want) in points.iter().zip(expected) {
            let at = format!("{label}, p {}", point.p);
            for (field, got) in [
                ("kappa", point.kappa),
                ("gamma", point.gamma),
                ("error", point.error),
                ("radius", point.radius),
                ("dimension", point.dimension),
            ] {
                close(
                    got,
                    want[field].as_f64().unwrap(),
                    &format!("{at}: {field}"),
                );
            }
            for (i, (got, want)) in point.modes.iter().zip(floats(&want["modes"])).enumerate() {
                close(*got, want, &format!("{at}: mode {i}"));
            }
        }
        for empirical in case["empirical"].as_array().unwrap() {
            let errors = floats(&empirical["errors"]);
            for (train, want) in empirical["train"].as_array().unwrap().iter().zip(errors) {
                let train: Vec<usize> = train
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap() as usize)
                    .collect();
                let got = ridge_error(&gram, y.view(), &train, ridge).unwrap();
                close(
                    got,
                    want,
                    &format!("{label}: ridge on {} stimuli", train.len()),
                );
            }
        }
    }
}

/// Features with a power-law covariance spectrum λₖ ∝ k^-1.5 and responses y = X w with a
/// power-law alignment wₖ ∝ k^-0.5 (plus 2 % noise), P = 1200 stimuli: the theory's E_g(p)
/// tracks the mean of 6 ridge fits per size within 5 % relative error from p = 40 to 800
/// (measured: within 2 %),
/// the error-mode geometry obeys E_g = R_em √D_em, and κ solves its equation.
#[test]
fn theory_tracks_simulation_on_a_power_law_spectrum() {
    let (n, features, neuroids) = (1200, 400, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let scale = Array1::from_shape_fn(features, |k| ((k + 1) as f64).powf(-0.75));
    let z = Array2::from_shape_fn((n, features), |_| StandardNormal.sample(&mut rng));
    let x = &z * &scale.view().insert_axis(Axis(0));
    let w = Array2::from_shape_fn((features, neuroids), |(k, _)| {
        let g: f64 = StandardNormal.sample(&mut rng);
        g * ((k + 1) as f64).powf(-0.5)
    });
    let clean = x.dot(&w);
    let noise_scale = 0.02 * clean.std(0.0);
    let y = clean.mapv(|v| {
        let g: f64 = StandardNormal.sample(&mut rng);
        v + noise_scale * g
    });
    let options = SpectralOptions {
        alpha: 1e-2,
        p: vec![40, 100, 200, 400, 800],
        trials: 6,
        seed: 3,
        centre: true,
    };
    let result = spectral_prediction(x.view(), y.view(), &options).unwrap();
    let total: f64 = result.spectrum.alignment.iter().sum();
    assert!((total - 1.0).abs() < 1e-12, "{total}");
    for (theory, empirical) in result.theory.iter().zip(&result.empirical) {
        let relative = (theory.error - empirical.error).abs() / empirical.error;
        assert!(
            relative < 0.05,
            "p {}: theory {:.4}, simulation {:.4} ± {:.4} ({:.1} % apart)",
            theory.p,
            theory.error,
            empirical.error,
            empirical.sem,
            100.0 * relative
        );
        let geometric = theory.radius * theory.dimension.sqrt();
        assert!((geometric - theory.error).abs() < 1e-12 * theory.error);
        let (p, kappa) = (theory.p as f64, theory.kappa);
        let rhs = p * result.ridge
            + kappa
                * result
                    .spectrum
                    .eigenvalues
                    .iter()
                    .map(|l| l / (p * l + kappa))
                    .sum::<f64>();
        assert!((rhs - kappa).abs() < 1e-10 * kappa, "κ {kappa} vs {rhs}");
    }
    // More training stimuli, less error.
    for pair in result.theory.windows(2) {
        assert!(
            pair[1].error < pair[0].error,
            "{} -> {}",
            pair[0].p,
            pair[1].p
        );
    }
}

/// Bad inputs are errors naming the problem.
#[test]
fn bad_inputs_and_options_are_refused() {
    let x = Array2::from_shape_fn((20, 5), |(i, j)| ((i * 3 + j) as f64).sin());
    let y = Array2::from_shape_fn((20, 2), |(i, j)| ((i + 2 * j) as f64).cos());
    let mut options = SpectralOptions::for_stimuli(20);
    options.p = vec![20];
    let err = spectral_prediction(x.view(), y.view(), &options).unwrap_err();
    assert!(err.to_string().contains("1..20"), "{err}");
    options.p = vec![10];
    options.alpha = -1.0;
    assert!(spectral_prediction(x.view(), y.view(), &options).is_err());
    options.alpha = 1e-3;
    let constant = Array2::from_elem((20, 2), 3.0);
    let err = spectral_prediction(x.view(), constant.view(), &options).unwrap_err();
    assert!(err.to_string().contains("zero variance"), "{err}");
    let short = Array2::zeros((19, 2));
    assert!(spectral_prediction(x.view(), short.view(), &options).is_err());
}
