//! The shipped benchmark definitions load their real data.

mod common;

use brain_data::{BenchmarkSpec, Catalog, TargetData};

#[test]
fn shipped_benchmarks_parse_and_name_catalog_datasets() {
    let benchmarks = BenchmarkSpec::builtin();
    let ids: Vec<&str> = benchmarks.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "kiani2007.IT-rsa",
            "kriegeskorte2008.hIT-rsa",
            "cowley2023.V4-pls",
            "cowley2023.V4-rsa",
            "cowley2023.V4-cka",
            "tang2018.V1-pls"
        ]
    );
    let catalog = Catalog::builtin();
    for b in &benchmarks {
        assert!(catalog.dataset(&b.dataset).is_ok(), "{}", b.id);
        assert_eq!(b.preprocessing.size, 224);
    }
    let err = BenchmarkSpec::find("majaj2015.IT-pls")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("majaj2015.IT-pls") && err.contains("cowley2023.V4-pls"),
        "{err}"
    );
}

#[test]
fn benchmark_targets_line_up_with_their_stimuli() {
    let cache = tempfile::tempdir().unwrap();
    let (store, catalog) = (common::offline_store(cache.path()), Catalog::builtin());
    for id in ["kriegeskorte2008.hIT-rsa", "cowley2023.V4-pls"] {
        let data = BenchmarkSpec::find(id)
            .unwrap()
            .load(&store, &catalog)
            .unwrap();
        match (id, &data.target) {
            ("kriegeskorte2008.hIT-rsa", TargetData::Rdms(r)) => {
                assert_eq!(r.rdms.len(), 8);
                assert_eq!(data.stimuli.len(), 92);
            }
            ("cowley2023.V4-pls", TargetData::Responses(r)) => {
                assert_eq!(r.responses.dim(), (640, 50, 10));
                assert_eq!(data.stimuli.len(), 640);
            }
            _ => panic!("{id}: unexpected target"),
        }
    }
}
