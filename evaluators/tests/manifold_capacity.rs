//! Mean-field manifold capacity against theory and the reference implementation's example.

use evaluators::{CapacityOptions, manifold_capacity};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn gaussian(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.sample(StandardNormal))
}

/// Gardner's capacity of points at margin κ: 1 / ∫_{−κ}^{∞} (t + κ)² Dt.
fn gardner(kappa: f64) -> f64 {
    let (steps, lo, hi) = (200_000, -kappa, 12.0);
    let h = (hi - lo) / steps as f64;
    let integral: f64 = (0..steps)
        .map(|i| {
            let t = lo + (i as f64 + 0.5) * h;
            (t + kappa).powi(2) * (-t * t / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * h
        })
        .sum();
    1.0 / integral
}

#[test]
fn points_reach_covers_capacity_of_two_and_gardners_at_a_margin() {
    // P random points in N dimensions, one per manifold.
    let (p, n) = (60, 400);
    let x = gaussian(p, n, 1);
    let labels: Vec<i64> = (0..p as i64).collect();
    let options = CapacityOptions {
        n_t: 400,
        ..CapacityOptions::default()
    };
    let result = manifold_capacity(x.view(), &labels, &options).unwrap();
    assert!((result.capacity - 2.0).abs() < 0.08, "{}", result.capacity);
    assert!(result.radius.abs() < 1e-9 && result.dimension.abs() < 1e-9);
    let margin = CapacityOptions {
        kappa: 0.5,
        ..options
    };
    let expected = gardner(0.5);
    let result = manifold_capacity(x.view(), &labels, &margin).unwrap();
    assert!(
        (result.capacity - expected).abs() < 0.05 * expected,
        "{} vs Gardner {expected}",
        result.capacity
    );
}

#[test]
fn gaussian_clouds_reproduce_the_reference_example() {
    // The reference implementation's README: N = 5000, M = 50 points per manifold, P = 100
    // manifolds, κ = 0, n_t = 200 gives capacity 0.04, radius 1.48, dimension 36.17,
    // centre correlation 0.00.
    let (n, m, p) = (5000, 50, 100);
    let x = gaussian(m * p, n, 7);
    let labels: Vec<i64> = (0..(m * p) as i64).map(|i| i / m as i64).collect();
    let result = manifold_capacity(x.view(), &labels, &CapacityOptions::default()).unwrap();
    assert!(
        (result.capacity - 0.04).abs() < 0.004,
        "capacity {}",
        result.capacity
    );
    assert!(
        (result.radius - 1.48).abs() < 0.05,
        "radius {}",
        result.radius
    );
    assert!(
        (result.dimension - 36.17).abs() < 1.5,
        "dimension {}",
        result.dimension
    );
    assert!(
        result.center_correlation < 0.05,
        "{}",
        result.center_correlation
    );
    assert_eq!(result.per_manifold.len(), p);
}

#[test]
fn separated_clusters_have_more_capacity_than_overlapping_ones_and_runs_repeat() {
    // Same within-class spread, centres 3× farther apart: larger capacity, smaller radius.
    let (m, p, n) = (20, 10, 60);
    let spread = gaussian(m * p, n, 3);
    let centres = gaussian(p, n, 4);
    let labels: Vec<i64> = (0..(m * p) as i64).map(|i| i / m as i64).collect();
    let build = |scale: f64| {
        Array2::from_shape_fn((m * p, n), |(i, j)| {
            spread[[i, j]] + scale * centres[[i / m, j]]
        })
    };
    let options = CapacityOptions::default();
    let near = manifold_capacity(build(1.0).view(), &labels, &options).unwrap();
    let far = manifold_capacity(build(3.0).view(), &labels, &options).unwrap();
    assert!(
        far.capacity > near.capacity,
        "{} vs {}",
        far.capacity,
        near.capacity
    );
    assert!(
        far.radius < near.radius,
        "{} vs {}",
        far.radius,
        near.radius
    );
    let again = manifold_capacity(build(1.0).view(), &labels, &options).unwrap();
    assert_eq!(near, again);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let x = gaussian(10, 5, 1);
    let one_class = vec![0i64; 10];
    let message = manifold_capacity(x.view(), &one_class, &CapacityOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("at least 2 classes"), "{message}");
    let labels: Vec<i64> = (0..10).map(|i| i % 2).collect();
    assert!(manifold_capacity(x.view(), &labels[..9], &CapacityOptions::default()).is_err());
    let mut bad = x.clone();
    bad[[3, 2]] = f64::NAN;
    let message = manifold_capacity(bad.view(), &labels, &CapacityOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("non-finite"), "{message}");
    let negative = CapacityOptions {
        kappa: -1.0,
        ..CapacityOptions::default()
    };
    assert!(manifold_capacity(x.view(), &labels, &negative).is_err());
}
