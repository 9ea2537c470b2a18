//! `cifar10`: CIFAR-10 (Krizhevsky 2009) as 60,000 32×32 RGB JPEG files, training data for
//! the model zoo. Files are `train/<class>/0000.jpg`…`4999.jpg` and `test/<class>/0000.jpg`…
//! `0999.jpg`; the classes in alphabetical order are CIFAR-10's label order.
//!
//! The first load verifies every file against the catalog (downloading what is missing, several
//! at a time), decodes them on all cores and keeps the decoded pixels in the cache
//! (`<cache>/decoded/cifar10-<key>.bin`, `key` from the pinned sums, the payload's own sha256 in
//! its header). Later loads read and verify that one file instead of 60,000.

use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array4;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Dataset, FileEntry};
use crate::error::{DataError, Result};
use crate::store::DataStore;

/// Dataset id.
pub const ID: &str = "cifar10";

/// Class names, by label.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Image side in pixels.
pub const SIDE: usize = 32;

/// Colour images `(n, height, width, 3)` and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorImages {
    /// RGB pixels, channels-last.
    pub images: Array4<u8>,
    /// Class of each image, an index into [`CLASSES`].
    pub labels: Vec<u8>,
}

/// The published split.
#[derive(Debug, Clone, PartialEq)]
pub struct Cifar10 {
    /// 50,000 training images, class by class.
    pub train: ColorImages,
    /// 10,000 test images, class by class.
    pub test: ColorImages,
}

/// Header of the decoded cache file (one JSON line after the magic line).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct DecodedHeader {
    dataset: String,
    key: String,
    train: usize,
    test: usize,
    side: usize,
    sha256: String,
}

const MAGIC: &[u8] = b"cortexbench decoded images v1\n";

/// Loads CIFAR-10, from the decoded cache when it holds this catalog's version.
pub fn load(store: &DataStore, catalog: &Catalog) -> Result<Cifar10> {
    let dataset = catalog.dataset(ID)?;
    let key = decoded_key(dataset);
    let cached = decoded_path(store, &key);
    if cached.is_file()
        && let Ok(data) = read_decoded(&cached, &key)
    {
        return Ok(data);
    }
    // One process decodes while others sharing the cache wait for its file. A cache where
    // the lock cannot be made (read-only) only costs each process a decode of its own.
    let relative = cached.strip_prefix(store.cache_dir()).unwrap_or(&cached);
    let _lock = crate::CacheLock::acquire(store.cache_dir(), relative)
        .inspect_err(|e| eprintln!("warning: {e}; decoding CIFAR-10 without a lock"))
        .ok();
    if cached.is_file() {
        match read_decoded(&cached, &key) {
            Ok(data) => return Ok(data),
            Err(e) => eprintln!("warning: {e}; decoding CIFAR-10 again"),
        }
    }
    let data = decode_all(store, dataset)?;
    // A cache that cannot be written only costs the next run a decode.
    if let Err(e) = write_decoded(&cached, &key, &data) {
        eprintln!("warning: could not keep decoded CIFAR-10 in the cache: {e}");
    }
    Ok(data)
}

/// The images of one part in file order, with their labels.
fn part_files<'d>(dataset: &'d Dataset, part: &str) -> Result<Vec<(&'d FileEntry, u8)>> {
    let mut files = vec![];
    for f in &dataset.files {
        let Some(rest) = f.path.strip_prefix(part) else {
            continue;
        };
        let Some((class, _)) = rest.split_once('/') else {
            continue;
        };
        let label = CLASSES
            .iter()
            .position(|c| *c == class)
            .ok_or_else(|| DataError::Catalog {
                what: format!("{ID}.sums"),
                message: format!("'{}' is not in a class folder", f.path),
            })?;
        files.push((f, label as u8));
    }
    Ok(files)
}

/// Verifies (downloading what is missing) and decodes every image.
fn decode_all(store: &DataStore, dataset: &Dataset) -> Result<Cifar10> {
    // Missing files are downloaded several at a time; the rest are verified while decoding.
    if dataset
        .files
        .iter()
        .any(|f| store.locate(dataset, f) == crate::store::Location::Missing)
    {
        store.fetch(dataset)?;
    }
    let train = part_files(dataset, "train/")?;
    let test = part_files(dataset, "test/")?;
    let bar = if store.shows_progress() {
        let bar = ProgressBar::new((train.len() + test.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template("{msg:28} [{bar:30}] {pos}/{len} images")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message("decoding cifar10");
        bar
    } else {
        ProgressBar::hidden()
    };
    let decode = |files: &[(&FileEntry, u8)]| -> Result<ColorImages> {
        let pixels = decode_parallel(store, dataset, files, &bar)?;
        Ok(ColorImages {
            images: Array4::from_shape_vec((files.len(), SIDE, SIDE, 3), pixels)
                .expect("one image of SIDE x SIDE x 3 per file"),
            labels: files.iter().map(|(_, label)| *label).collect(),
        })
    };
    let data = Cifar10 {
        train: decode(&train)?,
        test: decode(&test)?,
    };
    bar.finish_and_clear();
    Ok(data)
}

/// Decodes the files on every core; pixels in file order.
fn decode_parallel(
    store: &DataStore,
    dataset: &Dataset,
    files: &[(&FileEntry, u8)],
    bar: &ProgressBar,
) -> Result<Vec<u8>> {
    let image_len = SIDE * SIDE * 3;
    let mut pixels = vec![0u8; files.len() * image_len];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = pixels
            .chunks_mut(per_thread * image_len)
            .zip(files.chunks(per_thread))
            .map(|(out, files)| {
                scope.spawn(move || -> Result<()> {
                    for ((file, _), out) in files.iter().zip(out.chunks_exact_mut(image_len)) {
                        let path = store.local_path(dataset, file)?;
                        out.copy_from_slice(&decode_jpeg(&path)?);
                        bar.inc(1);
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("decoding thread panicked"))
    })?;
    Ok(pixels)
}

/// One 32×32 RGB image, channels-last.
fn decode_jpeg(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| DataError::format(path, format!("not a readable JPEG: {e}")))?
        .to_rgb8();
    if image.dimensions() != (SIDE as u32, SIDE as u32) {
        return Err(DataError::format(
            path,
            format!(
                "is {}x{} pixels, CIFAR-10 images are {SIDE}x{SIDE}",
                image.width(),
                image.height()
            ),
        ));
    }
    Ok(image.into_raw())
}

/// The first 16 hex digits of the sha256 of the pinned image list: a new catalog version
/// gets a new decoded file.
fn decoded_key(dataset: &Dataset) -> String {
    let mut hasher = Sha256::new();
    for f in &dataset.files {
        hasher.update(format!("{} {} {}\n", f.sha256, f.size, f.path).as_bytes());
    }
    hex::encode(hasher.finalize())[..16].to_string()
}

fn decoded_path(store: &DataStore, key: &str) -> PathBuf {
    store
        .cache_dir()
        .join("decoded")
        .join(format!("{ID}-{key}.bin"))
}

fn payload_sha256(data: &Cifar10) -> String {
    let mut hasher = Sha256::new();
    for part in [&data.train, &data.test] {
        hasher.update(part.images.as_slice().expect("standard layout"));
        hasher.update(&part.labels);
    }
    hex::encode(hasher.finalize())
}

fn write_decoded(path: &Path, key: &str, data: &Cifar10) -> Result<()> {
    let header = DecodedHeader {
        dataset: ID.into(),
        key: key.into(),
        train: data.train.labels.len(),
        test: data.test.labels.len(),
        side: SIDE,
        sha256: payload_sha256(data),
    };
    let dir = path.parent().expect("inside the cache");
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    // A name of this process's own, renamed into place whole.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        out.write_all(MAGIC)?;
        serde_json::to_writer(&mut out, &header)?;
        out.write_all(b"\n")?;
        for part in [&data.train, &data.test] {
            out.write_all(part.images.as_slice().expect("standard layout"))?;
            out.write_all(&part.labels)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

fn read_decoded(path: &Path, key: &str) -> Result<Cifar10> {
    use std::io::{BufRead, Read};
    let bad = |message: &str| DataError::format(path, message.to_string());
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut magic = vec![0u8; MAGIC.len()];
    reader
        .read_exact(&mut magic)
        .map_err(|_| bad("is not a decoded-images file"))?;
    if magic != MAGIC {
        return Err(bad("is not a decoded-images file"));
    }
    let mut line = vec![];
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| DataError::io(path, e))?;
    let header: DecodedHeader =
        serde_json::from_slice(&line).map_err(|e| bad(&format!("header: {e}")))?;
    if header.dataset != ID || header.key != key || header.side != SIDE {
        return Err(bad("holds another dataset or catalog version"));
    }
    let image_len = SIDE * SIDE * 3;
    let expected = (header.train + header.test) as u64 * (image_len as u64 + 1);
    let payload = file_len - (MAGIC.len() + line.len()) as u64;
    if payload != expected {
        return Err(bad(&format!(
            "is {payload} payload bytes instead of {expected} (truncated or damaged)"
        )));
    }
    // Read straight into the arrays, hashing as the bytes arrive.
    let mut hasher = Sha256::new();
    let mut take = |n: usize| -> Result<ColorImages> {
        let mut images = vec![0u8; n * image_len];
        let mut labels = vec![0u8; n];
        for buffer in [&mut images, &mut labels] {
            reader
                .read_exact(buffer)
                .map_err(|e| DataError::io(path, e))?;
            hasher.update(&buffer[..]);
        }
        Ok(ColorImages {
            images: Array4::from_shape_vec((n, SIDE, SIDE, 3), images).expect("sizes checked"),
            labels,
        })
    };
    let data = Cifar10 {
        train: take(header.train)?,
        test: take(header.test)?,
    };
    if hex::encode(hasher.finalize()) != header.sha256 {
        return Err(bad("does not match the sha256 in its header"));
    }
    Ok(data)
}
