//! Reading user-supplied `.npy` arrays with errors that name the file and the problem.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ndarray::{Array, Array1, Dimension};
use ndarray_npy::{ReadNpyError, ReadableElement, read_npy};

/// Reads a float32 or float64 array of the given dimensionality as f64, rejecting NaN and ±Inf
/// unless `allow_nan` (NaN only; used for NaN-padded repetitions).
pub fn read_float<D: Dimension>(path: &Path, what: &str, allow_nan: bool) -> Result<Array<f64, D>> {
    let array = match read_as::<f64, D>(path) {
        Ok(a) => a,
        Err(ReadNpyError::WrongDescriptor(_)) => read_as::<f32, D>(path)
            .map(|a| a.mapv(f64::from))
            .map_err(|e| describe(path, what, e))?,
        Err(e) => return Err(describe(path, what, e)),
    };
    if let Some((index, value)) = array
        .indexed_iter()
        .find(|(_, v)| v.is_infinite() || (!allow_nan && v.is_nan()))
    {
        bail!(
            "{}: {what} contains {value} at index {:?}; only finite values can be scored",
            path.display(),
            index
        );
    }
    Ok(array)
}

/// Reads a 1-D array of integer labels (int64, int32, or integral floats).
pub fn read_labels(path: &Path) -> Result<Vec<i64>> {
    if let Ok(a) = read_as::<i64, ndarray::Ix1>(path) {
        return Ok(a.to_vec());
    }
    if let Ok(a) = read_as::<i32, ndarray::Ix1>(path) {
        return Ok(a.iter().map(|&v| i64::from(v)).collect());
    }
    let a: Array1<f64> = read_float(path, "labels", false)?;
    a.iter()
        .map(|&v| {
            if v.fract() == 0.0 {
                Ok(v as i64)
            } else {
                bail!("{}: label {v} is not an integer", path.display())
            }
        })
        .collect()
}

/// Reads a 1-D array of stimulus indices (int64 or int32).
pub fn read_indices(path: &Path) -> Result<Vec<usize>> {
    read_labels(path)?
        .into_iter()
        .map(|i| {
            usize::try_from(i).with_context(|| format!("{}: index {i} is negative", path.display()))
        })
        .collect()
}

fn read_as<T: ReadableElement, D: Dimension>(
    path: &Path,
) -> std::result::Result<Array<T, D>, ReadNpyError> {
    read_npy(path)
}

fn describe(path: &Path, what: &str, err: ReadNpyError) -> anyhow::Error {
    let problem = match &err {
        ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "file not found".to_string()
        }
        ReadNpyError::WrongNdim(expected, got) => format!(
            "{what} must have {} dimensions, the file has {got}",
            expected.map_or("?".into(), |e| e.to_string())
        ),
        ReadNpyError::WrongDescriptor(d) => {
            format!("{what} must be float32 or float64, the file holds {d}")
        }
        other => format!("not a readable .npy file ({other})"),
    };
    anyhow::anyhow!("{}: {problem}", path.display())
}
