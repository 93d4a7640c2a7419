//! The engine-side runner: [`run_checks`] turns a list of checks into one aggregate pass over the
//! table (`SUM(CASE WHEN <failing> THEN 1 ELSE 0 END)` per check, `COUNT(col)` per column for the
//! null profile), then fetches a few sample rows only for the checks that failed. The same runner
//! serves raw files, the feature store and serving payloads registered as small tables.
//! (The aggregates are split in two queries: one of row counts, NULL counts and extremes, which
//! the measures taken while parsing answer without a scan (`first_pass`), and one for the checks
//! that must look at every row.)
//!
//! Speed: evaluating one predicate per check on every row dominates the cost of a contract (tens
//! of millions of rows, hundreds of checks). Most checks have a [`Shortcut`]: `not_null` is the
//! NULL count the profile measures anyway, and range/finite checks are proved by the column's MIN
//! and MAX (cheap kernels, or free from the parse's measures). Only a check its shortcut cannot
//! prove is counted row by row, so clean data costs one light scan and the counts are unchanged.
//! Key checks (unique Int64 keys, orphans) are counted over a scan of their column (`keys`), and
//! text domains from the rows per value the parse counted (`TableFacts`): the SQL forms cost a
//! hash join or a string hash per row and check at full scale.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;
use serde_json::{Map, Value};

use super::checks::{Check, Limit, Rule, Shortcut};
use super::first_pass::{Bounds, Measure, Select, count_at};
use super::keys;
use crate::raw::{Measured, TableFacts, ident};
use creditrisk_base::error::{Error, Result};

/// One check's result over the table.
#[derive(Clone, Debug)]
pub struct Finding {
    pub check: Check,
    pub failing: u64,
    pub total: u64,
    pub samples: Vec<Value>,
}

/// Everything one pass over a table measured.
#[derive(Clone, Debug, Default)]
pub struct TableRun {
    pub rows: u64,
    /// NULL count per profiled column.
    pub nulls: BTreeMap<String, u64>,
    /// Every check, failing or not, in the order given.
    pub findings: Vec<Finding>,
}

/// Run `checks` over the registered `table` (plus one query per `KnownIn` rule), profile NULLs of
/// `profile` columns, and fetch up to `sample_rows` rows (with the `id_columns` present in the
/// table) for each failing check. `facts` holds the measures taken as the rows were parsed (the
/// typed cache records them), which answer the first pass and the domain checks.
pub async fn run_checks(
    ctx: &SessionContext,
    table: &str,
    checks: &[Check],
    profile: &[String],
    id_columns: &[&str],
    sample_rows: usize,
    facts: &TableFacts,
) -> Result<TableRun> {
    let t = ident(table);
    let schema = ctx.table(table).await?.schema().as_arrow().clone();
    let id_columns: Vec<&str> = id_columns
        .iter()
        .copied()
        .filter(|c| schema.field_with_name(c).is_ok())
        .collect();

    let mut first_pass = FirstPass::new(profile);
    let measured = facts.measured.as_ref();
    let plans: Vec<Plan> = checks
        .iter()
        .map(|check| first_pass.plan(check, &schema, measured))
        .collect();
    let passes = first_pass.run(ctx, &t, measured).await?;
    let rows = count_at(&passes.first, 0)?;
    let mut nulls = BTreeMap::new();
    for (i, c) in profile.iter().enumerate() {
        nulls.insert(c.clone(), count_at(&passes.first, 1 + i)?);
    }
    let (counted, passes) =
        second_pass(ctx, &t, &plans, checks, &first_pass.bounds, passes).await?;

    let mut findings = vec![];
    for (check, counted) in checks.iter().zip(counted) {
        let (failing, total) = failing_and_total(ctx, table, check, counted, rows, &passes).await?;
        let samples = if failing > 0 && sample_rows > 0 {
            fetch_samples(ctx, table, check, &id_columns, sample_rows).await?
        } else {
            vec![]
        };
        findings.push(Finding {
            check: check.clone(),
            failing,
            total,
            samples,
        });
    }
    Ok(TableRun {
        rows,
        nulls,
        findings,
    })
}

/// Pass 1, in two queries: `bounds` holds only what the parse's measures can answer (row count,
/// NULL profile, MIN and MAX of each column a `Within` shortcut may prove, and — for floats, where
/// NaN may hide from an engine's MIN and MAX — MAX(ABS)); `counted` the checks without a usable
/// shortcut, which must look at every row.
#[derive(Default)]
struct FirstPass<'a> {
    bounds_pass: Select<'a>,
    counted_pass: Select<'a>,
    /// Where each `Within` column's bounds sit in `bounds_pass`.
    bounds: BTreeMap<&'a str, Bounds>,
}

/// The rows each pass answered (empty for a pass with nothing to ask).
struct Passes {
    first: Vec<RecordBatch>,
    counted: Vec<RecordBatch>,
    second: Vec<RecordBatch>,
}

impl<'a> FirstPass<'a> {
    /// The row count first, then the NULL count of each `profile` column.
    fn new(profile: &'a [String]) -> FirstPass<'a> {
        let mut pass = FirstPass::default();
        pass.bounds_pass.measure(Measure::Rows);
        for c in profile {
            pass.bounds_pass.measure(Measure::Nulls(c));
        }
        pass
    }

    /// How `check` is measured, adding what it needs to the first pass.
    fn plan(&mut self, check: &'a Check, schema: &Schema, measured: Option<&Measured>) -> Plan<'a> {
        let column = check.column.as_deref().unwrap_or_default();
        let c = ident(column);
        let text = schema
            .field_with_name(column)
            .is_ok_and(|f| f.data_type() == &DataType::Utf8);
        let numeric = schema
            .field_with_name(column)
            .map(|f| f.data_type().clone())
            .ok()
            .filter(|ty| matches!(ty, DataType::Int64 | DataType::Float64));
        match (&check.rule, check.shortcut, numeric) {
            (Rule::Failing(_), Some(Shortcut::Null), _) => Plan::Counted(Pass::Bounds(
                self.bounds_pass.measure(Measure::Nulls(column)),
            )),
            (Rule::Failing(_), Some(Shortcut::Within { lo, hi }), Some(ty)) => {
                let bounds_pass = &mut self.bounds_pass;
                self.bounds.entry(column).or_insert_with(|| Bounds {
                    min: bounds_pass.measure(Measure::Min(column)),
                    max: bounds_pass.measure(Measure::Max(column)),
                    abs: (ty == DataType::Float64)
                        .then(|| bounds_pass.measure(Measure::MaxAbs(column))),
                });
                Plan::Within { column, lo, hi }
            }
            (Rule::Failing(_), Some(Shortcut::Among(vocabulary)), _)
                if text
                    && let Some(outside) = measured.and_then(|m| m.outside(column, vocabulary)) =>
            {
                Plan::Outside(outside)
            }
            (Rule::Failing(sql), _, _) => {
                Plan::Counted(Pass::Counted(self.counted_pass.push(count_failing(sql))))
            }
            // Measured later (keys.rs).
            (Rule::Unique, _, Some(DataType::Int64)) | (Rule::KnownIn(_), _, _) => Plan::Keys,
            (Rule::Unique, _, _) => Plan::Counted(Pass::Counted(
                self.counted_pass
                    .push(format!("COUNT({c}) - COUNT(DISTINCT {c})")),
            )),
        }
    }

    /// Run both queries over `t`. Rows parsed into memory were measured as they were parsed: no
    /// second scan for the bounds then.
    async fn run(
        &self,
        ctx: &SessionContext,
        t: &str,
        measured: Option<&Measured>,
    ) -> Result<Passes> {
        let first = match measured.and_then(|m| self.bounds_pass.answer(m)) {
            Some(row) => vec![row?],
            None => self.bounds_pass.run(ctx, t).await?,
        };
        let counted = if self.counted_pass.is_empty() {
            vec![]
        } else {
            self.counted_pass.run(ctx, t).await?
        };
        Ok(Passes {
            first,
            counted,
            second: vec![],
        })
    }
}

/// Pass 2, only for shortcuts the bounds did not prove: count those rows exactly. Returns how
/// each check is counted (None: by its keys) and the passes with the second one's rows.
async fn second_pass(
    ctx: &SessionContext,
    t: &str,
    plans: &[Plan<'_>],
    checks: &[Check],
    bounds: &BTreeMap<&str, Bounds>,
    mut passes: Passes,
) -> Result<(Vec<Option<Counted>>, Passes)> {
    let mut exact = Select::default();
    let mut counted: Vec<Option<Counted>> = vec![];
    for (plan, check) in plans.iter().zip(checks) {
        counted.push(match plan {
            Plan::Counted(pass) => Some(Counted::First(*pass)),
            Plan::Outside(n) => Some(Counted::Outside(*n)),
            Plan::Keys => None,
            Plan::Within { column, lo, hi } => {
                let b = &bounds[column];
                if b.proves(&passes.first, *lo, *hi)? {
                    Some(Counted::Zero)
                } else {
                    let Rule::Failing(sql) = &check.rule else {
                        unreachable!("a Within plan comes from a Failing rule")
                    };
                    Some(Counted::Second(exact.push(count_failing(sql))))
                }
            }
        });
    }
    if !exact.is_empty() {
        passes.second = exact.run(ctx, t).await?;
    }
    Ok((counted, passes))
}

/// (failing, total) rows of one check: read from the passes, or counted over its key column.
async fn failing_and_total(
    ctx: &SessionContext,
    table: &str,
    check: &Check,
    counted: Option<Counted>,
    rows: u64,
    passes: &Passes,
) -> Result<(u64, u64)> {
    Ok(match (counted, &check.rule, &check.column) {
        (Some(Counted::First(Pass::Bounds(i))), _, _) => (count_at(&passes.first, i)?, rows),
        (Some(Counted::First(Pass::Counted(i))), _, _) => (count_at(&passes.counted, i)?, rows),
        (Some(Counted::Second(i)), _, _) => (count_at(&passes.second, i)?, rows),
        (Some(Counted::Zero), _, _) => (0, rows),
        (Some(Counted::Outside(n)), _, _) => (n, rows),
        (None, Rule::KnownIn(parent), Some(column)) => {
            match keys::orphans(ctx, table, column, parent).await? {
                Some(counts) => counts,
                None => count_orphans(ctx, table, column, parent).await?,
            }
        }
        (None, Rule::Unique, Some(column)) => {
            let repeats = keys::duplicates(ctx, table, column).await?;
            let repeats = repeats
                .ok_or_else(|| Error::internal(format!("{table}.{column} is not an Int64 key")))?;
            (repeats, rows)
        }
        (None, _, _) => (0, rows),
    })
}

/// Rows for which a failing predicate is true (NULL counts as passing).
fn count_failing(sql: &str) -> String {
    format!("SUM(CASE WHEN {sql} THEN 1 ELSE 0 END)")
}

/// A value of one of the first pass's two queries.
#[derive(Clone, Copy)]
enum Pass {
    Bounds(usize),
    Counted(usize),
}

/// How one check is measured.
enum Plan<'a> {
    /// A value of the first pass.
    Counted(Pass),
    /// Proved by the bounds of `column`, else counted in the second pass.
    Within {
        column: &'a str,
        lo: Limit,
        hi: Limit,
    },
    /// A key check counted over its column (unique keys, orphans).
    Keys,
    /// A domain check answered by the counts of the column's values: its failing rows.
    Outside(u64),
}

enum Counted {
    First(Pass),
    Second(usize),
    Zero,
    Outside(u64),
}

/// (orphans, non-NULL rows) of `table.column` against the ids produced by `parent`.
async fn count_orphans(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    parent: &str,
) -> Result<(u64, u64)> {
    let c = ident(column);
    let sql = format!(
        "SELECT COUNT(*), SUM(CASE WHEN p.known IS NULL THEN 1 ELSE 0 END) \
         FROM (SELECT {c} AS id FROM {} WHERE {c} IS NOT NULL) AS child \
         LEFT JOIN (SELECT DISTINCT id AS known FROM ({parent}) AS parent_ids) AS p \
         ON child.id = p.known",
        ident(table)
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let v = first_row_counts(&batches, 2)?;
    Ok((v[1], v[0]))
}

async fn fetch_samples(
    ctx: &SessionContext,
    table: &str,
    check: &Check,
    id_columns: &[&str],
    limit: usize,
) -> Result<Vec<Value>> {
    let t = ident(table);
    let column = check.column.clone().unwrap_or_default();
    let c = ident(&column);
    let mut shown: Vec<String> = id_columns
        .iter()
        .filter(|id| **id != column)
        .map(|id| ident(id))
        .collect();
    shown.push(c.clone());
    let cols = shown.join(", ");
    let sql = match &check.rule {
        Rule::Failing(pred) => format!("SELECT {cols} FROM {t} WHERE {pred} LIMIT {limit}"),
        Rule::Unique => format!(
            "SELECT {c}, COUNT(*) AS \"rows\" FROM {t} WHERE {c} IS NOT NULL \
             GROUP BY {c} HAVING COUNT(*) > 1 ORDER BY {c} LIMIT {limit}"
        ),
        Rule::KnownIn(parent) => format!(
            "SELECT {cols} FROM {t} WHERE {c} IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM ({parent}) AS parent_ids WHERE parent_ids.id = {t}.{c}) LIMIT {limit}"
        ),
    };
    let batches = ctx.sql(&sql).await?.collect().await?;
    Ok(batches_to_json(&batches))
}

/// The first row of an all-integer result (NULL sums of empty tables read as 0).
fn first_row_counts(batches: &[RecordBatch], width: usize) -> Result<Vec<u64>> {
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| Error::internal("aggregate check query returned no row"))?;
    (0..width)
        .map(|i| {
            let col = batch.column(i);
            let value = match col.data_type() {
                DataType::Int64 => {
                    let a = col.as_primitive::<Int64Type>();
                    if a.is_null(0) { 0 } else { a.value(0) }
                }
                _ => {
                    let cast = datafusion::arrow::compute::cast(col, &DataType::Int64)?;
                    let a = cast.as_primitive::<Int64Type>();
                    if a.is_null(0) { 0 } else { a.value(0) }
                }
            };
            Ok(value.max(0) as u64)
        })
        .collect()
}

/// Rows as JSON objects (numbers stay numbers, NULL becomes null).
pub fn batches_to_json(batches: &[RecordBatch]) -> Vec<Value> {
    let mut rows = vec![];
    for batch in batches {
        let schema = batch.schema();
        for r in 0..batch.num_rows() {
            let mut obj = Map::new();
            for (i, field) in schema.fields().iter().enumerate() {
                obj.insert(field.name().clone(), cell(batch.column(i).as_ref(), r));
            }
            rows.push(Value::Object(obj));
        }
    }
    rows
}

fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            serde_json::Number::from_f64(v)
                .map(Value::Number)
                .unwrap_or(Value::String(v.to_string()))
        }
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
        _ => {
            let options = datafusion::arrow::util::display::FormatOptions::default();
            match datafusion::arrow::util::display::ArrayFormatter::try_new(array, &options) {
                Ok(f) => Value::String(f.value(row).to_string()),
                Err(_) => Value::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::contracts::checks::{Group, finite_check};

    #[tokio::test]
    async fn finite_check_catches_nan_and_both_infinities_but_not_null() {
        let schema = Arc::new(Schema::new(vec![Field::new("X", DataType::Float64, true)]));
        let values = Float64Array::from(vec![
            Some(1.0),
            Some(f64::NAN),
            Some(-f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(f64::MAX),
            None,
        ]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap();
        let ctx = crate::raw::session();
        crate::raw::register_batches(&ctx, "t", schema, vec![vec![batch]]).unwrap();
        let run = run_checks(
            &ctx,
            "t",
            &[finite_check("X")],
            &["X".into()],
            &[],
            10,
            &TableFacts::default(),
        )
        .await
        .unwrap();
        assert_eq!(run.rows, 7);
        assert_eq!(run.nulls["X"], 1);
        assert_eq!(run.findings[0].failing, 4);
        assert_eq!(run.findings[0].samples.len(), 4);
    }

    /// A domain check fails the same rows whether summed from the parse's value counts or counted
    /// in SQL, and falls back to SQL for a column past the counts' limit of distinct values.
    #[tokio::test]
    async fn domain_checks_count_alike_from_value_counts_and_in_sql() {
        const AB: &[&str] = &["a", "b"];
        let rows = 3000;
        let schema = Arc::new(Schema::new(vec![
            Field::new("S", DataType::Utf8, true),
            Field::new("T", DataType::Utf8, true),
        ]));
        // S: "x" twice, "a ", "" and "A" fail (NULL passes; case and spaces matter).
        let odd = [
            Some("a"),
            Some("b"),
            None,
            Some("x"),
            Some("a "),
            Some("x"),
            Some(""),
            Some("A"),
        ];
        let s = (0..rows).map(|i| odd.get(i).copied().unwrap_or(Some("a")));
        // T: 3,000 distinct values, too many to count; all but "a" and "b" fail.
        let t: Vec<String> = (0..rows)
            .map(|i| match i {
                0 => "a".into(),
                1 => "b".into(),
                _ => format!("t{i}"),
            })
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter(s)),
            Arc::new(StringArray::from(t)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let checks: Vec<Check> = ["S", "T"]
            .iter()
            .map(|c| {
                let sql = format!("{} NOT IN ('a', 'b')", ident(c));
                let mut check = Check::failing(c, "domain", Group::Domains, sql, String::new());
                check.shortcut = Some(Shortcut::Among(AB));
                check
            })
            .collect();
        let counted = TableFacts::of(&schema, std::iter::once(&batch));
        let measured = counted.measured.as_ref().unwrap();
        assert_eq!(measured.outside("S", AB), Some(5));
        assert_eq!(measured.outside("T", AB), None);
        let ctx = crate::raw::session();
        crate::raw::register_batches(&ctx, "t", schema, vec![vec![batch]]).unwrap();
        for facts in [counted.clone(), TableFacts::default()] {
            let run = run_checks(&ctx, "t", &checks, &[], &[], 2, &facts)
                .await
                .unwrap();
            let failing: Vec<u64> = run.findings.iter().map(|f| f.failing).collect();
            assert_eq!(failing, vec![5, rows as u64 - 2]);
            assert_eq!(run.findings[0].samples.len(), 2);
        }
    }
}
