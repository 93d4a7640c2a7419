//! `creditrisk monitor-drift`.

use std::path::PathBuf;

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::monitor::{self, DriftRequest, MonitorOptions};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Feature rows (Parquet or CSV); default the train split.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Feature rows (Parquet or CSV); default the test split.
    #[arg(long)]
    current: Option<PathBuf>,
    /// Model whose features and PD are watched; default its Production version, else the newest.
    #[arg(long)]
    model: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let request = DriftRequest {
        reference: args.reference,
        current: args.current,
        model: args.model.as_deref().map(ModelRef::parse).transpose()?,
    };
    let opts = MonitorOptions::from_config(&p.cfg);
    let report = monitor::monitor_drift(&p.layout, &opts, &request).await?;
    output::drift(
        &report,
        &p.layout.drift_report(),
        &p.layout.drift_report_html(),
    );
    Ok(())
}
