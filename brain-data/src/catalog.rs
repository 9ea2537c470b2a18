//! The catalog of datasets: what each is, where it comes from, and the pinned size and sha256
//! of every file. Shipped in the crate (`catalog/datasets.yaml` and `catalog/<id>.sums`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Where a dataset's files come from upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `owner/name` of the repository.
    pub repository: String,
    /// The pinned commit.
    pub commit: String,
}

/// One file of a dataset, pinned by size and content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the dataset folder (also its sub-path in mirrors and the cache).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    pub sha256: String,
}

/// A dataset of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Stable id, e.g. `cowley2023-v4`.
    pub id: String,
    /// What the data is.
    pub description: String,
    /// How to cite it.
    pub citation: String,
    /// Its license.
    pub license: String,
    /// Brain regions recorded (empty for training data).
    pub regions: Vec<String>,
    /// Species recorded.
    pub species: Vec<String>,
    /// Upstream repository and pinned commit.
    pub upstream: Upstream,
    /// URL prefix of the files upstream; a file's URL is this plus its path.
    pub base_url: String,
    /// URLs of files that do not follow `base_url`, by path.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    /// A system folder that may hold the files (e.g. a Debian data package).
    #[serde(default)]
    pub system_dir: Option<PathBuf>,
    /// The dataset's folder in a mirror, when it is not the id (e.g. `cifar10-jpeg`).
    #[serde(default)]
    pub mirror_folder: Option<String>,
    /// Every file, from `<id>.sums`.
    #[serde(default)]
    pub files: Vec<FileEntry>,
}

impl Dataset {
    /// The pinned entry of a file.
    pub fn file(&self, path: &str) -> Result<&FileEntry> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| DataError::UnknownFile {
                dataset: self.id.clone(),
                path: path.to_string(),
            })
    }

    /// The upstream URL of a file.
    pub fn url(&self, file: &FileEntry) -> String {
        self.urls
            .get(&file.path)
            .cloned()
            .unwrap_or_else(|| format!("{}{}", self.base_url, file.path))
    }

    /// The dataset's folder in a mirror: `mirror_folder`, else the id.
    pub fn mirror_name(&self) -> &str {
        self.mirror_folder.as_deref().unwrap_or(&self.id)
    }

    /// Total size of all files in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// All known datasets.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    datasets: Vec<Dataset>,
}

const DATASETS_YAML: &str = include_str!("../catalog/datasets.yaml");
// `SUMS`: every `catalog/<id>.sums`, embedded by the build script.
include!(concat!(env!("OUT_DIR"), "/sums.rs"));

impl Catalog {
    /// The catalog shipped with cortexbench.
    pub fn builtin() -> Catalog {
        Catalog::parse(DATASETS_YAML, |id| {
            SUMS.iter()
                .find(|(name, _)| *name == id)
                .map(|(_, text)| text.to_string())
        })
        .expect("the shipped catalog is valid (checked by tests)")
    }

    /// Parses a catalog from its YAML and a source of `<id>.sums` texts (lines of
    /// `<sha256> <size> <path>`).
    pub fn parse(yaml: &str, sums: impl Fn(&str) -> Option<String>) -> Result<Catalog> {
        let mut datasets: Vec<Dataset> =
            serde_norway::from_str(yaml).map_err(|e| DataError::Catalog {
                what: "datasets.yaml".into(),
                message: e.to_string(),
            })?;
        for d in &mut datasets {
            let text = sums(&d.id).ok_or_else(|| DataError::Catalog {
                what: format!("{}.sums", d.id),
                message: "missing".into(),
            })?;
            d.files = parse_sums(&text, &d.id)?;
        }
        Ok(Catalog { datasets })
    }

    /// Every dataset, in catalog order.
    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    /// The dataset with this id.
    pub fn dataset(&self, id: &str) -> Result<&Dataset> {
        self.datasets
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| DataError::UnknownDataset {
                id: id.to_string(),
                known: self
                    .datasets
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn parse_sums(text: &str, id: &str) -> Result<Vec<FileEntry>> {
    let bad = |line: usize, message: String| DataError::Catalog {
        what: format!("{id}.sums line {line}"),
        message,
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let mut parts = line.splitn(3, ' ');
            let (Some(sha), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(i + 1, "expected '<sha256> <size> <path>'".into()));
            };
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(i + 1, format!("'{sha}' is not a sha256")));
            }
            if path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
            {
                return Err(bad(i + 1, format!("'{path}' is not a plain relative path")));
            }
            Ok(FileEntry {
                path: path.to_string(),
                size: size
                    .parse()
                    .map_err(|_| bad(i + 1, format!("size '{size}' is not a number")))?,
                sha256: sha.to_ascii_lowercase(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_sums_file_belongs_to_a_catalog_dataset() {
        let catalog = Catalog::builtin();
        assert_eq!(SUMS.len(), catalog.datasets().len());
        for (id, text) in SUMS {
            assert!(
                catalog.dataset(id).is_ok(),
                "{id}.sums has no dataset entry"
            );
            assert!(!text.is_empty(), "{id}.sums is empty");
        }
    }

    #[test]
    fn builtin_catalog_pins_every_file_of_the_five_datasets() {
        let catalog = Catalog::builtin();
        let ids: Vec<&str> = catalog.datasets().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "kriegeskorte2008-92images",
                "cowley2023-v4",
                "tang2018-v1",
                "fashion-mnist",
                "cifar10"
            ]
        );
        let k = catalog.dataset("kriegeskorte2008-92images").unwrap();
        assert!(k.file("92_brainRDMs.mat").is_ok());
        assert_eq!(
            k.url(k.file("LICENSE").unwrap()),
            "https://raw.githubusercontent.com/rsagroup/rsatoolbox/f1f83cadb7243492a1aae7460466e0f0140b20ac/LICENSE"
        );
        let tang = catalog.dataset("tang2018-v1").unwrap();
        assert_eq!(
            tang.files
                .iter()
                .filter(|f| f.path.ends_with(".png"))
                .count(),
            9500
        );
        assert!(tang.url(tang.file("data/stimuli/pattern/1.png").unwrap()).ends_with(
            "Fixed_Kernel_CNN/345129ecbd94ae49d3985f79f83999b33f6398c4/data/stimuli/pattern/1.png"
        ));
        let cowley = catalog.dataset("cowley2023-v4").unwrap();
        assert_eq!(
            cowley
                .files
                .iter()
                .filter(|f| f.path.starts_with("images/"))
                .count(),
            12
        );
        let cifar = catalog.dataset("cifar10").unwrap();
        assert_eq!(cifar.mirror_name(), "cifar10-jpeg");
        for (part, per_class) in [("train/", 5000), ("test/", 1000)] {
            assert_eq!(
                cifar
                    .files
                    .iter()
                    .filter(|f| f.path.starts_with(part) && f.path.ends_with(".jpg"))
                    .count(),
                10 * per_class
            );
        }
        assert!(
            cifar
                .url(cifar.file("upstream_readme.md").unwrap())
                .ends_with("d7d05618061fe37d830fb0419063d113c575ccbc/README.md")
        );
    }

    #[test]
    fn unknown_ids_and_bad_sums_are_errors() {
        let err = Catalog::builtin()
            .dataset("majaj2015")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("majaj2015") && err.contains("cowley2023-v4"),
            "{err}"
        );
        let yaml = "- {id: x, description: d, citation: c, license: l, regions: [], species: [],\n   upstream: {repository: a/b, commit: c}, base_url: 'http://h/'}";
        assert!(Catalog::parse(yaml, |_| Some("abc 12 f.bin".into())).is_err());
        let good = format!("{} 12 f.bin", "a".repeat(64));
        assert!(Catalog::parse(yaml, |_| Some(good.clone())).is_ok());
        let escaping = format!("{} 12 ../f.bin", "a".repeat(64));
        assert!(Catalog::parse(yaml, |_| Some(escaping.clone())).is_err());
    }
}
