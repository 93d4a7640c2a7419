//! The command line: every subcommand, its flags and their help text (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use creditrisk_ops::gates;

#[derive(Parser)]
#[command(
    name = "creditrisk",
    version,
    about = "Probability-of-default platform for consumer lending"
)]
pub struct Cli {
    /// Configuration file (paths inside resolve against the folder above `configs/`).
    #[arg(
        long,
        global = true,
        env = "CREDITRISK_CONFIG",
        default_value = "configs/baseline.yaml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Generate Kaggle-shaped synthetic raw data with a known true PD per applicant.
    Synth {
        /// Applicants in application_train.csv (test gets Kaggle's proportion); default `data.synth_rows`.
        #[arg(long)]
        rows: Option<usize>,
        /// Random seed; default `data.seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder; default `paths.raw_dir`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify the configured raw sources (presence, size, rows, md5/sha256, header).
    Ingest,
    /// Check every raw column against its contract and build the SQL feature store.
    BuildFeatureStore {
        /// Feature-store file; default `features.store_file`.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Benchmark floor: only parse every raw CSV once with the catalog schema, then exit.
        #[arg(long, hide = true)]
        parse_only: bool,
        /// `local` or `ballista://HOST:PORT` (a `creditrisk cluster scheduler`); default
        /// `features.engine`.
        #[arg(long)]
        engine: Option<String>,
    },
    /// Stratified, seeded train/test split of the labelled applicants, with leakage checks.
    SplitData,
    /// Fit preprocessing, learner and calibration on the training split into a model bundle.
    Train,
    /// Score a split with the latest bundle: metrics, PD bands, plots and an HTML report.
    Evaluate {
        #[arg(long, value_enum, default_value = "test")]
        split: SplitArg,
        /// Stability per period of this column (split or raw application column), or `vintage`
        /// (SK_ID_CURR order in `governance.vintages` periods) when the data has no date.
        #[arg(long)]
        by: Option<String>,
    },
    /// The governance document of a model version (HTML, Markdown, JSON): purpose, data,
    /// features, learner, performance, segments, stability, limitations, gates, registry history.
    ModelCard {
        /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
        #[arg(long, env = "CREDITRISK_MODEL")]
        model: String,
        /// Stability per period of this column instead of the synthetic vintage.
        #[arg(long)]
        by: Option<String>,
    },
    /// Every stage in order (ingest … auto-promote), skipping those whose inputs, config
    /// sections, feature SQL, binary and outputs are unchanged since their last success.
    Run {
        /// First stage to consider (a stage name, or `evaluate` for both evaluations).
        #[arg(long)]
        from: Option<String>,
        /// Last stage to consider.
        #[arg(long)]
        to: Option<String>,
        /// Rerun every selected stage even when unchanged.
        #[arg(long)]
        force: bool,
    },
    /// The main job: synthesise data if `paths.raw_dir` is empty, then `run`.
    Demo,
    /// Write reports/deploy_manifest.json: model reference and resolved version, bundle sha256,
    /// image entrypoints, config hash, binary version.
    DeployManifest {
        /// Default `models:/<registry.model_name>/Production`.
        #[arg(long, env = "CREDITRISK_MODEL")]
        model: Option<String>,
    },
    /// Move a registered version to a stage or point an alias at it, with governance tags.
    PromoteModel {
        #[arg(long)]
        version: u64,
        /// None, Staging, Production or Archived.
        #[arg(long, conflicts_with = "alias", required_unless_present = "alias")]
        stage: Option<String>,
        /// With --stage Staging|Production: archive the versions that held it.
        #[arg(long, requires = "stage")]
        archive_existing: bool,
        /// Point this alias (e.g. champion, challenger) at the version.
        #[arg(long)]
        alias: Option<String>,
        #[arg(long)]
        reviewer: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// SPEC §6 gates on a registered version (default: the newest): minimum test metrics,
    /// evaluation artifacts, lineage, tracker metrics equal to the metric files.
    ValidateModel {
        /// `models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/<Stage>`.
        #[arg(long)]
        model: Option<String>,
    },
    /// Candidate vs production on the same data: approval rate, mean PD and AUC deltas.
    Canary {
        #[arg(long)]
        candidate: String,
        #[arg(long)]
        production: String,
        /// Feature rows (Parquet); default the test split.
        #[arg(long)]
        dataset: Option<PathBuf>,
        #[arg(long, default_value_t = gates::DEFAULT_MAX_METRIC_DELTA)]
        max_metric_delta: f64,
    },
    /// Promote the newest version when its validate-model and canary reports both passed.
    AutoPromote {
        #[arg(long, conflicts_with = "alias", required_unless_present = "alias")]
        stage: Option<String>,
        #[arg(long)]
        alias: Option<String>,
    },
    /// Serve the HTTP scoring API (health, ready, metadata, schema, validate, predict, metrics,
    /// openapi.json, admin/reload) until SIGTERM or ctrl-c; SIGHUP reloads the model.
    Serve {
        /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
        #[arg(long, env = "CREDITRISK_MODEL")]
        model: String,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
    },
    /// Score a file of new applicants (CSV or Parquet) with a model, streaming in chunks; invalid
    /// rows go to `<output stem>.rejects.jsonl`.
    BatchPredict {
        /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
        #[arg(long, env = "CREDITRISK_MODEL")]
        model: String,
        /// Raw application rows (application_test columns), `.csv` or `.parquet`.
        #[arg(long)]
        input: PathBuf,
        /// `.parquet`, `.csv` or `.jsonl`.
        #[arg(long)]
        output: PathBuf,
        /// Decision threshold instead of the bundle's.
        #[arg(long)]
        threshold: Option<f64>,
        /// Folder of the seven history CSVs (Kaggle names); default: history from the feature store.
        #[arg(long, conflicts_with = "features")]
        history: Option<PathBuf>,
        /// The input holds ready feature-store rows: score them as they are.
        #[arg(long)]
        features: bool,
    },
    /// Data drift (Evidently's rules) of every model feature, the PD and the label between two
    /// sets of feature rows: `reports/drift_report.{json,html}`, logged as a monitoring run.
    MonitorDrift {
        /// Feature rows (Parquet or CSV); default the train split.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Feature rows (Parquet or CSV); default the test split.
        #[arg(long)]
        current: Option<PathBuf>,
        /// Model whose features and PD are watched; default its Production version, else the newest.
        #[arg(long)]
        model: Option<String>,
    },
    /// A production extract (raw application rows or feature rows) against the model's training
    /// split: `reports/production_drift_report.{json,html}` and `reports/retrain_trigger.json`.
    MonitorProduction {
        /// Raw application rows or feature rows, `.csv` or `.parquet`.
        #[arg(long)]
        current: PathBuf,
        /// Default: the Production version of `registry.model_name`, else the newest.
        #[arg(long)]
        model: Option<String>,
    },
    /// Age of every raw file in `reports/ingestion_summary.json`.
    CheckFreshness {
        #[arg(long)]
        max_age_hours: f64,
        /// Exit 1 when any file is older than the limit (or missing).
        #[arg(long)]
        fail_on_stale: bool,
    },
    /// A Ballista cluster from this binary: `cluster scheduler`, `cluster executor`.
    #[cfg_attr(
        not(feature = "ballista"),
        command(
            about = "A Ballista cluster: not in this build (cargo feature `ballista`; rebuild \
                     with `cargo build --release --features ballista`)"
        )
    )]
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// The registry: `models list`, `models show REF`.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Benchmark aid: AUC of the true synthetic PD on the rows of a split (the best achievable).
    #[command(hide = true)]
    BayesAuc {
        #[arg(long)]
        test: PathBuf,
        #[arg(long)]
        truth: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Every version of `registry.model_name`: stage, aliases, run, validation AUC.
    List,
    /// One version as JSON: `models:/<name>/<version>`, `models:/<name>@<alias>`,
    /// `models:/<name>/<Stage>`.
    Show { reference: String },
}

#[derive(Subcommand)]
// Built without the `ballista` feature, the arguments are parsed (so the error below names the
// subcommand) but never used.
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
pub enum ClusterCommand {
    /// Ballista's scheduler: plans jobs and hands tasks to executors (no config file needed).
    Scheduler {
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Host name clients and executors use for this machine (default: --bind-host).
        #[arg(long)]
        external_host: Option<String>,
        /// An executor silent this long is declared dead and its tasks run elsewhere.
        #[arg(long, default_value_t = 30)]
        executor_timeout_seconds: u64,
        /// S3-compatible server for s3:// tables (as `paths.endpoint`).
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Ballista's executor: runs tasks for the scheduler at --scheduler-host:--scheduler-port.
    Executor {
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Flight port (task results, shuffle data).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Host name the scheduler and other executors use for this machine.
        #[arg(long)]
        external_host: Option<String>,
        #[arg(long, default_value = "127.0.0.1")]
        scheduler_host: String,
        #[arg(long, default_value_t = 50050)]
        scheduler_port: u16,
        /// Shuffle files and spills (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<String>,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// S3-compatible server for s3:// tables (as `paths.endpoint`).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SplitArg {
    Train,
    Test,
}
