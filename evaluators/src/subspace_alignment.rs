//! How much two linear subspaces share: principal angles between object manifolds, between a
//! model's class manifolds and the brain's, and between a layer's activity and the row space
//! of the network's Jacobian (the NMNC paper's alignment, Kang, Richards & Sabatini 2026).
//! Each comes with what a random subspace of the same size would give.

use ndarray::{Array2, ArrayView2, Axis, s};
use ndarray_linalg::{JobSvd, SVD, SVDDC};
use serde::{Deserialize, Serialize};

use crate::checks;
use crate::error::{MetricError, Result};
use crate::gram;

/// Principal angles between two subspaces and the random-subspace baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubspaceAngles {
    /// Principal angles in radians, smallest first (min(k₁, k₂) of them).
    pub angles: Vec<f64>,
    /// Mean squared cosine of the angles: 1 for identical subspaces, 0 for orthogonal ones.
    pub mean_cos2: f64,
    /// Expected `mean_cos2` of a random subspace pair of the same dimensions in the same
    /// space: max(k₁, k₂) / ambient dimension.
    pub random_mean_cos2: f64,
}

/// Principal angles between the top-`k` principal subspaces of two point clouds (rows are
/// points, columns the coordinates of one shared space).
pub fn principal_angles(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    k: usize,
) -> Result<SubspaceAngles> {
    if a.ncols() != b.ncols() {
        return Err(MetricError::ShapeMismatch(format!(
            "the two manifolds live in spaces of {} and {} dimensions",
            a.ncols(),
            b.ncols()
        )));
    }
    let basis_a = principal_basis(a, k, "the first manifold")?;
    let basis_b = principal_basis(b, k, "the second manifold")?;
    angles_between(&basis_a, &basis_b, a.ncols())
}

/// Principal angles between two orthonormal bases (columns) of subspaces of an
/// `ambient`-dimensional space.
fn angles_between(a: &Array2<f64>, b: &Array2<f64>, ambient: usize) -> Result<SubspaceAngles> {
    let (_, cosines, _) = a
        .t()
        .dot(b)
        .svd(false, false)
        .map_err(|e| MetricError::linalg("principal angles", e))?;
    let angles: Vec<f64> = cosines.iter().map(|c| c.clamp(-1.0, 1.0).acos()).collect();
    let mean_cos2 = cosines.iter().map(|c| c.min(1.0).powi(2)).sum::<f64>() / angles.len() as f64;
    Ok(SubspaceAngles {
        angles,
        mean_cos2,
        random_mean_cos2: a.ncols().max(b.ncols()) as f64 / ambient as f64,
    })
}

/// Orthonormal basis (coordinates × k) of the top-`k` principal components of a point cloud.
fn principal_basis(points: ArrayView2<f64>, k: usize, what: &str) -> Result<Array2<f64>> {
    top_subspace(points, k, what, Side::Coordinates)
}

/// Which singular vectors of the centred (points × coordinates) matrix span the subspace.
#[derive(Clone, Copy)]
enum Side {
    /// Right: directions in the space of the coordinates (principal components).
    Coordinates,
    /// Left: patterns over the points (stimuli).
    Points,
}

/// Orthonormal basis of the top-`k` singular subspace of the column-centred `x` on `side`,
/// after checking that `x` holds at least `k` non-degenerate directions.
fn top_subspace(x: ArrayView2<f64>, k: usize, what: &str, side: Side) -> Result<Array2<f64>> {
    checks::ensure_min_stimuli(x.nrows(), 2, what)?;
    checks::ensure_finite_2d(x, what)?;
    let rank_bound = (x.nrows() - 1).min(x.ncols());
    if k == 0 || k > rank_bound {
        return Err(MetricError::InvalidOption(format!(
            "{what}: k = {k} components requested, but {} points in {} dimensions span at most {rank_bound}",
            x.nrows(),
            x.ncols()
        )));
    }
    let (u, singular, vt) = thin_svd(x, "top singular subspace")?;
    if singular[k - 1] <= 1e-12 * singular[0] {
        return Err(MetricError::ZeroVariance {
            what: format!("{what} beyond its first {} components", k - 1),
            consequence: format!("its top-{k} subspace is undefined"),
        });
    }
    Ok(match side {
        Side::Points => u
            .expect("asked for left singular vectors")
            .slice(s![.., ..k])
            .to_owned(),
        Side::Coordinates => vt
            .expect("asked for right singular vectors")
            .slice(s![..k, ..])
            .t()
            .to_owned(),
    })
}

/// Alignment of each class manifold of a model with the same class in the brain, compared in
/// the space of the class's stimuli (where both live): principal angles between the top-`k`
/// left singular subspaces of the centred model features and the centred neural responses of
/// the class's stimuli, i.e. whether the two order the within-class variation alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifoldAlignment {
    /// Per class (label order): label and angles.
    pub per_class: Vec<(i64, SubspaceAngles)>,
    /// Mean over classes of `mean_cos2`.
    pub mean_cos2: f64,
    /// Mean over classes of the random baseline.
    pub random_mean_cos2: f64,
}

/// U, the singular values and Vᵀ of a thin SVD.
type ThinSvd = (
    Option<Array2<f64>>,
    ndarray::Array1<f64>,
    Option<Array2<f64>>,
);

/// Thin SVD (divide and conquer) of the column-centred `x`: U (rows × r), the singular values
/// and Vᵀ (r × columns), r = min(rows, columns). A layer of 32,768 units on 500 stimuli needs
/// 500 right singular vectors, not all 32,768 that a full SVD would build.
fn thin_svd(x: ArrayView2<f64>, what: &str) -> Result<ThinSvd> {
    gram::center_columns(x)
        .svddc(JobSvd::Some)
        .map_err(|e| MetricError::linalg(what, e))
}

/// See [`ManifoldAlignment`]; `model` and `brain` are (stimuli × features) and (stimuli ×
/// neuroids) in the same stimulus order, `labels` one class per stimulus, and each class needs
/// more than `k` stimuli.
pub fn class_manifold_alignment(
    model: ArrayView2<f64>,
    brain: ArrayView2<f64>,
    labels: &[i64],
    k: usize,
) -> Result<ManifoldAlignment> {
    checks::ensure_same_stimuli(model.nrows(), brain.nrows())?;
    checks::ensure_same_stimuli(model.nrows(), labels.len())?;
    checks::ensure_min_stimuli(labels.len(), 2, "the labelled representation")?;
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut per_class = vec![];
    for label in classes {
        let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == label).collect();
        let what_model = format!("class {label} of the model");
        let what_brain = format!("class {label} of the brain data");
        // The class's stimuli are the shared space: compare left singular subspaces.
        let model_rows = model.select(Axis(0), &rows);
        let brain_rows = brain.select(Axis(0), &rows);
        let model_basis = top_subspace(model_rows.view(), k, &what_model, Side::Points)?;
        let brain_basis = top_subspace(brain_rows.view(), k, &what_brain, Side::Points)?;
        per_class.push((
            label,
            angles_between(&model_basis, &brain_basis, rows.len() - 1)?,
        ));
    }
    let n = per_class.len() as f64;
    Ok(ManifoldAlignment {
        mean_cos2: per_class.iter().map(|(_, a)| a.mean_cos2).sum::<f64>() / n,
        random_mean_cos2: per_class
            .iter()
            .map(|(_, a)| a.random_mean_cos2)
            .sum::<f64>()
            / n,
        per_class,
    })
}

/// Jacobian–manifold alignment of one layer for each k: the fraction of the squared Frobenius
/// norm of the Jacobian d(output)/d(layer activity) that lies in the top-k principal subspace
/// of the layer's activity, against k / N for a random k-dimensional subspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JacobianAlignment {
    /// The k evaluated.
    pub k: Vec<usize>,
    /// Captured fraction of |J|²_F at each k.
    pub captured: Vec<f64>,
    /// k / N at each k.
    pub random: Vec<f64>,
}

/// See [`JacobianAlignment`]. `activity` is (stimuli × N); `jacobian` stacks the rows of
/// d(output)/d(activity) for every stimulus and output unit ((stimuli·outputs) × N); `ks` the
/// subspace sizes. A k beyond the activity's numerical rank (at most min(stimuli − 1, N)) has
/// no top-k subspace and is left out of the result.
pub fn jacobian_alignment(
    activity: ArrayView2<f64>,
    jacobian: ArrayView2<f64>,
    ks: &[usize],
) -> Result<JacobianAlignment> {
    let n = activity.ncols();
    if jacobian.ncols() != n {
        return Err(MetricError::ShapeMismatch(format!(
            "the Jacobian has {} columns but the layer has {n} units",
            jacobian.ncols()
        )));
    }
    checks::ensure_finite_2d(jacobian, "the Jacobian")?;
    checks::ensure_min_stimuli(activity.nrows(), 2, "the layer's activity")?;
    checks::ensure_finite_2d(activity, "the layer's activity")?;
    let (_, singular, vt) = thin_svd(activity, "principal subspace")?;
    let rank = singular
        .iter()
        .take_while(|&&s| s > 1e-10 * singular[0])
        .count();
    if rank == 0 {
        return Err(MetricError::ZeroVariance {
            what: "the layer's activity".into(),
            consequence: "it has no principal subspace".into(),
        });
    }
    let ks: Vec<usize> = ks
        .iter()
        .copied()
        .filter(|&k| k >= 1 && k <= rank)
        .collect();
    let largest = ks.iter().copied().max().unwrap_or(0);
    let basis = vt
        .expect("asked for right singular vectors")
        .slice(s![..largest, ..])
        .t()
        .to_owned();
    let total: f64 = jacobian.iter().map(|v| v * v).sum();
    if total <= 0.0 {
        return Err(MetricError::ZeroVariance {
            what: "the Jacobian".into(),
            consequence: "its alignment is undefined".into(),
        });
    }
    // Energy of the Jacobian along each principal direction, then cumulative sums.
    let along = jacobian.dot(&basis);
    let per_direction: Vec<f64> = along
        .axis_iter(Axis(1))
        .map(|c| c.dot(&c) / total)
        .collect();
    Ok(JacobianAlignment {
        k: ks.clone(),
        captured: ks
            .iter()
            .map(|&k| per_direction[..k].iter().sum())
            .collect(),
        random: ks.iter().map(|&k| k as f64 / n as f64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn gaussian(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |_| rng.sample(StandardNormal))
    }

    #[test]
    fn angles_of_identical_orthogonal_and_random_subspaces() {
        // Two clouds spanning the same 3-plane in 20 dimensions: angles 0.
        let plane = gaussian(3, 20, 1);
        let a = gaussian(30, 3, 2).dot(&plane);
        let b = gaussian(40, 3, 3).dot(&plane);
        let same = principal_angles(a.view(), b.view(), 3).unwrap();
        assert!(same.angles.iter().all(|&t| t < 1e-6), "{:?}", same.angles);
        assert!((same.mean_cos2 - 1.0).abs() < 1e-10);
        assert!((same.random_mean_cos2 - 3.0 / 20.0).abs() < 1e-12);
        // Clouds on disjoint coordinates: angles π/2.
        let mut c = Array2::zeros((30, 20));
        c.slice_mut(s![.., ..3]).assign(&gaussian(30, 3, 4));
        let mut d = Array2::zeros((30, 20));
        d.slice_mut(s![.., 10..13]).assign(&gaussian(30, 3, 5));
        let orthogonal = principal_angles(c.view(), d.view(), 3).unwrap();
        assert!(orthogonal.mean_cos2 < 1e-20, "{}", orthogonal.mean_cos2);
        // Random 5-dimensional subspaces of a 400-dimensional space: near k/N.
        let mean: f64 = (0..20)
            .map(|s| {
                let e = gaussian(50, 400, 10 + s);
                let f = gaussian(50, 400, 100 + s);
                principal_angles(e.view(), f.view(), 5).unwrap().mean_cos2
            })
            .sum::<f64>()
            / 20.0;
        assert!((mean - 5.0 / 400.0).abs() < 0.006, "{mean}");
        assert!(principal_angles(a.view(), b.view(), 4).is_err());
    }

    #[test]
    fn a_brain_that_is_a_rotation_of_the_model_is_fully_aligned() {
        let model = gaussian(60, 8, 7);
        let rotation = {
            let (q, _) = ndarray_linalg::QR::qr(&gaussian(8, 8, 8)).unwrap();
            q
        };
        let brain = model.dot(&rotation);
        let labels: Vec<i64> = (0..60).map(|i| i % 3).collect();
        let aligned = class_manifold_alignment(model.view(), brain.view(), &labels, 4).unwrap();
        assert!(
            (aligned.mean_cos2 - 1.0).abs() < 1e-9,
            "{}",
            aligned.mean_cos2
        );
        assert_eq!(aligned.per_class.len(), 3);
        let unrelated = gaussian(60, 8, 9);
        let random = class_manifold_alignment(model.view(), unrelated.view(), &labels, 4).unwrap();
        assert!(random.mean_cos2 < 0.6, "{}", random.mean_cos2);
        assert!((random.random_mean_cos2 - 4.0 / 19.0).abs() < 1e-12);
    }

    #[test]
    fn jacobian_in_the_activity_subspace_is_fully_captured() {
        // Activity varies mostly along the first 3 of 12 units.
        let mut activity = gaussian(200, 12, 11) * 0.01;
        activity
            .slice_mut(s![.., ..3])
            .assign(&gaussian(200, 3, 12));
        let mut inside = Array2::zeros((50, 12));
        inside.slice_mut(s![.., ..3]).assign(&gaussian(50, 3, 13));
        let aligned = jacobian_alignment(activity.view(), inside.view(), &[1, 3, 6]).unwrap();
        assert!(aligned.captured[1] > 0.999, "{:?}", aligned.captured);
        assert!(aligned.captured[0] < aligned.captured[1]);
        assert_eq!(aligned.random, vec![1.0 / 12.0, 0.25, 0.5]);
        let mut outside = Array2::zeros((50, 12));
        outside.slice_mut(s![.., 6..]).assign(&gaussian(50, 6, 14));
        let misaligned = jacobian_alignment(activity.view(), outside.view(), &[3]).unwrap();
        assert!(misaligned.captured[0] < 0.01, "{:?}", misaligned.captured);
    }

    #[test]
    fn a_layer_wider_than_its_stimuli_has_its_top_subspace_found() {
        // 40 stimuli in 3000 units (a convolution map on a probe set): the thin SVD keeps 40
        // right singular vectors; the full SVD (the reference here) builds all 3000.
        let plane = gaussian(3, 3000, 21);
        let activity = gaussian(40, 3, 22).dot(&plane) + gaussian(40, 3000, 23) * 1e-3;
        let jacobian = gaussian(25, 3, 24).dot(&plane) + gaussian(25, 3000, 25) * 0.1;
        let aligned = jacobian_alignment(activity.view(), jacobian.view(), &[3, 39, 50]).unwrap();
        assert_eq!(
            aligned.k,
            vec![3, 39],
            "no 50 directions in 40 centred stimuli"
        );
        let (_, _, vt) = gram::center_columns(activity.view())
            .svd(false, true)
            .unwrap();
        let vt = vt.unwrap();
        assert_eq!(vt.nrows(), 3000);
        let total: f64 = jacobian.iter().map(|v| v * v).sum();
        for (&k, &captured) in aligned.k.iter().zip(&aligned.captured) {
            let along = jacobian.dot(&vt.slice(s![..k, ..]).t());
            let reference = along.iter().map(|v| v * v).sum::<f64>() / total;
            assert!(
                (captured - reference).abs() < 1e-10,
                "k = {k}: {captured} vs {reference}"
            );
        }
        assert!(aligned.captured[0] > 0.9, "{:?}", aligned.captured);
        let same = principal_angles(activity.view(), (&activity * 2.0).view(), 3).unwrap();
        assert!((same.mean_cos2 - 1.0).abs() < 1e-9, "{}", same.mean_cos2);
    }
}
