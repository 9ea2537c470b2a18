//! The model-zoo manifest (YAML): every trained model with its rule, architecture, data, seed,
//! epochs, accuracy and checkpoint hash.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::write_atomically;
use crate::error::{Result, ZooError};

/// One trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Unique name, e.g. `bp-mlp-s1`.
    pub name: String,
    /// Learning rule.
    pub rule: String,
    /// Architecture, e.g. `mlp-784-256-256-256-10-tanh`.
    pub architecture: String,
    /// Training data.
    pub data: String,
    /// Seed.
    pub seed: u64,
    /// Epochs trained.
    pub epochs: usize,
    /// Final test accuracy.
    pub test_accuracy: f32,
    /// Checkpoint path, relative to the manifest.
    pub checkpoint: String,
    /// sha256 of the checkpoint file.
    pub sha256: String,
}

/// All entries, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The models.
    pub models: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads a manifest; a missing file is an empty manifest.
    pub fn load(path: &Path) -> Result<Manifest> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                serde_norway::from_str(&text).map_err(|e| ZooError::bad_file(path, e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(ZooError::io(path, e)),
        }
    }

    /// Adds an entry, replacing one of the same name.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        match self.models.iter_mut().find(|m| m.name == entry.name) {
            Some(existing) => *existing = entry,
            None => self.models.push(entry),
        }
    }

    /// Writes the manifest atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_norway::to_string(self).expect("serialisable");
        write_atomically(path, text.as_bytes())
    }
}
