//! `creditrisk run`.

use creditrisk_base::Result;
use creditrisk_ops::pipeline::RunOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// First stage to consider (a stage name, or `evaluate` for both evaluations).
    #[arg(long)]
    from: Option<String>,
    /// Last stage to consider.
    #[arg(long)]
    to: Option<String>,
    /// Rerun every selected stage even when unchanged.
    #[arg(long)]
    force: bool,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let opts = RunOptions {
        from: args.from,
        to: args.to,
        force: args.force,
    };
    let summary = creditrisk_ops::pipeline::run(&p.cfg, &opts, &p.bars).await?;
    output::run(&summary);
    Ok(())
}
