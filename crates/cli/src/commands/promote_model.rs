//! `creditrisk promote-model`, and the `--stage`/`--alias` target `auto-promote` shares.

use creditrisk_base::{Error, Result};
use creditrisk_mlflow::TrackingOptions;
use creditrisk_ops::registry::{Promotion, Target};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    version: u64,
    /// None, Staging, Production or Archived.
    #[arg(long, conflicts_with = "alias", required_unless_present = "alias")]
    stage: Option<String>,
    /// With --stage Staging|Production: archive the versions that held it.
    #[arg(long, requires = "stage")]
    archive_existing: bool,
    /// Point this alias (e.g. champion, challenger) at the version.
    #[arg(long)]
    alias: Option<String>,
    #[arg(long)]
    reviewer: Option<String>,
    #[arg(long)]
    note: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let request = Promotion {
        version: args.version,
        target: target(args.stage, args.archive_existing, args.alias)?,
        reviewer: args.reviewer,
        note: args.note,
    };
    let tracking = TrackingOptions::from_config(&p.cfg);
    let transition = creditrisk_ops::registry::promote(&p.layout, &tracking, &request).await?;
    output::promotion(&transition);
    Ok(())
}

/// `--stage S [--archive-existing]` or `--alias A`.
pub fn target(
    stage: Option<String>,
    archive_existing: bool,
    alias: Option<String>,
) -> Result<Target> {
    match (stage, alias) {
        (Some(stage), _) => Ok(Target::Stage {
            stage: creditrisk_mlflow::parse_stage(&stage).ok_or_else(|| {
                Error::config(format!(
                    "--stage {stage}: unknown stage (None, Staging, Production, Archived)"
                ))
            })?,
            archive_existing,
        }),
        (None, Some(alias)) => Ok(Target::Alias { alias }),
        (None, None) => Err(Error::config("give --stage or --alias")),
    }
}
