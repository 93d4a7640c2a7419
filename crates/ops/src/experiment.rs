//! What a creditrisk run records in the tracker (MLflow's formats, either backend): the training
//! run with every config value and learner hyperparameter it used, its lineage as tags, its
//! validation metrics and its bundle as the `model` artifact; the registered version (promoted to
//! `registry.stage_on_register` when it clears `registry.promote_on_metric`); and the evaluation
//! metrics and reports `evaluate` adds to the same run.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use creditrisk_base::config::Stage;
use creditrisk_base::error::Result;
use creditrisk_mlflow::{
    Batch, ModelVersion, NewRun, RunInfo, RunStatus, Tracker, TrackingOptions,
};
use creditrisk_model::metrics::{MetricName, Metrics};

/// Artifact path of the model bundle inside a run (what registry versions point at).
pub const MODEL_ARTIFACT: &str = "model";

/// Start a run in `tracking.experiment_name` named after the bundle's run id.
pub async fn start_run(
    tracker: &Tracker,
    opts: &TrackingOptions,
    run_name: &str,
    git_commit: &str,
) -> Result<RunInfo> {
    let experiment = tracker
        .get_or_create_experiment(&opts.tracking.experiment_name)
        .await?;
    let mut spec = NewRun::new(run_name);
    spec.source_name = "creditrisk train".into();
    spec.git_commit = (git_commit != "unknown").then(|| git_commit.to_string());
    spec.tags = opts.tracking.tags.clone();
    tracker.create_run(&experiment, &spec).await
}

/// Mark a run failed (best effort: the original error matters more than this one).
pub async fn fail_run(tracker: &Tracker, run_id: &str) {
    let _ = tracker.end_run(run_id, RunStatus::Failed, None).await;
}

/// `<prefix>_<metric>` for every named metric.
pub fn metrics_batch(batch: Batch, prefix: &str, metrics: &Metrics) -> Batch {
    MetricName::ALL.iter().fold(batch, |b, name| {
        b.metric(format!("{prefix}_{}", name.as_str()), metrics.get(*name), 0)
    })
}

/// Every leaf of a JSON value as `prefix.key.subkey` → text (arrays as JSON text).
pub fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten(&format!("{prefix}.{key}"), v, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Log the finished training run (params, lineage tags, validation metrics, the bundle and the
/// feature-store reports), register the bundle as a new version and apply the promotion rule.
pub async fn record_training(
    tracker: &Tracker,
    opts: &TrackingOptions,
    run: &RunInfo,
    logged: Batch,
    validation: &Metrics,
    bundle_dir: &Path,
    reports: &[(&Path, &str)],
) -> Result<ModelVersion> {
    tracker
        .log_batch(&run.run_id, &metrics_batch(logged, "val", validation))
        .await?;
    tracker
        .log_artifact(&run.run_id, bundle_dir, MODEL_ARTIFACT)
        .await?;
    for (file, artifact_path) in reports {
        if file.exists() {
            tracker
                .log_artifact(&run.run_id, file, artifact_path)
                .await?;
        }
    }
    let name = &opts.registry.model_name;
    tracker.create_registered_model(name).await?;
    let version = tracker
        .create_model_version(
            name,
            &run.artifact_uri_of(MODEL_ARTIFACT),
            Some(&run.run_id),
            None,
        )
        .await?;
    let rule = opts.registry.promote_on_metric;
    let value = validation.get(rule);
    let passes = if rule.higher_is_better() {
        value >= opts.registry.promote_min_value
    } else {
        value <= opts.registry.promote_min_value
    };
    let stage = opts.registry.stage_on_register;
    // Loading by reference checks the bundle against this digest (registry::load).
    let digest = creditrisk_base::io::sha256_file(
        &bundle_dir.join(creditrisk_base::layout::BundleFile::Manifest.name()),
    )?;
    tracker
        .set_model_version_tag(
            name,
            version.version,
            creditrisk_model::registry::BUNDLE_SHA256_TAG,
            &digest,
        )
        .await?;
    let version = if passes && stage != Stage::None {
        tracker
            .transition_stage(name, version.version, stage, false)
            .await?
    } else {
        version
    };
    let reason = format!(
        "validation {} = {value:.6} {} registry.promote_min_value {}",
        rule.as_str(),
        if passes { "meets" } else { "misses" },
        opts.registry.promote_min_value
    );
    tracker
        .set_model_version_tag(name, version.version, "creditrisk.registration", &reason)
        .await?;
    tracker
        .end_run(&run.run_id, RunStatus::Finished, None)
        .await?;
    Ok(version)
}
