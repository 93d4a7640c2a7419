//! `creditrisk serve`: the HTTP API (axum) on the one scoring core.
//!
//! At start-up the model reference is resolved, its bundle loaded and verified, and its feature
//! SQL planned once into a [`FeatureEngine`](creditrisk_data::feature_engine::FeatureEngine) (history from
//! the feature store, or from the history arrays a record carries). Per `/predict` request: the
//! body is checked with the [`serving_contract`](creditrisk_model::serving_contract) (422 with every
//! problem), featurised by running the prepared plans (requests run concurrently), scored with
//! [`model::score`](creditrisk_model::score), audited, and answered. Every request leaves one JSON
//! log event (`tracing`: request id, route, status, latency — never applicant data).
//!
//! Files: [`connections`] (the accept loop: header timeouts, connection limit, drain),
//! [`routes`] (routes and the request-id / auth / body / timeout / metrics middleware),
//! [`request`] (body parsing and checks), [`answers`] (the JSON answers), [`schema`] (JSON
//! Schema and OpenAPI, built from the answer types), [`state`] (model and reload), [`audit`]
//! (single-writer audit log and its line), [`metrics`], [`errors`].

pub mod answers;
pub mod audit;
pub mod connections;
pub mod errors;
pub mod metrics;
pub mod request;
pub mod routes;
pub mod schema;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use state::{AppState, Model, ServeOptions};

use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::ModelRef;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    listener: tokio::net::TcpListener,
}

/// Load the model and bind `bind` (port 0: an ephemeral port, see [`Server::addr`]). A
/// non-loopback address needs a bearer token unless `serving.allow_unauthenticated` is set.
pub async fn bind(
    layout: &Layout,
    opts: &ServeOptions,
    reference: &ModelRef,
    bind: SocketAddr,
) -> Result<Server> {
    if !bind.ip().is_loopback() && opts.token.is_none() && !opts.serving.allow_unauthenticated {
        return Err(Error::config(format!(
            "serve --bind {bind}: other machines could reach it, and no bearer token is set: set \
             serving.auth_token or the variable serving.auth_token_env names, or pass \
             --allow-unauthenticated (serving.allow_unauthenticated) to serve without one"
        )));
    }
    let model = Model::load(layout, opts, reference).await?;
    let state = Arc::new(AppState::new(
        layout.clone(),
        opts.clone(),
        reference.clone(),
        model,
    )?);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Error::input_from(format!("cannot listen on {bind}"), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::internal_from("no local address", e))?;
    Ok(Server {
        addr,
        state,
        listener,
    })
}

impl Server {
    /// Serve until `shutdown` completes; in-flight requests then finish before this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let app = routes::router(self.state.clone());
        let serving = &self.state.opts.serving;
        let limits = connections::Limits::new(
            std::time::Duration::from_millis(serving.header_timeout_ms),
            serving.max_connections,
        );
        tracing::info!(max_connections = limits.max_connections, "accepting");
        connections::serve(self.listener, app, limits, shutdown).await;
        Ok(())
    }
}

/// Completes on ctrl-c or SIGTERM.
pub async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Reload the model on every SIGHUP (errors keep the current model and are returned to
/// `on_error`).
pub fn reload_on_sighup(state: Arc<AppState>, on_error: impl Fn(Error) + Send + 'static) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = state.reload().await {
                on_error(e);
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (state, on_error);
}
