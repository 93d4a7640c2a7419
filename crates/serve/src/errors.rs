//! JSON error answers: every refusal carries a status, a message and (for 422) the problems.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use super::schema::{Documented, FieldSchema};

use creditrisk_base::error::{Error, ErrorKind};

/// One refused field of one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldProblem {
    /// 0-based index in `records` (absent for request-level problems).
    pub record: Option<usize>,
    pub field: String,
    /// The value as given (JSON), when there was one.
    pub value: Option<serde_json::Value>,
    pub reason: String,
    pub allowed: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub problems: Vec<FieldProblem>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            problems: vec![],
        }
    }

    pub fn unprocessable(message: impl Into<String>, problems: Vec<FieldProblem>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            problems,
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let status = match e.kind() {
            ErrorKind::Usage | ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::CheckFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The body of an error answer (fields in this order on the wire).
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: &'a str,
    pub status: u16,
    /// Left out when empty (every answer but a 422).
    #[serde(skip_serializing_if = "none")]
    pub problems: &'a [FieldProblem],
}

fn none(problems: &&[FieldProblem]) -> bool {
    problems.is_empty()
}

impl Documented for ErrorBody<'_> {
    const NAME: &'static str = "Error";
    const DESCRIPTION: &'static str =
        "a refusal: the message, the status, and for 422 every problem";
    fn fields() -> Vec<FieldSchema> {
        vec![
            FieldSchema::required("error", json!({"type": "string"})),
            FieldSchema::required("status", json!({"type": "integer"})),
            FieldSchema::optional(
                "problems",
                json!({"type": "array", "items": FieldProblem::reference()}),
            ),
        ]
    }
}

impl Documented for FieldProblem {
    const NAME: &'static str = "FieldProblem";
    const DESCRIPTION: &'static str = "one refused field of one record";
    fn fields() -> Vec<FieldSchema> {
        let text = json!({"type": "string"});
        vec![
            FieldSchema::required(
                "record",
                json!({"type": ["integer", "null"],
                    "description": "0-based index in records (null: the request itself)"}),
            ),
            FieldSchema::required("field", text.clone()),
            FieldSchema::required(
                "value",
                json!({"description": "the value as given, or null"}),
            ),
            FieldSchema::required("reason", text.clone()),
            FieldSchema::required("allowed", text),
        ]
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            status: self.status.as_u16(),
            problems: &self.problems,
        };
        (self.status, Json(body)).into_response()
    }
}
