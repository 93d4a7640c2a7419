//! `creditrisk demo`: synthesise data when the raw folder holds no CSV, then `run`, then say
//! where the results are and how to serve the model.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::{RunOptions, RunSummary, stages::PROMOTE_TO};
use creditrisk_base::config::Config;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_base::progress::Reporter;
use creditrisk_model::metrics::Metrics;
use creditrisk_synth::SynthOptions;

#[derive(Clone, Debug, Serialize)]
pub struct DemoSummary {
    /// Seconds spent synthesising, when this demo generated the raw data.
    pub synth_seconds: Option<f64>,
    pub run: RunSummary,
    /// The test split's metrics (from `reports/test_metrics.json`, also when evaluate skipped).
    pub test: Metrics,
    pub test_metrics_file: PathBuf,
    pub html_report: PathBuf,
    pub reports_dir: PathBuf,
    /// Commands to try next: serve the promoted model, open the report.
    pub next_commands: Vec<String>,
}

impl DemoSummary {
    pub fn synthesised(&self) -> bool {
        self.synth_seconds.is_some()
    }
}

/// Synthesise `data.synth_rows` applicants when `paths.raw_dir` has no CSV, then run every stage.
pub async fn demo(cfg: &Config, reporter: &dyn Reporter) -> Result<DemoSummary> {
    let layout = Layout::new(cfg);
    let synth_seconds = if raw_dir_is_empty(&layout)? {
        let started = Instant::now();
        let opts = SynthOptions::new(
            cfg.data.synth_rows,
            cfg.data.seed,
            layout.raw_dir.clone(),
            layout.truth_file.clone(),
        );
        creditrisk_synth::run(&opts, reporter)?;
        Some(started.elapsed().as_secs_f64())
    } else {
        None
    };
    let run = super::run(cfg, &RunOptions::default(), reporter).await?;
    let test_metrics_file = layout.metrics_file(Split::Test);
    let text = std::fs::read_to_string(&test_metrics_file)
        .map_err(|e| Error::io(&test_metrics_file, e))?;
    let test: Metrics = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: unreadable metrics ({e}); run `creditrisk run --from evaluate --force`",
            test_metrics_file.display()
        ))
    })?;
    let html_report = layout.evaluation_report(Split::Test);
    let config = cfg.source.display();
    let next_commands = vec![
        format!(
            "creditrisk serve --config {config} --model models:/{}/{}",
            cfg.registry.model_name,
            PROMOTE_TO.as_str()
        ),
        format!("xdg-open {}", html_report.display()),
    ];
    Ok(DemoSummary {
        synth_seconds,
        run,
        test,
        test_metrics_file,
        html_report,
        reports_dir: layout.reports_dir.clone(),
        next_commands,
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
