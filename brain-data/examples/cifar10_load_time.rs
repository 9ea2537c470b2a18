//! Times loading CIFAR-10 into a fresh cache (verify and decode the 60,000 JPEGs), then again
//! from the decoded cache: `cargo run --release -p brain-data --example cifar10_load_time`
//! (with `CORTEXBENCH_MIRROR` pointing at a mirror).

use std::time::Instant;

use brain_data::loaders::cifar10;
use brain_data::{Catalog, DataStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = std::env::temp_dir().join(format!("cifar10-load-time-{}", std::process::id()));
    let mirror = std::env::var_os("CORTEXBENCH_MIRROR").ok_or("set CORTEXBENCH_MIRROR")?;
    let store = DataStore::new(&cache).with_mirror(mirror).offline(true);
    let catalog = Catalog::builtin();
    let started = Instant::now();
    let first = cifar10::load(&store, &catalog)?;
    let cold = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = cifar10::load(&store, &catalog)?;
    let warm = started.elapsed().as_secs_f64();
    assert_eq!(first, again);
    println!(
        "verify and decode {} images: {cold:.2} s; from the decoded cache: {warm:.2} s",
        first.train.labels.len() + first.test.labels.len()
    );
    std::fs::remove_dir_all(&cache)?;
    Ok(())
}
