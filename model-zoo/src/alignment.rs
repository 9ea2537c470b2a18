//! How well a rule's update points along the true gradient: per layer, the cosine similarity
//! of the flattened weight updates.

use crate::rules::Updates;

/// Cosine similarity of `rule` and `gradient` for each layer's weights (0 where either is zero).
pub fn cosine_per_layer(rule: &Updates, gradient: &Updates) -> Vec<f32> {
    rule.weight
        .iter()
        .zip(&gradient.weight)
        .map(|(a, b)| {
            let dot: f64 = a
                .iter()
                .zip(b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
            let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum();
            if na > 0.0 && nb > 0.0 {
                (dot / (na * nb).sqrt()) as f32
            } else {
                0.0
            }
        })
        .collect()
}
