//! A benchmark's scoring protocol, as Brain-Score's `Benchmark` object owns it: the
//! definition ([`BenchmarkSpec`]) plus the run's seed and statistics settings.
//!
//! [`Benchmark::prepare`] loads the data and fixes everything that does not depend on a
//! model: the seeded selection/report split of the stimuli (stratified by category where the
//! stimuli have one), the neural target of each half, the ceiling measured on the report half,
//! and the bootstrap resamples of the report half. [`PreparedBenchmark::score_layers`] then
//! scores every layer of a model on both halves, chooses the layer with the best
//! selection-half score, normalises by the ceiling, and draws the chosen layer's bootstrap
//! replicates on the benchmark's shared resamples (so that models can be compared pairwise).

use anyhow::{Context, Result};
use brain_data::{BenchmarkData, BenchmarkSpec, Catalog, DataStore};
use evaluators::resampling::Resamples;
use evaluators::{CeilingNormalization, MetricScore, MetricSpec, Rdm};
use indicatif::ProgressBar;
use model_zoo::Activations;

use crate::ceilings::{self, MeasuredCeiling};
use crate::comparison::stream_seed;
use crate::scoring::{Neural, NeuralData, SelectionSplit, subset_features};

/// The run's settings that the protocol depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProtocolSettings {
    /// Seed of the selection split, the resamples and the held-out draws.
    pub seed: u64,
    /// Bootstrap resamples of the chosen layer's score (0: none).
    pub resamples: usize,
    /// How scores are divided by the ceiling.
    pub normalization: CeilingNormalization,
}

/// A benchmark definition with the run's settings.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// The definition (metric after the config's overrides).
    pub spec: BenchmarkSpec,
    /// The run's settings.
    pub settings: ProtocolSettings,
}

/// One half of the stimuli with its neural target.
#[derive(Debug, Clone)]
pub struct Half {
    /// Indices into the benchmark's stimuli, ascending.
    pub stimuli: Vec<usize>,
    /// Category codes of these stimuli, where the stimuli have categories.
    pub labels: Option<Vec<i64>>,
    /// The target on these stimuli, as the metric consumes it.
    pub target: NeuralData,
}

/// A benchmark ready to score models: data, split, targets, ceiling and resamples.
#[derive(Debug)]
pub struct PreparedBenchmark {
    /// The benchmark.
    pub benchmark: Benchmark,
    /// Every stimulus and the whole target, in the benchmark's order.
    pub data: BenchmarkData,
    /// The stimuli the layer is chosen on.
    pub selection: Half,
    /// The stimuli the reported score is computed on.
    pub report: Half,
    /// The ceiling, measured on the report half.
    pub ceiling: MeasuredCeiling,
    /// Seed of `resamples`.
    pub resample_seed: u64,
    /// The report half's bootstrap resamples, shared by every model.
    pub resamples: Resamples,
}

/// One layer's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScore {
    /// Layer name.
    pub layer: String,
    /// Score on the selection half (chooses the layer).
    pub selection: f64,
    /// Raw score on the report half, with its SEM where the metric has one.
    pub report: MetricScore,
    /// `report` divided by the ceiling (`None` without a ceiling).
    pub normalized: Option<f64>,
}

/// Every layer of one model on one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerScores {
    /// In the model's layer order.
    pub layers: Vec<LayerScore>,
    /// The layer with the best finite selection score.
    pub selected: Option<usize>,
    /// Bootstrap replicates of the selected layer's headline score (normalised when there
    /// is a ceiling), on the benchmark's shared resamples.
    pub replicates: Vec<f64>,
}

impl Benchmark {
    /// A benchmark definition under the run's settings.
    pub fn new(spec: BenchmarkSpec, settings: ProtocolSettings) -> Benchmark {
        Benchmark { spec, settings }
    }

    /// The benchmark id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The metric.
    pub fn metric(&self) -> &MetricSpec {
        &self.spec.metric
    }

    /// Loads (verifying every file) and prepares the benchmark.
    pub fn prepare(self, store: &DataStore, catalog: &Catalog) -> Result<PreparedBenchmark> {
        let data = self
            .spec
            .load(store, catalog)
            .with_context(|| format!("loading benchmark {}", self.spec.id))?;
        self.prepare_data(data)
    }

    /// Prepares the benchmark on data already loaded.
    pub fn prepare_data(self, data: BenchmarkData) -> Result<PreparedBenchmark> {
        let labels = data.stimuli.category_codes();
        let split = SelectionSplit::new(data.stimuli.len(), labels.as_deref(), self.settings.seed);
        let half = |stimuli: Vec<usize>| -> Result<Half> {
            let target = NeuralData::of(&data.target, &stimuli)
                .with_context(|| format!("the neural target of {}", self.spec.id))?;
            Ok(Half {
                labels: labels
                    .as_ref()
                    .map(|l| stimuli.iter().map(|&i| l[i]).collect()),
                stimuli,
                target,
            })
        };
        let selection = half(split.selection)?;
        let report = half(split.report)?;
        let ceiling = ceilings::measure(&self.spec, &report.target.data)?;
        let resample_seed = stream_seed(self.settings.seed, &["stimuli", &self.spec.id]);
        let resamples = Resamples::draw(
            report.stimuli.len(),
            report.target.subjects(),
            self.settings.resamples,
            resample_seed,
        );
        Ok(PreparedBenchmark {
            benchmark: self,
            data,
            selection,
            report,
            ceiling,
            resample_seed,
            resamples,
        })
    }
}

impl PreparedBenchmark {
    /// The benchmark id.
    pub fn id(&self) -> &str {
        self.benchmark.id()
    }

    /// The normalisation named in every score row (`None` without a ceiling).
    pub fn normalization(&self) -> Option<&'static str> {
        self.ceiling
            .value
            .map(|_| self.benchmark.settings.normalization.name())
    }

    /// Scores every layer on both halves, chooses the layer on the selection half and draws
    /// the chosen layer's bootstrap replicates. `progress` advances by one per layer.
    pub fn score_layers(
        &self,
        activations: &Activations,
        progress: &ProgressBar,
    ) -> Result<LayerScores> {
        let metric = self.benchmark.metric();
        let mut layers = vec![];
        for (index, (layer, features)) in activations.iter().enumerate() {
            progress.set_position(index as u64);
            let context = || format!("layer {layer} on {}", self.id());
            let score = |half: &Half| {
                metric.score(
                    subset_features(features, &half.stimuli).view(),
                    half.target.as_target(),
                    half.labels.as_deref(),
                )
            };
            let selection = score(&self.selection).with_context(context)?;
            let report = score(&self.report).with_context(context)?;
            let normalized = self.normalize(report.value).with_context(context)?;
            layers.push(LayerScore {
                layer: layer.to_string(),
                selection: selection.value,
                report,
                normalized,
            });
        }
        let selected = layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.selection.is_finite())
            .max_by(|a, b| a.1.selection.total_cmp(&b.1.selection))
            .map(|(i, _)| i);
        let replicates = match selected {
            Some(best) => {
                let layer = &layers[best].layer;
                let features = activations.get(layer).expect("a scored layer");
                let raw = metric
                    .replicates(
                        subset_features(features, &self.report.stimuli).view(),
                        self.report.target.as_target(),
                        self.report.target.subject_groups(),
                        self.report.labels.as_deref(),
                        &self.resamples,
                        stream_seed(self.benchmark.settings.seed, &["held-out", self.id()]),
                    )
                    .with_context(|| format!("bootstrap of layer {layer} on {}", self.id()))?;
                raw.into_iter()
                    .map(|v| match self.ceiling.value {
                        Some(c) => self
                            .benchmark
                            .settings
                            .normalization
                            .apply(v, c)
                            .map_or(f64::NAN, |n| n.normalized),
                        None => v,
                    })
                    .collect()
            }
            None => vec![],
        };
        Ok(LayerScores {
            layers,
            selected,
            replicates,
        })
    }

    /// `raw` divided by the ceiling, when there is one.
    fn normalize(&self, raw: f64) -> Result<Option<f64>> {
        Ok(match self.ceiling.value {
            Some(c) => Some(
                self.benchmark
                    .settings
                    .normalization
                    .apply(raw, c)?
                    .normalized,
            ),
            None => None,
        })
    }

    /// The brain's RDM over every stimulus, for figures: the mean of the target's RDMs, or
    /// the RDM of the repeat-averaged responses. `None` for metrics other than RSA.
    pub fn brain_rdm(&self) -> Result<Option<Rdm>> {
        let MetricSpec::Rsa { rdm, .. } = self.benchmark.metric() else {
            return Ok(None);
        };
        let all: Vec<usize> = (0..self.data.stimuli.len()).collect();
        Ok(Some(
            match NeuralData::of(&self.data.target, &all)?.neural {
                Neural::Rdms { rdms, .. } => Rdm::mean(&rdms)?,
                Neural::Responses(responses) => evaluators::compute_rdm(responses.view(), *rdm)?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brain_data::{NamedRdm, NeuralAssembly, Neuroid, RdmAssembly, StimulusSet, TargetData};
    use ndarray::{Array2, Array3};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const N: usize = 48;

    fn settings() -> ProtocolSettings {
        ProtocolSettings {
            seed: 5,
            resamples: 40,
            normalization: CeilingNormalization::RawOverCeiling,
        }
    }

    /// A benchmark definition from its YAML lines (the target spec names a real loader, but
    /// `prepare_data` never loads).
    fn spec(target: &str, metric: &str, ceiling: &str) -> BenchmarkSpec {
        let yaml = format!(
            "- id: synthetic.V4-test\n  description: synthetic\n  dataset: none\n  region: V4\n  target: {target}\n  metric: {metric}\n  ceiling: {ceiling}\n  preprocessing: {{size: 32}}\n"
        );
        BenchmarkSpec::parse_all(&yaml).unwrap().remove(0)
    }

    /// Ridge predictivity of responses with a split-half ceiling.
    fn ridge_benchmark() -> Benchmark {
        Benchmark::new(
            spec(
                "{source: tang2018}",
                "{kind: predictivity, regression: {kind: ridge, alpha: 1.0}, cross_validation: {n_splits: 4, test_fraction: 0.25, seed: 1}}",
                "{kind: split_half, n_splits: 10, seed: 1}",
            ),
            settings(),
        )
    }

    fn stimuli() -> StimulusSet {
        StimulusSet {
            name: "synthetic".into(),
            ids: (0..N).map(|i| format!("s{i:02}")).collect(),
            images: vec![image::DynamicImage::new_rgb8(1, 1); N],
            categories: Some((0..N).map(|i| format!("c{}", i % 4)).collect()),
        }
    }

    /// A latent signal per stimulus, and model layers: the signal mixed, and pure noise.
    fn latent_and_layers() -> (Array2<f64>, Activations) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let latent = Array2::from_shape_fn((N, 5), |_| rng.random_range(-1.0..1.0));
        let mix = Array2::from_shape_fn((5, 12), |_| rng.random_range(-1.0..1.0));
        let signal = latent.dot(&mix).mapv(|v| v as f32);
        let noise = Array2::from_shape_fn((N, 12), |_| rng.random_range(-1.0f32..1.0));
        let layers = Activations::new(vec![("noise".into(), noise), ("signal".into(), signal)]);
        (latent, layers)
    }

    /// Responses of 6 neuroids to the latent signal, 4 noisy repetitions each.
    fn responses(latent: &Array2<f64>) -> TargetData {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let weights = Array2::from_shape_fn((5, 6), |_| rng.random_range(-1.0..1.0));
        let clean = latent.dot(&weights);
        let responses = Array3::from_shape_fn((N, 6, 4), |(s, n, _)| {
            clean[[s, n]] + 0.3 * rng.random_range(-1.0..1.0)
        });
        TargetData::Responses(NeuralAssembly {
            stimulus_ids: stimuli().ids,
            neuroids: (0..6)
                .map(|i| Neuroid {
                    id: format!("n{i}"),
                    region: "V4".into(),
                    session: "s".into(),
                    animal: None,
                })
                .collect(),
            responses,
            time_bin: None,
        })
    }

    #[test]
    fn prepare_splits_the_stimuli_and_measures_the_ceiling_on_the_report_half() {
        let (latent, _) = latent_and_layers();
        let target = responses(&latent);
        let benchmark = ridge_benchmark();
        let data = BenchmarkData {
            stimuli: stimuli(),
            target: target.clone(),
        };
        let p = benchmark.prepare_data(data).unwrap();
        let (sel, rep) = (&p.selection.stimuli, &p.report.stimuli);
        assert_eq!(sel.len() + rep.len(), N);
        assert!(sel.iter().all(|i| !rep.contains(i)));
        // Stratified: each half holds every category, labels carried along.
        for half in [&p.selection, &p.report] {
            let labels = half.labels.as_ref().unwrap();
            assert_eq!(labels.len(), half.stimuli.len());
            assert!((0..4).all(|c| labels.contains(&c)));
        }
        // The report half's target is the whole target's rows, repeat-averaged.
        let TargetData::Responses(whole) = &target else {
            unreachable!()
        };
        let Neural::Responses(report) = &p.report.target.neural else {
            panic!("responses")
        };
        let mean = whole.mean_over_repetitions();
        for (row, &i) in rep.iter().enumerate() {
            assert_eq!(report.row(row), mean.row(i));
        }
        // The ceiling is the report half's split-half reliability.
        let TargetData::Responses(report_data) = &p.report.target.data else {
            panic!("responses")
        };
        let expected = evaluators::split_half_ceiling(report_data.responses.view(), 10, 1)
            .unwrap()
            .ceiling;
        assert_eq!(p.ceiling.value, Some(expected));
        assert!(expected > 0.5, "reliable synthetic neurons: {expected}");
        assert_eq!(p.resamples.len(), 40);
    }

    #[test]
    fn score_layers_chooses_on_the_selection_half_and_reports_the_other() {
        let (latent, layers) = latent_and_layers();
        let benchmark = ridge_benchmark();
        let data = BenchmarkData {
            stimuli: stimuli(),
            target: responses(&latent),
        };
        let p = benchmark.prepare_data(data).unwrap();
        let hidden = ProgressBar::hidden();
        let scores = p.score_layers(&layers, &hidden).unwrap();
        assert_eq!(scores.layers.len(), 2);
        assert_eq!(scores.selected, Some(1), "{scores:?}");
        let signal = &scores.layers[1];
        assert!(signal.selection > scores.layers[0].selection + 0.3);
        // The reported score is the metric on the report half alone.
        let features = subset_features(layers.get("signal").unwrap(), &p.report.stimuli);
        let direct = p
            .benchmark
            .metric()
            .score(
                features.view(),
                p.report.target.as_target(),
                p.report.labels.as_deref(),
            )
            .unwrap();
        assert_eq!(signal.report, direct);
        let ceiling = p.ceiling.value.unwrap();
        assert_eq!(signal.normalized, Some(direct.value / ceiling));
        // Replicates of the chosen layer, normalised, centred near its score; seeded.
        assert_eq!(scores.replicates.len(), 40);
        let mean = scores.replicates.iter().sum::<f64>() / 40.0;
        assert!((mean - direct.value / ceiling).abs() < 0.15, "{mean}");
        assert_eq!(p.score_layers(&layers, &hidden).unwrap(), scores);
        assert_eq!(p.normalization(), Some("raw/ceiling"));
    }

    #[test]
    fn rdm_targets_average_over_subjects_and_resample_them() {
        let (latent, layers) = latent_and_layers();
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let rdms = (0..4)
            .map(|k| {
                let noisy = latent.mapv(|v| v + 0.5 * rng.random_range(-1.0..1.0));
                let rdm = evaluators::compute_rdm(noisy.view(), evaluators::RdmMethod::Correlation)
                    .unwrap();
                NamedRdm {
                    subject: format!("subject{}", k / 2),
                    session: Some(format!("{}", k % 2)),
                    condensed: rdm.condensed().to_vec(),
                }
            })
            .collect::<Vec<_>>();
        let whole: Vec<Rdm> = rdms
            .iter()
            .map(|r| Rdm::from_condensed(r.condensed.clone().into()).unwrap())
            .collect();
        let target = TargetData::Rdms(RdmAssembly {
            stimulus_ids: stimuli().ids,
            region: "IT".into(),
            rdms,
        });
        let benchmark = Benchmark::new(
            spec(
                "{source: kriegeskorte2008_human_it}",
                "{kind: rsa, rdm: correlation, compare: spearman}",
                "{kind: nili_noise_ceiling, bound: upper}",
            ),
            settings(),
        );
        let p = benchmark
            .prepare_data(BenchmarkData {
                stimuli: stimuli(),
                target,
            })
            .unwrap();
        assert_eq!(p.report.target.subjects(), 2);
        let Neural::Rdms { rdms: report, .. } = &p.report.target.neural else {
            panic!("RDMs")
        };
        assert_eq!(report[2], whole[2].select(&p.report.stimuli).unwrap());
        assert_eq!(p.brain_rdm().unwrap(), Some(Rdm::mean(&whole).unwrap()));
        let scores = p.score_layers(&layers, &ProgressBar::hidden()).unwrap();
        assert_eq!(scores.selected, Some(1));
        let signal = &scores.layers[1].report;
        assert_eq!(signal.parts.len(), 4);
        assert!(signal.sem.is_some());
        assert!(signal.value > 0.3, "{signal:?}");
        assert!(p.ceiling.value.unwrap() > signal.value * 0.5);
    }
}
