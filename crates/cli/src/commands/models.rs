//! `creditrisk models list|show`.

use clap::Subcommand;
use creditrisk_base::Result;
use creditrisk_mlflow::{ModelRef, TrackingOptions};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Every version of `registry.model_name`: stage, aliases, run, validation AUC.
    List,
    /// One version as JSON: `models:/<name>/<version>`, `models:/<name>@<alias>`,
    /// `models:/<name>/<Stage>`.
    Show { reference: String },
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let tracking = TrackingOptions::from_config(&p.cfg);
    let tracker = tracking.tracker(&p.layout)?;
    match args.command {
        ModelsCommand::List => {
            let versions = tracker
                .list_model_versions(&tracking.registry.model_name)
                .await?;
            output::model_versions(&versions);
        }
        ModelsCommand::Show { reference } => {
            let version = tracker.resolve(&ModelRef::parse(&reference)?).await?;
            let run = match &version.run_id {
                Some(id) => Some(tracker.get_run(id).await?),
                None => None,
            };
            output::model_version(&version, run.as_ref());
        }
    }
    Ok(())
}
