//! Times manifold capacity on random Gaussian point clouds:
//! `cargo run --release -p evaluators --example capacity_timing -- [P] [M] [N] [n_t]`
//! (default: the reference implementation's example, P = 100, M = 50, N = 5000, n_t = 200).

use std::time::Instant;

use evaluators::{CapacityOptions, manifold_capacity};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("integer arguments: P M N n_t"))
        .collect();
    let get = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (p, m, n, n_t) = (get(0, 100), get(1, 50), get(2, 5000), get(3, 200));
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Array2::from_shape_fn((p * m, n), |_| rng.sample(StandardNormal));
    let labels: Vec<i64> = (0..(p * m) as i64).map(|i| i / m as i64).collect();
    let options = CapacityOptions {
        n_t,
        ..CapacityOptions::default()
    };
    let started = Instant::now();
    let result = manifold_capacity(x.view(), &labels, &options).expect("capacity");
    println!(
        "P {p} M {m} N {n} n_t {n_t}: {:.2} s; capacity {:.4} radius {:.3} dimension {:.2} centre correlation {:.3} ({} QPs)",
        started.elapsed().as_secs_f64(),
        result.capacity,
        result.radius,
        result.dimension,
        result.center_correlation,
        result.quadratic_programs
    );
}
