//! Tang et al. 2018 V1 data from the real mirror.

mod common;

use brain_data::Catalog;
use brain_data::loaders::tang2018 as v1;
use image::GenericImageView;

#[test]
fn four_v1_neurons_respond_to_9500_binary_patterns() {
    let cache = tempfile::tempdir().unwrap();
    let (store, catalog) = (common::offline_store(cache.path()), Catalog::builtin());
    let responses = v1::responses(&store, &catalog).unwrap();
    assert_eq!(responses.responses.dim(), (9500, 4, 1));
    // numpy: neu75.npy starts 0.11872376, -0.03487218 and has mean 0.0493355.
    assert!((responses.responses[[0, 0, 0]] - 0.11872376).abs() < 1e-8);
    assert!((responses.responses[[1, 0, 0]] + 0.03487218).abs() < 1e-8);
    let mean = responses
        .responses
        .index_axis(ndarray::Axis(1), 0)
        .mean()
        .unwrap();
    assert!((mean - 0.04933553).abs() < 1e-8, "{mean}");

    let stimuli = v1::stimuli(&store, &catalog).unwrap();
    assert_eq!(stimuli.len(), 9500);
    assert_eq!(stimuli.ids, responses.stimulus_ids);
    assert!(
        stimuli
            .images
            .iter()
            .all(|im| im.dimensions() == (160, 160))
    );
    // PIL: 1.png has 16614 white pixels, 9500.png has 25233; white reads as 255.
    let white = |i: usize| {
        stimuli.images[i]
            .to_luma8()
            .pixels()
            .filter(|p| p.0[0] == 255)
            .count()
    };
    assert_eq!(white(0), 16614);
    assert_eq!(white(9499), 25233);
    assert!(
        stimuli.images[0]
            .to_luma8()
            .pixels()
            .all(|p| p.0[0] == 0 || p.0[0] == 255)
    );
}
