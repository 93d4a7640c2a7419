//! Contract reports remembered beside the typed cache, so that a rebuild over unchanged raw files
//! (new feature SQL, say) does not check the same bytes again.
//!
//! A raw table's report is a function of its CSV's bytes, of its parents' bytes (the orphan
//! checks), of the `validation` config and of the program that checks them; the memo is keyed by
//! all four (sha256s of the files and of the executable) and reused only on an exact match. The
//! reused report is the one that was written, so reports, lineage and store are the same bits;
//! the build summary and the lineage say which tables' contracts were reused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::contracts::ValidationReport;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::ValidationConfig;
use creditrisk_base::error::{Error, Result};

/// What a table's contract report depends on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct ContractKey {
    pub table: String,
    /// sha256 of the table's CSV.
    pub sha256: String,
    /// sha256 of each parent CSV whose ids the orphan checks look up.
    pub parents: BTreeMap<String, String>,
    /// The `validation` section, as the build read it.
    pub validation: serde_json::Value,
    /// sha256 of the executable that ran the checks (the catalog and the checks are compiled in).
    pub program: String,
}

/// A remembered run of one table's contracts.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ContractMemo {
    pub key: ContractKey,
    pub rows: u64,
    /// NULL count per column (the lineage's missing shares).
    pub nulls: BTreeMap<String, u64>,
    /// The report file's text, kept verbatim: it is written back byte for byte (a parsed and
    /// re-serialised float need not keep its last digit).
    pub report: String,
}

impl ContractMemo {
    /// Write the remembered report to `path`, then fail as the checks did, if they did.
    pub fn write_and_check(&self, path: &Path) -> Result<()> {
        creditrisk_base::io::write_atomic(path, self.report.as_bytes())?;
        let report: ValidationReport = serde_json::from_str(&self.report).map_err(|e| {
            Error::internal_from(format!("remembered report of {}", self.key.table), e)
        })?;
        report
            .ensure_passed()
            .map_err(|e| e.with_report(path.to_path_buf()))
    }
}

/// The raw files whose ids `table`'s orphan checks look up (both application files for
/// applicants: their ids are checked against the two together).
pub(super) fn parents(table: RawTable) -> Vec<RawTable> {
    let mut parents = vec![];
    for link in table.parents() {
        let files: &[RawTable] = match link.parent {
            RawTable::ApplicationTrain | RawTable::ApplicationTest => {
                &[RawTable::ApplicationTrain, RawTable::ApplicationTest]
            }
            _ => std::slice::from_ref(&link.parent),
        };
        for f in files {
            if !parents.contains(f) {
                parents.push(*f);
            }
        }
    }
    parents
}

/// The validation section as the key holds it.
pub(super) fn validation_value(cfg: &ValidationConfig) -> Result<serde_json::Value> {
    serde_json::to_value(cfg).map_err(|e| Error::internal_from("validation config as JSON", e))
}

/// sha256 of the running executable, remembered in `memo_dir` by size and modification time.
pub(super) fn program_sha256(memo_dir: &Path) -> Result<String> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::internal_from("cannot locate the running executable", e))?;
    crate::raw::file_sha256(&exe, Some(memo_dir))
}

fn file(dir: &Path, table: RawTable) -> PathBuf {
    dir.join(format!("{}.contracts.json", table.name()))
}

/// Whether some memo of `table` was written (only then is a key worth computing).
pub(super) fn any(dir: &Path, table: RawTable) -> bool {
    file(dir, table).is_file()
}

/// The memo for exactly `key`, if one was written (an unreadable memo is no memo).
pub(super) fn recall(dir: &Path, key: &ContractKey) -> Option<ContractMemo> {
    let table = RawTable::ALL.iter().find(|t| t.name() == key.table)?;
    let text = std::fs::read_to_string(file(dir, *table)).ok()?;
    let memo: ContractMemo = serde_json::from_str(&text).ok()?;
    let readable = serde_json::from_str::<ValidationReport>(&memo.report).is_ok();
    (memo.key == *key && readable).then_some(memo)
}

/// Remember a run (one memo per table: the newest replaces the older).
pub(super) fn remember(dir: &Path, table: RawTable, memo: &ContractMemo) -> Result<()> {
    creditrisk_base::io::write_json(&file(dir, table), memo)
}
