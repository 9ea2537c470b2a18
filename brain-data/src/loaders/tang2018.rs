//! `tang2018-v1`: trial-averaged two-photon responses of 4 macaque V1 neurons to 9500 binary
//! pattern images (Tang et al. 2018, as released with Wu et al. 2020). Row i of each neuron's
//! `(9500, 1)` array pairs with `data/stimuli/pattern/(i+1).png`.

use image::DynamicImage;
use ndarray::{Array2, Array3};

use super::Files;
use super::cowley2023::read_npy;
use crate::assembly::{NeuralAssembly, Neuroid, StimulusSet};
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::store::DataStore;

/// Dataset id.
pub const ID: &str = "tang2018-v1";
/// The released example neurons.
pub const NEURONS: [&str; 4] = ["neu75", "neu255", "neu381", "neu504"];
const N_PATTERNS: usize = 9500;

/// Stimulus ids `pattern/1` … `pattern/9500`.
pub fn stimulus_ids() -> Vec<String> {
    (1..=N_PATTERNS).map(|i| format!("pattern/{i}")).collect()
}

/// The 9500 patterns as 8-bit grayscale images (160 x 160; the files are 1-bit, read as 0/255).
pub fn stimuli(store: &DataStore, catalog: &Catalog) -> Result<StimulusSet> {
    let files = Files::new(store, catalog, ID)?;
    let images = (1..=N_PATTERNS)
        .map(|i| {
            let path = files.path(&format!("data/stimuli/pattern/{i}.png"))?;
            let image = image::open(&path)
                .map_err(|e| DataError::format(&path, format!("not a readable PNG: {e}")))?;
            Ok(DynamicImage::ImageLuma8(image.to_luma8()))
        })
        .collect::<Result<Vec<_>>>()?;
    let set = StimulusSet {
        name: ID.into(),
        ids: stimulus_ids(),
        images,
        categories: None,
    };
    set.validate()?;
    Ok(set)
}

/// Responses of the 4 neurons, `(9500, 4, 1)`.
pub fn responses(store: &DataStore, catalog: &Catalog) -> Result<NeuralAssembly> {
    let files = Files::new(store, catalog, ID)?;
    let mut responses = Array3::<f64>::zeros((N_PATTERNS, NEURONS.len(), 1));
    for (j, neuron) in NEURONS.iter().enumerate() {
        let path = files.path(&format!("data/neurons/{neuron}.npy"))?;
        let column: Array2<f64> = read_npy(&path)?;
        if column.dim() != (N_PATTERNS, 1) {
            return Err(DataError::format(
                &path,
                format!("shape {:?}, expected ({N_PATTERNS}, 1)", column.dim()),
            ));
        }
        responses
            .index_axis_mut(ndarray::Axis(1), j)
            .assign(&column);
    }
    let assembly = NeuralAssembly {
        stimulus_ids: stimulus_ids(),
        neuroids: NEURONS
            .iter()
            .map(|n| Neuroid {
                id: n.to_string(),
                region: "V1".into(),
                session: "tang2018".into(),
                animal: None,
            })
            .collect(),
        responses,
        time_bin: Some("trial-averaged two-photon calcium responses".into()),
    };
    assembly.validate(ID)?;
    Ok(assembly)
}
