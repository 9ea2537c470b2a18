//! Sign symmetry (Liao, Leibo & Poggio 2016, AAAI; Moskovitz, Litwin-Kumar & Abbott 2018): the
//! feedback shares only the signs of the forward weights, δₗ = (δₗ₊₁ Bₗ₊₁) ⊙ f'(aₗ) with
//! Bₗ₊₁ = sign(Wₗ₊₁) · mean|Wₗ₊₁|. The scale keeps the feedback's magnitude that of W (plain
//! sign(W) inflates errors by 1/mean|W| per layer in a network without normalisation).

use std::borrow::Cow;

use rand_chacha::ChaCha8Rng;

use super::{LearningRule, Updates, propagate};
use crate::error::Result;
use crate::network::{Forward, Network};

/// Sign-symmetric feedback, recomputed from the current weights at every step.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignSymmetry;

impl LearningRule for SignSymmetry {
    fn rule(&self) -> super::Rule {
        super::Rule::SignSymmetry
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        _: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        let deltas = propagate(net, forward, labels, |l| {
            let w = &net.layers[l].weight;
            let scale = w.mapv(f32::abs).mean().unwrap_or(0.0);
            Cow::Owned(w.mapv(|v| v.signum() * scale))
        });
        Ok(Updates::from_deltas(forward, &deltas))
    }
}
