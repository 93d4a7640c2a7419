//! The `creditrisk` binary: parses arguments and calls one stage entry function per subcommand.
//! It holds no logic. It owns what only the edge may own: the async runtime, the progress bars
//! (stderr, hidden when stderr is not a terminal) and the printing; errors print as one line and
//! map to exit codes (1 failed stage, 2 usage).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use creditrisk_base::{Config, Error, Layout, Split};
use creditrisk_data::features::FeatureStoreOptions;
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_ops::evaluate::EvaluateOptions;
use creditrisk_ops::gates::{self, GateOptions};
use creditrisk_ops::ingest::IngestOptions;
use creditrisk_ops::model_card::ModelCardOptions;
use creditrisk_ops::monitor::production::ProductionRequest;
use creditrisk_ops::monitor::{self, DriftRequest, MonitorOptions};
use creditrisk_ops::pipeline::RunOptions;
use creditrisk_ops::predict::{History, PredictOptions, PredictRequest};
use creditrisk_ops::registry::{self, Promotion, Target};
use creditrisk_ops::split::SplitOptions;
use creditrisk_ops::train::TrainOptions;
use creditrisk_synth::SynthOptions;

mod args;
mod output;

use args::{Cli, ClusterCommand, Command, ModelsCommand, SplitArg};
use output::{Bars, print_drift, print_evaluation, print_feature_store, print_run};

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
            let s = creditrisk_synth::run(&opts, &bars)?;
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
            let s = creditrisk_ops::ingest::run(&layout, &IngestOptions::from_config(&cfg))?;
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
            for (table, rows, seconds) in
                creditrisk_data::features::parse_floor(&layout.raw_dir).await?
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
            let s = creditrisk_data::features::build_feature_store(&layout, &opts, &bars).await?;
            print_feature_store(&s);
        }
        Command::SplitData => {
            let s = creditrisk_ops::split::run(&layout, &SplitOptions::from_config(&cfg))?;
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
            let s = creditrisk_ops::train::run(&layout, &TrainOptions::from_config(&cfg)).await?;
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
            let s = creditrisk_ops::evaluate::run(&layout, &opts, split).await?;
            print_evaluation(&s);
        }
        Command::ModelCard { model, by } => {
            let mut opts = ModelCardOptions::from_config(&cfg);
            opts.evaluate.by = by;
            let s =
                creditrisk_ops::model_card::run(&layout, &opts, &ModelRef::parse(&model)?).await?;
            eprintln!("{}", s.describe());
        }
        Command::Run { from, to, force } => {
            let opts = RunOptions { from, to, force };
            let s = creditrisk_ops::pipeline::run(&cfg, &opts, &bars).await?;
            print_run(&s);
        }
        Command::Demo => {
            let s = creditrisk_ops::pipeline::demo(&cfg, &bars).await?;
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
                    stage: creditrisk_ops::pipeline::stages::PROMOTE_TO,
                },
            };
            let m = creditrisk_ops::deploy::manifest(&cfg, &reference).await?;
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
            let opts = creditrisk_serve::ServeOptions::from_config(&cfg);
            let server =
                creditrisk_serve::bind(&layout, &opts, &ModelRef::parse(&model)?, bind).await?;
            let m = server.state.model();
            tracing::info!(
                model_name = %m.name,
                model_version = %m.version,
                addr = %server.addr,
                audit_log = %opts.audit_log.display(),
                auth = opts.token.is_some(),
                "serving"
            );
            creditrisk_serve::reload_on_sighup(server.state.clone(), |e| {
                tracing::error!(error = %e, "SIGHUP reload failed, keeping the current model");
            });
            server.run(creditrisk_serve::termination()).await?;
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
            let s =
                creditrisk_ops::predict::run(&layout, &PredictOptions::from_config(&cfg), &request)
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
            println!("{:.4}", creditrisk_ops::evaluate::bayes_auc(&test, &truth)?);
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
            stage: creditrisk_mlflow::parse_stage(&stage).ok_or_else(|| {
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

/// Built without the `ballista` feature: the `cluster` subcommands say how to get them.
#[cfg(not(feature = "ballista"))]
async fn cluster(command: ClusterCommand) -> Result<(), Error> {
    let name = match command {
        ClusterCommand::Scheduler { .. } => "scheduler",
        ClusterCommand::Executor { .. } => "executor",
    };
    Err(creditrisk_data::cluster::not_built(&format!(
        "`creditrisk cluster {name}`"
    )))
}

#[cfg(feature = "ballista")]
async fn cluster(command: ClusterCommand) -> Result<(), Error> {
    use creditrisk_data::cluster::{ExecutorOptions, SchedulerOptions};
    use creditrisk_data::storage::Storage;
    match command {
        ClusterCommand::Scheduler {
            bind_host,
            port,
            external_host,
            executor_timeout_seconds,
            endpoint,
        } => {
            eprintln!("ballista scheduler listening on {bind_host}:{port}");
            creditrisk_data::cluster::run_scheduler(&SchedulerOptions {
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
            creditrisk_data::cluster::run_executor(&ExecutorOptions {
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
