//! What the server holds: the loaded model (swapped atomically on reload), the options, the
//! audit writer and the metrics.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tokio::sync::Mutex;

use super::audit::Audit;
use super::metrics::Metrics;
use creditrisk_base::config::{Config, ServingConfig};
use creditrisk_base::error::Result;
use creditrisk_base::layout::Layout;
use creditrisk_data::feature_engine::{FeatureEngine, History};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::ModelBundle;

/// What `serve` reads from the configuration.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub tracking: TrackingOptions,
    pub serving: ServingConfig,
    /// `serving.audit_log` resolved against the project root.
    pub audit_log: PathBuf,
    /// The bearer token (`serving.auth_token`, else the variable `serving.auth_token_env`).
    pub token: Option<String>,
}

impl ServeOptions {
    pub fn from_config(cfg: &Config) -> ServeOptions {
        let serving = cfg.serving.clone();
        let token = Some(serving.auth_token.clone())
            .filter(|t| !t.is_empty())
            .or_else(|| {
                Some(serving.auth_token_env.as_str())
                    .filter(|n| !n.is_empty())
                    .and_then(|n| std::env::var(n).ok())
                    .filter(|t| !t.is_empty())
            });
        ServeOptions {
            tracking: TrackingOptions::from_config(cfg),
            audit_log: cfg.resolve(&serving.audit_log),
            serving,
            token,
        }
    }
}

/// One loaded model with its feature engine.
pub struct Model {
    pub bundle: Arc<ModelBundle>,
    pub name: String,
    /// As answers show it ([`creditrisk_model::registry::ModelLabel::version_text`]).
    pub version: String,
    /// The bundle's feature SQL, planned once; requests run it concurrently.
    pub engine: FeatureEngine,
}

impl Model {
    /// Resolve `reference`, load and verify its bundle, and prepare its feature engine (history
    /// from the feature store).
    pub async fn load(layout: &Layout, opts: &ServeOptions, reference: &ModelRef) -> Result<Model> {
        let loaded = creditrisk_model::registry::load(layout, &opts.tracking, reference).await?;
        let (bundle, label) = (loaded.bundle, loaded.label);
        let (name, version) = (label.name().to_string(), label.version_text());
        let engine = FeatureEngine::new(&bundle, &History::Store, layout).await?;
        Ok(Model {
            bundle,
            name,
            version,
            engine,
        })
    }
}

/// Shared by every handler.
pub struct AppState {
    pub layout: Layout,
    pub opts: ServeOptions,
    pub reference: ModelRef,
    model: RwLock<Arc<Model>>,
    /// One reload at a time.
    pub reloading: Mutex<()>,
    pub audit: Audit,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(
        layout: Layout,
        opts: ServeOptions,
        reference: ModelRef,
        model: Model,
    ) -> Result<AppState> {
        let audit = Audit::open(&opts.audit_log)?;
        Ok(AppState {
            layout,
            opts,
            reference,
            model: RwLock::new(Arc::new(model)),
            reloading: Mutex::new(()),
            audit,
            metrics: Metrics::default(),
        })
    }

    /// The current model (requests keep the one they started with).
    pub fn model(&self) -> Arc<Model> {
        self.model.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Re-resolve the reference and swap the model in; the old one serves its in-flight requests.
    pub async fn reload(&self) -> Result<Arc<Model>> {
        let _one = self.reloading.lock().await;
        let fresh = Arc::new(Model::load(&self.layout, &self.opts, &self.reference).await?);
        *self.model.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        tracing::info!(model_name = %fresh.name, model_version = %fresh.version, "model reloaded");
        Ok(fresh)
    }
}
