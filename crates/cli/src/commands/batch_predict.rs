//! `creditrisk batch-predict`.

use std::path::PathBuf;

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_ops::predict::{History, PredictOptions, PredictRequest};

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
    #[arg(long, env = "CREDITRISK_MODEL")]
    model: String,
    /// Raw application rows (application_test columns), `.csv` or `.parquet`.
    #[arg(long)]
    input: PathBuf,
    /// `.parquet`, `.csv` or `.jsonl`.
    #[arg(long)]
    output: PathBuf,
    /// Decision threshold instead of the bundle's.
    #[arg(long)]
    threshold: Option<f64>,
    /// Folder of the seven history CSVs (Kaggle names); default: history from the feature store.
    #[arg(long, conflicts_with = "features")]
    history: Option<PathBuf>,
    /// The input holds ready feature-store rows: score them as they are.
    #[arg(long)]
    features: bool,
}

impl Args {
    fn request(self) -> Result<PredictRequest> {
        Ok(PredictRequest {
            model: ModelRef::parse(&self.model)?,
            input: self.input,
            output: self.output,
            threshold: self.threshold,
            history: match (self.history, self.features) {
                (_, true) => History::Features,
                (Some(dir), false) => History::Dir(dir),
                (None, false) => History::Store,
            },
        })
    }
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let opts = PredictOptions::from_config(&p.cfg);
    let summary = creditrisk_ops::predict::run(&p.layout, &opts, &args.request()?).await?;
    output::batch_predict(&summary);
    Ok(())
}
