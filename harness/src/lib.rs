//! The cortexbench harness: run configs, the scoring protocol, the zoo cache and run folders,
//! wiring `brain-data` and `model-zoo` into `evaluators` and `reports`. The `harness` binary
//! is a thin command line over [`commands`].

// The doc comments of clap's argument structs are `--help` text, where `<cache>/zoo` is
// meant literally, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

mod candidates;
mod ceilings;
pub mod commands;
mod comparison;
pub mod data_args;
mod geometry;
mod memory;
pub mod npy_input;
mod output_dir;
pub mod protocol;
mod run;
pub mod run_config;
pub mod run_dir;
mod run_manifest;
mod scoring;
mod training_data;
mod vectorized_zoo;
mod zoo_cache;
