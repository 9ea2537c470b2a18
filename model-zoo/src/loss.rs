//! Softmax cross-entropy, the training loss of every rule.

use ndarray::{Array2, Axis};

/// Mean cross-entropy of softmax(logits) against integer labels, and the number of correct
/// arg-max predictions.
pub fn cross_entropy(logits: &Array2<f32>, labels: &[u8]) -> (f32, usize) {
    let probs = softmax(logits);
    let mut loss = 0.0f64;
    let mut correct = 0;
    for (row, &label) in probs.rows().into_iter().zip(labels) {
        loss -= f64::from(row[label as usize].max(1e-12).ln());
        let predicted = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        correct += usize::from(predicted == Some(label as usize));
    }
    ((loss / labels.len() as f64) as f32, correct)
}

/// Cross-entropy of each example (not averaged).
pub fn per_example_cross_entropy(logits: &Array2<f32>, labels: &[u8]) -> Vec<f32> {
    softmax(logits)
        .rows()
        .into_iter()
        .zip(labels)
        .map(|(row, &label)| -row[label as usize].max(1e-12).ln())
        .collect()
}

/// dL/dlogits of the mean cross-entropy: (softmax - one-hot) / batch.
pub fn output_error(logits: &Array2<f32>, labels: &[u8]) -> Array2<f32> {
    let mut e = softmax(logits);
    let n = labels.len() as f32;
    for (mut row, &label) in e.rows_mut().into_iter().zip(labels) {
        row[label as usize] -= 1.0;
        row /= n;
    }
    e
}

/// Row-wise softmax, shifted by the row maximum for stability.
pub fn softmax(logits: &Array2<f32>) -> Array2<f32> {
    let mut out = logits.clone();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    out
}
