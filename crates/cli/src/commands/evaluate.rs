//! `creditrisk evaluate`.

use clap::ValueEnum;
use creditrisk_base::{Result, Split};
use creditrisk_ops::evaluate::EvaluateOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "test")]
    split: SplitArg,
    /// Stability per period of this column (split or raw application column), or `vintage`
    /// (SK_ID_CURR order in `governance.vintages` periods) when the data has no date.
    #[arg(long)]
    by: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SplitArg {
    Train,
    Test,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    let split = match args.split {
        SplitArg::Train => Split::Train,
        SplitArg::Test => Split::Test,
    };
    let opts = EvaluateOptions {
        by: args.by,
        ..EvaluateOptions::from_config(&p.cfg)
    };
    let summary = creditrisk_ops::evaluate::run(&p.layout, &opts, split).await?;
    output::evaluation(&summary);
    Ok(())
}
