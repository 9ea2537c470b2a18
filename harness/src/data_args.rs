//! Command-line options that several commands share: where data and trained models live.

use std::path::{Path, PathBuf};

use anyhow::Result;
use brain_data::DataStore;
use clap::Args;

/// Options shared by commands that read data.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Cache folder (default: $XDG_CACHE_HOME/cortexbench or ~/.cache/cortexbench).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Never download; use only the cache, CORTEXBENCH_MIRROR and system folders.
    #[arg(long, global = true)]
    pub offline: bool,
}

impl DataArgs {
    /// The data store these options describe.
    pub fn store(&self) -> Result<DataStore> {
        let store = DataStore::from_env(self.data_dir.clone())?;
        Ok(if self.offline {
            store.offline(true)
        } else {
            store
        })
    }
}

/// The zoo folder: `explicit` when given, else `zoo/` in the store's cache.
pub fn zoo_folder(explicit: Option<&Path>, store: &DataStore) -> PathBuf {
    match explicit {
        Some(dir) => dir.to_path_buf(),
        None => store.cache_dir().join("zoo"),
    }
}
