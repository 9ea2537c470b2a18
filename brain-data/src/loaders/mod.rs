//! One module per dataset, turning its files into typed assemblies.

pub mod cifar10;
pub mod cowley2023;
pub mod fashion_mnist;
pub mod kriegeskorte2008;
pub mod tang2018;

use std::path::PathBuf;

use crate::catalog::{Catalog, Dataset};
use crate::error::Result;
use crate::store::DataStore;

/// A dataset's catalog entry and a store to resolve its files through.
pub(crate) struct Files<'a> {
    pub dataset: &'a Dataset,
    store: &'a DataStore,
}

impl<'a> Files<'a> {
    pub fn new(store: &'a DataStore, catalog: &'a Catalog, id: &str) -> Result<Self> {
        Ok(Self {
            dataset: catalog.dataset(id)?,
            store,
        })
    }

    /// A verified local path of one file.
    pub fn path(&self, path: &str) -> Result<PathBuf> {
        self.store.resolve(self.dataset, path)
    }
}
