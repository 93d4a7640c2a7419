//! The request JSON Schema, derived from the catalog's application columns (the same columns and
//! domains the serving contract checks), and the OpenAPI document.

use serde_json::{Map, Value, json};

use super::request::history_tables;
use creditrisk_base::catalog::{DAYS_SENTINEL, Domain, Kind, RawTable};
use creditrisk_model::serving_contract::{self, TABLE};

/// JSON Schema of one record.
pub fn record_schema() -> Value {
    let (mut properties, required) = columns_schema(TABLE, &[]);
    for (table, field) in history_tables() {
        let (rows, required) = columns_schema(table, &["SK_ID_CURR"]);
        properties.insert(
            field.into(),
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": rows,
                    "required": required,
                    "additionalProperties": false,
                },
                "description": format!(
                    "The applicant's {} rows (SK_ID_CURR may be left out: it is the record's).",
                    table.name()
                ),
            }),
        );
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
        "description": format!(
            "One application ({} columns) with, optionally, its history rows. A record that \
             carries any history array is scored on exactly the history it carries (an absent \
             array: no rows of that table); a record without is scored with its history from the \
             feature store by SK_ID_CURR (an applicant not in it has no history).",
            TABLE.name()
        ),
    })
}

/// Property schemas of a table's columns, and the required ones (`optional` excepted).
fn columns_schema(table: RawTable, optional: &[&str]) -> (Map<String, Value>, Vec<Value>) {
    let mut properties = Map::new();
    let mut required = vec![];
    for column in table.columns() {
        let mut s = Map::new();
        let kind = match column.kind {
            Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Text => "string",
        };
        s.insert(
            "type".into(),
            if column.nullable {
                json!([kind, "null"])
            } else {
                json!(kind)
            },
        );
        match column.domain {
            Domain::Id => {
                s.insert("exclusiveMinimum".into(), json!(0));
            }
            Domain::Binary => {
                s.insert("enum".into(), json!([0, 1, null]));
            }
            Domain::Days | Domain::Months => {
                s.insert("maximum".into(), json!(0));
            }
            Domain::DaysOrSentinel => {
                s.insert(
                    "anyOf".into(),
                    json!([{"maximum": 0}, {"const": DAYS_SENTINEL}, {"type": "null"}]),
                );
            }
            Domain::NonNegative => {
                s.insert("minimum".into(), json!(0));
            }
            Domain::UnitInterval => {
                s.insert("minimum".into(), json!(0));
                s.insert("maximum".into(), json!(1));
            }
            Domain::Range(lo, hi) => {
                s.insert("minimum".into(), json!(lo));
                s.insert("maximum".into(), json!(hi));
            }
            Domain::Categories(v) => {
                let mut values: Vec<Value> = v.iter().map(|c| json!(c)).collect();
                if column.nullable {
                    values.push(Value::Null);
                }
                s.insert("enum".into(), Value::Array(values));
            }
            Domain::Any => {}
        }
        s.insert(
            "description".into(),
            json!(serving_contract::allowed(&column)),
        );
        properties.insert(column.name.into(), Value::Object(s));
        if !column.nullable && !optional.contains(&column.name) {
            required.push(json!(column.name));
        }
    }
    (properties, required)
}

/// JSON Schema of a `/predict` or `/validate` body.
pub fn request_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "creditrisk scoring request",
        "type": "object",
        "properties": {
            "records": {"type": "array", "minItems": 1, "items": record_schema()},
            "threshold": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "return_features": {"type": ["boolean", "null"],
                "description": "answer each prediction with its feature-store row"},
        },
        "required": ["records"],
        "additionalProperties": false,
    })
}

/// The OpenAPI 3.1 document of the routes.
pub fn openapi() -> Value {
    let error = json!({"description": "error", "content": {"application/json": {"schema": {
        "type": "object", "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"},
            "problems": {"type": "array", "items": {"type": "object", "properties": {
                "record": {"type": ["integer", "null"]}, "field": {"type": "string"},
                "value": {}, "reason": {"type": "string"}, "allowed": {"type": "string"}}}}}}}}});
    let body =
        json!({"required": true, "content": {"application/json": {"schema": request_schema()}}});
    let ok = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"type": "object"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "creditrisk", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {"security": [], "responses": {"200": ok("alive")}}},
            "/ready": {"get": {"security": [], "responses": {"200": ok("a model is loaded")}}},
            "/metadata": {"get": {"responses": {"200": ok("the model served"), "401": error}}},
            "/schema": {"get": {"responses": {"200": ok("request JSON Schema"), "401": error}}},
            "/openapi.json": {"get": {"responses": {"200": ok("this document"), "401": error}}},
            "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text"}, "401": error}}},
            "/validate": {"post": {"requestBody": body, "responses": {
                "200": ok("every record passes the serving contract"),
                "400": error, "401": error, "413": error, "422": error, "503": error}}},
            "/predict": {"post": {"requestBody": body, "responses": {
                "200": ok("one prediction per record: SK_ID_CURR, PD, decision, band, reasons \
                    (each: feature, value, contribution and statement, the reviewed \
                    adverse-action sentence with the value and its unit)"),
                "400": error, "401": error, "413": error, "422": error, "503": error}}},
            "/admin/reload": {"post": {"responses": {
                "200": ok("the model reference was re-resolved and swapped in"),
                "401": error, "403": error}}},
        },
    })
}
