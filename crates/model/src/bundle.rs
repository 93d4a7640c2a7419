//! The model bundle: everything needed to score, in one folder
//! (`models/<model.name>/<run-id>/`), with a sha256 manifest verified on every load so a model in
//! production is exactly the one that was trained and evaluated.
//!
//! Files (named by [`BundleFile`]): `learner.json` (forust JSON or logistic coefficients),
//! `preprocessing.json`, `calibration.json`, `model.json` (name, input schema, feature list,
//! threshold, bands), `validation_metrics.json`, `reason_statements.json` (the adverse-action
//! sentence of every feature), `metadata.json` (lineage and timestamps),
//! `sql/*.sql` (the feature SQL the model was trained with: scoring uses this copy, never the
//! project's `sql/`) and `manifest.json`. Everything except `metadata.json` and `manifest.json` is
//! byte-for-byte deterministic for a given config, data and seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use forust_ml::GradientBooster;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::calibrate::Calibrator;
use super::frame::{self, FeatureFrame, FeatureSpec};
use super::gbm;
use super::logistic::LogisticModel;
use super::preprocess::Preprocessor;
use super::rebalance::RebalanceSummary;
use super::statements::ReasonStatements;
use super::validate;
use crate::metrics::Metrics;
use crate::signature;
use creditrisk_base::config::Learner;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{BundleFile, Layout};
use creditrisk_base::sql::SqlSet;

const LEARNER_FILE: &str = BundleFile::Learner.name();
const PREPROCESSING_FILE: &str = BundleFile::Preprocessing.name();
const CALIBRATION_FILE: &str = BundleFile::Calibration.name();
const MODEL_FILE: &str = BundleFile::Model.name();
const METRICS_FILE: &str = BundleFile::ValidationMetrics.name();
const STATEMENTS_FILE: &str = BundleFile::ReasonStatements.name();
const METADATA_FILE: &str = BundleFile::Metadata.name();
const MANIFEST_FILE: &str = BundleFile::Manifest.name();

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
    /// sha256 of the feature SQL set in the bundle's `sql/` folder.
    pub feature_sql_sha256: String,
}

/// Lineage of the training run (`metadata.json`); the only file with timestamps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrainingMetadata {
    pub run_id: String,
    pub model_name: String,
    pub config_file: String,
    /// Digest of the config sections training read (`config_sections`).
    pub config_hash: String,
    /// Section → sha256 of each config section training read.
    pub config_sections: BTreeMap<String, String>,
    /// The tracker's run (MLflow run id) that logged this training, when tracked.
    #[serde(default)]
    pub tracking_run_id: Option<String>,
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

/// sha256 of each bundle file (`sql/<file>` for the feature SQL), and of the SQL set as a whole.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub files: BTreeMap<String, String>,
    pub feature_sql_sha256: String,
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
    /// The reviewed adverse-action statement of every model feature.
    pub reason_statements: ReasonStatements,
    /// The feature SQL the model was trained with.
    pub feature_sql: SqlSet,
    /// sha256 of `manifest.json`: one digest that pins every file of the bundle.
    pub bundle_sha256: String,
    /// The bytes of `manifest.json` as loaded (what a signature covers).
    pub(crate) manifest_bytes: Vec<u8>,
    /// `manifest.sig`, when the bundle is signed (checked by [`crate::signature::Trust`]).
    pub(crate) signature: Option<Vec<u8>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Manifest entry of a feature SQL file: `sql/<file>`.
fn sql_entry(file: &str) -> String {
    format!("{}/{file}", BundleFile::SQL_DIR)
}

fn json_bytes<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::model_from(format!("cannot serialise {what}"), e))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Largest bundle file read: far above any real model, far below what a hostile manifest naming
/// a device or a huge file would make the process allocate.
const MAX_FILE_BYTES: u64 = 1 << 30;

/// The files a manifest lists besides the feature SQL (it does not list itself).
const LISTED: [BundleFile; 7] = [
    BundleFile::Learner,
    BundleFile::Preprocessing,
    BundleFile::Calibration,
    BundleFile::Model,
    BundleFile::ValidationMetrics,
    BundleFile::ReasonStatements,
    BundleFile::Metadata,
];

/// The path of a manifest entry, confined to the bundle folder: a bundle file name or
/// `sql/<file>`, and a regular file (not a symlink, a device or a folder) of bounded size.
fn entry_path(dir: &Path, name: &str) -> Result<PathBuf> {
    let sql_file = name.strip_prefix(&sql_entry(""));
    let known = LISTED.iter().any(|f| f.name() == name)
        || sql_file.is_some_and(|f| !f.is_empty() && !f.contains(['/', '\\']) && f != "..");
    if !known {
        return Err(Error::check(format!(
            "model bundle {}: manifest entry {name:?} is not a bundle file (one of {}, or \
             sql/<file>)",
            dir.display(),
            LISTED.map(|f| f.name()).join(", ")
        )));
    }
    let sql_dir = dir.join(BundleFile::SQL_DIR);
    if sql_file.is_some() && std::fs::symlink_metadata(&sql_dir).is_ok_and(|m| !m.is_dir()) {
        return Err(Error::check(format!(
            "model bundle {}: {} must be a folder inside the bundle, not a symlink",
            dir.display(),
            BundleFile::SQL_DIR
        )));
    }
    let path = dir.join(name);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| {
        Error::check(format!(
            "model bundle {}: file {name} is missing or unreadable ({e})",
            dir.display()
        ))
    })?;
    if !meta.file_type().is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(Error::check(format!(
            "model bundle {}: {name} must be a regular file of at most {MAX_FILE_BYTES} bytes \
             (not a symlink, a device or a folder)",
            dir.display()
        )));
    }
    Ok(path)
}

/// Everything a new bundle holds.
pub struct BundleParts<'a> {
    pub card: &'a ModelCard,
    pub preprocessor: &'a Preprocessor,
    pub learner: &'a TrainedLearner,
    pub calibrator: &'a Calibrator,
    pub validation_metrics: &'a Metrics,
    pub metadata: &'a TrainingMetadata,
    pub reason_statements: &'a ReasonStatements,
    pub feature_sql: &'a SqlSet,
    /// PKCS#8 ed25519 key to sign the manifest with (`signing.private_key_file`).
    pub signing_key: Option<&'a Path>,
}

impl ModelBundle {
    /// Write the bundle to `layout.bundle_dir(name, run id)` atomically (a temp folder renamed
    /// into place), then point the model's `latest` file at it. Returns the folder.
    pub fn write_new(layout: &Layout, parts: &BundleParts<'_>) -> Result<PathBuf> {
        let metadata = parts.metadata;
        let signer = parts.signing_key.map(signature::key_pair).transpose()?;
        let model_root = layout.model_root(&metadata.model_name);
        std::fs::create_dir_all(&model_root).map_err(|e| Error::io(&model_root, e))?;
        let learner_bytes = match parts.learner {
            TrainedLearner::Trees(b) => gbm::to_canonical_json(b)?.into_bytes(),
            TrainedLearner::Logistic(m) => json_bytes(m, "the logistic model")?,
        };
        let mut files: Vec<(String, Vec<u8>)> = vec![
            (LEARNER_FILE.into(), learner_bytes),
            (
                PREPROCESSING_FILE.into(),
                json_bytes(parts.preprocessor, "the preprocessing")?,
            ),
            (
                CALIBRATION_FILE.into(),
                json_bytes(parts.calibrator, "the calibration")?,
            ),
            (MODEL_FILE.into(), json_bytes(parts.card, "the model card")?),
            (
                METRICS_FILE.into(),
                json_bytes(parts.validation_metrics, "the validation metrics")?,
            ),
            (
                STATEMENTS_FILE.into(),
                json_bytes(parts.reason_statements, "the reason statements")?,
            ),
            (
                METADATA_FILE.into(),
                json_bytes(metadata, "the training metadata")?,
            ),
        ];
        for (name, text) in &parts.feature_sql.files {
            files.push((sql_entry(name), text.clone().into_bytes()));
        }
        let tmp = tempfile::Builder::new()
            .prefix(".incomplete-")
            .tempdir_in(&model_root)
            .map_err(|e| Error::io(&model_root, e))?;
        std::fs::create_dir_all(tmp.path().join(BundleFile::SQL_DIR))
            .map_err(|e| Error::io(tmp.path(), e))?;
        let mut manifest = Manifest {
            files: BTreeMap::new(),
            feature_sql_sha256: parts.feature_sql.sha256(),
        };
        for (name, bytes) in &files {
            let path = tmp.path().join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            manifest.files.insert(name.clone(), sha256_hex(bytes));
        }
        let manifest_path = tmp.path().join(MANIFEST_FILE);
        let manifest_bytes = json_bytes(&manifest, "the manifest")?;
        std::fs::write(&manifest_path, &manifest_bytes)
            .map_err(|e| Error::io(&manifest_path, e))?;
        if let Some(pair) = &signer {
            signature::write_signature(tmp.path(), pair, &manifest_bytes)?;
        }
        let dir = layout.bundle_dir(&metadata.model_name, &metadata.run_id);
        if dir.exists() {
            return Err(Error::model(format!(
                "{}: a bundle with this run id already exists",
                dir.display()
            )));
        }
        // tempdir creates the folder 0700; a bundle is read by other users (serving, CI).
        #[cfg(unix)]
        for folder in [
            tmp.path().to_path_buf(),
            tmp.path().join(BundleFile::SQL_DIR),
        ] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(&folder, e))?;
        }
        let tmp_path = tmp.keep();
        std::fs::rename(&tmp_path, &dir).map_err(|e| Error::io(&dir, e))?;
        creditrisk_base::io::write_atomic(
            &layout.latest_pointer(&metadata.model_name),
            format!("{}\n", metadata.run_id).as_bytes(),
        )?;
        Ok(dir)
    }

    /// Folder of the latest bundle of a model (its `latest` pointer).
    pub fn latest_dir(layout: &Layout, model_name: &str) -> Result<PathBuf> {
        let pointer = layout.latest_pointer(model_name);
        let run_id = std::fs::read_to_string(&pointer).map_err(|_| {
            Error::input(format!(
                "{}: no trained model found; run `creditrisk train` first",
                pointer.display()
            ))
        })?;
        Ok(layout.bundle_dir(model_name, run_id.trim()))
    }

    /// Load the latest bundle of a model, verifying its manifest.
    pub fn load_latest(layout: &Layout, model_name: &str) -> Result<ModelBundle> {
        ModelBundle::load(&Self::latest_dir(layout, model_name)?)
    }

    /// Load a bundle folder. Every file is checked against `manifest.json` first: a missing or
    /// modified file is an error naming it.
    pub fn load(dir: &Path) -> Result<ModelBundle> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_bytes = std::fs::read(&manifest_path).map_err(|e| {
            Error::input(format!(
                "{}: cannot read the bundle manifest ({e}); is this a model bundle folder?",
                manifest_path.display()
            ))
        })?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            Error::check(format!(
                "{}: corrupt manifest: {e}",
                manifest_path.display()
            ))
        })?;
        let required = BundleFile::DETERMINISTIC
            .iter()
            .chain(&[BundleFile::Metadata])
            .map(|f| f.name());
        if let Some(name) = required.clone().find(|n| !manifest.files.contains_key(*n)) {
            return Err(Error::check(format!(
                "{}: manifest does not list {name}",
                manifest_path.display()
            )));
        }
        let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (name, expected) in &manifest.files {
            let path = entry_path(dir, name)?;
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::check(format!(
                    "model bundle {}: file {name} is missing or unreadable ({e})",
                    dir.display()
                ))
            })?;
            let actual = sha256_hex(&bytes);
            if &actual != expected {
                return Err(Error::check(format!(
                    "model bundle {}: file {name} was modified after training (sha256 {actual}, manifest \
                     says {expected}); restore it or retrain the model",
                    dir.display()
                )));
            }
            contents.insert(name.clone(), bytes);
        }
        let parse_err = |name: &str, e: &dyn std::fmt::Display| {
            Error::check(format!(
                "model bundle {}: file {name} cannot be read: {e}",
                dir.display()
            ))
        };
        let mut feature_sql = SqlSet {
            files: BTreeMap::new(),
        };
        for (name, bytes) in &contents {
            if let Some(file) = name.strip_prefix(&sql_entry("")) {
                let text = String::from_utf8(bytes.clone()).map_err(|e| parse_err(name, &e))?;
                feature_sql.files.insert(file.to_string(), text);
            }
        }
        if feature_sql.sha256() != manifest.feature_sql_sha256 {
            return Err(Error::check(format!(
                "model bundle {}: its feature SQL does not match the manifest's sha256 {}; \
                 restore the bundle's sql/ folder or retrain the model",
                dir.display(),
                manifest.feature_sql_sha256
            )));
        }
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
        let bundle = ModelBundle {
            dir: dir.to_path_buf(),
            preprocessor: serde_json::from_slice(&contents[PREPROCESSING_FILE])
                .map_err(|e| parse_err(PREPROCESSING_FILE, &e))?,
            calibrator: serde_json::from_slice(&contents[CALIBRATION_FILE])
                .map_err(|e| parse_err(CALIBRATION_FILE, &e))?,
            validation_metrics: serde_json::from_slice(&contents[METRICS_FILE])
                .map_err(|e| parse_err(METRICS_FILE, &e))?,
            metadata: serde_json::from_slice(&contents[METADATA_FILE])
                .map_err(|e| parse_err(METADATA_FILE, &e))?,
            reason_statements: serde_json::from_slice(&contents[STATEMENTS_FILE])
                .map_err(|e| parse_err(STATEMENTS_FILE, &e))?,
            card,
            learner,
            feature_sql,
            bundle_sha256: sha256_hex(&manifest_bytes),
            signature: crate::signature::read_signature(dir)?,
            manifest_bytes,
        };
        bundle.check()?;
        Ok(bundle)
    }

    /// The structural checks of `validate`, file by file, and the files against each other.
    fn check(&self) -> Result<()> {
        let card = &self.card;
        validate::check_card(card.decision_threshold, card.reason_codes, &card.pd_bands)?;
        validate::check_preprocessor(&self.preprocessor)?;
        let design = self.preprocessor.design.len();
        if card.design_columns.len() != design {
            return Err(validate::inconsistent(
                "model.json",
                "design_columns",
                format!(
                    "{} names for {design} design columns in preprocessing.json",
                    card.design_columns.len()
                ),
            ));
        }
        match (card.learner, &self.learner) {
            (Learner::GradientBoosting, TrainedLearner::Trees(b)) => {
                validate::check_trees(b, design)?
            }
            (Learner::Logistic, TrainedLearner::Logistic(m)) => {
                validate::check_logistic(&m.coefficients, m.intercept, design)?
            }
            _ => {
                return Err(validate::inconsistent(
                    "model.json",
                    "learner",
                    "does not match learner.json",
                ));
            }
        }
        validate::check_calibrator(&self.calibrator)
    }

    /// Feature frame, design matrix and log-odds of a batch of feature rows.
    pub(super) fn raw_scores(
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
}
