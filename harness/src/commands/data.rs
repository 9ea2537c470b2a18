//! `harness datasets` and `harness fetch`: what data exists, and getting it verified.

use anyhow::{Context, Result};
use brain_data::{BenchmarkSpec, Catalog, DataStore, Dataset, Location, TargetData};
use clap::Args;

use crate::ceilings;
use crate::data_args::DataArgs;

/// Arguments of `harness datasets`.
#[derive(Args, Debug)]
pub struct DatasetsArgs {
    /// List the benchmarks instead, with their measured ceilings (loads each target).
    #[arg(long)]
    benchmarks: bool,
    #[command(flatten)]
    data: DataArgs,
}

/// Arguments of `harness fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Dataset ids (default: all).
    datasets: Vec<String>,
    #[command(flatten)]
    data: DataArgs,
}

/// Lists the catalog with size, license and where each dataset's files are.
pub fn datasets(args: &DatasetsArgs) -> Result<()> {
    let store = args.data.store()?;
    let catalog = Catalog::builtin();
    if args.benchmarks {
        return benchmarks(&store, &catalog);
    }
    println!(
        "{:<26} {:>6} {:>9}  {:<8} {:<30} local copy",
        "dataset", "files", "size", "regions", "license"
    );
    for d in catalog.datasets() {
        println!(
            "{:<26} {:>6} {:>9}  {:<8} {:<30} {}",
            d.id,
            d.files.len(),
            human_size(d.total_size()),
            if d.regions.is_empty() {
                "-".to_string()
            } else {
                d.regions.join(",")
            },
            truncate(&d.license, 30),
            availability(&store, d)
        );
    }
    println!("\ncache: {}", store.cache_dir().display());
    match store.mirror_description() {
        Some(m) => println!("mirror: {m}"),
        None => println!("mirror: none (set CORTEXBENCH_MIRROR to use one)"),
    }
    Ok(())
}

/// Makes datasets available locally, verified.
pub fn fetch(args: &FetchArgs) -> Result<()> {
    let store = args.data.store()?;
    let catalog = Catalog::builtin();
    let selected: Vec<&Dataset> = if args.datasets.is_empty() {
        catalog.datasets().iter().collect()
    } else {
        args.datasets
            .iter()
            .map(|id| catalog.dataset(id))
            .collect::<Result<_, _>>()?
    };
    for d in selected {
        let summary = store
            .fetch(d)
            .with_context(|| format!("fetching {}", d.id))?;
        println!(
            "{}: {} files verified ({} cached, {} from the mirror, {} from the system, {} downloaded)",
            d.id,
            d.files.len(),
            summary.cached,
            summary.mirror,
            summary.system,
            summary.downloaded
        );
    }
    Ok(())
}

fn benchmarks(store: &DataStore, catalog: &Catalog) -> Result<()> {
    println!(
        "{:<26} {:<26} {:<7} {:<9} {:>8} {:>8}  ceiling method",
        "benchmark", "dataset", "region", "metric", "stimuli", "ceiling"
    );
    for b in BenchmarkSpec::builtin() {
        let target = b
            .load_target(store, catalog)
            .with_context(|| format!("loading the target of {}", b.id))?;
        let n_stimuli = match &target {
            TargetData::Rdms(r) => r.stimulus_ids.len(),
            TargetData::Responses(r) => r.stimulus_ids.len(),
        };
        let ceiling = ceilings::measure(&b, &target)?;
        let value = match (ceiling.value, ceiling.sem) {
            (Some(v), _) => format!("{v:.4}"),
            (None, _) => "-".into(),
        };
        println!(
            "{:<26} {:<26} {:<7} {:<9} {:>8} {:>8}  {}",
            b.id,
            b.dataset,
            b.region,
            b.metric.name(),
            n_stimuli,
            value,
            ceiling.method
        );
    }
    Ok(())
}

fn availability(store: &DataStore, d: &Dataset) -> String {
    let (mut cache, mut mirror, mut system) = (0, 0, 0);
    for f in &d.files {
        match store.locate(d, f) {
            Location::Cache(_) => cache += 1,
            Location::Mirror(_) => mirror += 1,
            Location::System(_) => system += 1,
            Location::Missing => {}
        }
    }
    let total = d.files.len();
    let parts: Vec<String> = [(cache, "cached"), (mirror, "mirror"), (system, "system")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| {
            if *n == total {
                what.to_string()
            } else {
                format!("{n}/{total} {what}")
            }
        })
        .collect();
    if parts.is_empty() {
        "not fetched".into()
    } else {
        parts.join(", ")
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
