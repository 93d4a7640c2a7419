//! Feature store (`build-feature-store`): raw contracts → feature SQL → store contracts → Parquet.
//!
//! Raw tables are processed one group at a time (application train+test, bureau with its balance,
//! then each previous-loan table): each is parsed once into memory (or scanned from its typed
//! Parquet copy), then checked, reduced to one row per applicant by its SQL file and dropped.
//! A group's contracts, feature SQL and cache fill run concurrently, beside the parsing of the
//! next group; at most two parsed groups are held at once, so memory peaks at about the two
//! largest groups, not the sum.

mod build;
mod digests;
mod engine;
pub mod lineage;
mod memo;
mod raw_checks;
mod store;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use build::TableTiming;

use crate::config::{Config, Section, ValidationConfig};

/// What `build-feature-store` reads from the configuration.
#[derive(Clone, Debug)]
pub struct FeatureStoreOptions {
    /// Keep typed Parquet copies of the raw CSVs (`features.raw_parquet_cache`).
    pub raw_parquet_cache: bool,
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
            reuse_contract_reports: cfg.features.reuse_contract_reports,
            validation: cfg.validation.clone(),
            config_sections: cfg.sections_record(&Self::SECTIONS),
            engine: cfg.features.engine.clone(),
            cluster_timeout_seconds: cfg.features.cluster_timeout_seconds,
            storage: crate::storage::Storage::new(cfg.paths.endpoint.clone()),
        }
    }
}

/// What a build did, for the CLI summary and benchmarks.
#[derive(Clone, Debug, Serialize)]
pub struct FeatureStoreSummary {
    pub output: String,
    pub rows: u64,
    pub columns: usize,
    pub seconds: f64,
    /// Peak resident memory of the process so far (VmHWM), in MB.
    pub peak_rss_mb: f64,
    pub tables: Vec<TableTiming>,
    /// Seconds of the store query (joins), streamed into the Parquet file.
    pub store_seconds: f64,
    /// Seconds of the store's contracts (read back from the written file) and publishing it.
    pub store_contracts_seconds: f64,
    /// Seconds spent on lineage, mostly waiting for the background sha256 of the raw files.
    pub lineage_seconds: f64,
}

/// Build the feature store at `layout.store_file` from the raw files of `layout.raw_dir`.
pub async fn build_feature_store(
    layout: &crate::Layout,
    opts: &FeatureStoreOptions,
    reporter: &dyn crate::progress::Reporter,
) -> crate::Result<FeatureStoreSummary> {
    let engine = opts.engine.as_deref().filter(|e| *e != "local");
    let Some(engine) = engine else {
        return build::run(layout, opts, reporter).await;
    };
    let limit = std::time::Duration::from_secs(opts.cluster_timeout_seconds);
    // Dropping the build on time-out removes its temp store file and in-between tables.
    tokio::time::timeout(limit, build::run(layout, opts, reporter))
        .await
        .unwrap_or_else(|_| {
            Err(crate::Error::Input(format!(
                "the feature store build on {engine} did not finish in {} s \
                 (features.cluster_timeout_seconds); no store was written. Check that every \
                 executor is alive (`creditrisk cluster executor` logs) and run it again",
                opts.cluster_timeout_seconds
            )))
        })
}

/// The parsing floor: parse every typed raw CSV of `raw_dir` once, one table at a time, with the
/// reader the build uses (each table's batches are dropped once counted; in DataFusion's reader,
/// a `COUNT` of every column, so each value is parsed but nothing is kept). Returns (table, rows,
/// seconds) per file; used by `benches/feature_store.sh`.
pub async fn parse_floor(raw_dir: &Path) -> crate::Result<Vec<(String, u64, f64)>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::prelude::CsvReadOptions;
    let ctx = crate::raw::session();
    let mut out = vec![];
    for table in crate::catalog::RawTable::ALL {
        let started = std::time::Instant::now();
        let path = raw_dir.join(table.file_name());
        let schema = table.arrow_schema();
        // The build's reader first (as `raw::load_csv`), DataFusion's when it declines the file.
        if let Some(parts) = crate::raw::read_plain_csv(&ctx, &path, &schema).await? {
            let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
            let seconds = started.elapsed().as_secs_f64();
            out.push((table.name().to_string(), rows, seconds));
            continue;
        }
        let options = CsvReadOptions::new().has_header(true).schema(&schema);
        ctx.register_csv(table.name(), path.to_string_lossy().as_ref(), options)
            .await?;
        let counts: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("COUNT({})", crate::raw::ident(c.name)))
            .collect();
        let sql = format!(
            "SELECT COUNT(*), {} FROM {}",
            counts.join(", "),
            table.name()
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows = batches
            .first()
            .map(|b| b.column(0).as_primitive::<Int64Type>().value(0) as u64)
            .unwrap_or(0);
        out.push((
            table.name().to_string(),
            rows,
            started.elapsed().as_secs_f64(),
        ));
    }
    Ok(out)
}

/// Peak resident set size of this process in MB (VmHWM), 0 when /proc is unavailable.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
