//! `harness`: the cortexbench command line. Parses arguments, hands each subcommand to its
//! module under the library's `commands`, and prints any error as one `error:` line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use harness::commands;

/// mimalloc keeps the large per-batch buffers of training and feature extraction (tens of MB
/// each) in its pools; glibc's allocator maps and unmaps each one, which doubled a CNN step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Score neural-network representations against primate visual cortex.
#[derive(Parser)]
#[command(name = "harness", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Score the similarity of two (stimuli x features) representations stored as .npy files,
    /// or the geometry of one (manifold capacity, dimensionality).
    Similarity(Box<commands::similarity::SimilarityArgs>),
    /// List the datasets of the catalog: size, license, and whether a local copy exists.
    Datasets(commands::data::DatasetsArgs),
    /// Download (or find in a mirror) and verify datasets; all of them by default.
    Fetch(commands::data::FetchArgs),
    /// Train a network under a learning rule on CIFAR-10 or Fashion-MNIST and add it to the zoo.
    Train(commands::train::TrainArgs),
    /// Score models on benchmarks (default: the CIFAR-10 convnet trained quickly under every
    /// rule, its untrained baseline and EfficientNet-Lite0 on every benchmark): results table,
    /// leaderboard, HTML report and run manifest.
    Score(Box<commands::score::ScoreArgs>),
    /// Compare two leaderboards; fails when a score dropped beyond the tolerance (CI gate).
    Compare(commands::results::CompareArgs),
    /// Merge the outputs of `score --shard i/n` runs.
    Merge(commands::results::MergeArgs),
    /// Rerun a finished run from its manifest and compare every score.
    Reproduce(Box<commands::results::ReproduceArgs>),
    /// Write a model's layer activations on every stimulus of a benchmark (or a folder of
    /// images) as .npy files, with the stimuli, the preprocessing and the neural target.
    Extract(Box<commands::extract::ExtractArgs>),
    /// List the layers of an ONNX file or a zoo checkpoint: name, op, shape per stimulus.
    Layers(commands::layers::LayersArgs),
    /// Export a zoo checkpoint to ONNX, every layer a named output.
    Export(commands::layers::ExportArgs),
}

/// A command that decides its own exit status (a failed comparison is not an error).
fn exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|err| {
        eprintln!("error: {}", one_line(&err));
        ExitCode::FAILURE
    })
}

/// The error and its causes on one line, what was being done and then why it failed, leaving
/// out a cause whose text the line already ends with (an I/O error that an error both shows
/// and chains would otherwise be printed twice).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// mimalloc's option `purge_delay` (mimalloc.h, `mi_option_e`; the same in mimalloc 2 and 3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc hands freed memory back to the system after 10 ms; training and extraction free
/// and reallocate buffers of tens of MB every step, so each step paid page faults and the
/// kernel's page clearing again (a third of a noise-correlation run's CPU time was system
/// time). Freed memory stays with the process instead, for reuse, until it exits: a
/// quick-preset DFC run on one core went from 224 s to 209 s (page faults 928k to 6k, system
/// time 17.9 s to 3.5 s; same weights) for 0.33 GB more peak memory (2.06 to 2.39 GB). A delay
/// of one second still let most faults through (BP: 128k faults, against 6k when kept).
/// A `MIMALLOC_PURGE_DELAY` in the environment still wins.
fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one integer option of the allocator; called before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`harness … | head -1`) would
    // panic; with the default action the process ends quietly, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // ONNX Runtime's telemetry would otherwise keep a device id and an event store under
    // ~/.cache/Microsoft; it reads this variable when the library loads.
    if std::env::var_os("ORT_DISABLE_TELEMETRY").is_none() {
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe { std::env::set_var("ORT_DISABLE_TELEMETRY", "1") };
    }
    keep_freed_memory();
    // Usage errors end here, with clap's message and exit status 2.
    let command = Cli::parse().command;
    // A panic is a bug, but it still ends as every failure does: one `error:` line (printed
    // by the hook, with where it happened) and exit status 1, after unwinding has removed
    // staged output folders.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {message} (a bug in cortexbench: please report it \
             with the command that caused it)"
        );
    }));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(command))) {
        Ok(code) => code,
        Err(_) => ExitCode::FAILURE,
    }
}

fn dispatch(command: Command) -> ExitCode {
    #[cfg(debug_assertions)]
    if std::env::var_os("CORTEXBENCH_DEBUG_PANIC").is_some() {
        // Debug builds only: lets the tests check the panic path above.
        panic!("CORTEXBENCH_DEBUG_PANIC is set");
    }
    let result = match command {
        Command::Similarity(args) => commands::similarity::run(&args),
        Command::Datasets(args) => commands::data::datasets(&args),
        Command::Fetch(args) => commands::data::fetch(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::Score(args) => commands::score::run(&args),
        Command::Merge(args) => commands::results::merge(&args),
        Command::Compare(args) => return exit(commands::results::compare(&args)),
        Command::Reproduce(args) => return exit(commands::results::reproduce(&args)),
        Command::Extract(args) => commands::extract::run(&args),
        Command::Layers(args) => commands::layers::layers(&args),
        Command::Export(args) => commands::layers::export(&args),
    };
    exit(result.map(|()| ExitCode::SUCCESS))
}
