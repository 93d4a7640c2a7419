//! What both monitoring commands share: the model they watch, reading and sampling the two sets,
//! scoring them, and the report (`reports/drift_report.json` / `production_drift_report.json`).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::MonitorOptions;
use super::drift::{self, ColumnDrift, ColumnPair, DriftSummary, Values};
use creditrisk_base::config::{MonitoringConfig, Stage};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::{ModelRef, Tracker};
use creditrisk_model::frame::ColumnKind;
use creditrisk_model::{ID_COLUMN, ModelBundle, ScoreOptions, TARGET_COLUMN, score};

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
                return Err(Error::input(format!(
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
    let loaded = creditrisk_model::registry::load(layout, &opts.tracking, &reference).await?;
    let bundle = loaded.bundle;
    let watched = WatchedModel {
        name: loaded.label.name().to_string(),
        version: loaded.label.version(),
        reference: reference.to_string(),
        bundle_sha256: bundle.bundle_sha256.clone(),
    };
    Ok((bundle, watched))
}

/// Feature rows from Parquet or CSV (typed as the feature store).
pub fn read_feature_rows(path: &Path, hint: &str) -> Result<RecordBatch> {
    if !path.is_file() {
        return Err(Error::input(format!(
            "{}: file not found; {hint}",
            path.display()
        )));
    }
    let batches: Vec<RecordBatch> = crate::predict::Input::open(path, 65_536, true)?
        .map(|chunk| chunk.map(|c| c.batch))
        .collect::<Result<_>>()?;
    match batches.first() {
        Some(first) => Ok(concat_batches(&first.schema(), &batches)?),
        None => Err(Error::input(format!(
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
            return Err(Error::input(format!(
                "{source}: column `{ID_COLUMN}` is missing (feature rows carry the applicant id)"
            )));
        }
        let scored = score(bundle.clone(), batch.clone(), ScoreOptions::default())
            .await
            .map_err(|e| e.about(source))?;
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
