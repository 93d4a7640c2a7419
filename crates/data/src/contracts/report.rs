//! The shape of every validation report (`reports/validation/<table>.json`), shared by the raw,
//! feature-store, split and payload contracts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use creditrisk_base::error::{Error, Result};

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stops the stage.
    Fail,
    /// Reported only (extra columns, orphans under the configured share, relaxed groups).
    Warn,
}

/// One failed (or warned) check.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckFailure {
    pub table: String,
    /// None for table-level checks (row count, key sets).
    pub column: Option<String>,
    /// Check name, e.g. `not_null`, `unique`, `range`, `domain`, `orphans`, `present`, `type`.
    pub check: String,
    pub severity: Severity,
    /// Rows failing the check.
    pub failing: u64,
    /// Rows the check looked at.
    pub total: u64,
    /// What the check expects, in words ("DAYS_BIRTH <= 0").
    pub expectation: String,
    /// Up to `validation.sample_rows` offending rows, each with its ids and the offending value.
    pub samples: Vec<serde_json::Value>,
}

/// Everything checked on one table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ValidationReport {
    pub table: String,
    pub source: String,
    pub rows: u64,
    pub checks_run: usize,
    pub passed: bool,
    pub failures: Vec<CheckFailure>,
    pub warnings: Vec<CheckFailure>,
    /// Rates reported whatever their value, e.g. `orphans.SK_ID_CURR` (share of child rows whose
    /// parent id is unknown) and `null.<column>` (share of NULL values).
    #[serde(default)]
    pub measures: std::collections::BTreeMap<String, f64>,
}

impl ValidationReport {
    pub fn new(table: &str, source: &str, rows: u64) -> Self {
        ValidationReport {
            table: table.to_string(),
            source: source.to_string(),
            rows,
            checks_run: 0,
            passed: true,
            failures: vec![],
            warnings: vec![],
            measures: Default::default(),
        }
    }

    pub fn record(&mut self, finding: CheckFailure) {
        match finding.severity {
            Severity::Fail => {
                self.passed = false;
                self.failures.push(finding);
            }
            Severity::Warn => self.warnings.push(finding),
        }
    }

    /// Write the report to `path` (atomically; `Layout::validation_report` names it), then
    /// fail with [`Error::Check`] pointing at it when a check failed.
    pub fn write_and_check(&self, path: &Path) -> Result<()> {
        creditrisk_base::io::write_json(path, self)?;
        self.ensure_passed()
            .map_err(|e| e.with_report(path.to_path_buf()))
    }

    /// `Err(Error::Check)` naming every failure (table, column, check, count) when any failed.
    pub fn ensure_passed(&self) -> Result<()> {
        if self.passed {
            return Ok(());
        }
        let lines: Vec<String> = self
            .failures
            .iter()
            .map(|f| {
                let column = f.column.as_deref().unwrap_or("-");
                format!(
                    "{}.{} {}: {} of {} rows fail ({})",
                    f.table, column, f.check, f.failing, f.total, f.expectation
                )
            })
            .collect();
        Err(Error::check(lines.join("; ")))
    }
}
