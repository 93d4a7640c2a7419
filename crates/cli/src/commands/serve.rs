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
}

pub async fn exec(args: Args, p: &Project) -> Result<()> {
    // One JSON object per line on stderr: start-up, every request, reloads, shutdown.
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let opts = ServeOptions::from_config(&p.cfg);
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
    creditrisk_serve::reload_on_sighup(server.state.clone(), |e| {
        tracing::error!(error = %e, "SIGHUP reload failed, keeping the current model");
    });
    server.run(creditrisk_serve::termination()).await?;
    tracing::info!("stopped");
    Ok(())
}
