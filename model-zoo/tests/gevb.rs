//! GEVB and backprop on a vectorized nonnegative MLP learn Fashion-MNIST, GEVB's single-example
//! updates have the gradient's sign throughout training, and its batch updates stay aligned
//! with the gradient.

mod common;

use common::fashion_mnist;
use model_zoo::vectorized::{VectorRule, VectorTrainConfig, train_vectorized};

fn quick(rule: VectorRule) -> VectorTrainConfig {
    VectorTrainConfig {
        hidden: vec![256, 128],
        optimizer: model_zoo::OptimizerConfig::adam(1e-3),
        max_steps_per_epoch: Some(120),
        alignment_every: 10,
        ..VectorTrainConfig::mlp_default(rule, 1, 3)
    }
}

#[test]
fn gevb_learns_fashion_mnist_close_to_backprop_with_sign_matched_updates() {
    let (train_set, test_set) = fashion_mnist(15_360, 2000);
    let gevb = train_vectorized(&quick(VectorRule::Gevb), &train_set, &test_set, |_| {}).unwrap();
    let bp = train_vectorized(&quick(VectorRule::Bp), &train_set, &test_set, |_| {}).unwrap();
    let (g, b) = (&gevb.history[0], &bp.history[0]);
    // Measured (seed 3, 120 steps): BP 83.1 %, GEVB 83.3 %; chance is 10 %. The issue's
    // target: GEVB within 2 pp of BP on the same network.
    assert!(b.record.test_accuracy > 0.78, "{b:?}");
    assert!(
        g.record.test_accuracy > b.record.test_accuracy - 0.02,
        "GEVB {g:?}\nBP {b:?}"
    );
    // The theorem: one example's update has the gradient's sign on every weight.
    assert!(g.sign_agreement_example.iter().all(|&a| a == 1.0), "{g:?}");
    // A batch sums examples with different nonnegative factors, so signs can differ, but
    // most agree and the update points along the gradient (measured: signs 0.985 / 1 / 1,
    // cosines 0.95 / 0.55 / 1).
    assert!(g.sign_agreement_batch.iter().all(|&a| a > 0.9), "{g:?}");
    assert!(g.record.alignment.iter().all(|&c| c > 0.4), "{g:?}");
}
