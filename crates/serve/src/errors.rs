//! JSON error answers: every refusal carries a status, a message and (for 422) the problems.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "none")]
    problems: &'a [FieldProblem],
}

fn none(problems: &&[FieldProblem]) -> bool {
    problems.is_empty()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.message,
            status: self.status.as_u16(),
            problems: &self.problems,
        };
        (self.status, Json(body)).into_response()
    }
}
