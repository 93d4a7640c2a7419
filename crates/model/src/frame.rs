//! Feature columns pulled out of an Arrow batch: numeric columns as `f64` (NULL → NaN) and
//! categorical columns as strings, with the input-schema checks every scoring path shares.

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, Schema};
use serde::{Deserialize, Serialize};

use creditrisk_base::error::{Error, Result};

/// How the model reads a column.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Categorical,
}

/// One model input column: name, how it is read, and the Arrow type it had at training.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: ColumnKind,
    /// Arrow type at training time, e.g. `Float64`, `Int64`, `Utf8`.
    pub arrow_type: String,
}

/// Values of one feature column.
pub enum RawColumn {
    /// NULL (and NaN) are NaN.
    Numeric(Vec<f64>),
    Categorical(StringArray),
}

impl RawColumn {
    /// The value of row `i` as JSON (for reason codes): number, string or null.
    pub fn json_value(&self, i: usize) -> serde_json::Value {
        match self {
            RawColumn::Numeric(v) if v[i].is_nan() => serde_json::Value::Null,
            RawColumn::Numeric(v) => serde_json::json!(v[i]),
            RawColumn::Categorical(a) if a.is_null(i) => serde_json::Value::Null,
            RawColumn::Categorical(a) => serde_json::json!(a.value(i)),
        }
    }
}

/// Feature columns of a batch, in the order of their specs.
pub struct FeatureFrame {
    pub columns: Vec<RawColumn>,
    pub rows: usize,
}

fn kind_of(data_type: &DataType) -> Option<ColumnKind> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ColumnKind::Categorical),
        DataType::Dictionary(_, value) if kind_of(value) == Some(ColumnKind::Categorical) => {
            Some(ColumnKind::Categorical)
        }
        DataType::Boolean | DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => {
            Some(ColumnKind::Numeric)
        }
        t if t.is_numeric() => Some(ColumnKind::Numeric),
        _ => None,
    }
}

/// Model features of a training batch: every column except `exclude`, in file order.
pub fn feature_specs(
    schema: &Schema,
    exclude: &[String],
    source: &str,
) -> Result<Vec<FeatureSpec>> {
    let mut specs = Vec::new();
    for field in schema.fields() {
        if exclude.iter().any(|e| e == field.name()) {
            continue;
        }
        let kind = kind_of(field.data_type()).ok_or_else(|| {
            Error::input(format!(
                "{source}: column `{}` has type {} which the model cannot use; make it numeric or \
                 text in the feature SQL, or add it to features.exclude",
                field.name(),
                field.data_type()
            ))
        })?;
        specs.push(FeatureSpec {
            name: field.name().clone(),
            kind,
            arrow_type: field.data_type().to_string(),
        });
    }
    if specs.is_empty() {
        return Err(Error::input(format!(
            "{source}: no feature columns left after features.exclude"
        )));
    }
    Ok(specs)
}

/// Pull the feature columns out of `batch`, checking presence, kind and finiteness.
/// `ids` (SK_ID_CURR) only serve to name offending rows in errors.
pub fn extract(
    batch: &RecordBatch,
    specs: &[FeatureSpec],
    ids: Option<&[i64]>,
    source: &str,
) -> Result<FeatureFrame> {
    let mut columns = Vec::with_capacity(specs.len());
    for spec in specs {
        let array = batch.column_by_name(&spec.name).ok_or_else(|| {
            Error::input(format!(
                "{source}: model feature `{}` ({}) is missing from the input",
                spec.name, spec.arrow_type
            ))
        })?;
        let actual = array.data_type();
        let compatible = actual == &DataType::Null || kind_of(actual) == Some(spec.kind);
        if !compatible {
            return Err(Error::input(format!(
                "{source}: column `{}` has type {actual} but the model expects {} ({:?})",
                spec.name, spec.arrow_type, spec.kind
            )));
        }
        columns.push(match spec.kind {
            ColumnKind::Numeric => {
                let values = numeric_values(array.as_ref(), &spec.name, source)?;
                check_finite(&values, &spec.name, ids, source)?;
                RawColumn::Numeric(values)
            }
            ColumnKind::Categorical => {
                let utf8 = cast(array, &DataType::Utf8)?;
                RawColumn::Categorical(utf8.as_string::<i32>().clone())
            }
        });
    }
    Ok(FeatureFrame {
        columns,
        rows: batch.num_rows(),
    })
}

pub(crate) fn numeric_values(array: &dyn Array, name: &str, source: &str) -> Result<Vec<f64>> {
    let floats = cast(array, &DataType::Float64).map_err(|e| {
        Error::input(format!(
            "{source}: column `{name}` cannot be read as a number: {e}"
        ))
    })?;
    let floats = floats.as_primitive::<Float64Type>();
    Ok((0..floats.len())
        .map(|i| {
            if floats.is_null(i) {
                f64::NAN
            } else {
                floats.value(i)
            }
        })
        .collect())
}

/// The feature matrix must be finite: ±inf usually means a division without NULLIF upstream.
fn check_finite(values: &[f64], name: &str, ids: Option<&[i64]>, source: &str) -> Result<()> {
    let bad: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_infinite())
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let samples: Vec<String> = bad
        .iter()
        .take(5)
        .map(|&i| match ids {
            Some(ids) => format!("SK_ID_CURR {} = {}", ids[i], values[i]),
            None => format!("row {i} = {}", values[i]),
        })
        .collect();
    Err(Error::input(format!(
        "{source}: column `{name}` has {} infinite value(s) ({}); the feature matrix must be \
         finite — guard the division in the feature definition with NULLIF",
        bad.len(),
        samples.join(", ")
    )))
}

/// Non-null Int64 ids of `column` (SK_ID_CURR).
pub fn id_column(batch: &RecordBatch, column: &str, source: &str) -> Result<Vec<i64>> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| Error::input(format!("{source}: column `{column}` is missing")))?;
    let ints = cast(array, &DataType::Int64)
        .map_err(|e| Error::input_from(format!("{source}: column `{column}`"), e))?;
    let ints = ints.as_primitive::<Int64Type>();
    if ints.null_count() > 0 {
        return Err(Error::input(format!(
            "{source}: column `{column}` has {} NULL ids",
            ints.null_count()
        )));
    }
    Ok(ints.values().to_vec())
}

/// The label column as 0/1 floats; NULL or other values are an error naming the row.
pub fn target_column(batch: &RecordBatch, column: &str, source: &str) -> Result<Vec<f64>> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| Error::input(format!("{source}: label column `{column}` is missing")))?;
    let ints = cast(array, &DataType::Int64)
        .map_err(|e| Error::input_from(format!("{source}: column `{column}`"), e))?;
    let ints = ints.as_primitive::<Int64Type>();
    let mut y = Vec::with_capacity(ints.len());
    for i in 0..ints.len() {
        match (ints.is_null(i), ints.value(i)) {
            (false, v @ (0 | 1)) => y.push(v as f64),
            (true, _) => {
                return Err(Error::input(format!(
                    "{source}: `{column}` is NULL in row {i}; only labelled rows can be used here"
                )));
            }
            (false, v) => {
                return Err(Error::input(format!(
                    "{source}: `{column}` is {v} in row {i}; labels must be 0 or 1"
                )));
            }
        }
    }
    Ok(y)
}
