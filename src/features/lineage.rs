//! `reports/data_lineage.json`: which bytes, config and code produced the feature store.

use std::collections::BTreeMap;

use serde::Serialize;

/// One raw source file.
#[derive(Clone, Debug, Serialize)]
pub struct SourceLineage {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub rows: u64,
    pub columns: usize,
    /// Up to ten columns with the highest NULL share (share > 0), highest first.
    pub top_missing: Vec<MissingShare>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MissingShare {
    pub column: String,
    pub fraction: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct StoreLineage {
    pub path: String,
    pub rows: u64,
    pub columns: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct DataLineage {
    pub created_at: String,
    pub crate_version: String,
    pub git_commit: String,
    pub config_hash: String,
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
