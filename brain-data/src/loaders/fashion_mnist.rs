//! `fashion-mnist`: training data for the model zoo (IDX files, gzip), from the Debian package
//! `dataset-fashion-mnist` or upstream.

use std::io::Read;
use std::path::Path;

use ndarray::Array3;

use super::Files;
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::store::DataStore;

/// Dataset id.
pub const ID: &str = "fashion-mnist";

/// Class names, by label.
pub const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Which half of the dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// 60000 training images.
    Train,
    /// 10000 test images.
    Test,
}

/// Images `(n, 28, 28)` and labels `0..10`.
#[derive(Debug, Clone)]
pub struct LabelledImages {
    /// Pixel intensities, row-major.
    pub images: Array3<u8>,
    /// Class of each image.
    pub labels: Vec<u8>,
}

/// Loads the training or test part.
pub fn load(store: &DataStore, catalog: &Catalog, part: Part) -> Result<LabelledImages> {
    let files = Files::new(store, catalog, ID)?;
    let prefix = match part {
        Part::Train => "train",
        Part::Test => "t10k",
    };
    let images_path = files.path(&format!("{prefix}-images-idx3-ubyte.gz"))?;
    let labels_path = files.path(&format!("{prefix}-labels-idx1-ubyte.gz"))?;
    let (dims, pixels) = read_idx(&images_path, 3)?;
    let (label_dims, labels) = read_idx(&labels_path, 1)?;
    if label_dims[0] != dims[0] {
        return Err(DataError::format(
            &labels_path,
            format!("{} labels for {} images", label_dims[0], dims[0]),
        ));
    }
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= CLASSES.len()) {
        return Err(DataError::format(
            &labels_path,
            format!("label {bad} is not a Fashion-MNIST class"),
        ));
    }
    let images = Array3::from_shape_vec((dims[0], dims[1], dims[2]), pixels)
        .map_err(|e| DataError::format(&images_path, e.to_string()))?;
    Ok(LabelledImages { images, labels })
}

/// Reads a gzip-compressed IDX file of unsigned bytes with `ndim` dimensions.
fn read_idx(path: &Path, ndim: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut bytes = vec![];
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| DataError::format(path, format!("not a readable gzip file: {e}")))?;
    let header = 4 + 4 * ndim;
    if bytes.len() < header
        || bytes[0] != 0
        || bytes[1] != 0
        || bytes[2] != 0x08
        || bytes[3] as usize != ndim
    {
        return Err(DataError::format(
            path,
            format!("not an IDX file of {ndim}-dimensional unsigned bytes"),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(bytes.len() - header) {
        let expected = expected.map_or("more than 2^64".into(), |e| e.to_string());
        return Err(DataError::format(
            path,
            format!(
                "header promises {expected} values for {dims:?}, file has {}",
                bytes.len() - header
            ),
        ));
    }
    bytes.drain(..header);
    Ok((dims, bytes))
}
