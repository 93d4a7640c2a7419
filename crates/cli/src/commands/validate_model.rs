//! `creditrisk validate-model`.

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::gates::{self, GateOptions};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// `models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/<Stage>`.
    #[arg(long)]
    model: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let reference = args.model.as_deref().map(ModelRef::parse).transpose()?;
    let opts = GateOptions::from_config(&p.cfg);
    let validation = gates::validate_model(&p.layout, &opts, reference.as_ref()).await?;
    output::validation(&validation, &p.layout.post_training_validation());
    Ok(())
}
