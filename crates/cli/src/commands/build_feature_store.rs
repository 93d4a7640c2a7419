//! `creditrisk build-feature-store`.

use std::path::PathBuf;

use creditrisk_base::{Error, Result};
use creditrisk_data::features::FeatureStoreOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Feature-store file; default `features.store_file`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// `local` or `ballista://HOST:PORT` (a `creditrisk cluster scheduler`); default
    /// `features.engine`.
    #[arg(long)]
    engine: Option<String>,
    /// Moved to the benchmark binary: `creditrisk-bench parse-floor`.
    #[arg(long, hide = true)]
    parse_only: bool,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    if args.parse_only {
        return Err(Error::config(
            "--parse-only moved to the benchmark binary: `cargo run --release -p creditrisk-bench \
             -- parse-floor RAW_DIR`",
        ));
    }
    let layout = match args.output {
        Some(path) => p.layout.clone().with_store_file(path),
        None => p.layout.clone(),
    };
    let mut opts = FeatureStoreOptions::from_config(&p.cfg);
    if args.engine.is_some() {
        opts.engine = args.engine;
    }
    let summary = creditrisk_data::features::build_feature_store(&layout, &opts, &p.bars).await?;
    output::feature_store(&summary);
    Ok(())
}
