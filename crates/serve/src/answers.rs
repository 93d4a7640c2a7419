//! The JSON objects the API answers with, as serde structs: the handlers send them and the
//! OpenAPI document ([`schema::openapi`](super::schema::openapi)) describes them from the same
//! types ([`Documented`]), so the two cannot drift apart.
//!
//! Fields are declared in byte order of their names (`PD` and `SK_ID_CURR` first): the answers
//! keep the sorted key order of `serde_json` objects, which is what clients have always received.

use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::schema::{Documented, FieldSchema};
use creditrisk_base::config::Learner;
use creditrisk_model::{Decision, Outcome, Reason};

/// `GET /health`: the process is up.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
}

impl Health {
    pub const OK: Health = Health { status: "ok" };
}

/// `GET /ready`: a model is loaded, and which.
#[derive(Clone, Debug, Serialize)]
pub struct Ready {
    pub model_name: String,
    pub model_version: String,
    pub status: &'static str,
}

/// `GET /metadata`: the model served and its provenance.
#[derive(Clone, Debug, Serialize)]
pub struct Metadata {
    pub bundle_sha256: String,
    pub feature_sql_sha256: String,
    pub learner: Learner,
    pub model_name: String,
    /// The reference the server resolves (and re-resolves on reload).
    pub model_reference: String,
    pub model_version: String,
    pub pd_bands: Vec<f64>,
    pub reason_codes: usize,
    /// The tracker's run when the training was tracked, else the bundle's own run id.
    pub run_id: String,
    pub threshold: f64,
    pub training_date: String,
}

/// `POST /validate`: every record passes the serving contract.
#[derive(Clone, Debug, Serialize)]
pub struct Validated {
    pub records: usize,
    pub request_id: String,
    pub valid: bool,
}

/// `POST /predict`: one prediction per record, in request order.
#[derive(Clone, Debug, Serialize)]
pub struct Predictions {
    pub model_name: String,
    pub model_version: String,
    pub predictions: Vec<Prediction>,
    pub request_id: String,
    /// The threshold the decisions used (the request's what-if, else the model's).
    pub threshold: f64,
}

/// One record's prediction.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    #[serde(rename = "PD")]
    pub pd: f64,
    #[serde(rename = "SK_ID_CURR")]
    pub sk_id_curr: i64,
    pub band: String,
    pub decision: Outcome,
    /// The record's feature-store row, when the request asked for it (`return_features`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Value>,
    #[serde(serialize_with = "sorted_keys")]
    pub reasons: Vec<Reason>,
}

impl Prediction {
    pub fn new(decision: Decision, features: Option<Value>) -> Prediction {
        Prediction {
            pd: decision.pd,
            sk_id_curr: decision.sk_id_curr,
            band: decision.band,
            decision: decision.decision,
            features,
            reasons: decision.reasons,
        }
    }
}

/// `POST /admin/reload`: the model now served.
#[derive(Clone, Debug, Serialize)]
pub struct Reloaded {
    pub model_name: String,
    pub model_version: String,
    pub reloaded: bool,
}

/// Serialise through a `serde_json::Value`, whose object keys sort: a type of another crate
/// (a [`Reason`]) then keeps the sorted key order of the rest of the answer.
pub fn sorted_keys<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    serde_json::to_value(value)
        .map_err(serde::ser::Error::custom)?
        .serialize(s)
}

/// The schema of a PD.
pub fn pd_schema() -> Value {
    json!({"type": "number", "minimum": 0, "maximum": 1})
}

/// The schema of a risk band.
pub fn band_schema() -> Value {
    described("string", "risk band, \"A\" (safest) upwards")
}

/// The schema of a decision's reasons.
pub fn reasons_schema() -> Value {
    json!({"type": "array", "items": Reason::reference()})
}

/// The schema of a decision: approve below the threshold, decline at or above it.
pub fn outcome_schema() -> Value {
    let outcomes = [Outcome::Approve, Outcome::Decline].map(Outcome::as_str);
    json!({"type": "string", "enum": outcomes})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn described(kind: &str, description: &str) -> Value {
    json!({"type": kind, "description": description})
}

impl Documented for Health {
    const NAME: &'static str = "Health";
    const DESCRIPTION: &'static str = "the process is up";
    fn fields() -> Vec<FieldSchema> {
        vec![FieldSchema::required("status", json!({"const": "ok"}))]
    }
}

impl Documented for Ready {
    const NAME: &'static str = "Ready";
    const DESCRIPTION: &'static str = "a model is loaded";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("model_name", string()),
            FieldSchema::required("model_version", string()),
            FieldSchema::required("status", json!({"const": "ready"})),
        ]
    }
}

impl Documented for Metadata {
    const NAME: &'static str = "Metadata";
    const DESCRIPTION: &'static str = "the model served and its provenance";
    fn fields() -> Vec<FieldSchema> {
        let number = json!({"type": "number"});
        vec![
            FieldSchema::required("bundle_sha256", string()),
            FieldSchema::required("feature_sql_sha256", string()),
            FieldSchema::required("learner", string()),
            FieldSchema::required("model_name", string()),
            FieldSchema::required(
                "model_reference",
                described("string", "the reference resolved at start-up and on reload"),
            ),
            FieldSchema::required(
                "model_version",
                described(
                    "string",
                    "registry version, or \"path\" for a bundle folder",
                ),
            ),
            FieldSchema::required("pd_bands", json!({"type": "array", "items": number})),
            FieldSchema::required("reason_codes", json!({"type": "integer", "minimum": 0})),
            FieldSchema::required("run_id", string()),
            FieldSchema::required("threshold", number),
            FieldSchema::required("training_date", string()),
        ]
    }
}

impl Documented for Validated {
    const NAME: &'static str = "Validated";
    const DESCRIPTION: &'static str = "every record passes the serving contract";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("records", json!({"type": "integer", "minimum": 1})),
            FieldSchema::required("request_id", string()),
            FieldSchema::required("valid", json!({"const": true})),
        ]
    }
}

impl Documented for Predictions {
    const NAME: &'static str = "Predictions";
    const DESCRIPTION: &'static str = "one prediction per record, in request order";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("model_name", string()),
            FieldSchema::required("model_version", string()),
            FieldSchema::required(
                "predictions",
                json!({"type": "array", "items": Prediction::reference()}),
            ),
            FieldSchema::required("request_id", string()),
            FieldSchema::required(
                "threshold",
                described("number", "the threshold the decisions used"),
            ),
        ]
    }
}

impl Documented for Prediction {
    const NAME: &'static str = "Prediction";
    const DESCRIPTION: &'static str = "one record's PD, decision, band and reasons";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("PD", pd_schema()),
            FieldSchema::required("SK_ID_CURR", json!({"type": "integer"})),
            FieldSchema::required("band", band_schema()),
            FieldSchema::required("decision", outcome_schema()),
            FieldSchema::optional(
                "features",
                described("object", "the record's feature-store row (return_features)"),
            ),
            FieldSchema::required("reasons", reasons_schema()),
        ]
    }
}

impl Documented for Reason {
    const NAME: &'static str = "Reason";
    const DESCRIPTION: &'static str = "a feature that raised the PD (a principal reason)";
    /// In the order answers and audit lines write them: sorted ([`sorted_keys`]).
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required(
                "contribution",
                described("number", "contribution to the log-odds"),
            ),
            FieldSchema::required("feature", string()),
            FieldSchema::required(
                "statement",
                described(
                    "string",
                    "the reviewed adverse-action sentence with the value and its unit",
                ),
            ),
            FieldSchema::required(
                "value",
                json!({"description": "the applicant's input value (number, text, or null)"}),
            ),
        ]
    }
}

impl Documented for Reloaded {
    const NAME: &'static str = "Reloaded";
    const DESCRIPTION: &'static str = "the model reference was re-resolved and swapped in";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("model_name", string()),
            FieldSchema::required("model_version", string()),
            FieldSchema::required("reloaded", json!({"const": true})),
        ]
    }
}
