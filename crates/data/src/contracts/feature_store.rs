//! Feature-store contracts: one row per SK_ID_CURR, TARGET ∈ {0, 1} on train rows and NULL on
//! test rows, every expected column present with its type, no NaN or ±inf in any float column.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::prelude::SessionContext;

use super::checks::{Check, Group, Rule, finite_check};
use super::raw_tables::enforced;
use super::report::{CheckFailure, Severity, ValidationReport};
use super::runner::{TableRun, run_checks};
use crate::raw::TableFacts;
use creditrisk_base::catalog::{FEATURES, KEY_COLUMNS};
use creditrisk_base::config::ValidationConfig;
use creditrisk_base::error::Result;

/// Check the store registered as `table` (schema `schema`) and return its report.
pub async fn check_feature_store(
    ctx: &SessionContext,
    table: &str,
    schema: &Schema,
    source: &str,
    cfg: &ValidationConfig,
    facts: &TableFacts,
) -> Result<ValidationReport> {
    let checks = row_checks(schema);
    let ids = ["SK_ID_CURR"];
    let run = run_checks(ctx, table, &checks, &[], &ids, cfg.sample_rows, facts).await?;
    let mut report = ValidationReport::new("feature_store", source, run.rows);
    record_schema(&mut report, schema, cfg, run.rows);
    record_findings(&mut report, &run, cfg);
    Ok(report)
}

/// Every key and feature column the catalog expects, with its Arrow type.
fn expected_columns() -> impl Iterator<Item = (&'static str, DataType)> {
    KEY_COLUMNS
        .iter()
        .map(|(n, t)| (*n, t.clone()))
        .chain(FEATURES.iter().map(|(n, t)| (*n, t.arrow_type())))
}

/// Schema findings (check, column, expectation): an expected column missing or of another type.
fn schema_findings(schema: &Schema) -> Vec<(&'static str, String, String)> {
    let mut findings = vec![];
    for (name, ty) in expected_columns() {
        match schema.field_with_name(name) {
            Err(_) => findings.push((
                "present",
                name.to_string(),
                format!("column {name} is present"),
            )),
            Ok(f) if f.data_type() != &ty => findings.push((
                "type",
                name.to_string(),
                format!("{name} is {ty} (found {})", f.data_type()),
            )),
            Ok(_) => {}
        }
    }
    findings
}

/// Columns the catalog does not expect (kept in the store, and warned about).
fn extra_columns(schema: &Schema) -> Vec<String> {
    let known: Vec<&str> = expected_columns().map(|(n, _)| n).collect();
    schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !known.contains(&n.as_str()))
        .collect()
}

/// The row checks of the columns present: the key, the labels, and finite floats.
fn row_checks(schema: &Schema) -> Vec<Check> {
    let has = |name: &str| schema.field_with_name(name).is_ok();
    let mut checks = vec![];
    if has("SK_ID_CURR") {
        checks.extend(key_checks());
    }
    if has("TARGET") && has("IS_TRAIN") {
        checks.extend(label_checks());
    }
    for field in schema.fields() {
        if field.data_type() == &DataType::Float64 {
            checks.push(finite_check(field.name()));
        }
    }
    checks
}

/// One row per applicant, each with an id.
fn key_checks() -> [Check; 2] {
    [
        Check::failing(
            "SK_ID_CURR",
            "not_null",
            Group::Nulls,
            "\"SK_ID_CURR\" IS NULL".into(),
            "SK_ID_CURR is never NULL".into(),
        ),
        Check {
            column: Some("SK_ID_CURR".into()),
            name: "unique".into(),
            group: Group::Keys,
            rule: Rule::Unique,
            expectation: "one row per SK_ID_CURR".into(),
            shortcut: None,
        },
    ]
}

/// Train rows carry a 0/1 label and test rows none, so no test row can leak into training.
fn label_checks() -> [Check; 3] {
    [
        Check::failing(
            "TARGET",
            "range",
            Group::Ranges,
            "\"IS_TRAIN\" AND (\"TARGET\" IS NULL OR \"TARGET\" NOT IN (0, 1))".into(),
            "TARGET in {0, 1} on train rows".into(),
        ),
        Check::failing(
            "TARGET",
            "test_target_null",
            Group::Ranges,
            "NOT \"IS_TRAIN\" AND \"TARGET\" IS NOT NULL".into(),
            "TARGET is NULL on test rows".into(),
        ),
        Check::failing(
            "IS_TRAIN",
            "not_null",
            Group::Nulls,
            "\"IS_TRAIN\" IS NULL".into(),
            "IS_TRAIN is never NULL".into(),
        ),
    ]
}

/// Record the schema findings (failing, or warned when `enforce_schema` is off) and the extra
/// columns (always warned); each is counted over every row. Every expected column counts as
/// one check run.
fn record_schema(
    report: &mut ValidationReport,
    schema: &Schema,
    cfg: &ValidationConfig,
    rows: u64,
) {
    let strict = if enforced(cfg, Group::Schema) {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let extra = extra_columns(schema).into_iter().map(|column| {
        let words = format!("{column} is not an expected feature (kept)");
        ("present", column, words, Severity::Warn)
    });
    let findings = schema_findings(schema)
        .into_iter()
        .map(|(check, column, words)| (check, column, words, strict))
        .chain(extra);
    for (check, column, words, severity) in findings {
        report.record(CheckFailure {
            table: "feature_store".into(),
            column: Some(column),
            check: check.into(),
            severity,
            failing: rows,
            total: rows,
            expectation: words,
            samples: vec![],
        });
    }
    report.checks_run += KEY_COLUMNS.len() + FEATURES.len();
}

/// Record every failing row check, with its group's severity.
fn record_findings(report: &mut ValidationReport, run: &TableRun, cfg: &ValidationConfig) {
    for f in &run.findings {
        report.checks_run += 1;
        if f.failing == 0 {
            continue;
        }
        report.record(CheckFailure {
            table: "feature_store".into(),
            column: f.check.column.clone(),
            check: f.check.name.clone(),
            severity: if enforced(cfg, f.check.group) {
                Severity::Fail
            } else {
                Severity::Warn
            },
            failing: f.failing,
            total: f.total,
            expectation: f.check.expectation.clone(),
            samples: f.samples.clone(),
        });
    }
}
