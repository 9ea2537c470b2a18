//! A reader for MATLAB level-5 MAT-files (the `-v6`/`-v7` format, zlib-compressed or not)
//! covering what the datasets use: numeric, logical and char arrays, cell arrays and struct
//! arrays, nested. Sparse and object arrays are reported as unsupported.
//!
//! The `matfile` crate reads numeric arrays only (it skips structs and cells, which is where
//! these datasets keep their images and RDMs), hence this module. Format: MathWorks, "MAT-File
//! Format", version 7 documentation, chapter 1.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Numeric content, column-major as MATLAB stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Numeric {
    /// uint8 arrays (images) kept as bytes.
    U8(Vec<u8>),
    /// Every other numeric or logical class, converted to f64 (the real part).
    F64(Vec<f64>),
}

/// One MATLAB value.
#[derive(Debug, Clone, PartialEq)]
pub enum MatValue {
    /// A numeric or logical array.
    Numeric {
        /// Dimensions (at least 2).
        dims: Vec<usize>,
        /// Elements in column-major order.
        data: Numeric,
    },
    /// A char array, as one string (rows concatenated column-major, as MATLAB stores them).
    Char {
        /// Dimensions.
        dims: Vec<usize>,
        /// The characters.
        text: String,
    },
    /// A cell array; items in column-major order.
    Cell {
        /// Dimensions.
        dims: Vec<usize>,
        /// The cells.
        items: Vec<MatValue>,
    },
    /// A struct array: for each element (column-major), one value per field.
    Struct {
        /// Dimensions.
        dims: Vec<usize>,
        /// Field names.
        fields: Vec<String>,
        /// `elements[e][f]` is field `fields[f]` of element `e`.
        elements: Vec<Vec<MatValue>>,
    },
}

impl MatValue {
    /// Dimensions of the value.
    pub fn dims(&self) -> &[usize] {
        match self {
            MatValue::Numeric { dims, .. }
            | MatValue::Char { dims, .. }
            | MatValue::Cell { dims, .. }
            | MatValue::Struct { dims, .. } => dims,
        }
    }

    /// Field `name` of struct element `element`.
    pub fn field(&self, element: usize, name: &str) -> Option<&MatValue> {
        match self {
            MatValue::Struct {
                fields, elements, ..
            } => {
                let f = fields.iter().position(|n| n == name)?;
                elements.get(element).map(|e| &e[f])
            }
            _ => None,
        }
    }

    /// Number of elements of a struct or cell array (1 for other values).
    pub fn len(&self) -> usize {
        match self {
            MatValue::Struct { elements, .. } => elements.len(),
            MatValue::Cell { items, .. } => items.len(),
            _ => 1,
        }
    }

    /// Whether a struct or cell array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of a char array, or of a cell holding one.
    pub fn text(&self) -> Option<&str> {
        match self {
            MatValue::Char { text, .. } => Some(text),
            MatValue::Cell { items, .. } if items.len() == 1 => items[0].text(),
            _ => None,
        }
    }

    /// Numeric content as f64 (uint8 converted).
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        match self {
            MatValue::Numeric {
                data: Numeric::F64(v),
                ..
            } => Some(v.clone()),
            MatValue::Numeric {
                data: Numeric::U8(v),
                ..
            } => Some(v.iter().map(|&b| f64::from(b)).collect()),
            _ => None,
        }
    }
}

/// The named top-level variables of a MAT-file, in file order.
#[derive(Debug, Clone)]
pub struct MatFile {
    path: PathBuf,
    variables: Vec<(String, MatValue)>,
}

impl MatFile {
    /// Reads and parses a whole file.
    pub fn open(path: &Path) -> Result<MatFile> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        MatFile::parse(&bytes, path)
    }

    /// Parses the bytes of a file; `path` only names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<MatFile> {
        let bad = |message: String| {
            DataError::format(path, format!("not a readable MAT-file: {message}"))
        };
        if bytes.len() < 128 {
            return Err(bad(format!(
                "{} bytes is shorter than the 128-byte header",
                bytes.len()
            )));
        }
        if &bytes[0..4] == b"\x89HDF" || bytes[..128].windows(9).any(|w| w == b"MATLAB 7.3") {
            return Err(bad(
                "MAT v7.3 (HDF5) files are not supported; save with -v7".into(),
            ));
        }
        let big_endian = match &bytes[126..128] {
            b"IM" => false,
            b"MI" => true,
            other => return Err(bad(format!("unknown endian indicator {other:?}"))),
        };
        let mut reader = Reader {
            bytes,
            pos: 128,
            big_endian,
            path,
        };
        let mut variables = vec![];
        while reader.pos + 8 <= bytes.len() {
            let (kind, data) = reader.element()?;
            match kind {
                MI_MATRIX => variables.push(parse_matrix(data, big_endian, path)?),
                MI_COMPRESSED => {
                    let mut inflated = vec![];
                    flate2::read::ZlibDecoder::new(data)
                        .read_to_end(&mut inflated)
                        .map_err(|e| bad(format!("corrupt compressed variable: {e}")))?;
                    let mut inner = Reader {
                        bytes: &inflated,
                        pos: 0,
                        big_endian,
                        path,
                    };
                    let (kind, data) = inner.element()?;
                    if kind != MI_MATRIX {
                        return Err(bad(format!(
                            "compressed element holds type {kind}, not a matrix"
                        )));
                    }
                    variables.push(parse_matrix(data, big_endian, path)?);
                }
                _ => {} // Other top-level elements carry no variables.
            }
        }
        Ok(MatFile {
            path: path.to_path_buf(),
            variables,
        })
    }

    /// The variable called `name`, or an error naming the file and the variables it has.
    pub fn get(&self, name: &str) -> Result<&MatValue> {
        self.variables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                DataError::format(
                    &self.path,
                    format!(
                        "has no variable '{name}' (it has: {})",
                        self.variables
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// The file's variables in order.
    pub fn variables(&self) -> &[(String, MatValue)] {
        &self.variables
    }
}

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

const MX_CELL: u8 = 1;
const MX_STRUCT: u8 = 2;
const MX_OBJECT: u8 = 3;
const MX_CHAR: u8 = 4;
const MX_SPARSE: u8 = 5;
const MX_UINT8: u8 = 9;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    big_endian: bool,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn u32_at(&self, at: usize) -> u32 {
        let b: [u8; 4] = self.bytes[at..at + 4].try_into().expect("4 bytes");
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn bad(&self, message: String) -> DataError {
        DataError::format(
            self.path,
            format!("not a readable MAT-file: {message} (at byte {})", self.pos),
        )
    }

    /// The next data element: its type and its bytes (padding skipped).
    fn element(&mut self) -> Result<(u32, &'a [u8])> {
        if self.pos + 8 > self.bytes.len() {
            return Err(self.bad("truncated data element tag".into()));
        }
        let first = self.u32_at(self.pos);
        let small_size = (first >> 16) as usize;
        if small_size != 0 {
            // Small element: type and size share the first 4 bytes, data in the next 4.
            if small_size > 4 {
                return Err(self.bad(format!("small data element of {small_size} bytes")));
            }
            let data = &self.bytes[self.pos + 4..self.pos + 4 + small_size];
            self.pos += 8;
            return Ok((first & 0xffff, data));
        }
        let size = self.u32_at(self.pos + 4) as usize;
        let start = self.pos + 8;
        if start + size > self.bytes.len() {
            return Err(self.bad(format!(
                "element of {size} bytes runs past the end of the file (truncated?)"
            )));
        }
        let data = &self.bytes[start..start + size];
        // Compressed elements are not padded; all others are aligned to 8 bytes.
        self.pos = if first == MI_COMPRESSED {
            start + size
        } else {
            start + size.div_ceil(8) * 8
        };
        self.pos = self.pos.min(self.bytes.len());
        Ok((first, data))
    }
}

fn parse_matrix(data: &[u8], big_endian: bool, path: &Path) -> Result<(String, MatValue)> {
    let mut r = Reader {
        bytes: data,
        pos: 0,
        big_endian,
        path,
    };
    if data.is_empty() {
        return Ok((
            String::new(),
            MatValue::Numeric {
                dims: vec![0, 0],
                data: Numeric::F64(vec![]),
            },
        ));
    }
    let (_, flags) = r.element()?;
    if flags.len() < 8 {
        return Err(r.bad("array flags shorter than 8 bytes".into()));
    }
    let flag_word = if big_endian {
        u32::from_be_bytes(flags[0..4].try_into().expect("4"))
    } else {
        u32::from_le_bytes(flags[0..4].try_into().expect("4"))
    };
    let class = (flag_word & 0xff) as u8;
    let (dims_type, dims_bytes) = r.element()?;
    let dims: Vec<usize> = numbers(dims_type, dims_bytes, big_endian)
        .ok_or_else(|| r.bad("unreadable dimensions".into()))?
        .into_iter()
        .map(|d| d as usize)
        .collect();
    let count: usize = dims.iter().product();
    let (_, name_bytes) = r.element()?;
    let name = String::from_utf8_lossy(name_bytes)
        .trim_end_matches('\0')
        .to_string();
    let value = match class {
        MX_CELL => {
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (kind, sub) = r.element()?;
                if kind != MI_MATRIX {
                    return Err(r.bad(format!("cell element of type {kind}")));
                }
                items.push(parse_matrix(sub, big_endian, path)?.1);
            }
            MatValue::Cell { dims, items }
        }
        MX_STRUCT => {
            let (t, len_bytes) = r.element()?;
            let field_len = numbers(t, len_bytes, big_endian)
                .and_then(|v| v.first().copied())
                .ok_or_else(|| r.bad("unreadable struct field-name length".into()))?
                as usize;
            let (_, names) = r.element()?;
            let fields: Vec<String> = if field_len == 0 {
                vec![]
            } else {
                names
                    .chunks(field_len)
                    .map(|c| {
                        String::from_utf8_lossy(c)
                            .trim_end_matches('\0')
                            .to_string()
                    })
                    .collect()
            };
            let mut elements = Vec::with_capacity(count);
            for _ in 0..count {
                let mut values = Vec::with_capacity(fields.len());
                for _ in &fields {
                    let (kind, sub) = r.element()?;
                    if kind != MI_MATRIX {
                        return Err(r.bad(format!("struct field of type {kind}")));
                    }
                    values.push(parse_matrix(sub, big_endian, path)?.1);
                }
                elements.push(values);
            }
            MatValue::Struct {
                dims,
                fields,
                elements,
            }
        }
        MX_CHAR => {
            let (t, bytes) = r.element()?;
            let text = match t {
                MI_UTF8 | MI_UINT8 | MI_INT8 => String::from_utf8_lossy(bytes).into_owned(),
                MI_UTF16 | MI_UINT16 => {
                    let units = numbers(MI_UINT16, bytes, big_endian).unwrap_or_default();
                    String::from_utf16_lossy(&units.iter().map(|&u| u as u16).collect::<Vec<_>>())
                }
                MI_UTF32 | MI_UINT32 | MI_INT32 => numbers(t, bytes, big_endian)
                    .unwrap_or_default()
                    .iter()
                    .map(|&c| char::from_u32(c as u32).unwrap_or('\u{fffd}'))
                    .collect(),
                other => return Err(r.bad(format!("char data of type {other}"))),
            };
            MatValue::Char { dims, text }
        }
        MX_OBJECT | MX_SPARSE => {
            return Err(r.bad(format!(
                "variable '{name}' is a {} array, which is not supported",
                if class == MX_OBJECT {
                    "object"
                } else {
                    "sparse"
                }
            )));
        }
        6..=15 => {
            let (t, bytes) = r.element()?;
            let data = if class == MX_UINT8 && t == MI_UINT8 {
                Numeric::U8(bytes.to_vec())
            } else {
                Numeric::F64(
                    numbers(t, bytes, big_endian)
                        .ok_or_else(|| r.bad(format!("numeric data of type {t}")))?,
                )
            };
            let n = match &data {
                Numeric::U8(v) => v.len(),
                Numeric::F64(v) => v.len(),
            };
            if n != count {
                return Err(r.bad(format!(
                    "variable '{name}' has {n} values for dimensions {dims:?}"
                )));
            }
            MatValue::Numeric { dims, data }
        }
        other => return Err(r.bad(format!("variable '{name}' has unknown class {other}"))),
    };
    Ok((name, value))
}

/// Decodes a numeric data element to f64.
fn numbers(kind: u32, bytes: &[u8], big_endian: bool) -> Option<Vec<f64>> {
    macro_rules! decode {
        ($t:ty, $n:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().expect("chunk");
                    (if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f64
                })
                .collect()
        };
    }
    Some(match kind {
        MI_INT8 => bytes.iter().map(|&b| f64::from(b as i8)).collect(),
        MI_UINT8 => bytes.iter().map(|&b| f64::from(b)).collect(),
        MI_INT16 => decode!(i16, 2),
        MI_UINT16 => decode!(u16, 2),
        MI_INT32 => decode!(i32, 4),
        MI_UINT32 => decode!(u32, 4),
        MI_SINGLE => decode!(f32, 4),
        MI_DOUBLE => decode!(f64, 8),
        MI_INT64 => decode!(i64, 8),
        MI_UINT64 => decode!(u64, 8),
        _ => return None,
    })
}
