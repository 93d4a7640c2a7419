//! `creditrisk evaluate --split train|test`: score a split with the latest model bundle, then
//! write metrics JSON, predictions Parquet, plots (PNG + SVG) and a self-contained HTML report.

pub mod bands;
pub mod metrics;
pub mod plots;
pub mod report_html;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::explain::Outcome;
use crate::model::{ID_COLUMN, ModelBundle, TARGET_COLUMN, frame, io};
use metrics::Metrics;

/// Which split to evaluate.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EvalSplit {
    Train,
    Test,
}

impl EvalSplit {
    pub fn name(self) -> &'static str {
        match self {
            EvalSplit::Train => "train",
            EvalSplit::Test => "test",
        }
    }
    /// Metrics file, plots folder and predictions file under `reports/`.
    fn outputs(self) -> (&'static str, &'static str, &'static str) {
        match self {
            EvalSplit::Train => ("metrics.json", "evaluation", "train_predictions.parquet"),
            EvalSplit::Test => (
                "test_metrics.json",
                "test_evaluation",
                "test_predictions.parquet",
            ),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalSummary {
    pub split: EvalSplit,
    pub model_dir: PathBuf,
    pub metrics: Metrics,
    pub metrics_file: PathBuf,
    pub predictions_file: PathBuf,
    pub plots_dir: PathBuf,
    pub html_report: PathBuf,
}

/// Evaluate the latest bundle of the configured model on a split.
pub fn run(cfg: &Config, split: EvalSplit) -> Result<EvalSummary> {
    let bundle = ModelBundle::load_latest(cfg)?;
    run_with_bundle(cfg, split, &bundle)
}

/// Evaluate a given bundle (e.g. a registry version) on a split.
pub fn run_with_bundle(
    cfg: &Config,
    split: EvalSplit,
    bundle: &ModelBundle,
) -> Result<EvalSummary> {
    let data_file = cfg
        .processed_dir()
        .join(format!("{}.parquet", split.name()));
    let source = data_file.display().to_string();
    let batch = io::read_parquet(&data_file, "run `creditrisk split-data` first")?;
    let ids = frame::id_column(&batch, ID_COLUMN, &source)?;
    let y = frame::target_column(&batch, TARGET_COLUMN, &source)?;
    metrics::require_both_classes(&y, &source)?;
    let pd = bundle.predict_pd(&batch)?;
    drop(batch);
    // The bundle's threshold and bands, not the current config's: the report must describe the
    // decisions this model makes when it scores.
    let threshold = bundle.card.decision_threshold;
    let bands = &bundle.card.pd_bands;
    let m = metrics::compute(&y, &pd, threshold, bands)?;

    let reports = cfg.reports_dir();
    let (metrics_name, plots_name, predictions_name) = split.outputs();
    let metrics_file = reports.join(metrics_name);
    crate::artifact::write_json(&metrics_file, &m)?;
    let predictions_file = reports.join(predictions_name);
    io::write_parquet(
        &predictions_file,
        &predictions_batch(&ids, &y, &pd, threshold, bands)?,
    )?;

    let plots_dir = reports.join(plots_name);
    std::fs::create_dir_all(&plots_dir).map_err(|e| Error::io(&plots_dir, e))?;
    let svgs = draw_plots(&plots_dir, &y, &pd, &m)?;
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
    let html_report = plots_dir.join("report.html");
    crate::artifact::write_atomic(&html_report, html.as_bytes())?;
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

/// SK_ID_CURR, y_true, PD, decision, band.
fn predictions_batch(
    ids: &[i64],
    y: &[f64],
    pd: &[f64],
    threshold: f64,
    pd_bands: &[f64],
) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(ID_COLUMN, DataType::Int64, false),
        Field::new("y_true", DataType::Int64, false),
        Field::new("PD", DataType::Float64, false),
        Field::new("decision", DataType::Utf8, false),
        Field::new("band", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.to_vec())),
        Arc::new(Int64Array::from_iter_values(y.iter().map(|v| *v as i64))),
        Arc::new(Float64Array::from(pd.to_vec())),
        Arc::new(StringArray::from_iter_values(
            pd.iter()
                .map(|p| Outcome::at_threshold(*p, threshold).as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            pd.iter()
                .map(|p| bands::band_name(bands::pd_band(*p, pd_bands))),
        )),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
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
