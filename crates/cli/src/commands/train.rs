//! `creditrisk train`.

use creditrisk_base::Result;
use creditrisk_ops::train::TrainOptions;

use super::Project;
use crate::output;

pub async fn exec(p: &Project) -> Result<()> {
    let summary = creditrisk_ops::train::run(&p.layout, &TrainOptions::from_config(&p.cfg)).await?;
    output::train(&summary);
    Ok(())
}
