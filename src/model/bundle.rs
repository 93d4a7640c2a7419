//! The model bundle: everything needed to score, in one folder
//! (`models/<model.name>/<run-id>/`), with a sha256 manifest verified on every load so a model in
//! production is exactly the one that was trained and evaluated.
//!
//! Files: `learner.json` (forust JSON or logistic coefficients), `preprocessing.json`,
//! `calibration.json`, `model.json` (name, input schema, feature list, threshold, bands),
//! `validation_metrics.json`, `metadata.json` (lineage and timestamps) and `manifest.json`.
//! Everything except `metadata.json` and `manifest.json` is byte-for-byte deterministic for a
//! given config, data and seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use forust_ml::GradientBooster;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::calibrate::Calibrator;
use super::explain::{self, Decision, Outcome};
use super::frame::{self, FeatureFrame, FeatureSpec};
use super::logistic::LogisticModel;
use super::preprocess::Preprocessor;
use super::rebalance::RebalanceSummary;
use super::{ID_COLUMN, gbm};
use crate::config::{Config, Learner};
use crate::error::{Error, Result};
use crate::evaluate::bands;
use crate::evaluate::metrics::Metrics;

pub const LEARNER_FILE: &str = "learner.json";
pub const PREPROCESSING_FILE: &str = "preprocessing.json";
pub const CALIBRATION_FILE: &str = "calibration.json";
pub const MODEL_FILE: &str = "model.json";
pub const METRICS_FILE: &str = "validation_metrics.json";
pub const METADATA_FILE: &str = "metadata.json";
pub const MANIFEST_FILE: &str = "manifest.json";
/// Files whose bytes depend only on config, data and seed.
pub const DETERMINISTIC_FILES: [&str; 5] = [
    LEARNER_FILE,
    PREPROCESSING_FILE,
    CALIBRATION_FILE,
    MODEL_FILE,
    METRICS_FILE,
];
/// Name of the pointer file (next to the run folders) holding the latest run id.
pub const LATEST_FILE: &str = "latest";

/// The fitted learner.
pub enum TrainedLearner {
    Trees(Box<GradientBooster>),
    Logistic(LogisticModel),
}

/// What the model is and how its output is used (`model.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelCard {
    pub name: String,
    pub learner: Learner,
    pub id_column: String,
    /// Input schema: every feature the model reads, with its kind and training Arrow type.
    pub features: Vec<FeatureSpec>,
    /// Columns the learner sees, after encoding.
    pub design_columns: Vec<String>,
    pub decision_threshold: f64,
    pub pd_bands: Vec<f64>,
    pub reason_codes: usize,
    /// Trees kept (best iteration), for the tree learner.
    pub trees: Option<usize>,
}

/// Lineage of the training run (`metadata.json`); the only file with timestamps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainingMetadata {
    pub run_id: String,
    pub model_name: String,
    pub config_file: String,
    pub config_hash: String,
    pub git_commit: String,
    pub crate_version: String,
    pub seed: u64,
    /// Split file → sha256 (train, and test when present).
    pub input_files: BTreeMap<String, String>,
    pub rows_fit: usize,
    pub rows_validation: usize,
    pub rebalance: RebalanceSummary,
    pub calibration: String,
    pub early_stopping_metric: Option<String>,
    pub monotone_constraints: BTreeMap<String, i8>,
    pub notes: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    pub training_seconds: f64,
}

/// sha256 of each bundle file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub files: BTreeMap<String, String>,
}

/// A verified, loaded model bundle.
pub struct ModelBundle {
    pub dir: PathBuf,
    pub card: ModelCard,
    pub preprocessor: Preprocessor,
    pub learner: TrainedLearner,
    pub calibrator: Calibrator,
    pub validation_metrics: Metrics,
    pub metadata: TrainingMetadata,
    /// sha256 of `manifest.json`: one digest that pins every file of the bundle.
    pub bundle_sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn json_bytes<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Model(format!("cannot serialise {what}: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl ModelBundle {
    /// Write the bundle to `<model_root>/<run_id>/` atomically (a temp folder renamed into
    /// place), then point `<model_root>/latest` at it. Returns the folder.
    pub fn write_new(
        model_root: &Path,
        card: &ModelCard,
        preprocessor: &Preprocessor,
        learner: &TrainedLearner,
        calibrator: &Calibrator,
        validation_metrics: &Metrics,
        metadata: &TrainingMetadata,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(model_root).map_err(|e| Error::io(model_root, e))?;
        let learner_bytes = match learner {
            TrainedLearner::Trees(b) => gbm::to_canonical_json(b)?.into_bytes(),
            TrainedLearner::Logistic(m) => json_bytes(m, "the logistic model")?,
        };
        let files: Vec<(&str, Vec<u8>)> = vec![
            (LEARNER_FILE, learner_bytes),
            (
                PREPROCESSING_FILE,
                json_bytes(preprocessor, "the preprocessing")?,
            ),
            (CALIBRATION_FILE, json_bytes(calibrator, "the calibration")?),
            (MODEL_FILE, json_bytes(card, "the model card")?),
            (
                METRICS_FILE,
                json_bytes(validation_metrics, "the validation metrics")?,
            ),
            (
                METADATA_FILE,
                json_bytes(metadata, "the training metadata")?,
            ),
        ];
        let tmp = tempfile::Builder::new()
            .prefix(".incomplete-")
            .tempdir_in(model_root)
            .map_err(|e| Error::io(model_root, e))?;
        let mut manifest = Manifest {
            files: BTreeMap::new(),
        };
        for (name, bytes) in &files {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            manifest.files.insert(name.to_string(), sha256_hex(bytes));
        }
        let manifest_path = tmp.path().join(MANIFEST_FILE);
        std::fs::write(&manifest_path, json_bytes(&manifest, "the manifest")?)
            .map_err(|e| Error::io(&manifest_path, e))?;
        let dir = model_root.join(&metadata.run_id);
        if dir.exists() {
            return Err(Error::Model(format!(
                "{}: a bundle with this run id already exists",
                dir.display()
            )));
        }
        // tempdir creates the folder 0700; a bundle is read by other users (serving, CI).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(tmp.path(), e))?;
        }
        let tmp_path = tmp.keep();
        std::fs::rename(&tmp_path, &dir).map_err(|e| Error::io(&dir, e))?;
        crate::artifact::write_atomic(
            &model_root.join(LATEST_FILE),
            format!("{}\n", metadata.run_id).as_bytes(),
        )?;
        Ok(dir)
    }

    /// Folder of the latest bundle of the configured model (`models/<model.name>/latest`).
    pub fn latest_dir(cfg: &Config) -> Result<PathBuf> {
        let root = cfg.models_dir().join(&cfg.model.name);
        let pointer = root.join(LATEST_FILE);
        let run_id = std::fs::read_to_string(&pointer).map_err(|_| {
            Error::Input(format!(
                "{}: no trained model found; run `creditrisk train` first",
                pointer.display()
            ))
        })?;
        Ok(root.join(run_id.trim()))
    }

    /// Load the latest bundle of the configured model, verifying its manifest.
    pub fn load_latest(cfg: &Config) -> Result<ModelBundle> {
        ModelBundle::load(&Self::latest_dir(cfg)?)
    }

    /// Load a bundle folder. Every file is checked against `manifest.json` first: a missing or
    /// modified file is an error naming it.
    pub fn load(dir: &Path) -> Result<ModelBundle> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| {
            Error::Input(format!(
                "{}: cannot read the bundle manifest ({e}); is this a model bundle folder?",
                manifest_path.display()
            ))
        })?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            Error::Check(format!(
                "{}: corrupt manifest: {e}",
                manifest_path.display()
            ))
        })?;
        let mut contents: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for name in DETERMINISTIC_FILES.iter().chain(&[METADATA_FILE]) {
            let Some(expected) = manifest.files.get(*name) else {
                return Err(Error::Check(format!(
                    "{}: manifest does not list {name}",
                    manifest_path.display()
                )));
            };
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Check(format!(
                    "model bundle {}: file {name} is missing or unreadable ({e})",
                    dir.display()
                ))
            })?;
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(Error::Check(format!(
                    "model bundle {}: file {name} was modified after training (sha256 {actual}, manifest \
                     says {expected}); restore it or retrain the model",
                    dir.display()
                )));
            }
            contents.insert(name, bytes);
        }
        let parse_err = |name: &str, e: &dyn std::fmt::Display| {
            Error::Check(format!(
                "model bundle {}: file {name} cannot be read: {e}",
                dir.display()
            ))
        };
        let card: ModelCard =
            serde_json::from_slice(&contents[MODEL_FILE]).map_err(|e| parse_err(MODEL_FILE, &e))?;
        let learner_text = std::str::from_utf8(&contents[LEARNER_FILE])
            .map_err(|e| parse_err(LEARNER_FILE, &e))?;
        let learner = match card.learner {
            Learner::GradientBoosting => {
                TrainedLearner::Trees(Box::new(gbm::from_json(learner_text)?))
            }
            Learner::Logistic => TrainedLearner::Logistic(
                serde_json::from_str(learner_text).map_err(|e| parse_err(LEARNER_FILE, &e))?,
            ),
        };
        Ok(ModelBundle {
            dir: dir.to_path_buf(),
            preprocessor: serde_json::from_slice(&contents[PREPROCESSING_FILE])
                .map_err(|e| parse_err(PREPROCESSING_FILE, &e))?,
            calibrator: serde_json::from_slice(&contents[CALIBRATION_FILE])
                .map_err(|e| parse_err(CALIBRATION_FILE, &e))?,
            validation_metrics: serde_json::from_slice(&contents[METRICS_FILE])
                .map_err(|e| parse_err(METRICS_FILE, &e))?,
            metadata: serde_json::from_slice(&contents[METADATA_FILE])
                .map_err(|e| parse_err(METADATA_FILE, &e))?,
            card,
            learner,
            bundle_sha256: sha256_hex(&manifest_bytes),
        })
    }

    /// Feature frame, design matrix and log-odds of a batch of feature rows.
    fn raw_scores(
        &self,
        batch: &RecordBatch,
        ids: Option<&[i64]>,
    ) -> Result<(FeatureFrame, Vec<f64>, Vec<f64>)> {
        let frame = frame::extract(batch, &self.preprocessor.features, ids, "scoring input")?;
        let x = self.preprocessor.transform(&frame);
        let (rows, cols) = (frame.rows, self.preprocessor.design.len());
        let scores = match &self.learner {
            TrainedLearner::Trees(b) => gbm::raw_scores(b, &x, rows, cols),
            TrainedLearner::Logistic(m) => m.decision_function(&x, rows),
        };
        Ok((frame, x, scores))
    }

    /// Calibrated PD of every row of `batch` (feature-store columns; extra columns are ignored).
    pub fn predict_pd(&self, batch: &RecordBatch) -> Result<Vec<f64>> {
        let ids = frame::id_column(batch, ID_COLUMN, "scoring input").ok();
        let (_, _, scores) = self.raw_scores(batch, ids.as_deref())?;
        Ok(scores.iter().map(|s| self.calibrator.pd(*s)).collect())
    }

    /// Risk band of a PD under this model's bands.
    pub fn band(&self, pd: f64) -> String {
        bands::band_name(bands::pd_band(pd, &self.card.pd_bands))
    }

    /// Full decisions: PD, approve/decline at the threshold, band and the top reason codes.
    pub fn score(&self, batch: &RecordBatch) -> Result<Vec<Decision>> {
        let ids = frame::id_column(batch, ID_COLUMN, "scoring input")?;
        let (frame, x, scores) = self.raw_scores(batch, Some(&ids))?;
        let (rows, cols) = (frame.rows, self.preprocessor.design.len());
        let feature_of: Vec<usize> = self.preprocessor.design.iter().map(|d| d.feature).collect();
        let names: Vec<String> = self
            .preprocessor
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let contributions: Vec<f64> = match &self.learner {
            // rows × (cols + 1), bias last.
            TrainedLearner::Trees(b) => gbm::contributions(b, &x, rows, cols),
            TrainedLearner::Logistic(m) => {
                let mut out = vec![0.0; rows * (cols + 1)];
                for (c, beta) in m.coefficients.iter().enumerate() {
                    for r in 0..rows {
                        out[r * (cols + 1) + c] = beta * x[c * rows + r];
                    }
                }
                out
            }
        };
        let mut decisions = Vec::with_capacity(rows);
        for r in 0..rows {
            let row = &contributions[r * (cols + 1)..(r + 1) * (cols + 1)];
            let per_feature = explain::per_feature(row, &feature_of, names.len());
            let pd = self.calibrator.pd(scores[r]);
            decisions.push(Decision {
                sk_id_curr: ids[r],
                pd,
                decision: Outcome::at_threshold(pd, self.card.decision_threshold),
                band: self.band(pd),
                reasons: explain::reason_codes(
                    &per_feature,
                    &names,
                    &frame,
                    r,
                    self.card.reason_codes,
                ),
            });
        }
        Ok(decisions)
    }
}
