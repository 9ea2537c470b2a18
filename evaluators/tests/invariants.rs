//! Properties the metrics must have whatever the reference tools say, and the errors bad input
//! must produce.

use evaluators::predictivity::predictivity_on_splits;
use evaluators::{
    BootstrapOptions, CeilingNormalization, CkaKernel, CkaOptions, CompareMethod, CrossValidation,
    MetricError, Rdm, RdmMethod, Regression, RidgeCvCriterion, Split, bootstrap_cka, bootstrap_rsa,
    cka, compare_rdms, compute_rdm, cross_validated_predictivity, predict_held_out,
    split_half_ceiling,
};
use ndarray::{Array2, Array3, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.random::<f64>() * 2.0 - 1.0)
}

/// Responses that are a fixed linear map of `x` plus noise of the given size.
fn linear_responses(x: &Array2<f64>, neuroids: usize, noise: f64, seed: u64) -> Array2<f64> {
    let w = random(x.ncols(), neuroids, seed);
    x.dot(&w) + random(x.nrows(), neuroids, seed + 1) * noise
}

#[test]
fn ridge_cv_leave_one_out_equals_brute_force_refits() {
    let x = random(40, 60, 1);
    let y = linear_responses(&x, 3, 2.0, 2);
    let alphas = vec![0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];
    let train: Vec<usize> = (0..36).collect();
    let test: Vec<usize> = (36..40).collect();
    // Brute force: refit without each training stimulus, pool squared errors over targets.
    let brute: Vec<f64> = alphas
        .iter()
        .map(|&alpha| {
            let mut sse = 0.0;
            for &left_out in &train {
                let rest: Vec<usize> = train.iter().copied().filter(|&i| i != left_out).collect();
                let split = Split {
                    train: rest,
                    test: vec![left_out],
                };
                let pred =
                    predict_held_out(x.view(), y.view(), &Regression::Ridge { alpha }, &split)
                        .unwrap();
                sse += (&pred.row(0) - &y.row(left_out)).mapv(|d| d * d).sum();
            }
            sse
        })
        .collect();
    let best = alphas[brute
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0];
    assert!(
        best > 0.01 && best < 1000.0,
        "the grid should bracket the optimum, got {best}"
    );
    let cv = Regression::RidgeCv {
        alphas: alphas.clone(),
        criterion: RidgeCvCriterion::LeaveOneOut,
        per_target: false,
    };
    let split = Split { train, test };
    let score =
        predictivity_on_splits(x.view(), y.view(), &cv, std::slice::from_ref(&split)).unwrap();
    assert_eq!(score.alpha_per_split.unwrap()[0], best);
    let via_cv = predict_held_out(x.view(), y.view(), &cv, &split).unwrap();
    let direct = predict_held_out(
        x.view(),
        y.view(),
        &Regression::Ridge { alpha: best },
        &split,
    )
    .unwrap();
    assert!((&via_cv - &direct).iter().all(|d| d.abs() < 1e-9));
}

#[test]
fn predictivity_is_high_for_linear_responses_and_near_zero_for_unrelated_ones() {
    let x = random(200, 50, 3);
    let related = linear_responses(&x, 10, 0.5, 4);
    let unrelated = random(200, 10, 5);
    let cv = CrossValidation::default();
    for regression in [
        Regression::Pls { n_components: 25 },
        Regression::RidgeCv {
            alphas: evaluators::default_alpha_grid(),
            criterion: RidgeCvCriterion::Gcv,
            per_target: true,
        },
    ] {
        let good =
            cross_validated_predictivity(x.view(), related.view(), None, &regression, &cv).unwrap();
        let bad = cross_validated_predictivity(x.view(), unrelated.view(), None, &regression, &cv)
            .unwrap();
        assert!(good.score > 0.9, "{}: {}", regression.name(), good.score);
        assert!(
            bad.score.abs() < 0.25,
            "{}: {}",
            regression.name(),
            bad.score
        );
        assert_eq!(good.per_split.len(), 10);
        assert!(good.sem > 0.0 && good.sem < 0.05);
    }
}

#[test]
fn pls_stops_when_x_is_exhausted() {
    // Rank-3 features: at most 3 components exist; responses are exactly linear in them.
    let basis = random(60, 3, 6);
    let x = basis.dot(&random(3, 20, 7));
    let y = basis.dot(&random(3, 4, 8));
    let score = cross_validated_predictivity(
        x.view(),
        y.view(),
        None,
        &Regression::Pls { n_components: 25 },
        &CrossValidation::default(),
    )
    .unwrap();
    assert!(score.components_per_split.unwrap().iter().all(|&c| c <= 3));
    assert!(score.score > 0.999_999, "{}", score.score);
}

#[test]
fn zero_variance_neuroids_are_excluded_and_counted() {
    let x = random(80, 30, 9);
    let mut y = linear_responses(&x, 5, 0.3, 10);
    y.column_mut(2).fill(4.0);
    let score = cross_validated_predictivity(
        x.view(),
        y.view(),
        None,
        &Regression::Pls { n_components: 10 },
        &CrossValidation::default(),
    )
    .unwrap();
    assert_eq!(score.excluded_zero_variance, vec![2]);
    assert_eq!(score.n_neuroids_scored, 4);
    assert!(score.per_neuroid[2].is_none());
    assert!(score.score.is_finite() && score.score > 0.8);
}

#[test]
fn non_finite_inputs_are_errors_naming_the_position() {
    let mut x = random(30, 5, 11);
    x[[4, 2]] = f64::NAN;
    let y = random(30, 3, 12);
    match cross_validated_predictivity(
        x.view(),
        y.view(),
        None,
        &Regression::default(),
        &CrossValidation::default(),
    ) {
        Err(MetricError::NonFinite { what, index, .. }) => {
            assert_eq!(what, "x");
            assert_eq!(index, vec![4, 2]);
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let err = cka(x.view(), y.view(), CkaOptions::default()).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    x[[4, 2]] = f64::INFINITY;
    assert!(matches!(
        compute_rdm(x.view(), RdmMethod::Euclidean),
        Err(MetricError::NonFinite { .. })
    ));
}

#[test]
fn mismatched_and_tiny_inputs_are_errors() {
    let (x, y) = (random(30, 5, 13), random(29, 3, 14));
    assert!(matches!(
        cka(x.view(), y.view(), CkaOptions::default()),
        Err(MetricError::ShapeMismatch(_))
    ));
    assert!(matches!(
        cross_validated_predictivity(
            x.view(),
            y.view(),
            None,
            &Regression::default(),
            &CrossValidation::default()
        ),
        Err(MetricError::ShapeMismatch(_))
    ));
    let tiny = random(2, 5, 15);
    assert!(matches!(
        compute_rdm(tiny.view(), RdmMethod::Correlation),
        Err(MetricError::TooFewStimuli { .. })
    ));
    let small = random(12, 5, 16);
    assert!(matches!(
        cross_validated_predictivity(
            small.view(),
            small.view(),
            None,
            &Regression::default(),
            &CrossValidation::default()
        ),
        Err(MetricError::TooFewStimuli { .. })
    ));
    let labels = vec![0i64; 29];
    assert!(matches!(
        cross_validated_predictivity(
            x.view(),
            x.view(),
            Some(&labels),
            &Regression::default(),
            &CrossValidation::default()
        ),
        Err(MetricError::ShapeMismatch(_))
    ));
}

#[test]
fn constant_pattern_makes_correlation_rdm_an_error() {
    let mut x = random(10, 6, 17);
    x.row_mut(3).fill(0.5);
    let err = compute_rdm(x.view(), RdmMethod::Correlation).unwrap_err();
    assert!(matches!(err, MetricError::ZeroVariance { .. }));
    assert!(err.to_string().contains("stimulus 3"), "{err}");
    // Euclidean distance is still defined.
    assert!(compute_rdm(x.view(), RdmMethod::Euclidean).is_ok());
}

#[test]
fn cosine_rdm_of_row_centred_data_is_the_correlation_rdm() {
    let x = random(25, 12, 18);
    let centred = &x - &x.mean_axis(Axis(1)).unwrap().insert_axis(Axis(1));
    let cos = compute_rdm(centred.view(), RdmMethod::Cosine).unwrap();
    let corr = compute_rdm(x.view(), RdmMethod::Correlation).unwrap();
    assert!(
        (&cos.condensed() - &corr.condensed())
            .iter()
            .all(|d| d.abs() < 1e-12)
    );
}

#[test]
fn rdm_square_form_round_trips_and_rejects_asymmetry() {
    let rdm = compute_rdm(random(7, 4, 19).view(), RdmMethod::Correlation).unwrap();
    let square = rdm.to_square();
    assert_eq!(Rdm::from_square(square.view()).unwrap(), rdm);
    let mut bad = square.clone();
    bad[[1, 4]] += 0.1;
    assert!(Rdm::from_square(bad.view()).is_err());
    let picked = rdm.select(&[5, 1, 3]).unwrap();
    assert_eq!(picked.condensed()[0], square[[5, 1]]);
    assert_eq!(picked.condensed()[2], square[[1, 3]]);
}

#[test]
fn rdm_mean_averages_entries_and_refuses_mismatched_sizes() {
    let a = compute_rdm(random(7, 4, 31).view(), RdmMethod::Correlation).unwrap();
    let b = compute_rdm(random(7, 4, 32).view(), RdmMethod::Euclidean).unwrap();
    let mean = Rdm::mean(&[a.clone(), b.clone()]).unwrap();
    let expected = (&a.to_square() + &b.to_square()) / 2.0;
    assert!(
        (&mean.to_square() - &expected)
            .iter()
            .all(|d| d.abs() < 1e-15)
    );
    assert_eq!(Rdm::mean(std::slice::from_ref(&a)).unwrap(), a);
    assert!(Rdm::mean(&[]).is_err());
    let small = compute_rdm(random(5, 4, 33).view(), RdmMethod::Correlation).unwrap();
    let err = Rdm::mean(&[a, small]).unwrap_err().to_string();
    assert!(err.contains("7 and 5 stimuli"), "{err}");
}

#[test]
fn cka_is_one_for_identical_rotated_or_scaled_representations() {
    let x = random(50, 8, 20);
    // An orthogonal matrix from a QR factorisation.
    let (q, _) = ndarray_linalg::QR::qr(&random(8, 8, 21)).unwrap();
    let rotated = x.dot(&q) * 3.0;
    for debiased in [false, true] {
        let opts = CkaOptions {
            kernel: CkaKernel::Linear,
            debiased,
        };
        assert!((cka(x.view(), rotated.view(), opts).unwrap() - 1.0).abs() < 1e-10);
    }
    let rbf = CkaOptions {
        kernel: CkaKernel::Rbf { threshold: 1.0 },
        debiased: false,
    };
    assert!((cka(x.view(), x.view(), rbf).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn cka_of_a_constant_representation_is_an_error_not_zero() {
    // Centring a constant Gram matrix leaves only rounding error (about 1e-30), which used to
    // pass as variance and give a CKA of -0.000.
    let y = random(30, 4, 22);
    for value in [1.0, 0.1, 3e5] {
        let constant = Array2::<f64>::from_elem((30, 6), value);
        for debiased in [false, true] {
            let opts = CkaOptions {
                kernel: CkaKernel::Linear,
                debiased,
            };
            for (a, b) in [(&constant, &y), (&y, &constant)] {
                let err = cka(a.view(), b.view(), opts).unwrap_err();
                assert!(matches!(err, MetricError::ZeroVariance { .. }), "{err}");
            }
        }
    }
    // A representation that varies very little still has a CKA.
    let mut nearly = Array2::<f64>::from_elem((30, 6), 1.0);
    nearly
        .column_mut(0)
        .assign(&y.column(0).mapv(|v| 1.0 + 1e-6 * v));
    let opts = CkaOptions {
        kernel: CkaKernel::Linear,
        debiased: false,
    };
    assert!(cka(nearly.view(), y.view(), opts).unwrap() > 0.05);
}

#[test]
fn bootstrap_intervals_are_seeded_and_bracket_the_estimate() {
    let x = random(40, 10, 22);
    let y = linear_responses(&x, 6, 1.0, 23);
    let (rx, ry) = (
        compute_rdm(x.view(), RdmMethod::Correlation).unwrap(),
        compute_rdm(y.view(), RdmMethod::Correlation).unwrap(),
    );
    let opts = BootstrapOptions {
        n_resamples: 200,
        confidence: 0.95,
        seed: 5,
    };
    let point = compare_rdms(&rx, &ry, CompareMethod::Spearman).unwrap();
    let ci = bootstrap_rsa(&rx, &ry, CompareMethod::Spearman, opts).unwrap();
    assert!(ci.low < point && point < ci.high, "{ci:?} vs {point}");
    assert_eq!(
        ci,
        bootstrap_rsa(&rx, &ry, CompareMethod::Spearman, opts).unwrap()
    );
    let other = bootstrap_rsa(
        &rx,
        &ry,
        CompareMethod::Spearman,
        BootstrapOptions { seed: 6, ..opts },
    )
    .unwrap();
    assert_ne!(ci, other);

    let cka_point = cka(x.view(), y.view(), CkaOptions::default()).unwrap();
    let cka_ci = bootstrap_cka(x.view(), y.view(), CkaOptions::default(), opts).unwrap();
    assert!(
        cka_ci.low < cka_point && cka_point < cka_ci.high,
        "{cka_ci:?} vs {cka_point}"
    );
    assert!(cka_ci.std_error > 0.0);
}

#[test]
fn split_half_ceiling_handles_missing_repetitions_and_reflects_noise() {
    let signal = random(100, 8, 24);
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let make = |noise: f64, rng: &mut ChaCha8Rng| {
        Array3::from_shape_fn((100, 8, 10), |(s, n, _)| {
            signal[[s, n]] + noise * (rng.random::<f64>() - 0.5)
        })
    };
    let clean = make(0.2, &mut rng);
    let mut noisy = make(3.0, &mut rng);
    // Stimuli with fewer repetitions, NaN-padded as in the Cowley raw responses.
    for s in 0..30 {
        for r in 6..10 {
            noisy[[s, 0, r]] = f64::NAN;
        }
    }
    let high = split_half_ceiling(clean.view(), 10, 1).unwrap();
    let low = split_half_ceiling(noisy.view(), 10, 1).unwrap();
    assert!(high.ceiling > 0.95, "{}", high.ceiling);
    assert!(
        low.ceiling < high.ceiling && low.ceiling > 0.0,
        "{}",
        low.ceiling
    );
    assert_eq!(high, split_half_ceiling(clean.view(), 10, 1).unwrap());
}

#[test]
fn ceiling_normalisations_follow_their_formulas() {
    let n = CeilingNormalization::RawOverCeiling
        .apply(0.4, 0.8)
        .unwrap();
    assert_eq!(n.normalized, 0.5);
    assert!(
        (CeilingNormalization::SquaredRatio
            .apply(0.4, 0.8)
            .unwrap()
            .normalized
            - 0.25)
            .abs()
            < 1e-15
    );
    assert!(
        (CeilingNormalization::SquaredRawOverCeiling
            .apply(0.4, 0.8)
            .unwrap()
            .normalized
            - 0.2)
            .abs()
            < 1e-15
    );
    assert!(
        CeilingNormalization::RawOverCeiling
            .apply(0.4, 0.0)
            .is_err()
    );
    assert_eq!(
        serde_json::to_string(&CeilingNormalization::SquaredRawOverCeiling).unwrap(),
        "\"raw^2/ceiling\""
    );
}

#[test]
fn rdm_split_half_ceiling_drops_with_noise() {
    let signal = random(40, 20, 26);
    let mut rng = ChaCha8Rng::seed_from_u64(27);
    let mut make = |noise: f64| {
        Array3::from_shape_fn((40, 20, 8), |(s, n, _)| {
            signal[[s, n]] + noise * (rng.random::<f64>() - 0.5)
        })
    };
    let (clean, noisy) = (make(0.1), make(4.0));
    let ceiling = |r: &Array3<f64>| {
        evaluators::rdm_split_half_ceiling(
            r.view(),
            RdmMethod::Correlation,
            CompareMethod::Spearman,
            5,
            3,
        )
        .unwrap()
        .ceiling
    };
    let (high, low) = (ceiling(&clean), ceiling(&noisy));
    assert!(high > 0.95 && low < high - 0.2, "{high} vs {low}");
}

#[test]
fn metric_specs_read_the_names_configs_use() {
    let spec: evaluators::MetricSpec =
        serde_json::from_str(r#"{"kind": "rsa", "rdm": "correlation", "compare": "tau-a"}"#)
            .unwrap();
    assert_eq!(
        spec,
        evaluators::MetricSpec::Rsa {
            rdm: RdmMethod::Correlation,
            compare: CompareMethod::KendallTauA
        }
    );
    let pls: evaluators::MetricSpec = serde_json::from_str(r#"{"kind": "predictivity"}"#).unwrap();
    assert_eq!(pls.name(), "pls");
    let cka: evaluators::MetricSpec = serde_json::from_str(r#"{"kind": "cka"}"#).unwrap();
    assert_eq!(
        cka,
        evaluators::MetricSpec::Cka {
            options: CkaOptions::default()
        }
    );
    assert!(
        serde_json::from_str::<evaluators::MetricSpec>(r#"{"kind": "rsa", "compare": "kendal"}"#)
            .is_err()
    );
}

#[test]
fn split_half_balances_the_recorded_repetitions_of_each_stimulus() {
    // Two recorded repetitions per stimulus, NaN-padded to four. Splitting the repetition slots
    // {0, 1} | {2, 3} would leave the second half empty; splitting the recorded ones pairs
    // repetition 0 with repetition 1.
    let signal = random(30, 1, 28);
    let noise = random(30, 2, 29);
    let responses = Array3::from_shape_fn((30, 1, 4), |(s, _, r)| {
        if r < 2 {
            signal[[s, 0]] + 0.3 * noise[[s, r]]
        } else {
            f64::NAN
        }
    });
    let ceiling = evaluators::ceiling::split_half_ceiling_with_permutations(
        responses.view(),
        &[vec![0, 1, 2, 3]],
    )
    .unwrap();
    let r = evaluators::stats::pearson(
        responses.slice(ndarray::s![.., 0, 0]),
        responses.slice(ndarray::s![.., 0, 1]),
    )
    .unwrap();
    assert!((ceiling.ceiling - evaluators::ceiling::spearman_brown(r)).abs() < 1e-12);
}

#[test]
fn rbf_cka_bootstrap_brackets_its_estimate() {
    let x = random(40, 10, 30);
    let y = linear_responses(&x, 6, 0.5, 31);
    let options = CkaOptions {
        kernel: CkaKernel::Rbf { threshold: 1.0 },
        debiased: false,
    };
    let point = cka(x.view(), y.view(), options).unwrap();
    let ci = bootstrap_cka(
        x.view(),
        y.view(),
        options,
        BootstrapOptions {
            n_resamples: 100,
            confidence: 0.95,
            seed: 2,
        },
    )
    .unwrap();
    assert!(ci.low < point && point < ci.high, "{ci:?} vs {point}");
    let bad = CkaOptions {
        kernel: CkaKernel::Rbf { threshold: 0.0 },
        debiased: false,
    };
    assert!(matches!(
        bootstrap_cka(x.view(), y.view(), bad, BootstrapOptions::default()),
        Err(MetricError::InvalidOption(_))
    ));
}

/// Issue 16, item 6: the metrics that ignore the scale of their input give the same score on
/// x·1e80, x·1e160 and x·1e-160 as on x, a single huge entry no longer changes an RSA score
/// through overflow, and what cannot be represented is an error, never a score.
#[test]
fn scale_free_metrics_survive_the_ends_of_the_f64_range() {
    let x = random(48, 30, 71);
    let y = linear_responses(&x, 12, 1.0, 72);
    let brain = compute_rdm(y.view(), RdmMethod::Correlation).unwrap();
    let rsa = |x: &Array2<f64>, method| {
        compare_rdms(
            &compute_rdm(x.view(), method)?,
            &brain,
            CompareMethod::Spearman,
        )
    };
    let cka_of = |x: &Array2<f64>| cka(x.view(), y.view(), CkaOptions::default());
    let rbf = CkaOptions {
        kernel: CkaKernel::Rbf { threshold: 0.8 },
        debiased: false,
    };
    let pls = |x: &Array2<f64>, y: &Array2<f64>| {
        cross_validated_predictivity(
            x.view(),
            y.view(),
            None,
            &Regression::Pls { n_components: 5 },
            &CrossValidation::default(),
        )
        .map(|s| s.score)
    };
    let reference = (
        rsa(&x, RdmMethod::Correlation).unwrap(),
        rsa(&x, RdmMethod::Euclidean).unwrap(),
        cka_of(&x).unwrap(),
        cka(x.view(), y.view(), rbf).unwrap(),
        pls(&x, &y).unwrap(),
    );
    for scale in [1e80, 1e160, 1e-160, 1e300] {
        let xs = &x * scale;
        let close = |a: f64, b: f64| (a - b).abs() < 1e-10;
        assert!(
            close(rsa(&xs, RdmMethod::Correlation).unwrap(), reference.0),
            "{scale}"
        );
        // Linear CKA multiplies in single precision: x and x·1e80 round to f32 differently
        // in the last bit of some entries, which moves the score by ~1e-9.
        let linear = cka_of(&xs).unwrap();
        assert!((linear - reference.2).abs() < 1e-7, "{scale}: {linear}");
        assert!(
            close(cka(xs.view(), y.view(), rbf).unwrap(), reference.3),
            "{scale}"
        );
        assert!(
            close(pls(&xs, &(&y * scale)).unwrap(), reference.4),
            "{scale}"
        );
        // Squared Euclidean distances of x·1e160 (or x·1e-160) are beyond the normal f64
        // range: an error, not a score.
        let representable = (1e-150..1e150).contains(&scale);
        match rsa(&xs, RdmMethod::Euclidean) {
            Ok(r) => assert!(representable && close(r, reference.1), "{scale}: {r}"),
            Err(e) => assert!(
                !representable && e.to_string().contains("not finite"),
                "{scale}: {e}"
            ),
        }
    }
    // One entry of 1e308: its pattern is, to double precision, a single spike, and the
    // score is the one of that spike, not an artefact of an overflowing sum of squares.
    let mut spiked = x.clone();
    spiked[[3, 5]] = 1e308;
    let mut spike = x.clone();
    spike.row_mut(3).fill(0.0);
    spike[[3, 5]] = 1.0;
    let (a, b) = (
        rsa(&spiked, RdmMethod::Correlation).unwrap(),
        rsa(&spike, RdmMethod::Correlation).unwrap(),
    );
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    // Ridge is not scale-free: on x·1e160 its Gram matrix overflows, which is an error.
    let err = cross_validated_predictivity(
        (&x * 1e160).view(),
        y.view(),
        None,
        &Regression::Ridge { alpha: 1.0 },
        &CrossValidation::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not finite"), "{err}");
}
