//! Feature-store contracts: one row per SK_ID_CURR, TARGET ∈ {0, 1} on train rows and NULL on
//! test rows, every expected column present with its type, no NaN or ±inf in any float column.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::prelude::SessionContext;

use super::checks::{Check, Group, Rule, finite_check};
use super::raw_tables::enforced;
use super::report::{CheckFailure, Severity, ValidationReport};
use super::runner::run_checks;
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
    let mut schema_findings = vec![];
    let expected = KEY_COLUMNS
        .iter()
        .map(|(n, t)| (*n, t.clone()))
        .chain(FEATURES.iter().map(|(n, t)| (*n, t.arrow_type())));
    for (name, ty) in expected {
        match schema.field_with_name(name) {
            Err(_) => schema_findings.push((
                "present",
                name.to_string(),
                format!("column {name} is present"),
            )),
            Ok(f) if f.data_type() != &ty => schema_findings.push((
                "type",
                name.to_string(),
                format!("{name} is {ty} (found {})", f.data_type()),
            )),
            Ok(_) => {}
        }
    }
    let known: Vec<&str> = KEY_COLUMNS
        .iter()
        .map(|(n, _)| *n)
        .chain(FEATURES.iter().map(|(n, _)| *n))
        .collect();
    let extra: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();

    let has = |name: &str| schema.field_with_name(name).is_ok();
    let mut checks = vec![];
    if has("SK_ID_CURR") {
        let c = "\"SK_ID_CURR\"".to_string();
        checks.push(Check::failing(
            "SK_ID_CURR",
            "not_null",
            Group::Nulls,
            format!("{c} IS NULL"),
            "SK_ID_CURR is never NULL".into(),
        ));
        checks.push(Check {
            column: Some("SK_ID_CURR".into()),
            name: "unique".into(),
            group: Group::Keys,
            rule: Rule::Unique,
            expectation: "one row per SK_ID_CURR".into(),
            shortcut: None,
        });
    }
    if has("TARGET") && has("IS_TRAIN") {
        checks.push(Check::failing(
            "TARGET",
            "range",
            Group::Ranges,
            "\"IS_TRAIN\" AND (\"TARGET\" IS NULL OR \"TARGET\" NOT IN (0, 1))".into(),
            "TARGET in {0, 1} on train rows".into(),
        ));
        checks.push(Check::failing(
            "TARGET",
            "test_target_null",
            Group::Ranges,
            "NOT \"IS_TRAIN\" AND \"TARGET\" IS NOT NULL".into(),
            "TARGET is NULL on test rows".into(),
        ));
        checks.push(Check::failing(
            "IS_TRAIN",
            "not_null",
            Group::Nulls,
            "\"IS_TRAIN\" IS NULL".into(),
            "IS_TRAIN is never NULL".into(),
        ));
    }
    for field in schema.fields() {
        if field.data_type() == &DataType::Float64 {
            checks.push(finite_check(field.name()));
        }
    }
    let ids = ["SK_ID_CURR"];
    let run = run_checks(ctx, table, &checks, &[], &ids, cfg.sample_rows, facts).await?;
    let mut report = ValidationReport::new("feature_store", source, run.rows);
    let record_schema =
        |report: &mut ValidationReport, check: &str, column: String, words: String, severity| {
            report.record(CheckFailure {
                table: "feature_store".into(),
                column: Some(column),
                check: check.into(),
                severity,
                failing: run.rows,
                total: run.rows,
                expectation: words,
                samples: vec![],
            });
        };
    let strict = if enforced(cfg, Group::Schema) {
        Severity::Fail
    } else {
        Severity::Warn
    };
    for (check, column, words) in schema_findings {
        record_schema(&mut report, check, column, words, strict);
    }
    for column in extra {
        let words = format!("{column} is not an expected feature (kept)");
        record_schema(&mut report, "present", column, words, Severity::Warn);
    }
    report.checks_run += KEY_COLUMNS.len() + FEATURES.len();
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
    Ok(report)
}
