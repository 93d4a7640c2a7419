//! `creditrisk deploy-manifest`.

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Default `models:/<registry.model_name>/Production`.
    #[arg(long, env = "CREDITRISK_MODEL")]
    model: Option<String>,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let reference = match args.model {
        Some(text) => ModelRef::parse(&text)?,
        None => ModelRef::Stage {
            name: p.cfg.registry.model_name.clone(),
            stage: creditrisk_ops::pipeline::stages::PROMOTE_TO,
        },
    };
    let manifest = creditrisk_ops::deploy::manifest(&p.cfg, &reference).await?;
    output::deploy_manifest(&manifest);
    Ok(())
}
