//! `creditrisk monitor-production`.

use std::path::PathBuf;

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::monitor::MonitorOptions;
use creditrisk_ops::monitor::production::{ProductionRequest, monitor_production};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Raw application rows or feature rows, `.csv` or `.parquet`.
    #[arg(long)]
    current: PathBuf,
    /// Default: the Production version of `registry.model_name`, else the newest.
    #[arg(long)]
    model: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let request = ProductionRequest {
        current: args.current,
        model: args.model.as_deref().map(ModelRef::parse).transpose()?,
    };
    let opts = MonitorOptions::from_config(&p.cfg);
    let outcome = monitor_production(&p.layout, &opts, &request).await?;
    output::production_monitoring(&outcome, &p.layout);
    Ok(())
}
