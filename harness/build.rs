//! Records the git commit cortexbench is built from (`CORTEXBENCH_GIT_COMMIT`, empty outside a
//! checkout), so that a run manifest names the code that produced it, wherever it runs from.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str], dir: &PathBuf) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let commit = git(&["rev-parse", "HEAD"], &dir).unwrap_or_default();
    println!("cargo:rustc-env=CORTEXBENCH_GIT_COMMIT={commit}");
    // Built again when HEAD moves: a checkout, a commit, a fetch that packs refs.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"], &dir) {
        for watched in ["HEAD", "refs/heads", "packed-refs"] {
            println!("cargo:rerun-if-changed={git_dir}/{watched}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
