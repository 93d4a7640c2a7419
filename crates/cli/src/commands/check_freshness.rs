//! `creditrisk check-freshness`.

use creditrisk_base::Result;

use super::Project;
use crate::output;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    max_age_hours: f64,
    /// Exit 1 when any file is older than the limit (or missing).
    #[arg(long)]
    fail_on_stale: bool,
}

pub fn exec(args: Args, p: &Project) -> Result<()> {
    let report = creditrisk_ops::monitor::freshness::check_freshness(
        &p.layout,
        args.max_age_hours,
        args.fail_on_stale,
    )?;
    output::freshness(&report, &p.layout.freshness_report());
    Ok(())
}
