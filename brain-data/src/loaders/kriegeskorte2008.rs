//! `kriegeskorte2008-92images`: 92 object photos, the monkey IT RDM of Kiani et al. 2007, and
//! human IT fMRI RDMs (Kriegeskorte et al. 2008), from rsatoolbox's demo files.

use image::{DynamicImage, RgbImage};

use super::Files;
use crate::assembly::{NamedRdm, RdmAssembly, StimulusSet, condensed_from_column_major};
use crate::catalog::Catalog;
use crate::error::{DataError, Result};
use crate::matv5::{MatFile, MatValue, Numeric};
use crate::store::DataStore;

/// Dataset id.
pub const ID: &str = "kriegeskorte2008-92images";
const SUPPLEMENT: &str = "Kriegeskorte_Neuron2008_supplementalData.mat";
const BRAIN_RDMS: &str = "92_brainRDMs.mat";
const N: usize = 92;

/// Stimulus ids `k92-001` … `k92-092`, in the files' order.
pub fn stimulus_ids() -> Vec<String> {
    (1..=N).map(|i| format!("k92-{i:03}")).collect()
}

/// The 92 photos (175 x 175 RGB) with their categories (`stimuli_92objs`).
pub fn stimuli(store: &DataStore, catalog: &Catalog) -> Result<StimulusSet> {
    let path = Files::new(store, catalog, ID)?.path(SUPPLEMENT)?;
    let mat = MatFile::open(&path)?;
    let objs = mat.get("stimuli_92objs")?;
    let bad = |message: String| DataError::format(&path, format!("stimuli_92objs: {message}"));
    if objs.len() != N {
        return Err(bad(format!("{} stimuli instead of {N}", objs.len())));
    }
    let mut images = Vec::with_capacity(N);
    let mut categories = Vec::with_capacity(N);
    for i in 0..N {
        let image = objs
            .field(i, "image")
            .ok_or_else(|| bad(format!("stimulus {i} has no image")))?;
        images.push(DynamicImage::ImageRgb8(rgb_from_matlab(image).ok_or_else(
            || {
                bad(format!(
                    "stimulus {i}: image is not an H x W x 3 uint8 array (dims {:?})",
                    image.dims()
                ))
            },
        )?));
        let category = objs
            .field(i, "category")
            .and_then(MatValue::text)
            .unwrap_or("unknown");
        categories.push(category.to_string());
    }
    let set = StimulusSet {
        name: ID.to_string(),
        ids: stimulus_ids(),
        images,
        categories: Some(categories),
    };
    set.validate()?;
    Ok(set)
}

/// An H x W x 3 uint8 MATLAB array (column-major) as an RGB image.
fn rgb_from_matlab(value: &MatValue) -> Option<RgbImage> {
    let MatValue::Numeric {
        dims,
        data: Numeric::U8(bytes),
    } = value
    else {
        return None;
    };
    let [h, w, 3] = dims[..] else { return None };
    Some(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = |c: usize| bytes[y as usize + h * (x as usize + w * c)];
        image::Rgb([at(0), at(1), at(2)])
    }))
}

/// The monkey IT RDM (Kiani et al. 2007; 674 neurons, correlation distance), one RDM.
pub fn monkey_it_rdm(store: &DataStore, catalog: &Catalog) -> Result<RdmAssembly> {
    figure1_rdm(store, catalog, "mIT_674neurons", "monkey")
}

/// The human IT RDM of the paper's Fig. 1 (316 voxels, averaged over subjects), one RDM.
pub fn human_it_group_rdm(store: &DataStore, catalog: &Catalog) -> Result<RdmAssembly> {
    figure1_rdm(store, catalog, "hITvisStim_316vx", "human group")
}

fn figure1_rdm(
    store: &DataStore,
    catalog: &Catalog,
    name: &str,
    subject: &str,
) -> Result<RdmAssembly> {
    let path = Files::new(store, catalog, ID)?.path(SUPPLEMENT)?;
    let mat = MatFile::open(&path)?;
    let rdms = mat.get("RDMs_mIT_hIT_fig1")?;
    let element = (0..rdms.len())
        .find(|&e| rdms.field(e, "name").and_then(MatValue::text) == Some(name))
        .ok_or_else(|| {
            DataError::format(&path, format!("RDMs_mIT_hIT_fig1 has no RDM named {name}"))
        })?;
    let values = rdms
        .field(element, "RDM")
        .and_then(MatValue::to_f64)
        .ok_or_else(|| DataError::format(&path, format!("RDM {name} is not numeric")))?;
    let assembly = RdmAssembly {
        stimulus_ids: stimulus_ids(),
        region: "IT".into(),
        rdms: vec![NamedRdm {
            subject: subject.into(),
            session: None,
            condensed: values,
        }],
    };
    assembly.validate(&path.display().to_string())?;
    Ok(assembly)
}

/// Human IT RDMs of 4 subjects x 2 sessions (`92_brainRDMs.mat`), in the order subject 1
/// session 1, subject 2 session 1, …, subject 4 session 2.
pub fn human_it_rdms(store: &DataStore, catalog: &Catalog) -> Result<RdmAssembly> {
    let path = Files::new(store, catalog, ID)?.path(BRAIN_RDMS)?;
    let mat = MatFile::open(&path)?;
    let rdms = mat.get("RDMs")?;
    let mut out = vec![];
    for e in 0..rdms.len() {
        let values = rdms
            .field(e, "RDM")
            .and_then(MatValue::to_f64)
            .ok_or_else(|| {
                DataError::format(&path, format!("RDMs({}) has no numeric RDM", e + 1))
            })?;
        if values.len() != N * N {
            return Err(DataError::format(
                &path,
                format!("RDMs({}) is not {N} x {N}", e + 1),
            ));
        }
        // Names read like "hIT | BE | Session: 1".
        let name = rdms
            .field(e, "name")
            .and_then(MatValue::text)
            .unwrap_or_default()
            .to_string();
        let parts: Vec<&str> = name.split('|').map(str::trim).collect();
        out.push(NamedRdm {
            subject: parts
                .get(1)
                .map_or(format!("subject{}", e % 4 + 1), |s| s.to_string()),
            session: parts
                .get(2)
                .map(|s| s.trim_start_matches("Session:").trim().to_string()),
            condensed: condensed_from_column_major(&values, N),
        });
    }
    let assembly = RdmAssembly {
        stimulus_ids: stimulus_ids(),
        region: "IT".into(),
        rdms: out,
    };
    assembly.validate(&path.display().to_string())?;
    Ok(assembly)
}
