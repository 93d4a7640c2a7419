//! The `creditrisk` binary: parses arguments and calls one stage entry function per subcommand.
//! It holds no logic. It owns what only the edge may own: the async runtime, the progress bars
//! (stderr, hidden when stderr is not a terminal) and the printing; errors print as one line and
//! map to exit codes (1 failed stage, 2 usage).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use creditrisk::evaluate::EvaluateOptions;
use creditrisk::experiment::TrackingOptions;
use creditrisk::features::{FeatureStoreOptions, FeatureStoreSummary};
use creditrisk::gates::{self, GateOptions};
use creditrisk::ingest::IngestOptions;
use creditrisk::model_card::ModelCardOptions;
use creditrisk::monitor::production::ProductionRequest;
use creditrisk::monitor::{self, DriftReport, DriftRequest, MonitorOptions};
use creditrisk::pipeline::{Outcome, RunOptions, RunSummary};
use creditrisk::predict::{History, PredictOptions, PredictRequest};
use creditrisk::progress::Reporter;
use creditrisk::registry::{self, Promotion, Target};
use creditrisk::split::SplitOptions;
use creditrisk::synth::SynthOptions;
use creditrisk::tracking::ModelRef;
use creditrisk::train::TrainOptions;
use creditrisk::{Config, Error, Layout, Split};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(
    name = "creditrisk",
    version,
    about = "Probability-of-default platform for consumer lending"
)]
struct Cli {
    /// Configuration file (paths inside resolve against the folder above `configs/`).
    #[arg(
        long,
        global = true,
        env = "CREDITRISK_CONFIG",
        default_value = "configs/baseline.yaml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
enum ModelsCommand {
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
enum ClusterCommand {
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
enum SplitArg {
    Train,
    Test,
}

// TreeSHAP reason codes and DataFusion allocate many small, short-lived buffers; mimalloc serves
// them far faster than glibc's malloc under concurrent requests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, Command::Cluster { .. }) {
        // Ballista's own binaries use 32 MB stacks: deep plans are (de)serialised recursively.
        runtime.thread_stack_size(32 << 20);
    }
    let outcome = runtime
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    // Cluster processes run on machines that need no project checkout or config file.
    if let Command::Cluster { command } = cli.command {
        return cluster(command).await;
    }
    let cfg = Config::load(&cli.config)?;
    let layout = Layout::new(&cfg);
    let bars = Bars::new();
    match cli.command {
        Command::Synth { rows, seed, out } => {
            let opts = SynthOptions::new(
                rows.unwrap_or(cfg.data.synth_rows),
                seed.unwrap_or(cfg.data.seed),
                out.unwrap_or_else(|| layout.raw_dir.clone()),
                layout.truth_file.clone(),
            );
            let s = creditrisk::synth::run(&opts, &bars)?;
            for f in &s.files {
                eprintln!(
                    "{:<22} {:>11} rows {:>14} bytes  {}",
                    f.table,
                    f.rows,
                    f.bytes,
                    f.path.display()
                );
            }
            eprintln!(
                "default rate {:.4}, {:.1} s",
                s.train_default_rate, s.seconds
            );
        }
        Command::Ingest => {
            let s = creditrisk::ingest::run(&layout, &IngestOptions::from_config(&cfg))?;
            for f in &s.sources {
                eprintln!(
                    "{:<22} {:>11} rows {:>14} bytes  {}",
                    f.table, f.rows, f.bytes, f.status
                );
            }
            eprintln!("ingestion summary: {}", s.report.display());
        }
        Command::BuildFeatureStore {
            parse_only: true, ..
        } => {
            for (table, rows, seconds) in creditrisk::features::parse_floor(&layout.raw_dir).await?
            {
                eprintln!("{table:<22} {rows:>11} rows parsed in {seconds:.2} s");
            }
        }
        Command::BuildFeatureStore { output, engine, .. } => {
            let layout = match output {
                Some(path) => layout.with_store_file(path),
                None => layout,
            };
            let mut opts = FeatureStoreOptions::from_config(&cfg);
            if engine.is_some() {
                opts.engine = engine;
            }
            let s = creditrisk::features::build_feature_store(&layout, &opts, &bars).await?;
            print_feature_store(&s);
        }
        Command::SplitData => {
            let s = creditrisk::split::run(&layout, &SplitOptions::from_config(&cfg))?;
            eprintln!(
                "train {} rows (default rate {:.4}) → {}\ntest {} rows (default rate {:.4}) → {}",
                s.train_rows,
                s.train_default_rate,
                s.train_file.display(),
                s.test_rows,
                s.test_default_rate,
                s.test_file.display()
            );
        }
        Command::Train => {
            let s = creditrisk::train::run(&layout, &TrainOptions::from_config(&cfg)).await?;
            let v = &s.validation;
            eprintln!(
                "{:?} on {} rows × {} features, {:.1} s; validation slice (calibration in-sample) AUC {:.4}, ECE {:.4}, Brier {:.4}\nbundle: {}",
                s.learner,
                s.rows_fit,
                s.features,
                s.seconds,
                v.roc_auc,
                v.ece,
                v.brier,
                s.model_dir.display()
            );
            if let (Some(run), Some(version)) = (&s.tracking_run_id, s.registered_version) {
                eprintln!(
                    "tracked run {run}; registered version {version} ({}); tracking took {:.2} s",
                    s.registered_stage.map_or("None", |st| st.as_str()),
                    s.tracking_seconds
                );
            }
        }
        Command::Evaluate { split, by } => {
            let split = match split {
                SplitArg::Train => Split::Train,
                SplitArg::Test => Split::Test,
            };
            let opts = EvaluateOptions {
                by,
                ..EvaluateOptions::from_config(&cfg)
            };
            let s = creditrisk::evaluate::run(&layout, &opts, split).await?;
            print_evaluation(&s);
        }
        Command::ModelCard { model, by } => {
            let mut opts = ModelCardOptions::from_config(&cfg);
            opts.evaluate.by = by;
            let s = creditrisk::model_card::run(&layout, &opts, &ModelRef::parse(&model)?).await?;
            eprintln!("{}", s.describe());
        }
        Command::Run { from, to, force } => {
            let opts = RunOptions { from, to, force };
            let s = creditrisk::pipeline::run(&cfg, &opts, &bars).await?;
            print_run(&s);
        }
        Command::Demo => {
            let s = creditrisk::pipeline::demo(&cfg, &bars).await?;
            if let Some(seconds) = s.synth_seconds {
                eprintln!(
                    "synthesised {} applicants in {seconds:.1} s",
                    cfg.data.synth_rows
                );
            }
            print_run(&s.run);
            let m = &s.test;
            println!(
                "test AUC {:.4}  Gini {:.4}  KS {:.4}  ECE {:.4}  Brier {:.4} on {} rows",
                m.roc_auc, m.gini, m.ks, m.ece, m.brier, m.rows
            );
            println!("reports: {}", s.reports_dir.display());
            println!("metrics: {}", s.test_metrics_file.display());
            println!("report:  {}", s.html_report.display());
            println!("next:");
            for command in &s.next_commands {
                println!("  {command}");
            }
        }
        Command::DeployManifest { model } => {
            let reference = match model {
                Some(text) => ModelRef::parse(&text)?,
                None => ModelRef::Stage {
                    name: cfg.registry.model_name.clone(),
                    stage: creditrisk::pipeline::stages::PROMOTE_TO,
                },
            };
            let m = creditrisk::deploy::manifest(&cfg, &reference).await?;
            eprintln!(
                "{} → version {} (bundle sha256 {}); manifest: {}",
                m.model_reference,
                m.resolved_version
                    .map_or_else(|| "-".to_string(), |v| v.to_string()),
                m.bundle_sha256,
                m.manifest.display()
            );
        }
        Command::ValidateModel { model } => {
            let reference = model.as_deref().map(ModelRef::parse).transpose()?;
            let opts = GateOptions::from_config(&cfg);
            let v = gates::validate_model(&layout, &opts, reference.as_ref()).await?;
            for g in &v.gates {
                eprintln!(
                    "{:<6} {:<32} {}",
                    if g.passed { "pass" } else { "FAIL" },
                    g.gate,
                    g.detail
                );
            }
            eprintln!(
                "models:/{}/{} passed every gate; report: {}",
                v.model_name,
                v.version,
                layout.post_training_validation().display()
            );
        }
        Command::Serve { model, bind } => {
            // One JSON object per line on stderr: start-up, every request, reloads, shutdown.
            tracing_subscriber::fmt()
                .json()
                .with_writer(std::io::stderr)
                .with_target(false)
                .init();
            let opts = creditrisk::serve::ServeOptions::from_config(&cfg);
            let server =
                creditrisk::serve::bind(&layout, &opts, &ModelRef::parse(&model)?, bind).await?;
            let m = server.state.model();
            tracing::info!(
                model_name = %m.name,
                model_version = %m.version,
                addr = %server.addr,
                audit_log = %opts.audit_log.display(),
                auth = opts.token.is_some(),
                "serving"
            );
            creditrisk::serve::reload_on_sighup(server.state.clone(), |e| {
                tracing::error!(error = %e, "SIGHUP reload failed, keeping the current model");
            });
            server.run(creditrisk::serve::termination()).await?;
            tracing::info!("stopped");
        }
        Command::BatchPredict {
            model,
            input,
            output,
            threshold,
            history,
            features,
        } => {
            let request = PredictRequest {
                model: ModelRef::parse(&model)?,
                input,
                output,
                threshold,
                history: match (history, features) {
                    (_, true) => History::Features,
                    (Some(dir), false) => History::Dir(dir),
                    (None, false) => History::Store,
                },
            };
            let s = creditrisk::predict::run(&layout, &PredictOptions::from_config(&cfg), &request)
                .await?;
            eprintln!(
                "model {} version {} (bundle sha256 {})",
                s.model_name, s.model_version, s.bundle_sha256
            );
            eprintln!(
                "rows read {}, scored {}, rejected {} ({} problems), {:.2} s",
                s.rows_read, s.rows_scored, s.rows_rejected, s.problems, s.seconds
            );
            eprintln!("output:  {}", s.output.display());
            eprintln!("rejects: {}", s.rejects.display());
        }
        Command::MonitorDrift {
            reference,
            current,
            model,
        } => {
            let request = DriftRequest {
                reference,
                current,
                model: model.as_deref().map(ModelRef::parse).transpose()?,
            };
            let r = monitor::monitor_drift(&layout, &MonitorOptions::from_config(&cfg), &request)
                .await?;
            print_drift(&r, &layout.drift_report(), &layout.drift_report_html());
        }
        Command::MonitorProduction { current, model } => {
            let request = ProductionRequest {
                current,
                model: model.as_deref().map(ModelRef::parse).transpose()?,
            };
            let o = monitor::production::monitor_production(
                &layout,
                &MonitorOptions::from_config(&cfg),
                &request,
            )
            .await?;
            print_drift(
                &o.report,
                &layout.production_drift_report(),
                &layout.production_drift_report_html(),
            );
            let t = &o.trigger;
            eprintln!(
                "retrain trigger {}: {}{}; {}",
                if t.fired { "FIRED" } else { "not fired" },
                t.reason,
                t.command
                    .as_ref()
                    .map(|c| format!("; ran `{c}` (exit code {:?})", t.exit_code))
                    .unwrap_or_default(),
                layout.retrain_trigger().display()
            );
        }
        Command::CheckFreshness {
            max_age_hours,
            fail_on_stale,
        } => {
            let r = monitor::freshness::check_freshness(&layout, max_age_hours, fail_on_stale)?;
            for f in &r.files {
                eprintln!(
                    "{:<6} {:<22} {:>10}  {}",
                    if f.stale { "STALE" } else { "fresh" },
                    f.table,
                    f.age_hours.map_or("–".into(), |h| format!("{h:.1} h")),
                    f.problem.as_deref().unwrap_or(&f.path)
                );
            }
            eprintln!(
                "{} of {} files older than {} h; report: {}",
                r.stale.len(),
                r.files.len(),
                r.max_age_hours,
                layout.freshness_report().display()
            );
        }
        Command::Canary {
            candidate,
            production,
            dataset,
            max_metric_delta,
        } => {
            let r = gates::canary(
                &layout,
                &GateOptions::from_config(&cfg),
                &ModelRef::parse(&candidate)?,
                &ModelRef::parse(&production)?,
                dataset.as_deref(),
                max_metric_delta,
            )
            .await?;
            eprintln!(
                "canary {}: {}; report: {}",
                r.status,
                r.reason,
                layout.canary_report().display()
            );
        }
        Command::AutoPromote { stage, alias } => {
            let target = promotion_target(stage, false, alias)?;
            let a = gates::auto_promote(&layout, &GateOptions::from_config(&cfg), target).await?;
            eprintln!(
                "promoted models:/{}/{}: {}; report: {}",
                a.model_name,
                a.version.unwrap_or_default(),
                a.reasons.join("; "),
                a.report.display()
            );
        }
        Command::PromoteModel {
            version,
            stage,
            archive_existing,
            alias,
            reviewer,
            note,
        } => {
            let target = promotion_target(stage, archive_existing, alias)?;
            let request = Promotion {
                version,
                target,
                reviewer,
                note,
            };
            let t =
                registry::promote(&layout, &TrackingOptions::from_config(&cfg), &request).await?;
            eprintln!(
                "models:/{}/{} → stage {}, aliases [{}] (before: {:?}); report: {}",
                t.model_name,
                t.version,
                t.stage_after.as_str(),
                t.aliases_after.join(", "),
                t.previous,
                t.report.display()
            );
        }
        Command::Cluster { .. } => unreachable!("handled before the config is loaded"),
        Command::Models { command } => {
            let tracking = TrackingOptions::from_config(&cfg);
            let tracker = tracking.tracker(&layout)?;
            match command {
                ModelsCommand::List => {
                    let name = &tracking.registry.model_name;
                    println!(
                        "{:<8} {:<11} {:<24} {:<34} source",
                        "version", "stage", "aliases", "run"
                    );
                    for v in tracker.list_model_versions(name).await? {
                        println!(
                            "{:<8} {:<11} {:<24} {:<34} {}",
                            v.version,
                            v.stage.as_str(),
                            v.aliases.join(","),
                            v.run_id.as_deref().unwrap_or("-"),
                            v.source
                        );
                    }
                }
                ModelsCommand::Show { reference } => {
                    let version = tracker.resolve(&ModelRef::parse(&reference)?).await?;
                    let run = match &version.run_id {
                        Some(id) => Some(tracker.get_run(id).await?),
                        None => None,
                    };
                    let shown = serde_json::json!({
                        "version": version,
                        "run": run.map(|r| serde_json::json!({
                            "run_id": r.info.run_id,
                            "status": r.info.status.as_str(),
                            "metrics": r.metrics.iter().map(|(k, m)| (k.clone(), m.value)).collect::<std::collections::BTreeMap<_, _>>(),
                            "tags": r.tags,
                        })),
                    });
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&shown).unwrap_or_default()
                    );
                }
            }
        }
        Command::BayesAuc { test, truth } => {
            println!("{:.4}", creditrisk::evaluate::bayes_auc(&test, &truth)?);
        }
    }
    Ok(())
}

/// `--stage S [--archive-existing]` or `--alias A`.
fn promotion_target(
    stage: Option<String>,
    archive_existing: bool,
    alias: Option<String>,
) -> Result<Target, Error> {
    match (stage, alias) {
        (Some(stage), _) => Ok(Target::Stage {
            stage: creditrisk::tracking::parse_stage(&stage).ok_or_else(|| {
                Error::Config(format!(
                    "--stage {stage}: unknown stage (None, Staging, Production, Archived)"
                ))
            })?,
            archive_existing,
        }),
        (None, Some(alias)) => Ok(Target::Alias { alias }),
        (None, None) => Err(Error::Config("give --stage or --alias".into())),
    }
}

/// Progress bars on stderr; indicatif hides them when stderr is not a terminal.
struct Bars {
    bar: ProgressBar,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        }
    }
}

impl Reporter for Bars {
    fn start(&self, phase: &str, total: u64) {
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_position(0);
        let template = format!("{phase} {{bar:40}} {{pos}}/{{len}} {{msg}} ({{elapsed}})");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style);
        }
    }
    fn advance(&self, units: u64) {
        self.bar.inc(units);
    }
    fn message(&self, text: &str) {
        self.bar.set_message(text.to_string());
    }
    fn note(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The closing table of `run`: one line per stage.
fn print_run(s: &RunSummary) {
    println!("{:<20} {:<8} {:>8}  figure", "stage", "", "seconds");
    for stage in &s.stages {
        let outcome = match stage.outcome {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
        };
        println!(
            "{:<20} {:<8} {:>8.2}  {}",
            stage.stage, outcome, stage.seconds, stage.figure
        );
    }
    println!(
        "{} ran, {} skipped in {:.2} s",
        s.ran().len(),
        s.skipped().len(),
        s.seconds
    );
}

fn print_feature_store(s: &FeatureStoreSummary) {
    eprintln!(
        "feature store: {} rows × {} columns → {} in {:.1} s (peak RSS {:.0} MB)",
        s.rows, s.columns, s.output, s.seconds, s.peak_rss_mb
    );
    for t in &s.tables {
        eprintln!(
            "  {:<24} {:>10} rows  load {:>5.2} s ({:?})  contracts {:>5.2} s  features {:>5.2} s",
            t.table, t.rows, t.load_seconds, t.from, t.contracts_seconds, t.features_seconds
        );
    }
    eprintln!(
        "  store query and write {:.2} s, store contracts {:.2} s, lineage (waiting for sha256) {:.2} s",
        s.store_seconds, s.store_contracts_seconds, s.lineage_seconds
    );
}

fn print_evaluation(s: &creditrisk::evaluate::EvalSummary) {
    let m = &s.metrics;
    eprintln!(
        "{} split, {} rows: AUC {:.4}  Gini {:.4}  KS {:.4}  ECE {:.4}  Brier {:.4} (base rate {:.4})  mean PD {:.4} vs default rate {:.4}",
        s.split.name(),
        m.rows,
        m.roc_auc,
        m.gini,
        m.ks,
        m.ece,
        m.brier,
        m.brier_base_rate,
        m.mean_pd,
        m.default_rate
    );
    eprintln!(
        "metrics: {}\nsegments: {}\nreport:  {}",
        s.metrics_file.display(),
        s.segments_file.display(),
        s.html_report.display()
    );
    if !s.segments.flagged.is_empty() {
        eprintln!(
            "segments below governance.adverse_impact_ratio: {}",
            s.segments.flagged.join(", ")
        );
    }
}

fn print_drift(r: &DriftReport, json: &std::path::Path, html: &std::path::Path) {
    for f in r.features.iter().filter(|f| f.drifted) {
        eprintln!(
            "drifted  {:<36} {:?} {} (threshold {}), PSI {:.4}",
            f.column,
            f.test,
            f.p_value
                .map(|p| format!("p {p:.4}"))
                .or(f.statistic.map(|s| format!("{s:.4}")))
                .unwrap_or_else(|| "∞".into()),
            f.threshold,
            f.psi
        );
    }
    let s = &r.summary;
    eprintln!(
        "models:/{}/{}: {} of {} features drifted ({:.1} %), dataset drift: {}; prediction PSI {:.4}{}",
        r.model.name,
        r.model.version.map_or("(folder)".into(), |v| v.to_string()),
        s.drifted,
        s.features,
        100.0 * s.drifted_share,
        if s.dataset_drift { "YES" } else { "no" },
        s.prediction_psi,
        s.target_drift
            .map(|t| format!(", target drift: {}", if t { "yes" } else { "no" }))
            .unwrap_or_default()
    );
    eprintln!(
        "report:  {}
html:    {}",
        json.display(),
        html.display()
    );
}

/// Built without the `ballista` feature: the `cluster` subcommands say how to get them.
#[cfg(not(feature = "ballista"))]
async fn cluster(command: ClusterCommand) -> Result<(), Error> {
    let name = match command {
        ClusterCommand::Scheduler { .. } => "scheduler",
        ClusterCommand::Executor { .. } => "executor",
    };
    Err(creditrisk::cluster::not_built(&format!(
        "`creditrisk cluster {name}`"
    )))
}

#[cfg(feature = "ballista")]
async fn cluster(command: ClusterCommand) -> Result<(), Error> {
    use creditrisk::cluster::{ExecutorOptions, SchedulerOptions};
    use creditrisk::storage::Storage;
    match command {
        ClusterCommand::Scheduler {
            bind_host,
            port,
            external_host,
            executor_timeout_seconds,
            endpoint,
        } => {
            eprintln!("ballista scheduler listening on {bind_host}:{port}");
            creditrisk::cluster::run_scheduler(&SchedulerOptions {
                bind_host,
                port,
                external_host,
                executor_timeout_seconds,
                storage: Storage::new(endpoint),
            })
            .await
        }
        ClusterCommand::Executor {
            bind_host,
            port,
            grpc_port,
            external_host,
            scheduler_host,
            scheduler_port,
            work_dir,
            concurrent_tasks,
            endpoint,
        } => {
            eprintln!(
                "ballista executor on {bind_host}:{port} (grpc {grpc_port}), scheduler \
                 {scheduler_host}:{scheduler_port}"
            );
            creditrisk::cluster::run_executor(&ExecutorOptions {
                bind_host,
                port,
                grpc_port,
                external_host,
                scheduler_host,
                scheduler_port,
                work_dir,
                concurrent_tasks,
                storage: Storage::new(endpoint),
            })
            .await
        }
    }
}
