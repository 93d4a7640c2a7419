//! One file per subcommand: its flags (`Args`, clap derive) and `exec`, which resolves the flags
//! and the configuration once into the stage's options, calls the stage's entry function and
//! hands the summary to `output`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use creditrisk_base::{Config, Layout, Result};

use crate::output::Bars;

mod audit;
mod auto_promote;
mod batch_predict;
mod build_feature_store;
mod canary;
mod check_freshness;
mod cluster;
mod demo;
mod deploy_manifest;
mod evaluate;
mod gc;
mod ingest;
mod keygen;
mod model_card;
mod models;
mod monitor_drift;
mod monitor_production;
mod promote_model;
mod run;
mod serve;
mod sign_bundle;
mod split_data;
mod synth;
mod train;
mod validate_model;

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
    Synth(synth::Args),
    /// Verify the configured raw sources (presence, size, rows, md5/sha256, header).
    Ingest,
    /// Check every raw column against its contract and build the SQL feature store.
    BuildFeatureStore(build_feature_store::Args),
    /// Stratified, seeded train/test split of the labelled applicants, with leakage checks.
    SplitData,
    /// Fit preprocessing, learner and calibration on the training split into a model bundle.
    Train,
    /// Score a split with the latest bundle: metrics, PD bands, plots and an HTML report.
    Evaluate(evaluate::Args),
    /// The governance document of a model version (HTML, Markdown, JSON): purpose, data,
    /// features, learner, performance, segments, stability, limitations, gates, registry history.
    ModelCard(model_card::Args),
    /// Every stage in order (ingest … auto-promote), skipping those whose inputs, config
    /// sections, feature SQL, binary and outputs are unchanged since their last success.
    Run(run::Args),
    /// The main job: synthesise data if `paths.raw_dir` is empty, then `run`.
    Demo,
    /// Write reports/deploy_manifest.json: model reference and resolved version, bundle sha256,
    /// image entrypoints, config hash, binary version.
    DeployManifest(deploy_manifest::Args),
    /// Move a registered version to a stage or point an alias at it, with governance tags.
    PromoteModel(promote_model::Args),
    /// The release gates on a registered version (default: the newest): minimum test metrics,
    /// evaluation artifacts, lineage, tracker metrics equal to the metric files.
    ValidateModel(validate_model::Args),
    /// Candidate vs production on the same data: approval rate, mean PD and AUC deltas.
    Canary(canary::Args),
    /// Promote the newest version when its validate-model and canary reports both passed.
    AutoPromote(auto_promote::Args),
    /// Serve the HTTP scoring API (health, ready, metadata, schema, validate, predict, metrics,
    /// openapi.json, admin/reload) until SIGTERM or ctrl-c; SIGHUP reloads the model.
    Serve(serve::Args),
    /// The audit log of `serve`: `audit verify [--log PATH]` checks its hash chain.
    Audit(audit::Args),
    /// Score a file of new applicants (CSV or Parquet) with a model, streaming in chunks; invalid
    /// rows go to `<output stem>.rejects.jsonl`.
    BatchPredict(batch_predict::Args),
    /// Data drift (Evidently's rules) of every model feature, the PD and the label between two
    /// sets of feature rows: `reports/drift_report.{json,html}`, logged as a monitoring run.
    MonitorDrift(monitor_drift::Args),
    /// A production extract (raw application rows or feature rows) against the model's training
    /// split: `reports/production_drift_report.{json,html}` and `reports/retrain_trigger.json`.
    MonitorProduction(monitor_production::Args),
    /// Age of every raw file in `reports/ingestion_summary.json`.
    CheckFreshness(check_freshness::Args),
    /// A Ballista cluster from this binary: `cluster scheduler`, `cluster executor`.
    #[cfg_attr(
        not(feature = "ballista"),
        command(
            about = "A Ballista cluster: not in this build (cargo feature `ballista`; rebuild \
                     with `cargo build --release --features ballista`)"
        )
    )]
    Cluster(cluster::Args),
    /// The registry: `models list`, `models show REF`.
    Models(models::Args),
    /// Bundle folders no registered version refers to (and bundles a crash left half written):
    /// listed, and removed with `--delete`.
    Gc(gc::Args),
    /// A new ed25519 key pair to sign bundles with: the private key to a file, the public key
    /// (for `signing.trusted_keys`) printed.
    Keygen(keygen::Args),
    /// Sign a bundle folder (`manifest.sig`) so scoring with `signing.trusted_keys` accepts it.
    SignBundle(sign_bundle::Args),
}

impl Command {
    pub fn is_cluster(&self) -> bool {
        matches!(self, Command::Cluster(_))
    }
}

/// What every project subcommand starts from: the configuration, the artifact paths it names
/// and the progress bars.
pub struct Project {
    pub cfg: Config,
    pub layout: Layout,
    pub bars: Bars,
}

pub async fn exec(cli: Cli) -> Result<()> {
    // Cluster processes run on machines that need no project checkout or config file.
    if let Command::Cluster(args) = cli.command {
        return cluster::exec(args).await;
    }
    if let Command::Keygen(args) = cli.command {
        return keygen::exec(args);
    }
    // Verifying a log given by path needs no project.
    if let Command::Audit(args) = cli.command {
        return audit::exec(args, &cli.config);
    }
    let cfg = Config::load(&cli.config)?;
    let p = Project {
        layout: Layout::new(&cfg),
        cfg,
        bars: Bars::new(),
    };
    match cli.command {
        Command::Synth(args) => synth::exec(args, &p),
        Command::Ingest => ingest::exec(&p),
        Command::BuildFeatureStore(args) => build_feature_store::exec(args, &p).await,
        Command::SplitData => split_data::exec(&p),
        Command::Train => train::exec(&p).await,
        Command::Evaluate(args) => evaluate::exec(args, &p).await,
        Command::ModelCard(args) => model_card::exec(args, &p).await,
        Command::Run(args) => run::exec(args, &p).await,
        Command::Demo => demo::exec(&p).await,
        Command::DeployManifest(args) => deploy_manifest::exec(args, &p).await,
        Command::PromoteModel(args) => promote_model::exec(args, &p).await,
        Command::ValidateModel(args) => validate_model::exec(args, &p).await,
        Command::Canary(args) => canary::exec(args, &p).await,
        Command::AutoPromote(args) => auto_promote::exec(args, &p).await,
        Command::Serve(args) => serve::exec(args, &p).await,
        Command::BatchPredict(args) => batch_predict::exec(args, &p).await,
        Command::MonitorDrift(args) => monitor_drift::exec(args, &p).await,
        Command::MonitorProduction(args) => monitor_production::exec(args, &p).await,
        Command::CheckFreshness(args) => check_freshness::exec(args, &p),
        Command::Models(args) => models::exec(args, &p).await,
        Command::Gc(args) => gc::exec(args, &p).await,
        Command::SignBundle(args) => sign_bundle::exec(args, &p),
        Command::Cluster(_) | Command::Keygen(_) | Command::Audit(_) => {
            unreachable!("run before the config is loaded")
        }
    }
}
