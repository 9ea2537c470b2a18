//! Primate recordings and their stimuli: a catalog of datasets pinned by sha256, a verified
//! local store (cache, mirror, download), and loaders into typed assemblies.
//!
//! ```no_run
//! use brain_data::{Catalog, DataStore};
//! let catalog = Catalog::builtin();
//! let store = DataStore::from_env(None)?;
//! let path = store.resolve(catalog.dataset("kriegeskorte2008-92images")?, "92_brainRDMs.mat")?;
//! # Ok::<(), brain_data::DataError>(())
//! ```

pub mod assembly;
pub mod benchmarks;
pub mod catalog;
mod download;
mod error;
pub mod loaders;
mod lock;
pub mod matv5;
pub mod preprocess;
pub mod store;
mod verify;

pub use assembly::{NamedRdm, NeuralAssembly, Neuroid, RdmAssembly, StimulusSet};
pub use benchmarks::{
    BenchmarkData, BenchmarkSpec, CeilingSpec, NiliBound, TargetData, TargetKind, TargetSpec,
};
pub use catalog::{Catalog, Dataset, FileEntry};
pub use download::DownloadOptions;
pub use error::{DataError, Result};
pub use lock::CacheLock;
pub use preprocess::{Channels, Normalization, Preprocessing, ResizeFilter, VisualDegrees};
pub use store::{DataStore, FetchSummary, Location};
pub use verify::sha256_file;
