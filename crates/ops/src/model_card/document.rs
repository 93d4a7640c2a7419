//! What a model card says, as data (`<name>-v<version>.json`): the HTML and Markdown documents
//! are renderings of this one value, so their numbers are the same numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::evaluate::segments::SegmentsReport;
use creditrisk_model::metrics::Metrics;

/// Which model this is and where it came from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    pub reference: String,
    /// Registry version (None for a bundle folder given by path).
    pub version: Option<u64>,
    pub stage: Option<String>,
    pub aliases: Vec<String>,
    pub bundle_run_id: String,
    pub bundle_sha256: String,
    pub tracking_run_id: Option<String>,
    pub git_commit: String,
    pub crate_version: String,
    pub config_hash: String,
    pub trained_at: String,
}

/// One raw source file of the feature store the model was trained from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Source {
    pub table: String,
    pub path: String,
    pub sha256: String,
    pub rows: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingData {
    pub sources: Vec<Source>,
    /// Split file → sha256, as the bundle recorded them.
    pub split_files: BTreeMap<String, String>,
    pub train_rows: usize,
    pub train_default_rate: f64,
    pub rows_fit: usize,
    pub rows_validation: usize,
    /// The application period the data covers, or why it is unknown.
    pub period: String,
}

/// One model feature with its dictionary entry and adverse-action statement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub kind: String,
    pub arrow_type: String,
    pub definition: String,
    pub unit: String,
    pub statement: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Learner {
    pub learner: String,
    pub trees: Option<usize>,
    pub hyperparameters: BTreeMap<String, String>,
    pub monotone_constraints: BTreeMap<String, i8>,
    pub calibration: String,
    pub rebalance: serde_json::Value,
    pub decision_threshold: f64,
    pub pd_bands: Vec<f64>,
    pub reason_codes: usize,
}

/// Population stability of the PD between the train and the test split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stability {
    pub pd_psi_train_vs_test: f64,
    pub psi_bins: usize,
    pub train_mean_pd: f64,
    pub test_mean_pd: f64,
}

/// A gate's verdict on this version (validate-model, canary).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GateRecord {
    pub gate: String,
    pub passed: bool,
    pub detail: String,
    pub checked_at: String,
}

/// One registry event: registration or a promotion (who, when, why).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryEvent {
    pub event: String,
    pub at: String,
    pub by: String,
    pub note: String,
    pub status: String,
}

/// The whole card.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelCardDoc {
    pub generated_at: String,
    pub identity: Identity,
    pub purpose: Vec<String>,
    pub training_data: TrainingData,
    pub features: Vec<Feature>,
    pub learner: Learner,
    /// Test-split metrics of this bundle; equal to `metrics_file` when that file was written by
    /// an evaluation of the same bundle (`metrics_file_matches`).
    pub test_metrics: Metrics,
    pub metrics_file: String,
    pub metrics_file_matches: Option<bool>,
    pub segments: SegmentsReport,
    pub stability: Stability,
    pub limitations: Vec<String>,
    pub gates: Vec<GateRecord>,
    pub registry_history: Vec<RegistryEvent>,
}
