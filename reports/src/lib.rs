//! Leaderboards, plots and comparison of score tables.
//!
//! Not implemented yet: see the `harness score` issue.
