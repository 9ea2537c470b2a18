//! Fashion-MNIST for the training tests, from the Debian package that setup.sh installs.

use brain_data::loaders::fashion_mnist::{Part, load};
use brain_data::{Catalog, DataStore};
use model_zoo::LabelledData;

/// The first `n_train` training and `n_test` test images.
pub fn fashion_mnist(n_train: usize, n_test: usize) -> (LabelledData, LabelledData) {
    let cache = std::env::temp_dir().join("cortexbench-test-unused-cache");
    let store = DataStore::new(cache).offline(true);
    let catalog = Catalog::builtin();
    let train = load(&store, &catalog, Part::Train)
        .expect("Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    let test = load(&store, &catalog, Part::Test).unwrap();
    (
        LabelledData::from_u8_images(&train.images, train.labels)
            .unwrap()
            .head(n_train),
        LabelledData::from_u8_images(&test.images, test.labels)
            .unwrap()
            .head(n_test),
    )
}
