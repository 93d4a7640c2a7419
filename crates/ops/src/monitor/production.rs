//! `creditrisk monitor-production --current PATH`: a production extract against the training
//! reference of the watched model, and the retrain trigger.
//!
//! The extract is feature rows when it holds every feature the model reads; otherwise it is raw
//! application rows, checked by the serving contract (refused rows are counted, never tested)
//! and featurised with the bundle's own feature SQL, history from the feature store, exactly as
//! `batch-predict` does. The reference is the training split, checked against the sha256 the
//! bundle's lineage recorded for it: a model is only compared with the rows it learned from.
//!
//! The trigger fires only when dataset drift holds AND the drifted share is at least
//! `monitoring.retrain_drift_threshold`; with `monitoring.auto_retrain` it then runs
//! `monitoring.retrain_command` and records its exit code.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use serde::{Deserialize, Serialize};

use super::MonitorOptions;
use super::publish;
use super::report::{self, Dataset, DriftReport};
use crate::predict;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_data::feature_engine::{FeatureEngine, History};
use creditrisk_mlflow::ModelRef;
use creditrisk_model::ModelBundle;
use creditrisk_model::serving_contract;

/// Rows featurised at a time (as batch-predict).
const CHUNK_ROWS: usize = predict::DEFAULT_CHUNK_ROWS;

/// One `monitor-production` call.
#[derive(Clone, Debug)]
pub struct ProductionRequest {
    /// Raw application rows or feature rows, `.csv` or `.parquet`.
    pub current: PathBuf,
    /// Default: the Production version of `registry.model_name`, else its newest.
    pub model: Option<ModelRef>,
}

/// `reports/retrain_trigger.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RetrainTrigger {
    pub fired: bool,
    pub reason: String,
    pub drifted_share: f64,
    /// `monitoring.retrain_drift_threshold`.
    pub threshold: f64,
    pub dataset_drift: bool,
    pub model_name: String,
    pub model_version: Option<u64>,
    /// The command run (`monitoring.auto_retrain`), as executed.
    pub command: Option<String>,
    /// Its exit code (`None` when it was not run, or ended by a signal).
    pub exit_code: Option<i32>,
    /// The last lines of its stderr (its output is captured, not mixed into ours).
    pub stderr_tail: Option<String>,
    pub checked_at: String,
}

/// What `monitor-production` did.
#[derive(Clone, Debug)]
pub struct ProductionOutcome {
    pub report: DriftReport,
    pub trigger: RetrainTrigger,
}

/// Compare the extract with the model's training split, write
/// `reports/production_drift_report.{json,html}` and `reports/retrain_trigger.json`, log a
/// monitoring run, and run the retrain command when the trigger fires with auto-retrain on (a
/// failing command is an error, after the trigger file records its exit code).
pub async fn monitor_production(
    layout: &Layout,
    opts: &MonitorOptions,
    request: &ProductionRequest,
) -> Result<ProductionOutcome> {
    let tracker = opts.tracking.tracker(layout)?;
    let (bundle, model) =
        report::watched_model(&tracker, layout, opts, request.model.as_ref()).await?;
    let reference = training_reference(layout, &bundle)?;
    let current = read_extract(layout, &bundle, &request.current).await?;
    let mut analysis = report::analyse(
        "monitor-production",
        bundle,
        model,
        reference,
        current,
        &opts.monitoring,
    )
    .await?;
    let outputs = publish::Outputs {
        json: layout.production_drift_report(),
        html: layout.production_drift_report_html(),
    };
    publish::publish(&tracker, opts, &mut analysis, &outputs).await?;
    let trigger = decide(layout, opts, &analysis.report).await?;
    let path = layout.retrain_trigger();
    creditrisk_base::io::write_json(&path, &trigger)?;
    if let (Some(command), code) = (&trigger.command, trigger.exit_code)
        && code != Some(0)
    {
        return Err(Error::check(format!(
            "the retrain trigger fired and `{command}` failed (exit code {code:?})"
        ))
        .with_report(path));
    }
    Ok(ProductionOutcome {
        report: analysis.report,
        trigger,
    })
}

/// The training split, verified against the sha256 the bundle recorded for it when it has one.
fn training_reference(layout: &Layout, bundle: &ModelBundle) -> Result<Dataset> {
    let path = layout.split_file(Split::Train);
    let batch = report::read_feature_rows(
        &path,
        "the training split of the model is needed as reference; run `creditrisk split-data`",
    )?;
    let recorded = bundle
        .metadata
        .input_files
        .iter()
        .find(|(file, _)| Path::new(file).file_name() == path.file_name())
        .map(|(_, sha)| sha.clone());
    let mut data = Dataset::new(&path, batch);
    if let Some(expected) = recorded {
        let actual = creditrisk_base::io::sha256_file(&path)?;
        if actual != expected {
            return Err(Error::check(format!(
                "{}: sha256 {actual} is not the {expected} model {} was trained on (bundle {}); \
                 restore that split or monitor a model trained on this one",
                path.display(),
                bundle.card.name,
                bundle.dir.display()
            )));
        }
        data.side.sha256 = Some(actual);
    }
    Ok(data)
}

/// The extract as feature rows: as is when it holds every model feature, else featurised.
async fn read_extract(layout: &Layout, bundle: &Arc<ModelBundle>, path: &Path) -> Result<Dataset> {
    if !path.is_file() {
        return Err(Error::input(format!(
            "{}: production extract not found (pass --current with raw application rows or \
             feature rows, .csv or .parquet)",
            path.display()
        )));
    }
    let source = path.display().to_string();
    let header = predict::Input::open(path, CHUNK_ROWS, false)?
        .header()
        .to_vec();
    let feature_rows = bundle
        .card
        .features
        .iter()
        .all(|f| header.contains(&f.name));
    if feature_rows {
        let batch = report::read_feature_rows(path, "")?;
        return Ok(Dataset::new(path, batch));
    }
    serving_contract::check_header(&header, &source)?;
    let engine = FeatureEngine::new(bundle, &History::Store, layout).await?;
    let input = predict::Input::open(path, CHUNK_ROWS, false)?;
    let (mut rows_read, mut rejected, mut parts) = (0u64, 0u64, Vec::<RecordBatch>::new());
    for chunk in input {
        let chunk = chunk?;
        rows_read += (chunk.rows.len() + chunk.malformed.len()) as u64;
        let checked = serving_contract::check_batch(&chunk.batch, 1)?;
        rejected += chunk.malformed.len() as u64 + checked.rejected_rows;
        if checked.valid.num_rows() > 0 {
            parts.push(engine.features(checked.valid).await?);
        }
    }
    let Some(first) = parts.first() else {
        return Err(Error::input(format!(
            "{source}: no valid application rows ({rows_read} read, {rejected} refused by the \
             serving contract; run batch-predict on it to see why)"
        )));
    };
    let batch = concat_batches(&first.schema(), &parts)?;
    let mut data = Dataset::new(path, batch);
    data.side.rejected_rows = Some(rejected);
    Ok(data)
}

/// Whether the trigger fires, and the retrain command's exit code when it ran.
async fn decide(
    layout: &Layout,
    opts: &MonitorOptions,
    report: &DriftReport,
) -> Result<RetrainTrigger> {
    let m = &opts.monitoring;
    let s = &report.summary;
    let fired = s.dataset_drift && s.drifted_share >= m.retrain_drift_threshold;
    let reason = if fired {
        format!(
            "dataset drift: {} of {} features drifted ({:.3} ≥ drift_share {} and ≥ \
             retrain_drift_threshold {})",
            s.drifted, s.features, s.drifted_share, m.drift_share, m.retrain_drift_threshold
        )
    } else if !s.dataset_drift {
        format!(
            "no dataset drift: {} of {} features drifted ({:.3} < drift_share {})",
            s.drifted, s.features, s.drifted_share, m.drift_share
        )
    } else {
        format!(
            "dataset drift, but the drifted share {:.3} < retrain_drift_threshold {}",
            s.drifted_share, m.retrain_drift_threshold
        )
    };
    let mut trigger = RetrainTrigger {
        fired,
        reason,
        drifted_share: s.drifted_share,
        threshold: m.retrain_drift_threshold,
        dataset_drift: s.dataset_drift,
        model_name: report.model.name.clone(),
        model_version: report.model.version,
        command: None,
        exit_code: None,
        stderr_tail: None,
        checked_at: chrono::Utc::now().to_rfc3339(),
    };
    if fired && m.auto_retrain {
        let (program, args) = retrain_command(opts)?;
        trigger.command = Some(
            std::iter::once(program.display().to_string())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let root = layout.root.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(&program)
                .args(&args)
                .current_dir(&root)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| Error::io(&program, e))
        })
        .await
        .map_err(|e| Error::internal_from("retrain command task failed", e))?;
        match output {
            Ok(output) => {
                trigger.exit_code = output.status.code();
                trigger.stderr_tail = Some(tail(&output.stderr, STDERR_TAIL_LINES));
            }
            Err(e) => {
                trigger.reason = format!(
                    "{}; the retrain command could not start: {e}",
                    trigger.reason
                );
            }
        }
    }
    Ok(trigger)
}

/// Lines of the retrain command's stderr kept in the trigger file.
const STDERR_TAIL_LINES: usize = 20;

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `monitoring.retrain_command` split on whitespace (no shell); a leading `creditrisk` is this
/// very binary, given the same `--config` unless the command names one.
fn retrain_command(opts: &MonitorOptions) -> Result<(PathBuf, Vec<String>)> {
    let mut words = opts
        .monitoring
        .retrain_command
        .split_whitespace()
        .map(str::to_string);
    let first = words
        .next()
        .ok_or_else(|| Error::config("monitoring.retrain_command: must name a command"))?;
    let mut args: Vec<String> = words.collect();
    if first != "creditrisk" {
        return Ok((PathBuf::from(first), args));
    }
    let me = std::env::current_exe()
        .map_err(|e| Error::internal_from("cannot find the running creditrisk binary", e))?;
    if !args
        .iter()
        .any(|a| a == "--config" || a.starts_with("--config="))
    {
        let config = std::path::absolute(&opts.config_file).unwrap_or(opts.config_file.clone());
        args.splice(0..0, ["--config".to_string(), config.display().to_string()]);
    }
    Ok((me, args))
}
