//! Metrics that compare model representations with neural data.
//!
//! All inputs are `f64` matrices of shape `(stimuli, features)` (or `(stimuli, neuroids)`),
//! rows in the same stimulus order. Every metric checks its inputs and returns a
//! [`MetricError`] instead of panicking or producing NaN. Reference implementations that the
//! tests match: rsatoolbox 0.3.2 (RDMs, comparisons, noise ceiling), scikit-learn 1.9
//! (PLS, ridge), Kornblith et al. 2019 (CKA).
//!
//! | concept | module |
//! |---|---|
//! | RDMs | [`rdm`] |
//! | RDM comparison | [`compare`] |
//! | RDM noise ceiling | [`noise_ceiling`] |
//! | CKA | [`cka`] |
//! | PLS / ridge predictivity | [`predictivity`] (regressions in `pls`, `ridge`) |
//! | train/test splits | [`splits`] |
//! | split-half ceiling, normalisation | [`ceiling`] |
//! | bootstrap intervals | [`bootstrap`] |
//! | paired bootstrap replicates on fixed resamples | [`resampling`] |
//! | intervals, paired tests, Holm correction, best-tied groups | [`inference`] |
//! | participation ratio, 90 % variance dimension, two-NN intrinsic dimension | [`dimensionality`] |
//! | manifold capacity, radius, dimension (MFTMA) | [`manifold_capacity`] |
//! | principal angles, class-manifold and Jacobian alignment | [`subspace_alignment`] |
//! | spectral theory of neural prediction: error modes, their radius and dimension | [`spectral_prediction`] |

pub mod bootstrap;
pub mod ceiling;
mod center_structure;
pub mod checks;
pub mod cka;
pub mod compare;
pub mod dimensionality;
mod error;
mod gemm;
mod gram;
pub mod inference;
mod linalg;
pub mod manifold_capacity;
pub mod noise_ceiling;
mod nonnegative_qp;
mod pls;
pub mod predictivity;
pub mod rdm;
pub mod resampling;
mod ridge;
pub mod spec;
pub mod spectral_prediction;
pub mod splits;
pub mod stats;
pub mod subspace_alignment;

pub use bootstrap::{BootstrapOptions, ConfidenceInterval, bootstrap_cka, bootstrap_rsa};
pub use ceiling::{
    CeilingNormalization, NormalizedScore, SplitHalfCeiling, rdm_split_half_ceiling,
    split_half_ceiling,
};
pub use cka::{CkaKernel, CkaOptions, cka};
pub use compare::{CompareMethod, compare_rdms};
pub use dimensionality::{dimension_at_variance, participation_ratio, two_nn_dimension};
pub use error::{MetricError, Result};
pub use manifold_capacity::{
    CapacityOptions, ManifoldCapacity, ManifoldGeometry, manifold_capacity,
};
pub use noise_ceiling::{RdmNoiseCeiling, RdmPooling, rdm_noise_ceiling};
pub use predictivity::{
    PredictivityScore, Regression, cross_validated_predictivity, held_out_predictions,
    predict_held_out,
};
pub use rdm::{Rdm, RdmMethod, compute_rdm};
pub use ridge::{RidgeCvCriterion, default_alpha_grid};
pub use spec::{MetricScore, MetricSpec, NeuralTarget};
pub use spectral_prediction::{SpectralOptions, SpectralPrediction, spectral_prediction};
pub use splits::{CrossValidation, Split};
pub use subspace_alignment::{
    JacobianAlignment, ManifoldAlignment, SubspaceAngles, class_manifold_alignment,
    jacobian_alignment, principal_angles,
};
