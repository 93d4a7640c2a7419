//! `creditrisk demo`: the main job. Synthesises data when the raw folder holds no CSV, then runs
//! ingest → build-feature-store → split-data → train → evaluate (test split) and reports the
//! headline figures with the seconds each stage took.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::evaluate::EvalSummary;
use crate::experiment::TrackingOptions;
use crate::features::{FeatureStoreOptions, FeatureStoreSummary};
use crate::ingest::IngestOptions;
use crate::layout::{Layout, Split};
use crate::progress::Reporter;
use crate::split::SplitOptions;
use crate::synth::SynthOptions;
use crate::train::TrainOptions;

#[derive(Clone, Debug, Serialize)]
pub struct StageTiming {
    pub stage: &'static str,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DemoSummary {
    /// True when this run generated the raw data.
    pub synthesised: bool,
    pub stages: Vec<StageTiming>,
    pub feature_store: FeatureStoreSummary,
    pub test: EvalSummary,
}

impl DemoSummary {
    pub fn html_report(&self) -> &PathBuf {
        &self.test.html_report
    }
}

/// Run every stage on the configured data, synthesising it first when `paths.raw_dir` is empty.
pub async fn demo(cfg: &Config, reporter: &dyn Reporter) -> Result<DemoSummary> {
    let layout = Layout::new(cfg);
    let mut stages = Vec::new();
    let mut timed = |stage: &'static str, started: Instant| {
        stages.push(StageTiming {
            stage,
            seconds: started.elapsed().as_secs_f64(),
        });
    };

    let synthesised = raw_dir_is_empty(&layout)?;
    if synthesised {
        let started = Instant::now();
        let opts = SynthOptions::new(
            cfg.data.synth_rows,
            cfg.data.seed,
            layout.raw_dir.clone(),
            layout.truth_file.clone(),
        );
        crate::synth::run(&opts, reporter)?;
        timed("synth", started);
    }
    let started = Instant::now();
    crate::ingest::run(&layout, &IngestOptions::from_config(cfg))?;
    timed("ingest", started);

    let started = Instant::now();
    let feature_store = crate::features::build_feature_store(
        &layout,
        &FeatureStoreOptions::from_config(cfg),
        reporter,
    )
    .await?;
    timed("build-feature-store", started);

    let started = Instant::now();
    crate::split::run(&layout, &SplitOptions::from_config(cfg))?;
    timed("split-data", started);

    let started = Instant::now();
    crate::train::run(&layout, &TrainOptions::from_config(cfg)).await?;
    timed("train", started);

    let started = Instant::now();
    let tracking = TrackingOptions::from_config(cfg);
    let test = crate::evaluate::run(&layout, &cfg.model.name, Split::Test, Some(&tracking)).await?;
    timed("evaluate", started);

    Ok(DemoSummary {
        synthesised,
        stages,
        feature_store,
        test,
    })
}

/// True when the raw folder is missing or holds no CSV file.
fn raw_dir_is_empty(layout: &Layout) -> Result<bool> {
    let dir = &layout.raw_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.path().extension().is_some_and(|ext| ext == "csv") {
            return Ok(false);
        }
    }
    Ok(true)
}
