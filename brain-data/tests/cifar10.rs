//! CIFAR-10 from the mirror: the published split, class balance, checksum failures, and the
//! decoded cache.

mod common;

use std::path::Path;

use brain_data::Catalog;
use brain_data::loaders::cifar10::{self, CLASSES};

fn class_counts(labels: &[u8]) -> [usize; 10] {
    let mut counts = [0; 10];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    counts
}

#[test]
fn cifar10_has_the_published_split_in_balanced_classes_and_reloads_from_its_decoded_cache() {
    let cache = tempfile::tempdir().unwrap();
    let store = common::offline_store(cache.path());
    let catalog = Catalog::builtin();
    let data = cifar10::load(&store, &catalog).unwrap();
    assert_eq!(data.train.images.dim(), (50_000, 32, 32, 3));
    assert_eq!(data.test.images.dim(), (10_000, 32, 32, 3));
    assert_eq!(class_counts(&data.train.labels), [5000; 10]);
    assert_eq!(class_counts(&data.test.labels), [1000; 10]);
    // Files are read class by class, in CIFAR-10's label order.
    assert_eq!(data.train.labels[0], 0);
    assert_eq!(data.train.labels[49_999], 9);
    assert_eq!(CLASSES[9], "truck");

    // The training set's channel statistics are CIFAR-10's published ones (0.4914, 0.4822,
    // 0.4465; 0.2470, 0.2435, 0.2616), up to what JPEG at quality 75 changes.
    let (mut sum, mut squares) = ([0u64; 3], [0u64; 3]);
    for pixel in data.train.images.as_slice().unwrap().chunks_exact(3) {
        for c in 0..3 {
            sum[c] += u64::from(pixel[c]);
            squares[c] += u64::from(pixel[c]).pow(2);
        }
    }
    let n = (50_000 * 32 * 32) as f64;
    for (c, (mean, std)) in [(0.4914, 0.2470), (0.4822, 0.2435), (0.4465, 0.2616)]
        .into_iter()
        .enumerate()
    {
        let m = sum[c] as f64 / n / 255.0;
        let s = (squares[c] as f64 / n / 65025.0 - m * m).sqrt();
        assert!((m - mean).abs() < 0.005, "channel {c}: mean {m}");
        assert!((s - std).abs() < 0.01, "channel {c}: std {s}");
    }

    // The decoded pixels are kept in the cache and read back identically.
    let decoded: Vec<_> = std::fs::read_dir(cache.path().join("decoded"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(decoded.len(), 1, "{decoded:?}");
    let offline_without_mirror = brain_data::DataStore::new(cache.path()).offline(true);
    assert_eq!(
        cifar10::load(&offline_without_mirror, &catalog).unwrap(),
        data
    );

    // A damaged decoded file is noticed and decoded again from the verified images.
    let mut bytes = std::fs::read(&decoded[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x5a;
    std::fs::write(&decoded[0], &bytes).unwrap();
    assert!(cifar10::load(&offline_without_mirror, &catalog).is_err());
    assert_eq!(cifar10::load(&store, &catalog).unwrap(), data);
}

/// A mirror whose files are links to the real mirror's, but with `train/truck/0007.jpg`
/// corrupted.
fn corrupted_mirror(root: &Path) {
    let real = common::mirror().join("cifar10-jpeg");
    let copy = root.join("cifar10-jpeg");
    std::fs::create_dir_all(copy.join("train")).unwrap();
    std::os::unix::fs::symlink(real.join("test"), copy.join("test")).unwrap();
    std::os::unix::fs::symlink(
        real.join("upstream_readme.md"),
        copy.join("upstream_readme.md"),
    )
    .unwrap();
    for class in CLASSES {
        if class != "truck" {
            std::os::unix::fs::symlink(
                real.join("train").join(class),
                copy.join("train").join(class),
            )
            .unwrap();
        }
    }
    let trucks = copy.join("train/truck");
    std::fs::create_dir_all(&trucks).unwrap();
    for entry in std::fs::read_dir(real.join("train/truck")).unwrap() {
        let path = entry.unwrap().path();
        let target = trucks.join(path.file_name().unwrap());
        if path.ends_with("0007.jpg") {
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[100] ^= 0xff;
            std::fs::write(&target, bytes).unwrap();
        } else {
            std::os::unix::fs::symlink(&path, &target).unwrap();
        }
    }
}

#[test]
fn a_corrupted_image_in_the_mirror_fails_the_load_naming_the_file() {
    let mirror = tempfile::tempdir().unwrap();
    corrupted_mirror(mirror.path());
    let cache = tempfile::tempdir().unwrap();
    let store = brain_data::DataStore::new(cache.path())
        .with_mirror(mirror.path())
        .offline(true);
    let err = cifar10::load(&store, &Catalog::builtin())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train/truck/0007.jpg") && err.contains("sha256"),
        "{err}"
    );
    assert!(!cache.path().join("decoded").exists());
}
