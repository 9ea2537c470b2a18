//! Noise correlation, or node perturbation (Williams 1992; Fiete & Seung 2006; Werfel, Xie &
//! Seung 2005): every unit's pre-activation gets isotropic Gaussian noise ξₗ ~ N(0, σ² I), and
//! the error signal is the noise weighted by the change in loss it caused,
//! δₗ = (1/K) Σₖ (L(a + ξₖ) - L(a - ξₖ)) / (2σ²) · ξₖ,ₗ, an unbiased but high-variance
//! estimate of ∂L/∂aₗ whose variance grows with the number of units.

use rand_chacha::ChaCha8Rng;

use super::perturbation::{PerturbationOptions, estimate_updates, fill_gaussian};
use super::{LearningRule, Updates};
use crate::error::Result;
use crate::network::{Forward, Network};

/// Node perturbation with isotropic noise.
#[derive(Debug, Clone, Copy)]
pub struct NoiseCorrelation {
    options: PerturbationOptions,
}

impl NoiseCorrelation {
    /// With these options.
    pub fn new(options: PerturbationOptions) -> Self {
        Self { options }
    }
}

impl LearningRule for NoiseCorrelation {
    fn rule(&self) -> super::Rule {
        super::Rule::Nc
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        rng: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        let sigma = self.options.sigma;
        estimate_updates(net, forward, labels, self.options, rng, |_, out, rng| {
            fill_gaussian(out, sigma, rng)
        })
    }
}
