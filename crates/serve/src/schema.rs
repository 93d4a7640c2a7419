//! The request JSON Schema, derived from the catalog's application columns (the same columns and
//! domains the serving contract checks), and the OpenAPI document, whose answers are described by
//! the structs the handlers send ([`Documented`]).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::answers::{Health, Metadata, Prediction, Predictions, Ready, Reloaded, Validated};
use super::audit::AuditRecord;
use super::errors::{ErrorBody, FieldProblem};
use super::request::history_tables;
use creditrisk_base::catalog::{DAYS_SENTINEL, Domain, Kind, RawTable};
use creditrisk_model::Reason;
use creditrisk_model::serving_contract::{self, TABLE};

/// A JSON object the server writes (an answer, an audit line) whose schema is written beside its
/// struct: the OpenAPI document is built from these, and a test holds what each struct
/// serialises to its field list.
pub trait Documented: Serialize {
    /// Its name under `components/schemas`.
    const NAME: &'static str;
    /// What it is, in a few words.
    const DESCRIPTION: &'static str;

    /// Every field, in the order it is serialised.
    fn fields() -> Vec<FieldSchema>;

    /// The object's JSON Schema: its fields, the always-present ones required, no others.
    fn schema() -> Value {
        let fields = Self::fields();
        let required: Vec<&str> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        let properties: Map<String, Value> = fields
            .into_iter()
            .map(|f| (f.name.to_string(), f.schema))
            .collect();
        json!({
            "type": "object",
            "description": Self::DESCRIPTION,
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// A reference to its schema under `components/schemas`.
    fn reference() -> Value {
        json!({"$ref": format!("#/components/schemas/{}", Self::NAME)})
    }
}

/// One field of a [`Documented`] object.
pub struct FieldSchema {
    pub name: &'static str,
    pub schema: Value,
    /// Always serialised (an optional one is left out when it has no value).
    pub required: bool,
}

impl FieldSchema {
    pub fn required(name: &'static str, schema: Value) -> FieldSchema {
        FieldSchema {
            name,
            schema,
            required: true,
        }
    }

    pub fn optional(name: &'static str, schema: Value) -> FieldSchema {
        FieldSchema {
            name,
            schema,
            required: false,
        }
    }
}

/// Every documented object, by name: the OpenAPI document's `components/schemas`.
fn component_schemas() -> Map<String, Value> {
    [
        (Health::NAME, Health::schema()),
        (Ready::NAME, Ready::schema()),
        (Metadata::NAME, Metadata::schema()),
        (Validated::NAME, Validated::schema()),
        (Predictions::NAME, Predictions::schema()),
        (Prediction::NAME, Prediction::schema()),
        (Reason::NAME, Reason::schema()),
        (Reloaded::NAME, Reloaded::schema()),
        (ErrorBody::NAME, ErrorBody::schema()),
        (FieldProblem::NAME, FieldProblem::schema()),
        (AuditRecord::NAME, AuditRecord::schema()),
    ]
    .into_iter()
    .map(|(name, schema)| (name.to_string(), schema))
    .collect()
}

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

/// A JSON answer described by `T`'s schema.
fn answer<T: Documented>(what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {"schema": T::reference()}}})
}

/// The OpenAPI 3.1 document of the routes.
pub fn openapi() -> Value {
    let error = answer::<ErrorBody>("error");
    let body =
        json!({"required": true, "content": {"application/json": {"schema": request_schema()}}});
    let document = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"type": "object"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "creditrisk", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": component_schemas(),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/health": {"get": {"security": [], "responses": {"200": answer::<Health>("alive")}}},
            "/ready": {"get": {"security": [], "responses": {"200": answer::<Ready>("a model is loaded")}}},
            "/metadata": {"get": {"responses": {"200": answer::<Metadata>("the model served"), "401": error}}},
            "/schema": {"get": {"responses": {"200": document("request JSON Schema"), "401": error}}},
            "/openapi.json": {"get": {"responses": {"200": document("this document"), "401": error}}},
            "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text"}, "401": error}}},
            "/validate": {"post": {"requestBody": body, "responses": {
                "200": answer::<Validated>("every record passes the serving contract"),
                "400": error, "401": error, "413": error, "422": error, "503": error}}},
            "/predict": {"post": {"requestBody": body, "responses": {
                "200": answer::<Predictions>("one prediction per record: SK_ID_CURR, PD, decision, \
                    band, reasons (each: feature, value, contribution and statement, the reviewed \
                    adverse-action sentence with the value and its unit); each is also written to \
                    the audit log (components/schemas/AuditRecord)"),
                "400": error, "401": error, "413": error, "422": error, "503": error}}},
            "/admin/reload": {"post": {"responses": {
                "200": answer::<Reloaded>("the model reference was re-resolved and swapped in"),
                "401": error, "403": error}}},
        },
    })
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    use super::*;
    use crate::audit::AuditContext;
    use creditrisk_base::config::Learner;
    use creditrisk_model::{Decision, Outcome};

    /// The keys of a JSON object, in the order they were written.
    fn keys_in_order(json: &str) -> Vec<String> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
                let mut keys = vec![];
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(keys)
            }
        }
        let mut de = serde_json::Deserializer::from_str(json);
        de.deserialize_map(Keys).unwrap()
    }

    /// `value` serialises exactly the fields its schema lists, in that order: every one when
    /// `complete`, else the required ones.
    fn assert_matches_schema<T: Documented>(value: &T, complete: bool) {
        assert_written_as_listed::<T>(&serde_json::to_string(value).unwrap(), complete);
    }

    /// `json`, a `T` as written, holds exactly the fields its schema lists, in that order.
    fn assert_written_as_listed<T: Documented>(json: &str, complete: bool) {
        let written = keys_in_order(json);
        let listed: Vec<&str> = T::fields()
            .iter()
            .filter(|f| complete || f.required)
            .map(|f| f.name)
            .collect();
        assert_eq!(written, listed, "{}", T::NAME);
        let schema = T::schema();
        let properties = schema["properties"].as_object().unwrap();
        assert!(
            written.iter().all(|k| properties.contains_key(k)),
            "{}",
            T::NAME
        );
    }

    /// The exact bytes the answer was built from before: a `serde_json` object (sorted keys).
    fn assert_bytes(value: &impl Serialize, expected: Value) {
        assert_eq!(serde_json::to_string(value).unwrap(), expected.to_string());
    }

    fn decision(id: i64) -> Decision {
        Decision {
            sk_id_curr: id,
            pd: 0.125,
            decision: Outcome::Decline,
            band: "C".into(),
            reasons: vec![Reason {
                feature: "EXT_SOURCE_2".into(),
                value: json!(0.25),
                contribution: 0.5,
                statement: "External score 2 is low (0.25)".into(),
            }],
        }
    }

    #[test]
    fn predictions_and_audit_lines_match_their_schemas_and_bytes() {
        let decisions = [decision(100_002), decision(100_003)];
        let features = json!({"SK_ID_CURR": 100_002, "AMT_CREDIT": 1.5});
        let answer = Predictions {
            model_name: "pd".into(),
            model_version: "3".into(),
            predictions: vec![
                Prediction::new(decisions[0].clone(), Some(features.clone())),
                Prediction::new(decisions[1].clone(), None),
            ],
            request_id: "abc-123".into(),
            threshold: 0.5,
        };
        assert_matches_schema(&answer, true);
        assert_matches_schema(&answer.predictions[0], true);
        assert_matches_schema(&answer.predictions[1], false);
        // A reason of another crate is written through a `Value` (`sorted_keys`).
        let reason = serde_json::to_value(&decisions[0].reasons[0]).unwrap();
        assert_written_as_listed::<Reason>(&reason.to_string(), true);
        let d = &decisions[0];
        let mut first = json!({
            "SK_ID_CURR": d.sk_id_curr,
            "PD": d.pd,
            "decision": d.decision,
            "band": d.band,
            "reasons": d.reasons,
        });
        first["features"] = features;
        let d = &decisions[1];
        let second = json!({
            "SK_ID_CURR": d.sk_id_curr,
            "PD": d.pd,
            "decision": d.decision,
            "band": d.band,
            "reasons": d.reasons,
        });
        assert_bytes(
            &answer,
            json!({
                "request_id": "abc-123",
                "model_name": "pd",
                "model_version": "3",
                "threshold": 0.5,
                "predictions": [first, second],
            }),
        );

        let context = AuditContext {
            request_id: "abc-123",
            time: "2026-01-01T00:00:00.000000Z",
            model_name: "pd",
            model_version: "3",
            bundle_sha256: "0f",
            threshold: 0.5,
        };
        for input in [Some("ab"), None] {
            let line = context.record(d, input);
            // The writer adds seq, prev_sha256 and sha256 after the record's members.
            let mut written = String::new();
            crate::audit::chain_line(
                &mut written,
                &serde_json::to_string(&line).unwrap(),
                1,
                crate::audit::GENESIS_SHA256,
            );
            assert_written_as_listed::<AuditRecord>(written.trim_end(), true);
            assert_bytes(
                &line,
                json!({
                    "request_id": "abc-123",
                    "time": "2026-01-01T00:00:00.000000Z",
                    "model_name": "pd",
                    "model_version": "3",
                    "bundle_sha256": "0f",
                    "input_sha256": input,
                    "SK_ID_CURR": d.sk_id_curr,
                    "PD": d.pd,
                    "decision": d.decision,
                    "band": d.band,
                    "threshold": 0.5,
                    "reasons": d.reasons,
                }),
            );
        }
    }

    #[test]
    fn small_answers_match_their_schemas_and_bytes() {
        assert_matches_schema(&Health::OK, true);
        assert_bytes(&Health::OK, json!({"status": "ok"}));
        let ready = Ready {
            model_name: "pd".into(),
            model_version: "path".into(),
            status: "ready",
        };
        assert_matches_schema(&ready, true);
        assert_bytes(
            &ready,
            json!({"status": "ready", "model_name": "pd", "model_version": "path"}),
        );
        let validated = Validated {
            records: 3,
            request_id: "r".into(),
            valid: true,
        };
        assert_matches_schema(&validated, true);
        assert_bytes(
            &validated,
            json!({"valid": true, "records": 3, "request_id": "r"}),
        );
        let reloaded = Reloaded {
            model_name: "pd".into(),
            model_version: "4".into(),
            reloaded: true,
        };
        assert_matches_schema(&reloaded, true);
        assert_bytes(
            &reloaded,
            json!({"reloaded": true, "model_name": "pd", "model_version": "4"}),
        );
        let metadata = Metadata {
            bundle_sha256: "0f".into(),
            feature_sql_sha256: "1e".into(),
            learner: Learner::GradientBoosting,
            model_name: "pd".into(),
            model_reference: "models:/pd/4".into(),
            model_version: "4".into(),
            pd_bands: vec![0.02, 0.05],
            reason_codes: 4,
            run_id: "run".into(),
            threshold: 0.5,
            training_date: "2026-01-01T00:00:00Z".into(),
        };
        assert_matches_schema(&metadata, true);
        assert_bytes(
            &metadata,
            json!({
                "model_name": "pd",
                "model_version": "4",
                "model_reference": "models:/pd/4",
                "run_id": "run",
                "learner": Learner::GradientBoosting,
                "threshold": 0.5,
                "pd_bands": [0.02, 0.05],
                "reason_codes": 4,
                "training_date": "2026-01-01T00:00:00Z",
                "bundle_sha256": "0f",
                "feature_sql_sha256": "1e",
            }),
        );
    }

    #[test]
    fn errors_match_their_schemas() {
        let problems = [FieldProblem {
            record: Some(1),
            field: "AMT_CREDIT".into(),
            value: Some(json!("lots")),
            reason: "not a number".into(),
            allowed: "a number".into(),
        }];
        let refused = ErrorBody {
            error: "refused",
            status: 422,
            problems: &problems,
        };
        assert_matches_schema(&refused, true);
        assert_matches_schema(&problems[0], true);
        let plain = ErrorBody {
            error: "no such route",
            status: 404,
            problems: &[],
        };
        assert_matches_schema(&plain, false);
    }

    /// Every `$ref` of the document names one of its component schemas.
    #[test]
    fn openapi_references_resolve() {
        fn refs(value: &Value, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        found.push(r.clone());
                    }
                    map.values().for_each(|v| refs(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
                _ => {}
            }
        }
        let document = openapi();
        let mut found = vec![];
        refs(&document, &mut found);
        assert!(found.len() > 10, "{found:?}");
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(document["components"]["schemas"].get(name).is_some(), "{r}");
        }
    }
}
