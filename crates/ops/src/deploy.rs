//! `creditrisk deploy-manifest`: what a deployment of the model runs, pinned: the model reference
//! and the version it resolves to now, the bundle's sha256, the image's entrypoints, the config
//! hash and the binary version, in `reports/deploy_manifest.json`. A release review compares it
//! with `GET /metadata` of the running service.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use creditrisk_base::config::{Config, Section};
use creditrisk_base::error::Result;
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;

/// Environment variable naming the config file (the image sets it; `--config` reads it).
pub const CONFIG_ENV: &str = "CREDITRISK_CONFIG";
/// Environment variable naming the model reference (`serve`/`batch-predict --model` read it).
pub const MODEL_ENV: &str = "CREDITRISK_MODEL";

/// How the container image runs the binary (see the Dockerfile).
#[derive(Clone, Debug, Serialize)]
pub struct ImageEntrypoints {
    pub entrypoint: Vec<String>,
    /// The default command: the HTTP API.
    pub serve: Vec<String>,
    /// Batch scoring through the same image.
    pub batch: Vec<String>,
    /// Variables the image reads.
    pub environment: BTreeMap<String, String>,
}

/// `reports/deploy_manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct DeployManifest {
    pub model_reference: String,
    pub model_name: String,
    /// The registry version the reference resolves to now (`None` for a bundle folder).
    pub resolved_version: Option<u64>,
    pub run_id: Option<String>,
    pub bundle_sha256: String,
    pub feature_sql_sha256: String,
    pub config_file: String,
    /// One digest of every config section (after environment overrides).
    pub config_hash: String,
    pub binary_version: String,
    pub git_commit: String,
    pub image: ImageEntrypoints,
    pub created_at: String,
    pub manifest: PathBuf,
}

/// Resolve `reference`, verify its bundle and write the manifest atomically.
pub async fn manifest(cfg: &Config, reference: &ModelRef) -> Result<DeployManifest> {
    let layout = Layout::new(cfg);
    let tracking = TrackingOptions::from_config(cfg);
    let loaded = creditrisk_model::registry::load(&layout, &tracking, reference).await?;
    let (bundle, version) = (loaded.bundle, loaded.label.registered());
    let image = ImageEntrypoints {
        entrypoint: vec!["creditrisk".into()],
        serve: strings(&["serve", "--bind", "0.0.0.0:8080"]),
        batch: strings(&[
            "batch-predict",
            "--input",
            "/data/applications.csv",
            "--output",
            "/data/predictions.parquet",
        ]),
        environment: BTreeMap::from([
            (CONFIG_ENV.to_string(), cfg.source.display().to_string()),
            (MODEL_ENV.to_string(), reference.to_string()),
        ]),
    };
    let out = DeployManifest {
        model_reference: reference.to_string(),
        model_name: bundle.metadata.model_name.clone(),
        resolved_version: version.map(|v| v.version),
        run_id: version
            .and_then(|v| v.run_id.clone())
            .or(bundle.metadata.tracking_run_id.clone()),
        bundle_sha256: bundle.bundle_sha256.clone(),
        feature_sql_sha256: bundle.feature_sql.sha256(),
        config_file: cfg.source.display().to_string(),
        config_hash: cfg.hash_of(&Section::ALL),
        binary_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: creditrisk_base::io::git_commit(&layout.root),
        image,
        created_at: chrono::Utc::now().to_rfc3339(),
        manifest: layout.deploy_manifest(),
    };
    creditrisk_base::io::write_json(&out.manifest, &out)?;
    Ok(out)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
