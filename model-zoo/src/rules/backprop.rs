//! Backpropagation (Rumelhart, Hinton & Williams 1986): the exact gradient,
//! δₗ = (δₗ₊₁ Wₗ₊₁) ⊙ f'(aₗ).

use std::borrow::Cow;

use rand_chacha::ChaCha8Rng;

use super::{LearningRule, Updates, propagate};
use crate::error::Result;
use crate::network::{Forward, Network};

/// The reference rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backprop;

impl Backprop {
    /// The exact gradient of the mean cross-entropy, without a rule object.
    pub fn gradient(net: &Network, forward: &Forward, labels: &[u8]) -> Updates {
        let deltas = propagate(net, forward, labels, |l| {
            Cow::Borrowed(&net.layers[l].weight)
        });
        Updates::from_deltas(forward, &deltas)
    }
}

impl LearningRule for Backprop {
    fn rule(&self) -> super::Rule {
        super::Rule::Bp
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        _: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        Ok(Backprop::gradient(net, forward, labels))
    }
}
