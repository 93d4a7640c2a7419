//! `creditrisk cluster scheduler|executor`: Apache Arrow Ballista's own scheduler and executor,
//! started from the Ballista crates so a cluster runs from the one binary; and
//! [`remote_session`], the session `build-feature-store --engine ballista://HOST:PORT` sends its
//! SQL through. Ballista 55 plans with our DataFusion 55, so the SQL in `sql/` runs unchanged.
//!
//! Every process (client, scheduler, executors) resolves `s3://`, `az://`, `gs://` and
//! `http(s)://` tables through [`Storage::registry`](crate::storage::Storage::registry), from its
//! own environment: the scheduler lists the files when it plans, the executors read them.
//!
//! Everything but [`Engine`] needs the cargo feature `ballista` (on by default). Built without
//! it, [`Engine::parse`] refuses `ballista://…` and [`remote_session`] fails, each telling the
//! user to rebuild with the feature.

#[cfg(feature = "ballista")]
use std::sync::Arc;

#[cfg(feature = "ballista")]
use ballista::prelude::SessionContextExt;
#[cfg(feature = "ballista")]
use ballista_core::extension::SessionConfigExt;
#[cfg(feature = "ballista")]
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
#[cfg(feature = "ballista")]
use ballista_scheduler::cluster::BallistaCluster;
#[cfg(feature = "ballista")]
use ballista_scheduler::config::SchedulerConfig;
#[cfg(feature = "ballista")]
use ballista_scheduler::scheduler_process::start_server;
#[cfg(feature = "ballista")]
use datafusion::execution::SessionStateBuilder;
#[cfg(feature = "ballista")]
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::storage::Storage;
use creditrisk_base::error::{Error, Result};

/// The error of a Ballista request (`what`: the setting or subcommand that asked for it) in a
/// binary built without the `ballista` feature.
pub fn not_built(what: &str) -> Error {
    Error::config(format!(
        "{what} needs the Ballista engine, which this creditrisk binary was built without (cargo \
         feature `ballista`); rebuild with `cargo build --release --features ballista` (or with \
         the default features, which include it)"
    ))
}

/// Where the feature store is computed (`features.engine`, `build-feature-store --engine`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    /// DataFusion in this process.
    Local,
    /// A Ballista scheduler at `host:port`.
    Ballista { host: String, port: u16 },
}

impl Engine {
    /// `local` (or nothing) or `ballista://HOST:PORT`; `what` names the setting in errors.
    pub fn parse(text: Option<&str>, what: &str) -> Result<Engine> {
        let text = match text.map(str::trim) {
            None | Some("") | Some("local") => return Ok(Engine::Local),
            Some(t) => t,
        };
        if cfg!(not(feature = "ballista")) && text.starts_with("ballista://") {
            return Err(not_built(&format!(
                "{what} (or build-feature-store --engine) = `{text}`"
            )));
        }
        let bad = || {
            Error::config(format!(
                "{what}: `{text}` is not an engine; use `local` or `ballista://HOST:PORT` (the \
                 scheduler started by `creditrisk cluster scheduler`)"
            ))
        };
        let rest = text.strip_prefix("ballista://").ok_or_else(bad)?;
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Engine::Ballista {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(feature = "ballista")]
/// `creditrisk cluster scheduler`.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    pub bind_host: String,
    pub port: u16,
    /// The host executors and clients reach this scheduler at (default: `bind_host`).
    pub external_host: Option<String>,
    /// An executor silent this long is dead: its tasks are retried on the others.
    pub executor_timeout_seconds: u64,
    pub storage: Storage,
}

#[cfg(feature = "ballista")]
/// How often executors report to the scheduler; well under any sensible executor timeout.
const HEARTBEAT_SECONDS: u64 = 3;

#[cfg(feature = "ballista")]
/// `creditrisk cluster executor`.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    pub bind_host: String,
    /// Flight port (results and shuffle data); the gRPC port is `grpc_port`.
    pub port: u16,
    pub grpc_port: u16,
    /// The host the scheduler and other executors reach this executor at (default: bind host).
    pub external_host: Option<String>,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Shuffle files and spills.
    pub work_dir: Option<String>,
    /// Tasks run at once (default: the cores of the machine).
    pub concurrent_tasks: Option<usize>,
    pub storage: Storage,
}

#[cfg(feature = "ballista")]
/// DataFusion state with the Kaggle-layout settings of `config` and object stores from the
/// environment: what the scheduler plans with and what clients send.
fn state_with_stores(
    config: SessionConfig,
    storage: &Storage,
) -> datafusion::error::Result<datafusion::execution::SessionState> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(storage.registry())
        .build_arc()?;
    let state = ballista_core::utils::default_session_builder(config)?;
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build())
}

#[cfg(feature = "ballista")]
/// Run a Ballista scheduler until the process is stopped.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<()> {
    let addr: std::net::SocketAddr = format!("{}:{}", opts.bind_host, opts.port)
        .parse()
        .map_err(|e| {
            Error::config(format!(
                "cluster scheduler: bind address {}:{} is invalid: {e}",
                opts.bind_host, opts.port
            ))
        })?;
    let storage = opts.storage.clone();
    let config = SchedulerConfig {
        bind_host: opts.bind_host.clone(),
        bind_port: opts.port,
        external_host: opts
            .external_host
            .clone()
            .unwrap_or_else(|| opts.bind_host.clone()),
        executor_timeout_seconds: opts.executor_timeout_seconds.max(2 * HEARTBEAT_SECONDS),
        expire_dead_executor_interval_seconds: HEARTBEAT_SECONDS,
        no_executors_grace_period_seconds: opts.executor_timeout_seconds,
        ..SchedulerConfig::default()
    }
    .with_override_session_builder(Arc::new(move |config| state_with_stores(config, &storage)));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::internal_from("cluster scheduler", e))?;
    start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(|e| Error::internal_from(format!("cluster scheduler on {addr}"), e))
}

#[cfg(feature = "ballista")]
/// Run a Ballista executor, registered with its scheduler, until the process is stopped.
pub async fn run_executor(opts: &ExecutorOptions) -> Result<()> {
    let storage = opts.storage.clone();
    let work_dir = opts.work_dir.clone();
    let mut config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: opts.external_host.clone(),
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        // Wait for a scheduler that is still starting instead of failing at once.
        scheduler_connect_timeout_seconds: 30,
        work_dir: work_dir.clone(),
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        ..ExecutorProcessConfig::default()
    };
    if let Some(tasks) = opts.concurrent_tasks {
        config.vcores = tasks.max(1);
    }
    config.override_runtime_producer = Some(Arc::new(move |_config: &SessionConfig| {
        let mut builder = RuntimeEnvBuilder::new().with_object_store_registry(storage.registry());
        if let Some(dir) = &work_dir {
            builder = builder.with_temp_file_path(dir.clone());
        }
        builder.build_arc()
    }));
    start_executor_process(Arc::new(config)).await.map_err(|e| {
        Error::internal(format!(
            "cluster executor (scheduler {}:{}): {e}",
            opts.scheduler_host, opts.scheduler_port
        ))
    })
}

#[cfg(feature = "ballista")]
/// A session whose queries run on the Ballista cluster at `host:port`, with the settings of
/// `config` (e.g. the Kaggle layout's identifier handling) and object stores from `storage`.
pub async fn remote_session(
    host: &str,
    port: u16,
    config: SessionConfig,
    storage: &Storage,
) -> Result<SessionContext> {
    let config = config
        .upgrade_for_ballista()
        .with_ballista_job_name("creditrisk build-feature-store");
    let state = state_with_stores(config, storage)
        .map_err(|e| Error::engine("setting up the Ballista session", e))?;
    let url = format!("df://{host}:{port}");
    SessionContext::remote_with_state(&url, state)
        .await
        .map_err(|e| {
            Error::engine(
                format!("connecting to the Ballista scheduler at {host}:{port} (is `creditrisk cluster scheduler` running there?)"),
                e,
            )
        })
}

/// Built without the `ballista` feature: no cluster to connect to.
#[cfg(not(feature = "ballista"))]
pub async fn remote_session(
    host: &str,
    port: u16,
    _config: SessionConfig,
    _storage: &Storage,
) -> Result<SessionContext> {
    Err(not_built(&format!(
        "the feature store on ballista://{host}:{port}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_parse() {
        assert_eq!(Engine::parse(None, "x").unwrap(), Engine::Local);
        assert_eq!(Engine::parse(Some("local"), "x").unwrap(), Engine::Local);
        #[cfg(feature = "ballista")]
        assert_eq!(
            Engine::parse(Some("ballista://127.0.0.1:50050"), "x").unwrap(),
            Engine::Ballista {
                host: "127.0.0.1".into(),
                port: 50050
            }
        );
        for bad in [
            "spark://h:1",
            "ballista://h",
            "ballista://:1",
            "ballista://h:x",
        ] {
            let e = Engine::parse(Some(bad), "features.engine").unwrap_err();
            assert!(e.to_string().contains("features.engine"), "{e}");
        }
    }

    /// Built without the feature, a cluster engine is refused with the way to get one.
    #[cfg(not(feature = "ballista"))]
    #[test]
    fn engines_without_ballista_say_how_to_rebuild() {
        let e = Engine::parse(Some("ballista://127.0.0.1:50050"), "features.engine")
            .unwrap_err()
            .to_string();
        for part in [
            "features.engine",
            "--engine",
            "ballista://127.0.0.1:50050",
            "cargo build --release --features ballista",
        ] {
            assert!(e.contains(part), "{part} not in: {e}");
        }
    }
}
