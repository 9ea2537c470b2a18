//! Neural manifold noise correlation, NMNC (Kang, Richards & Sabatini 2026, arXiv 2601.02636):
//! node perturbation whose noise lives in the top-k principal subspace of each layer's
//! activity, ξₗ = Uₗ z with z ~ N(0, σ² I_k) and Uₗ the leading eigenvectors of a running
//! covariance of aₗ. The estimate then converges to Uₗ Uₗᵀ ∂L/∂aₗ; because the row space of the
//! layer's Jacobian aligns with its activity manifold, that projection keeps most of the
//! gradient while the estimator's variance scales with k instead of the number of units.
//!
//! In a convolutional layer the activity is a channel vector at every output pixel; the
//! covariance is taken over channels (pixels and examples as samples), so the noise at each
//! pixel lives in the layer's principal channel subspace, drawn independently at every pixel.
//! With P the projector onto that subspace, the expected update of a convolution's shared
//! weights is then P G, G their gradient: a descent direction. A subspace of the whole map
//! (pixels · channels, k noise dimensions per example instead of k per pixel) correlates the
//! pixels' noise, and the expected update, a sum over pairs of pixels, is no projection of G:
//! tried for one epoch of the CIFAR-10 standard preset (k = 16), `conv1`'s update pointed
//! against its gradient (mean cosine −0.12) and test accuracy was 21.9 %, against 20.9 %
//! here and NC's 24.5 %.

use ndarray::{Array1, Array2, Axis, s};
use ndarray_linalg::{Eigh, UPLO};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::perturbation::{PerturbationOptions, estimate_updates, gaussian};
use super::{LearningRule, RuleState, Updates};
use crate::error::{Result, ZooError};
use crate::network::{Forward, Network};

/// How many principal components each layer's noise spans: `{components: 10}` or
/// `{variance_explained: 0.9}` in configs.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubspaceSize {
    /// A fixed number (capped at the layer's width).
    Components(usize),
    /// The fewest components explaining at least this fraction of the activity's variance.
    VarianceExplained(f32),
}

/// Written as a one-key map, the form configs use, rather than a YAML tag (`!components 10`),
/// which a training config, being an internally tagged rule, could not read back.
impl Serialize for SubspaceSize {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            SubspaceSize::Components(k) => map.serialize_entry("components", k)?,
            SubspaceSize::VarianceExplained(f) => map.serialize_entry("variance_explained", f)?,
        }
        map.end()
    }
}

/// NMNC options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManifoldOptions {
    /// Perturbations and noise scale.
    pub perturbation: PerturbationOptions,
    /// Subspace dimension.
    pub subspace: SubspaceSize,
    /// Recompute the principal subspaces every this many steps.
    pub refresh_every: usize,
    /// Decay of the running activity mean and covariance per step.
    pub covariance_decay: f32,
}

impl Default for ManifoldOptions {
    fn default() -> Self {
        Self {
            perturbation: PerturbationOptions::default(),
            subspace: SubspaceSize::VarianceExplained(0.9),
            refresh_every: 50,
            covariance_decay: 0.95,
        }
    }
}

impl ManifoldOptions {
    /// The perturbation's checks, a non-empty subspace, a refresh interval of at least one
    /// step and a decay in [0, 1).
    pub(crate) fn check(&self) -> crate::Result<()> {
        self.perturbation.check()?;
        let subspace = match self.subspace {
            SubspaceSize::Components(k) => k >= 1,
            SubspaceSize::VarianceExplained(f) => f > 0.0 && f <= 1.0,
        };
        if !subspace || self.refresh_every == 0 || !(0.0..1.0).contains(&self.covariance_decay) {
            return Err(crate::ZooError::Config(format!(
                "NMNC needs a subspace of at least one component (or a variance fraction in (0, 1]), refresh_every >= 1 and covariance_decay in [0, 1): {self:?}"
            )));
        }
        Ok(())
    }
}

/// NMNC with its running activity statistics and current subspaces.
#[derive(Debug, Clone)]
pub struct NeuralManifoldNoiseCorrelation {
    options: ManifoldOptions,
    mean: Vec<Array1<f64>>,
    second_moment: Vec<Array2<f64>>,
    /// `bases[l]`: (units, k) orthonormal columns.
    bases: Vec<Array2<f32>>,
    steps: usize,
}

impl NeuralManifoldNoiseCorrelation {
    /// Empty statistics for `net`; the first step initialises them from its batch.
    pub fn new(net: &Network, options: ManifoldOptions) -> Self {
        Self {
            options,
            mean: net
                .layers
                .iter()
                .map(|l| Array1::zeros(l.bias.len()))
                .collect(),
            second_moment: net
                .layers
                .iter()
                .map(|l| Array2::zeros((l.bias.len(), l.bias.len())))
                .collect(),
            bases: vec![],
            steps: 0,
        }
    }

    /// Current subspace dimension of each layer.
    pub fn subspace_dims(&self) -> Vec<usize> {
        self.bases.iter().map(|b| b.ncols()).collect()
    }

    fn observe(&mut self, forward: &Forward) {
        let decay = if self.steps == 0 {
            0.0
        } else {
            f64::from(self.options.covariance_decay)
        };
        for (l, a) in forward.pre.iter().enumerate() {
            let a = a.mapv(f64::from);
            let n = a.nrows() as f64;
            let batch_mean = a.mean_axis(Axis(0)).expect("non-empty batch");
            let batch_second = a.t().dot(&a) / n;
            self.mean[l] = &self.mean[l] * decay + batch_mean * (1.0 - decay);
            self.second_moment[l] = &self.second_moment[l] * decay + batch_second * (1.0 - decay);
        }
    }

    fn refresh(&mut self) -> Result<()> {
        self.bases = (0..self.mean.len())
            .map(|l| {
                let m = &self.mean[l];
                let cov = &self.second_moment[l]
                    - &m.view()
                        .insert_axis(Axis(1))
                        .dot(&m.view().insert_axis(Axis(0)));
                // LAPACK's tridiagonal reduction runs OpenBLAS's threaded symmetric
                // matrix-vector product, whose rounding depends on the thread count: one
                // thread, so the subspace (and the weights) do not.
                let _one_thread = crate::blas_threads::SingleThreadedBlas::new();
                let (values, vectors) = cov.eigh(UPLO::Upper).map_err(|e| {
                    ZooError::Diverged(format!("activity covariance of layer {l}: {e}"))
                })?;
                let n = values.len();
                let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
                let k = match self.options.subspace {
                    SubspaceSize::Components(k) => k.clamp(1, n),
                    SubspaceSize::VarianceExplained(fraction) => {
                        let mut acc = 0.0;
                        let mut k = 0;
                        for v in values.iter().rev() {
                            k += 1;
                            acc += v.max(0.0);
                            if total <= 0.0 || acc >= f64::from(fraction) * total {
                                break;
                            }
                        }
                        k
                    }
                };
                // eigh sorts ascending: the top k are the last columns.
                Ok(vectors.slice(s![.., n - k..]).mapv(|v| v as f32))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}

impl LearningRule for NeuralManifoldNoiseCorrelation {
    fn rule(&self) -> super::Rule {
        super::Rule::Nmnc
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        rng: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        self.observe(forward);
        if self.steps.is_multiple_of(self.options.refresh_every.max(1)) {
            self.refresh()?;
        }
        self.steps += 1;
        let sigma = self.options.perturbation.sigma;
        let bases = &self.bases;
        estimate_updates(
            net,
            forward,
            labels,
            self.options.perturbation,
            rng,
            |l, mut out, rng| {
                let coefficients = gaussian(out.nrows(), bases[l].ncols(), sigma, rng);
                ndarray::linalg::general_mat_mul(1.0, &coefficients, &bases[l].t(), 0.0, &mut out);
            },
        )
    }

    fn noise_subspace(&self) -> Vec<usize> {
        self.subspace_dims()
    }

    /// The running mean and second moment of each layer (`mean.<l>`, `second_moment.<l>`),
    /// the current subspaces (`basis.<l>`) and the step count.
    fn state(&self) -> RuleState {
        let mut arrays = vec![];
        for (l, (mean, second)) in self.mean.iter().zip(&self.second_moment).enumerate() {
            arrays.push((format!("mean.{l}"), mean.clone().into_dyn()));
            arrays.push((format!("second_moment.{l}"), second.clone().into_dyn()));
        }
        for (l, basis) in self.bases.iter().enumerate() {
            arrays.push((format!("basis.{l}"), basis.mapv(f64::from).into_dyn()));
        }
        RuleState {
            arrays,
            values: serde_json::json!({"steps": self.steps, "bases": self.bases.len()}),
        }
    }

    fn restore(&mut self, mut state: RuleState) -> Result<()> {
        #[derive(Deserialize)]
        struct Values {
            steps: usize,
            bases: usize,
        }
        let values: Values = state.values()?;
        let layers = self.mean.len();
        if values.bases != 0 && values.bases != layers {
            return Err(ZooError::Shape(format!(
                "rule state has subspaces of {} layers, the network has {layers}",
                values.bases
            )));
        }
        let as_2d = |a: ndarray::ArrayD<f64>| -> Array2<f64> {
            a.into_dimensionality().expect("2-D, shape checked")
        };
        for l in 0..layers {
            let units = self.mean[l].len();
            self.mean[l] = state
                .take(&format!("mean.{l}"), &[units])?
                .into_dimensionality()
                .expect("1-D, shape checked");
            self.second_moment[l] =
                as_2d(state.take(&format!("second_moment.{l}"), &[units, units])?);
        }
        let mut bases = Vec::with_capacity(values.bases);
        for l in 0..values.bases {
            let units = self.mean[l].len();
            let at = state
                .arrays
                .iter()
                .find(|(n, _)| *n == format!("basis.{l}"))
                .map(|(_, a)| a.shape().to_vec())
                .unwrap_or_default();
            let k = at.get(1).copied().unwrap_or(0);
            if k == 0 || k > units {
                return Err(ZooError::Shape(format!(
                    "rule state 'basis.{l}' must have {units} rows and 1 to {units} columns"
                )));
            }
            bases.push(as_2d(state.take(&format!("basis.{l}"), &[units, k])?).mapv(|v| v as f32));
        }
        self.bases = bases;
        self.steps = values.steps;
        Ok(())
    }
}
