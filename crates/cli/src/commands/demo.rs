//! `creditrisk demo`.

use creditrisk_base::Result;

use super::Project;
use crate::output;

pub async fn exec(p: &Project) -> Result<()> {
    let summary = creditrisk_ops::pipeline::demo(&p.cfg, &p.bars).await?;
    output::demo(&summary, p.cfg.data.synth_rows);
    Ok(())
}
