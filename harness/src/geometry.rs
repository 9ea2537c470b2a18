//! Population geometry of the scored models: manifold capacity and dimensionality of every
//! layer on labelled stimuli (a benchmark's categorised images; the classes of their training
//! data for the zoo networks), and the alignment of each zoo layer's Jacobian with its activity manifold.

use anyhow::{Context, Result};
use evaluators::CapacityOptions;
use model_zoo::{Forward, LabelledData, Network};
use ndarray::{Array2, Axis};
use reports::{GeometryRow, JacobianRow};

/// Test images per class in the probe set of a zoo network's training data.
pub const PROBE_PER_CLASS: usize = 50;

/// Subspace sizes at which Jacobian alignment is reported.
pub const JACOBIAN_KS: [usize; 8] = [1, 2, 5, 10, 20, 50, 100, 200];

/// Who the rows are about.
pub struct Subject<'a> {
    /// Model name.
    pub model: &'a str,
    /// Learning rule.
    pub rule: &'a str,
    /// Architecture.
    pub architecture: &'a str,
}

/// The first [`PROBE_PER_CLASS`] test images of every class, in class order: a fixed,
/// balanced probe set.
pub fn class_probe(test: &LabelledData) -> (Array2<f32>, Vec<i64>) {
    let classes = test.y.iter().copied().max().map_or(0, |c| c as usize + 1);
    let mut rows = vec![];
    for class in 0..classes {
        rows.extend(
            (0..test.y.len())
                .filter(|&i| usize::from(test.y[i]) == class)
                .take(PROBE_PER_CLASS),
        );
    }
    let labels = rows.iter().map(|&i| i64::from(test.y[i])).collect();
    (test.x.select(Axis(0), &rows), labels)
}

/// Capacity, radius, dimension and dimensionality of each layer's activations on `stimuli`,
/// grouped into manifolds by `labels`.
pub fn layer_geometry<'l>(
    subject: &Subject,
    layers: impl Iterator<Item = (&'l str, &'l Array2<f32>)>,
    labels: &[i64],
    stimuli: &str,
    seed: u64,
) -> Result<Vec<GeometryRow>> {
    let mut classes = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let options = CapacityOptions {
        seed,
        ..CapacityOptions::default()
    };
    let mut rows = vec![];
    for (index, (layer, features)) in layers.enumerate() {
        let context = || format!("geometry of {} layer {layer} on {stimuli}", subject.model);
        let x = features.mapv(f64::from);
        let capacity =
            evaluators::manifold_capacity(x.view(), labels, &options).with_context(context)?;
        rows.push(GeometryRow {
            model: subject.model.into(),
            rule: subject.rule.into(),
            architecture: subject.architecture.into(),
            layer: layer.into(),
            layer_index: index,
            stimuli: stimuli.into(),
            n_stimuli: x.nrows(),
            n_classes: classes.len(),
            capacity: capacity.capacity,
            radius: capacity.radius,
            dimension: capacity.dimension,
            center_correlation: capacity.center_correlation,
            center_rank: capacity.center_rank,
            residual_center_correlation: capacity.residual_center_correlation,
            participation_ratio: evaluators::participation_ratio(x.view()).with_context(context)?,
            dimension_90: evaluators::dimension_at_variance(x.view(), 0.9).with_context(context)?,
            // Duplicate points (e.g. a saturated layer) leave the two-NN estimate undefined:
            // reported as NaN with a warning rather than failing the run.
            two_nn_dimension: evaluators::two_nn_dimension(x.view()).unwrap_or_else(|e| {
                eprintln!("warning: {}: two-NN dimension undefined: {e}", context());
                f64::NAN
            }),
            seed,
        });
    }
    Ok(rows)
}

/// Jacobian–manifold alignment of every hidden layer of a zoo network, from its forward pass
/// over the probe images, at each k of [`JACOBIAN_KS`] that the layer can hold.
pub fn jacobian_rows(
    subject: &Subject,
    net: &Network,
    forward: &Forward,
) -> Result<Vec<JacobianRow>> {
    let mut rows = vec![];
    let hidden = net.layers.len().saturating_sub(1);
    for (index, layer) in net.layer_names().into_iter().take(hidden).enumerate() {
        let context = || format!("Jacobian alignment of {} layer {layer}", subject.model);
        let activity = forward.post[index].mapv(f64::from);
        let jacobian = net.output_jacobian(forward, layer).with_context(context)?;
        let most = (activity.nrows() - 1).min(activity.ncols());
        let ks: Vec<usize> = JACOBIAN_KS.iter().copied().filter(|&k| k <= most).collect();
        let alignment =
            evaluators::jacobian_alignment(activity.view(), jacobian.mapv(f64::from).view(), &ks)
                .with_context(context)?;
        for ((k, captured), random) in alignment
            .k
            .iter()
            .zip(&alignment.captured)
            .zip(&alignment.random)
        {
            rows.push(JacobianRow {
                model: subject.model.into(),
                rule: subject.rule.into(),
                architecture: subject.architecture.into(),
                layer: layer.into(),
                layer_index: index,
                k: *k,
                captured: *captured,
                random: *random,
            });
        }
    }
    Ok(rows)
}
