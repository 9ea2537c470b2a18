//! A run folder: what `harness score` writes, and what `merge`, `reproduce` and `compare` read
//! back. Every file of a run is named here, and written and read through [`RunDir`] alone.
//!
//! | file | holds |
//! |---|---|
//! | `results.{json,csv,parquet}` | every scored layer ([`ScoreRow`]) |
//! | `leaderboard.{json,md,csv,parquet}`, `pairwise.*`, `groups.*` | the leaderboard with intervals, pairwise tests, tied groups |
//! | `bootstrap.json` | bootstrap replicates of every chosen layer |
//! | `rdms.json` | RDM panels ([`RdmFigures`]) |
//! | `geometry.*`, `jacobian_alignment.*` | population geometry |
//! | `spectral.*` | the spectral theory of neural prediction per layer and response target |
//! | `manifest.yaml` | config, data files, models, machine ([`RunManifest`]) |
//! | `report.html` | the report |

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reports::{Leaderboard, RdmPanel, ReportInputs, ScoreRow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::run_manifest::RunManifest;

/// A run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

/// Everything a run produces, before it is written.
pub struct RunOutputs {
    /// Every scored layer.
    pub rows: Vec<ScoreRow>,
    /// RDM figures.
    pub rdms: RdmFigures,
    /// The manifest.
    pub manifest: RunManifest,
    /// Capacity and dimensionality per model, layer and labelled stimulus set.
    pub geometry: Vec<reports::GeometryRow>,
    /// Jacobian–manifold alignment per zoo model, layer and k.
    pub jacobian: Vec<reports::JacobianRow>,
    /// Bootstrap replicates of every network's chosen layer on every benchmark.
    pub replicates: Vec<reports::BootstrapReplicates>,
    /// The spectral theory of neural prediction per model, layer and response target.
    pub spectral: Vec<reports::SpectralRow>,
}

/// The RDM panels of a run (kept beside the results so that `harness merge` can redraw them).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RdmFigures {
    /// The brain's RDM and the chosen layer's RDM of each model on each RSA benchmark.
    pub panels: Vec<RdmFigure>,
}

/// One RDM of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RdmFigure {
    /// The benchmark whose stimuli it is over.
    pub benchmark: String,
    /// Heatmap title.
    pub title: String,
    /// Stimuli.
    pub n: usize,
    /// Upper triangle, row-major, diagonal excluded.
    pub condensed: Vec<f64>,
    /// The model layer's headline score; `None` for the brain's RDM.
    pub score: Option<f64>,
}

impl RdmFigures {
    /// The brain RDM and the best-scoring model's RDM of every benchmark.
    pub fn report_panels(&self) -> Vec<RdmPanel> {
        let mut benchmarks: Vec<&str> = self.panels.iter().map(|p| p.benchmark.as_str()).collect();
        benchmarks.sort_unstable();
        benchmarks.dedup();
        let mut out = vec![];
        for b in benchmarks {
            let of = || self.panels.iter().filter(move |p| p.benchmark == b);
            let brain = of().find(|p| p.score.is_none());
            let best = of()
                .filter_map(|p| Some((p, p.score?)))
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(p, _)| p);
            for p in brain.into_iter().chain(best) {
                out.push(RdmPanel {
                    title: p.title.clone(),
                    n: p.n,
                    condensed: p.condensed.clone(),
                });
            }
        }
        out
    }
}

impl RunDir {
    /// The run folder at `path` (nothing is read or created yet).
    pub fn new(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses, before any work, a folder that holds files unless `overwrite`.
    pub fn check_writable(&self, overwrite: bool) -> Result<()> {
        crate::output_dir::check_target(&self.path, overwrite)
    }

    /// Writes every output of a run: into a staging folder first, which replaces the folder
    /// only once complete. Returns the leaderboard.
    pub fn write(&self, outputs: &RunOutputs, overwrite: bool) -> Result<Leaderboard> {
        crate::output_dir::write_staged(&self.path, overwrite, |dir| write_outputs(dir, outputs))
    }

    /// Refuses a folder that is not a finished run (a staging folder, or one without its
    /// manifest).
    pub fn check_complete(&self) -> Result<()> {
        crate::output_dir::check_complete_run(&self.path)
    }

    /// Every scored layer.
    pub fn results(&self) -> Result<Vec<ScoreRow>> {
        Ok(reports::read_results(&self.path.join("results.json"))?)
    }

    /// The manifest.
    pub fn manifest(&self) -> Result<RunManifest> {
        RunManifest::load(&self.path.join("manifest.yaml"))
    }

    /// The leaderboard.
    pub fn leaderboard(&self) -> Result<Leaderboard> {
        Ok(Leaderboard::load(&self.path.join("leaderboard.json"))?)
    }

    /// Everything the run wrote that a merge needs, read back. Tables that runs before them
    /// did not write (geometry, Jacobian alignment, bootstrap replicates) read as empty.
    pub fn read(&self) -> Result<RunOutputs> {
        Ok(RunOutputs {
            rows: self.results()?,
            rdms: self.json("rdms.json", "RDM figures")?,
            manifest: self.manifest()?,
            geometry: self.optional_json("geometry.json")?,
            jacobian: self.optional_json("jacobian_alignment.json")?,
            replicates: self.optional_json("bootstrap.json")?,
            spectral: self.optional_json("spectral.json")?,
        })
    }

    fn json<T: DeserializeOwned>(&self, name: &str, what: &str) -> Result<T> {
        let path = self.path.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not cortexbench {what}", path.display()))
    }

    fn optional_json<T: DeserializeOwned>(&self, name: &str) -> Result<Vec<T>> {
        if !self.path.join(name).exists() {
            return Ok(vec![]);
        }
        self.json(name, "table")
    }
}

/// The leaderboard at `path`: a run folder or its `leaderboard.json`.
pub fn leaderboard_at(path: &Path) -> Result<Leaderboard> {
    if path.is_dir() {
        RunDir::new(path).leaderboard()
    } else {
        Ok(Leaderboard::load(path)?)
    }
}

/// Writes results (Parquet, CSV, JSON), the leaderboard with its intervals, pairwise tests and
/// tied groups (JSON, Markdown, Parquet, CSV), the bootstrap replicates, RDM figures, manifest
/// and report into `out` (a staging folder, see `output_dir`); returns the
/// leaderboard.
fn write_outputs(out: &Path, outputs: &RunOutputs) -> Result<reports::Leaderboard> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    reports::write_results(out, &outputs.rows)?;
    let config = &outputs.manifest.config;
    let board = crate::comparison::leaderboard(
        &outputs.rows,
        &outputs.replicates,
        config.statistics,
        config.seed,
    );
    board.save(&out.join("leaderboard.json"))?;
    reports::write_leaderboard_tables(out, &board)?;
    reports::write_atomically(
        &out.join("bootstrap.json"),
        serde_json::to_string(&outputs.replicates)?.as_bytes(),
    )?;
    reports::write_atomically(&out.join("leaderboard.md"), board.markdown().as_bytes())?;
    reports::write_atomically(
        &out.join("rdms.json"),
        serde_json::to_string(&outputs.rdms)?.as_bytes(),
    )?;
    reports::write_geometry(out, &outputs.geometry, &outputs.jacobian)?;
    reports::write_spectral(out, &outputs.spectral)?;
    let manifest = serde_norway::to_string(&outputs.manifest)?;
    reports::write_atomically(&out.join("manifest.yaml"), manifest.as_bytes())?;
    // The report shows the manifest without its list of data files (tens of thousands of
    // sha256 lines for the pattern benchmarks), which stays in manifest.yaml.
    let mut shown = outputs.manifest.clone();
    let files = std::mem::take(&mut shown.data).len();
    let shown = format!(
        "# data: {files} files, each with its pinned sha256, listed in manifest.yaml\n{}",
        serde_norway::to_string(&shown)?
    );
    let title = match outputs.manifest.shard {
        Some([i, n]) => format!("cortexbench run (shard {i}/{n})"),
        None => "cortexbench run".to_string(),
    };
    reports::write_report(
        &out.join("report.html"),
        &ReportInputs {
            title,
            rows: outputs.rows.clone(),
            leaderboard: Some(board.clone()),
            rdms: outputs.rdms.report_panels(),
            geometry: outputs.geometry.clone(),
            jacobian: outputs.jacobian.clone(),
            spectral: outputs.spectral.clone(),
            manifest: shown,
        },
    )?;
    Ok(board)
}
