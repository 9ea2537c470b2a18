//! One module per dataset, turning its files into typed assemblies, and the table of
//! benchmark target sources ([`TARGET_SOURCES`]) that `benchmarks.yaml` names.
//!
//! A new dataset is a module here, a row in [`TARGET_SOURCES`] when benchmarks score against
//! it, its entry in `catalog/datasets.yaml` with its `catalog/<id>.sums`, and its benchmarks
//! in `catalog/benchmarks.yaml`.

pub mod cifar10;
pub mod cowley2023;
pub mod fashion_mnist;
pub mod kriegeskorte2008;
pub mod tang2018;

use std::path::PathBuf;

use crate::assembly::StimulusSet;
use crate::benchmarks::{TargetData, TargetKind, TargetSpec};
use crate::catalog::{Catalog, Dataset};
use crate::error::Result;
use crate::store::DataStore;

/// Loads a source's stimuli or target with the options a benchmark gives it.
pub type LoadFn<T> = fn(&DataStore, &Catalog, &TargetSpec) -> Result<T>;

/// Where a benchmark's neural data comes from (`target: {source: <name>, <options>}`).
pub struct TargetSource {
    /// The name in `benchmarks.yaml`.
    pub name: &'static str,
    /// The options it requires (all strings), e.g. a session id.
    pub options: &'static [&'static str],
    /// What its target is.
    pub kind: TargetKind,
    /// Its stimuli, in target order.
    pub stimuli: LoadFn<StimulusSet>,
    /// Its neural target.
    pub target: LoadFn<TargetData>,
}

/// Every target source, by name.
pub const TARGET_SOURCES: &[TargetSource] = &[
    TargetSource {
        name: "kiani2007_monkey_it",
        options: &[],
        kind: TargetKind::Rdms,
        stimuli: |store, catalog, _| kriegeskorte2008::stimuli(store, catalog),
        target: |store, catalog, _| {
            Ok(TargetData::Rdms(kriegeskorte2008::monkey_it_rdm(
                store, catalog,
            )?))
        },
    },
    TargetSource {
        name: "kriegeskorte2008_human_it",
        options: &[],
        kind: TargetKind::Rdms,
        stimuli: |store, catalog, _| kriegeskorte2008::stimuli(store, catalog),
        target: |store, catalog, _| {
            Ok(TargetData::Rdms(kriegeskorte2008::human_it_rdms(
                store, catalog,
            )?))
        },
    },
    TargetSource {
        name: "cowley2023",
        options: &["session"],
        kind: TargetKind::Responses,
        stimuli: |store, catalog, spec| {
            cowley2023::stimuli(store, catalog, spec.option("session")?)
        },
        target: |store, catalog, spec| {
            let session = spec.option("session")?;
            let repeats = cowley2023::sessions_with_repeats(catalog)?
                .iter()
                .any(|s| s == session);
            Ok(TargetData::Responses(cowley2023::responses(
                store, catalog, session, repeats,
            )?))
        },
    },
    TargetSource {
        name: "tang2018",
        options: &[],
        kind: TargetKind::Responses,
        stimuli: |store, catalog, _| tang2018::stimuli(store, catalog),
        target: |store, catalog, _| Ok(TargetData::Responses(tang2018::responses(store, catalog)?)),
    },
];

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
