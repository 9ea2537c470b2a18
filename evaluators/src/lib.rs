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
//! | participation ratio | [`dimensionality`] |

pub mod bootstrap;
pub mod ceiling;
pub mod checks;
pub mod cka;
pub mod compare;
pub mod dimensionality;
mod error;
mod gram;
mod linalg;
pub mod noise_ceiling;
mod pls;
pub mod predictivity;
pub mod rdm;
mod ridge;
pub mod spec;
pub mod splits;
pub mod stats;

pub use bootstrap::{BootstrapOptions, ConfidenceInterval, bootstrap_cka, bootstrap_rsa};
pub use ceiling::{
    CeilingNormalization, NormalizedScore, SplitHalfCeiling, rdm_split_half_ceiling,
    split_half_ceiling,
};
pub use cka::{CkaKernel, CkaOptions, cka};
pub use compare::{CompareMethod, compare_rdms};
pub use dimensionality::participation_ratio;
pub use error::{MetricError, Result};
pub use noise_ceiling::{RdmNoiseCeiling, RdmPooling, rdm_noise_ceiling};
pub use predictivity::{
    PredictivityScore, Regression, cross_validated_predictivity, predict_held_out,
};
pub use rdm::{Rdm, RdmMethod, compute_rdm};
pub use ridge::{RidgeCvCriterion, default_alpha_grid};
pub use spec::MetricSpec;
pub use splits::{CrossValidation, Split};
