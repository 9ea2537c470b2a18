//! The zoo's training data sets as labelled matrices: Fashion-MNIST as [0, 1] gray pixels,
//! CIFAR-10 standardised per channel by its training set's statistics. A run loads each at
//! most once.

use std::sync::Arc;

use anyhow::{Context, Result};
use brain_data::loaders::{cifar10, fashion_mnist};
use brain_data::{Catalog, DataStore};
use model_zoo::{ChannelNormalization, LabelledData, TrainingData};

/// A data set's training and test parts, and how their pixels were standardised.
pub struct TrainingSets {
    /// The training part.
    pub train: LabelledData,
    /// The test part.
    pub test: LabelledData,
    /// Per-channel standardisation measured on `train` (none: [0, 1] pixels).
    pub normalization: Option<ChannelNormalization>,
}

/// Loads `data` through `store`.
pub fn load(store: &DataStore, data: TrainingData) -> Result<TrainingSets> {
    let catalog = Catalog::builtin();
    match data {
        TrainingData::FashionMnist => {
            let part = |part| -> Result<LabelledData> {
                let d =
                    fashion_mnist::load(store, &catalog, part).context("loading Fashion-MNIST")?;
                Ok(LabelledData::from_u8_images(&d.images, d.labels)?)
            };
            Ok(TrainingSets {
                train: part(fashion_mnist::Part::Train)?,
                test: part(fashion_mnist::Part::Test)?,
                normalization: None,
            })
        }
        TrainingData::Cifar10 => {
            let d = cifar10::load(store, &catalog).context("loading CIFAR-10")?;
            let normalization = ChannelNormalization::measure(d.train.images.view());
            let part = |images: cifar10::ColorImages| {
                LabelledData::from_rgb_images(
                    images.images.view(),
                    images.labels,
                    Some(&normalization),
                )
            };
            Ok(TrainingSets {
                train: part(d.train)?,
                test: part(d.test)?,
                normalization: Some(normalization),
            })
        }
    }
}

/// Data sets loaded on first use and kept for the rest of a run.
pub struct Loaded<'s> {
    store: &'s DataStore,
    sets: Vec<(TrainingData, Arc<TrainingSets>)>,
}

impl<'s> Loaded<'s> {
    /// Nothing loaded yet.
    pub fn new(store: &'s DataStore) -> Self {
        Self {
            store,
            sets: vec![],
        }
    }

    /// `data`, loaded now if this is its first use.
    pub fn get(&mut self, data: TrainingData) -> Result<Arc<TrainingSets>> {
        if let Some((_, sets)) = self.sets.iter().find(|(d, _)| *d == data) {
            return Ok(sets.clone());
        }
        let sets = Arc::new(load(self.store, data)?);
        self.sets.push((data, sets.clone()));
        Ok(sets)
    }
}
