//! `creditrisk canary`.

use std::path::PathBuf;

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::gates::{self, GateOptions};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    candidate: String,
    #[arg(long)]
    production: String,
    /// Feature rows (Parquet); default the test split.
    #[arg(long)]
    dataset: Option<PathBuf>,
    #[arg(long, default_value_t = gates::DEFAULT_MAX_METRIC_DELTA)]
    max_metric_delta: f64,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let report = gates::canary(
        &p.layout,
        &GateOptions::from_config(&p.cfg),
        &ModelRef::parse(&args.candidate)?,
        &ModelRef::parse(&args.production)?,
        args.dataset.as_deref(),
        args.max_metric_delta,
    )
    .await?;
    output::canary(&report, &p.layout.canary_report());
    Ok(())
}
