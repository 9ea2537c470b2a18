//! The bootstrap statistics against numpy on fixed resample indices
//! (`scripts/inference_reference.py` wrote `tests/data/inference_reference.json`), and their
//! calibration on synthetic data with a known truth: interval coverage and null p-values.

use evaluators::inference::{holm, paired_test, percentile_interval, pool_seeds};
use evaluators::resampling::{
    HeldOutPredictions, Resamples, cka_replicates, predictivity_replicates, rsa_replicates,
};
use evaluators::{CkaKernel, CkaOptions, CompareMethod, Rdm, Split};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

fn reference() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/inference_reference.json"
    ))
    .expect("reference file");
    serde_json::from_str(&text).expect("reference JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn indices(v: &Value) -> Vec<Vec<usize>> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(floats).collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

fn assert_close(ours: &[f64], numpy: &[f64], what: &str) {
    assert_eq!(ours.len(), numpy.len(), "{what}");
    for (r, (a, b)) in ours.iter().zip(numpy).enumerate() {
        assert!(
            (a.is_nan() && b.is_nan()) || (a - b).abs() < 1e-9,
            "{what} replicate {r}: {a} vs numpy {b}"
        );
    }
}

#[test]
fn replicates_and_tests_match_numpy_on_the_same_indices() {
    let reference = reference();
    let confidence = reference["confidence"].as_f64().unwrap();

    let rsa = &reference["rsa"];
    let rdm = |v: &Value| Rdm::from_condensed(Array1::from(floats(v))).unwrap();
    let models: Vec<Rdm> = rsa["models"].as_array().unwrap().iter().map(rdm).collect();
    let targets: Vec<Rdm> = rsa["targets"].as_array().unwrap().iter().map(rdm).collect();
    let resamples = Resamples {
        stimuli: indices(&rsa["stimuli"]),
        subjects: Some(indices(&rsa["subject_draws"])),
    };
    let subjects = indices(&rsa["subjects"]);
    let mut rsa_reps = vec![];
    for (m, model) in models.iter().enumerate() {
        let ours = rsa_replicates(
            model,
            &targets,
            &subjects,
            CompareMethod::Spearman,
            &resamples,
        )
        .unwrap();
        assert_close(&ours, &floats(&rsa["replicates"][m]), "RSA");
        let interval = percentile_interval(&ours, confidence).unwrap();
        assert_close(&interval, &floats(&rsa["ci95"][m]), "RSA interval");
        rsa_reps.push(ours);
    }

    let cka = &reference["cka"];
    let options = CkaOptions {
        kernel: CkaKernel::Linear,
        debiased: true,
    };
    let cka_reps = cka_replicates(
        matrix(&cka["x"]).view(),
        matrix(&cka["y"]).view(),
        options,
        &Resamples {
            stimuli: indices(&rsa["stimuli"]),
            subjects: None,
        },
    )
    .unwrap();
    assert_close(&cka_reps, &floats(&cka["replicates"]), "CKA");

    let pred = &reference["predictivity"];
    let tests = indices(&pred["tests"]);
    let held_out = HeldOutPredictions {
        splits: tests
            .iter()
            .map(|t| Split {
                train: vec![],
                test: t.clone(),
            })
            .collect(),
        predictions: pred["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(matrix)
            .collect(),
        neuroids: vec![0, 1, 2],
    };
    let draws: Vec<Vec<Vec<usize>>> = pred["draws"]
        .as_array()
        .unwrap()
        .iter()
        .map(indices)
        .collect();
    let ours =
        predictivity_replicates(&held_out, matrix(&pred["responses"]).view(), &draws).unwrap();
    assert_close(&ours, &floats(&pred["replicates"]), "predictivity");

    let seeds = &reference["seeds"];
    let (estimate, pooled) = pool_seeds(
        &floats(&seeds["estimates"]),
        &[&rsa_reps[0], &cka_reps],
        &indices(&seeds["draws"]),
    );
    assert!((estimate - seeds["pooled_estimate"].as_f64().unwrap()).abs() < 1e-12);
    assert_close(&pooled, &floats(&seeds["pooled"]), "seed pooling");

    let tests = [
        paired_test((0.2, &rsa_reps[0]), (0.1, &rsa_reps[1]), confidence).unwrap(),
        paired_test((estimate, &pooled), (0.2, &rsa_reps[1]), confidence).unwrap(),
    ];
    for (ours, numpy) in tests.iter().zip(reference["paired"].as_array().unwrap()) {
        assert!((ours.difference - numpy["difference"].as_f64().unwrap()).abs() < 1e-12);
        assert_close(&ours.ci95, &floats(&numpy["ci95"]), "paired interval");
        assert_close(&[ours.p], &[numpy["p"].as_f64().unwrap()], "paired p");
    }
    assert_close(
        &holm(&floats(&reference["holm"]["p"])),
        &floats(&reference["holm"]["adjusted"]),
        "Holm",
    );
}

/// Per-stimulus values of a synthetic benchmark: `n` draws of N(mean, 1).
fn normal_sample(rng: &mut ChaCha8Rng, n: usize, mean: f64) -> Vec<f64> {
    (0..n)
        .map(|_| mean + Distribution::<f64>::sample(&StandardNormal, rng))
        .collect::<Vec<f64>>()
}

fn mean_over(values: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64
}

#[test]
fn the_95_percent_interval_covers_the_true_score_about_95_percent_of_the_time() {
    // 1000 synthetic benchmarks of 80 stimuli each; the score is the mean over stimuli (true
    // value 0.3) and the Pearson r of two correlated responses (true value 0.6).
    let (trials, n, resamples) = (1000, 80, 1000);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut covered_mean, mut covered_r) = (0, 0);
    let rho: f64 = 0.6;
    for trial in 0..trials {
        let values = normal_sample(&mut rng, n, 0.3);
        let noise = normal_sample(&mut rng, n, 0.0);
        let other: Vec<f64> = values
            .iter()
            .zip(&noise)
            .map(|(v, e)| rho * (v - 0.3) + (1.0 - rho * rho).sqrt() * e)
            .collect();
        let draws = Resamples::draw(n, 1, resamples, 1000 + trial as u64);
        let means: Vec<f64> = draws
            .stimuli
            .iter()
            .map(|s| mean_over(&values, s))
            .collect();
        let rs: Vec<f64> = draws
            .stimuli
            .iter()
            .map(|s| {
                let a = Array1::from_iter(s.iter().map(|&i| values[i]));
                let b = Array1::from_iter(s.iter().map(|&i| other[i]));
                evaluators::stats::pearson(a.view(), b.view()).unwrap_or(f64::NAN)
            })
            .collect();
        let [lo, hi] = percentile_interval(&means, 0.95).unwrap();
        covered_mean += usize::from(lo <= 0.3 && 0.3 <= hi);
        let [lo, hi] = percentile_interval(&rs, 0.95).unwrap();
        covered_r += usize::from(lo <= rho && rho <= hi);
    }
    for (what, covered) in [("mean", covered_mean), ("Pearson r", covered_r)] {
        let coverage = covered as f64 / trials as f64;
        assert!(
            (0.92..=0.98).contains(&coverage),
            "{what}: coverage {coverage} over {trials} replicates"
        );
    }
}

#[test]
fn paired_p_values_are_uniform_under_the_null() {
    // Two models with the same true score on 60 shared stimuli (their per-stimulus scores
    // share a stimulus effect, as two networks' do); 400 synthetic benchmarks.
    let (trials, n, resamples) = (400, 60, 1000);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut p = Vec::with_capacity(trials);
    for trial in 0..trials {
        let stimulus = normal_sample(&mut rng, n, 0.5);
        let a: Vec<f64> = stimulus
            .iter()
            .map(|s| s + 0.5 * Distribution::<f64>::sample(&StandardNormal, &mut rng))
            .collect();
        let b: Vec<f64> = stimulus
            .iter()
            .map(|s| s + 0.5 * Distribution::<f64>::sample(&StandardNormal, &mut rng))
            .collect();
        let draws = Resamples::draw(n, 1, resamples, 5000 + trial as u64);
        let all: Vec<usize> = (0..n).collect();
        let reps =
            |v: &[f64]| -> Vec<f64> { draws.stimuli.iter().map(|s| mean_over(v, s)).collect() };
        let (ra, rb) = (reps(&a), reps(&b));
        let t = paired_test((mean_over(&a, &all), &ra), (mean_over(&b, &all), &rb), 0.95).unwrap();
        p.push(t.p);
    }
    // One-sample Kolmogorov–Smirnov statistic against U(0, 1); the 1 % critical value for
    // n = 400 is 1.628 / sqrt(400) = 0.081.
    p.sort_by(f64::total_cmp);
    let m = p.len() as f64;
    let d = p
        .iter()
        .enumerate()
        .map(|(i, &v)| ((i as f64 + 1.0) / m - v).max(v - i as f64 / m))
        .fold(0.0, f64::max);
    assert!(
        d < 1.628 / m.sqrt(),
        "KS statistic {d} over {m} null p-values"
    );
    // At the 5 % level it rejects about 5 % of true nulls.
    let rejected = p.iter().filter(|&&v| v < 0.05).count() as f64 / m;
    assert!(
        (0.02..=0.09).contains(&rejected),
        "null rejection rate {rejected}"
    );
}

#[test]
fn cka_intervals_surround_the_estimate_despite_repeated_stimuli() {
    // Repeated stimuli in a resample would inflate the debiased estimator (a copy pair looks
    // perfectly similar); the resamples keep distinct stimuli, so the interval is centred.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n, p) = (120, 30);
    let x = Array2::from_shape_fn((n, p), |_| {
        Distribution::<f64>::sample(&StandardNormal, &mut rng)
    });
    let w = Array2::from_shape_fn((p, 10), |_| {
        Distribution::<f64>::sample(&StandardNormal, &mut rng)
    });
    let noise = Array2::from_shape_fn((n, 10), |_| {
        3.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng)
    });
    let y = x.dot(&w) + noise;
    let options = CkaOptions {
        kernel: CkaKernel::Linear,
        debiased: true,
    };
    let estimate = evaluators::cka(x.view(), y.view(), options).unwrap();
    let reps =
        cka_replicates(x.view(), y.view(), options, &Resamples::draw(n, 1, 1000, 5)).unwrap();
    let [lo, hi] = percentile_interval(&reps, 0.95).unwrap();
    assert!(lo < estimate && estimate < hi, "{lo} {estimate} {hi}");
    assert!(
        ((lo + hi) / 2.0 - estimate).abs() < 0.2 * (hi - lo),
        "{lo} {estimate} {hi}"
    );
}
