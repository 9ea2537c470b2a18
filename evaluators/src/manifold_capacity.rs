//! Mean-field theoretic manifold analysis (MFTMA): how many object manifolds a representation
//! can linearly separate, and the geometry that sets that number (Chung, Lee & Sompolinsky
//! 2018, Phys. Rev. X 8:031003; Cohen, Chung, Lee & Sompolinsky 2020, Nat. Commun. 11:746).
//!
//! The points of each class form a manifold. After the centres' shared low-rank structure is
//! projected out ([`crate::center_structure`]), each manifold is centred on its own centre,
//! scaled so that its centre has norm 1, and written in the (D + 1)-dimensional space of its
//! points plus a centre coordinate: s̃ = (s, 1). For Gaussian vectors t in that space the
//! anchor point s̃(t) is the convex combination of the points that solves
//!
//! ```text
//!     min_v ½|v − t|²  subject to  v·s̃ⱼ ≤ −κ for every point j,
//! ```
//!
//! s̃(t) = (t − v*) / Σⱼ αⱼ with α the constraints' multipliers. Two cases have closed forms:
//! interior (t itself is feasible; s̃ is the point of largest projection) and touching (only
//! that point's constraint is active). Otherwise the QP's dual, min over α ≥ 0 of
//! ½|S̃ᵀα|² − αᵀ(S̃t + κ), is solved exactly by the Lawson–Hanson active-set method
//! ([`crate::nonnegative_qp`]), with t − v* = S̃ᵀα and Σⱼ αⱼ its centre coordinate; a solution
//! that fails the primal feasibility check goes to the Clarabel interior-point solver instead,
//! which keeps one solver per manifold and updates its linear term per sample. Manifolds run
//! in parallel. From the anchors (PRX 2018, eqs. 16–17, 28–29):
//! capacity α_M = 1 / ⟨[t·s̃ + κ]₊² / |s̃|²⟩_t, radius R_M = √⟨|δs|²⟩ with δs the anchor's
//! deviation from its mean divided by its centre coordinate, and dimension
//! D_M = D ⟨t̂·ŝ⟩²_t over the D manifold coordinates. The capacity of the whole set is the
//! inverse mean of the manifolds' inverse capacities; radius and dimension are plain means.

use clarabel::algebra::CscMatrix;
use clarabel::solver::{
    DefaultSettingsBuilder, DefaultSolver, IPSolver, SolverStatus, SupportedConeT,
};
use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use ndarray_linalg::QR;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::center_structure::center_structure;
use crate::checks;
use crate::error::{MetricError, Result};
use crate::nonnegative_qp::solve_nonnegative_qp;

/// Options of [`manifold_capacity`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapacityOptions {
    /// Margin κ (0: plain linear separability).
    pub kappa: f64,
    /// Gaussian samples t per manifold.
    pub n_t: usize,
    /// Random restarts per rank when searching the centres' low-rank structure.
    pub restarts: usize,
    /// Seed of the samples and restarts.
    pub seed: u64,
}

impl Default for CapacityOptions {
    /// κ = 0, n_t = 200 and 10 restarts, as the reference code.
    fn default() -> Self {
        Self {
            kappa: 0.0,
            n_t: 200,
            restarts: 10,
            seed: 1,
        }
    }
}

/// Capacity, radius and dimension of one manifold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ManifoldGeometry {
    /// The manifold's label.
    pub label: i64,
    /// Capacity α_M.
    pub capacity: f64,
    /// Anchor radius R_M (in units of the centre norm).
    pub radius: f64,
    /// Anchor dimension D_M.
    pub dimension: f64,
}

/// Result of [`manifold_capacity`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifoldCapacity {
    /// Capacity of the set: 1 / mean(1 / α_M).
    pub capacity: f64,
    /// Mean anchor radius.
    pub radius: f64,
    /// Mean anchor dimension.
    pub dimension: f64,
    /// Mean absolute correlation between manifold centres (before the low-rank structure is
    /// removed, as the reference code reports it).
    pub center_correlation: f64,
    /// The same after the low-rank structure is projected out.
    pub residual_center_correlation: f64,
    /// Rank of the centres' structure that was projected out.
    pub center_rank: usize,
    /// Per manifold, in label order.
    pub per_manifold: Vec<ManifoldGeometry>,
    /// Quadratic programs solved (samples whose t was already feasible need none).
    pub quadratic_programs: usize,
}

/// Manifold capacity of the classes of `x` (stimuli × features), one manifold per distinct
/// label (at least 2). A single-point manifold is a point: capacity 2 at κ = 0 (Cover).
pub fn manifold_capacity(
    x: ArrayView2<f64>,
    labels: &[i64],
    options: &CapacityOptions,
) -> Result<ManifoldCapacity> {
    let manifolds = group_by_label(x, labels)?;
    if !(options.kappa >= 0.0 && options.kappa.is_finite()) {
        return Err(MetricError::InvalidOption(format!(
            "the margin kappa must be finite and at least 0, not {}",
            options.kappa
        )));
    }
    if options.n_t < 2 {
        return Err(MetricError::InvalidOption(
            "manifold capacity needs at least 2 samples n_t".into(),
        ));
    }
    // Everything below runs its own threads over small products.
    let _blas = crate::linalg::SingleThreadedBlas::new();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let origin = x.mean_axis(Axis(0)).expect("stimuli checked");
    let centers = Array2::from_shape_fn((manifolds.len(), x.ncols()), |(i, j)| {
        manifolds[i].1.column(j).mean().expect("points checked")
    });
    let structure = center_structure(centers.view(), options.restarts, &mut rng)?;
    let basis = &structure.basis;

    // Manifolds are independent (each has its own sample stream): spread them over the
    // machine's cores, interleaved, and put the results back in label order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(manifolds.len());
    let origin = origin.view();
    let outcomes: Vec<Vec<IndexedOutcome>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                let manifolds = &manifolds;
                scope.spawn(move || {
                    (worker..manifolds.len())
                        .step_by(threads)
                        .map(|index| {
                            let (label, points) = &manifolds[index];
                            let outcome =
                                one_manifold(index, *label, points, origin, basis, options);
                            (index, outcome)
                        })
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("manifold worker panicked"))
            .collect()
    });
    let mut ordered: Vec<IndexedOutcome> = outcomes.into_iter().flatten().collect();
    ordered.sort_by_key(|(index, _)| *index);
    let mut per_manifold = Vec::with_capacity(manifolds.len());
    let mut quadratic_programs = 0;
    for (_, outcome) in ordered {
        let (geometry, solved) = outcome?;
        quadratic_programs += solved;
        per_manifold.push(geometry);
    }
    let p = per_manifold.len() as f64;
    Ok(ManifoldCapacity {
        capacity: p / per_manifold.iter().map(|m| 1.0 / m.capacity).sum::<f64>(),
        radius: per_manifold.iter().map(|m| m.radius).sum::<f64>() / p,
        dimension: per_manifold.iter().map(|m| m.dimension).sum::<f64>() / p,
        center_correlation: structure.correlation_before,
        residual_center_correlation: structure.correlation_after,
        center_rank: basis.ncols(),
        per_manifold,
        quadratic_programs,
    })
}

/// A manifold's index and its geometry with the QPs it took.
type IndexedOutcome = (usize, Result<(ManifoldGeometry, usize)>);

/// Geometry of manifold `index` (points × features) and the QPs it took: centred on the
/// global mean, the centres' structure projected out, then centred on its own centre, scaled
/// to unit centre norm, and written in the coordinates of its own span.
fn one_manifold(
    index: usize,
    label: i64,
    points: &Array2<f64>,
    origin: ndarray::ArrayView1<f64>,
    basis: &Array2<f64>,
    options: &CapacityOptions,
) -> Result<(ManifoldGeometry, usize)> {
    let shifted = points - &origin.insert_axis(Axis(0));
    let projected = &shifted - &shifted.dot(basis).dot(&basis.t());
    let center = projected.mean_axis(Axis(0)).expect("points checked");
    let norm = center.dot(&center).sqrt();
    if norm
        <= 1e-12
            * shifted
                .iter()
                .map(|v| v.abs())
                .fold(0.0, f64::max)
                .max(1e-300)
    {
        return Err(MetricError::ZeroVariance {
            what: format!(
                "the centre of manifold {label} (it lies on the others' common structure)"
            ),
            consequence: "its capacity is undefined".into(),
        });
    }
    let deviations = (&projected - &center.insert_axis(Axis(0))) / norm;
    // The points' coordinates in their own span (points × min(points, features)): with
    // deviationsᵀ = Q R, the points are the columns of R.
    let coordinates = if deviations.ncols() > deviations.nrows() {
        let (_, r) = deviations
            .t()
            .to_owned()
            .qr()
            .map_err(|e| MetricError::linalg("MFTMA", e))?;
        r.reversed_axes()
    } else {
        deviations
    };
    let mut sample_rng = ChaCha8Rng::seed_from_u64(options.seed);
    sample_rng.set_stream(index as u64 + 1);
    let (geometry, solved) = analyse_manifold(&coordinates, options, &mut sample_rng)?;
    Ok((ManifoldGeometry { label, ..geometry }, solved))
}

/// The points of each label (sorted by label), checked.
fn group_by_label<'a>(x: ArrayView2<'a, f64>, labels: &[i64]) -> Result<Vec<(i64, Array2<f64>)>> {
    checks::ensure_same_stimuli(x.nrows(), labels.len())?;
    checks::ensure_has_features(x.ncols(), "x")?;
    checks::ensure_finite_2d(x, "x")?;
    let mut distinct: Vec<i64> = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(MetricError::InvalidOption(format!(
            "manifold capacity needs at least 2 classes, got {}",
            distinct.len()
        )));
    }
    distinct
        .into_iter()
        .map(|label| {
            let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == label).collect();
            Ok((label, x.select(Axis(0), &rows)))
        })
        .collect()
}

/// Capacity, radius and dimension of one manifold given as `coordinates` (points × D), and
/// the number of quadratic programs solved.
fn analyse_manifold(
    coordinates: &Array2<f64>,
    options: &CapacityOptions,
    rng: &mut ChaCha8Rng,
) -> Result<(ManifoldGeometry, usize)> {
    let (m, d) = coordinates.dim();
    let kappa = options.kappa;
    // Points with the centre coordinate appended: m × (D + 1).
    let points = concatenate![Axis(1), coordinates.view(), Array2::ones((m, 1)).view()];
    let samples = Array2::from_shape_fn((options.n_t, d + 1), |_| rng.sample(StandardNormal));
    let gram = points.dot(&points.t());
    let mut anchors = Array2::<f64>::zeros((options.n_t, d + 1));
    let mut solver: Option<DefaultSolver<f64>> = None;
    let mut solved = 0;
    for (i, t) in samples.axis_iter(Axis(0)).enumerate() {
        // The point with the largest projection on t (over the manifold coordinates).
        let projections = coordinates.dot(&t.slice(ndarray::s![..d]));
        let best = projections
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(j, _)| j)
            .expect("points checked");
        let farthest = points.row(best);
        let overlap = t.dot(&farthest) + kappa;
        if overlap < 0.0 {
            anchors.row_mut(i).assign(&farthest); // interior: t is feasible, v = t
            continue;
        }
        // Touching: v = t − λ s̃₀ with the single constraint of the farthest point active
        // satisfies every KKT condition when it is feasible, so it is the optimum.
        let lambda = overlap / farthest.dot(&farthest);
        let touching = &t - &(&farthest * lambda);
        let tolerance = 1e-10 * (1.0 + t.dot(&t).sqrt());
        if points
            .dot(&touching)
            .iter()
            .all(|&c| c + kappa <= tolerance)
        {
            anchors.row_mut(i).assign(&farthest);
            continue;
        }
        // Dual linear term −(S̃ t + κ).
        let q: Vec<f64> = points.dot(&t).iter().map(|v| -(v + kappa)).collect();
        solved += 1;
        let alpha = match solve_nonnegative_qp(&gram, &q)
            .map(Array1::from)
            .filter(|alpha| anchor_is_feasible(&points, t, alpha, kappa, tolerance))
        {
            Some(alpha) => alpha,
            None => solve_with_clarabel(&gram, &q, &mut solver)?,
        };
        // t − v* = S̃ᵀ α, and Σα is its centre coordinate (every s̃ⱼ has a 1 there).
        let gap = points.t().dot(&alpha);
        if gap.dot(&gap).sqrt() < 1e-8 || gap[d] <= 0.0 {
            anchors.row_mut(i).assign(&farthest);
        } else {
            let scale = gap[d];
            anchors.row_mut(i).assign(&(gap / scale));
        }
    }

    // Capacity (PRX 2018 eqs. 16–17).
    let mut inverse_capacity = 0.0;
    for (t, s) in samples.axis_iter(Axis(0)).zip(anchors.axis_iter(Axis(0))) {
        let s2 = s.dot(&s);
        let margin = (t.dot(&s) + kappa).max(0.0);
        if s2 > 0.0 {
            inverse_capacity += margin * margin / s2;
        }
    }
    let capacity = options.n_t as f64 / inverse_capacity;
    // Radius (eq. 28): deviations from the mean anchor, over the centre coordinate.
    let mean_anchor = anchors.mean_axis(Axis(0)).expect("samples");
    let radius2 = anchors
        .axis_iter(Axis(0))
        .map(|s| {
            let scale = s[d];
            (0..d)
                .map(|k| ((s[k] - mean_anchor[k]) / scale).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / options.n_t as f64;
    // Dimension (eq. 29).
    let mean_cos = samples
        .axis_iter(Axis(0))
        .zip(anchors.axis_iter(Axis(0)))
        .map(|(t, s)| {
            let (t, s) = (t.slice(ndarray::s![..d]), s.slice(ndarray::s![..d]));
            t.dot(&s) / (t.dot(&t).sqrt() * (s.dot(&s) + 1e-12).sqrt())
        })
        .sum::<f64>()
        / options.n_t as f64;
    Ok((
        ManifoldGeometry {
            label: 0,
            capacity,
            radius: radius2.sqrt(),
            dimension: d as f64 * mean_cos * mean_cos,
        },
        solved,
    ))
}

/// Whether v = t − S̃ᵀα satisfies every constraint s̃ⱼ·v ≤ −κ (the active-set solution is
/// otherwise optimal by construction; this guards against rounding in an ill-conditioned G).
fn anchor_is_feasible(
    points: &Array2<f64>,
    t: ndarray::ArrayView1<f64>,
    alpha: &Array1<f64>,
    kappa: f64,
    tolerance: f64,
) -> bool {
    let v = &t - &points.t().dot(alpha);
    points.dot(&v).iter().all(|&c| c + kappa <= tolerance)
}

/// The dual solved by Clarabel's interior-point method (the fallback when the active-set
/// solution fails its check): `solver` keeps one solver per manifold whose linear term is
/// updated per sample; a QP the fast settings do not settle is solved again with a fresh,
/// fully equilibrated and refined solver.
fn solve_with_clarabel(
    gram: &Array2<f64>,
    q: &[f64],
    solver: &mut Option<DefaultSolver<f64>>,
) -> Result<Array1<f64>> {
    let solver = match solver {
        Some(existing) => {
            existing
                .update_q(&q.to_vec())
                .map_err(|e| MetricError::linalg("MFTMA anchor QP", e))?;
            existing
        }
        None => solver.insert(new_anchor_solver(gram, q, false)?),
    };
    solver.solve();
    let mut retry = None;
    if !solved_well(solver.solution.status) {
        let mut fresh = new_anchor_solver(gram, q, true)?;
        fresh.solve();
        retry = Some(fresh);
    }
    let solution = match &retry {
        Some(fresh) => &fresh.solution,
        None => &solver.solution,
    };
    if !solved_well(solution.status) {
        return Err(MetricError::Linalg {
            what: "MFTMA anchor QP".into(),
            message: format!("Clarabel stopped with status {:?}", solution.status),
        });
    }
    Ok(Array1::from(solution.x.clone()).mapv(|a| a.max(0.0)))
}

fn solved_well(status: SolverStatus) -> bool {
    matches!(status, SolverStatus::Solved | SolverStatus::AlmostSolved)
}

/// A Clarabel solver for the anchor QP's dual, min ½ αᵀ G α + qᵀα subject to α ≥ 0, with
/// G = S̃ S̃ᵀ the points' Gram matrix (its KKT system is half the size of the primal's).
fn new_anchor_solver(gram: &Array2<f64>, q: &[f64], robust: bool) -> Result<DefaultSolver<f64>> {
    let m = gram.nrows();
    // Upper triangle of G in compressed-column form, explicit zeros kept so that the
    // pattern is fixed.
    let mut colptr = Vec::with_capacity(m + 1);
    let mut rowval = Vec::with_capacity(m * (m + 1) / 2);
    let mut nzval = Vec::with_capacity(m * (m + 1) / 2);
    colptr.push(0);
    for j in 0..m {
        for i in 0..=j {
            rowval.push(i);
            nzval.push(gram[[i, j]]);
        }
        colptr.push(rowval.len());
    }
    let objective = CscMatrix::new(m, m, colptr, rowval, nzval);
    let nonnegative = CscMatrix::new(m, m, (0..=m).collect(), (0..m).collect(), vec![-1.0; m]);
    let b = vec![0.0; m];
    let cones = [SupportedConeT::NonnegativeConeT(m)];
    let settings = DefaultSettingsBuilder::default()
        .verbose(false)
        .presolve_enable(false)
        .max_iter(if robust { 2000 } else { 200 })
        // Iterative refinement (a quarter of the time) and equilibration (the points are
        // already scaled to unit centre norm) change no reported digit at the default 1e-8
        // tolerances on the reference example; both are off except when retrying a QP the
        // fast settings did not settle.
        .iterative_refinement_enable(robust)
        .equilibrate_enable(robust)
        .build()
        .map_err(|e| MetricError::linalg("MFTMA anchor QP settings", e))?;
    DefaultSolver::new(&objective, q, &nonnegative, &b, &cones, settings)
        .map_err(|e| MetricError::linalg("MFTMA anchor QP", format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Axis, concatenate};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::{anchor_is_feasible, solve_nonnegative_qp, solve_with_clarabel};

    #[test]
    fn active_set_anchors_equal_the_interior_point_solvers() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // (points, manifold coordinates, margin): more coordinates than points and fewer.
        for (m, d, kappa) in [(20, 19, 0.0), (20, 19, 0.5), (40, 6, 0.0), (40, 6, 0.2)] {
            let coordinates: Array2<f64> =
                Array2::from_shape_fn((m, d), |_| rng.sample(StandardNormal));
            let points = concatenate![Axis(1), coordinates, Array2::ones((m, 1))];
            let gram = points.dot(&points.t());
            let mut clarabel = None;
            for _ in 0..50 {
                let t: ndarray::Array1<f64> =
                    ndarray::Array1::from_shape_fn(d + 1, |_| rng.sample(StandardNormal));
                let q: Vec<f64> = points.dot(&t).iter().map(|v| -(v + kappa)).collect();
                let exact = ndarray::Array1::from(solve_nonnegative_qp(&gram, &q).unwrap());
                assert!(anchor_is_feasible(&points, t.view(), &exact, kappa, 1e-10));
                let interior = solve_with_clarabel(&gram, &q, &mut clarabel).unwrap();
                // The exact solution is never worse in the objective than Clarabel's (good to
                // its 1e-8 tolerances); t − v* = S̃ᵀα, unique even where α is not, agrees to
                // what those tolerances allow where the objective is flat (~1e-5).
                let (a, b) = (points.t().dot(&exact), points.t().dot(&interior));
                let difference = (&a - &b).iter().map(|v| v.abs()).fold(0.0, f64::max);
                let objective = |alpha: &ndarray::Array1<f64>| {
                    0.5 * alpha.dot(&gram.dot(alpha))
                        + alpha.iter().zip(&q).map(|(a, q)| a * q).sum::<f64>()
                };
                assert!(objective(&exact) <= objective(&interior) + 1e-12 * (1.0 + t.dot(&t)));
                assert!(difference < 1e-4, "m {m} d {d} κ {kappa}: {difference}");
            }
        }
    }
}
