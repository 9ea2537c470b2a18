//! Neural manifold noise correlation, NMNC (Kang, Richards & Sabatini 2026, arXiv 2601.02636):
//! node perturbation whose noise lives in the top-k principal subspace of each layer's
//! activity, ξₗ = Uₗ z with z ~ N(0, σ² I_k) and Uₗ the leading eigenvectors of a running
//! covariance of aₗ. The estimate then converges to Uₗ Uₗᵀ ∂L/∂aₗ; because the row space of the
//! layer's Jacobian aligns with its activity manifold, that projection keeps most of the
//! gradient while the estimator's variance scales with k instead of the number of units.
//!
//! A convolutional layer's subspace lives in one of two spaces ([`ManifoldSpace`]):
//! - `channels`: the activity is a channel vector at every output pixel; the covariance is
//!   taken over channels (pixels and examples as samples), so the noise at each pixel lives in
//!   the layer's principal channel subspace, drawn independently at every pixel (k · pixels
//!   noise dimensions per example);
//! - `layer`: the activity is the layer's whole map, one vector of pixels · channels per
//!   example, the n_l-dimensional space in which the paper states the alignment of the
//!   Jacobian's row space with the manifold; its top k principal components come from the
//!   batch of the refresh step (the eigenvectors of its centred Gram matrix, at most
//!   batch − 1), and the noise spans k dimensions per example in all.
//!
//! A dense layer's two spaces are the same.

use ndarray::{Array1, Array2, ArrayView2, Axis, s};
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

/// The space a layer's principal subspace lives in (see the module's documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifoldSpace {
    /// A convolution's channel vectors, the same subspace at every pixel.
    #[default]
    Channels,
    /// A layer's whole activity per example (pixels · channels).
    Layer,
}

impl ManifoldSpace {
    fn is_channels(&self) -> bool {
        *self == ManifoldSpace::Channels
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
    /// Decay of the running activity mean and covariance per step (`channels` space).
    pub covariance_decay: f32,
    /// Where the subspace lives; left out of a config (and of the ones written) when
    /// `channels`, so the configs and cache keys of that space are as before.
    #[serde(skip_serializing_if = "ManifoldSpace::is_channels")]
    pub space: ManifoldSpace,
}

impl Default for ManifoldOptions {
    fn default() -> Self {
        Self {
            perturbation: PerturbationOptions::default(),
            subspace: SubspaceSize::VarianceExplained(0.9),
            refresh_every: 50,
            covariance_decay: 0.95,
            space: ManifoldSpace::Channels,
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
    /// `bases[l]`: (units, k) orthonormal columns; in the `layer` space (pixels · channels, k).
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

    fn refresh(&mut self, forward: &Forward, batch: usize) -> Result<()> {
        if self.options.space == ManifoldSpace::Layer {
            self.bases = forward
                .pre
                .iter()
                .enumerate()
                .map(|(l, a)| self.layer_basis(l, a.view(), batch))
                .collect::<Result<_>>()?;
            return Ok(());
        }
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
                let k = self
                    .options
                    .subspace
                    .size(values.as_slice().expect("contiguous"), n);
                // eigh sorts ascending: the top k are the last columns.
                Ok(vectors.slice(s![.., n - k..]).mapv(|v| v as f32))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// The top principal components of layer l's whole activity over the batch: with X the
    /// centred `(batch, pixels · channels)` activity and X Xᵀ = V Λ Vᵀ, the components are
    /// Xᵀ vᵢ / √λᵢ, for the eigenvalues above rounding (at most batch − 1).
    fn layer_basis(&self, l: usize, pre: ArrayView2<f32>, batch: usize) -> Result<Array2<f32>> {
        let dims = pre.len() / batch;
        let mut x = pre
            .as_standard_layout()
            .into_shape_with_order((batch, dims))
            .map_err(|e| ZooError::Shape(format!("layer {l}'s activity per example: {e}")))?
            .mapv(f64::from);
        let mean = x.mean_axis(Axis(0)).expect("non-empty batch");
        x -= &mean;
        let gram = x.dot(&x.t());
        let _one_thread = crate::blas_threads::SingleThreadedBlas::new();
        let (values, vectors) = gram
            .eigh(UPLO::Upper)
            .map_err(|e| ZooError::Diverged(format!("activity Gram matrix of layer {l}: {e}")))?;
        let largest = values.iter().copied().fold(0.0, f64::max);
        // Directions the batch does not span (centring leaves at most batch − 1) are rounding.
        let spanned = values.iter().filter(|&&v| v > largest * 1e-9).count();
        if spanned == 0 {
            return Err(ZooError::Diverged(format!(
                "layer {l}'s activity does not vary over the batch"
            )));
        }
        let top = values.slice(s![batch - spanned..]);
        let k = self
            .options
            .subspace
            .size(top.as_slice().expect("contiguous"), spanned);
        let first = batch - k;
        let mut basis = x.t().dot(&vectors.slice(s![.., first..]));
        for (mut column, &value) in basis.axis_iter_mut(Axis(1)).zip(values.slice(s![first..])) {
            column /= value.sqrt();
        }
        Ok(basis.mapv(|v| v as f32))
    }
}

impl SubspaceSize {
    /// How many of the leading components to keep, of `available` whose eigenvalues are
    /// `ascending` (ascending order).
    fn size(self, ascending: &[f64], available: usize) -> usize {
        match self {
            SubspaceSize::Components(k) => k.clamp(1, available),
            SubspaceSize::VarianceExplained(fraction) => {
                let total: f64 = ascending.iter().map(|v| v.max(0.0)).sum();
                let mut acc = 0.0;
                let mut k = 0;
                for v in ascending.iter().rev() {
                    k += 1;
                    acc += v.max(0.0);
                    if total <= 0.0 || acc >= f64::from(fraction) * total {
                        break;
                    }
                }
                k
            }
        }
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
        let batch = labels.len();
        if self.options.space == ManifoldSpace::Channels {
            self.observe(forward);
        }
        if self.steps.is_multiple_of(self.options.refresh_every.max(1)) {
            self.refresh(forward, batch)?;
        }
        self.steps += 1;
        let sigma = self.options.perturbation.sigma;
        let bases = &self.bases;
        let space = self.options.space;
        estimate_updates(
            net,
            forward,
            labels,
            self.options.perturbation,
            rng,
            |l, out, rng| {
                // Rows of k coefficients: one per pixel (channels) or per example (layer).
                let (k, dims) = (bases[l].ncols(), bases[l].nrows());
                let rows = match space {
                    ManifoldSpace::Channels => out.nrows(),
                    ManifoldSpace::Layer => out.len() / dims,
                };
                let coefficients = gaussian(rows, k, sigma, rng);
                let mut noise = out
                    .into_shape_with_order((rows, dims))
                    .expect("noise rows are standard layout, a whole number of examples");
                ndarray::linalg::general_mat_mul(
                    1.0,
                    &coefficients,
                    &bases[l].t(),
                    0.0,
                    &mut noise,
                );
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
            let channels = self.mean[l].len();
            let at = state
                .arrays
                .iter()
                .find(|(n, _)| *n == format!("basis.{l}"))
                .map(|(_, a)| a.shape().to_vec())
                .unwrap_or_default();
            // A `layer`-space basis has a row per pixel and channel of the layer's map.
            let units = match self.options.space {
                ManifoldSpace::Channels => channels,
                ManifoldSpace::Layer => at.first().copied().unwrap_or(0),
            };
            let k = at.get(1).copied().unwrap_or(0);
            if k == 0 || k > units || units % channels != 0 {
                return Err(ZooError::Shape(format!(
                    "rule state 'basis.{l}' must have a row per unit ({channels} channels, times pixels in the layer space) and 1 to that many columns, not {at:?}"
                )));
            }
            bases.push(as_2d(state.take(&format!("basis.{l}"), &[units, k])?).mapv(|v| v as f32));
        }
        self.bases = bases;
        self.steps = values.steps;
        Ok(())
    }
}
