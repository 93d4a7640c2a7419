//! `creditrisk gc`.

use std::time::Duration;

use creditrisk_base::Result;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_ops::gc::GcOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Remove the unreferenced bundle folders (without it, only list them).
    #[arg(long)]
    delete: bool,
    /// Leave folders younger than this alone: a training still running has written its bundle
    /// but not yet registered it.
    #[arg(long, default_value_t = 60)]
    min_age_minutes: u64,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let opts = GcOptions {
        tracking: TrackingOptions::from_config(&p.cfg),
        delete: args.delete,
        min_age: Duration::from_secs(args.min_age_minutes * 60),
    };
    let report = creditrisk_ops::gc::run(&p.layout, &opts).await?;
    output::gc(&report);
    Ok(())
}
