//! The shipped catalog against the real mirror of the upstream files.

mod common;

use brain_data::Catalog;

#[test]
fn mirror_holds_exactly_the_pinned_files() {
    let cache = tempfile::tempdir().unwrap();
    let store = common::offline_store(cache.path());
    let catalog = Catalog::builtin();
    for id in ["kriegeskorte2008-92images", "cowley2023-v4", "tang2018-v1"] {
        let dataset = catalog.dataset(id).unwrap();
        let summary = store.fetch(dataset).unwrap();
        assert_eq!(summary.mirror, dataset.files.len(), "{id}");
    }
    // Nothing was copied: mirror files are used in place.
    assert!(!cache.path().join("datasets").exists());
}
