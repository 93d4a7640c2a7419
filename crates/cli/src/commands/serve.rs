//! `creditrisk serve`.

use std::net::SocketAddr;

use creditrisk_base::Result;
use creditrisk_mlflow::ModelRef;
use creditrisk_serve::ServeOptions;

use super::Project;

#[derive(clap::Args)]
pub struct Args {
    /// `models:/<name>/<version|Stage|latest>`, `models:/<name>@<alias>` or a bundle folder.
    #[arg(long, env = "CREDITRISK_MODEL")]
    model: String,
    /// Address to listen on, HOST:PORT (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Serve a non-loopback address without a bearer token (`serving.allow_unauthenticated`).
    #[arg(long)]
    allow_unauthenticated: bool,
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    // One JSON object per line on stderr: start-up, every request, reloads, shutdown.
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // Product behaviour: a write past the file-size limit (RLIMIT_FSIZE) must fail with EFBIG,
    // so the audit writer cuts the batch back and answers those requests with an error, instead
    // of SIGXFSZ's default action killing the server. The workspace forbids `unsafe`, so rather
    // than SIG_IGN through libc a no-op handler is installed through tokio (it stays installed
    // for the life of the process).
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let xfsz = SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
        let _handled = signal(xfsz)
            .map_err(|e| creditrisk_base::Error::internal_from("cannot handle SIGXFSZ", e))?;
    }
    let mut opts = ServeOptions::from_config(&p.cfg);
    opts.serving.allow_unauthenticated |= args.allow_unauthenticated;
    let model = ModelRef::parse(&args.model)?;
    let server = creditrisk_serve::bind(&p.layout, &opts, &model, args.bind).await?;
    let m = server.state.model();
    tracing::info!(
        model_name = %m.name,
        model_version = %m.version,
        addr = %server.addr,
        audit_log = %opts.audit_log.display(),
        auth = opts.token.is_some(),
        "serving"
    );
    if opts.token.is_none() && !server.addr.ip().is_loopback() {
        tracing::warn!(addr = %server.addr, "serving WITHOUT authentication on a non-loopback address");
    }
    creditrisk_serve::reload_on_sighup(server.state.clone(), |e| {
        tracing::error!(error = %e, "SIGHUP reload failed, keeping the current model");
    });
    server.run(creditrisk_serve::termination()).await?;
    tracing::info!("stopped");
    Ok(())
}
