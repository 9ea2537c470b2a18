//! Training data for the tests: Fashion-MNIST from the Debian package that setup.sh installs,
//! CIFAR-10 from the data mirror. Each test crate uses one of them.

use brain_data::loaders::fashion_mnist::{Part, load};
use brain_data::{Catalog, DataStore};
use model_zoo::LabelledData;

/// The first `n_train` training and `n_test` test images.
#[allow(dead_code)]
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

/// CIFAR-10 from the data mirror (`CORTEXBENCH_MIRROR`, else `../shared/brain-data`),
/// standardised by its training set's channel statistics: the first `n_train` training images
/// of every class and the first `n_test` test images of every class, interleaved by class.
#[allow(dead_code)]
pub fn cifar10(n_train: usize, n_test: usize) -> (LabelledData, LabelledData) {
    use brain_data::loaders::cifar10;
    use model_zoo::ChannelNormalization;
    let mirror = std::env::var_os("CORTEXBENCH_MIRROR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/brain-data")
        });
    let cache = tempfile::tempdir().unwrap();
    let store = DataStore::new(cache.path())
        .with_mirror(mirror)
        .offline(true);
    let data = cifar10::load(&store, &Catalog::builtin()).expect("CIFAR-10 in the data mirror");
    let normalization = ChannelNormalization::measure(data.train.images.view());
    let pick = |part: &cifar10::ColorImages, per_class: usize| {
        let n = part.labels.len() / 10;
        let rows: Vec<usize> = (0..per_class)
            .flat_map(|i| (0..10).map(move |c| c * n + i))
            .collect();
        LabelledData::from_rgb_images(
            part.images.select(ndarray::Axis(0), &rows).view(),
            rows.iter().map(|&r| part.labels[r]).collect(),
            Some(&normalization),
        )
        .unwrap()
    };
    (pick(&data.train, n_train), pick(&data.test, n_test))
}
