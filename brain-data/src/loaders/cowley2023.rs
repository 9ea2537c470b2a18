//! `cowley2023-v4`: macaque V4 spike counts to natural images (Cowley, Stan, Pillow & Smith
//! 2023). Responses are `(neurons, images)` repeat-averaged, or `(neurons, images, repeats)`
//! NaN-padded; image i of a session's zip (sorted by name) pairs with column i.

use std::io::Read;
use std::path::Path;

use ndarray::{Array2, Array3, Axis};
use ndarray_npy::ReadNpyExt;

use super::Files;
use crate::assembly::{NeuralAssembly, Neuroid, StimulusSet};
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::store::DataStore;

/// Dataset id.
pub const ID: &str = "cowley2023-v4";

/// The sessions whose images are available, in order.
pub fn sessions_with_images(catalog: &Catalog) -> Result<Vec<String>> {
    sessions_with_files(catalog, "images/images_", ".zip")
}

/// The sessions with raw (per-repeat) responses.
pub fn sessions_with_repeats(catalog: &Catalog) -> Result<Vec<String>> {
    sessions_with_files(catalog, "responses_raw/responses_", ".npy")
}

fn sessions_with_files(catalog: &Catalog, prefix: &str, suffix: &str) -> Result<Vec<String>> {
    Ok(catalog
        .dataset(ID)?
        .files
        .iter()
        .filter_map(|f| {
            f.path
                .strip_prefix(prefix)?
                .strip_suffix(suffix)
                .map(str::to_string)
        })
        .collect())
}

/// The monkey of a session, from the upstream readme's table (WE: 2019, PE: Oct 2020 – Mar
/// 2021, RA: from Jun 2021).
fn animal(session: &str) -> Option<String> {
    let name = match session.get(..4)? {
        "1909" => "WE",
        "2010" | "2102" | "2103" => "PE",
        "2106" | "2110" | "2111" => "RA",
        _ => return None,
    };
    Some(name.to_string())
}

/// A session's images, decoded in place from its zip (sorted by file name), with ids
/// `<session>/<file name>`.
pub fn stimuli(store: &DataStore, catalog: &Catalog, session: &str) -> Result<StimulusSet> {
    let (path, mut archive, names) = open_images(store, catalog, session)?;
    let mut images = Vec::with_capacity(names.len());
    for name in &names {
        let mut bytes = vec![];
        archive
            .by_name(name)
            .and_then(|mut entry| entry.read_to_end(&mut bytes).map_err(Into::into))
            .map_err(|e| DataError::format(&path, format!("{name}: {e}")))?;
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
            .map_err(|e| DataError::format(&path, format!("{name} is not a readable JPEG: {e}")))?;
        images.push(image);
    }
    let set = StimulusSet {
        name: format!("{ID}/{session}"),
        ids: names.iter().map(|n| format!("{session}/{n}")).collect(),
        images,
        categories: None,
    };
    set.validate()?;
    Ok(set)
}

/// A session's responses; with `repeats`, the raw per-repeat counts (only for
/// [`sessions_with_repeats`]), else the repeat-averaged ones as a single repetition.
/// Stimulus ids follow [`stimuli`], so the two line up.
pub fn responses(
    store: &DataStore,
    catalog: &Catalog,
    session: &str,
    repeats: bool,
) -> Result<NeuralAssembly> {
    let files = Files::new(store, catalog, ID)?;
    let path = if repeats {
        files.path(&format!("responses_raw/responses_{session}.npy"))?
    } else {
        files.path(&format!(
            "responses_repeat_averaged/responses_{session}.npy"
        ))?
    };
    // (neurons, images[, repeats]) -> (images, neurons, repeats)
    let responses: Array3<f64> = if repeats {
        read_npy::<ndarray::Ix3>(&path)?
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned()
    } else {
        let averaged: Array2<f64> = read_npy(&path)?;
        averaged
            .reversed_axes()
            .insert_axis(Axis(2))
            .as_standard_layout()
            .into_owned()
    };
    let (n_images, n_neurons, _) = responses.dim();
    let image_ids = match files.path(&format!("images/images_{session}.zip")) {
        Ok(_) => stimuli_ids_from_zip(store, catalog, session)?,
        Err(_) => (1..=n_images)
            .map(|i| format!("{session}/image{i:04}"))
            .collect(),
    };
    if image_ids.len() != n_images {
        return Err(DataError::format(
            &path,
            format!(
                "{n_images} images in the responses but {} in images_{session}.zip",
                image_ids.len()
            ),
        ));
    }
    let assembly = NeuralAssembly {
        stimulus_ids: image_ids,
        neuroids: (0..n_neurons)
            .map(|i| Neuroid {
                id: format!("{session}-n{i:03}"),
                region: "V4".into(),
                session: session.to_string(),
                animal: animal(session),
            })
            .collect(),
        responses,
        time_bin: Some("spike counts in a 100 ms bin per image presentation".into()),
    };
    assembly.validate(&path.display().to_string())?;
    Ok(assembly)
}

fn stimuli_ids_from_zip(
    store: &DataStore,
    catalog: &Catalog,
    session: &str,
) -> Result<Vec<String>> {
    let (_, _, names) = open_images(store, catalog, session)?;
    Ok(names.iter().map(|n| format!("{session}/{n}")).collect())
}

/// A session's image zip, opened, with its JPEG names sorted.
fn open_images(
    store: &DataStore,
    catalog: &Catalog,
    session: &str,
) -> Result<(
    std::path::PathBuf,
    zip::ZipArchive<std::fs::File>,
    Vec<String>,
)> {
    let path = Files::new(store, catalog, ID)?.path(&format!("images/images_{session}.zip"))?;
    let file = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
    let archive = zip::ZipArchive::new(file)
        .map_err(|e| DataError::format(&path, format!("not a readable zip: {e}")))?;
    let mut names: Vec<String> = archive
        .file_names()
        .filter(|n| {
            n.to_ascii_lowercase().ends_with(".jpg") || n.to_ascii_lowercase().ends_with(".jpeg")
        })
        .map(str::to_string)
        .collect();
    names.sort();
    Ok((path, archive, names))
}

/// Reads a float64 `.npy` file with errors naming it.
pub(crate) fn read_npy<D: ndarray::Dimension>(path: &Path) -> Result<ndarray::Array<f64, D>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    ndarray::Array::<f64, D>::read_npy(file)
        .map_err(|e| DataError::format(path, format!("not a readable float64 .npy: {e}")))
}
