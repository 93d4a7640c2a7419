//! The `creditrisk` binary: parses the command line, owns the async runtime, and runs one
//! subcommand (`commands/`, one file each). The library crates never print: the summaries, the
//! progress bars and the error chain are printed here (`output.rs`). Exit codes: 1 for a failed
//! stage or check, 2 for a usage error (bad flags or config).

use std::process::ExitCode;

use clap::Parser;
use creditrisk_base::Error;

mod commands;
mod output;

// TreeSHAP reason codes and DataFusion allocate many small, short-lived buffers; mimalloc serves
// them far faster than glibc's malloc under concurrent requests (BENCHMARKS.md, "Serving").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cli.command.is_cluster() {
        // Ballista's own binaries use 32 MB stacks: deep plans are (de)serialised recursively.
        runtime.thread_stack_size(32 << 20);
    }
    let outcome = runtime
        .enable_all()
        .build()
        .map_err(|e| Error::internal_from("cannot start the async runtime", e))
        .and_then(|runtime| runtime.block_on(commands::exec(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&e);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
