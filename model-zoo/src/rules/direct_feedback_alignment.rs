//! Direct feedback alignment (Nøkland 2016, NeurIPS): the output error is projected straight
//! to every hidden layer through a fixed random matrix, δₗ = (e Dₗ) ⊙ f'(aₗ) with Dₗ of shape
//! (classes, unitsₗ); the output layer gets δ_L = e.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{LearningRule, Updates, random_feedback};
use crate::error::Result;
use crate::loss::output_error;
use crate::network::{Forward, Network};

/// DFA with its fixed projection matrices.
#[derive(Debug, Clone)]
pub struct DirectFeedbackAlignment {
    /// `projections[l]`: (classes, units of layer l), for every hidden layer.
    projections: Vec<Array2<f32>>,
}

impl DirectFeedbackAlignment {
    /// Draws the projections from `seed`.
    pub fn new(net: &Network, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let classes = net.layers.last().expect("a layer").weight.nrows();
        let projections = net.layers[..net.layers.len() - 1]
            .iter()
            .map(|l| random_feedback(classes, l.pre_units(), &mut rng))
            .collect();
        Self { projections }
    }
}

impl LearningRule for DirectFeedbackAlignment {
    fn rule(&self) -> super::Rule {
        super::Rule::Dfa
    }

    fn updates(
        &mut self,
        net: &Network,
        forward: &Forward,
        labels: &[u8],
        _: &mut ChaCha8Rng,
    ) -> Result<Updates> {
        let e = output_error(forward.output(), labels);
        let mut deltas: Vec<Array2<f32>> = self
            .projections
            .iter()
            .enumerate()
            .map(|(l, d)| {
                net.to_pre_layout(l, e.dot(d))
                    * net.layers[l]
                        .activation
                        .derivative(&forward.pre[l], &forward.act[l])
            })
            .collect();
        deltas.push(e);
        Ok(Updates::from_deltas(forward, &deltas))
    }
}
