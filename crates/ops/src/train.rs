//! `creditrisk train`: train split → validation slice → preprocessing → rebalancing → learner →
//! calibration → verified bundle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use serde::{Deserialize, Serialize};

use crate::experiment;
use creditrisk_base::config::{
    Config, InferenceConfig, Learner, ModelConfig, Section, Stage, TrainingConfig, combine_hashes,
};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_base::parquet_io;
use creditrisk_base::sql::SqlSet;
use creditrisk_data::features::lineage::DataLineage;
use creditrisk_mlflow::Batch;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::bundle::{
    BundleParts, ModelBundle, ModelCard, TrainedLearner, TrainingMetadata,
};
use creditrisk_model::calibrate::Calibrator;
use creditrisk_model::frame::{self, ColumnKind, FeatureFrame, FeatureSpec};
use creditrisk_model::metrics::{self, Metrics};
use creditrisk_model::preprocess::{Encoding, Preprocessor};
use creditrisk_model::rebalance::{self, RebalanceSummary, Rebalanced};
use creditrisk_model::sampling::stratified_partition;
use creditrisk_model::statements::{BUILTIN_CSV, ReasonStatements};
use creditrisk_model::{ID_COLUMN, TARGET_COLUMN, gbm, logistic};

/// What `train` reads from the configuration.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub training: TrainingConfig,
    pub model: ModelConfig,
    pub inference: InferenceConfig,
    /// `features.exclude`: store columns never given to the model.
    pub exclude: Vec<String>,
    /// The reviewed adverse-action statements (`governance.reason_statements`, resolved): every
    /// model feature needs one. `None`: the default file is absent from the project, so the
    /// table compiled into the binary is used (as the feature SQL falls back to its built-in set).
    pub reason_statements: Option<PathBuf>,
    /// The config file, named in errors about its keys.
    pub config_file: PathBuf,
    /// Section → sha256 of the config sections read.
    pub config_sections: BTreeMap<String, String>,
    /// Where to record the run and register the bundle (`tracking`, `registry`); `None` trains
    /// without a tracker.
    pub tracking: Option<TrackingOptions>,
    /// `signing.private_key_file`, resolved: the bundle is signed with it (None: unsigned).
    pub signing_key: Option<PathBuf>,
}

impl TrainOptions {
    pub const SECTIONS: [Section; 5] = [
        Section::Features,
        Section::Training,
        Section::Model,
        Section::Inference,
        Section::Governance,
    ];

    pub fn from_config(cfg: &Config) -> TrainOptions {
        TrainOptions {
            training: cfg.training.clone(),
            model: cfg.model.clone(),
            inference: cfg.inference.clone(),
            exclude: cfg.features.exclude.clone(),
            reason_statements: {
                let path = cfg.resolve(&cfg.governance.reason_statements);
                let default =
                    creditrisk_base::config::GovernanceConfig::default().reason_statements;
                (path.exists() || cfg.governance.reason_statements != default).then_some(path)
            },
            config_file: cfg.source.clone(),
            config_sections: cfg.sections_record(&Self::SECTIONS),
            tracking: Some(TrackingOptions::from_config(cfg)),
            signing_key: Some(&cfg.signing.private_key_file)
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| cfg.resolve(p)),
        }
    }
}

/// Separates the validation-slice stream from the train/test split stream of the same seed.
const VALIDATION_SALT: u64 = 0x7A11_DA7E;

/// What `train` did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainSummary {
    pub model_dir: PathBuf,
    pub run_id: String,
    pub learner: Learner,
    pub rows_fit: usize,
    pub rows_validation: usize,
    pub features: usize,
    pub design_columns: usize,
    pub dropped_constant: Vec<String>,
    pub trees: Option<usize>,
    pub rebalance: RebalanceSummary,
    pub calibration: String,
    /// Metrics of the calibrated PD on the validation slice. That slice also fitted the calibrator
    /// and chose the early-stopping round, so these are in-sample for calibration (ECE, Brier);
    /// the held-out figures are `evaluate --split test`.
    pub validation: Metrics,
    pub seconds: f64,
    /// The tracker's run (MLflow run id) and the registry version of this bundle.
    pub tracking_run_id: Option<String>,
    pub registered_version: Option<u64>,
    pub registered_stage: Option<Stage>,
    /// Seconds spent talking to the tracker (start run, log, upload, register).
    pub tracking_seconds: f64,
}

/// Train the configured learner on the train split and write a bundle under
/// `<models_dir>/<model.name>/<run-id>/`, with the feature SQL that built the store; record the
/// run in the tracker and register the bundle as a new model version.
pub async fn run(layout: &Layout, cfg: &TrainOptions) -> Result<TrainSummary> {
    let Some(tracking) = &cfg.tracking else {
        let (layout, cfg) = (layout.clone(), cfg.clone());
        return on_worker(move || fit(&layout, &cfg, None))
            .await
            .map(|(s, _)| s);
    };
    let tracking_clock = Instant::now();
    let tracker = tracking.tracker(layout)?;
    let git = creditrisk_base::io::git_commit(&layout.root);
    let run_name = format!("train-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    let run = experiment::start_run(&tracker, tracking, &run_name, &git).await?;
    let mut tracking_seconds = tracking_clock.elapsed().as_secs_f64();
    let fitted = {
        let (layout, cfg, id) = (layout.clone(), cfg.clone(), run.run_id.clone());
        on_worker(move || fit(&layout, &cfg, Some(id))).await
    };
    let tracking_clock = Instant::now();
    let recorded = match fitted {
        Ok((summary, logged)) => {
            let reports = [
                (layout.lineage_file(), "reports"),
                (
                    layout.validation_report("feature_store"),
                    "reports/validation",
                ),
                (layout.validation_report("splits"), "reports/validation"),
            ];
            let reports: Vec<(&Path, &str)> =
                reports.iter().map(|(p, a)| (p.as_path(), *a)).collect();
            experiment::record_training(
                &tracker,
                tracking,
                &run,
                logged,
                &summary.validation,
                &summary.model_dir,
                &reports,
            )
            .await
            .map(|version| (summary, version))
        }
        Err(e) => Err(e),
    };
    match recorded {
        Ok((mut summary, version)) => {
            summary.tracking_run_id = Some(run.run_id);
            summary.registered_version = Some(version.version);
            summary.registered_stage = Some(version.stage);
            tracking_seconds += tracking_clock.elapsed().as_secs_f64();
            summary.tracking_seconds = tracking_seconds;
            Ok(summary)
        }
        Err(e) => {
            experiment::fail_run(&tracker, &run.run_id).await;
            Err(e)
        }
    }
}

/// Run CPU-bound training on tokio's blocking pool, so the caller's reactor stays free.
async fn on_worker<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal_from("training thread failed", e))?
}

/// Fit, calibrate and write the bundle; returns the summary and what the tracker should log
/// (params: every config value read and every learner hyperparameter; tags: lineage).
fn fit(
    layout: &Layout,
    cfg: &TrainOptions,
    tracking_run_id: Option<String>,
) -> Result<(TrainSummary, Batch)> {
    let clock = Instant::now();
    let started_at = chrono::Utc::now();
    // Config mistakes should surface before minutes of work.
    if cfg.model.learner == Learner::GradientBoosting {
        gbm::booster(&cfg.model.params, &BTreeMap::new(), false)?;
    }
    if let Some(key) = &cfg.signing_key {
        creditrisk_model::signature::key_pair(key)?;
    }
    let feature_sql = feature_sql_of_store(layout)?;
    let train_path = layout.split_file(Split::Train);
    let source = train_path.display().to_string();
    let batch = parquet_io::read_parquet(&train_path, "run `creditrisk split-data` first")?;
    // Hashing the split files (lineage) overlaps with training instead of adding to it.
    let digests = {
        let files: Vec<PathBuf> = Split::ALL.iter().map(|s| layout.split_file(*s)).collect();
        std::thread::spawn(move || input_digests(&files))
    };
    let specs = frame::feature_specs(batch.schema().as_ref(), &cfg.exclude, &source)?;
    check_monotone_features(cfg, &specs)?;
    let reason_statements = reason_statements(cfg, &specs)?;
    let mut trained = train_model(cfg, &specs, batch, &source)?;
    let card = model_card(cfg, &specs, &trained, &feature_sql);
    let config_hash = combine_hashes(&cfg.config_sections);
    let run_id = unique_run_id(
        &layout.model_root(&cfg.model.name),
        &started_at,
        &config_hash,
    );
    let input_files = digests
        .join()
        .map_err(|_| Error::internal("hashing the split files failed"))??;
    let run = RunIdentity {
        run_id,
        config_hash,
        tracking_run_id,
        started_at,
    };
    let metadata = metadata(layout, cfg, &trained, run, input_files, clock);
    let model_dir = ModelBundle::write_new(
        layout,
        &BundleParts {
            card: &card,
            preprocessor: &trained.pre,
            learner: &trained.learner,
            calibrator: &trained.calibrator,
            validation_metrics: &trained.validation,
            metadata: &metadata,
            reason_statements: &reason_statements,
            feature_sql: &feature_sql,
            signing_key: cfg.signing_key.as_deref(),
        },
    )?;
    let learner_params = std::mem::take(&mut trained.learner_params);
    let logged = logged_values(cfg, learner_params, &metadata, &card, &model_dir)?;
    let summary = TrainSummary {
        model_dir,
        run_id: metadata.run_id,
        learner: cfg.model.learner,
        rows_fit: trained.rows_fit,
        rows_validation: trained.rows_validation,
        features: specs.len(),
        design_columns: trained.pre.design.len(),
        dropped_constant: trained.pre.dropped_constant.clone(),
        trees: trained.trees,
        rebalance: trained.rebalance,
        calibration: trained.calibrator.method().to_string(),
        validation: trained.validation,
        seconds: clock.elapsed().as_secs_f64(),
        tracking_run_id: None,
        registered_version: None,
        registered_stage: None,
        tracking_seconds: 0.0,
    };
    Ok((summary, logged))
}

/// The reviewed statement of every model feature. A feature without one would give an applicant
/// a blank reason: refuse it before any fitting.
fn reason_statements(cfg: &TrainOptions, specs: &[FeatureSpec]) -> Result<ReasonStatements> {
    let (table, table_name) = match &cfg.reason_statements {
        Some(path) => (
            ReasonStatements::load_csv(path)?,
            path.display().to_string(),
        ),
        None => (
            ReasonStatements::parse_csv(BUILTIN_CSV.as_bytes(), "built-in reason statements")?,
            "the built-in reason statements (configs/reason_statements.csv)".to_string(),
        ),
    };
    table.for_features(specs.iter().map(|s| s.name.as_str()), &table_name)
}

/// What fitting produced, before it is written as a bundle.
struct Trained {
    pre: Preprocessor,
    learner: TrainedLearner,
    calibrator: Calibrator,
    /// Metrics of the calibrated PD on the validation slice.
    validation: Metrics,
    trees: Option<usize>,
    early_stopping_metric: Option<String>,
    /// The fitted learner's own settings, logged as run params.
    learner_params: BTreeMap<String, String>,
    rebalance: RebalanceSummary,
    rows_fit: usize,
    rows_validation: usize,
    /// What the bundle should tell a reader about this fit (ignored constraints, no convergence).
    notes: Vec<String>,
}

/// Split off the validation slice, preprocess, rebalance, fit the learner and calibrate it.
fn train_model(
    cfg: &TrainOptions,
    specs: &[FeatureSpec],
    batch: RecordBatch,
    source: &str,
) -> Result<Trained> {
    let slices = slices(cfg, batch, specs, source)?;
    let mut notes = Vec::new();
    let design = design(cfg, specs, slices, source, &mut notes)?;
    let learned = fit_learner(cfg, &design, &mut notes)?;
    let rebalance = design.reb.summary.clone();
    // The rebalanced rows are the largest matrix; calibration no longer needs them.
    drop(design.reb);
    let calibrator = Calibrator::fit(
        cfg.training.calibration,
        &learned.val_scores,
        &design.y_val,
        rebalance.log_odds_shift,
    )?;
    let val_pd: Vec<f64> = learned
        .val_scores
        .iter()
        .map(|s| calibrator.pd(*s))
        .collect();
    let validation = metrics::compute(
        &design.y_val,
        &val_pd,
        cfg.inference.decision_threshold,
        &cfg.inference.pd_bands,
    )?;
    Ok(Trained {
        pre: design.pre,
        learner: learned.learner,
        calibrator,
        validation,
        trees: learned.trees,
        early_stopping_metric: learned.early_stopping_metric,
        learner_params: learned.params,
        rebalance,
        rows_fit: design.rows_fit,
        rows_validation: design.rows_val,
        notes,
    })
}

/// The train split as feature frames: the rows the learner fits, and the validation slice that
/// chooses the early-stopping round and fits the calibrator.
struct Slices {
    fit: FeatureFrame,
    y_fit: Vec<f64>,
    val: FeatureFrame,
    y_val: Vec<f64>,
}

/// Partition the train split (stratified, with its own seed stream) and extract the features.
fn slices(
    cfg: &TrainOptions,
    batch: RecordBatch,
    specs: &[FeatureSpec],
    source: &str,
) -> Result<Slices> {
    let y_all = frame::target_column(&batch, TARGET_COLUMN, source)?;
    let labels: Vec<i64> = y_all.iter().map(|v| *v as i64).collect();
    metrics::require_both_classes(&y_all, source)?;
    let (fit_idx, val_idx) = stratified_partition(
        &labels,
        cfg.training.validation_size,
        cfg.training.random_state ^ VALIDATION_SALT,
    );
    let (fit_batch, y_fit) = take(&batch, &fit_idx, &y_all)?;
    let (val_batch, y_val) = take(&batch, &val_idx, &y_all)?;
    drop(batch);
    metrics::require_both_classes(&y_val, "the validation slice (training.validation_size)")?;
    let fit_ids = frame::id_column(&fit_batch, ID_COLUMN, source)?;
    let val_ids = frame::id_column(&val_batch, ID_COLUMN, source)?;
    let fit = frame::extract(&fit_batch, specs, Some(&fit_ids), source)?;
    let val = frame::extract(&val_batch, specs, Some(&val_ids), source)?;
    Ok(Slices {
        fit,
        y_fit,
        val,
        y_val,
    })
}

/// The preprocessed design matrices: the (rebalanced) rows the learner fits, and the validation
/// slice.
struct Design {
    pre: Preprocessor,
    reb: Rebalanced,
    x_val: Vec<f64>,
    y_val: Vec<f64>,
    rows_fit: usize,
    rows_val: usize,
    /// Design-column index → ±1 for the tree learner.
    monotone: BTreeMap<usize, i8>,
}

impl Design {
    fn cols(&self) -> usize {
        self.pre.design.len()
    }
}

/// Fit the preprocessor on the fit rows, encode both slices and rebalance the fit rows; each
/// frame is dropped as soon as it is encoded.
fn design(
    cfg: &TrainOptions,
    specs: &[FeatureSpec],
    slices: Slices,
    source: &str,
    notes: &mut Vec<String>,
) -> Result<Design> {
    let Slices {
        fit,
        y_fit,
        val,
        y_val,
    } = slices;
    let encoding = match cfg.model.learner {
        Learner::GradientBoosting => Encoding::Trees,
        Learner::Logistic => Encoding::Linear,
    };
    let pre = Preprocessor::fit(encoding, specs, &fit, &y_fit);
    let (rows_fit, rows_val, cols) = (fit.rows, val.rows, pre.design.len());
    if cols == 0 {
        return Err(Error::input(format!(
            "{source}: every feature is constant on the training rows"
        )));
    }
    // Downsampling picks rows from the labels, so only the kept rows become a design matrix.
    let learn_rows: Vec<usize> = rebalance::downsample_plan(&y_fit, &cfg.training)
        .unwrap_or_else(|| (0..rows_fit).collect());
    let x_learn = pre.transform_rows(&fit, &learn_rows);
    let y_learn: Vec<f64> = learn_rows.iter().map(|&i| y_fit[i]).collect();
    drop(fit);
    let x_val = pre.transform(&val);
    drop(val);
    let monotone = monotone_design_columns(cfg, &pre, notes);
    let reb = rebalance::rebalance(
        x_learn,
        learn_rows.len(),
        cols,
        y_learn,
        &y_fit,
        &cfg.training,
        &pre.smote_columns(),
    )?;
    Ok(Design {
        pre,
        reb,
        x_val,
        y_val,
        rows_fit,
        rows_val,
        monotone,
    })
}

/// The fitted learner and its raw (uncalibrated) scores on the validation slice.
struct Learned {
    learner: TrainedLearner,
    val_scores: Vec<f64>,
    trees: Option<usize>,
    early_stopping_metric: Option<String>,
    params: BTreeMap<String, String>,
}

fn fit_learner(cfg: &TrainOptions, d: &Design, notes: &mut Vec<String>) -> Result<Learned> {
    match cfg.model.learner {
        Learner::GradientBoosting => fit_trees(cfg, d),
        Learner::Logistic => fit_logistic(cfg, d, notes),
    }
}

/// Gradient-boosted trees, early-stopped on the validation slice.
fn fit_trees(cfg: &TrainOptions, d: &Design) -> Result<Learned> {
    let (reb, cols) = (&d.reb, d.cols());
    // Rebalanced rows have another prior than the validation slice: early stopping then watches
    // a rank-based metric.
    let rebalanced = reb.summary.log_odds_shift.abs() > 1e-12;
    let mut booster = gbm::booster(&cfg.model.params, &d.monotone, rebalanced)?;
    gbm::fit(
        &mut booster,
        &reb.x,
        reb.rows,
        cols,
        &reb.y,
        &reb.weights,
        &d.x_val,
        &d.y_val,
    )?;
    let val_scores = gbm::raw_scores(&booster, &d.x_val, d.rows_val, cols);
    let metric = booster
        .evaluation_metric
        .map_or_else(|| "LogLoss".to_string(), |m| format!("{m:?}"));
    let trees = booster.trees.len();
    let params = learner_hyperparameters(&booster);
    Ok(Learned {
        learner: TrainedLearner::Trees(Box::new(booster)),
        val_scores,
        trees: Some(trees),
        early_stopping_metric: Some(metric),
        params,
    })
}

/// L2 logistic regression; not converging within `max_iter` is noted, not an error.
fn fit_logistic(cfg: &TrainOptions, d: &Design, notes: &mut Vec<String>) -> Result<Learned> {
    let (reb, lc) = (&d.reb, &cfg.model.logistic);
    let model = logistic::fit(
        &reb.x,
        reb.rows,
        d.cols(),
        &reb.y,
        &reb.weights,
        lc.l2,
        lc.max_iter,
    )?;
    if !model.converged {
        notes.push(format!(
            "logistic regression stopped at model.logistic.max_iter = {}",
            lc.max_iter
        ));
    }
    let val_scores = model.decision_function(&d.x_val, d.rows_val);
    Ok(Learned {
        learner: TrainedLearner::Logistic(model),
        val_scores,
        trees: None,
        early_stopping_metric: None,
        params: BTreeMap::new(),
    })
}

fn model_card(
    cfg: &TrainOptions,
    specs: &[FeatureSpec],
    trained: &Trained,
    feature_sql: &SqlSet,
) -> ModelCard {
    ModelCard {
        name: cfg.model.name.clone(),
        learner: cfg.model.learner,
        id_column: ID_COLUMN.to_string(),
        features: specs.to_vec(),
        design_columns: trained.pre.design.iter().map(|d| d.name.clone()).collect(),
        decision_threshold: cfg.inference.decision_threshold,
        pd_bands: cfg.inference.pd_bands.clone(),
        reason_codes: cfg.inference.reason_codes,
        trees: trained.trees,
        feature_sql_sha256: feature_sql.sha256(),
    }
}

/// Which training run this is: the bundle's id and where it started.
struct RunIdentity {
    run_id: String,
    config_hash: String,
    tracking_run_id: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
}

fn metadata(
    layout: &Layout,
    cfg: &TrainOptions,
    trained: &Trained,
    run: RunIdentity,
    input_files: BTreeMap<String, String>,
    clock: Instant,
) -> TrainingMetadata {
    TrainingMetadata {
        run_id: run.run_id,
        model_name: cfg.model.name.clone(),
        config_file: cfg.config_file.display().to_string(),
        config_hash: run.config_hash,
        config_sections: cfg.config_sections.clone(),
        tracking_run_id: run.tracking_run_id,
        git_commit: creditrisk_base::io::git_commit(&layout.root),
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: cfg.training.random_state,
        input_files,
        rows_fit: trained.rows_fit,
        rows_validation: trained.rows_validation,
        rebalance: trained.rebalance.clone(),
        calibration: trained.calibrator.method().to_string(),
        early_stopping_metric: trained.early_stopping_metric.clone(),
        monotone_constraints: cfg.model.monotone_constraints.clone(),
        notes: trained.notes.clone(),
        started_at: run.started_at.to_rfc3339(),
        finished_at: chrono::Utc::now().to_rfc3339(),
        training_seconds: clock.elapsed().as_secs_f64(),
    }
}

/// Every scalar setting of the fitted booster (its JSON minus the trees), as `learner.<name>`.
fn learner_hyperparameters(booster: &forust_ml::GradientBooster) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(booster) {
        for (key, value) in fields {
            if !value.is_array() && !value.is_object() {
                experiment::flatten(&format!("learner.{key}"), &value, &mut out);
            }
        }
    }
    out
}

/// Params and tags of the training run.
fn logged_values(
    cfg: &TrainOptions,
    learner: BTreeMap<String, String>,
    metadata: &TrainingMetadata,
    card: &ModelCard,
    model_dir: &Path,
) -> Result<Batch> {
    let mut params = learner;
    let sections = [
        ("training", serde_json::to_value(&cfg.training)),
        ("model", serde_json::to_value(&cfg.model)),
        ("inference", serde_json::to_value(&cfg.inference)),
        ("features.exclude", serde_json::to_value(&cfg.exclude)),
    ];
    for (prefix, value) in sections {
        let value = value.map_err(|e| Error::internal_from(format!("config {prefix}"), e))?;
        experiment::flatten(prefix, &value, &mut params);
    }
    let mut batch = params
        .into_iter()
        .fold(Batch::default(), |b, (k, v)| b.param(k, v));
    let manifest = model_dir.join(creditrisk_base::layout::BundleFile::Manifest.name());
    let mut tags = BTreeMap::from([
        ("creditrisk.model_name".to_string(), card.name.clone()),
        (
            "creditrisk.bundle_run_id".to_string(),
            metadata.run_id.clone(),
        ),
        (
            "creditrisk.bundle_sha256".to_string(),
            creditrisk_base::io::sha256_file(&manifest)?,
        ),
        (
            "creditrisk.config_hash".to_string(),
            metadata.config_hash.clone(),
        ),
        (
            "creditrisk.feature_sql_sha256".to_string(),
            card.feature_sql_sha256.clone(),
        ),
        (
            "creditrisk.calibration".to_string(),
            metadata.calibration.clone(),
        ),
        (
            "creditrisk.crate_version".to_string(),
            metadata.crate_version.clone(),
        ),
    ]);
    for (section, hash) in &metadata.config_sections {
        tags.insert(format!("creditrisk.config_sha256.{section}"), hash.clone());
    }
    for (path, sha) in &metadata.input_files {
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.clone(), |n| n.to_string_lossy().to_string());
        tags.insert(format!("creditrisk.data_sha256.{name}"), sha.clone());
    }
    for (k, v) in tags {
        batch = batch.tag(k, v);
    }
    Ok(batch)
}

fn take(batch: &RecordBatch, idx: &[usize], y: &[f64]) -> Result<(RecordBatch, Vec<f64>)> {
    let indices = UInt32Array::from_iter_values(idx.iter().map(|&i| i as u32));
    Ok((
        take_record_batch(batch, &indices)?,
        idx.iter().map(|&i| y[i]).collect(),
    ))
}

/// Every constrained feature must be a numeric model feature.
fn check_monotone_features(cfg: &TrainOptions, specs: &[FeatureSpec]) -> Result<()> {
    for feature in cfg.model.monotone_constraints.keys() {
        let key = format!("model.monotone_constraints.{feature}");
        match specs.iter().find(|s| &s.name == feature) {
            None => {
                return Err(Error::config(format!(
                    "{}: key `{key}`: `{feature}` is not a model feature (features are the \
                     feature-store columns minus features.exclude); fix the name or remove the key",
                    cfg.config_file.display()
                )));
            }
            Some(s) if s.kind == ColumnKind::Categorical => {
                return Err(Error::config(format!(
                    "{}: key `{key}`: `{feature}` is categorical; monotone constraints apply to \
                     numeric features only",
                    cfg.config_file.display()
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Design-column index → ±1 for the tree learner.
fn monotone_design_columns(
    cfg: &TrainOptions,
    pre: &Preprocessor,
    notes: &mut Vec<String>,
) -> BTreeMap<usize, i8> {
    let mut out = BTreeMap::new();
    for (feature, sign) in &cfg.model.monotone_constraints {
        if cfg.model.learner == Learner::Logistic {
            notes.push(format!(
                "monotone constraint on {feature} is enforced by the tree learner only"
            ));
            continue;
        }
        match pre.design.iter().position(|d| &d.name == feature) {
            Some(c) => {
                out.insert(c, *sign);
            }
            None => notes.push(format!(
                "monotone constraint on {feature} ignored: the column is constant"
            )),
        }
    }
    out
}

/// sha256 of the split files the model depends on.
fn input_digests(files: &[PathBuf]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for path in files {
        if path.is_file() {
            out.insert(
                path.display().to_string(),
                creditrisk_base::io::sha256_file(path)?,
            );
        }
    }
    Ok(out)
}

/// The feature SQL to store in the bundle: the project's `sql/` (or the built-in copy), which
/// must be the set that built the feature store when its lineage says so — a model must never
/// carry SQL other than the one its training rows came from.
fn feature_sql_of_store(layout: &Layout) -> Result<SqlSet> {
    let sql = SqlSet::load(&layout.sql_dir)?;
    let lineage_file = layout.lineage_file();
    let Ok(text) = std::fs::read_to_string(&lineage_file) else {
        return Ok(sql);
    };
    let lineage: DataLineage = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: unreadable lineage ({e}); rerun `creditrisk build-feature-store`",
            lineage_file.display()
        ))
    })?;
    if lineage.feature_sql_sha256 != sql.sha256() {
        return Err(Error::input(format!(
            "{}: the feature store was built with feature SQL {} but {} now holds {}; rerun \
             `creditrisk build-feature-store` (and split-data) before training",
            lineage_file.display(),
            lineage.feature_sql_sha256,
            layout.sql_dir.display(),
            sql.sha256()
        )));
    }
    Ok(sql)
}

/// `<UTC timestamp>-<config hash prefix>-<pid>`, with a counter if that folder exists already.
/// The process id keeps concurrent `train` processes of the same second and config apart.
fn unique_run_id(root: &Path, at: &chrono::DateTime<chrono::Utc>, hash: &str) -> String {
    let base = format!(
        "{}-{}-{:x}",
        at.format("%Y%m%dT%H%M%SZ"),
        &hash[..8.min(hash.len())],
        std::process::id()
    );
    let mut id = base.clone();
    let mut n = 1;
    while root.join(&id).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}
