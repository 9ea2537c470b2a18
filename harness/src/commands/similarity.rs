//! `harness similarity`: score two `(stimuli, features)` representations with one metric, or
//! measure the geometry of one (manifold capacity, dimensionality).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use evaluators::predictivity::predictivity_on_splits;
use evaluators::{
    BootstrapOptions, CeilingNormalization, CkaKernel, CkaOptions, CompareMethod,
    ConfidenceInterval, CrossValidation, MetricSpec, NeuralTarget, RdmMethod, Regression,
    RidgeCvCriterion, SpectralOptions, Split,
};
use ndarray::{Array2, Array3, Ix2, Ix3};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::npy_input;

/// The metric to score with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Representational similarity analysis: RDM of x vs RDM of y.
    Rsa,
    /// Centered kernel alignment.
    Cka,
    /// Cross-validated PLS regression from x to y, Pearson r per column of y.
    Pls,
    /// Cross-validated ridge regression from x to y, Pearson r per column of y.
    Ridge,
    /// Mean-field manifold capacity of x's classes (--labels; no y): capacity, radius,
    /// dimension, centre correlation.
    Capacity,
    /// Effective dimensionality of x (no y): participation ratio (the score), dimension at
    /// 90 % variance, two-NN intrinsic dimension.
    Dimensionality,
    /// Principal angles between the top-k principal subspaces of x and y (same features).
    Angles,
    /// Alignment of x's class manifolds with y's (model vs brain, --labels) in the space of
    /// each class's stimuli.
    ManifoldAlignment,
    /// The spectral theory of neural prediction (Canatar et al. 2023): ridge from x to y
    /// decomposed over x's Gram eigenvectors; E_g(p) in theory and by simulation, the
    /// error-mode radius and dimension (score: the theory's E_g at the largest p; lower is
    /// better).
    Spectral,
    /// The metric of `--spec`.
    #[value(skip)]
    Spec,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Rsa => "rsa",
            Metric::Cka => "cka",
            Metric::Pls => "pls",
            Metric::Ridge => "ridge",
            Metric::Capacity => "capacity",
            Metric::Dimensionality => "dimensionality",
            Metric::Angles => "angles",
            Metric::ManifoldAlignment => "manifold_alignment",
            Metric::Spectral => "spectral",
            Metric::Spec => "spec",
        }
    }

    /// Whether the metric describes x alone.
    fn single_representation(self) -> bool {
        matches!(self, Metric::Capacity | Metric::Dimensionality)
    }
}

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `harness similarity`.
#[derive(Args, Debug)]
pub struct SimilarityArgs {
    /// Metric.
    #[arg(long, value_enum, required_unless_present = "spec")]
    metric: Option<Metric>,
    /// Any benchmark metric as YAML, in the words of `benchmarks.yaml` and run configs'
    /// `metrics:` (e.g. '{kind: predictivity, regression: {kind: ridge, alpha: 10}}'), scored
    /// exactly as a benchmark scores it; instead of --metric and its options.
    #[arg(long, conflicts_with = "metric")]
    spec: Option<String>,
    /// Model representation: .npy, float32/float64, (stimuli, features).
    #[arg(long)]
    x: PathBuf,
    /// Second representation or neural responses: .npy, (stimuli, features or neuroids); not
    /// for capacity or dimensionality.
    #[arg(long, conflicts_with = "y_rdm")]
    y: Option<PathBuf>,
    /// RSA against given RDMs instead of y's: .npy, one square (stimuli, stimuli) RDM or a
    /// stack (rdms, stimuli, stimuli) whose comparisons are averaged, as a benchmark with
    /// several subjects does (`harness extract` writes `target_rdms.npy`).
    #[arg(long)]
    y_rdm: Option<PathBuf>,
    /// Integer label per stimulus (.npy): PLS/ridge splits are stratified by it; capacity and
    /// manifold alignment group stimuli into manifolds by it.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Seed for splits and bootstrap resampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// RSA: dissimilarity measure (correlation, euclidean, cosine).
    #[arg(long, default_value = "correlation", value_parser = serde_name::<RdmMethod>)]
    rdm: RdmMethod,
    /// RSA: RDM comparison (spearman, pearson, tau-a, cosine, rho-a).
    #[arg(long, default_value = "spearman", value_parser = serde_name::<CompareMethod>)]
    compare: CompareMethod,

    /// CKA: kernel (linear or rbf).
    #[arg(long, default_value = "linear", value_parser = ["linear", "rbf"])]
    kernel: String,
    /// CKA: RBF bandwidth as a fraction of the median distance.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// CKA: use the biased HSIC estimator instead of the default debiased one.
    #[arg(long)]
    biased: bool,

    /// RSA/CKA: bootstrap resamples over stimuli for a confidence interval (0: none).
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// RSA/CKA: coverage of the bootstrap interval.
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,

    /// PLS: number of components.
    #[arg(long, default_value_t = 25)]
    components: usize,
    /// Ridge: fixed penalty; without it the penalty is chosen per split by cross-validation.
    /// Spectral: the penalty per training stimulus, relative to the trace of the Gram matrix
    /// over stimuli (default 1e-3).
    #[arg(long)]
    alpha: Option<f64>,
    /// Spectral: training-set sizes of the learning curves (default: ten from 5 % to 90 % of
    /// the stimuli).
    #[arg(long, value_delimiter = ',')]
    p: Option<Vec<usize>>,
    /// Spectral: random training sets per size for the empirical curve (0: theory only).
    #[arg(long, default_value_t = 5)]
    trials: usize,
    /// Spectral: do not centre x and y over stimuli.
    #[arg(long)]
    uncentred: bool,
    /// Ridge-CV: comma-separated penalty grid (default 1e-3 … 1e8, half-decade steps).
    #[arg(long, value_delimiter = ',')]
    alphas: Option<Vec<f64>>,
    /// Ridge-CV: selection criterion (leave_one_out or gcv).
    #[arg(long, default_value = "leave_one_out", value_parser = serde_name::<RidgeCvCriterion>)]
    cv_criterion: RidgeCvCriterion,
    /// Ridge-CV: choose the penalty separately for each neuroid.
    #[arg(long)]
    per_target: bool,
    /// PLS/ridge: number of random train/test splits.
    #[arg(long, default_value_t = 10)]
    splits: usize,
    /// PLS/ridge: fraction of stimuli held out per split.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// PLS/ridge: score one fixed split given as .npy indices (with --test-idx) instead.
    #[arg(long, requires = "test_idx")]
    train_idx: Option<PathBuf>,
    /// PLS/ridge: held-out indices of the fixed split.
    #[arg(long, requires = "train_idx")]
    test_idx: Option<PathBuf>,

    /// PLS/ridge: repeated responses (.npy, stimuli x neuroids x repetitions, NaN for missing
    /// repetitions) for a split-half ceiling and a ceiling-normalised score.
    #[arg(long)]
    repetitions: Option<PathBuf>,
    /// Capacity: margin κ.
    #[arg(long, default_value_t = 0.0)]
    kappa: f64,
    /// Capacity: Gaussian samples per manifold.
    #[arg(long, default_value_t = 200)]
    n_t: usize,
    /// Angles / manifold alignment: dimension of the compared subspaces.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Run even when the estimated peak memory exceeds what is available.
    #[arg(long)]
    force: bool,

    /// Ceiling normalisation: raw/ceiling, (raw/ceiling)^2 or raw^2/ceiling.
    #[arg(long, default_value = "raw/ceiling", value_parser = serde_name::<CeilingNormalization>)]
    normalization: CeilingNormalization,
    /// Number of random halvings for the split-half ceiling.
    #[arg(long, default_value_t = 10)]
    ceiling_splits: usize,
}

impl SimilarityArgs {
    /// The metric: `--metric`, or [`Metric::Spec`] for `--spec`.
    fn metric(&self) -> Metric {
        self.metric.unwrap_or(Metric::Spec)
    }

    /// `--spec`, read strictly and checked.
    fn metric_spec(&self) -> Result<MetricSpec> {
        let text = self.spec.as_deref().unwrap_or_default();
        let spec: MetricSpec = serde_norway::from_str(text)
            .with_context(|| format!("--spec '{text}' is not a metric specification"))?;
        spec.validate()
            .with_context(|| format!("--spec '{text}'"))?;
        Ok(spec)
    }
}

/// Parses a value by the serde name its type uses in configs and reports.
fn serde_name<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(s.to_string())).map_err(|_| format!("unknown value '{s}'"))
}

/// What `similarity` prints (as JSON, or as text lines).
#[derive(Serialize)]
pub(crate) struct SimilarityReport {
    metric: Metric,
    x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    n_stimuli: usize,
    options: Value,
    pub(crate) score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sem: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_split: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence_interval: Option<ConfidenceInterval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ceiling: Option<CeilingReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Value>,
}

impl SimilarityReport {
    /// A report naming its inputs, before any number is filled in.
    fn empty(args: &SimilarityArgs, y: Option<&Path>, n_stimuli: usize) -> Self {
        Self {
            metric: args.metric(),
            x: args.x.display().to_string(),
            y: y.map(|p| p.display().to_string()),
            n_stimuli,
            options: Value::Null,
            score: f64::NAN,
            sem: None,
            per_split: None,
            confidence_interval: None,
            ceiling: None,
            details: None,
        }
    }
}

#[derive(Serialize)]
struct CeilingReport {
    method: &'static str,
    value: f64,
    sem: f64,
    n_splits: usize,
    normalization: CeilingNormalization,
    normalized_score: f64,
}

/// Runs the command and prints the report.
pub fn run(args: &SimilarityArgs) -> Result<()> {
    let report = score(args).with_context(|| match &args.y {
        Some(y) => format!(
            "scoring {} (x) against {} (y) with {}",
            args.x.display(),
            y.display(),
            args.metric().name()
        ),
        None => format!("measuring {} of {}", args.metric().name(), args.x.display()),
    })?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print_text(&report),
    }
    Ok(())
}

/// The report of `similarity` for `args`, or an error for a score that is not finite.
pub(crate) fn score(args: &SimilarityArgs) -> Result<SimilarityReport> {
    let report = measure(args)?;
    // A metric undefined for these inputs is an error, never a NaN score.
    if !report.score.is_finite() {
        bail!(
            "{} is undefined for these inputs (it came out {})",
            args.metric().name(),
            report.score
        );
    }
    Ok(report)
}

fn measure(args: &SimilarityArgs) -> Result<SimilarityReport> {
    crate::memory::preflight(&memory_estimate(args), args.force)?;
    let x: Array2<f64> = npy_input::read_float::<Ix2>(&args.x, "x", false)?;
    if args.metric().single_representation() {
        if args.y.is_some() {
            bail!("{} describes x alone: drop --y", args.metric().name());
        }
        return geometry(args, x);
    }
    if let Some(rdm_path) = &args.y_rdm {
        return rsa_against_rdms(args, x, rdm_path);
    }
    let Some(y_path) = &args.y else {
        bail!(
            "{} compares two representations: give --y",
            args.metric().name()
        );
    };
    let y: Array2<f64> = npy_input::read_float::<Ix2>(y_path, "y", false)?;
    if x.nrows() != y.nrows() {
        bail!(
            "{} has {} stimuli (rows) but {} has {}; both must list the same stimuli in the same order",
            args.x.display(),
            x.nrows(),
            y_path.display(),
            y.nrows()
        );
    }
    let mut report = SimilarityReport::empty(args, Some(y_path), x.nrows());
    let bootstrap = (args.bootstrap > 0).then_some(BootstrapOptions {
        n_resamples: args.bootstrap,
        confidence: args.confidence,
        seed: args.seed,
    });
    match args.metric() {
        Metric::Rsa => {
            let metric = MetricSpec::Rsa {
                rdm: args.rdm,
                compare: args.compare,
            };
            report.score = metric.score(x.view(), responses(&y), None)?.value;
            report.options = json!({ "rdm": args.rdm, "compare": args.compare });
            if let Some(b) = bootstrap {
                let rx = evaluators::compute_rdm(x.view(), args.rdm)?;
                let ry = evaluators::compute_rdm(y.view(), args.rdm)?;
                report.confidence_interval =
                    Some(evaluators::bootstrap_rsa(&rx, &ry, args.compare, b)?);
            }
        }
        Metric::Cka => {
            let kernel = match args.kernel.as_str() {
                "rbf" => CkaKernel::Rbf {
                    threshold: args.threshold,
                },
                _ => CkaKernel::Linear,
            };
            let options = CkaOptions {
                kernel,
                debiased: !args.biased,
            };
            report.score = MetricSpec::Cka { options }
                .score(x.view(), responses(&y), None)?
                .value;
            report.options = serde_json::to_value(options)?;
            if let Some(b) = bootstrap {
                report.confidence_interval =
                    Some(evaluators::bootstrap_cka(x.view(), y.view(), options, b)?);
            }
        }
        Metric::Pls | Metric::Ridge => score_predictivity(args, &x, &y, &mut report)?,
        Metric::Angles => {
            let angles = evaluators::principal_angles(x.view(), y.view(), args.k)?;
            report.score = angles.mean_cos2;
            report.options = json!({ "k": args.k });
            report.details = Some(serde_json::to_value(angles)?);
        }
        Metric::ManifoldAlignment => {
            let labels = required_labels(args, x.nrows())?;
            let alignment =
                evaluators::class_manifold_alignment(x.view(), y.view(), &labels, args.k)?;
            report.score = alignment.mean_cos2;
            report.options = json!({ "k": args.k });
            report.details = Some(serde_json::to_value(alignment)?);
        }
        Metric::Spec => score_spec(args, &x, &y, &mut report)?,
        Metric::Spectral => score_spectral(args, &x, &y, &mut report)?,
        Metric::Capacity | Metric::Dimensionality => unreachable!("single-representation"),
    }
    Ok(report)
}

/// Peak memory of the command from the `.npy` headers, before anything is read: the inputs
/// as read and as f64, and the metric's work (a regression's copies of x and y, or the
/// stimulus-by-stimulus matrices of RSA, CKA and the geometry measures).
fn memory_estimate(args: &SimilarityArgs) -> crate::memory::Estimate {
    let shape = |path: Option<&PathBuf>| {
        path.and_then(|p| npy_input::declared_shape(p))
            .map(|d| {
                (
                    d.first().copied().unwrap_or(0),
                    d.iter().skip(1).product::<usize>(),
                )
            })
            .unwrap_or((0, 0))
    };
    let ((n, kx), (_, ky)) = (shape(Some(&args.x)), shape(args.y.as_ref()));
    let (n, kx, ky) = (n as u64, kx as u64, ky as u64);
    let work = match args.metric() {
        Metric::Pls | Metric::Ridge => 8 * n * kx * 8 + 3 * n * ky * 8 + 3 * n * n * 8,
        _ => 4 * n * n * 8 + 2 * n * kx.max(ky) * 8,
    };
    let part = |what: &str, bytes| crate::memory::Part {
        what: what.into(),
        bytes,
    };
    crate::memory::Estimate {
        parts: vec![
            part("the inputs", 2 * n * (kx + ky) * 8),
            part(&format!("{} on {n} stimuli", args.metric().name()), work),
        ],
    }
}

fn required_labels(args: &SimilarityArgs, stimuli: usize) -> Result<Vec<i64>> {
    match &args.labels {
        Some(path) => npy_input::read_stimulus_labels(path, stimuli),
        None => bail!(
            "{} needs --labels (one class per stimulus)",
            args.metric().name()
        ),
    }
}

/// Capacity or dimensionality of x alone.
fn geometry(args: &SimilarityArgs, x: Array2<f64>) -> Result<SimilarityReport> {
    let mut report = SimilarityReport::empty(args, None, x.nrows());
    if args.metric() == Metric::Capacity {
        let labels = required_labels(args, x.nrows())?;
        let options = evaluators::CapacityOptions {
            kappa: args.kappa,
            n_t: args.n_t,
            seed: args.seed,
            ..Default::default()
        };
        let capacity = evaluators::manifold_capacity(x.view(), &labels, &options)?;
        report.score = capacity.capacity;
        report.options = serde_json::to_value(options)?;
        report.details = Some(serde_json::to_value(capacity)?);
    } else {
        report.score = evaluators::participation_ratio(x.view())?;
        report.details = Some(json!({
            "participation_ratio": report.score,
            "dimension_at_90_percent_variance": evaluators::dimension_at_variance(x.view(), 0.9)?,
            "two_nn_dimension": evaluators::two_nn_dimension(x.view())?,
        }));
    }
    Ok(report)
}

/// The spectral decomposition of ridge from x to y: the theory's and the simulated learning
/// curves, the error modes and their radius and dimension.
fn score_spectral(
    args: &SimilarityArgs,
    x: &Array2<f64>,
    y: &Array2<f64>,
    report: &mut SimilarityReport,
) -> Result<()> {
    let mut options = SpectralOptions::for_stimuli(x.nrows());
    if let Some(alpha) = args.alpha {
        options.alpha = alpha;
    }
    if let Some(p) = &args.p {
        options.p = p.clone();
    }
    options.trials = args.trials;
    options.seed = args.seed;
    options.centre = !args.uncentred;
    let result = evaluators::spectral_prediction(x.view(), y.view(), &options)?;
    let Some(last) = result.theory.last() else {
        bail!("give at least one training-set size (--p)");
    };
    report.score = last.error;
    report.options = serde_json::to_value(&options)?;
    report.details = Some(json!({
        "curves": result.theory.iter().map(|t| {
            let empirical = result.empirical.iter().find(|e| e.p == t.p);
            json!({
                "p": t.p,
                "theory": t.error,
                "empirical": empirical.map(|e| e.error),
                "empirical_sem": empirical.map(|e| e.sem),
                "radius": t.radius,
                "dimension": t.dimension,
                "kappa": t.kappa,
                "gamma": t.gamma,
            })
        }).collect::<Vec<_>>(),
        "top_error_modes": largest_modes(&last.modes),
        "ridge_per_stimulus": result.ridge,
        "eigenvalues": result.spectrum.eigenvalues,
        "alignment": result.spectrum.alignment,
    }));
    Ok(())
}

/// Error modes listed in `similarity --metric spectral`.
const TOP_MODES: usize = 10;

/// The largest error modes, `{mode, error}` with the mode's index in eigenvalue order (the
/// null space is the last), largest first.
fn largest_modes(modes: &[f64]) -> Vec<Value> {
    let mut order: Vec<usize> = (0..modes.len()).collect();
    order.sort_by(|&a, &b| modes[b].total_cmp(&modes[a]));
    order
        .into_iter()
        .take(TOP_MODES)
        .map(|i| json!({ "mode": i, "error": modes[i] }))
        .collect()
}

/// `--spec`'s metric against y, as a benchmark scores it (`MetricSpec::score`).
fn score_spec(
    args: &SimilarityArgs,
    x: &Array2<f64>,
    y: &Array2<f64>,
    report: &mut SimilarityReport,
) -> Result<()> {
    let metric = args.metric_spec()?;
    let labels = args
        .labels
        .as_deref()
        .map(|path| npy_input::read_stimulus_labels(path, x.nrows()))
        .transpose()?;
    let score = metric.score(x.view(), responses(y), labels.as_deref())?;
    report.score = score.value;
    report.sem = score.sem;
    report.options = json!({ "metric": metric, "stratified": labels.is_some() });
    if let Some(p) = score.predictivity {
        report.per_split = Some(p.per_split.clone());
        report.details = Some(serde_json::to_value(p)?);
    }
    Ok(())
}

fn score_predictivity(
    args: &SimilarityArgs,
    x: &Array2<f64>,
    y: &Array2<f64>,
    report: &mut SimilarityReport,
) -> Result<()> {
    let regression = match (args.metric(), args.alpha) {
        (Metric::Pls, _) => Regression::Pls {
            n_components: args.components,
        },
        (_, Some(alpha)) => Regression::Ridge { alpha },
        (_, None) => Regression::RidgeCv {
            alphas: args
                .alphas
                .clone()
                .unwrap_or_else(evaluators::default_alpha_grid),
            criterion: args.cv_criterion,
            per_target: args.per_target,
        },
    };
    let labels = args
        .labels
        .as_deref()
        .map(|path| npy_input::read_stimulus_labels(path, x.nrows()))
        .transpose()?;
    let cv = CrossValidation {
        n_splits: args.splits,
        test_fraction: args.test_fraction,
        seed: args.seed,
    };
    let result = match (&args.train_idx, &args.test_idx) {
        (Some(train), Some(test)) => {
            let split = Split {
                train: npy_input::read_indices(train)?,
                test: npy_input::read_indices(test)?,
            };
            split.validate(x.nrows()).with_context(|| {
                format!(
                    "--train-idx {} and --test-idx {}",
                    train.display(),
                    test.display()
                )
            })?;
            report.options =
                json!({ "regression": regression, "split": { "train": train, "test": test } });
            predictivity_on_splits(x.view(), y.view(), &regression, &[split])?
        }
        _ => {
            report.options = json!({ "regression": regression, "cross_validation": cv, "stratified": labels.is_some() });
            let metric = MetricSpec::Predictivity {
                regression,
                cross_validation: cv,
            };
            metric
                .score(x.view(), responses(y), labels.as_deref())?
                .predictivity
                .expect("predictivity reports its splits")
        }
    };
    report.score = result.score;
    report.sem = Some(result.sem);
    report.per_split = Some(result.per_split.clone());
    report.details = Some(json!({
        "n_neuroids_scored": result.n_neuroids_scored,
        "excluded_zero_variance_neuroids": result.excluded_zero_variance,
        "undefined_correlations": result.undefined_correlations,
        "components_per_split": result.components_per_split,
        "alpha_per_split": result.alpha_per_split,
    }));
    if let Some(path) = &args.repetitions {
        report.ceiling = Some(ceiling(path, y.nrows(), y.ncols(), args, result.score)?);
    }
    Ok(())
}

fn ceiling(
    path: &Path,
    n_stimuli: usize,
    n_neuroids: usize,
    args: &SimilarityArgs,
    raw: f64,
) -> Result<CeilingReport> {
    let reps: Array3<f64> = npy_input::read_float::<Ix3>(path, "repetitions", true)?;
    let (s, n, _) = reps.dim();
    if (s, n) != (n_stimuli, n_neuroids) {
        bail!(
            "{}: repetitions are {s} stimuli x {n} neuroids, but y is {n_stimuli} x {n_neuroids}",
            path.display()
        );
    }
    let c = evaluators::split_half_ceiling(reps.view(), args.ceiling_splits, args.seed)
        .with_context(|| format!("split-half ceiling of {}", path.display()))?;
    let normalized = args.normalization.apply(raw, c.ceiling)?;
    Ok(CeilingReport {
        method: "split-half, Spearman-Brown corrected, median over neuroids",
        value: c.ceiling,
        sem: c.sem,
        n_splits: c.per_split.len(),
        normalization: args.normalization,
        normalized_score: normalized.normalized,
    })
}

/// RSA of x's RDM against the RDMs of `path`: the mean comparison, with its SEM over RDMs
/// when there are several (the arithmetic of a benchmark's RSA score).
fn rsa_against_rdms(
    args: &SimilarityArgs,
    x: Array2<f64>,
    path: &Path,
) -> Result<SimilarityReport> {
    let metric = match args.metric() {
        Metric::Rsa => MetricSpec::Rsa {
            rdm: args.rdm,
            compare: args.compare,
        },
        Metric::Spec => args.metric_spec()?,
        _ => bail!("--y-rdm gives RDMs, which only --metric rsa compares"),
    };
    if !metric.accepts_rdms() {
        bail!(
            "--y-rdm gives RDMs, which a {} metric cannot score",
            metric.name()
        );
    }
    let stack: Array3<f64> = match npy_input::read_float::<ndarray::IxDyn>(path, "RDM", false)? {
        a if a.ndim() == 2 => a
            .into_dimensionality::<Ix2>()
            .expect("two axes")
            .insert_axis(ndarray::Axis(0)),
        a if a.ndim() == 3 => a.into_dimensionality::<Ix3>().expect("three axes"),
        a => bail!(
            "{}: an RDM file holds one square RDM or a stack (rdms, stimuli, stimuli), not shape {:?}",
            path.display(),
            a.shape()
        ),
    };
    let (k, n, _) = stack.dim();
    if k == 0 {
        bail!("{}: holds no RDM", path.display());
    }
    if n != x.nrows() {
        bail!(
            "{} has {} stimuli (rows) but the RDMs of {} are {n} x {n}; both must list the same stimuli in the same order",
            args.x.display(),
            x.nrows(),
            path.display()
        );
    }
    let brain = stack
        .outer_iter()
        .enumerate()
        .map(|(i, square)| {
            evaluators::Rdm::from_square(square)
                .with_context(|| format!("{}: RDM {i}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let score = metric.score(x.view(), NeuralTarget::Rdms(&brain), None)?;
    let mut report = SimilarityReport::empty(args, Some(path), n);
    report.score = score.value;
    report.sem = score.sem;
    report.options = json!({ "metric": metric, "rdms": k });
    report.details = Some(json!({ "per_rdm": score.parts }));
    if args.bootstrap > 0 {
        if k > 1 {
            bail!("--bootstrap resamples stimuli against one RDM; give a single RDM");
        }
        let options = BootstrapOptions {
            n_resamples: args.bootstrap,
            confidence: args.confidence,
            seed: args.seed,
        };
        let MetricSpec::Rsa { rdm, compare } = metric else {
            unreachable!("only RSA accepts RDMs")
        };
        let model = evaluators::compute_rdm(x.view(), rdm)?;
        report.confidence_interval = Some(evaluators::bootstrap_rsa(
            &model, &brain[0], compare, options,
        )?);
    }
    Ok(report)
}

/// `y` as the responses a metric compares with.
fn responses(y: &Array2<f64>) -> NeuralTarget<'_> {
    NeuralTarget::Responses(y.view())
}

/// The learning curves and geometry of `--metric spectral`, one line per training-set size.
fn print_spectral(details: &Value) {
    println!(
        "{:>7} {:>10} {:>21} {:>10} {:>10}",
        "p", "E_g theory", "E_g simulated ± SEM", "R_em", "D_em"
    );
    for c in details["curves"].as_array().into_iter().flatten() {
        let empirical = match (c["empirical"].as_f64(), c["empirical_sem"].as_f64()) {
            (Some(e), Some(sem)) => format!("{e:.4} ± {sem:.4}"),
            _ => "-".into(),
        };
        println!(
            "{:>7} {:>10.4} {:>21} {:>10.4} {:>10.2}",
            c["p"].as_u64().unwrap_or(0),
            c["theory"].as_f64().unwrap_or(f64::NAN),
            empirical,
            c["radius"].as_f64().unwrap_or(f64::NAN),
            c["dimension"].as_f64().unwrap_or(f64::NAN),
        );
    }
    let modes: Vec<String> = details["top_error_modes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            format!(
                "{}: {:.4}",
                m["mode"],
                m["error"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    println!(
        "largest error modes at the largest p (mode: error): {}",
        modes.join(", ")
    );
}

fn print_text(r: &SimilarityReport) {
    println!("metric      {}  {}", r.metric.name(), r.options);
    println!("x           {}", r.x);
    if let Some(y) = &r.y {
        println!("y           {y}");
    }
    println!("stimuli     {}", r.n_stimuli);
    match (r.sem, &r.per_split) {
        (Some(sem), Some(splits)) => {
            println!(
                "score       {:.6} ± {:.6} (mean ± SEM over {} splits)",
                r.score,
                sem,
                splits.len()
            )
        }
        // RSA against a stack of RDMs: the mean comparison and its SEM over the RDMs.
        (Some(sem), None) => println!(
            "score       {:.6} ± {:.6} (mean ± SEM over the RDMs)",
            r.score, sem
        ),
        _ => println!("score       {:.6}", r.score),
    }
    if let Some(ci) = &r.confidence_interval {
        println!(
            "{:.0}% CI      [{:.6}, {:.6}] ({} bootstrap resamples, seed {})",
            100.0 * ci.options.confidence,
            ci.low,
            ci.high,
            ci.options.n_resamples,
            ci.options.seed
        );
    }
    if let Some(details) = r.details.as_ref().filter(|_| {
        matches!(
            r.metric,
            Metric::Capacity | Metric::Dimensionality | Metric::Angles | Metric::ManifoldAlignment
        )
    }) {
        for key in [
            "radius",
            "dimension",
            "center_correlation",
            "center_rank",
            "residual_center_correlation",
            "dimension_at_90_percent_variance",
            "two_nn_dimension",
            "random_mean_cos2",
        ] {
            if let Some(value) = details.get(key) {
                println!("{key:<11} {value}");
            }
        }
    }
    if r.metric == Metric::Spectral
        && let Some(details) = &r.details
    {
        print_spectral(details);
    }
    if let Some(c) = &r.ceiling {
        println!(
            "ceiling     {:.6} ± {:.6} ({}; {} splits)",
            c.value, c.sem, c.method, c.n_splits
        );
        println!(
            "normalised  {:.6} ({})",
            c.normalized_score,
            c.normalization.name()
        );
    }
}
