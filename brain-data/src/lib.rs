//! Dataset catalog, verified downloads, loaders for primate recordings, and stimuli.
//!
//! Not implemented yet: see the brain-data issue.
