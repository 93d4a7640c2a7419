//! `creditrisk model-card`.

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::model_card::ModelCardOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
    #[arg(long, env = "CREDITRISK_MODEL")]
    model: String,
    /// Stability per period of this column instead of the synthetic vintage.
    #[arg(long)]
    by: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let mut opts = ModelCardOptions::from_config(&p.cfg);
    opts.evaluate.by = args.by;
    let model = ModelRef::parse(&args.model)?;
    let summary = creditrisk_ops::model_card::run(&p.layout, &opts, &model).await?;
    output::line(&summary.describe());
    Ok(())
}
