//! What each fuzz target feeds its bytes to, shared by the libFuzzer targets in `fuzz/` and the
//! fixed cases of `tests/fuzz_cases.rs` (run in CI). Every function must return on any input:
//! an error is a fine answer; a panic, an abort or a huge allocation is a bug.

#![allow(dead_code)] // each user takes the functions it needs

use std::path::{Path, PathBuf};

use brain_data::matv5::{MatFile, MatValue};
use brain_data::{BenchmarkSpec, Catalog};
use harness::npy_input;
use harness::run_config::RunConfig;
use model_zoo::onnx::OnnxGraph;

/// The `.npy` readers of `harness similarity` (features, repetitions, labels, indices).
pub fn npy(data: &[u8]) {
    let path = scratch_file("npy", data);
    let _ = npy_input::read_float::<ndarray::Ix2>(&path, "x", false);
    let _ = npy_input::read_float::<ndarray::Ix3>(&path, "repetitions", true);
    let _ = npy_input::read_labels(&path);
    let _ = npy_input::read_indices(&path);
    let _ = std::fs::remove_file(&path);
}

/// The MAT v5 reader, and every accessor on what it read.
pub fn matv5(data: &[u8]) {
    if let Ok(mat) = MatFile::parse(data, Path::new("fuzz.mat")) {
        for (name, value) in mat.variables() {
            let _ = mat.get(name);
            visit(value, 0);
        }
    }
}

fn visit(value: &MatValue, depth: usize) {
    let _ = (
        value.dims(),
        value.len(),
        value.is_empty(),
        value.text(),
        value.to_f64(),
    );
    if depth > 8 {
        return;
    }
    match value {
        MatValue::Cell { items, .. } => items.iter().for_each(|v| visit(v, depth + 1)),
        MatValue::Struct {
            fields, elements, ..
        } => {
            for (e, element) in elements.iter().enumerate() {
                for field in fields {
                    let _ = value.field(e, field);
                }
                element.iter().for_each(|v| visit(v, depth + 1));
            }
            let _ = value.field(elements.len(), "x");
        }
        _ => {}
    }
}

/// The run-config reader (parse and validate).
pub fn run_config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RunConfig::parse(text, Path::new("fuzz.yaml"));
    }
}

/// The benchmark list, read and checked as the catalog does,
/// and the dataset catalog with the same text as its `.sums` files.
pub fn catalog_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Parsing checks every metric, ceiling and target as the catalog does.
    let _ = BenchmarkSpec::parse_all(text);
    let _ = Catalog::parse(text, |_| Some(text.to_string()));
}

/// The ONNX graph loader: parse, list, resolve, and expose layers as outputs.
pub fn onnx_graph(data: &[u8]) {
    let Ok(graph) = OnnxGraph::parse(data, Path::new("fuzz.onnx")) else {
        return;
    };
    let _ = (graph.input(), graph.output_names());
    let tensors = graph.tensors();
    let names: Vec<&str> = tensors.iter().take(16).map(|t| t.tensor.as_str()).collect();
    for t in tensors.iter().take(16) {
        let _ = graph.resolve(&t.tensor);
        let _ = graph.resolve(&t.node);
    }
    let _ = graph.resolve("no such layer");
    let _ = graph.exposing(&names);
}

/// A file of this process and thread holding `data` (the `.npy` readers take paths).
fn scratch_file(kind: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "cortexbench-fuzz-{}-{:?}.{kind}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, data).expect("the temporary folder is writable");
    path
}
