//! Times manifold capacity on random Gaussian point clouds, once per sampling seed:
//! `cargo run --release -p evaluators --example capacity_timing -- [P] [M] [N] [n_t] [seeds]`
//! (default: the reference implementation's example, P = 100, M = 50, N = 5000, n_t = 200, and
//! seeds 1..=3).
//!
//! The point clouds are written to `target/bench-data/mftma_x_P{P}_M{M}_N{N}.npy` (rows
//! grouped by manifold, M rows each) so that `scripts/bench_mftma_reference.py` runs the
//! reference implementation on the same data.

use std::path::PathBuf;
use std::time::Instant;

use evaluators::{CapacityOptions, manifold_capacity};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("integer arguments: P M N n_t seeds"))
        .collect();
    let get = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let (p, m, n, n_t, seeds) = (
        get(0, 100),
        get(1, 50),
        get(2, 5000),
        get(3, 200),
        get(4, 3),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Array2::from_shape_fn((p * m, n), |_| rng.sample(StandardNormal));
    let labels: Vec<i64> = (0..(p * m) as i64).map(|i| i / m as i64).collect();
    write_data(&x, p, m, n);
    let mut totals = [0.0; 5];
    for seed in 1..=seeds as u64 {
        let options = CapacityOptions {
            n_t,
            seed,
            ..CapacityOptions::default()
        };
        let started = Instant::now();
        let result = manifold_capacity(x.view(), &labels, &options).expect("capacity");
        let seconds = started.elapsed().as_secs_f64();
        let numbers = [
            seconds,
            result.capacity,
            result.radius,
            result.dimension,
            result.center_correlation,
        ];
        println!(
            "P {p} M {m} N {n} n_t {n_t} seed {seed}: {seconds:.2} s; capacity {:.5} radius {:.4} dimension {:.2} centre correlation {:.6} ({} QPs)",
            numbers[1], numbers[2], numbers[3], numbers[4], result.quadratic_programs
        );
        for (total, value) in totals.iter_mut().zip(numbers) {
            *total += value / seeds as f64;
        }
    }
    println!(
        "mean over {seeds} seeds: {:.2} s; capacity {:.5} radius {:.4} dimension {:.2} centre correlation {:.6}",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    );
}

/// Writes the point clouds for the reference script, once per size.
fn write_data(x: &Array2<f64>, p: usize, m: usize, n: usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    let path = dir.join(format!("mftma_x_P{p}_M{m}_N{n}.npy"));
    if path.exists() {
        return;
    }
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let partial = path.with_extension("npy.partial");
    ndarray_npy::write_npy(&partial, x).expect("write the point clouds");
    std::fs::rename(&partial, &path).expect("move the point clouds into place");
}
