//! Noise ceiling of RDM similarity from several subjects' or sessions' RDMs
//! (Nili et al. 2014, PLoS Comput Biol; rsatoolbox `boot_noise_ceiling`).

use ndarray::Array1;
use serde::{Deserialize, Serialize};

use crate::compare::{CompareMethod, compare_rdms};
use crate::error::{MetricError, Result};
use crate::rdm::Rdm;
use crate::stats;

/// Lower and upper bound on the similarity the true model could reach, given inter-subject
/// variability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RdmNoiseCeiling {
    /// Mean similarity of each subject's RDM to the pooled RDM of the *other* subjects.
    pub lower: f64,
    /// Mean similarity of each subject's RDM to the pooled RDM of *all* subjects (overfits).
    pub upper: f64,
    /// The comparison the ceiling was computed for.
    pub method: CompareMethod,
    /// How subject RDMs were averaged.
    pub pooling: RdmPooling,
    /// Number of subject/session RDMs.
    pub n_rdms: usize,
}

/// How subject RDMs are averaged into the group RDM that each subject is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RdmPooling {
    /// The plain mean of the dissimilarities (Nili et al. 2014 as usually stated; the default).
    #[default]
    Mean,
    /// The average that is optimal for the comparison method, as rsatoolbox 0.3.2 `pool_rdm`
    /// does: mean of ranks for rank-based methods, of z-scores (shifted to a zero minimum) for
    /// Pearson, of RMS-normalised vectors for cosine. rsatoolbox's `boot_noise_ceiling`.
    MethodOptimal,
}

/// Nili noise ceiling: upper = mean over subjects of compare(subject, pool(all)), lower = mean
/// over subjects of compare(subject, pool(all but subject)).
pub fn rdm_noise_ceiling(
    rdms: &[Rdm],
    method: CompareMethod,
    pooling: RdmPooling,
) -> Result<RdmNoiseCeiling> {
    if rdms.len() < 2 {
        return Err(MetricError::InvalidOption(format!(
            "a noise ceiling needs at least 2 subject RDMs, got {}",
            rdms.len()
        )));
    }
    let n = rdms[0].n_stimuli();
    if let Some(bad) = rdms.iter().position(|r| r.n_stimuli() != n) {
        return Err(MetricError::ShapeMismatch(format!(
            "subject RDM {bad} covers {} stimuli, subject RDM 0 covers {n}",
            rdms[bad].n_stimuli()
        )));
    }
    let prepared: Vec<Array1<f64>> = match pooling {
        RdmPooling::Mean => rdms.iter().map(|r| r.condensed().to_owned()).collect(),
        RdmPooling::MethodOptimal => rdms
            .iter()
            .map(|r| prepare_for_pooling(r, method))
            .collect(),
    };
    let shift_to_zero_min =
        pooling == RdmPooling::MethodOptimal && method == CompareMethod::Pearson;
    let pool = |members: &mut dyn Iterator<Item = &Array1<f64>>| -> Result<Rdm> {
        let mut sum = Array1::zeros(prepared[0].len());
        let mut count = 0.0;
        for m in members {
            sum += m;
            count += 1.0;
        }
        let mut mean = sum / count;
        if shift_to_zero_min {
            let min = mean.iter().copied().fold(f64::INFINITY, f64::min);
            mean -= min;
        }
        Rdm::from_condensed(mean)
    };
    let pooled_all = pool(&mut prepared.iter())?;
    let (mut lower, mut upper) = (0.0, 0.0);
    for (i, subject) in rdms.iter().enumerate() {
        let pooled_others = pool(
            &mut prepared
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, v)| v),
        )?;
        lower += compare_rdms(&pooled_others, subject, method)?;
        upper += compare_rdms(&pooled_all, subject, method)?;
    }
    let k = rdms.len() as f64;
    Ok(RdmNoiseCeiling {
        lower: lower / k,
        upper: upper / k,
        method,
        pooling,
        n_rdms: rdms.len(),
    })
}

fn prepare_for_pooling(rdm: &Rdm, method: CompareMethod) -> Array1<f64> {
    let v = rdm.condensed();
    match method {
        CompareMethod::Spearman | CompareMethod::RhoA | CompareMethod::KendallTauA => {
            Array1::from(stats::rank_average(v))
        }
        CompareMethod::Pearson => {
            let mean = v.mean().unwrap_or(0.0);
            let std = v.std(0.0);
            v.mapv(|x| (x - mean) / std)
        }
        CompareMethod::Cosine => {
            let rms = (v.dot(&v) / v.len() as f64).sqrt();
            v.mapv(|x| x / rms)
        }
    }
}
