//! The one way to load a model by reference (`models:/…` or a bundle folder): resolve it through
//! the tracker, load and verify the bundle, check a registered version against the bundle sha256
//! recorded when it was registered, and check its signature when keys are trusted.

use std::path::PathBuf;
use std::sync::Arc;

use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::{ModelRef, ModelVersion, Tracker, TrackingOptions};

use crate::ModelBundle;
use crate::signature::Trust;

/// The tag (on the version, else on its run) holding the sha256 of the registered manifest.
pub const BUNDLE_SHA256_TAG: &str = "creditrisk.bundle_sha256";

/// Which model a loaded bundle is.
#[derive(Clone, Debug)]
pub enum ModelLabel {
    /// A registry version.
    Registered(Box<ModelVersion>),
    /// A bundle folder named directly; its name is the bundle's own.
    Folder { name: String, dir: PathBuf },
}

impl ModelLabel {
    pub fn name(&self) -> &str {
        match self {
            ModelLabel::Registered(v) => &v.name,
            ModelLabel::Folder { name, .. } => name,
        }
    }

    /// The registry's record of the version (None for a folder).
    pub fn registered(&self) -> Option<&ModelVersion> {
        match self {
            ModelLabel::Registered(v) => Some(v),
            ModelLabel::Folder { .. } => None,
        }
    }

    /// The registry version (None for a folder).
    pub fn version(&self) -> Option<u64> {
        match self {
            ModelLabel::Registered(v) => Some(v.version),
            ModelLabel::Folder { .. } => None,
        }
    }

    /// The version as outputs and answers show it ([`version_text`]).
    pub fn version_text(&self) -> String {
        version_text(self.version())
    }
}

/// A version as outputs and answers show it: the number, or `path` for a bundle folder.
pub fn version_text(version: Option<u64>) -> String {
    version.map_or_else(|| "path".to_string(), |v| v.to_string())
}

/// A verified bundle and which model it is.
pub struct LoadedModel {
    pub bundle: Arc<ModelBundle>,
    pub label: ModelLabel,
}

/// Resolve `reference` with the configured tracker (registry bundles are cached in the project's
/// model cache), load and verify the bundle, and check its registration digest and signature.
pub async fn load(
    layout: &Layout,
    tracking: &TrackingOptions,
    reference: &ModelRef,
) -> Result<LoadedModel> {
    let trust = Trust::from_hex(&tracking.trusted_keys)?;
    let tracker = tracking.tracker(layout)?;
    let located = tracker.locate(reference, &layout.model_cache_dir()).await?;
    let bundle = Arc::new(ModelBundle::load(&located.dir)?);
    let label = match located.version {
        Some(version) => {
            check_registered_digest(&tracker, &version, &bundle).await?;
            ModelLabel::Registered(Box::new(version))
        }
        None => ModelLabel::Folder {
            name: bundle.card.name.clone(),
            dir: located.dir,
        },
    };
    trust.check(&bundle)?;
    Ok(LoadedModel { bundle, label })
}

/// A registered version's bundle must be the one registered: its manifest sha256 equals the
/// digest recorded then (the version's tag, or its run's for versions registered before the tag).
async fn check_registered_digest(
    tracker: &Tracker,
    version: &ModelVersion,
    bundle: &ModelBundle,
) -> Result<()> {
    let what = format!("model {} version {}", version.name, version.version);
    let recorded = match version.tags.get(BUNDLE_SHA256_TAG) {
        Some(d) => Some(d.clone()),
        None => match &version.run_id {
            Some(run) => tracker
                .get_run(run)
                .await?
                .tags
                .get(BUNDLE_SHA256_TAG)
                .cloned(),
            None => None,
        },
    };
    let Some(recorded) = recorded else {
        return Err(Error::check(format!(
            "{what} records no bundle digest (tag {BUNDLE_SHA256_TAG} on the version or its run): \
             register it with `creditrisk train`, or set the tag to the sha256 of its manifest.json"
        )));
    };
    if recorded.trim() != bundle.bundle_sha256 {
        return Err(Error::check(format!(
            "{what}: bundle {} has manifest sha256 {}, not the {} recorded at registration; the \
             artifact store was changed since: restore the bundle or register a new version",
            bundle.dir.display(),
            bundle.bundle_sha256,
            recorded.trim()
        )));
    }
    Ok(())
}
