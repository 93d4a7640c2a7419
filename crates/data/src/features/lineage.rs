//! `reports/data_lineage.json`: which bytes, config and code produced the feature store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One raw source file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceLineage {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// Its contract report was reused from an earlier build over the same bytes, config and
    /// program (the report file names the checks; `features::memo` the key).
    #[serde(default)]
    pub contracts_reused: bool,
    pub rows: u64,
    pub columns: usize,
    /// Up to ten columns with the highest NULL share (share > 0), highest first.
    pub top_missing: Vec<MissingShare>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MissingShare {
    pub column: String,
    pub fraction: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreLineage {
    pub path: String,
    pub rows: u64,
    pub columns: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataLineage {
    pub created_at: String,
    pub crate_version: String,
    pub git_commit: String,
    /// Digest of the config sections this build read (`config_sections`).
    pub config_hash: String,
    /// Section → sha256 of the config sections this build read.
    pub config_sections: BTreeMap<String, String>,
    /// Digest of the feature SQL set that built the store, and of each file.
    pub feature_sql_sha256: String,
    pub feature_sql_files: BTreeMap<String, String>,
    pub sources: Vec<SourceLineage>,
    pub feature_store: StoreLineage,
}

/// The largest NULL shares of a table's columns.
pub fn top_missing(nulls: &BTreeMap<String, u64>, rows: u64) -> Vec<MissingShare> {
    let mut shares: Vec<MissingShare> = nulls
        .iter()
        .filter(|(_, n)| **n > 0 && rows > 0)
        .map(|(c, n)| MissingShare {
            column: c.clone(),
            fraction: *n as f64 / rows as f64,
        })
        .collect();
    shares.sort_by(|a, b| {
        b.fraction
            .total_cmp(&a.fraction)
            .then(a.column.cmp(&b.column))
    });
    shares.truncate(10);
    shares
}
