//! The 92-image dataset loaded from the real mirror: shapes, pixels and RDM facts.

mod common;

use brain_data::Catalog;
use brain_data::loaders::kriegeskorte2008 as k92;
use evaluators::{CompareMethod, Rdm, compare_rdms};
use image::GenericImageView;

fn rdm(values: &[f64]) -> Rdm {
    Rdm::from_condensed(ndarray::Array1::from(values.to_vec())).unwrap()
}

#[test]
fn stimuli_are_92_rgb_photos_175_pixels_square_with_categories() {
    let cache = tempfile::tempdir().unwrap();
    let set = k92::stimuli(&common::offline_store(cache.path()), &Catalog::builtin()).unwrap();
    assert_eq!(set.len(), 92);
    assert!(
        set.images
            .iter()
            .all(|im| im.dimensions() == (175, 175) && im.color() == image::ColorType::Rgb8)
    );
    // Pixel values as scipy.io.loadmat reads them: image 11 at row 87, column 40 and row 30, column 120.
    let im = set.images[10].to_rgb8();
    assert_eq!(im.get_pixel(40, 87).0, [246, 182, 151]);
    assert_eq!(im.get_pixel(120, 30).0, [163, 100, 83]);
    let categories = set.categories.as_ref().unwrap();
    assert_eq!(categories[10], "human bodypart");
    assert_eq!(categories[91], "artificial inanimate");
    assert_eq!(set.ids[0], "k92-001");
}

#[test]
fn monkey_it_rdm_correlates_with_human_it_as_published() {
    let cache = tempfile::tempdir().unwrap();
    let (store, catalog) = (common::offline_store(cache.path()), Catalog::builtin());
    let monkey = k92::monkey_it_rdm(&store, &catalog).unwrap();
    assert_eq!(monkey.rdms.len(), 1);
    assert_eq!(monkey.rdms[0].condensed.len(), 4186);
    let human = k92::human_it_group_rdm(&store, &catalog).unwrap();
    let r = compare_rdms(
        &rdm(&monkey.rdms[0].condensed),
        &rdm(&human.rdms[0].condensed),
        CompareMethod::Spearman,
    )
    .unwrap();
    // Kriegeskorte et al. 2008: monkey and human IT RDMs correlate; scipy gives 0.43892.
    assert!((r - 0.43892).abs() < 1e-4, "{r}");
}

#[test]
fn human_it_has_four_subjects_by_two_sessions() {
    let cache = tempfile::tempdir().unwrap();
    let subjects =
        k92::human_it_rdms(&common::offline_store(cache.path()), &Catalog::builtin()).unwrap();
    assert_eq!(subjects.rdms.len(), 8);
    assert_eq!(subjects.rdms[0].subject, "BE");
    assert_eq!(subjects.rdms[0].session.as_deref(), Some("1"));
    assert_eq!(subjects.rdms[7].subject, "TI");
    assert_eq!(subjects.rdms[7].session.as_deref(), Some("2"));
    let names: std::collections::BTreeSet<&str> =
        subjects.rdms.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(names.len(), 4);
    // The Fig. 1 group RDM is the mean of these eight (same Spearman with the monkey RDM).
    let n = subjects.rdms[0].condensed.len();
    let mean: Vec<f64> = (0..n)
        .map(|k| subjects.rdms.iter().map(|r| r.condensed[k]).sum::<f64>() / 8.0)
        .collect();
    let monkey =
        k92::monkey_it_rdm(&common::offline_store(cache.path()), &Catalog::builtin()).unwrap();
    let r = compare_rdms(
        &rdm(&monkey.rdms[0].condensed),
        &rdm(&mean),
        CompareMethod::Spearman,
    )
    .unwrap();
    assert!((r - 0.438924).abs() < 1e-5, "{r}");
}

#[test]
fn a_truncated_mat_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::mirror().join("kriegeskorte2008-92images/92_brainRDMs.mat");
    let bytes = std::fs::read(source).unwrap();
    let path = dir.path().join("cut.mat");
    let err = brain_data::matv5::MatFile::parse(&bytes[..bytes.len() / 2], &path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cut.mat") && err.contains("not a readable MAT-file"),
        "{err}"
    );
    let err = brain_data::matv5::MatFile::parse(b"hello", &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("128-byte header"), "{err}");
}
