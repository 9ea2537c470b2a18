//! `harness compare`, `harness merge` and `harness reproduce`: what to do with finished runs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use reports::Status;

use crate::data_args::DataArgs;
use crate::run_config::RunConfig;
use crate::run_dir::{RunDir, RunOutputs, leaderboard_at};
use crate::run_manifest::RunManifest;

/// Arguments of `harness compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The reference leaderboard: an earlier run's folder or its leaderboard.json.
    pub old: PathBuf,
    /// The new leaderboard: a run folder or its leaderboard.json.
    pub new: PathBuf,
    /// Largest drop of a score that still passes.
    #[arg(long, default_value_t = 0.01)]
    pub tolerance: f64,
    /// Fail on a drop only when it exceeds the tolerance and the interval of the change
    /// (from both entries' 95 % intervals) excludes zero.
    #[arg(long)]
    pub significant: bool,
}

/// Prints the difference table; fails when a score dropped beyond the tolerance (and, with
/// `--significant`, beyond noise) or an entry disappeared.
pub fn compare(args: &CompareArgs) -> Result<ExitCode> {
    if args.tolerance.is_nan() || args.tolerance < 0.0 {
        bail!("--tolerance must be a non-negative number");
    }
    let old = leaderboard_at(&args.old)?;
    let new = leaderboard_at(&args.new)?;
    let differences = reports::compare(&old, &new, args.tolerance, args.significant);
    print!("{}", reports::difference_table(&differences));
    let noise = differences
        .iter()
        .filter(|d| d.status == Status::WithinNoise)
        .count();
    if noise > 0 {
        eprintln!(
            "{noise} drops beyond {} are within noise (their interval includes no change)",
            args.tolerance
        );
    }
    let failed = differences
        .iter()
        .filter(|d| matches!(d.status, Status::Dropped | Status::Missing))
        .count();
    if failed > 0 {
        eprintln!(
            "{failed} of {} entries dropped by more than {} or disappeared",
            differences.len(),
            args.tolerance
        );
        return Ok(ExitCode::FAILURE);
    }
    if args.significant {
        eprintln!(
            "no score dropped significantly by more than {}",
            args.tolerance
        );
    } else {
        eprintln!("no score dropped by more than {}", args.tolerance);
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `harness merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Output folders of `harness score --shard i/n` runs.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged results, leaderboard and report go.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an output folder that already holds files.
    #[arg(long)]
    pub overwrite: bool,
}

/// Models whose checkpoint or ONNX file is not the one the run scored.
fn model_drift(run: &RunManifest, rerun: &RunManifest) -> Vec<String> {
    run.models
        .iter()
        .filter_map(|old| {
            let new = rerun.models.iter().find(|m| m.name == old.name)?;
            (old.sha256 != new.sha256).then(|| {
                format!(
                    "{}: {} is not the file the run scored (sha256 {} -> {}); \
                     point --zoo at the run's zoo to reuse its trained models",
                    old.name,
                    new.source,
                    old.sha256.as_deref().unwrap_or("none"),
                    new.sha256.as_deref().unwrap_or("none")
                )
            })
        })
        .collect()
}

/// Refuses a merge that is missing a shard, repeats one, or mixes shardings.
fn check_shards_cover_the_run(manifests: &[RunManifest]) -> Result<()> {
    let shards: Vec<[usize; 2]> = manifests
        .iter()
        .map(|m| {
            m.shard.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} is a whole run, not a shard (it was run without --shard)",
                    m.config.out.display()
                )
            })
        })
        .collect::<Result<_>>()?;
    let n = shards[0][1];
    if let Some(other) = shards.iter().find(|s| s[1] != n) {
        bail!("shards of {n} and of {} cannot be merged", other[1]);
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !shards.iter().any(|s| s[0] == *i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard {} missing; merge every shard of the run",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Combines shard outputs into one set of results, leaderboard and report.
pub fn merge(args: &MergeArgs) -> Result<()> {
    let out = RunDir::new(&args.out);
    out.check_writable(args.overwrite)?;
    let shards: Vec<RunDir> = args.shards.iter().map(RunDir::new).collect();
    for shard in &shards {
        shard.check_complete()?;
    }
    let mut manifests = vec![];
    let mut merged: Option<RunOutputs> = None;
    for shard in &shards {
        let part = shard.read()?;
        manifests.push(part.manifest.clone());
        match &mut merged {
            None => merged = Some(part),
            Some(merged) => add_shard(merged, part)
                .with_context(|| format!("merging {}", shard.path().display()))?,
        }
    }
    let Some(mut merged) = merged else {
        bail!("no shards to merge");
    };
    merged.manifest = merged_manifest(&manifests, &args.out)?;
    out.write(&merged, args.overwrite)?;
    eprintln!(
        "merged {} shards ({} rows); report: {}",
        args.shards.len(),
        merged.rows.len(),
        args.out.join("report.html").display()
    );
    Ok(())
}

/// Adds one shard's tables to `merged`: rows (each once), the brain's RDM and geometry once
/// per benchmark's stimuli, Jacobian rows, bootstrap replicates and spectral rows.
fn add_shard(merged: &mut RunOutputs, part: RunOutputs) -> Result<()> {
    for row in &part.rows {
        if merged.rows.iter().any(|r| r.row_key() == row.row_key()) {
            bail!(
                "{} {} {} is also in another shard; merge each shard once",
                row.model,
                row.benchmark,
                row.layer
            );
        }
    }
    merged.rows.extend(part.rows);
    for panel in part.rdms.panels {
        // Every shard of a benchmark carries the brain's RDM; keep one.
        if !merged
            .rdms
            .panels
            .iter()
            .any(|p| p.benchmark == panel.benchmark && p.title == panel.title)
        {
            merged.rdms.panels.push(panel);
        }
    }
    for row in part.geometry {
        // Benchmarks on the same stimuli measure the same geometry; keep one.
        if !merged.geometry.iter().any(|g: &reports::GeometryRow| {
            (&g.model, &g.layer, &g.stimuli) == (&row.model, &row.layer, &row.stimuli)
        }) {
            merged.geometry.push(row);
        }
    }
    merged.jacobian.extend(part.jacobian);
    merged.replicates.extend(part.replicates);
    merged.spectral.extend(part.spectral);
    Ok(())
}

/// The manifest of the merged run: the shards' (one config, every shard of it) with their
/// models, benchmarks, data files and times combined.
fn merged_manifest(manifests: &[RunManifest], out: &std::path::Path) -> Result<RunManifest> {
    let Some(first) = manifests.first() else {
        bail!("no shards to merge");
    };
    let same_run = |m: &RunManifest| {
        RunConfig {
            out: first.config.out.clone(),
            ..m.config.clone()
        } == first.config
    };
    if let Some(other) = manifests.iter().find(|m| !same_run(m)) {
        bail!(
            "the shards come from different run configs ({} and {})",
            first.config.out.display(),
            other.config.out.display()
        );
    }
    check_shards_cover_the_run(manifests)?;
    let mut manifest = first.clone();
    manifest.config.out = out.to_path_buf();
    manifest.shard = None;
    manifest.elapsed_seconds = manifests.iter().map(|m| m.elapsed_seconds).sum();
    for m in &manifests[1..] {
        for model in &m.models {
            if !manifest.models.iter().any(|x| x.name == model.name) {
                manifest.models.push(model.clone());
            }
        }
        for benchmark in &m.benchmarks {
            match manifest
                .benchmarks
                .iter_mut()
                .find(|b| b.id == benchmark.id)
            {
                Some(known) => {
                    for entry in &benchmark.preprocessing {
                        if !known.preprocessing.contains(entry) {
                            known.preprocessing.push(entry.clone());
                        }
                    }
                }
                None => manifest.benchmarks.push(benchmark.clone()),
            }
        }
        for file in &m.data {
            if !manifest.data.contains(file) {
                manifest.data.push(file.clone());
            }
        }
        manifest.onnx_runtime = manifest.onnx_runtime.clone().or(m.onnx_runtime.clone());
    }
    Ok(manifest)
}

/// Arguments of `harness reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The manifest.yaml of a finished run (its results.json must be beside it).
    pub manifest: PathBuf,
    /// Where the rerun's outputs go (default: <run>/reproduction).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an output folder that already holds files.
    #[arg(long)]
    pub overwrite: bool,
    /// Run even when the estimated peak memory exceeds what is available.
    #[arg(long)]
    pub force: bool,
    /// Largest difference accepted when the rerun is not bit-identical (another machine).
    #[arg(long, default_value_t = 1e-6)]
    pub tolerance: f64,
    /// Where trained zoo models are cached (default: <cache>/zoo).
    #[arg(long)]
    pub zoo: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// Reruns a manifest's config and compares every score with the original.
pub fn reproduce(args: &ReproduceArgs) -> Result<ExitCode> {
    let run_dir = RunDir::new(args.manifest.parent().unwrap_or(std::path::Path::new(".")));
    let manifest = RunManifest::load(&args.manifest)?;
    let original = run_dir.results()?;
    let mut config = manifest.config.clone();
    config.out = args
        .out
        .clone()
        .unwrap_or_else(|| run_dir.path().join("reproduction"));
    let store = args.data.store()?;
    let zoo = crate::data_args::zoo_folder(args.zoo.as_deref(), &store);
    let rerun_dir = RunDir::new(&config.out);
    rerun_dir.check_writable(args.overwrite)?;
    let outputs = crate::run::execute(&config, manifest.shard, &store, &zoo, args.force)?;
    rerun_dir.write(&outputs, args.overwrite)?;
    let same_machine = outputs.manifest.machine.same_hardware(&manifest.machine);
    // On the same hardware a rerun must be bit-identical; elsewhere BLAS kernels may round
    // differently, and differences up to the tolerance pass.
    let tolerance = if same_machine { 0.0 } else { args.tolerance };
    let mut identical = 0;
    let mut within = vec![];
    let mut failures = model_drift(&manifest, &outputs.manifest);
    for old in &original {
        let Some(new) = outputs.rows.iter().find(|r| r.row_key() == old.row_key()) else {
            failures.push(format!(
                "{} {} {}: missing from the rerun",
                old.model, old.benchmark, old.layer
            ));
            continue;
        };
        let pairs = [
            ("raw", Some(old.raw), Some(new.raw)),
            ("normalized", old.normalized, new.normalized),
            ("ceiling", old.ceiling, new.ceiling),
            (
                "selection",
                Some(old.selection_score),
                Some(new.selection_score),
            ),
        ];
        let (field, worst) = pairs
            .iter()
            .map(|(field, a, b)| {
                let gap = match (a, b) {
                    (Some(a), Some(b)) if a.to_bits() == b.to_bits() => 0.0,
                    (Some(a), Some(b)) => (a - b).abs(),
                    (None, None) => 0.0,
                    _ => f64::INFINITY,
                };
                (*field, gap)
            })
            .fold(
                ("raw", 0.0f64),
                |worst, next| {
                    if next.1 > worst.1 { next } else { worst }
                },
            );
        let same_choice = old.selected == new.selected;
        let line = format!(
            "{} {} {}: {field} differs by {worst:.3e}{}",
            old.model,
            old.benchmark,
            old.layer,
            if same_choice {
                ""
            } else {
                "; another layer was chosen"
            }
        );
        if worst == 0.0 && same_choice {
            identical += 1;
        } else if worst <= tolerance && same_choice {
            within.push(line);
        } else {
            failures.push(line);
        }
    }
    println!(
        "{} rows: {identical} bit-identical, {} within {tolerance}, {} differ ({})",
        original.len(),
        within.len(),
        failures.len(),
        if same_machine {
            "same hardware: bit-identical required"
        } else {
            "other hardware: tolerance applies"
        }
    );
    for line in &within {
        println!("  within tolerance: {line}");
    }
    for line in &failures {
        println!("  DIFFERS: {line}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
