//! The fuzz targets' fixed cases, run in CI: each reader gets real seed inputs (the mirror's
//! MAT files, the golden `.npy` files, the shipped YAML, the README's run config, ONNX
//! graphs) and a fixed set of seeded mutations of them (bit flips, boundary integers,
//! truncations, deleted and repeated ranges, and for text, changed numbers and lines). A case
//! that panics fails the test and is saved for `cargo fuzz run <target> <file>`. The long,
//! coverage-guided runs are `scripts/fuzz.sh` (libFuzzer; see the README).

mod fuzz_entry;

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn shared(sub: &str) -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    match sub.split_once('/') {
        Some(("brain-data", rest)) => std::env::var_os("CORTEXBENCH_MIRROR")
            .map(PathBuf::from)
            .unwrap_or_else(|| beside.join("brain-data"))
            .join(rest),
        Some(("golden", rest)) => std::env::var_os("CORTEXBENCH_GOLDEN")
            .map(PathBuf::from)
            .unwrap_or_else(|| beside.join("golden"))
            .join(rest),
        _ => beside.join(sub),
    }
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `target` on every seed and on `cases` mutations of each; fails listing the inputs
/// that panicked (saved under the temporary folder).
fn fuzz(name: &str, target: fn(&[u8]), seeds: &[Vec<u8>], cases: usize, text: bool) {
    // `scripts/fuzz.sh` takes these seeds as the libFuzzer corpus.
    if let Some(dir) =
        std::env::var_os("CORTEXBENCH_FUZZ_SEEDS").filter(|_| !name.starts_with("large_"))
    {
        let dir = PathBuf::from(dir).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (s, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed{s}")), seed).unwrap();
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(20261130);
    let mut failures = vec![];
    let mut run = |input: &[u8], label: String| {
        if std::panic::catch_unwind(|| target(input)).is_err() {
            let path =
                std::env::temp_dir().join(format!("cortexbench-fuzz-failure-{name}-{label}"));
            std::fs::write(&path, input).unwrap();
            failures.push(path);
        }
    };
    for (s, seed) in seeds.iter().enumerate() {
        run(seed, format!("seed{s}"));
        for case in 0..cases {
            let mut input = seed.clone();
            for _ in 0..rng.random_range(1..=4) {
                if text && rng.random_bool(0.6) {
                    mutate_text(&mut input, &mut rng);
                } else {
                    mutate_bytes(&mut input, &mut rng);
                }
            }
            run(&input, format!("seed{s}-case{case}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: inputs that panicked: {failures:?}"
    );
}

/// Integers at the edges that readers must not trust.
const BOUNDARY: [u64; 8] = [
    0,
    1,
    0x7f,
    0xff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 40,
    u64::MAX,
];

fn mutate_bytes(input: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    if input.is_empty() {
        input.push(rng.random());
        return;
    }
    let at = rng.random_range(0..input.len());
    match rng.random_range(0..6) {
        0 => input[at] ^= 1 << rng.random_range(0..8),
        1 => input[at] = rng.random(),
        2 => {
            let value = BOUNDARY[rng.random_range(0..BOUNDARY.len())].to_le_bytes();
            let width = [1, 2, 4, 8][rng.random_range(0..4)];
            for (i, b) in value.iter().take(width).enumerate() {
                if let Some(slot) = input.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        3 => input.truncate(at),
        4 => {
            let end = (at + rng.random_range(1..=64)).min(input.len());
            input.drain(at..end);
        }
        _ => {
            let end = (at + rng.random_range(1..=64)).min(input.len());
            let chunk = input[at..end].to_vec();
            let to = rng.random_range(0..=input.len());
            input.splice(to..to, chunk);
        }
    }
}

fn mutate_text(input: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
    let Ok(text) = String::from_utf8(input.clone()) else {
        return mutate_bytes(input, rng);
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return mutate_bytes(input, rng);
    }
    let i = rng.random_range(0..lines.len());
    match rng.random_range(0..5) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let j = rng.random_range(0..lines.len());
            let copy = lines[j].clone();
            lines.insert(i, copy);
        }
        2 => {
            // A number becomes an extreme or odd one.
            const ODD: [&str; 9] = [
                "0",
                "-1",
                "1e308",
                "-1e308",
                ".nan",
                ".inf",
                "99999999999999999999",
                "0.0",
                "[]",
            ];
            let line = &lines[i];
            if let Some(start) = line.find(|c: char| c.is_ascii_digit()) {
                let end = line[start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .map_or(line.len(), |e| start + e);
                let odd = ODD[rng.random_range(0..ODD.len())];
                lines[i] = format!("{}{odd}{}", &line[..start], &line[end..]);
            }
        }
        3 => {
            // A word is replaced by another word of the file (a misplaced key or value).
            let words: Vec<String> = text
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            let line_words: Vec<&str> = lines[i]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
                .filter(|w| !w.is_empty())
                .collect();
            if let (false, false) = (words.is_empty(), line_words.is_empty()) {
                let from = line_words[rng.random_range(0..line_words.len())].to_string();
                let to = &words[rng.random_range(0..words.len())];
                lines[i] = lines[i].replacen(&from, to, 1);
            }
        }
        _ => {
            // Indentation changes nesting.
            if rng.random_bool(0.5) {
                lines[i].insert_str(0, "  ");
            } else {
                lines[i] = lines[i].trim_start().to_string();
            }
        }
    }
    *input = lines.join("\n").into_bytes();
}

fn npy_bytes<A: ndarray_npy::WritableElement, D: ndarray::Dimension>(
    array: &ndarray::Array<A, D>,
) -> Vec<u8> {
    let mut bytes = vec![];
    ndarray_npy::WriteNpyExt::write_npy(array, &mut bytes).unwrap();
    bytes
}

#[test]
fn npy_readers_survive_mutated_arrays() {
    let mut seeds = vec![read(shared("golden/metrics/X.npy"))];
    seeds.push(npy_bytes(&ndarray::Array2::<f32>::from_shape_fn(
        (6, 5),
        |(i, j)| (i * j) as f32,
    )));
    seeds.push(npy_bytes(&ndarray::Array1::<i64>::from_iter(0..12)));
    seeds.push(npy_bytes(&ndarray::Array1::<i32>::from_iter(0..12)));
    seeds.push(npy_bytes(&ndarray::Array3::<f64>::from_shape_fn(
        (4, 3, 2),
        |(i, _, k)| {
            if k == 1 { f64::NAN } else { i as f64 }
        },
    )));
    seeds.push(npy_bytes(
        &ndarray::Array2::<f64>::zeros((3, 4)).reversed_axes(),
    ));
    fuzz("npy", fuzz_entry::npy, &seeds, 600, false);
}

#[test]
fn mat_reader_survives_mutated_files() {
    let seeds = vec![
        read(shared(
            "brain-data/kriegeskorte2008-92images/92_brainRDMs.mat",
        )),
        read(shared(
            "brain-data/kriegeskorte2008-92images/92_behavRDMs.mat",
        )),
    ];
    fuzz("matv5", fuzz_entry::matv5, &seeds, 300, false);
}

#[test]
fn run_config_reader_survives_mutated_configs() {
    let readme = String::from_utf8(read(repo("README.md"))).unwrap();
    let example = readme
        .split("**A run config**")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("the README shows a run config");
    harness::run_config::RunConfig::parse(example, std::path::Path::new("README.md"))
        .unwrap_or_else(|e| panic!("the README's run config is invalid: {e:#}"));
    let seeds = vec![
        example.as_bytes().to_vec(),
        b"models:\n  - {kind: untrained, arch: mlp}\nbenchmarks: [kiani2007.IT-rsa]\nseed: 2\n"
            .to_vec(),
        read(repo("model-zoo/presets/cifar10-standard.yaml")),
    ];
    fuzz("run_config", fuzz_entry::run_config, &seeds, 1500, true);
}

#[test]
fn catalog_readers_survive_mutated_yaml() {
    let seeds = vec![
        read(repo("brain-data/catalog/benchmarks.yaml")),
        read(repo("brain-data/catalog/datasets.yaml")),
        read(repo("brain-data/catalog/kriegeskorte2008-92images.sums")),
    ];
    fuzz("catalog_yaml", fuzz_entry::catalog_yaml, &seeds, 1000, true);
}

#[test]
fn onnx_graph_loader_survives_mutated_graphs() {
    let net = model_zoo::Network::cnn(
        (8, 8, 1),
        &[(2, 3)],
        &[4, 3],
        model_zoo::Activation::Relu,
        1,
    )
    .unwrap();
    let small = model_zoo::onnx::export(&mut model_zoo::ZooModel::new(net).unwrap(), &[]).unwrap();
    fuzz("onnx_graph", fuzz_entry::onnx_graph, &[small], 1500, false);
    let large = read(shared("models/efficientnet_lite0.onnx"));
    // Not a libFuzzer seed (18 MB): a few mutations of a real network's graph.
    fuzz(
        "large_onnx_graph",
        fuzz_entry::onnx_graph,
        &[large],
        8,
        false,
    );
}
