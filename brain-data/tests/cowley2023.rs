//! Cowley et al. 2023 V4 data from the real mirror.

mod common;

use brain_data::Catalog;
use brain_data::loaders::cowley2023 as v4;
use image::GenericImageView;

#[test]
fn twelve_sessions_have_images_and_210325_has_raw_repeats() {
    let catalog = Catalog::builtin();
    let sessions = v4::sessions_with_images(&catalog).unwrap();
    assert_eq!(
        sessions,
        [
            "190923", "190925", "190927", "190928", "190929", "201025", "210224", "210225",
            "210305", "210322", "210325", "210621"
        ]
    );
    assert_eq!(
        v4::sessions_with_repeats(&catalog).unwrap(),
        ["201016", "210325"]
    );
}

#[test]
fn session_210325_has_50_neurons_640_images_and_up_to_10_nan_padded_repeats() {
    let cache = tempfile::tempdir().unwrap();
    let (store, catalog) = (common::offline_store(cache.path()), Catalog::builtin());
    let raw = v4::responses(&store, &catalog, "210325", true).unwrap();
    assert_eq!(raw.responses.dim(), (640, 50, 10));
    assert_eq!(raw.neuroids[0].region, "V4");
    assert_eq!(raw.neuroids[0].animal.as_deref(), Some("PE"));
    // Repeats per image, as numpy counts them: 6 (36 images), 7 (261), 8 (294), 9 (45), 10 (4).
    let reps = raw.repetitions_per_stimulus();
    let histogram: Vec<usize> = (6..=10)
        .map(|k| reps.iter().filter(|&&r| r == k).count())
        .collect();
    assert_eq!(histogram, [36, 261, 294, 45, 4]);
    assert_eq!(raw.responses.iter().filter(|v| v.is_nan()).count(), 78_000);
    // The repeat-averaged file is the mean of the recorded repeats.
    let averaged = v4::responses(&store, &catalog, "210325", false).unwrap();
    assert_eq!(averaged.responses.dim(), (640, 50, 1));
    let mean = raw.mean_over_repetitions();
    let worst = mean
        .iter()
        .zip(averaged.responses.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst < 1e-12, "{worst}");
    assert_eq!(raw.stimulus_ids, averaged.stimulus_ids);
}

#[test]
fn images_are_read_in_place_from_the_zip_in_name_order() {
    let cache = tempfile::tempdir().unwrap();
    let (store, catalog) = (common::offline_store(cache.path()), Catalog::builtin());
    let set = v4::stimuli(&store, &catalog, "210325").unwrap();
    assert_eq!(set.len(), 640);
    assert_eq!(set.ids[0], "210325/image0001.jpg");
    assert_eq!(set.ids[639], "210325/image0640.jpg");
    assert!(set.images.iter().all(|im| im.dimensions() == (112, 112)));
    let responses = v4::responses(&store, &catalog, "210325", true).unwrap();
    assert_eq!(responses.stimulus_ids, set.ids);
}
