//! Raw-table contracts: every catalog column of every raw file, checked inside the engine.
//!
//! Presence comes from the file header, types from the typed read (and, when a value does not
//! parse, from a text read with `TRY_CAST`), everything else from one aggregate scan per table.

use datafusion::prelude::SessionContext;

use super::checks::{Check, Group, Rule, column_checks, type_check};
use super::report::{CheckFailure, Severity, ValidationReport};
use super::runner::{Finding, TableRun, run_checks};
use crate::raw::{HeaderCheck, TableFacts, ident};
use creditrisk_base::catalog::{ParentLink, RawTable};
use creditrisk_base::config::ValidationConfig;
use creditrisk_base::error::Result;

/// Ids shown with every sample row, when the table has them.
pub const ID_COLUMNS: [&str; 3] = ["SK_ID_CURR", "SK_ID_BUREAU", "SK_ID_PREV"];

/// Table holding the known ids of a parent (`known_<parent>`, single column `id`).
pub fn known_ids_table(parent: RawTable) -> String {
    match parent {
        RawTable::ApplicationTrain | RawTable::ApplicationTest => "known_applicants".into(),
        other => format!("known_{}", other.name()),
    }
}

/// Materialise the ids of `parent` (both application files for applicants) as `known_<parent>`,
/// so that child tables can be checked after the parent's rows were dropped from memory.
pub async fn register_known_ids(ctx: &SessionContext, parent: RawTable) -> Result<()> {
    let (source, column) = match parent {
        RawTable::ApplicationTrain | RawTable::ApplicationTest => ("application", "SK_ID_CURR"),
        RawTable::Bureau => ("bureau", "SK_ID_BUREAU"),
        RawTable::PreviousApplication => ("previous_application", "SK_ID_PREV"),
        other => (other.name(), "SK_ID_CURR"),
    };
    let sql = format!(
        "SELECT DISTINCT {} AS id FROM {}",
        ident(column),
        ident(source)
    );
    let df = ctx.sql(&sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let parts = df.collect_partitioned().await?;
    crate::raw::register_batches(ctx, &known_ids_table(parent), schema, parts)?;
    Ok(())
}

/// Every row-level and key check the catalog implies for `table`, plus its orphan links.
pub fn raw_checks(table: RawTable) -> Vec<Check> {
    let mut checks: Vec<Check> = table.columns().iter().flat_map(column_checks).collect();
    if let Some(key) = table.primary_key() {
        checks.push(Check {
            column: Some(key.into()),
            name: "unique".into(),
            group: Group::Keys,
            rule: Rule::Unique,
            expectation: format!("{key} is unique"),
            shortcut: None,
        });
    }
    checks.extend(table.parents().into_iter().map(orphan_check));
    checks
}

fn orphan_check(link: ParentLink) -> Check {
    let known = known_ids_table(link.parent);
    let parent = match link.parent {
        RawTable::ApplicationTrain => "application_train or application_test".to_string(),
        other => other.name().to_string(),
    };
    Check {
        column: Some(link.column.into()),
        name: "orphans".into(),
        group: Group::Referential,
        rule: Rule::KnownIn(format!("SELECT id FROM {}", ident(&known))),
        expectation: format!(
            "{} is a known {}.{}",
            link.column, parent, link.parent_column
        ),
        shortcut: None,
    }
}

/// Run the raw contracts of a table loaded (typed) under its catalog name; `facts` are what is
/// known of it (see [`run_checks`]).
pub async fn check_raw_table(
    ctx: &SessionContext,
    table: RawTable,
    source: &str,
    header: &HeaderCheck,
    cfg: &ValidationConfig,
    facts: &TableFacts,
) -> Result<(ValidationReport, TableRun)> {
    let profile: Vec<String> = table.columns().iter().map(|c| c.name.to_string()).collect();
    let checks = if cfg.enabled {
        raw_checks(table)
    } else {
        vec![]
    };
    let run = run_checks(
        ctx,
        table.name(),
        &checks,
        &profile,
        &ID_COLUMNS,
        cfg.sample_rows,
        facts,
    )
    .await?;
    let mut report = ValidationReport::new(table.name(), source, run.rows);
    if cfg.enabled {
        record_header(&mut report, table, header, cfg);
        record_findings(&mut report, table, &run.findings, cfg);
    }
    for (column, nulls) in &run.nulls {
        report
            .measures
            .insert(format!("null.{column}"), share(*nulls, run.rows));
    }
    Ok((report, run))
}

/// Type contracts for a file whose values do not all parse: `TRY_CAST` over its text reading
/// (header findings are left to [`check_raw_table`]).
pub async fn check_types(
    ctx: &SessionContext,
    table: RawTable,
    source: &str,
    header: &HeaderCheck,
    text_table: &str,
    cfg: &ValidationConfig,
) -> Result<ValidationReport> {
    let checks: Vec<Check> = table
        .columns()
        .iter()
        .filter(|c| !header.missing.iter().any(|m| m == c.name))
        .filter_map(|c| type_check(c.name, c.kind))
        .collect();
    let run = run_checks(
        ctx,
        text_table,
        &checks,
        &[],
        &ID_COLUMNS,
        cfg.sample_rows,
        &TableFacts::default(),
    )
    .await?;
    let mut report = ValidationReport::new(table.name(), source, run.rows);
    record_findings(&mut report, table, &run.findings, cfg);
    Ok(report)
}

fn record_header(
    report: &mut ValidationReport,
    table: RawTable,
    header: &HeaderCheck,
    cfg: &ValidationConfig,
) {
    let rows = report.rows;
    let finding = |column: &str, check: &str, severity, expectation: String| CheckFailure {
        table: table.name().into(),
        column: Some(column.into()),
        check: check.into(),
        severity,
        failing: rows,
        total: rows,
        expectation,
        samples: vec![],
    };
    let strict = if cfg.enforce_schema {
        Severity::Fail
    } else {
        Severity::Warn
    };
    report.checks_run += table.columns().len();
    let mut findings = vec![];
    for column in &header.missing {
        let words = format!("column {column} is present in {}", table.file_name());
        findings.push(finding(column, "present", strict, words));
    }
    for column in &header.extra {
        let words = format!(
            "{column} is not a catalog column of {} (ignored)",
            table.name()
        );
        findings.push(finding(column, "present", Severity::Warn, words));
    }
    if header.reordered {
        let words = format!("columns in Kaggle's order: {}", table.header_line());
        let mut f = finding("*", "order", Severity::Warn, words);
        f.column = None;
        findings.push(f);
    }
    findings.into_iter().for_each(|f| report.record(f));
}

fn record_findings(
    report: &mut ValidationReport,
    table: RawTable,
    findings: &[Finding],
    cfg: &ValidationConfig,
) {
    for f in findings {
        report.checks_run += 1;
        let column = f.check.column.clone().unwrap_or_default();
        if f.check.group == Group::Referential {
            let rate = share(f.failing, f.total);
            report.measures.insert(format!("orphans.{column}"), rate);
        }
        if f.failing == 0 {
            continue;
        }
        let severity = match f.check.group {
            Group::Referential => {
                let rate = share(f.failing, f.total);
                if cfg.enforce_referential && rate > cfg.max_orphan_share {
                    Severity::Fail
                } else {
                    Severity::Warn
                }
            }
            group if enforced(cfg, group) => Severity::Fail,
            _ => Severity::Warn,
        };
        report.record(CheckFailure {
            table: table.name().into(),
            column: f.check.column.clone(),
            check: f.check.name.clone(),
            severity,
            failing: f.failing,
            total: f.total,
            expectation: f.check.expectation.clone(),
            samples: f.samples.clone(),
        });
    }
}

/// Whether a group's findings stop the stage.
pub fn enforced(cfg: &ValidationConfig, group: Group) -> bool {
    cfg.enabled
        && match group {
            Group::Schema => cfg.enforce_schema,
            Group::Nulls => cfg.enforce_nulls,
            Group::Keys => cfg.enforce_keys,
            Group::Ranges => cfg.enforce_ranges,
            Group::Domains => cfg.enforce_domains,
            Group::Referential => cfg.enforce_referential,
        }
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 / total as f64
    }
}
