//! The tracker a project's configuration names.

use creditrisk_base::config::{Config, RegistryConfig, Section, TrackingConfig};
use creditrisk_base::error::Result;
use creditrisk_base::layout::Layout;

use crate::Tracker;

/// The `tracking` and `registry` sections.
#[derive(Clone, Debug)]
pub struct TrackingOptions {
    pub tracking: TrackingConfig,
    pub registry: RegistryConfig,
}

impl TrackingOptions {
    pub const SECTIONS: [Section; 2] = [Section::Tracking, Section::Registry];

    pub fn from_config(cfg: &Config) -> TrackingOptions {
        TrackingOptions {
            tracking: cfg.tracking.clone(),
            registry: cfg.registry.clone(),
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
