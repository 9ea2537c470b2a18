//! Fashion-MNIST from the Debian package (installed by setup.sh).

use brain_data::loaders::fashion_mnist::{Part, load};
use brain_data::{Catalog, DataStore};

#[test]
fn fashion_mnist_has_60000_training_and_10000_test_images_in_balanced_classes() {
    let cache = tempfile::tempdir().unwrap();
    let store = DataStore::new(cache.path()).offline(true);
    let catalog = Catalog::builtin();
    let train = load(&store, &catalog, Part::Train).unwrap();
    assert_eq!(train.images.dim(), (60_000, 28, 28));
    let test = load(&store, &catalog, Part::Test).unwrap();
    assert_eq!(test.images.dim(), (10_000, 28, 28));
    for (part, per_class) in [(&train, 6000), (&test, 1000)] {
        let mut counts = [0; 10];
        part.labels.iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [per_class; 10]);
    }
    // The first training image of the IDX file is an ankle boot (label 9).
    assert_eq!(train.labels[0], 9);
    assert!(train.images.iter().any(|&p| p == 255));
}
