//! Manifold capacity at the size of the reference implementation's example: P = 100 Gaussian
//! manifolds of M = 50 points in N = 5000 dimensions, n_t = 200 (the reference takes ~29 s on
//! these 2 cores: `scripts/bench_mftma_reference.py`; goal: 10× faster).

use criterion::{Criterion, criterion_group, criterion_main};
use evaluators::{CapacityOptions, manifold_capacity};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn benches(c: &mut Criterion) {
    let (p, m, n) = (100, 50, 5000);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Array2::from_shape_fn((p * m, n), |_| rng.sample(StandardNormal));
    let labels: Vec<i64> = (0..(p * m) as i64).map(|i| i / m as i64).collect();
    let mut group = c.benchmark_group("geometry");
    group.sample_size(10);
    group.bench_function("capacity_p100_m50_n5000_nt200", |b| {
        b.iter(|| manifold_capacity(x.view(), &labels, &CapacityOptions::default()).unwrap())
    });
    group.finish();
}

criterion_group!(geometry, benches);
criterion_main!(geometry);
