//! The serving contract: what a raw application row must look like before it is scored, derived
//! from the catalog (`application_test` columns) so batch scoring and the HTTP API refuse exactly
//! what the raw-data contracts (`contracts::checks`) would flag.
//!
//! Per value (given as text, as it comes from a CSV cell or a JSON field):
//! * empty or absent is NULL, refused where the catalog column is not nullable;
//! * otherwise it must parse as the catalog kind (`Int`: a 64-bit integer, `Float`: a finite
//!   number — NaN and ±inf are refused, like the `finite` check; `Text`: anything);
//! * and lie in the catalog domain, with the bounds of the contracts: `Id` > 0, `Binary` in
//!   {0, 1}, `Days` and `Months` ≤ 0, `DaysOrSentinel` ≤ 0 or 365243, `NonNegative` ≥ 0,
//!   `UnitInterval` in [0, 1], `Range(lo, hi)` inclusive, `Categories` in Kaggle's vocabulary.
//!
//! Per file: every non-nullable catalog column must be present (a missing one is a file-level
//! error naming it); a missing nullable column reads as NULL; unknown columns (TARGET included)
//! are ignored.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use creditrisk_base::catalog::{Column, DAYS_SENTINEL, Domain, Kind, RawTable};
use creditrisk_base::error::{Error, Result};

/// The table whose columns a scoring request carries.
pub const TABLE: RawTable = RawTable::ApplicationTest;

/// One refused value: a line of the rejects file (and, later, of a 422 answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// 1-based data row (the header is not counted).
    pub row: u64,
    /// The row's SK_ID_CURR when it is readable.
    pub sk_id_curr: Option<i64>,
    pub column: String,
    /// The value as given (`None`: empty or absent).
    pub value: Option<String>,
    pub reason: String,
    /// What the column accepts.
    pub allowed: String,
}

/// A value that passed the contract, typed by the catalog kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

/// Why one value fails, and what the column accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub reason: String,
    pub allowed: String,
}

/// The arrow schema of checked rows (catalog order and types).
pub fn schema() -> SchemaRef {
    TABLE.arrow_schema()
}

/// Catalog columns a file must carry (the non-nullable ones).
pub fn required_columns() -> Vec<&'static str> {
    TABLE
        .columns()
        .iter()
        .filter(|c| !c.nullable)
        .map(|c| c.name)
        .collect()
}

/// File-level check of a header: an error naming every missing required column.
pub fn check_header(names: &[String], source: &str) -> Result<()> {
    let missing: Vec<&str> = required_columns()
        .into_iter()
        .filter(|c| !names.iter().any(|n| n == c))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::input(format!(
            "{source}: missing required column(s) {}; a scoring input carries the \
             application_test columns (nullable ones may be left out)",
            missing.join(", ")
        )))
    }
}

/// What a column accepts, in words.
pub fn allowed(column: &Column) -> String {
    let kind = match column.kind {
        Kind::Int => "an integer",
        Kind::Float => "a finite number",
        Kind::Text => "text",
    };
    let domain = match column.domain {
        Domain::Id => " > 0".to_string(),
        Domain::Binary => " in {0, 1}".to_string(),
        Domain::Days | Domain::Months => " <= 0".to_string(),
        Domain::DaysOrSentinel => format!(" <= 0 or {DAYS_SENTINEL}"),
        Domain::NonNegative => " >= 0".to_string(),
        Domain::UnitInterval => " in [0, 1]".to_string(),
        Domain::Range(lo, hi) => format!(" in [{lo}, {hi}]"),
        Domain::Categories(v) => format!(" in {{{}}}", v.join(", ")),
        Domain::Any => String::new(),
    };
    let null = if column.nullable {
        ", or empty"
    } else {
        ", never empty"
    };
    format!("{kind}{domain}{null}")
}

/// Check one value of `column` given as text (`None` or empty: NULL).
pub fn check_value(column: &Column, raw: Option<&str>) -> std::result::Result<Value, Problem> {
    let fail = |reason: String| Problem {
        reason,
        allowed: allowed(column),
    };
    let text = raw.filter(|s| !s.is_empty());
    let Some(text) = text else {
        return if column.nullable {
            Ok(Value::Null)
        } else {
            Err(fail("missing value (the column is never NULL)".into()))
        };
    };
    let value = match column.kind {
        Kind::Int => Value::Int(
            text.trim()
                .parse::<i64>()
                .map_err(|_| fail("does not parse as an integer".into()))?,
        ),
        Kind::Float => {
            let v = text
                .trim()
                .parse::<f64>()
                .map_err(|_| fail("does not parse as a number".into()))?;
            if !v.is_finite() {
                return Err(fail("not finite (NaN or infinity)".into()));
            }
            Value::Float(v)
        }
        Kind::Text => Value::Text(text.to_string()),
    };
    let number = match &value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    let inside = match (column.domain, number, &value) {
        (Domain::Id, Some(v), _) => v > 0.0,
        (Domain::Binary, Some(v), _) => v == 0.0 || v == 1.0,
        (Domain::Days | Domain::Months, Some(v), _) => v <= 0.0,
        (Domain::DaysOrSentinel, Some(v), _) => v <= 0.0 || v == DAYS_SENTINEL as f64,
        (Domain::NonNegative, Some(v), _) => v >= 0.0,
        (Domain::UnitInterval, Some(v), _) => (0.0..=1.0).contains(&v),
        (Domain::Range(lo, hi), Some(v), _) => (lo..=hi).contains(&v),
        (Domain::Categories(vocabulary), _, Value::Text(t)) => vocabulary.contains(&t.as_str()),
        _ => true,
    };
    if inside {
        Ok(value)
    } else {
        Err(fail("outside the catalog domain".into()))
    }
}

/// The rows of one chunk that passed, typed, and the problems of those that did not.
pub struct Checked {
    /// Valid rows in input order, with [`schema`] (every catalog column; missing nullable ones
    /// NULL).
    pub valid: RecordBatch,
    /// Data rows (1-based) that were refused.
    pub rejected_rows: u64,
    pub violations: Vec<Violation>,
}

/// Check a chunk whose columns are all text (`Utf8`, NULL for empty cells), named as in the file;
/// `first_row` is the 1-based data row number of its first row. The header must have passed
/// [`check_header`].
pub fn check_batch(text: &RecordBatch, first_row: u64) -> Result<Checked> {
    check_table(TABLE, text, first_row)
}

/// [`check_batch`] for rows of any raw table (the history rows a request may carry).
pub fn check_table(table: RawTable, text: &RecordBatch, first_row: u64) -> Result<Checked> {
    let columns = table.columns();
    let cells: Vec<Option<&StringArray>> = columns
        .iter()
        .map(|c| {
            text.column_by_name(c.name)
                .map(|a| {
                    a.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
                        Error::internal(format!("column {} is not read as text", c.name))
                    })
                })
                .transpose()
        })
        .collect::<Result<_>>()?;
    let id_index = columns.iter().position(|c| c.name == "SK_ID_CURR");
    let mut builders: Vec<Builder> = columns.iter().map(|c| Builder::new(c.kind)).collect();
    let mut violations = vec![];
    let mut rejected_rows = 0;
    let mut values = Vec::with_capacity(columns.len());
    for r in 0..text.num_rows() {
        let row = first_row + r as u64;
        let cell = |i: usize| cells[i].filter(|a| !a.is_null(r)).map(|a| a.value(r));
        let sk_id_curr = id_index.and_then(&cell).and_then(|s| s.trim().parse().ok());
        values.clear();
        let before = violations.len();
        for (i, column) in columns.iter().enumerate() {
            match check_value(column, cell(i)) {
                Ok(v) => values.push(v),
                Err(p) => violations.push(Violation {
                    row,
                    sk_id_curr,
                    column: column.name.to_string(),
                    value: cell(i).map(str::to_string),
                    reason: p.reason,
                    allowed: p.allowed,
                }),
            }
        }
        if violations.len() > before {
            rejected_rows += 1;
            continue;
        }
        for (b, v) in builders.iter_mut().zip(values.drain(..)) {
            b.push(v);
        }
    }
    let arrays: Vec<ArrayRef> = builders.into_iter().map(Builder::finish).collect();
    Ok(Checked {
        valid: RecordBatch::try_new(table.arrow_schema(), arrays)?,
        rejected_rows,
        violations,
    })
}

enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Int => Builder::Int(Int64Builder::new()),
            Kind::Float => Builder::Float(Float64Builder::new()),
            Kind::Text => Builder::Text(StringBuilder::new()),
        }
    }

    fn push(&mut self, value: Value) {
        match (self, value) {
            (Builder::Int(b), Value::Int(v)) => b.append_value(v),
            (Builder::Float(b), Value::Float(v)) => b.append_value(v),
            (Builder::Text(b), Value::Text(v)) => b.append_value(v),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Text(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
            Builder::Text(mut b) => Arc::new(b.finish()),
        }
    }
}
