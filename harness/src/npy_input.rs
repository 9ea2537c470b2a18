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
    let a: Array1<f64> = read_float(path, "labels", false).map_err(|e| {
        let text = format!("{e:#}");
        match text.split_once("must be float32 or float64, the file holds ") {
            Some((_, held)) => anyhow::anyhow!(
                "{}: labels must be int64, int32, or whole numbers as float32/float64; the file holds {held}",
                path.display()
            ),
            None => e,
        }
    })?;
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

/// Reads one integer label per stimulus: [`read_labels`], and an error naming the file when
/// the count differs from the number of stimuli.
pub fn read_stimulus_labels(path: &Path, stimuli: usize) -> Result<Vec<i64>> {
    let labels = read_labels(path)?;
    if labels.len() != stimuli {
        bail!(
            "{}: {} labels, but the representation has {stimuli} stimuli (one label per row)",
            path.display(),
            labels.len()
        );
    }
    Ok(labels)
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
    check_declared_size(path).map_err(|e| ReadNpyError::Io(std::io::Error::other(e)))?;
    read_npy(path)
}

/// Fails when the header of a `.npy` file declares more (or less) data than the file holds,
/// before anything of that size is allocated (a header claiming 10¹² values must not abort
/// the process). Headers this check cannot read are left to the reader.
fn check_declared_size(path: &Path) -> std::result::Result<(), String> {
    match read_header(path)? {
        Some(header) => header.matches_file(),
        None => Ok(()),
    }
}

/// The shape a `.npy` file's header declares, when the header is readable and matches the
/// file's size (for estimating memory before reading).
pub fn declared_shape(path: &Path) -> Option<Vec<usize>> {
    let header = read_header(path).ok()??;
    header.matches_file().ok()?;
    header
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect()
}

/// What a `.npy` header says, as far as the size check needs it.
struct Header {
    dims: Vec<u64>,
    item_size: u64,
    /// Bytes after the header.
    data_bytes: u64,
}

impl Header {
    /// Whether the declared shape and value size account for exactly the data bytes.
    fn matches_file(&self) -> std::result::Result<(), String> {
        let declared = self
            .dims
            .iter()
            .try_fold(self.item_size, |acc, &d| acc.checked_mul(d));
        match declared {
            Some(bytes) if bytes == self.data_bytes => Ok(()),
            _ => Err(format!(
                "the header declares shape {:?} of {}-byte values ({} bytes), but the file holds {} bytes of data",
                self.dims,
                self.item_size,
                declared.map_or("more than 2^64".to_string(), |b| b.to_string()),
                self.data_bytes
            )),
        }
    }
}

/// The header of a `.npy` file; `None` for files or headers this check does not read
/// (structured or unusual dtypes, unreadable files), which are left to the reader.
fn read_header(path: &Path) -> std::result::Result<Option<Header>, String> {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(None); // the reader reports it
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::with_capacity(4096);
    let _ = file.by_ref().take(65_536 + 12).read_to_end(&mut head);
    if head.len() < 10 || &head[..6] != b"\x93NUMPY" {
        return Ok(None);
    }
    let (header_len, start) = match head[6] {
        1 => (usize::from(u16::from_le_bytes([head[8], head[9]])), 10),
        2 | 3 if head.len() >= 12 => (
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
            12,
        ),
        _ => return Ok(None),
    };
    let Some(header) = head.get(start..start + header_len) else {
        return Err(format!(
            "the header is cut short ({header_len} bytes declared, the file has {length})"
        ));
    };
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest.to_string())
    };
    let (Some(descr), Some(shape)) = (field("descr"), field("shape")) else {
        return Ok(None);
    };
    let Some(item_size) = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .and_then(|d| d.get(2..))
        .and_then(|digits| digits.parse::<u64>().ok())
    else {
        return Ok(None);
    };
    let Some(dims) = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<u64>())
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .and_then(|r| r.ok())
    else {
        return Ok(None);
    };
    Ok(Some(Header {
        dims,
        item_size,
        data_bytes: length.saturating_sub((start + header_len) as u64),
    }))
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
        ReadNpyError::Io(e) if e.kind() == std::io::ErrorKind::Other => e.to_string(),
        other => format!("not a readable .npy file ({other})"),
    };
    anyhow::anyhow!("{}: {problem}", path.display())
}
