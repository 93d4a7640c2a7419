//! `creditrisk check-freshness --max-age-hours H [--fail-on-stale]`: how old each raw file the
//! last `ingest` verified is (its modification time, read now), from
//! `reports/ingestion_summary.json`; a file the summary lists as failed, or that is gone, is
//! stale. Writes `reports/freshness_report.json`.

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;

/// The parts of the ingestion summary freshness reads.
#[derive(Deserialize)]
struct IngestionSummary {
    sources: Vec<IngestedFile>,
}

#[derive(Deserialize)]
struct IngestedFile {
    table: String,
    path: String,
    status: String,
}

/// One raw file's age.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileAge {
    pub table: String,
    pub path: String,
    /// Hours since the file was last modified; `None` when it cannot be read.
    pub age_hours: Option<f64>,
    pub stale: bool,
    /// Why an unreadable or failed file counts as stale.
    pub problem: Option<String>,
}

/// `reports/freshness_report.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FreshnessReport {
    pub ingestion_summary: PathBuf,
    pub max_age_hours: f64,
    pub files: Vec<FileAge>,
    /// Tables of the stale files.
    pub stale: Vec<String>,
    pub fresh: bool,
    pub checked_at: String,
}

/// Age every file of the ingestion summary against `max_age_hours`; with `fail_on_stale`, any
/// stale file is an error (after the report is written).
pub fn check_freshness(
    layout: &Layout,
    max_age_hours: f64,
    fail_on_stale: bool,
) -> Result<FreshnessReport> {
    if !(max_age_hours.is_finite() && max_age_hours > 0.0) {
        return Err(Error::config(format!(
            "--max-age-hours {max_age_hours}: must be a positive number of hours"
        )));
    }
    let summary_path = layout.ingestion_summary();
    let text = std::fs::read_to_string(&summary_path).map_err(|_| {
        Error::input(format!(
            "{}: no ingestion summary; run `creditrisk ingest` first",
            summary_path.display()
        ))
    })?;
    let summary: IngestionSummary = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: unreadable ingestion summary ({e}); rerun `creditrisk ingest`",
            summary_path.display()
        ))
    })?;
    let now = SystemTime::now();
    let files: Vec<FileAge> = summary
        .sources
        .into_iter()
        .map(|f| age_of(f, layout, now, max_age_hours))
        .collect();
    let stale: Vec<String> = files
        .iter()
        .filter(|f| f.stale)
        .map(|f| f.table.clone())
        .collect();
    let report = FreshnessReport {
        ingestion_summary: summary_path,
        max_age_hours,
        fresh: stale.is_empty(),
        stale,
        files,
        checked_at: chrono::Utc::now().to_rfc3339(),
    };
    let path = layout.freshness_report();
    creditrisk_base::io::write_json(&path, &report)?;
    if fail_on_stale && !report.fresh {
        return Err(Error::check(format!(
            "stale raw files (older than {max_age_hours} h or unreadable): {}",
            report.stale.join(", ")
        ))
        .with_report(path));
    }
    Ok(report)
}

fn age_of(file: IngestedFile, layout: &Layout, now: SystemTime, max_age_hours: f64) -> FileAge {
    let stale = |problem: String| FileAge {
        table: file.table.clone(),
        path: file.path.clone(),
        age_hours: None,
        stale: true,
        problem: Some(problem),
    };
    if file.status != "ok" || file.path.is_empty() {
        return stale(format!(
            "the last ingest marked it `{}`; rerun `creditrisk ingest`",
            file.status
        ));
    }
    let path = layout.root.join(&file.path);
    let modified = match std::fs::metadata(&path).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) => return stale(format!("{}: {e}", path.display())),
    };
    // A file from the future (clock skew) is age 0, not negative.
    let age_hours = now
        .duration_since(modified)
        .map_or(0.0, |d| d.as_secs_f64() / 3600.0);
    FileAge {
        table: file.table,
        path: file.path,
        age_hours: Some(age_hours),
        stale: age_hours > max_age_hours,
        problem: None,
    }
}
