//! Feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, Nat Commun 7:13276): the
//! error travels down through fixed random matrices instead of the transposed weights,
//! δₗ = (δₗ₊₁ Bₗ₊₁) ⊙ f'(aₗ), Bₗ₊₁ random with the shape of Wₗ₊₁; the forward weights come to
//! align with B.

use std::borrow::Cow;

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{LearningRule, Updates, propagate, random_feedback};
use crate::error::Result;
use crate::network::{Forward, Network};

/// FA with its fixed feedback matrices.
#[derive(Debug, Clone)]
pub struct FeedbackAlignment {
    /// `feedback[l]` replaces Wₗ on the way down (`feedback[0]` is never used).
    feedback: Vec<Array2<f32>>,
}

impl FeedbackAlignment {
    /// Draws the feedback matrices from `seed`.
    pub fn new(net: &Network, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let feedback = net
            .layers
            .iter()
            .map(|l| random_feedback(l.weight.nrows(), l.weight.ncols(), &mut rng))
            .collect();
        Self { feedback }
    }
}

impl LearningRule for FeedbackAlignment {
    fn rule(&self) -> super::Rule {
        super::Rule::Fa
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        _: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        let deltas = propagate(net, forward, labels, |l| Cow::Borrowed(&self.feedback[l]));
        Ok(Updates::from_deltas(forward, &deltas))
    }
}
