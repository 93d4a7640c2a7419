//! What `build-feature-store` reads from the configuration.

use std::collections::BTreeMap;

use creditrisk_base::config::{Config, Section, ValidationConfig};

/// What `build-feature-store` reads from the configuration.
#[derive(Clone, Debug)]
pub struct FeatureStoreOptions {
    /// Keep typed Parquet copies of the raw CSVs (`features.raw_parquet_cache`).
    pub raw_parquet_cache: bool,
    /// `features.cache_fill_share`: how much of the extract one build copies into the cache.
    pub cache_fill_share: f64,
    /// `features.reuse_contract_reports` (only with the cache: the reports are kept beside it).
    pub reuse_contract_reports: bool,
    pub validation: ValidationConfig,
    /// Hashes of the config sections read, for the lineage.
    pub config_sections: BTreeMap<String, String>,
    /// `features.engine`: `local` / unset, or `ballista://HOST:PORT` (`--engine` overrides it).
    pub engine: Option<String>,
    /// `features.cluster_timeout_seconds`.
    pub cluster_timeout_seconds: u64,
    /// How object-store raw files are reached (`paths.endpoint` + the environment).
    pub storage: crate::storage::Storage,
}

impl FeatureStoreOptions {
    pub const SECTIONS: [Section; 3] = [Section::Paths, Section::Features, Section::Validation];

    pub fn from_config(cfg: &Config) -> FeatureStoreOptions {
        FeatureStoreOptions {
            raw_parquet_cache: cfg.features.raw_parquet_cache,
            cache_fill_share: cfg.features.cache_fill_share,
            reuse_contract_reports: cfg.features.reuse_contract_reports,
            validation: cfg.validation.clone(),
            config_sections: cfg.sections_record(&Self::SECTIONS),
            engine: cfg.features.engine.clone(),
            cluster_timeout_seconds: cfg.features.cluster_timeout_seconds,
            storage: crate::storage::Storage::new(cfg.paths.endpoint.clone()),
        }
    }
}
