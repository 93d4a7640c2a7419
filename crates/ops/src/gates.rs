//! Governance gates on a registered model version: `validate-model` (minimum metrics,
//! evaluation artifacts, lineage, tracker metrics equal to the metric files), `canary` (candidate
//! vs production on the same data) and `auto-promote` (promote the newest version only when both
//! passed for that same version). Each writes a JSON report and fails with the report attached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::experiment::MODEL_ARTIFACT;
use crate::registry::{self, Promotion, Target};
use creditrisk_base::config::{Config, MetricName, Section, Stage};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_data::features::lineage::DataLineage;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_mlflow::{ModelRef, ModelVersion, Run, Tracker};
use creditrisk_model::metrics::{self, Metrics};
use creditrisk_model::{ScoreOptions, TARGET_COLUMN, frame, score};

/// What the gates read from the configuration.
#[derive(Clone, Debug)]
pub struct GateOptions {
    /// `testing.min_metrics`: a minimum for metrics where higher is better, a maximum otherwise.
    pub min_metrics: BTreeMap<MetricName, f64>,
    pub tracking: TrackingOptions,
}

impl GateOptions {
    pub const SECTIONS: [Section; 3] = [Section::Testing, Section::Tracking, Section::Registry];

    pub fn from_config(cfg: &Config) -> GateOptions {
        GateOptions {
            min_metrics: cfg.testing.min_metrics.clone(),
            tracking: TrackingOptions::from_config(cfg),
        }
    }

    /// `models:/<registry.model_name>/latest`, the default reference.
    pub fn latest(&self) -> ModelRef {
        ModelRef::Latest {
            name: self.tracking.registry.model_name.clone(),
        }
    }
}

/// One gate's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Gate {
    pub gate: String,
    pub passed: bool,
    pub detail: String,
}

/// `reports/post_training_validation.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidationOutcome {
    pub model_name: String,
    pub version: u64,
    pub run_id: String,
    pub passed: bool,
    pub gates: Vec<Gate>,
    pub checked_at: String,
}

/// Run the gates on a registered version (default: the newest).
pub async fn validate_model(
    layout: &Layout,
    opts: &GateOptions,
    reference: Option<&ModelRef>,
) -> Result<ValidationOutcome> {
    let tracker = opts.tracking.tracker(layout)?;
    let version = tracker.resolve(reference.unwrap_or(&opts.latest())).await?;
    let run_id = recorded_run(&version)?;
    let run = tracker.get_run(&run_id).await?;
    let mut gates = min_metric_gates(&opts.min_metrics, &run);
    gates.push(evaluation_artifacts_gate(layout, &tracker, &run_id).await?);
    gates.push(lineage_gate(layout, &run));
    gates.push(tracker_metrics_gate(layout, &run));
    let passed = gates.iter().all(|g| g.passed);
    let outcome = ValidationOutcome {
        model_name: version.name.clone(),
        version: version.version,
        run_id,
        passed,
        gates,
        checked_at: chrono::Utc::now().to_rfc3339(),
    };
    finish(&layout.post_training_validation(), &outcome, passed, || {
        validation_failure(&outcome)
    })?;
    Ok(outcome)
}

impl Gate {
    fn new(gate: &str, passed: bool, detail: String) -> Gate {
        Gate {
            gate: gate.into(),
            passed,
            detail,
        }
    }
}

/// The run that registered `version`: the gates judge what that run logged.
fn recorded_run(version: &ModelVersion) -> Result<String> {
    version.run_id.clone().ok_or_else(|| {
        Error::input(format!(
            "models:/{}/{} records no run; only versions registered by `creditrisk train` can be validated",
            version.name, version.version
        ))
    })
}

/// One gate per configured bound, on the registered run's test metrics.
fn min_metric_gates(min_metrics: &BTreeMap<MetricName, f64>, run: &Run) -> Vec<Gate> {
    min_metrics
        .iter()
        .map(|(name, bound)| {
            let gate = format!("min_metric.{}", name.as_str());
            let key = format!("test_{}", name.as_str());
            let Some(m) = run.metrics.get(&key) else {
                return Gate::new(
                    &gate,
                    false,
                    format!(
                        "the run has no `{key}`: run `creditrisk evaluate --split test` on this model"
                    ),
                );
            };
            let (ok, relation) = if name.higher_is_better() {
                (m.value >= *bound, "≥")
            } else {
                (m.value <= *bound, "≤")
            };
            Gate::new(
                &gate,
                ok,
                format!("{key} = {:.6}, required {relation} {bound}", m.value),
            )
        })
        .collect()
}

/// The test evaluation's files exist on disk, and the run holds the model and its evaluation.
async fn evaluation_artifacts_gate(
    layout: &Layout,
    tracker: &Tracker,
    run_id: &str,
) -> Result<Gate> {
    let files = [
        layout.metrics_file(Split::Test),
        layout.predictions_file(Split::Test),
        layout.evaluation_report(Split::Test),
    ];
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    let logged = tracker.list_artifacts(run_id, "").await?;
    let mut absent: Vec<&str> = [MODEL_ARTIFACT, "evaluation"]
        .into_iter()
        .filter(|a| !logged.iter().any(|e| e.path == *a))
        .collect();
    absent.sort_unstable();
    let complete = missing.is_empty() && absent.is_empty();
    let detail = if complete {
        "metrics, predictions, report and the run's model and evaluation artifacts present".into()
    } else {
        format!(
            "missing files: [{}]; missing run artifacts: [{}]",
            missing.join(", "),
            absent.join(", ")
        )
    };
    Ok(Gate::new("evaluation_artifacts", complete, detail))
}

/// The store's lineage exists and names the feature SQL the run's model carries.
fn lineage_gate(layout: &Layout, run: &Run) -> Gate {
    let sql_tag = run
        .tags
        .get("creditrisk.feature_sql_sha256")
        .cloned()
        .unwrap_or_default();
    let lineage = std::fs::read_to_string(layout.lineage_file())
        .ok()
        .and_then(|t| serde_json::from_str::<DataLineage>(&t).ok());
    let (ok, detail) = match lineage {
        None => (
            false,
            format!(
                "{} is missing or unreadable",
                layout.lineage_file().display()
            ),
        ),
        Some(l) if sql_tag.is_empty() => (
            false,
            format!(
                "the run has no creditrisk.feature_sql_sha256 tag (lineage SQL {})",
                l.feature_sql_sha256
            ),
        ),
        Some(l) => (
            l.feature_sql_sha256 == sql_tag,
            format!(
                "lineage feature SQL {}, run's {}",
                l.feature_sql_sha256, sql_tag
            ),
        ),
    };
    Gate::new("lineage", ok, detail)
}

/// Every test metric the tracker holds equals the one in the metric file.
fn tracker_metrics_gate(layout: &Layout, run: &Run) -> Gate {
    let file = match read_metrics(&layout.metrics_file(Split::Test)) {
        Err(e) => return Gate::new("tracker_metrics_match_files", false, e.to_string()),
        Ok(file) => file,
    };
    let differing: Vec<String> = MetricName::ALL
        .iter()
        .filter_map(|name| {
            let key = format!("test_{}", name.as_str());
            let tracked = run.metrics.get(&key).map(|m| m.value);
            let local = file.get(*name);
            (tracked.is_none_or(|t| !same(t, local)))
                .then(|| format!("{key}: tracker {tracked:?}, file {local}"))
        })
        .collect();
    let detail = if differing.is_empty() {
        "every test metric in the tracker equals the metric file".into()
    } else {
        differing.join("; ")
    };
    Gate::new("tracker_metrics_match_files", differing.is_empty(), detail)
}

/// The error text of a failed validation: each failed gate with its detail.
fn validation_failure(outcome: &ValidationOutcome) -> String {
    let failed: Vec<String> = outcome
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| format!("{}: {}", g.gate, g.detail))
        .collect();
    format!(
        "validate-model models:/{}/{}: {}",
        outcome.model_name,
        outcome.version,
        failed.join(" | ")
    )
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn read_metrics(path: &Path) -> Result<Metrics> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::input_from(format!("{}: unreadable metrics", path.display()), e))
}

/// Write a report, then fail with it attached when the gate did not pass.
fn finish<T: Serialize>(
    path: &Path,
    report: &T,
    passed: bool,
    message: impl FnOnce() -> String,
) -> Result<()> {
    creditrisk_base::io::write_json(path, report)?;
    if passed {
        Ok(())
    } else {
        Err(Error::check(message()).with_report(path.to_path_buf()))
    }
}

/// The canary's default tolerance on |candidate − production| of approval rate, mean PD and AUC.
pub const DEFAULT_MAX_METRIC_DELTA: f64 = 0.05;

/// One model's figures in a canary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CanarySide {
    pub reference: String,
    pub version: Option<u64>,
    pub approval_rate: f64,
    pub mean_pd: f64,
    /// `None` when the data has no labels (or one class only).
    pub roc_auc: Option<f64>,
}

/// How a canary ended; written as `"skipped"`, `"passed"` or `"failed"` in the report.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CanaryStatus {
    /// No production model yet: nothing to compare against, so the gate passes.
    Skipped,
    Passed,
    Failed,
}

impl CanaryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryStatus::Skipped => "skipped",
            CanaryStatus::Passed => "passed",
            CanaryStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for CanaryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `reports/canary_report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CanaryReport {
    pub status: CanaryStatus,
    pub reason: String,
    pub dataset: String,
    pub rows: usize,
    pub max_metric_delta: f64,
    pub candidate: Option<CanarySide>,
    pub production: Option<CanarySide>,
    /// |candidate − production| per figure.
    pub deltas: BTreeMap<String, f64>,
    pub passed: bool,
    pub checked_at: String,
}

/// Score the candidate and the production model on the same feature rows and compare approval
/// rate, mean PD and AUC; fail beyond `max_delta`. Skipped (passed) when there is no production
/// model yet.
pub async fn canary(
    layout: &Layout,
    opts: &GateOptions,
    candidate: &ModelRef,
    production: &ModelRef,
    dataset: Option<&Path>,
    max_delta: f64,
) -> Result<CanaryReport> {
    if max_delta.is_nan() || max_delta < 0.0 {
        return Err(Error::config(format!(
            "--max-metric-delta {max_delta}: must be ≥ 0"
        )));
    }
    let tracker = opts.tracking.tracker(layout)?;
    let data_file = dataset.map_or_else(|| layout.split_file(Split::Test), Path::to_path_buf);
    let mut report = CanaryReport {
        status: CanaryStatus::Skipped,
        reason: String::new(),
        dataset: data_file.display().to_string(),
        rows: 0,
        max_metric_delta: max_delta,
        candidate: None,
        production: None,
        deltas: BTreeMap::new(),
        passed: true,
        checked_at: chrono::Utc::now().to_rfc3339(),
    };
    if !exists(&tracker, production).await? {
        report.reason =
            format!("no production model yet ({production}); nothing to compare against");
        creditrisk_base::io::write_json(&layout.canary_report(), &report)?;
        return Ok(report);
    }
    let batch = creditrisk_base::parquet_io::read_parquet(
        &data_file,
        "pass --dataset or run `creditrisk split-data`",
    )?;
    let labels = frame::target_column(&batch, TARGET_COLUMN, &report.dataset).ok();
    report.rows = batch.num_rows();
    let mut sides = vec![];
    for reference in [candidate, production] {
        let loaded = creditrisk_model::registry::load(layout, &opts.tracking, reference).await?;
        let scored = score(loaded.bundle, batch.clone(), ScoreOptions::default()).await?;
        let approved = scored
            .decisions
            .iter()
            .filter(|d| d.as_str() == "approve")
            .count();
        let rows = scored.rows().max(1) as f64;
        let roc_auc = labels
            .as_ref()
            .and_then(|y| metrics::roc_auc(y, &scored.pd).ok());
        sides.push(CanarySide {
            reference: reference.to_string(),
            version: loaded.label.version(),
            approval_rate: approved as f64 / rows,
            mean_pd: scored.pd.iter().sum::<f64>() / rows,
            roc_auc,
        });
    }
    let (c, p) = (&sides[0], &sides[1]);
    report.deltas.insert(
        "approval_rate".into(),
        (c.approval_rate - p.approval_rate).abs(),
    );
    report
        .deltas
        .insert("mean_pd".into(), (c.mean_pd - p.mean_pd).abs());
    if let (Some(a), Some(b)) = (c.roc_auc, p.roc_auc) {
        report.deltas.insert("roc_auc".into(), (a - b).abs());
    }
    let beyond: Vec<String> = report
        .deltas
        .iter()
        .filter(|(_, d)| d.is_nan() || **d > max_delta)
        .map(|(k, d)| format!("{k} Δ {d:.4} > {max_delta}"))
        .collect();
    report.passed = beyond.is_empty();
    report.status = if report.passed {
        CanaryStatus::Passed
    } else {
        CanaryStatus::Failed
    };
    report.reason = if report.passed {
        format!("every delta within {max_delta}")
    } else {
        beyond.join("; ")
    };
    report.candidate = Some(sides[0].clone());
    report.production = Some(sides[1].clone());
    let message = format!("canary {candidate} vs {production}: {}", report.reason);
    finish(&layout.canary_report(), &report, report.passed, || message)?;
    Ok(report)
}

/// Whether a registry reference names an existing version (a path: whether it exists).
async fn exists(tracker: &Tracker, reference: &ModelRef) -> Result<bool> {
    let name = match reference {
        ModelRef::Path(p) => return Ok(p.exists()),
        ModelRef::Version { name, .. }
        | ModelRef::Alias { name, .. }
        | ModelRef::Stage { name, .. }
        | ModelRef::Latest { name } => name,
    };
    let versions = tracker.list_model_versions(name).await.unwrap_or_default();
    Ok(versions.iter().any(|v| matches(v, reference)))
}

fn matches(v: &ModelVersion, reference: &ModelRef) -> bool {
    match reference {
        ModelRef::Version { version, .. } => v.version == *version,
        ModelRef::Alias { alias, .. } => v.aliases.contains(alias),
        ModelRef::Stage { stage, .. } => v.stage == *stage,
        ModelRef::Latest { .. } => true,
        ModelRef::Path(_) => false,
    }
}

/// What `auto-promote` decided, in `reports/registry_transition.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AutoPromotion {
    pub model_name: String,
    pub version: Option<u64>,
    pub promoted: bool,
    pub reasons: Vec<String>,
    pub transition: Option<registry::Transition>,
    pub report: PathBuf,
}

/// Promote the newest registered version when its validate-model and canary reports both passed
/// for that same version; record why (or why not).
pub async fn auto_promote(
    layout: &Layout,
    opts: &GateOptions,
    target: Target,
) -> Result<AutoPromotion> {
    let tracker = opts.tracking.tracker(layout)?;
    let name = opts.tracking.registry.model_name.clone();
    let newest = tracker
        .list_model_versions(&name)
        .await?
        .into_iter()
        .max_by_key(|v| v.version);
    let mut reasons = vec![];
    let Some(newest) = newest else {
        reasons.push(format!("models:/{name}: no registered version"));
        return refuse(layout, name, None, reasons);
    };
    let validation: Option<ValidationOutcome> = read_json(&layout.post_training_validation());
    match &validation {
        None => reasons.push("no validate-model report: run `creditrisk validate-model`".into()),
        Some(v) if v.version != newest.version => reasons.push(format!(
            "the validate-model report is for version {}, not the newest ({})",
            v.version, newest.version
        )),
        Some(v) if !v.passed => {
            reasons.push(format!("validate-model failed for version {}", v.version))
        }
        Some(_) => {}
    }
    let canary: Option<CanaryReport> = read_json(&layout.canary_report());
    match &canary {
        None => reasons.push("no canary report: run `creditrisk canary`".into()),
        Some(c) if !c.passed => reasons.push(format!("canary failed: {}", c.reason)),
        Some(c) => {
            let version = c.candidate.as_ref().and_then(|s| s.version);
            // A skipped canary (no production yet) names no candidate; it passes for any version.
            if c.status != CanaryStatus::Skipped && version != Some(newest.version) {
                reasons.push(format!(
                    "the canary report is for version {version:?}, not the newest ({})",
                    newest.version
                ));
            }
        }
    }
    if !reasons.is_empty() {
        return refuse(layout, name, Some(newest.version), reasons);
    }
    let canary_note = canary
        .map(|c| format!("canary {}: {}", c.status, c.reason))
        .unwrap_or_default();
    let target = match target {
        Target::Stage { stage, .. } if matches!(stage, Stage::Staging | Stage::Production) => {
            Target::Stage {
                stage,
                archive_existing: opts.tracking.registry.archive_on_promote,
            }
        }
        other => other,
    };
    let request = Promotion {
        version: newest.version,
        target,
        reviewer: Some("creditrisk auto-promote".into()),
        note: Some(format!("validate-model passed; {canary_note}")),
    };
    let transition = registry::promote(layout, &opts.tracking, &request).await?;
    let outcome = AutoPromotion {
        model_name: name,
        version: Some(newest.version),
        promoted: true,
        reasons: vec![request.note.clone().unwrap_or_default()],
        report: transition.report.clone(),
        transition: Some(transition),
    };
    creditrisk_base::io::write_json(&outcome.report, &outcome)?;
    Ok(outcome)
}

fn refuse(
    layout: &Layout,
    model_name: String,
    version: Option<u64>,
    reasons: Vec<String>,
) -> Result<AutoPromotion> {
    let outcome = AutoPromotion {
        model_name,
        version,
        promoted: false,
        reasons,
        transition: None,
        report: layout.registry_transition(),
    };
    finish(&outcome.report, &outcome, false, || {
        format!("auto-promote refused: {}", outcome.reasons.join("; "))
    })?;
    Ok(outcome)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
}
