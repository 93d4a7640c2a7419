//! What a build reports: the CLI's summary and the benchmarks' per-phase timing lines.

use serde::Serialize;

use crate::raw::LoadedFrom;

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

/// Time spent on one raw table. Tables are checked and reduced concurrently, so the contracts
/// and features seconds of different tables overlap (they are each task's own wall time).
#[derive(Clone, Debug, Serialize)]
pub struct TableTiming {
    pub table: String,
    pub rows: u64,
    pub from: LoadedFrom,
    pub load_seconds: f64,
    pub contracts_seconds: f64,
    /// The contract report was that of an earlier build over the same bytes (see `memo`).
    pub contracts_reused: bool,
    /// Seconds of this table's feature SQL (attributed to the table it reads the most).
    pub features_seconds: f64,
    pub copy: TypedCopy,
}

/// The typed Parquet copy of a table this build parsed (`features.raw_parquet_cache`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypedCopy {
    /// Not parsed (read from the cache), or the cache is off.
    None,
    /// Written by this build, in this many seconds (beside the table's other work).
    Written { seconds: f64 },
    /// Left for a later build: this one had written its share (`features.cache_fill_share`).
    Deferred,
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
