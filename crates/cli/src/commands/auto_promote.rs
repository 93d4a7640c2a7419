//! `creditrisk auto-promote`.

use creditrisk_base::Result;
use creditrisk_ops::gates::{self, GateOptions};

use super::Project;
use super::promote_model::target;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, conflicts_with = "alias", required_unless_present = "alias")]
    stage: Option<String>,
    #[arg(long)]
    alias: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let target = target(args.stage, false, args.alias)?;
    let outcome = gates::auto_promote(&p.layout, &GateOptions::from_config(&p.cfg), target).await?;
    output::auto_promotion(&outcome);
    Ok(())
}
