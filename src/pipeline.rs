//! `creditrisk demo`: the main job. Synthesises data when the raw folder holds no CSV, then runs
//! ingest → build-feature-store → split-data → train → evaluate (test split) and reports the
//! headline figures with the seconds each stage took.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::evaluate::{EvalSplit, EvalSummary};

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
    pub test: EvalSummary,
}

impl DemoSummary {
    pub fn html_report(&self) -> &PathBuf {
        &self.test.html_report
    }
}

/// Run every stage on the configured data, synthesising it first when `paths.raw_dir` is empty.
pub fn demo(cfg: &Config) -> Result<DemoSummary> {
    let mut stages = Vec::new();
    let mut timed = |stage: &'static str, started: Instant| {
        stages.push(StageTiming {
            stage,
            seconds: started.elapsed().as_secs_f64(),
        });
    };

    let synthesised = raw_dir_is_empty(cfg)?;
    if synthesised {
        let started = Instant::now();
        let mut opts = crate::synth::SynthOptions::new(
            cfg.data.synth_rows,
            cfg.data.seed,
            cfg.raw_dir(),
            cfg.resolve(&cfg.paths.truth_file),
        );
        opts.progress = true;
        crate::synth::run(&opts)?;
        timed("synth", started);
    }
    let started = Instant::now();
    crate::ingest::run(cfg)?;
    timed("ingest", started);

    let started = Instant::now();
    crate::features::build_feature_store(cfg, None)?;
    timed("build-feature-store", started);

    let started = Instant::now();
    crate::split::run(cfg)?;
    timed("split-data", started);

    let started = Instant::now();
    crate::model::train(cfg)?;
    timed("train", started);

    let started = Instant::now();
    let test = crate::evaluate::run(cfg, EvalSplit::Test)?;
    timed("evaluate", started);

    Ok(DemoSummary {
        synthesised,
        stages,
        test,
    })
}

/// True when the raw folder is missing or holds no CSV file.
fn raw_dir_is_empty(cfg: &Config) -> Result<bool> {
    let dir = cfg.raw_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        if entry.path().extension().is_some_and(|ext| ext == "csv") {
            return Ok(false);
        }
    }
    Ok(true)
}
