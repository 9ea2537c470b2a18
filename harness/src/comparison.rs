//! The rule comparison's statistics: from every network's chosen layer and its bootstrap
//! replicates to the leaderboard's entries with intervals (seeds pooled), the pairwise tests
//! of each benchmark with Holm's correction, the models tied with the best, and which trained
//! networks beat their untrained baseline.

use std::collections::BTreeMap;

use evaluators::inference::{holm, paired_test, percentile_interval, pool_seeds, seed_draws};
use reports::{
    BootstrapReplicates, Entry, Leaderboard, PairwiseRow, ScoreRow, StatisticsNote, TiedGroup,
};

use crate::run_config::StatisticsConfig;

/// The rule of untrained baselines.
pub const UNTRAINED: &str = "untrained";

/// A seed for one named random stream of a run (FNV-1a over the run seed and the names), so
/// that a benchmark's resamples do not depend on which other benchmarks or models run.
pub fn stream_seed(run_seed: u64, names: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = run_seed
        .to_le_bytes()
        .into_iter()
        .chain(names.iter().flat_map(|n| n.bytes().chain([0xff])));
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A model on one benchmark: its entry and its seed-pooled replicates.
struct Scored {
    entry: Entry,
    replicates: Option<Vec<f64>>,
}

/// The leaderboard of a run: selected `rows` (one per network, several per model when it has
/// several seeds) and their `replicates` (absent ones give entries without an interval).
pub fn leaderboard(
    rows: &[ScoreRow],
    replicates: &[BootstrapReplicates],
    statistics: StatisticsConfig,
    run_seed: u64,
) -> Leaderboard {
    let mut by_model: BTreeMap<(&str, &str), Vec<&ScoreRow>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.selected) {
        by_model
            .entry((row.benchmark.as_str(), row.model.as_str()))
            .or_default()
            .push(row);
    }
    let mut per_benchmark: BTreeMap<&str, Vec<Scored>> = BTreeMap::new();
    for ((benchmark, model), mut seeds) in by_model {
        seeds.sort_by_key(|r| r.seed);
        let found: Vec<Option<&BootstrapReplicates>> = seeds
            .iter()
            .map(|r| {
                replicates
                    .iter()
                    .find(|x| x.benchmark == benchmark && x.model == model && x.seed == r.seed)
            })
            .collect();
        let pooled = found
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .filter(|f| f.iter().all(|x| x.values.len() == f[0].values.len()))
            .map(|f| {
                let estimates: Vec<f64> = seeds.iter().map(|r| r.headline()).collect();
                let values: Vec<&[f64]> = f.iter().map(|x| x.values.as_slice()).collect();
                let draws = seed_draws(
                    f.len(),
                    f[0].values.len(),
                    stream_seed(run_seed, &["seeds", benchmark, model]),
                );
                pool_seeds(&estimates, &values, &draws).1
            });
        let entry = Entry {
            row: mean_row(&seeds),
            ci95: pooled
                .as_deref()
                .and_then(|p| percentile_interval(p, statistics.confidence)),
            n_seeds: seeds.len(),
            seeds: seeds.iter().map(|r| r.seed).collect(),
            tied_with_best: None,
            above_untrained: None,
        };
        per_benchmark.entry(benchmark).or_default().push(Scored {
            entry,
            replicates: pooled,
        });
    }
    let alpha = 1.0 - statistics.confidence;
    let (mut entries, mut pairwise, mut groups) = (vec![], vec![], vec![]);
    for (benchmark, mut scored) in per_benchmark {
        scored.sort_by(|a, b| b.entry.headline().total_cmp(&a.entry.headline()));
        let mut pairs = vec![];
        for i in 0..scored.len() {
            for j in i + 1..scored.len() {
                let (a, b) = (&scored[i], &scored[j]);
                let (Some(ra), Some(rb)) = (&a.replicates, &b.replicates) else {
                    continue;
                };
                if ra.len() != rb.len() {
                    continue;
                }
                if let Some(test) = paired_test(
                    (a.entry.headline(), ra),
                    (b.entry.headline(), rb),
                    statistics.confidence,
                ) {
                    pairs.push(PairwiseRow {
                        benchmark: benchmark.to_string(),
                        a: a.entry.row.model.clone(),
                        b: b.entry.row.model.clone(),
                        difference: test.difference,
                        ci95: test.ci95,
                        p: test.p,
                        p_adjusted: f64::NAN,
                        significant: false,
                    });
                }
            }
        }
        let adjusted = holm(&pairs.iter().map(|p| p.p).collect::<Vec<_>>());
        for (pair, p) in pairs.iter_mut().zip(adjusted) {
            pair.p_adjusted = p;
            pair.significant = p < alpha;
        }
        let separated = |a: &str, b: &str| {
            pairs
                .iter()
                .any(|p| p.significant && ((p.a == a && p.b == b) || (p.a == b && p.b == a)))
        };
        if let Some(best) = scored.first().filter(|s| s.replicates.is_some()) {
            let best_name = best.entry.row.model.clone();
            let members: Vec<String> = scored
                .iter()
                .filter(|s| s.replicates.is_some())
                .map(|s| s.entry.row.model.clone())
                .filter(|m| *m == best_name || !separated(&best_name, m))
                .collect();
            for s in scored.iter_mut().filter(|s| s.replicates.is_some()) {
                s.entry.tied_with_best = Some(members.contains(&s.entry.row.model));
            }
            groups.push(TiedGroup {
                benchmark: benchmark.to_string(),
                best: best_name,
                models: members,
            });
        }
        let baselines: Vec<(String, String)> = scored
            .iter()
            .filter(|s| s.entry.row.rule == UNTRAINED && s.replicates.is_some())
            .map(|s| (s.entry.row.architecture.clone(), s.entry.row.model.clone()))
            .collect();
        for s in scored.iter_mut() {
            let row = &s.entry.row;
            if row.rule == UNTRAINED || s.replicates.is_none() {
                continue;
            }
            if let Some((_, baseline)) = baselines.iter().find(|(a, _)| *a == row.architecture) {
                s.entry.above_untrained = Some(
                    pairs
                        .iter()
                        .any(|p| p.significant && p.a == row.model && p.b == *baseline),
                );
            }
        }
        entries.extend(scored.into_iter().map(|s| s.entry));
        pairwise.extend(pairs);
    }
    let note = StatisticsNote {
        method: format!(
            "Intervals: {:.0} % percentile bootstrap, {} resamples per benchmark shared by every \
             model (so differences are paired): stimuli of the report half drawn with \
             replacement (RSA: pairs of distinct drawn stimuli; with several subjects, subjects \
             drawn too; predictivity: each split's held-out predictions); a model with several \
             training seeds draws its seeds too, and its score is the mean over seeds. Ceilings \
             are held fixed.",
            100.0 * statistics.confidence,
            statistics.resamples
        ),
        resamples: statistics.resamples,
        confidence: statistics.confidence,
        seed: run_seed,
        family: format!(
            "Pairwise tests: two-sided paired bootstrap p, Holm-corrected over every pair of \
             models on the same benchmark (the family; it includes each rule against its \
             untrained network); significant at adjusted p < {alpha:.2}; tied with best = not \
             significantly below the benchmark's best."
        ),
    };
    Leaderboard::new(entries, Some(note), pairwise, groups)
}

/// One row standing for a model's seeds: scores averaged, layers listed.
fn mean_row(seeds: &[&ScoreRow]) -> ScoreRow {
    let n = seeds.len() as f64;
    let mean = |f: fn(&ScoreRow) -> f64| seeds.iter().map(|r| f(r)).sum::<f64>() / n;
    let mean_opt = |f: fn(&ScoreRow) -> Option<f64>| {
        seeds
            .iter()
            .map(|r| f(r))
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / n)
    };
    let mut layers: Vec<&str> = vec![];
    for r in seeds {
        if !layers.contains(&r.layer.as_str()) {
            layers.push(&r.layer);
        }
    }
    ScoreRow {
        layer: layers.join("/"),
        raw: mean(|r| r.raw),
        sem: mean_opt(|r| r.sem),
        normalized: mean_opt(|r| r.normalized),
        selection_score: mean(|r| r.selection_score),
        ..seeds[0].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, rule: &str, seed: u64, raw: f64) -> ScoreRow {
        ScoreRow {
            model: model.into(),
            rule: rule.into(),
            architecture: "cnn".into(),
            layer: format!("conv{seed}"),
            layer_index: 0,
            benchmark: "b".into(),
            region: "IT".into(),
            metric: "rsa".into(),
            raw,
            sem: None,
            ceiling: None,
            normalized: None,
            normalization: None,
            ceiling_method: "none: synthetic".into(),
            selection_score: raw,
            selected: true,
            n_stimuli: 40,
            seed,
        }
    }

    /// Replicates spread evenly over `centre ± spread`, in an order set by `stride`
    /// (different strides: unrelated resample-to-resample noise).
    fn reps(
        model: &str,
        seed: u64,
        centre: f64,
        spread: f64,
        stride: usize,
    ) -> BootstrapReplicates {
        BootstrapReplicates {
            benchmark: "b".into(),
            model: model.into(),
            rule: String::new(),
            architecture: "cnn".into(),
            seed,
            estimate: centre,
            values: (0..500)
                .map(|r| centre + spread * (((r * stride) % 101) as f64 / 50.0 - 1.0))
                .collect(),
        }
    }

    #[test]
    fn seeds_pool_pairs_are_tested_and_the_baseline_is_beaten() {
        let rows = vec![
            row("bp", "bp", 1, 0.50),
            row("bp", "bp", 2, 0.54),
            row("fa", "fa", 1, 0.31),
            row("untrained", UNTRAINED, 1, 0.30),
        ];
        let replicates = vec![
            reps("bp", 1, 0.50, 0.02, 37),
            reps("bp", 2, 0.54, 0.02, 41),
            reps("fa", 1, 0.31, 0.05, 43),
            reps("untrained", 1, 0.30, 0.05, 53),
        ];
        let board = leaderboard(&rows, &replicates, StatisticsConfig::default(), 1);
        let bp = &board.entries[0];
        assert_eq!((bp.row.model.as_str(), bp.n_seeds), ("bp", 2));
        assert!((bp.headline() - 0.52).abs() < 1e-12);
        assert_eq!(bp.row.layer, "conv1/conv2");
        let [lo, hi] = bp.ci95.unwrap();
        // Drawing seeds widens the interval beyond either seed's own ±0.02.
        assert!(lo < 0.49 && hi > 0.55, "{lo} {hi}");
        assert_eq!(board.pairwise.len(), 3);
        let fa_vs_untrained = board.pairwise.iter().find(|p| p.a == "fa").unwrap();
        assert!(!fa_vs_untrained.significant);
        assert_eq!(bp.above_untrained, Some(true));
        assert_eq!(board.entries[1].above_untrained, Some(false));
        assert_eq!(board.groups[0].models, vec!["bp".to_string()]);
        for p in &board.pairwise {
            assert!(p.p_adjusted >= p.p && p.difference >= 0.0);
        }
    }

    #[test]
    fn stream_seeds_differ_by_name_and_run_seed() {
        let a = stream_seed(1, &["kiani2007.IT-rsa"]);
        assert_eq!(a, stream_seed(1, &["kiani2007.IT-rsa"]));
        assert_ne!(a, stream_seed(2, &["kiani2007.IT-rsa"]));
        assert_ne!(a, stream_seed(1, &["kriegeskorte2008.hIT-rsa"]));
        assert_ne!(stream_seed(1, &["ab", "c"]), stream_seed(1, &["a", "bc"]));
    }
}
