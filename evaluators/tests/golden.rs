//! Every value in `shared/golden/metrics` (rsatoolbox 0.3.2, scikit-learn 1.9.1, numpy),
//! matched to 1e-6 (RDM entries to 1e-9).

use std::path::PathBuf;

use evaluators::ceiling::split_half_ceiling_with_permutations;
use evaluators::{
    CkaKernel, CkaOptions, CompareMethod, Rdm, RdmMethod, RdmPooling, Regression, Split, cka,
    compare_rdms, compute_rdm, participation_ratio, predict_held_out, rdm_noise_ceiling,
};
use ndarray::{Array1, Array2, Array3, Axis};
use ndarray_npy::read_npy;
use serde_json::Value;

fn golden_dir() -> PathBuf {
    let dir = std::env::var_os("CORTEXBENCH_GOLDEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden"))
        .join("metrics");
    assert!(
        dir.join("golden.json").is_file(),
        "golden reference values not found in {} (set CORTEXBENCH_GOLDEN to the shared/golden folder)",
        dir.display()
    );
    dir
}

fn load2(name: &str) -> Array2<f64> {
    read_npy(golden_dir().join(format!("{name}.npy"))).unwrap_or_else(|e| panic!("{name}.npy: {e}"))
}

fn load1(name: &str) -> Array1<f64> {
    read_npy(golden_dir().join(format!("{name}.npy"))).unwrap_or_else(|e| panic!("{name}.npy: {e}"))
}

fn load_idx(name: &str) -> Vec<usize> {
    let a: Array1<i64> = read_npy(golden_dir().join(format!("{name}.npy"))).unwrap();
    a.iter().map(|&i| i as usize).collect()
}

fn value(key: &str) -> f64 {
    let text = std::fs::read_to_string(golden_dir().join("golden.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    json["values"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("golden.json has no value {key}"))
}

#[track_caller]
fn assert_close(got: f64, expected: f64, tol: f64) {
    assert!(
        (got - expected).abs() <= tol,
        "got {got}, expected {expected} (difference {:e} > {tol:e})",
        (got - expected).abs()
    );
}

#[track_caller]
fn assert_all_close(got: ndarray::ArrayView1<f64>, expected: ndarray::ArrayView1<f64>, tol: f64) {
    assert_eq!(got.len(), expected.len());
    let worst = got
        .iter()
        .zip(expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= tol, "largest difference {worst:e} > {tol:e}");
}

fn correlation_rdms() -> (Rdm, Rdm) {
    (
        compute_rdm(load2("X").view(), RdmMethod::Correlation).unwrap(),
        compute_rdm(load2("Y").view(), RdmMethod::Correlation).unwrap(),
    )
}

#[test]
fn rdms_match_rsatoolbox_calc_rdm() {
    for (method, name) in [
        (RdmMethod::Correlation, "correlation"),
        (RdmMethod::Euclidean, "euclidean"),
    ] {
        for data in ["X", "Y"] {
            let rdm = compute_rdm(load2(data).view(), method).unwrap();
            assert_all_close(
                rdm.condensed(),
                load1(&format!("rdm_{name}_{data}")).view(),
                1e-9,
            );
        }
    }
}

#[test]
fn rdm_comparisons_match_rsatoolbox_compare() {
    let (x, y) = correlation_rdms();
    for (method, key) in [
        (CompareMethod::Spearman, "compare_spearman"),
        (CompareMethod::Pearson, "compare_corr"),
        (CompareMethod::Cosine, "compare_cosine"),
        (CompareMethod::KendallTauA, "compare_tau-a"),
        (CompareMethod::RhoA, "compare_rho-a"),
    ] {
        assert_close(compare_rdms(&x, &y, method).unwrap(), value(key), 1e-6);
    }
}

#[test]
fn nili_noise_ceiling_with_mean_pooling_matches_golden() {
    let rdms = subject_rdms();
    let ceiling = rdm_noise_ceiling(&rdms, CompareMethod::Spearman, RdmPooling::Mean).unwrap();
    assert_close(ceiling.upper, value("noise_ceiling_upper_spearman"), 1e-6);
    assert_close(ceiling.lower, value("noise_ceiling_lower_spearman"), 1e-6);
}

#[test]
fn rank_pooled_noise_ceiling_matches_rsatoolbox_boot_noise_ceiling() {
    // rsatoolbox 0.3.2 averages rank-transformed RDMs for Spearman. Reference printed by
    // `boot_noise_ceiling(RDMs(np.load("rdm_subjects.npy")), method="spearman")`.
    let rdms = subject_rdms();
    let ceiling =
        rdm_noise_ceiling(&rdms, CompareMethod::Spearman, RdmPooling::MethodOptimal).unwrap();
    assert_close(ceiling.lower, 0.8516467927295044, 1e-9);
    assert_close(ceiling.upper, 0.8882443777006308, 1e-9);
}

#[test]
fn cka_matches_kornblith_reference() {
    let (x, y) = (load2("X"), load2("Y"));
    let cases = [
        (CkaKernel::Linear, false, "cka_linear"),
        (CkaKernel::Linear, true, "cka_linear_debiased"),
        (CkaKernel::Rbf { threshold: 0.5 }, false, "cka_rbf_0.5"),
    ];
    for (kernel, debiased, key) in cases {
        let got = cka(x.view(), y.view(), CkaOptions { kernel, debiased }).unwrap();
        assert_close(got, value(key), 1e-6);
    }
}

fn subject_rdms() -> Vec<Rdm> {
    load2("rdm_subjects")
        .axis_iter(Axis(0))
        .map(|r| Rdm::from_condensed(r.to_owned()).unwrap())
        .collect()
}

fn golden_split() -> Split {
    Split {
        train: load_idx("train_idx"),
        test: load_idx("test_idx"),
    }
}

#[test]
fn pls25_matches_converged_sklearn_plsregression() {
    check_held_out(Regression::Pls { n_components: 25 }, "pls25");
}

#[test]
fn ridge_matches_sklearn_ridge_alpha_1() {
    check_held_out(Regression::Ridge { alpha: 1.0 }, "ridge1");
}

/// Predictions on the golden split to 1e-6, then Pearson r per neuroid and their median.
fn check_held_out(regression: Regression, prefix: &str) {
    let (x, y) = (load2("X"), load2("Y"));
    let pred = predict_held_out(x.view(), y.view(), &regression, &golden_split()).unwrap();
    let worst = (&pred - &load2(&format!("{prefix}_pred")))
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(worst < 1e-6, "largest prediction difference {worst:e}");
    check_per_neuroid_r(
        &pred,
        &y,
        &format!("{prefix}_r"),
        &format!("{prefix}_median_r"),
    );
}

fn check_per_neuroid_r(pred: &Array2<f64>, y: &Array2<f64>, r_name: &str, median_key: &str) {
    let actual = y.select(Axis(0), &golden_split().test);
    let r: Vec<f64> = (0..y.ncols())
        .map(|j| evaluators::stats::pearson(pred.column(j), actual.column(j)).unwrap())
        .collect();
    assert_all_close(Array1::from(r.clone()).view(), load1(r_name).view(), 1e-6);
    assert_close(
        evaluators::stats::median(&r).unwrap(),
        value(median_key),
        1e-6,
    );
}

#[test]
fn split_half_ceiling_matches_numpy_reference() {
    let r: Array3<f64> = read_npy(golden_dir().join("R.npy")).unwrap();
    let splits: Array2<i64> = read_npy(golden_dir().join("rep_splits.npy")).unwrap();
    let perms: Vec<Vec<usize>> = splits
        .axis_iter(Axis(0))
        .map(|p| p.iter().map(|&i| i as usize).collect())
        .collect();
    let ceiling = split_half_ceiling_with_permutations(r.view(), &perms).unwrap();
    assert_close(ceiling.ceiling, value("splithalf_ceiling_median_sb"), 1e-6);
}

#[test]
fn participation_ratio_matches_numpy_reference() {
    assert_close(
        participation_ratio(load2("X").view()).unwrap(),
        value("participation_ratio_X"),
        1e-6,
    );
}
