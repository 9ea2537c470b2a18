//! Shared by the tests that read the real data mirror.

use std::path::PathBuf;

use brain_data::DataStore;

/// The shared mirror: `CORTEXBENCH_MIRROR`, else `../shared/brain-data` beside the checkout.
pub fn mirror() -> PathBuf {
    let dir = std::env::var_os("CORTEXBENCH_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/brain-data")
        });
    assert!(
        dir.is_dir(),
        "data mirror not found at {} (set CORTEXBENCH_MIRROR)",
        dir.display()
    );
    dir
}

/// An offline store over the mirror with an empty cache.
pub fn offline_store(cache: &std::path::Path) -> DataStore {
    DataStore::new(cache).with_mirror(mirror()).offline(true)
}
