//! Linear predictivity: how well a regression from model features predicts each neuroid on
//! held-out stimuli (Brain-Score's `CrossRegressedCorrelation`): per split, Pearson r per
//! neuroid between prediction and response, median over neuroids; mean and SEM over splits.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;
use crate::pls::{pls_dual_coefficients, pls_on_splits_feature_form};
use crate::resampling::HeldOutPredictions;
use crate::ridge::{self, RidgeCvCriterion};
use crate::splits::{CrossValidation, Split, shuffle_splits};
use crate::stats;

/// The regression mapping model features to neuroids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Regression {
    /// PLS2 with this many components, unscaled (Brain-Score: 25).
    Pls {
        /// Number of latent components.
        n_components: usize,
    },
    /// Ridge with a fixed penalty and an unpenalised intercept.
    Ridge {
        /// The penalty α.
        alpha: f64,
    },
    /// Ridge with the penalty chosen on the training stimuli of each split.
    RidgeCv {
        /// Candidate penalties.
        alphas: Vec<f64>,
        /// Leave-one-out or GCV.
        criterion: RidgeCvCriterion,
        /// One penalty per neuroid instead of one for all.
        per_target: bool,
    },
}

impl Default for Regression {
    fn default() -> Self {
        Regression::Pls { n_components: 25 }
    }
}

impl Regression {
    /// Short name for reports: `pls`, `ridge`, `ridge_cv`.
    pub fn name(&self) -> &'static str {
        match self {
            Regression::Pls { .. } => "pls",
            Regression::Ridge { .. } => "ridge",
            Regression::RidgeCv { .. } => "ridge_cv",
        }
    }

    /// Checks the options (components, penalties) before any data is seen.
    pub fn validate(&self) -> Result<()> {
        match self {
            Regression::Pls { n_components: 0 } => Err(MetricError::InvalidOption(
                "PLS needs at least one component".into(),
            )),
            Regression::Pls { .. } => Ok(()),
            Regression::Ridge { alpha } => ridge::ensure_positive_alphas(&[*alpha]),
            Regression::RidgeCv { alphas, .. } => ridge::ensure_positive_alphas(alphas),
        }
    }
}

/// Cross-validated predictivity of a set of neuroids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictivityScore {
    /// Mean over splits of the per-split median Pearson r.
    pub score: f64,
    /// Standard error of the mean over splits.
    pub sem: f64,
    /// Median Pearson r over neuroids, per split.
    pub per_split: Vec<f64>,
    /// Mean r over splits for each neuroid (`None`: excluded or never defined).
    pub per_neuroid: Vec<Option<f64>>,
    /// Neuroids scored.
    pub n_neuroids_scored: usize,
    /// Neuroids excluded because their responses do not vary over stimuli.
    pub excluded_zero_variance: Vec<usize>,
    /// Neuroid-split pairs whose r was undefined (constant over the test stimuli) and left out.
    pub undefined_correlations: usize,
    /// Stimuli.
    pub n_stimuli: usize,
    /// PLS components actually extracted, per split (PLS only).
    pub components_per_split: Option<Vec<usize>>,
    /// Penalty chosen per split (ridge-CV only; the first neuroid's when chosen per neuroid).
    pub alpha_per_split: Option<Vec<f64>>,
}

/// Scores a `(stimuli, features)` representation against `(stimuli, neuroids)` responses over
/// seeded (optionally label-stratified) shuffle splits.
pub fn cross_validated_predictivity(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    labels: Option<&[i64]>,
    regression: &Regression,
    cv: &CrossValidation,
) -> Result<PredictivityScore> {
    let splits = shuffle_splits(x.nrows(), labels, cv)?;
    predictivity_on_splits(x, y, regression, &splits)
}

/// As [`cross_validated_predictivity`] on given splits.
pub fn predictivity_on_splits(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    regression: &Regression,
    splits: &[Split],
) -> Result<PredictivityScore> {
    let prepared = Prepared::new(x, y, regression)?;
    let n_neuroids = y.ncols();
    let mut per_split = Vec::with_capacity(splits.len());
    let mut r_sums = vec![(0.0, 0usize); n_neuroids];
    let mut undefined = 0;
    let mut components = vec![];
    let mut alphas = vec![];
    let fits = prepared.fit_predict(splits, regression)?;
    for (s, (split, fit)) in splits.iter().zip(fits).enumerate() {
        components.extend(fit.components);
        alphas.extend(fit.alpha);
        let mut rs = Vec::with_capacity(prepared.kept.len());
        let actual = y.select(Axis(0), &split.test);
        for (k, &neuroid) in prepared.kept.iter().enumerate() {
            match stats::pearson(fit.predictions.column(k), actual.column(neuroid)) {
                Some(r) => {
                    rs.push(r);
                    r_sums[neuroid].0 += r;
                    r_sums[neuroid].1 += 1;
                }
                None => undefined += 1,
            }
        }
        per_split.push(stats::median(&rs).ok_or_else(|| MetricError::ZeroVariance {
            what: format!("every neuroid or prediction in test split {s}"),
            consequence: "no correlation is defined".into(),
        })?);
    }
    let (score, sem) = stats::mean_and_sem(&per_split);
    Ok(PredictivityScore {
        score,
        sem,
        per_split,
        per_neuroid: r_sums
            .iter()
            .map(|&(s, c)| (c > 0).then(|| s / c as f64))
            .collect(),
        n_neuroids_scored: prepared.kept.len(),
        excluded_zero_variance: prepared.excluded,
        undefined_correlations: undefined,
        n_stimuli: x.nrows(),
        components_per_split: matches!(regression, Regression::Pls { .. }).then_some(components),
        alpha_per_split: matches!(regression, Regression::RidgeCv { .. }).then_some(alphas),
    })
}

/// The predictions of every split's held-out stimuli for the scored neuroids (what
/// [`crate::resampling::predictivity_replicates`] resamples), over the same seeded splits
/// as [`cross_validated_predictivity`].
pub fn held_out_predictions(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    labels: Option<&[i64]>,
    regression: &Regression,
    cv: &CrossValidation,
) -> Result<HeldOutPredictions> {
    let splits = shuffle_splits(x.nrows(), labels, cv)?;
    let prepared = Prepared::new(x, y, regression)?;
    let predictions = prepared
        .fit_predict(&splits, regression)?
        .into_iter()
        .map(|fit| fit.predictions)
        .collect();
    Ok(HeldOutPredictions {
        splits,
        predictions,
        neuroids: prepared.kept,
    })
}

/// Fits on `train` and predicts the responses of `test` stimuli (rows in `test` order, all
/// neuroids; a zero-variance neuroid is predicted as its constant).
pub fn predict_held_out(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    regression: &Regression,
    split: &Split,
) -> Result<Array2<f64>> {
    let prepared = Prepared::new(x, y, regression)?;
    let fit = prepared
        .fit_predict(std::slice::from_ref(split), regression)?
        .pop()
        .expect("one fit per split");
    let mut out = Array2::zeros((split.test.len(), y.ncols()));
    for j in &prepared.excluded {
        out.column_mut(*j).fill(y[[0, *j]]);
    }
    for (k, &j) in prepared.kept.iter().enumerate() {
        out.column_mut(j).assign(&fit.predictions.column(k));
    }
    Ok(out)
}

/// Inputs validated once, and the centred features and (when needed) their Gram matrix,
/// shared by all splits.
struct Prepared<'a> {
    x_centred: Array2<f64>,
    gram: std::sync::OnceLock<Array2<f64>>,
    /// y, scaled by 2^-`y_exponent` when its magnitude is extreme (predictions are scaled back).
    y: ndarray::CowArray<'a, f64, ndarray::Ix2>,
    y_exponent: i32,
    kept: Vec<usize>,
    excluded: Vec<usize>,
}

/// Where a regression is computed: on the features or on their Gram matrix (same result).
#[derive(Debug, Clone, Copy)]
enum Form {
    Features,
    Gram,
}

struct SplitFit {
    predictions: Array2<f64>,
    components: Option<usize>,
    alpha: Option<f64>,
}

impl<'a> Prepared<'a> {
    fn new(x: ArrayView2<f64>, y: ArrayView2<'a, f64>, regression: &Regression) -> Result<Self> {
        regression.validate()?;
        checks::ensure_same_stimuli(x.nrows(), y.nrows())?;
        checks::ensure_has_features(x.ncols(), "x")?;
        checks::ensure_has_features(y.ncols(), "y")?;
        checks::ensure_finite_2d(x, "x")?;
        checks::ensure_finite_2d(y, "y")?;
        let (kept, excluded): (Vec<usize>, Vec<usize>) = (0..y.ncols()).partition(|&j| {
            let col = y.column(j);
            col.iter().any(|&v| v != col[0])
        });
        if kept.is_empty() {
            return Err(MetricError::ZeroVariance {
                what: "every neuroid of y".into(),
                consequence: "there is nothing to predict".into(),
            });
        }
        // Values too large or too small for their products to stay in the f64 range are
        // scaled by a power of two (exact): y always (every regression is linear in y, and
        // the predictions are scaled back), x for PLS, whose predictions ignore its scale.
        let (y, y_exponent) = checks::unit_scaled(y);
        let x = match regression {
            Regression::Pls { .. } => checks::unit_scaled(x).0,
            _ => ndarray::CowArray::from(x),
        };
        // Centring by the global mean first keeps the later train-mean centring well conditioned.
        Ok(Self {
            x_centred: gram::center_columns(x.view()),
            gram: std::sync::OnceLock::new(),
            y,
            y_exponent,
            kept,
            excluded,
        })
    }

    /// Fits and predicts every split. PLS runs on the features when every split's train
    /// stimuli outnumber them, on the Gram matrix otherwise; ridge always on the Gram matrix.
    fn fit_predict(&self, splits: &[Split], regression: &Regression) -> Result<Vec<SplitFit>> {
        let fewest_train = splits.iter().map(|s| s.train.len()).min().unwrap_or(0);
        let form = match regression {
            Regression::Pls { .. } if self.x_centred.ncols() < fewest_train => Form::Features,
            _ => Form::Gram,
        };
        let mut fits = self.fit_predict_in(splits, regression, form)?;
        let back = checks::power_of_two(self.y_exponent);
        for fit in &mut fits {
            if self.y_exponent != 0 {
                fit.predictions.mapv_inplace(|v| v * back);
            }
            if fit.predictions.iter().any(|v| !v.is_finite()) {
                return Err(MetricError::NotFinite {
                    what: format!("the {} predictions", regression.name()),
                });
            }
        }
        Ok(fits)
    }

    fn fit_predict_in(
        &self,
        splits: &[Split],
        regression: &Regression,
        form: Form,
    ) -> Result<Vec<SplitFit>> {
        let n = self.x_centred.nrows();
        for split in splits {
            split.validate(n)?;
        }
        match (form, regression) {
            (Form::Features, Regression::Pls { n_components }) => {
                // faer's products over X carry this form on every core; the small OpenBLAS
                // products between them run on the calling thread, so that OpenBLAS's idle
                // thread does not spin (sched_yield) against faer's for 0.1 s after each.
                let _blas = crate::linalg::SingleThreadedBlas::new();
                let y = self.y.select(Axis(1), &self.kept);
                let fits = pls_on_splits_feature_form(
                    self.x_centred.view(),
                    y.view(),
                    splits,
                    *n_components,
                )?;
                Ok(fits
                    .into_iter()
                    .map(|fit| SplitFit {
                        predictions: fit.predictions,
                        components: Some(fit.components),
                        alpha: None,
                    })
                    .collect())
            }
            _ => {
                // The Gram matrix once, with every core in BLAS; then the splits side by
                // side, each on one core: their products (a few hundred stimuli square) are
                // too small for OpenBLAS's threads, which spent a third of the time waiting
                // on each other. Each split's numbers do not depend on the thread count.
                self.full_gram();
                let _blas = crate::linalg::SingleThreadedBlas::new();
                splits
                    .par_iter()
                    .map(|split| self.fit_predict_on_gram(split, regression))
                    .collect()
            }
        }
    }

    /// X Xᵀ of the centred features, computed on first use.
    fn full_gram(&self) -> &Array2<f64> {
        self.gram.get_or_init(|| gram::gram(self.x_centred.view()))
    }

    fn fit_predict_on_gram(&self, split: &Split, regression: &Regression) -> Result<SplitFit> {
        let (train, test) = (&split.train, &split.test);
        let y_train = self.y.select(Axis(0), train).select(Axis(1), &self.kept);
        let y_mean: Array1<f64> = y_train.mean_axis(Axis(0)).expect("train non-empty");
        let y_centred = &y_train - &y_mean.view().insert_axis(Axis(0));
        let full_gram = self.full_gram();
        let mut k_train = gram::select(full_gram, train, train);
        let k_test_raw = gram::select(full_gram, test, train);
        let col_means = k_train.mean_axis(Axis(0)).expect("train non-empty");
        let grand = col_means.mean().expect("train non-empty");
        let test_row_means = k_test_raw.mean_axis(Axis(1)).expect("train non-empty");
        let k_test = Array2::from_shape_fn(k_test_raw.dim(), |(i, j)| {
            k_test_raw[[i, j]] - test_row_means[i] - col_means[j] + grand
        });
        gram::double_center(&mut k_train);
        let (dual, components, alpha) = match regression {
            Regression::Pls { n_components } => {
                let (dual, c) = pls_dual_coefficients(&k_train, y_centred.view(), *n_components)?;
                (dual, Some(c), None)
            }
            Regression::Ridge { alpha } => (
                ridge::ridge_dual_coefficients(&k_train, y_centred.view(), *alpha)?,
                None,
                None,
            ),
            Regression::RidgeCv {
                alphas,
                criterion,
                per_target,
            } => {
                let (dual, chosen) = ridge::ridge_cv_dual_coefficients(
                    &k_train,
                    y_centred.view(),
                    alphas,
                    *criterion,
                    *per_target,
                )?;
                (dual, None, chosen.first().copied())
            }
        };
        let predictions = k_test.dot(&dual) + &y_mean.insert_axis(Axis(0));
        Ok(SplitFit {
            predictions,
            components,
            alpha,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix with a few strong directions, so that PLS has
    /// structure to find.
    fn matrix(n: usize, p: usize, seed: u64) -> Array2<f64> {
        let mut state = seed;
        Array2::from_shape_fn((n, p), |(i, j)| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            noise + ((i * (j % 3 + 1)) as f64 * 0.37).sin()
        })
    }

    #[test]
    fn pls_on_features_equals_pls_on_the_gram_matrix() {
        // Features fewer than train stimuli (the feature form's case) and more (the Gram's),
        // and a rank-6 X that runs out of components before 10.
        for (n, p, rank) in [(80, 12, 12), (40, 90, 90), (80, 12, 6)] {
            let base = matrix(n, rank, 3);
            let x = ndarray::Array2::from_shape_fn((n, p), |(i, j)| {
                base[[i, j % rank]] * (1.0 + (j / rank) as f64)
            });
            let y = matrix(n, 5, 4).mapv(|v| v * 2.0) + x.slice(ndarray::s![.., 0..5]);
            // Splits of different sizes, fitted in lockstep by the feature form.
            let splits: Vec<Split> = [(5, 0), (5, 3), (4, 1)]
                .iter()
                .map(|&(every, at)| Split {
                    train: (0..n).filter(|i| i % every != at).collect(),
                    test: (0..n).filter(|i| i % every == at).collect(),
                })
                .collect();
            for components in [1, 4, 10] {
                let regression = Regression::Pls {
                    n_components: components,
                };
                let prepared = Prepared::new(x.view(), y.view(), &regression).unwrap();
                let features = prepared
                    .fit_predict_in(&splits, &regression, Form::Features)
                    .unwrap();
                let gram = prepared
                    .fit_predict_in(&splits, &regression, Form::Gram)
                    .unwrap();
                for (features, gram) in features.iter().zip(&gram) {
                    assert_eq!(features.components, gram.components);
                    assert_eq!(features.components, Some(components.min(rank)));
                    let worst = (&features.predictions - &gram.predictions)
                        .iter()
                        .fold(0.0f64, |m, d| m.max(d.abs()));
                    assert!(
                        worst < 1e-8,
                        "n {n} p {p} rank {rank} k {components}: {worst:e}"
                    );
                }
            }
        }
    }
}
