//! `creditrisk synth`.

use std::path::PathBuf;

use creditrisk_base::Result;
use creditrisk_synth::SynthOptions;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    /// Applicants in application_train.csv (test gets Kaggle's proportion); default `data.synth_rows`.
    #[arg(long)]
    rows: Option<usize>,
    /// Random seed; default `data.seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder; default `paths.raw_dir`.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn options(self, p: &Project) -> SynthOptions {
        SynthOptions::new(
            self.rows.unwrap_or(p.cfg.data.synth_rows),
            self.seed.unwrap_or(p.cfg.data.seed),
            self.out.unwrap_or_else(|| p.layout.raw_dir.clone()),
            p.layout.truth_file.clone(),
        )
    }
}

pub fn exec(args: Args, p: &Project) -> Result<()> {
    let summary = creditrisk_synth::run(&args.options(p), &p.bars)?;
    output::synth(&summary);
    Ok(())
}
