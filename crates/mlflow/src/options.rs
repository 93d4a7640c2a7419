//! The tracker a project's configuration names.

use creditrisk_base::config::{Config, RegistryConfig, Section, TrackingConfig};
use creditrisk_base::error::Result;
use creditrisk_base::layout::Layout;

use crate::Tracker;

/// The `tracking` and `registry` sections, and the keys a bundle from them must be signed by.
#[derive(Clone, Debug)]
pub struct TrackingOptions {
    pub tracking: TrackingConfig,
    pub registry: RegistryConfig,
    /// `signing.trusted_keys` (hex ed25519 public keys; empty: signatures not required).
    pub trusted_keys: Vec<String>,
}

impl TrackingOptions {
    pub const SECTIONS: [Section; 2] = [Section::Tracking, Section::Registry];

    pub fn from_config(cfg: &Config) -> TrackingOptions {
        TrackingOptions {
            tracking: cfg.tracking.clone(),
            registry: cfg.registry.clone(),
            trusted_keys: cfg.signing.trusted_keys.clone(),
        }
    }

    /// The tracker `tracking.uri` names (a folder resolves against the project root).
    pub fn tracker(&self, layout: &Layout) -> Result<Tracker> {
        match &layout.tracking_dir {
            Some(dir) => Tracker::from_uri(&dir.display().to_string()),
            None => Tracker::from_uri(&self.tracking.uri),
        }
    }
}
