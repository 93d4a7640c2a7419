//! A `/predict` or `/validate` body: parsed, limited and checked with the serving contract into
//! typed application rows, or refused with every problem (record index, field, reason, allowed).

use std::sync::Arc;

use axum::http::StatusCode;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use serde_json::{Map, Value};

use super::errors::{ApiError, FieldProblem};
use crate::serving_contract::{self, TABLE};

/// History tables a record may carry as arrays (not accepted by this server: history comes
/// from the feature store).
pub const HISTORY_FIELDS: [&str; 6] = [
    "bureau",
    "bureau_balance",
    "previous_application",
    "installments_payments",
    "credit_card_balance",
    "POS_CASH_balance",
];

/// A checked request.
pub struct Checked {
    /// Typed application rows (serving-contract schema), in request order.
    pub rows: RecordBatch,
    /// The records as given (for the audit's input digest).
    pub records: Vec<Map<String, Value>>,
    pub threshold: Option<f64>,
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
            "records, threshold",
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
    check_records(records, threshold)
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

fn check_records(records: Vec<Value>, threshold: Option<f64>) -> Result<Checked, ApiError> {
    let columns = TABLE.columns();
    let mut problems = vec![];
    let mut cells: Vec<Vec<Option<String>>> =
        vec![Vec::with_capacity(records.len()); columns.len()];
    let mut objects = Vec::with_capacity(records.len());
    for (r, record) in records.into_iter().enumerate() {
        let Value::Object(map) = record else {
            problems.push(FieldProblem {
                record: Some(r),
                field: String::new(),
                value: Some(record),
                reason: "not a JSON object".into(),
                allowed: "an object of application_test fields".into(),
            });
            for c in cells.iter_mut() {
                c.push(None);
            }
            objects.push(Map::new());
            continue;
        };
        for (key, value) in &map {
            if columns.iter().any(|c| c.name == key) {
                continue;
            }
            let (reason, allowed) = if HISTORY_FIELDS.contains(&key.as_str()) {
                (
                    "history arrays are not accepted: this server takes history from the feature store",
                    "omit it; history features come from the feature store by SK_ID_CURR",
                )
            } else {
                ("unknown field", "an application_test column")
            };
            problems.push(FieldProblem {
                record: Some(r),
                field: key.clone(),
                value: Some(value.clone()),
                reason: reason.into(),
                allowed: allowed.into(),
            });
        }
        for (i, column) in columns.iter().enumerate() {
            let text = match map.get(column.name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(other) => {
                    problems.push(FieldProblem {
                        record: Some(r),
                        field: column.name.to_string(),
                        value: Some(other.clone()),
                        reason: "wrong JSON type (boolean, array or object)".into(),
                        allowed: serving_contract::allowed(column),
                    });
                    // Checked as absent below; its problem is already recorded.
                    None
                }
            };
            cells[i].push(text);
        }
        objects.push(map);
    }
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c.name, DataType::Utf8, true))
        .collect();
    let arrays: Vec<ArrayRef> = cells
        .into_iter()
        .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
        .collect();
    let text = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let checked = serving_contract::check_batch(&text, 1).map_err(ApiError::from)?;
    for v in checked.violations {
        let record = (v.row - 1) as usize;
        let flagged = problems
            .iter()
            .any(|p| p.record == Some(record) && (p.field == v.column || p.field.is_empty()));
        if flagged {
            continue;
        }
        let value = objects.get(record).and_then(|o| o.get(&v.column)).cloned();
        problems.push(FieldProblem {
            record: Some(record),
            field: v.column,
            value,
            reason: v.reason,
            allowed: v.allowed,
        });
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.record);
        let bad: std::collections::BTreeSet<_> = problems.iter().filter_map(|p| p.record).collect();
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
        rows: checked.valid,
        records: objects,
        threshold,
    })
}
