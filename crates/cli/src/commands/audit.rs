//! `creditrisk audit verify`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use creditrisk_base::{Config, Result};
use creditrisk_serve::ServeOptions;

use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain: every line JSON and complete, seq 1, 2, 3 …, each
    /// prev_sha256 the previous line's sha256, each sha256 its own line's. Prints the line count,
    /// the last seq and the last sha256 (record them: a removed tail shows only against them);
    /// exit 1 naming the first bad line.
    Verify {
        /// The log (default: the config's `serving.audit_log`, resolved against the project as
        /// `serve` resolves it; with --log no config is read).
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

/// Runs before the config is loaded: `--log` needs none.
pub fn exec(args: Args, config: &Path) -> Result<()> {
    match args.command {
        AuditCommand::Verify { log } => {
            let path = match log {
                Some(path) => path,
                None => ServeOptions::from_config(&Config::load(config)?).audit_log,
            };
            let verified = creditrisk_serve::audit::verify(&path)?;
            output::audit_verified(&path, &verified);
        }
    }
    Ok(())
}
