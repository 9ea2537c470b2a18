//! Training presets, written as configs (`presets/<data>-<preset>.yaml`): `quick` trains the
//! default scoring run's zoo in minutes, `standard` is the full rule comparison. A preset has a
//! `base` config, per-architecture keys and per-rule keys; the config of one rule on one
//! architecture is `base` with the architecture's and then the rule's top-level keys put over
//! it.

use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::collections::BTreeMap;

use crate::error::{Result, ZooError};
use crate::rules::Rule;
use crate::train::{TrainConfig, TrainingData};

/// The presets shipped with the zoo.
const PRESETS: [(&str, &str); 4] = [
    (
        "cifar10-quick",
        include_str!("../presets/cifar10-quick.yaml"),
    ),
    (
        "cifar10-standard",
        include_str!("../presets/cifar10-standard.yaml"),
    ),
    (
        "fashion-mnist-quick",
        include_str!("../presets/fashion-mnist-quick.yaml"),
    ),
    (
        "fashion-mnist-standard",
        include_str!("../presets/fashion-mnist-standard.yaml"),
    ),
];

/// Preset names, as `--preset` takes them.
pub const PRESET_NAMES: [&str; 2] = ["quick", "standard"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    base: Mapping,
    architectures: BTreeMap<String, Mapping>,
    rules: BTreeMap<Rule, Mapping>,
}

/// A preset: the configs of every rule and architecture it defines.
#[derive(Debug, Clone)]
pub struct Preset {
    id: String,
    base: Mapping,
    architectures: BTreeMap<String, Mapping>,
    rules: BTreeMap<Rule, Mapping>,
}

impl Preset {
    /// The shipped preset `name` (`quick` or `standard`) of a data set.
    pub fn builtin(data: TrainingData, name: &str) -> Result<Preset> {
        let id = format!("{}-{name}", data.name());
        let text = PRESETS
            .iter()
            .find(|(preset, _)| *preset == id)
            .map(|(_, text)| *text)
            .ok_or_else(|| {
                ZooError::Config(format!(
                    "unknown preset '{name}' (presets: {})",
                    PRESET_NAMES.join(", ")
                ))
            })?;
        Preset::parse(&id, text)
    }

    /// Parses a preset's YAML; `id` names it in errors.
    pub fn parse(id: &str, yaml: &str) -> Result<Preset> {
        let file: PresetFile = serde_norway::from_str(yaml)
            .map_err(|e| ZooError::Config(format!("preset {id}: {e}")))?;
        Ok(Preset {
            id: id.to_string(),
            base: file.base,
            architectures: file.architectures,
            rules: file.rules,
        })
    }

    /// The rules it defines.
    pub fn rules(&self) -> Vec<Rule> {
        self.rules.keys().copied().collect()
    }

    /// The architectures it defines, by name.
    pub fn architectures(&self) -> Vec<&str> {
        self.architectures.keys().map(String::as_str).collect()
    }

    /// The training config of `rule` on `arch`.
    pub fn config(&self, rule: Rule, arch: &str) -> Result<TrainConfig> {
        let unknown = |what: &str, name: &str, known: Vec<&str>| {
            ZooError::Config(format!(
                "preset {}: unknown {what} '{name}' ({what}s: {})",
                self.id,
                known.join(", ")
            ))
        };
        let arch_keys = self
            .architectures
            .get(arch)
            .ok_or_else(|| unknown("architecture", arch, self.architectures()))?;
        let rule_keys = self.rules.get(&rule).ok_or_else(|| {
            let known: Vec<&str> = self.rules.keys().map(|r| r.name()).collect();
            unknown("rule", rule.name(), known)
        })?;
        let mut merged = self.base.clone();
        for (key, value) in arch_keys.iter().chain(rule_keys) {
            merged.insert(key.clone(), value.clone());
        }
        serde_norway::from_value(Value::Mapping(merged))
            .map_err(|e| ZooError::Config(format!("preset {}, {rule} on {arch}: {e}", self.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped preset gives a valid config for each of its rules and architectures,
    /// whose rule is the one asked for and whose data set is the preset's.
    #[test]
    fn every_shipped_preset_parses_for_every_rule_and_architecture() {
        for data in [TrainingData::FashionMnist, TrainingData::Cifar10] {
            for name in PRESET_NAMES {
                let preset = Preset::builtin(data, name).unwrap();
                assert_eq!(preset.rules(), Rule::ALL);
                for arch in preset.architectures() {
                    for rule in preset.rules() {
                        let config = preset.config(rule, arch).unwrap();
                        assert_eq!(config.rule.rule(), rule);
                        assert_eq!(config.architecture.name(), arch);
                        assert_eq!(config.data, data);
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_names_and_misspelt_keys_are_refused() {
        let preset = Preset::builtin(TrainingData::Cifar10, "quick").unwrap();
        let err = preset.config(Rule::Bp, "vit").unwrap_err().to_string();
        assert!(err.contains("'vit'") && err.contains("cnn"), "{err}");
        assert!(Preset::builtin(TrainingData::Cifar10, "long").is_err());
        let misnamed = "base: {}\narchitectures: {mlp: {}}\nrules: {backprop: {rule: {rule: bp}}}";
        let err = Preset::parse("t", misnamed).unwrap_err().to_string();
        assert!(err.contains("'backprop'") && err.contains("nmnc"), "{err}");
        let only_bp = "base: {}\narchitectures: {mlp: {}}\nrules: {bp: {rule: {rule: bp}}}";
        let err = Preset::parse("t", only_bp)
            .unwrap()
            .config(Rule::Dfc, "mlp")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'dfc'") && err.contains("(rules: bp)"),
            "{err}"
        );
        let yaml = "base: {epoch: 3}\narchitectures: {mlp: {}}\nrules: {bp: {rule: {rule: bp}}}";
        let err = Preset::parse("t", yaml)
            .unwrap()
            .config(Rule::Bp, "mlp")
            .unwrap_err()
            .to_string();
        assert!(err.contains("epoch"), "{err}");
    }

    /// A misspelt key inside any nested part of a training config is refused by name, not
    /// trained with the default.
    #[test]
    fn misspelt_nested_keys_of_a_training_config_are_refused() {
        let config = Preset::builtin(TrainingData::Cifar10, "quick")
            .unwrap()
            .config(Rule::Nmnc, "cnn")
            .unwrap();
        let good = serde_norway::to_string(&config).unwrap();
        assert_eq!(
            serde_norway::from_str::<TrainConfig>(&good).unwrap(),
            config
        );
        for (from, to) in [
            ("beta1:", "beta:"),
            ("final_fraction:", "final_frac:"),
            ("channels:", "channel:"),
            ("refresh_every:", "refresh:"),
            ("perturbations:", "perturbation_pairs:"),
            ("crop_padding:", "padding_crop:"),
        ] {
            assert!(good.contains(from), "{from} in {good}");
            let bad = good.replacen(from, to, 1);
            let err = serde_norway::from_str::<TrainConfig>(&bad)
                .unwrap_err()
                .to_string();
            let key = to.trim_end_matches(':');
            assert!(
                err.contains("unknown field") && err.contains(&format!("`{key}`")),
                "{key}: {err}"
            );
        }
        let dfc = Preset::builtin(TrainingData::Cifar10, "quick")
            .unwrap()
            .config(Rule::Dfc, "cnn")
            .unwrap();
        let bad =
            serde_norway::to_string(&dfc)
                .unwrap()
                .replacen("pretrain_steps:", "pretrain:", 1);
        let err = serde_norway::from_str::<TrainConfig>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`pretrain`"), "{err}");
    }
}
