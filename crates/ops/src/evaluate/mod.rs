//! `creditrisk evaluate --split train|test [--by COLUMN]`: score a split with the latest model
//! bundle, then write metrics JSON, predictions Parquet, plots (PNG + SVG), the segment
//! (adverse-impact) analysis and stability by period, and a self-contained HTML report.

pub mod plots;
pub mod report_html;
pub mod segments;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use serde::{Deserialize, Serialize};

use crate::experiment;
use creditrisk_base::config::{Config, GovernanceConfig};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io;
use creditrisk_base::layout::{Layout, Split};
use creditrisk_base::parquet_io;
use creditrisk_mlflow::Batch;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::metrics::{self, Metrics};
use creditrisk_model::{ID_COLUMN, ModelBundle, ScoreOptions, Scored, TARGET_COLUMN, frame, score};
use segments::SegmentsReport;

/// What `evaluate` reads from the configuration and the command line.
#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    /// `model.name`: the latest bundle of this model is evaluated.
    pub model_name: String,
    pub governance: GovernanceConfig,
    /// `--by COLUMN`: stability of AUC, default rate and mean PD per period.
    pub by: Option<String>,
    /// Where to add the figures (the bundle's run); `None` evaluates without a tracker.
    pub tracking: Option<TrackingOptions>,
}

impl EvaluateOptions {
    pub fn from_config(cfg: &Config) -> EvaluateOptions {
        EvaluateOptions {
            model_name: cfg.model.name.clone(),
            governance: cfg.governance.clone(),
            by: None,
            tracking: Some(TrackingOptions::from_config(cfg)),
        }
    }
}

/// A split scored and measured, before anything is written (also what a model card shows).
pub struct Assessment {
    pub source: String,
    pub y: Vec<f64>,
    pub scored: Scored,
    pub metrics: Metrics,
    pub segments: SegmentsReport,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalSummary {
    pub split: Split,
    pub model_dir: PathBuf,
    pub metrics: Metrics,
    pub metrics_file: PathBuf,
    pub predictions_file: PathBuf,
    pub plots_dir: PathBuf,
    pub html_report: PathBuf,
    pub segments: SegmentsReport,
    pub segments_file: PathBuf,
}

/// Evaluate the latest bundle of `opts.model_name` on a split; with `opts.tracking`, add the
/// metrics, the segment figures and the reports to the run that trained the bundle.
pub async fn run(layout: &Layout, opts: &EvaluateOptions, split: Split) -> Result<EvalSummary> {
    let bundle = Arc::new(ModelBundle::load_latest(layout, &opts.model_name)?);
    let summary = run_with_bundle(layout, opts, split, bundle.clone()).await?;
    if let (Some(tracking), Some(run_id)) = (&opts.tracking, &bundle.metadata.tracking_run_id) {
        let tracker = tracking.tracker(layout)?;
        let batch = experiment::metrics_batch(Batch::default(), split.name(), &summary.metrics);
        let batch = segment_metrics(batch, &summary.segments);
        tracker.log_batch(run_id, &batch).await?;
        let folder = format!("evaluation/{}", split.name());
        tracker
            .log_artifact(run_id, &summary.plots_dir, &folder)
            .await?;
        tracker
            .log_artifact(run_id, &summary.metrics_file, &folder)
            .await?;
        tracker
            .log_artifact(run_id, &summary.segments_file, &folder)
            .await?;
    }
    Ok(summary)
}

/// `<split>_segments_flagged` and, per segment, `<split>_segment.<name>.<value>.approval_rate`
/// and `.adverse_impact_ratio` (values sanitised to MLflow's key characters).
fn segment_metrics(batch: Batch, report: &SegmentsReport) -> Batch {
    let split = report.split.name();
    let key = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut batch = batch.metric(
        format!("{split}_segments_flagged"),
        report.flagged.len() as f64,
        0,
    );
    for a in &report.attributes {
        for s in &a.segments {
            let prefix = format!("{split}_segment.{}.{}", key(&a.name), key(&s.value));
            batch = batch.metric(format!("{prefix}.approval_rate"), s.approval_rate, 0);
            if let Some(ratio) = s.adverse_impact_ratio {
                batch = batch.metric(format!("{prefix}.adverse_impact_ratio"), ratio, 0);
            }
        }
    }
    batch
}

/// Score a split with a bundle and measure it: metrics, segments, periods. Writes nothing.
pub async fn assess(
    layout: &Layout,
    opts: &EvaluateOptions,
    split: Split,
    bundle: Arc<ModelBundle>,
) -> Result<Assessment> {
    let data_file = layout.split_file(split);
    let source = data_file.display().to_string();
    let batch = parquet_io::read_parquet(&data_file, "run `creditrisk split-data` first")?;
    let y = frame::target_column(&batch, TARGET_COLUMN, &source)?;
    metrics::require_both_classes(&y, &source)?;
    // The scoring core decides, with the bundle's threshold and bands (not the current config's):
    // the report must describe the decisions this model makes when it scores.
    let scored = score(bundle.clone(), batch.clone(), ScoreOptions::default()).await?;
    let m = metrics::compute(&y, &scored.pd, scored.threshold, &bundle.card.pd_bands)?;
    let scope = segments::Scope {
        layout,
        split,
        batch: &batch,
        ids: &scored.ids,
        y: &y,
        pd: &scored.pd,
        threshold: scored.threshold,
    };
    let (attributes, stability) = segments::analyse(&scope, &opts.governance, opts.by.as_deref())?;
    let flagged = attributes
        .iter()
        .flat_map(|a| a.flagged.iter().map(move |v| format!("{}={v}", a.name)))
        .collect();
    let segments = SegmentsReport {
        split,
        model_name: bundle.card.name.clone(),
        bundle_sha256: bundle.bundle_sha256.clone(),
        decision_threshold: scored.threshold,
        adverse_impact_ratio: opts.governance.adverse_impact_ratio,
        min_segment_rows: opts.governance.min_segment_rows,
        attributes,
        flagged,
        stability,
    };
    Ok(Assessment {
        source,
        y,
        scored,
        metrics: m,
        segments,
    })
}

/// Evaluate a given bundle (e.g. a registry version) on a split and write every report.
pub async fn run_with_bundle(
    layout: &Layout,
    opts: &EvaluateOptions,
    split: Split,
    bundle: Arc<ModelBundle>,
) -> Result<EvalSummary> {
    let Assessment {
        source,
        y,
        scored,
        metrics: m,
        segments,
    } = assess(layout, opts, split, bundle.clone()).await?;

    let segments_file = layout.segments_file(split);
    io::write_json(&segments_file, &segments)?;
    let metrics_file = layout.metrics_file(split);
    io::write_json(&metrics_file, &m)?;
    let predictions_file = layout.predictions_file(split);
    parquet_io::write_batch(&predictions_file, &predictions_batch(&scored, &y)?)?;

    let plots_dir = layout.evaluation_dir(split);
    std::fs::create_dir_all(&plots_dir).map_err(|e| Error::io(&plots_dir, e))?;
    let drawn = draw_plots(&plots_dir, &y, &scored.pd, &m)?;
    let ctx = report_html::ReportContext {
        split: split.name(),
        model_name: &bundle.card.name,
        run_id: &bundle.metadata.run_id,
        learner: match bundle.card.learner {
            creditrisk_base::config::Learner::GradientBoosting => {
                "gradient-boosted trees (forust-ml)"
            }
            creditrisk_base::config::Learner::Logistic => "L2 logistic regression",
        },
        calibration: bundle.calibrator.method(),
        data_file: &source,
        bundle_sha256: &bundle.bundle_sha256,
    };
    let html = report_html::render(&ctx, &m, &segments, &drawn);
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
        segments,
        segments_file,
    })
}

/// One evaluation plot: its caption, the stem of its files (`<stem>.svg` and `<stem>.png`) and
/// its SVG text, so a report can inline it or link the files.
pub struct DrawnPlot {
    pub title: &'static str,
    pub stem: &'static str,
    pub svg: String,
}

/// The evaluation plots as SVG text (written beside as PNG and SVG).
pub fn draw_plots(dir: &Path, y: &[f64], pd: &[f64], m: &Metrics) -> Result<Vec<DrawnPlot>> {
    Ok(vec![
        drawn(
            dir,
            "ROC curve",
            "roc",
            &plots::RocPlot {
                points: metrics::roc_curve(y, pd),
                auc: m.roc_auc,
            },
        )?,
        drawn(
            dir,
            "Precision-recall",
            "precision_recall",
            &plots::PrPlot {
                points: metrics::pr_curve(y, pd),
                base_rate: m.default_rate,
            },
        )?,
        drawn(
            dir,
            "Calibration",
            "calibration",
            &plots::CalibrationPlot::equal_count(y, pd, 20),
        )?,
        drawn(
            dir,
            "Confusion matrix",
            "confusion_matrix",
            &plots::ConfusionPlot {
                confusion: m.confusion,
                threshold: m.decision_threshold,
            },
        )?,
        drawn(
            dir,
            "PD distribution",
            "score_distribution",
            &plots::ScoreDistributionPlot::new(y, pd, 40),
        )?,
    ])
}

fn drawn<P: plots::Plot>(
    dir: &Path,
    title: &'static str,
    stem: &'static str,
    plot: &P,
) -> Result<DrawnPlot> {
    Ok(DrawnPlot {
        title,
        stem,
        svg: plots::render(plot, dir, stem)?,
    })
}

/// SK_ID_CURR, y_true, PD, decision, band: the scoring core's columns plus the label.
fn predictions_batch(scored: &Scored, y: &[f64]) -> Result<RecordBatch> {
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
    let test = parquet_io::read_parquet(test_split, "run `creditrisk split-data` first")?;
    let source = test_split.display().to_string();
    let ids = frame::id_column(&test, ID_COLUMN, &source)?;
    let y = frame::target_column(&test, TARGET_COLUMN, &source)?;
    let truth_batch = parquet_io::read_parquet(
        truth,
        "run `creditrisk synth` (only synthetic data has a truth file)",
    )?;
    let truth_source = truth.display().to_string();
    let truth_ids = frame::id_column(&truth_batch, ID_COLUMN, &truth_source)?;
    let true_pd = truth_batch
        .column_by_name("TRUE_PD")
        .ok_or_else(|| Error::input(format!("{truth_source}: column `TRUE_PD` is missing")))?;
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
            Error::input(format!(
                "{truth_source}: SK_ID_CURR {id} of {source} has no TRUE_PD"
            ))
        })?);
    }
    metrics::roc_auc(&y, &scores)
}
