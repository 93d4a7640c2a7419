//! The runner's first pass: row count, NULL counts and column extremes, asked of the engine in
//! one query, or answered by the measures taken while the rows were parsed (`raw::Measured`), and
//! the range checks those extremes prove.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;

use super::checks::Limit;
use crate::raw::{Measured, ident};
use creditrisk_base::error::{Error, Result};

/// Positions of a column's bounds in the first pass.
pub(super) struct Bounds {
    pub min: usize,
    pub max: usize,
    /// MAX(ABS(col)) of a float column: finite only when no value is NaN or ±inf.
    pub abs: Option<usize>,
}

impl Bounds {
    /// Whether every non-NULL value lies within [lo, hi] (so no row fails).
    pub(super) fn proves(&self, row: &[RecordBatch], lo: Limit, hi: Limit) -> Result<bool> {
        let (Some(min), Some(max)) = (float_at(row, self.min)?, float_at(row, self.max)?) else {
            return Ok(true); // no non-NULL value: the predicate is never true
        };
        if let Some(abs) = self.abs {
            // NaN may hide from an engine's MIN/MAX: prove nothing then.
            match float_at(row, abs)? {
                Some(a) if a.is_finite() => {}
                _ => return Ok(false),
            }
        }
        Ok(lo.admits(min, false) && hi.admits(max, true))
    }
}

/// An aggregate of the first pass that a table's measures can answer (see [`Measured`]).
pub(super) enum Measure<'a> {
    Rows,
    Nulls(&'a str),
    Min(&'a str),
    Max(&'a str),
    /// MAX(ABS(col)).
    MaxAbs(&'a str),
}

impl Measure<'_> {
    fn sql(&self) -> String {
        match self {
            Measure::Rows => "COUNT(*)".into(),
            Measure::Nulls(c) => format!("COUNT(*) - COUNT({})", ident(c)),
            Measure::Min(c) => format!("MIN({})", ident(c)),
            Measure::Max(c) => format!("MAX({})", ident(c)),
            Measure::MaxAbs(c) => format!("MAX(ABS({}))", ident(c)),
        }
    }

    /// The value SQL would give, from `measured` (None: not measured). NULL is None inside.
    fn of(&self, measured: &Measured) -> Option<Option<f64>> {
        let column = |c: &str| measured.columns.get(c).copied();
        Some(match self {
            Measure::Rows => Some(measured.rows as f64),
            Measure::Nulls(c) => Some(column(c)?.nulls as f64),
            Measure::Min(c) => column(c)?.min,
            Measure::Max(c) => column(c)?.max,
            Measure::MaxAbs(c) => {
                let m = column(c)?;
                m.min.zip(m.max).map(|(lo, hi)| lo.abs().max(hi.abs()))
            }
        })
    }
}

/// A one-row aggregate query, built expression by expression; `measures` are those of its
/// expressions that a table's measures can answer.
#[derive(Default)]
pub(super) struct Select<'a> {
    exprs: Vec<String>,
    measures: Vec<Option<Measure<'a>>>,
}

impl<'a> Select<'a> {
    /// Add an expression; returns its column position.
    pub(super) fn push(&mut self, expr: String) -> usize {
        self.exprs.push(expr);
        self.measures.push(None);
        self.exprs.len() - 1
    }

    /// Add a measure's aggregate; returns its column position.
    pub(super) fn measure(&mut self, measure: Measure<'a>) -> usize {
        let i = self.push(measure.sql());
        self.measures[i] = Some(measure);
        i
    }

    /// The query's row from `measured`, when it answers every expression (as Float64 columns:
    /// the reads below cast as they do the engine's row).
    pub(super) fn answer(&self, measured: &Measured) -> Option<Result<RecordBatch>> {
        let mut fields = vec![];
        let mut columns: Vec<ArrayRef> = vec![];
        for (i, m) in self.measures.iter().enumerate() {
            let value = m.as_ref()?.of(measured)?;
            fields.push(Field::new(format!("m{i}"), DataType::Float64, true));
            columns.push(Arc::new(Float64Array::from(vec![value])));
        }
        let schema = Arc::new(Schema::new(fields));
        Some(RecordBatch::try_new(schema, columns).map_err(Error::from))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    pub(super) async fn run(&self, ctx: &SessionContext, table: &str) -> Result<Vec<RecordBatch>> {
        // Aliases keep identical expressions (two checks with the same predicate) apart.
        let aliased: Vec<String> = self
            .exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS m{i}"))
            .collect();
        let sql = format!("SELECT {} FROM {table}", aliased.join(", "));
        let batches = ctx.sql(&sql).await?.collect().await?;
        if !batches.iter().any(|b| b.num_rows() > 0) {
            return Err(Error::internal("aggregate check query returned no row"));
        }
        Ok(batches)
    }
}

/// Column `i` of the first row as a count (NULL sums of empty tables read as 0).
pub(super) fn count_at(batches: &[RecordBatch], i: usize) -> Result<u64> {
    let col = first_row(batches)?.column(i);
    let cast = datafusion::arrow::compute::cast(col, &DataType::Int64)?;
    let a = cast.as_primitive::<Int64Type>();
    Ok(if a.is_null(0) {
        0
    } else {
        a.value(0).max(0) as u64
    })
}

/// Column `i` of the first row as f64 (Int64 converted as the engine casts it), None for NULL.
fn float_at(batches: &[RecordBatch], i: usize) -> Result<Option<f64>> {
    let col = first_row(batches)?.column(i);
    let cast = datafusion::arrow::compute::cast(col, &DataType::Float64)?;
    let a = cast.as_primitive::<Float64Type>();
    Ok((!a.is_null(0)).then(|| a.value(0)))
}

fn first_row(batches: &[RecordBatch]) -> Result<&RecordBatch> {
    batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| Error::internal("aggregate check query returned no row"))
}
