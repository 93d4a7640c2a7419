//! Where every artifact lives. Stages ask the [`Layout`] for a path and never format one
//! themselves, so a file name is spelled once, here.
//!
//! ```text
//! <root>/                              project root (the folder above configs/)
//! ├── data/raw/<kaggle name>.csv       paths.raw_dir: the eight raw extracts
//! ├── data/cache/raw/<table>-<sha>.parquet   paths.cache_dir: typed copies keyed by CSV sha256
//! ├── data/cache/models/<name>/<version>/    registry versions downloaded from a server
//! ├── data/cache/file_sha256.json      sha256 of files by (path, size, mtime), for `run`
//! ├── data/synth_truth.parquet         paths.truth_file: true PD of synthetic applicants
//! ├── data/processed/                  paths.processed_dir
//! │   ├── feature_store.parquet        features.store_file
//! │   ├── train.parquet, test.parquet  stratified splits
//! ├── reports/                         paths.reports_dir
//! │   ├── ingestion_summary.json, data_lineage.json, registry_transition.json
//! │   ├── post_training_validation.json, canary_report.json, deploy_manifest.json
//! │   ├── drift_report.{json,html}, production_drift_report.{json,html}, retrain_trigger.json
//! │   ├── freshness_report.json
//! │   ├── .stages/<stage>.json         `creditrisk run`: fingerprint of each stage's last success
//! │   ├── validation/<stem>.json       contract reports (raw_<table>, feature_store, splits)
//! │   ├── metrics.json, test_metrics.json
//! │   ├── segments.json, train_segments.json   segment / fairness analysis of an evaluation
//! │   ├── model_card/<name>-v<version>.{html,md,json}   `creditrisk model-card`
//! │   ├── train_predictions.parquet, test_predictions.parquet
//! │   └── evaluation/, test_evaluation/   plots (PNG + SVG) and report.html
//! ├── models/<model.name>/             paths.models_dir
//! │   ├── latest                       run id of the newest bundle
//! │   └── <run id>/                    one verified bundle (see `BundleFile`)
//! └── mlruns/                          tracking.uri when it is a folder
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::RawTable;
use crate::config::Config;

/// A labelled split of the feature store.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub const ALL: [Split; 2] = [Split::Train, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// The files of a model bundle folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFile {
    Learner,
    Preprocessing,
    Calibration,
    Model,
    ValidationMetrics,
    ReasonStatements,
    Metadata,
    Manifest,
    /// Ed25519 signature of the manifest (hex), outside the manifest it signs.
    Signature,
}

impl BundleFile {
    /// Files whose bytes depend only on config, data and seed.
    pub const DETERMINISTIC: [BundleFile; 6] = [
        BundleFile::Learner,
        BundleFile::Preprocessing,
        BundleFile::Calibration,
        BundleFile::Model,
        BundleFile::ValidationMetrics,
        BundleFile::ReasonStatements,
    ];
    /// Folder inside a bundle holding the feature SQL the model was trained with.
    pub const SQL_DIR: &'static str = "sql";

    pub const fn name(self) -> &'static str {
        match self {
            BundleFile::Learner => "learner.json",
            BundleFile::Preprocessing => "preprocessing.json",
            BundleFile::Calibration => "calibration.json",
            BundleFile::Model => "model.json",
            BundleFile::ValidationMetrics => "validation_metrics.json",
            BundleFile::ReasonStatements => "reason_statements.json",
            BundleFile::Metadata => "metadata.json",
            BundleFile::Manifest => "manifest.json",
            BundleFile::Signature => "manifest.sig",
        }
    }
}

/// File names inside the raw cache folder (`Layout::raw_cache_dir`).
pub struct RawCacheName;

impl RawCacheName {
    /// The typed copy of one version of a raw table: `<table>-<sha256 prefix>.parquet`.
    pub fn file(table: RawTable, sha256: &str) -> String {
        format!(
            "{}-{}.parquet",
            table.name(),
            &sha256[..16.min(sha256.len())]
        )
    }

    /// Whether `name` is a typed copy of `table` (any version); `bureau-<hash>` must not match
    /// `bureau_balance-<hash>`.
    pub fn is_copy_of(name: &str, table: RawTable) -> bool {
        name.strip_prefix(&format!("{}-", table.name()))
            .and_then(|rest| rest.strip_suffix(".parquet"))
            .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
    }

    /// The memo of a raw file's sha256, named after its absolute path.
    pub fn sha_memo(absolute: &Path) -> String {
        let name = absolute
            .display()
            .to_string()
            .replace(['/', '\\', ':'], "_");
        format!("{name}.sha256.json")
    }
}

/// Every artifact path of one project, resolved against its root.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
    pub raw_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub processed_dir: PathBuf,
    pub store_file: PathBuf,
    pub reports_dir: PathBuf,
    pub models_dir: PathBuf,
    pub sql_dir: PathBuf,
    pub truth_file: PathBuf,
    /// The tracking store folder, when `tracking.uri` names a folder (not a server).
    pub tracking_dir: Option<PathBuf>,
}

impl Layout {
    pub fn new(cfg: &Config) -> Layout {
        let uri = cfg.tracking.uri.as_str();
        let remote = uri.starts_with("http://") || uri.starts_with("https://");
        Layout {
            root: cfg.root.clone(),
            // An object-store URI stays as written (a remote `raw_file` is then the object's URI).
            raw_dir: match crate::location::remote(&cfg.paths.raw_dir) {
                Some(_) => cfg.paths.raw_dir.clone(),
                None => cfg.resolve(&cfg.paths.raw_dir),
            },
            cache_dir: cfg.resolve(&cfg.paths.cache_dir),
            processed_dir: cfg.resolve(&cfg.paths.processed_dir),
            store_file: cfg.resolve(&cfg.features.store_file),
            reports_dir: cfg.resolve(&cfg.paths.reports_dir),
            models_dir: cfg.resolve(&cfg.paths.models_dir),
            sql_dir: cfg.resolve(&cfg.paths.sql_dir),
            truth_file: cfg.resolve(&cfg.paths.truth_file),
            tracking_dir: (!remote)
                .then(|| cfg.resolve(Path::new(uri.strip_prefix("file://").unwrap_or(uri)))),
        }
    }

    /// The same layout writing its feature store elsewhere (`build-feature-store --output`).
    pub fn with_store_file(mut self, store_file: PathBuf) -> Layout {
        self.store_file = store_file;
        self
    }

    pub fn raw_file(&self, table: RawTable) -> PathBuf {
        self.raw_dir.join(table.file_name())
    }
    /// Typed Parquet copies of the raw CSVs and the memo of their sha256.
    pub fn raw_cache_dir(&self) -> PathBuf {
        self.cache_dir.join("raw")
    }
    pub fn split_file(&self, split: Split) -> PathBuf {
        self.processed_dir.join(format!("{}.parquet", split.name()))
    }
    pub fn ingestion_summary(&self) -> PathBuf {
        self.reports_dir.join("ingestion_summary.json")
    }
    pub fn lineage_file(&self) -> PathBuf {
        self.reports_dir.join("data_lineage.json")
    }
    /// A contract report: `raw_<table>`, `feature_store`, `splits`.
    pub fn validation_report(&self, stem: &str) -> PathBuf {
        self.reports_dir
            .join("validation")
            .join(format!("{stem}.json"))
    }
    pub fn metrics_file(&self, split: Split) -> PathBuf {
        self.reports_dir.join(match split {
            Split::Train => "metrics.json",
            Split::Test => "test_metrics.json",
        })
    }
    /// Segment (adverse-impact) analysis and stability by period of one split's evaluation.
    pub fn segments_file(&self, split: Split) -> PathBuf {
        self.reports_dir.join(match split {
            Split::Train => "train_segments.json",
            Split::Test => "segments.json",
        })
    }
    /// `creditrisk model-card`: one folder of documents per model.
    pub fn model_card_dir(&self) -> PathBuf {
        self.reports_dir.join("model_card")
    }
    pub fn predictions_file(&self, split: Split) -> PathBuf {
        self.reports_dir
            .join(format!("{}_predictions.parquet", split.name()))
    }
    /// Plots and the HTML report of one split's evaluation.
    pub fn evaluation_dir(&self, split: Split) -> PathBuf {
        self.reports_dir.join(match split {
            Split::Train => "evaluation",
            Split::Test => "test_evaluation",
        })
    }
    pub fn evaluation_report(&self, split: Split) -> PathBuf {
        self.evaluation_dir(split).join("report.html")
    }
    /// The `validate-model` gates and their outcome.
    pub fn post_training_validation(&self) -> PathBuf {
        self.reports_dir.join("post_training_validation.json")
    }
    /// Candidate vs production on the same data.
    pub fn canary_report(&self) -> PathBuf {
        self.reports_dir.join("canary_report.json")
    }
    /// What `promote-model` / `auto-promote` did and why.
    pub fn registry_transition(&self) -> PathBuf {
        self.reports_dir.join("registry_transition.json")
    }
    /// `monitor-drift`: per-feature tests and the dataset verdict (JSON) and its HTML report.
    pub fn drift_report(&self) -> PathBuf {
        self.reports_dir.join("drift_report.json")
    }
    pub fn drift_report_html(&self) -> PathBuf {
        self.reports_dir.join("drift_report.html")
    }
    /// `monitor-production`: a production extract against the model's training reference.
    pub fn production_drift_report(&self) -> PathBuf {
        self.reports_dir.join("production_drift_report.json")
    }
    pub fn production_drift_report_html(&self) -> PathBuf {
        self.reports_dir.join("production_drift_report.html")
    }
    /// Whether `monitor-production` fired the retrain trigger, why, and what the command did.
    pub fn retrain_trigger(&self) -> PathBuf {
        self.reports_dir.join("retrain_trigger.json")
    }
    /// `check-freshness`: age of every ingested raw file.
    pub fn freshness_report(&self) -> PathBuf {
        self.reports_dir.join("freshness_report.json")
    }
    /// `creditrisk deploy-manifest`: what a deployment of the model would run.
    pub fn deploy_manifest(&self) -> PathBuf {
        self.reports_dir.join("deploy_manifest.json")
    }
    /// `creditrisk run`: the fingerprint of a stage's last successful run.
    pub fn stage_fingerprint(&self, stage: &str) -> PathBuf {
        self.reports_dir
            .join(".stages")
            .join(format!("{stage}.json"))
    }
    /// `creditrisk run`: sha256 of files keyed by (path, size, mtime), so unchanged big files are
    /// not read again (DVC's state database).
    pub fn file_hash_cache(&self) -> PathBuf {
        self.cache_dir.join("file_sha256.json")
    }
    /// Registry versions downloaded from a tracking server, by name and version.
    pub fn model_cache_dir(&self) -> PathBuf {
        self.cache_dir.join("models")
    }
    /// All bundles of one model.
    pub fn model_root(&self, model_name: &str) -> PathBuf {
        self.models_dir.join(model_name)
    }
    pub fn bundle_dir(&self, model_name: &str, run_id: &str) -> PathBuf {
        self.model_root(model_name).join(run_id)
    }
    /// File holding the run id of the newest bundle of a model.
    pub fn latest_pointer(&self, model_name: &str) -> PathBuf {
        self.model_root(model_name).join("latest")
    }
}
