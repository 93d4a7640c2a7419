//! A finished analysis made public: the monitoring run in the tracker (tagged with the model it
//! watched), the JSON and HTML reports written atomically and attached to that run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::MonitorOptions;
use super::drift::ColumnPair;
use super::report::Analysis;
use creditrisk_base::error::{Error, Result};
use creditrisk_mlflow::{Batch, NewRun, RunStatus, Tracker};

/// Where a report goes.
pub struct Outputs {
    pub json: PathBuf,
    pub html: PathBuf,
}

/// Start the monitoring run, write the reports (the JSON names the run), log the figures and
/// attach the reports; a failure marks the run failed.
pub async fn publish(
    tracker: &Tracker,
    opts: &MonitorOptions,
    analysis: &mut Analysis,
    outputs: &Outputs,
) -> Result<()> {
    let report = &analysis.report;
    let experiment = tracker
        .get_or_create_experiment(&opts.tracking.tracking.experiment_name)
        .await?;
    let mut spec = NewRun::new(format!(
        "{}-{}",
        report.kind,
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    spec.source_name = format!("creditrisk {}", report.kind);
    spec.tags = opts.tracking.tracking.tags.clone();
    let version = creditrisk_model::registry::version_text(report.model.version);
    for (k, v) in [
        ("creditrisk.run_type", "monitoring".to_string()),
        ("creditrisk.monitor", report.kind.clone()),
        ("creditrisk.monitored_model", report.model.name.clone()),
        ("creditrisk.monitored_version", version),
        (
            "creditrisk.monitored_reference",
            report.model.reference.clone(),
        ),
        (
            "creditrisk.monitored_bundle_sha256",
            report.model.bundle_sha256.clone(),
        ),
    ] {
        spec.tags.insert(k.to_string(), v);
    }
    let run = tracker.create_run(&experiment, &spec).await?;
    analysis.report.tracking_run_id = Some(run.run_id.clone());
    match log_run(tracker, &run.run_id, analysis, outputs).await {
        Ok(()) => {
            tracker
                .end_run(&run.run_id, RunStatus::Finished, None)
                .await
        }
        Err(e) => {
            // Best effort: the original error matters more than this one.
            let _ = tracker.end_run(&run.run_id, RunStatus::Failed, None).await;
            Err(e)
        }
    }
}

async fn log_run(
    tracker: &Tracker,
    run_id: &str,
    analysis: &Analysis,
    outputs: &Outputs,
) -> Result<()> {
    let report = &analysis.report;
    creditrisk_base::io::write_json(&outputs.json, report)?;
    let pairs: Vec<&ColumnPair> = analysis.pairs.iter().collect();
    let html = super::html::render(report, &pairs)?;
    creditrisk_base::io::write_atomic(&outputs.html, html.as_bytes())?;

    let s = &report.summary;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut batch = Batch::default()
        .metric("drift_features", s.features as f64, 0)
        .metric("drifted_features", s.drifted as f64, 0)
        .metric("drifted_share", s.drifted_share, 0)
        .metric("dataset_drift", flag(s.dataset_drift), 0)
        .metric("prediction_psi", s.prediction_psi, 0)
        .metric("prediction_drift", flag(s.prediction_drift), 0)
        .metric("reference_rows", report.reference.rows as f64, 0)
        .metric("current_rows", report.current.rows as f64, 0);
    if let Some(t) = s.target_drift {
        batch = batch.metric("target_drift", flag(t), 0);
    }
    let mut params = BTreeMap::new();
    let settings = serde_json::to_value(&report.settings)
        .map_err(|e| Error::internal_from("cannot serialise the monitoring settings", e))?;
    crate::experiment::flatten("monitoring", &settings, &mut params);
    params.insert("reference".into(), report.reference.path.clone());
    params.insert("current".into(), report.current.path.clone());
    for (k, v) in params {
        batch = batch.param(k, v);
    }
    tracker.log_batch(run_id, &batch).await?;
    for file in [&outputs.json, &outputs.html] {
        tracker.log_artifact(run_id, file, "drift").await?;
    }
    Ok(())
}
