//! `creditrisk split-data`.

use creditrisk_base::Result;
use creditrisk_ops::split::SplitOptions;

use super::Project;
use crate::output;

pub fn exec(p: &Project) -> Result<()> {
    let summary = creditrisk_ops::split::run(&p.layout, &SplitOptions::from_config(&p.cfg))?;
    output::split(&summary);
    Ok(())
}
