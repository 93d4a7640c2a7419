//! `creditrisk evaluate --split train|test`: score a split with the latest model bundle, then
//! write metrics JSON, predictions Parquet, plots (PNG + SVG) and a self-contained HTML report.

pub mod plots;
pub mod report_html;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::{self, TrackingOptions};
use crate::io;
use crate::layout::{Layout, Split};
use crate::metrics::{self, Metrics};
use crate::model::{ID_COLUMN, ModelBundle, ScoreOptions, TARGET_COLUMN, frame, score};
use crate::tracking::Batch;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalSummary {
    pub split: Split,
    pub model_dir: PathBuf,
    pub metrics: Metrics,
    pub metrics_file: PathBuf,
    pub predictions_file: PathBuf,
    pub plots_dir: PathBuf,
    pub html_report: PathBuf,
}

/// Evaluate the latest bundle of `model_name` on a split; with `tracking`, add the metrics and
/// reports to the run that trained the bundle.
pub async fn run(
    layout: &Layout,
    model_name: &str,
    split: Split,
    tracking: Option<&TrackingOptions>,
) -> Result<EvalSummary> {
    let bundle = Arc::new(ModelBundle::load_latest(layout, model_name)?);
    let summary = run_with_bundle(layout, split, bundle.clone()).await?;
    if let (Some(tracking), Some(run_id)) = (tracking, &bundle.metadata.tracking_run_id) {
        let tracker = tracking.tracker(layout)?;
        let batch = experiment::metrics_batch(Batch::default(), split.name(), &summary.metrics);
        tracker.log_batch(run_id, &batch).await?;
        let folder = format!("evaluation/{}", split.name());
        tracker
            .log_artifact(run_id, &summary.plots_dir, &folder)
            .await?;
        tracker
            .log_artifact(run_id, &summary.metrics_file, &folder)
            .await?;
    }
    Ok(summary)
}

/// Evaluate a given bundle (e.g. a registry version) on a split.
pub async fn run_with_bundle(
    layout: &Layout,
    split: Split,
    bundle: Arc<ModelBundle>,
) -> Result<EvalSummary> {
    let data_file = layout.split_file(split);
    let source = data_file.display().to_string();
    let batch = io::read_parquet(&data_file, "run `creditrisk split-data` first")?;
    let y = frame::target_column(&batch, TARGET_COLUMN, &source)?;
    metrics::require_both_classes(&y, &source)?;
    // The scoring core decides, with the bundle's threshold and bands (not the current config's):
    // the report must describe the decisions this model makes when it scores.
    let scored = score(bundle.clone(), batch, ScoreOptions::default()).await?;
    let m = metrics::compute(&y, &scored.pd, scored.threshold, &bundle.card.pd_bands)?;

    let metrics_file = layout.metrics_file(split);
    io::write_json(&metrics_file, &m)?;
    let predictions_file = layout.predictions_file(split);
    io::write_batch(&predictions_file, &predictions_batch(&scored, &y)?)?;

    let plots_dir = layout.evaluation_dir(split);
    std::fs::create_dir_all(&plots_dir).map_err(|e| Error::io(&plots_dir, e))?;
    let svgs = draw_plots(&plots_dir, &y, &scored.pd, &m)?;
    let ctx = report_html::ReportContext {
        split: split.name(),
        model_name: &bundle.card.name,
        run_id: &bundle.metadata.run_id,
        learner: match bundle.card.learner {
            crate::config::Learner::GradientBoosting => "gradient-boosted trees (forust-ml)",
            crate::config::Learner::Logistic => "L2 logistic regression",
        },
        calibration: bundle.calibrator.method(),
        data_file: &source,
        bundle_sha256: &bundle.bundle_sha256,
    };
    let plot_refs: Vec<(&str, String)> = svgs.iter().map(|(n, s)| (*n, s.clone())).collect();
    let html = report_html::render(&ctx, &m, &plot_refs);
    let html_report = layout.evaluation_report(split);
    io::write_atomic(&html_report, html.as_bytes())?;
    Ok(EvalSummary {
        split,
        model_dir: bundle.dir.clone(),
        metrics: m,
        metrics_file,
        predictions_file,
        plots_dir,
        html_report,
    })
}

fn draw_plots(
    dir: &Path,
    y: &[f64],
    pd: &[f64],
    m: &Metrics,
) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        (
            "ROC curve",
            plots::render(
                &plots::RocPlot {
                    points: metrics::roc_curve(y, pd),
                    auc: m.roc_auc,
                },
                dir,
                "roc",
            )?,
        ),
        (
            "Precision-recall",
            plots::render(
                &plots::PrPlot {
                    points: metrics::pr_curve(y, pd),
                    base_rate: m.default_rate,
                },
                dir,
                "precision_recall",
            )?,
        ),
        (
            "Calibration",
            plots::render(
                &plots::CalibrationPlot::equal_count(y, pd, 20),
                dir,
                "calibration",
            )?,
        ),
        (
            "Confusion matrix",
            plots::render(
                &plots::ConfusionPlot {
                    confusion: m.confusion,
                    threshold: m.decision_threshold,
                },
                dir,
                "confusion_matrix",
            )?,
        ),
        (
            "PD distribution",
            plots::render(
                &plots::ScoreDistributionPlot::new(y, pd, 40),
                dir,
                "score_distribution",
            )?,
        ),
    ])
}

/// SK_ID_CURR, y_true, PD, decision, band: the scoring core's columns plus the label.
fn predictions_batch(scored: &crate::model::Scored, y: &[f64]) -> Result<RecordBatch> {
    let core = scored.to_record_batch(0)?;
    let mut fields: Vec<Field> = core
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = core.columns().to_vec();
    fields.insert(1, Field::new("y_true", DataType::Int64, false));
    columns.insert(
        1,
        Arc::new(Int64Array::from_iter_values(y.iter().map(|v| *v as i64))),
    );
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The best achievable AUC on the test split: the AUC of the true PD (from the synthetic truth
/// file: SK_ID_CURR, TRUE_PD) against the test split's TARGET.
pub fn bayes_auc(test_split: &Path, truth: &Path) -> Result<f64> {
    let test = io::read_parquet(test_split, "run `creditrisk split-data` first")?;
    let source = test_split.display().to_string();
    let ids = frame::id_column(&test, ID_COLUMN, &source)?;
    let y = frame::target_column(&test, TARGET_COLUMN, &source)?;
    let truth_batch = io::read_parquet(
        truth,
        "run `creditrisk synth` (only synthetic data has a truth file)",
    )?;
    let truth_source = truth.display().to_string();
    let truth_ids = frame::id_column(&truth_batch, ID_COLUMN, &truth_source)?;
    let true_pd = truth_batch
        .column_by_name("TRUE_PD")
        .ok_or_else(|| Error::Input(format!("{truth_source}: column `TRUE_PD` is missing")))?;
    let true_pd = cast(true_pd, &DataType::Float64)?;
    let true_pd = true_pd.as_primitive::<Float64Type>();
    let by_id: HashMap<i64, f64> = truth_ids
        .iter()
        .zip(true_pd.values().iter())
        .map(|(i, p)| (*i, *p))
        .collect();
    let mut scores = Vec::with_capacity(ids.len());
    for id in &ids {
        scores.push(*by_id.get(id).ok_or_else(|| {
            Error::Input(format!(
                "{truth_source}: SK_ID_CURR {id} of {source} has no TRUE_PD"
            ))
        })?);
    }
    metrics::roc_auc(&y, &scores)
}
