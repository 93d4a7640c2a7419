//! `creditrisk cluster scheduler|executor`: Ballista's own processes from this binary. Every
//! listener takes `--bind HOST:PORT`, like `serve`.

use std::fmt;
use std::str::FromStr;

use clap::Subcommand;
use creditrisk_base::{Error, Result};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand)]
// Built without the `ballista` feature, the arguments are parsed (so the error names the
// subcommand) but never used.
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
enum ClusterCommand {
    /// Ballista's scheduler: plans jobs and hands tasks to executors (no config file needed).
    Scheduler {
        /// Address to listen on, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: HostPort,
        /// Host name clients and executors use for this machine (default: the --bind host).
        #[arg(long)]
        external_host: Option<String>,
        /// An executor silent this long is declared dead and its tasks run elsewhere.
        #[arg(long, default_value_t = 30)]
        executor_timeout_seconds: u64,
        /// S3-compatible server for s3:// tables (as `paths.endpoint`).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        replaced: Replaced,
    },
    /// Ballista's executor: runs tasks for the scheduler at --scheduler.
    Executor {
        /// Flight address (task results, shuffle data), HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: HostPort,
        /// gRPC address, HOST:PORT (the host must be the --bind host).
        #[arg(long, default_value = "127.0.0.1:50052")]
        grpc_bind: HostPort,
        /// Host name the scheduler and other executors use for this machine.
        #[arg(long)]
        external_host: Option<String>,
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: HostPort,
        /// Shuffle files and spills (default: a temporary folder).
        #[arg(long)]
        work_dir: Option<String>,
        /// Tasks run at once (default: the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// S3-compatible server for s3:// tables (as `paths.endpoint`).
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        replaced: Replaced,
    },
}

/// The flags `--bind HOST:PORT` replaced: accepted by the parser so that using one names its
/// replacement instead of a generic "unexpected argument".
#[derive(clap::Args)]
struct Replaced {
    #[arg(long, hide = true)]
    bind_host: Option<String>,
    #[arg(long, hide = true)]
    port: Option<u16>,
    #[arg(long, hide = true)]
    grpc_port: Option<u16>,
    #[arg(long, hide = true)]
    scheduler_host: Option<String>,
    #[arg(long, hide = true)]
    scheduler_port: Option<u16>,
}

impl Replaced {
    fn check(&self) -> Result<()> {
        let used = [
            (self.bind_host.is_some(), "--bind-host", "--bind HOST:PORT"),
            (self.port.is_some(), "--port", "--bind HOST:PORT"),
            (
                self.grpc_port.is_some(),
                "--grpc-port",
                "--grpc-bind HOST:PORT",
            ),
            (
                self.scheduler_host.is_some(),
                "--scheduler-host",
                "--scheduler HOST:PORT",
            ),
            (
                self.scheduler_port.is_some(),
                "--scheduler-port",
                "--scheduler HOST:PORT",
            ),
        ];
        match used.iter().find(|(given, ..)| *given) {
            Some((_, old, new)) => Err(Error::config(format!("{old} was replaced by {new}"))),
            None => Ok(()),
        }
    }
}

/// `HOST:PORT`, where HOST may be a name (`sched.internal`) as well as an address.
#[derive(Clone, Debug)]
pub struct HostPort {
    host: String,
    port: u16,
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<HostPort, String> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("`{text}`: expected HOST:PORT"))?;
        let port = port
            .parse()
            .map_err(|_| format!("`{text}`: the port must be a number from 0 to 65535"))?;
        if host.is_empty() {
            return Err(format!("`{text}`: expected HOST:PORT"));
        }
        Ok(HostPort {
            host: host.trim_start_matches('[').trim_end_matches(']').into(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Built without the `ballista` feature: the `cluster` subcommands say how to get them.
#[cfg(not(feature = "ballista"))]
pub async fn exec(args: Args) -> Result<()> {
    let name = match args.command {
        ClusterCommand::Scheduler { .. } => "scheduler",
        ClusterCommand::Executor { .. } => "executor",
    };
    Err(creditrisk_data::cluster::not_built(&format!(
        "`creditrisk cluster {name}`"
    )))
}

#[cfg(feature = "ballista")]
pub async fn exec(args: Args) -> Result<()> {
    use creditrisk_data::cluster::{ExecutorOptions, SchedulerOptions};
    use creditrisk_data::storage::Storage;

    use crate::output;
    match args.command {
        ClusterCommand::Scheduler {
            bind,
            external_host,
            executor_timeout_seconds,
            endpoint,
            replaced,
        } => {
            replaced.check()?;
            output::line(&format!("ballista scheduler listening on {bind}"));
            creditrisk_data::cluster::run_scheduler(&SchedulerOptions {
                bind_host: bind.host,
                port: bind.port,
                external_host,
                executor_timeout_seconds,
                storage: Storage::new(endpoint),
            })
            .await
        }
        ClusterCommand::Executor {
            bind,
            grpc_bind,
            external_host,
            scheduler,
            work_dir,
            concurrent_tasks,
            endpoint,
            replaced,
        } => {
            replaced.check()?;
            if grpc_bind.host != bind.host {
                return Err(Error::config(format!(
                    "--grpc-bind {grpc_bind}: the host must be the --bind host ({})",
                    bind.host
                )));
            }
            output::line(&format!(
                "ballista executor on {bind} (grpc {grpc_bind}), scheduler {scheduler}"
            ));
            creditrisk_data::cluster::run_executor(&ExecutorOptions {
                bind_host: bind.host,
                port: bind.port,
                grpc_port: grpc_bind.port,
                external_host,
                scheduler_host: scheduler.host,
                scheduler_port: scheduler.port,
                work_dir,
                concurrent_tasks,
                storage: Storage::new(endpoint),
            })
            .await
        }
    }
}
