//! What both monitoring commands share: the model they watch, reading and sampling the two sets,
//! scoring them, the report (`reports/drift_report.json` / `production_drift_report.json`), its
//! HTML twin, and the monitoring run in the tracker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::MonitorOptions;
use super::drift::{self, ColumnDrift, ColumnPair, DriftSummary, Values};
use crate::config::{MonitoringConfig, Stage};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::model::frame::ColumnKind;
use crate::model::{ID_COLUMN, ModelBundle, ScoreOptions, TARGET_COLUMN, score};
use crate::tracking::{Batch, ModelRef, NewRun, RunStatus, Tracker};

/// The registered model a report watched.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WatchedModel {
    pub name: String,
    /// Registry version; `None` for a bundle folder.
    pub version: Option<u64>,
    /// The reference it was resolved from (`models:/creditrisk-pd/Production`, ...).
    pub reference: String,
    pub bundle_sha256: String,
}

/// One side of the comparison.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataSide {
    pub path: String,
    /// Rows read (after the serving contract, for raw production rows).
    pub rows: usize,
    /// Rows tested: at most `monitoring.sample_rows`, drawn with the configured seed.
    pub tested_rows: usize,
    /// sha256 of the file, when it was checked against the model's lineage.
    pub sha256: Option<String>,
    /// Raw rows the serving contract refused (production extracts of raw rows only).
    pub rejected_rows: Option<u64>,
}

impl DataSide {
    pub fn describe(&self) -> String {
        format!(
            "{} ({} rows, {} tested)",
            self.path, self.rows, self.tested_rows
        )
    }
}

/// `reports/drift_report.json` and `reports/production_drift_report.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DriftReport {
    /// `monitor-drift` or `monitor-production`.
    pub kind: String,
    pub generated_at: String,
    pub reference: DataSide,
    pub current: DataSide,
    pub model: WatchedModel,
    pub settings: MonitoringConfig,
    /// Every model feature, drifted first.
    pub features: Vec<ColumnDrift>,
    /// The model's PD on both sides (column `PD`).
    pub prediction: ColumnDrift,
    /// The label, when both sides carry one.
    pub target: Option<ColumnDrift>,
    pub summary: DriftSummary,
    /// The monitoring run logged to the tracker.
    pub tracking_run_id: Option<String>,
}

/// The model a monitoring command watches: `reference`, else the version in Production, else
/// the newest version of `registry.model_name`.
pub async fn watched_model(
    tracker: &Tracker,
    layout: &Layout,
    opts: &MonitorOptions,
    reference: Option<&ModelRef>,
) -> Result<(Arc<ModelBundle>, WatchedModel)> {
    let reference = match reference {
        Some(r) => r.clone(),
        None => {
            let name = opts.tracking.registry.model_name.clone();
            let versions = tracker.list_model_versions(&name).await.unwrap_or_default();
            if versions.is_empty() {
                return Err(Error::Input(format!(
                    "models:/{name}: no registered version to monitor; run `creditrisk train` \
                     first or pass --model"
                )));
            }
            if versions.iter().any(|v| v.stage == Stage::Production) {
                ModelRef::Stage {
                    name,
                    stage: Stage::Production,
                }
            } else {
                ModelRef::Latest { name }
            }
        }
    };
    let located = tracker
        .locate(&reference, &layout.model_cache_dir())
        .await?;
    let bundle = Arc::new(ModelBundle::load(&located.dir)?);
    let watched = WatchedModel {
        name: located
            .version
            .as_ref()
            .map_or_else(|| bundle.card.name.clone(), |v| v.name.clone()),
        version: located.version.as_ref().map(|v| v.version),
        reference: reference.to_string(),
        bundle_sha256: bundle.bundle_sha256.clone(),
    };
    Ok((bundle, watched))
}

/// Feature rows from Parquet or CSV (typed as the feature store).
pub fn read_feature_rows(path: &Path, hint: &str) -> Result<RecordBatch> {
    if !path.is_file() {
        return Err(Error::Input(format!(
            "{}: file not found; {hint}",
            path.display()
        )));
    }
    let batches: Vec<RecordBatch> = crate::predict::Input::open(path, 65_536, true)?
        .map(|chunk| chunk.map(|c| c.batch))
        .collect::<Result<_>>()?;
    match batches.first() {
        Some(first) => Ok(concat_batches(&first.schema(), &batches)?),
        None => Err(Error::Input(format!(
            "{}: no rows; drift needs a non-empty set",
            path.display()
        ))),
    }
}

/// At most `rows` rows of `batch`, drawn without replacement with `seed` (input order kept).
pub fn sample(batch: &RecordBatch, rows: usize, seed: u64) -> Result<RecordBatch> {
    if batch.num_rows() <= rows {
        return Ok(batch.clone());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picked = rand::seq::index::sample(&mut rng, batch.num_rows(), rows).into_vec();
    picked.sort_unstable();
    let indices = UInt32Array::from_iter_values(picked.iter().map(|&i| i as u32));
    Ok(take_record_batch(batch, &indices)?)
}

/// A named set of feature rows.
pub struct Dataset {
    pub side: DataSide,
    pub batch: RecordBatch,
}

impl Dataset {
    pub fn new(path: &Path, batch: RecordBatch) -> Dataset {
        Dataset {
            side: DataSide {
                path: path.display().to_string(),
                rows: batch.num_rows(),
                tested_rows: 0,
                sha256: None,
                rejected_rows: None,
            },
            batch,
        }
    }
}

/// The report and the tested columns (features in report order, then PD, then the label).
pub struct Analysis {
    pub report: DriftReport,
    pub pairs: Vec<ColumnPair>,
}

/// Sample both sets, test every model feature, score both with the model for prediction drift,
/// and test the label when both sides have one.
pub async fn analyse(
    kind: &str,
    bundle: Arc<ModelBundle>,
    model: WatchedModel,
    reference: Dataset,
    current: Dataset,
    cfg: &MonitoringConfig,
) -> Result<Analysis> {
    let (mut ref_side, mut cur_side) = (reference.side, current.side);
    // Different streams for the two sides, so equal-sized sets are not sampled alike.
    let ref_batch = sample(&reference.batch, cfg.sample_rows, cfg.seed)?;
    let cur_batch = sample(&current.batch, cfg.sample_rows, cfg.seed.wrapping_add(1))?;
    ref_side.tested_rows = ref_batch.num_rows();
    cur_side.tested_rows = cur_batch.num_rows();
    let mut pairs = drift::compare(
        &ref_batch,
        &ref_side.path,
        &cur_batch,
        &cur_side.path,
        &bundle.card.features,
        cfg,
    )?;
    drift::drifted_first(&mut pairs);

    let mut pd = vec![];
    for (batch, source) in [(&ref_batch, &ref_side.path), (&cur_batch, &cur_side.path)] {
        if batch.column_by_name(ID_COLUMN).is_none() {
            return Err(Error::Input(format!(
                "{source}: column `{ID_COLUMN}` is missing (feature rows carry the applicant id)"
            )));
        }
        let scored = score(bundle.clone(), batch.clone(), ScoreOptions::default())
            .await
            .map_err(|e| match e {
                Error::Input(m) => Error::Input(format!("{source}: {m}")),
                other => other,
            })?;
        pd.push(Values::Numeric(scored.pd));
    }
    let prediction = ColumnPair {
        drift: drift::test_column("PD", &pd[0], &pd[1], cfg)?,
        reference: pd[0].clone(),
        current: pd[1].clone(),
    };
    let target = target_pair(&ref_batch, &ref_side.path, &cur_batch, &cur_side.path, cfg)?;

    let features: Vec<ColumnDrift> = pairs.iter().map(|p| p.drift.clone()).collect();
    let summary = DriftSummary::of(
        &features,
        &prediction.drift,
        target.as_ref().map(|t| &t.drift),
        cfg,
    );
    let report = DriftReport {
        kind: kind.to_string(),
        generated_at: chrono::Utc::now().to_rfc3339(),
        reference: ref_side,
        current: cur_side,
        model,
        settings: cfg.clone(),
        features,
        prediction: prediction.drift.clone(),
        target: target.as_ref().map(|t| t.drift.clone()),
        summary,
        tracking_run_id: None,
    };
    pairs.push(prediction);
    pairs.extend(target);
    Ok(Analysis { report, pairs })
}

/// The label as a categorical column, when both sides have labelled rows.
fn target_pair(
    reference: &RecordBatch,
    reference_source: &str,
    current: &RecordBatch,
    current_source: &str,
    cfg: &MonitoringConfig,
) -> Result<Option<ColumnPair>> {
    if reference.column_by_name(TARGET_COLUMN).is_none()
        || current.column_by_name(TARGET_COLUMN).is_none()
    {
        return Ok(None);
    }
    let kind = ColumnKind::Categorical;
    let (r, r_null) = drift::column_values(reference, TARGET_COLUMN, kind, reference_source)?;
    let (c, c_null) = drift::column_values(current, TARGET_COLUMN, kind, current_source)?;
    if r.is_empty() || c.is_empty() {
        return Ok(None);
    }
    let mut d = drift::test_column(TARGET_COLUMN, &r, &c, cfg)?;
    d.reference_null_share = r_null;
    d.current_null_share = c_null;
    Ok(Some(ColumnPair {
        drift: d,
        reference: r,
        current: c,
    }))
}

/// Where a report goes.
pub struct Outputs {
    pub json: PathBuf,
    pub html: PathBuf,
}

/// Log the monitoring run (tagged with the watched model), then write the JSON and HTML reports
/// atomically and attach them to the run. A tracker failure marks the run failed.
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
    let version = report
        .model
        .version
        .map_or_else(|| "path".to_string(), |v| v.to_string());
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
    let outcome = log_run(tracker, &run.run_id, analysis, outputs).await;
    match outcome {
        Ok(()) => {
            tracker
                .end_run(&run.run_id, RunStatus::Finished, None)
                .await
        }
        Err(e) => {
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
    crate::io::write_json(&outputs.json, report)?;
    let pairs: Vec<&ColumnPair> = analysis.pairs.iter().collect();
    let html = super::html::render(report, &pairs)?;
    crate::io::write_atomic(&outputs.html, html.as_bytes())?;

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
        .map_err(|e| Error::Internal(format!("cannot serialise the monitoring settings: {e}")))?;
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
