//! The one typed configuration (`configs/baseline.yaml`).
//!
//! Loading goes YAML → JSON value → environment overrides → typed struct, so that an unknown key or
//! a wrong type is reported with its full key path (`training.test_size`) and the file it came from,
//! and `CREDITRISK__SECTION__KEY=value` can override any leaf for deployments.
//!
//! This file declares the sections; [`load`] reads, overrides and checks them, and [`sections`]
//! hashes them for run ids and lineage.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod load;
mod sections;
pub use sections::{Section, combine_hashes};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub paths: PathsConfig,
    pub data: DataConfig,
    pub features: FeaturesConfig,
    pub training: TrainingConfig,
    pub model: ModelConfig,
    pub tracking: TrackingConfig,
    pub inference: InferenceConfig,
    pub registry: RegistryConfig,
    pub validation: ValidationConfig,
    pub testing: TestingConfig,
    pub monitoring: MonitoringConfig,
    pub ingestion: IngestionConfig,
    /// `creditrisk serve` limits, auth and audit (defaults when the section is absent).
    #[serde(default)]
    pub serving: ServingConfig,
    /// Model governance: segment and fairness analysis, adverse-action statements (defaults when
    /// the section is absent).
    #[serde(default)]
    pub governance: GovernanceConfig,
    /// Bundle signatures: the key `train` signs with, the keys scoring trusts (off when absent).
    #[serde(default)]
    pub signing: SigningConfig,
    /// Folder the relative paths above resolve against (the parent of `configs/`).
    #[serde(skip)]
    pub root: PathBuf,
    /// The config file this was loaded from.
    #[serde(skip)]
    pub source: PathBuf,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    pub raw_dir: PathBuf,
    pub processed_dir: PathBuf,
    pub reports_dir: PathBuf,
    pub models_dir: PathBuf,
    pub sql_dir: PathBuf,
    pub truth_file: PathBuf,
    pub cache_dir: PathBuf,
    /// Base URL of an S3-compatible server for `s3://` URIs (raw_dir, ingestion sources), e.g.
    /// `http://127.0.0.1:9000`; credentials come from each cloud's environment variables.
    #[serde(default)]
    pub endpoint: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub synth_rows: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturesConfig {
    pub store_file: PathBuf,
    pub raw_parquet_cache: bool,
    /// Share of the extract's CSV bytes whose typed copies one build writes (in catalog order,
    /// at least one table per build); the tables left over are copied by the next builds.
    #[serde(default = "default_cache_fill_share")]
    pub cache_fill_share: f64,
    /// Reuse a raw table's contract report from an earlier build over the same bytes, parents,
    /// `validation` section and executable (kept with the typed cache); false checks every table.
    #[serde(default = "default_true")]
    pub reuse_contract_reports: bool,
    pub exclude: Vec<String>,
    /// Where the raw contracts and feature SQL run: `local` (default) or `ballista://HOST:PORT`
    /// (a Ballista scheduler; `build-feature-store --engine` overrides it).
    #[serde(default)]
    pub engine: Option<String>,
    /// A cluster build that has not finished after this long fails (nothing is written): Ballista
    /// may wait for ever on a job whose executor died holding its shuffle data.
    #[serde(default = "default_cluster_timeout")]
    pub cluster_timeout_seconds: u64,
}

fn default_true() -> bool {
    true
}

// Writing a table's typed copy costs about 0.4 times what parsing, checking and reducing its CSV
// costs, so copying a whole extract made a build ~1.5 times slower than one without the cache.
// 0.4 (at full synthetic scale the application, bureau and bureau_balance copies: 26 % of the
// bytes) keeps the first build ~1.1 times, and the second, which copies the rest, about the same
// (BENCHMARKS.md, "Feature store").
fn default_cache_fill_share() -> f64 {
    0.4
}

fn default_cluster_timeout() -> u64 {
    3600
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    None,
    Balanced,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    None,
    PriorCorrection,
    Isotonic,
    Platt,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    pub test_size: f64,
    pub validation_size: f64,
    pub random_state: u64,
    pub use_smote: bool,
    pub smote_sampling_strategy: f64,
    pub smote_k_neighbors: usize,
    pub downsample_majority: bool,
    pub downsample_ratio: f64,
    pub class_weight: ClassWeight,
    pub calibration: Calibration,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    GradientBoosting,
    Logistic,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticConfig {
    pub l2: f64,
    pub max_iter: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub learner: Learner,
    /// Hyperparameters of the gradient-boosting learner, by forust-ml's names.
    pub params: BTreeMap<String, Value>,
    pub logistic: LogisticConfig,
    /// feature → +1 (PD rises with it) or −1 (PD falls with it).
    #[serde(default)]
    pub monotone_constraints: BTreeMap<String, i8>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    pub uri: String,
    pub experiment_name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceConfig {
    pub decision_threshold: f64,
    pub reason_codes: usize,
    pub pd_bands: Vec<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    pub model_name: String,
    pub promote_on_metric: MetricName,
    pub promote_min_value: f64,
    pub stage_on_register: Stage,
    /// `auto-promote` to Staging or Production archives the versions that held the stage, as
    /// `promote-model --archive-existing` does, so one version holds it.
    #[serde(default = "default_true")]
    pub archive_on_promote: bool,
}

/// Registry stages, spelled as MLflow spells them.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    None,
    Staging,
    Production,
    Archived,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::None => "None",
            Stage::Staging => "Staging",
            Stage::Production => "Production",
            Stage::Archived => "Archived",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    pub enabled: bool,
    pub enforce_schema: bool,
    pub enforce_nulls: bool,
    pub enforce_keys: bool,
    pub enforce_ranges: bool,
    pub enforce_domains: bool,
    pub enforce_referential: bool,
    pub max_orphan_share: f64,
    pub sample_rows: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    pub min_metrics: BTreeMap<MetricName, f64>,
}

/// `monitor-drift`, `monitor-production` and the retrain trigger. Test choice, thresholds and
/// verdicts follow Evidently's data drift preset (see `src/monitor/`); keys added after the first
/// release have defaults so older configs still load.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Dataset drift when at least this share of the features drifted.
    pub drift_share: f64,
    /// PSI at or above which a column's (and the PD's) population shifted.
    pub psi_threshold: f64,
    /// KS p-value at or below which a numeric column drifted (small reference).
    pub ks_p_value: f64,
    /// Wasserstein distance / reference std at or above which a numeric column drifted.
    pub wasserstein_threshold: f64,
    /// Jensen-Shannon distance at or above which a categorical column drifted.
    pub jensen_shannon_threshold: f64,
    /// Reference columns with at most this many non-NULL values get the p-value tests (KS,
    /// chi-squared, z), larger ones the distances (Wasserstein, Jensen-Shannon).
    pub large_sample_rows: usize,
    /// Chi-squared (and two-proportion z-test) p-value at or below which a categorical column
    /// drifted (small reference).
    #[serde(default = "defaults::chi_squared_p_value")]
    pub chi_squared_p_value: f64,
    /// Quantile bins of the reference for PSI.
    #[serde(default = "defaults::psi_bins")]
    pub psi_bins: usize,
    /// Rows drawn (seeded, without replacement) from each side before testing and scoring; at
    /// most 10,000 so the KS p-value stays on scipy's exact path.
    #[serde(default = "defaults::sample_rows")]
    pub sample_rows: usize,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// The retrain trigger fires when dataset drift holds and the drifted share is at least this.
    #[serde(default = "defaults::retrain_drift_threshold")]
    pub retrain_drift_threshold: f64,
    /// Run `retrain_command` when the trigger fires.
    #[serde(default)]
    pub auto_retrain: bool,
    /// Whitespace-separated command (no shell); a leading `creditrisk` is the running binary.
    #[serde(default = "defaults::retrain_command")]
    pub retrain_command: String,
}

/// Defaults of the monitoring keys added after the first release (Evidently's where it has one).
mod defaults {
    pub fn chi_squared_p_value() -> f64 {
        0.05
    }
    pub fn psi_bins() -> usize {
        10
    }
    pub fn sample_rows() -> usize {
        10_000
    }
    pub fn seed() -> u64 {
        42
    }
    pub fn retrain_drift_threshold() -> f64 {
        0.5
    }
    pub fn retrain_command() -> String {
        "creditrisk run --from train".into()
    }
}

/// Largest `monitoring.sample_rows`: scipy's `ks_2samp` switches from its exact p-value to an
/// asymptotic one above 10,000 rows per sample; the KS here is the exact method only.
pub const MAX_MONITORING_SAMPLE_ROWS: usize = 10_000;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestionConfig {
    pub sources: Vec<SourceConfig>,
}

/// `creditrisk serve`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServingConfig {
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Most records per `/predict` or `/validate` request (413 beyond).
    pub max_records: usize,
    /// Bearer token required on every route but /health and /ready; empty: no auth.
    pub auth_token: String,
    /// Environment variable holding the token (used when `auth_token` is empty).
    pub auth_token_env: String,
    /// Time a request may take before a 503.
    pub request_timeout_ms: u64,
    /// Append-only JSON-lines audit log of every decision (relative to the project root).
    pub audit_log: PathBuf,
    /// Time a client has to send a request's headers, and an idle keep-alive connection is kept.
    pub header_timeout_ms: u64,
    /// Time a client has to send a request's body once its headers arrived.
    pub body_timeout_ms: u64,
    /// Most open connections; 0: the open-file limit less a reserve for files. Beyond it the
    /// longest-idle connection is closed to admit the new one.
    pub max_connections: usize,
    /// Serve on a non-loopback address without a bearer token (refused otherwise).
    pub allow_unauthenticated: bool,
    /// A numeric feature beyond its training range by more than this many range widths is
    /// refused (422 naming it); 0 turns the check off.
    pub plausibility_factor: f64,
}

impl Default for ServingConfig {
    fn default() -> ServingConfig {
        ServingConfig {
            max_body_bytes: 1_048_576,
            max_records: 1_000,
            auth_token: String::new(),
            auth_token_env: "CREDITRISK_SERVING_TOKEN".into(),
            request_timeout_ms: 5_000,
            audit_log: PathBuf::from("reports/audit/decisions.jsonl"),
            header_timeout_ms: 5_000,
            body_timeout_ms: 5_000,
            max_connections: 0,
            allow_unauthenticated: false,
            plausibility_factor: 10.0,
        }
    }
}

/// Ed25519 signatures of model bundles (`creditrisk keygen` makes a key pair).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    /// PKCS#8 private key file `train` signs each new bundle with (relative to the project
    /// root); empty: bundles are not signed.
    pub private_key_file: PathBuf,
    /// Hex public keys; when any is given, a bundle is scored (serve, batch-predict, gates,
    /// deploy-manifest) only with a valid signature by one of them.
    pub trusted_keys: Vec<String>,
}

/// `evaluate`'s segment analysis and `train`'s adverse-action statements.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceConfig {
    /// A segment whose approval rate is below this share of the most-approved segment's is
    /// flagged (the four-fifths rule of adverse-impact analysis).
    pub adverse_impact_ratio: f64,
    /// Segments with fewer rows are reported but never flagged: their approval rate is noise.
    pub min_segment_rows: usize,
    /// The reviewed table of reason statements (CSV: feature, statement, unit), relative to the
    /// project root; `train` copies it into the bundle.
    pub reason_statements: PathBuf,
    /// Periods of the synthetic vintage (`evaluate --by vintage`).
    pub vintages: usize,
    /// Attributes analysed per segment, model features or not.
    pub segments: Vec<SegmentConfig>,
}

/// One analysed attribute: a split column, or a raw `application_train.csv` column joined by
/// SK_ID_CURR (protected attributes such as CODE_GENDER are not model features).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SegmentConfig {
    pub name: String,
    pub column: String,
    /// Numeric columns: increasing cut points of the bands (`[25, 35]`: `<25`, `25–35`, `≥35`);
    /// empty: each distinct value is a segment.
    #[serde(default)]
    pub bands: Vec<f64>,
}

impl Default for GovernanceConfig {
    fn default() -> GovernanceConfig {
        let segment = |name: &str, column: &str, bands: &[f64]| SegmentConfig {
            name: name.into(),
            column: column.into(),
            bands: bands.to_vec(),
        };
        GovernanceConfig {
            adverse_impact_ratio: 0.8,
            min_segment_rows: 30,
            reason_statements: PathBuf::from("configs/reason_statements.csv"),
            vintages: 6,
            segments: vec![
                segment("age_band", "AGE_YEARS", &[25.0, 35.0, 45.0, 55.0, 65.0]),
                segment("gender", "CODE_GENDER", &[]),
                segment("income_type", "NAME_INCOME_TYPE", &[]),
                segment("contract_type", "NAME_CONTRACT_TYPE", &[]),
                segment("has_bureau_history", "HAS_BUREAU", &[]),
            ],
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Catalog table name (`bureau`, `pos_cash_balance`, ...).
    pub table: String,
    /// Local path (relative to the project root), `file://` URL, or an object-store URI
    /// (`s3://`, `az://`/`abfs://`, `gs://`, `http(s)://`).
    pub uri: String,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// Expected data rows (header excluded), when known.
    #[serde(default)]
    pub rows: Option<u64>,
}

/// A scalar metric a gate or a promotion rule can name (`registry.promote_on_metric`,
/// `testing.min_metrics`); unknown names are rejected when the config loads.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    RocAuc,
    Gini,
    Ks,
    Brier,
    LogLoss,
    Ece,
    Accuracy,
    Precision,
    Recall,
    F1,
    ApprovalRate,
}

impl MetricName {
    pub const ALL: [MetricName; 11] = [
        MetricName::RocAuc,
        MetricName::Gini,
        MetricName::Ks,
        MetricName::Brier,
        MetricName::LogLoss,
        MetricName::Ece,
        MetricName::Accuracy,
        MetricName::Precision,
        MetricName::Recall,
        MetricName::F1,
        MetricName::ApprovalRate,
    ];

    /// The name used in configs, metric files and the tracker.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricName::RocAuc => "roc_auc",
            MetricName::Gini => "gini",
            MetricName::Ks => "ks",
            MetricName::Brier => "brier",
            MetricName::LogLoss => "log_loss",
            MetricName::Ece => "ece",
            MetricName::Accuracy => "accuracy",
            MetricName::Precision => "precision",
            MetricName::Recall => "recall",
            MetricName::F1 => "f1",
            MetricName::ApprovalRate => "approval_rate",
        }
    }

    /// Whether a larger value is better (a minimum gate) or worse (Brier, log loss, ECE: a
    /// maximum gate).
    pub fn higher_is_better(self) -> bool {
        !matches!(
            self,
            MetricName::Brier | MetricName::LogLoss | MetricName::Ece
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn baseline() -> PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml")
    }

    #[test]
    fn baseline_loads_and_resolves_paths_against_root() {
        let c = Config::load_with_overrides(&baseline(), &[]).unwrap();
        assert_eq!(
            c.root,
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        );
        assert!(c.resolve(&c.paths.raw_dir).ends_with("data/raw"));
        assert_eq!(c.training.test_size, 0.2);
    }

    #[test]
    fn env_override_sets_a_leaf() {
        let o = [(
            "CREDITRISK__TRAINING__TEST_SIZE".to_string(),
            "0.3".to_string(),
        )];
        let c = Config::load_with_overrides(&baseline(), &o).unwrap();
        assert_eq!(c.training.test_size, 0.3);
    }

    #[test]
    fn unknown_key_and_wrong_type_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(baseline()).unwrap();
        let unknown = dir.path().join("unknown.yaml");
        std::fs::write(
            &unknown,
            text.replace("  test_size: 0.2", "  test_sise: 0.2"),
        )
        .unwrap();
        let err = Config::load_with_overrides(&unknown, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test_sise") && err.contains("unknown.yaml"),
            "{err}"
        );

        let wrong = dir.path().join("wrong.yaml");
        std::fs::write(
            &wrong,
            text.replace("  test_size: 0.2", "  test_size: lots"),
        )
        .unwrap();
        let err = Config::load_with_overrides(&wrong, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("training.test_size"), "{err}");
    }

    #[test]
    fn a_table_named_by_two_sources_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(baseline()).unwrap();
        let twice = dir.path().join("twice.yaml");
        std::fs::write(
            &twice,
            text.replace(
                "{ table: bureau_balance, uri: data/raw/bureau_balance.csv }",
                "{ table: bureau, uri: data/raw/bureau_balance.csv }",
            ),
        )
        .unwrap();
        let err = Config::load_with_overrides(&twice, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ingestion.sources[3].table") && err.contains("ingestion.sources[2]"),
            "{err}"
        );
    }

    #[test]
    fn section_hashes_change_only_with_their_section() {
        let base = Config::load_with_overrides(&baseline(), &[]).unwrap();
        let o = [(
            "CREDITRISK__MONITORING__DRIFT_SHARE".to_string(),
            "0.3".to_string(),
        )];
        let edited = Config::load_with_overrides(&baseline(), &o).unwrap();
        let training = [Section::Training, Section::Model];
        assert_eq!(base.hash_of(&training), edited.hash_of(&training));
        assert_ne!(
            base.hash_of(&[Section::Monitoring]),
            edited.hash_of(&[Section::Monitoring])
        );
        assert_eq!(base.section_hashes().len(), Section::ALL.len());
    }

    #[test]
    fn registry_stages_and_metric_names_are_checked_at_load() {
        let c = Config::load_with_overrides(&baseline(), &[]).unwrap();
        assert_eq!(c.registry.stage_on_register, Stage::Staging);
        assert_eq!(c.registry.promote_on_metric, MetricName::RocAuc);
        for (key, value, named) in [
            (
                "CREDITRISK__REGISTRY__STAGE_ON_REGISTER",
                "Prod",
                "registry.stage_on_register",
            ),
            (
                "CREDITRISK__REGISTRY__PROMOTE_ON_METRIC",
                "auc",
                "registry.promote_on_metric",
            ),
        ] {
            let o = [(key.to_string(), value.to_string())];
            let err = Config::load_with_overrides(&baseline(), &o)
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{err}");
        }
    }
}
