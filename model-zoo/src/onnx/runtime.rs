//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: the library is not linked but opened at run time. It comes
//! from the `onnxruntime` wheel on PyPI, which `scripts/fetch_onnxruntime.sh` (called by
//! `setup.sh`) extracts into the cortexbench cache. `ORT_DYLIB_PATH` overrides that location.

use std::path::PathBuf;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Result, ZooError};

/// The ONNX Runtime release the project pins (and `ort`'s `api-31` feature expects).
pub const ONNX_RUNTIME_VERSION: &str = "1.31.1";

/// Where the library is looked for: `ORT_DYLIB_PATH` if set, else the cache path that
/// `scripts/fetch_onnxruntime.sh` writes (`$CORTEXBENCH_CACHE`, else
/// `$XDG_CACHE_HOME/cortexbench`, else `~/.cache/cortexbench`).
pub fn library_path() -> PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("CORTEXBENCH_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("cortexbench"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/cortexbench")))
        .unwrap_or_else(|| PathBuf::from(".cache/cortexbench"));
    cache
        .join("onnxruntime")
        .join(ONNX_RUNTIME_VERSION)
        .join(format!("libonnxruntime.so.{ONNX_RUNTIME_VERSION}"))
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub(crate) fn environment() -> Result<&'static Environment> {
    static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(load)
        .as_ref()
        .map_err(|message| ZooError::Runtime(message.clone()))
}

fn load() -> std::result::Result<Environment, String> {
    let path = library_path();
    let from = if std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()) {
        "ORT_DYLIB_PATH"
    } else {
        "the cortexbench cache (ORT_DYLIB_PATH is not set)"
    };
    if !path.is_file() {
        return Err(format!(
            "no library at {} (from {from}); run ./setup.sh or scripts/fetch_onnxruntime.sh, \
             or set ORT_DYLIB_PATH to a libonnxruntime.so {ONNX_RUNTIME_VERSION}",
            path.display()
        ));
    }
    let builder = ort::init_from(&path).map_err(|e| {
        format!(
            "cannot load {} (from {from}): {e}; set ORT_DYLIB_PATH to a libonnxruntime.so \
             {ONNX_RUNTIME_VERSION}",
            path.display()
        )
    })?;
    builder
        .with_name("cortexbench")
        // Nothing leaves the machine, and (with ORT_DISABLE_TELEMETRY=1, which `harness` sets
        // at start) nothing is written to ~/.cache/Microsoft.
        .with_telemetry(false)
        .build()
        .map_err(|e| format!("cannot create an environment: {e}"))
}

/// The loaded library's path and build information (its git commit among them), loading it
/// if needed, for run manifests.
pub fn loaded_library() -> Result<String> {
    environment()?;
    Ok(format!(
        "{} ({})",
        library_path().display(),
        ort::info().trim()
    ))
}
