//! `creditrisk ingest`.

use creditrisk_base::Result;
use creditrisk_ops::ingest::IngestOptions;

use super::Project;
use crate::output;

pub fn exec(p: &Project) -> Result<()> {
    let summary = creditrisk_ops::ingest::run(&p.layout, &IngestOptions::from_config(&p.cfg))?;
    output::ingest(&summary);
    Ok(())
}
