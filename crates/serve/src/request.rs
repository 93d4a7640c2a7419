//! A `/predict` or `/validate` body: parsed, limited and checked with the serving contract into
//! typed application rows (and the history rows a record may carry), or refused with every
//! problem (record index, field, reason, allowed).
//!
//! A history row may leave out SK_ID_CURR (it is the record's); given, it must be the record's.
//! A `bureau_balance` row must belong to one of the record's `bureau` lines (SK_ID_BUREAU).
//! An applicant appears once per request.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use axum::http::StatusCode;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray, UInt32Array};
use datafusion::arrow::compute::{cast, interleave, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use serde_json::{Map, Value};

use super::errors::{ApiError, FieldProblem};
use creditrisk_base::catalog::RawTable;
use creditrisk_data::feature_engine::{FeatureEngine, Rows};
use creditrisk_model::ID_COLUMN;
use creditrisk_model::preprocess::Implausible;
use creditrisk_model::serving_contract::{self, TABLE};

/// The history tables a record may carry as arrays, under their Kaggle file names (`bureau`,
/// ..., `POS_CASH_balance`).
pub fn history_tables() -> impl Iterator<Item = (RawTable, &'static str)> {
    RawTable::HISTORY
        .into_iter()
        .map(|t| (t, t.file_name().trim_end_matches(".csv")))
}

/// A checked request.
pub struct Checked {
    /// Typed application rows (serving-contract schema), in request order.
    pub rows: RecordBatch,
    /// Per record: whether it carries history arrays (then its history is exactly what it
    /// carries; otherwise it comes from the feature store).
    pub carries: Vec<bool>,
    /// The history rows carried, typed, by table.
    pub history: Rows,
    /// The records as given (for the audit's input digest).
    pub records: Vec<Map<String, Value>>,
    pub threshold: Option<f64>,
    /// Answer each prediction with its feature-store row (`"return_features": true`).
    pub return_features: bool,
}

impl Checked {
    /// Feature-store rows of the records, in request order: a record that carries history is
    /// featurised on it, the others with the engine's history (the feature store).
    pub async fn features(&self, engine: &FeatureEngine) -> creditrisk_base::Result<RecordBatch> {
        if !self.carries.contains(&true) {
            return engine.features(self.rows.clone()).await;
        }
        let pick = |carrying: bool| -> UInt32Array {
            (0..self.carries.len() as u32)
                .filter(|r| self.carries[*r as usize] == carrying)
                .collect()
        };
        let plain = engine
            .features(take_record_batch(&self.rows, &pick(false))?)
            .await?;
        let mut rows = self.history.clone();
        rows.insert(
            RawTable::ApplicationTest,
            take_record_batch(&self.rows, &pick(true))?,
        );
        // The store SQL answers in SK_ID_CURR order: find each record's row by its id.
        let carried = engine.features_of(&rows).await?;
        let position: HashMap<i64, usize> = ids(&carried)?
            .iter()
            .enumerate()
            .filter_map(|(i, id)| id.map(|id| (id, i)))
            .collect();
        let mut next_plain = 0;
        let picks = ids(&self.rows)?
            .iter()
            .zip(&self.carries)
            .map(
                |(id, carrying)| match (carrying, id.and_then(|id| position.get(&id))) {
                    (true, Some(row)) => Ok((1, *row)),
                    (true, None) => Err(creditrisk_base::Error::internal(
                        "a record's history features are missing",
                    )),
                    (false, _) => {
                        next_plain += 1;
                        Ok((0, next_plain - 1))
                    }
                },
            )
            .collect::<creditrisk_base::Result<Vec<_>>>()?;
        let columns = (0..carried.num_columns())
            .map(|c| {
                interleave(
                    &[plain.column(c).as_ref(), carried.column(c).as_ref()],
                    &picks,
                )
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(carried.schema(), columns)?)
    }
}

fn ids(batch: &RecordBatch) -> creditrisk_base::Result<Vec<Option<i64>>> {
    let ids = batch
        .column_by_name(ID_COLUMN)
        .ok_or_else(|| creditrisk_base::Error::internal(format!("rows without {ID_COLUMN}")))?;
    Ok(cast(ids, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .iter()
        .collect())
}

impl Checked {
    /// The 422 of feature values far outside the model's training range, each named by the
    /// record it came from (features are derived from a record's fields and its history).
    pub fn implausible(
        &self,
        found: &[(i64, Implausible)],
        factor: f64,
    ) -> Result<ApiError, ApiError> {
        let ids = ids(&self.rows)?;
        let problems = found
            .iter()
            .map(|(id, i)| FieldProblem {
                record: ids.iter().position(|r| *r == Some(*id)),
                field: i.feature.clone(),
                value: serde_json::Number::from_f64(i.value).map(Value::Number),
                reason: format!(
                    "feature {} = {} is beyond its training range by more than \
                     serving.plausibility_factor = {factor} range widths",
                    i.feature, i.value
                ),
                allowed: format!("[{}, {}]", i.accepted[0], i.accepted[1]),
            })
            .collect();
        Ok(ApiError::unprocessable(
            "implausible inputs: a feature lies far outside what the model was trained on; check \
             the record's units and values",
            problems,
        ))
    }
}

/// Parse and check a body.
pub fn check(body: &[u8], max_records: usize) -> Result<Checked, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(request_problem(
            "",
            None,
            "the body is not a JSON object",
            "{\"records\": [...], \"threshold\": optional number}",
        ));
    };
    let threshold = match top.remove("threshold") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) => {
            n.as_f64()
        }
        Some(other) => {
            return Err(request_problem(
                "threshold",
                Some(other),
                "not a number within [0, 1]",
                "a number within [0, 1], or absent",
            ));
        }
    };
    let return_features = match top.remove("return_features") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            return Err(request_problem(
                "return_features",
                Some(other),
                "not a boolean",
                "true, false, or absent",
            ));
        }
    };
    let records = match top.remove("records") {
        Some(Value::Array(records)) => records,
        other => {
            return Err(request_problem(
                "records",
                other,
                "missing or not an array",
                "an array of application records",
            ));
        }
    };
    if let Some(extra) = top.keys().next() {
        return Err(request_problem(
            extra,
            None,
            "unknown top-level field",
            "records, threshold, return_features",
        ));
    }
    if records.is_empty() {
        return Err(request_problem(
            "records",
            None,
            "empty",
            "at least one record",
        ));
    }
    if records.len() > max_records {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} records; at most {max_records} per request (serving.max_records)",
                records.len()
            ),
        ));
    }
    let mut checked = check_records(records, threshold)?;
    checked.return_features = return_features;
    Ok(checked)
}

fn request_problem(field: &str, value: Option<Value>, reason: &str, allowed: &str) -> ApiError {
    ApiError::unprocessable(
        format!("request: {field}: {reason}"),
        vec![FieldProblem {
            record: None,
            field: field.to_string(),
            value,
            reason: reason.to_string(),
            allowed: allowed.to_string(),
        }],
    )
}

/// Text cells of one table, row by row, with where each row came from.
struct TextRows {
    table: RawTable,
    /// The array the rows came from (`None`: the records themselves).
    field: Option<&'static str>,
    cells: Vec<Vec<Option<String>>>,
    /// (record, position in its array) of each row.
    origin: Vec<(usize, usize)>,
}

impl TextRows {
    fn new(table: RawTable, field: Option<&'static str>) -> TextRows {
        TextRows {
            table,
            field,
            cells: vec![vec![]; table.columns().len()],
            origin: vec![],
        }
    }

    fn path(&self, position: usize, column: &str) -> String {
        match self.field {
            None => column.to_string(),
            Some(field) => format!("{field}[{position}].{column}"),
        }
    }

    /// Add one object's values; `defaults` fill absent columns (a history row's SK_ID_CURR).
    fn push(
        &mut self,
        (record, position): (usize, usize),
        map: &Map<String, Value>,
        defaults: &[(&str, &str)],
        problems: &mut Vec<FieldProblem>,
    ) {
        let columns = self.table.columns();
        for (key, value) in map {
            let history = self.field.is_none() && history_tables().any(|(_, f)| f == key);
            if !history && !columns.iter().any(|c| c.name == key) {
                problems.push(FieldProblem {
                    record: Some(record),
                    field: self.path(position, key),
                    value: Some(value.clone()),
                    reason: "unknown field".into(),
                    allowed: format!("a {} column", self.table.name()),
                });
            }
        }
        for (i, column) in columns.iter().enumerate() {
            let given = map.get(column.name);
            let text = match given {
                None => defaults
                    .iter()
                    .find(|(name, _)| *name == column.name)
                    .map(|(_, v)| v.to_string()),
                Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(other) => {
                    problems.push(FieldProblem {
                        record: Some(record),
                        field: self.path(position, column.name),
                        value: Some(other.clone()),
                        reason: "wrong JSON type (boolean, array or object)".into(),
                        allowed: serving_contract::allowed(column),
                    });
                    // Checked as absent below; its problem is already recorded.
                    None
                }
            };
            self.cells[i].push(text);
        }
        self.origin.push((record, position));
    }

    /// Check the rows with the serving contract: the typed valid rows, and a problem per
    /// refused value not already reported.
    fn check(
        self,
        objects: &[Map<String, Value>],
        problems: &mut Vec<FieldProblem>,
    ) -> Result<RecordBatch, ApiError> {
        if self.origin.is_empty() {
            return Ok(RecordBatch::new_empty(self.table.arrow_schema()));
        }
        let columns = self.table.columns();
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(c.name, DataType::Utf8, true))
            .collect();
        let arrays: Vec<ArrayRef> = self
            .cells
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let text = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let checked =
            serving_contract::check_table(self.table, &text, 1).map_err(ApiError::from)?;
        for v in checked.violations {
            let (record, position) = self.origin[(v.row - 1) as usize];
            let field = match self.field {
                None => v.column.clone(),
                Some(f) => format!("{f}[{position}].{}", v.column),
            };
            let flagged = problems
                .iter()
                .any(|p| p.record == Some(record) && (p.field == field || p.field.is_empty()));
            if flagged {
                continue;
            }
            let object = objects.get(record);
            let value = match self.field {
                None => object.and_then(|o| o.get(&v.column)),
                Some(f) => object
                    .and_then(|o| o.get(f))
                    .and_then(|a| a.get(position))
                    .and_then(|row| row.get(&v.column)),
            };
            problems.push(FieldProblem {
                record: Some(record),
                field,
                value: value.cloned(),
                reason: v.reason,
                allowed: v.allowed,
            });
        }
        Ok(checked.valid)
    }
}

/// Gather every record's rows as text, then check them with the serving contract: every problem
/// of every record is reported at once.
fn check_records(records: Vec<Value>, threshold: Option<f64>) -> Result<Checked, ApiError> {
    let mut gathered = Gathered::with_capacity(records.len());
    for (r, record) in records.into_iter().enumerate() {
        gathered.add(r, record);
    }
    gathered.check(threshold)
}

/// The records of a request as text rows, by table, with the problems found so far.
struct Gathered {
    problems: Vec<FieldProblem>,
    /// Each record as given (an empty object for one that is not an object).
    objects: Vec<Map<String, Value>>,
    applications: TextRows,
    /// One per [`history_tables`], in its order.
    history: Vec<TextRows>,
    carries: Vec<bool>,
    /// The first record of each SK_ID_CURR given.
    seen: HashMap<String, usize>,
}

impl Gathered {
    fn with_capacity(records: usize) -> Gathered {
        Gathered {
            problems: vec![],
            objects: Vec::with_capacity(records),
            applications: TextRows::new(TABLE, None),
            history: history_tables()
                .map(|(table, field)| TextRows::new(table, Some(field)))
                .collect(),
            carries: Vec::with_capacity(records),
            seen: HashMap::new(),
        }
    }

    /// Add record `r`: its application row, its applicant (once per request) and the history
    /// rows it carries. A record that is not an object still takes an (empty) application row,
    /// so rows and records keep the same positions.
    fn add(&mut self, r: usize, record: Value) {
        let Value::Object(map) = record else {
            self.problems.push(FieldProblem {
                record: Some(r),
                field: String::new(),
                value: Some(record),
                reason: "not a JSON object".into(),
                allowed: "an object of application_test fields".into(),
            });
            self.applications
                .push((r, 0), &Map::new(), &[], &mut vec![]);
            self.objects.push(Map::new());
            self.carries.push(false);
            return;
        };
        self.applications
            .push((r, 0), &map, &[], &mut self.problems);
        let id = match map.get("SK_ID_CURR") {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.trim().to_string()),
            _ => None,
        };
        if let Some(id) = &id
            && let Some(first) = self.seen.insert(id.clone(), r)
        {
            self.problems.push(FieldProblem {
                record: Some(r),
                field: "SK_ID_CURR".into(),
                value: map.get("SK_ID_CURR").cloned(),
                reason: format!("the same applicant as record {first}"),
                allowed: "each applicant once per request".into(),
            });
        }
        let mut carried = false;
        let mut bureau_lines = HashSet::new();
        for rows in self.history.iter_mut() {
            let Some(field) = rows.field else { continue };
            let Some(given) = map.get(field) else {
                continue;
            };
            carried = true;
            let record = Carried {
                record: r,
                field,
                id: id.as_deref(),
            };
            record.add_rows(rows, given, &mut bureau_lines, &mut self.problems);
        }
        self.carries.push(carried);
        self.objects.push(map);
    }

    /// Check the gathered rows with the serving contract: the checked request, or a 422 with
    /// every problem (by record).
    fn check(self, threshold: Option<f64>) -> Result<Checked, ApiError> {
        let Gathered {
            mut problems,
            objects,
            applications,
            history,
            carries,
            ..
        } = self;
        let rows = applications.check(&objects, &mut problems)?;
        let mut carried_rows = Rows::new();
        for rows in history {
            let table = rows.table;
            carried_rows.insert(table, rows.check(&objects, &mut problems)?);
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.record);
            let bad: BTreeSet<_> = problems.iter().filter_map(|p| p.record).collect();
            return Err(ApiError::unprocessable(
                format!(
                    "{} of {} record(s) refused by the serving contract ({} problem(s))",
                    bad.len(),
                    objects.len(),
                    problems.len()
                ),
                problems,
            ));
        }
        Ok(Checked {
            rows,
            carries,
            history: carried_rows,
            records: objects,
            threshold,
            return_features: false,
        })
    }
}

/// One history array of one record.
struct Carried<'a> {
    record: usize,
    field: &'static str,
    /// The record's SK_ID_CURR, as text, when it gave one.
    id: Option<&'a str>,
}

impl Carried<'_> {
    /// Add the array's rows to `rows` (a row without SK_ID_CURR takes the record's), checking
    /// that each is an object that belongs to the record.
    fn add_rows(
        &self,
        rows: &mut TextRows,
        given: &Value,
        bureau_lines: &mut HashSet<String>,
        problems: &mut Vec<FieldProblem>,
    ) {
        let (r, field) = (self.record, self.field);
        let Value::Array(items) = given else {
            problems.push(FieldProblem {
                record: Some(r),
                field: field.into(),
                value: Some(given.clone()),
                reason: "not an array".into(),
                allowed: format!("an array of {} rows", rows.table.name()),
            });
            return;
        };
        for (k, item) in items.iter().enumerate() {
            let Value::Object(row) = item else {
                problems.push(FieldProblem {
                    record: Some(r),
                    field: format!("{field}[{k}]"),
                    value: Some(item.clone()),
                    reason: "not a JSON object".into(),
                    allowed: format!("an object of {} fields", rows.table.name()),
                });
                continue;
            };
            history_links(r, field, k, row, self.id, bureau_lines, problems);
            let defaults: Vec<(&str, &str)> = self.id.iter().map(|i| ("SK_ID_CURR", *i)).collect();
            rows.push((r, k), row, &defaults, problems);
        }
    }
}

/// A history row must belong to its record: the record's SK_ID_CURR, and for a `bureau_balance`
/// row one of the record's `bureau` lines (`bureau` comes first in [`history_tables`]).
fn history_links(
    record: usize,
    field: &str,
    position: usize,
    row: &Map<String, Value>,
    id: Option<&str>,
    bureau_lines: &mut HashSet<String>,
    problems: &mut Vec<FieldProblem>,
) {
    let text = |v: &Value| match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.trim().to_string()),
        _ => None,
    };
    if let (Some(given), Some(id)) = (row.get("SK_ID_CURR"), id)
        && text(given).is_some_and(|g| g != id)
    {
        problems.push(FieldProblem {
            record: Some(record),
            field: format!("{field}[{position}].SK_ID_CURR"),
            value: Some(given.clone()),
            reason: "not the record's SK_ID_CURR".into(),
            allowed: format!("{id} (or leave it out)"),
        });
    }
    let line = row.get("SK_ID_BUREAU");
    match field {
        "bureau" => {
            if let Some(line) = line.and_then(text) {
                bureau_lines.insert(line);
            }
        }
        "bureau_balance"
            if line
                .and_then(text)
                .is_some_and(|l| !bureau_lines.contains(&l)) =>
        {
            problems.push(FieldProblem {
                record: Some(record),
                field: format!("{field}[{position}].SK_ID_BUREAU"),
                value: line.cloned(),
                reason: "not one of the record's bureau lines".into(),
                allowed: "the SK_ID_BUREAU of a row of this record's `bureau` array".into(),
            });
        }
        _ => {}
    }
}

/// Each row of `features` as a JSON object (column → value). Floats keep every bit (shortest
/// round-trip form); a non-finite one, which JSON cannot hold, is the string "NaN", "inf" or
/// "-inf".
pub fn feature_rows(features: &RecordBatch) -> creditrisk_base::Result<Vec<Value>> {
    let schema = features.schema();
    let mut rows = vec![Map::new(); features.num_rows()];
    for (field, column) in schema.fields().iter().zip(features.columns()) {
        let values: Vec<Value> = match field.data_type() {
            DataType::Utf8 => column
                .as_string::<i32>()
                .iter()
                .map(|v| v.map_or(Value::Null, |s| Value::String(s.to_string())))
                .collect(),
            DataType::Boolean => column
                .as_boolean()
                .iter()
                .map(|v| v.map_or(Value::Null, Value::Bool))
                .collect(),
            DataType::Float64 | DataType::Float32 => cast(column, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| match v {
                    None => Value::Null,
                    Some(f) => serde_json::Number::from_f64(f)
                        .map_or_else(|| Value::String(f.to_string()), Value::Number),
                })
                .collect(),
            _ => cast(column, &DataType::Int64)?
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map_or(Value::Null, |i| Value::Number(i.into())))
                .collect(),
        };
        for (row, value) in rows.iter_mut().zip(values) {
            row.insert(field.name().clone(), value);
        }
    }
    Ok(rows.into_iter().map(Value::Object).collect())
}
