//! The routes, and the middleware every request passes: request id, bearer token, the body
//! (read within `serving.body_timeout_ms`, 413 early on Content-Length), timeout and metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use datafusion::arrow::array::RecordBatch;
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::answers::{Health, Metadata, Prediction, Predictions, Ready, Reloaded, Validated};
use super::audit::{AuditContext, AuditRecord};
use super::errors::ApiError;
use super::request;
use super::schema;
use super::state::AppState;
use creditrisk_model::{Cancel, ModelBundle, ScoreOptions, score_until};

pub const REQUEST_ID: &str = "x-request-id";

/// The request id of one request (accepted from `X-Request-ID` or generated).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.opts.serving.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metadata", get(metadata))
        .route("/schema", get(json_schema))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/validate", post(validate))
        .route("/predict", post(predict))
        .route("/admin/reload", post(reload))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn generated_id() -> String {
    use std::sync::OnceLock;
    static BOOT: OnceLock<u64> = OnceLock::new();
    let boot = BOOT.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    format!(
        "{boot:016x}-{:010x}",
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// An accepted X-Request-ID: 1 to 64 characters of `[A-Za-z0-9._:-]` (it is echoed, logged and
/// written to the audit log, so nothing that could be read as markup, a path or a new field);
/// any other is replaced by a generated id.
fn acceptable_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    ((1..=64).contains(&s.len()) && s.bytes().all(allowed)).then(|| s.to_string())
}

/// Constant-time equality (the time depends on the lengths only).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        diff |= usize::from(given.get(i).copied().unwrap_or(!e) ^ e);
    }
    diff == 0
}

fn authorised(state: &AppState, req: &Request) -> bool {
    let Some(token) = &state.opts.token else {
        return true;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    same_secret(given.as_bytes(), token.as_bytes())
}

async fn edge(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(acceptable_id)
        .unwrap_or_else(generated_id);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let in_flight = state.metrics.in_flight(&route);
    let open = matches!(route.as_str(), "/health" | "/ready");
    let mut response = if !open && !authorised(&state, &req) {
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
            .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    } else if let Some(refused) = buffer_body(&state, &mut req).await {
        refused
    } else {
        req.extensions_mut().insert(RequestId(id.clone()));
        let timeout = Duration::from_millis(state.opts.serving.request_timeout_ms);
        let deadline = tokio::time::Instant::now() + timeout;
        req.extensions_mut().insert(Deadline(deadline));
        if route == "/predict" {
            // Times itself out up to its audit write, never during it (see `predict`).
            next.run(req).await
        } else {
            tokio::time::timeout_at(deadline, next.run(req))
                .await
                .unwrap_or_else(|_| timed_out(timeout).into_response())
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    drop(in_flight);
    state.metrics.request(&route, status, elapsed);
    // No applicant data: the audit log holds the decisions.
    tracing::info!(
        request_id = %id,
        route = %route,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// Replace the body by its bytes, read within `serving.body_timeout_ms` and at most
/// `serving.max_body_bytes` (a Content-Length above it is refused before reading); returns the
/// refusal, which closes the connection: the rest of the body is never read.
async fn buffer_body(state: &AppState, req: &mut Request) -> Option<Response> {
    let serving = &state.opts.serving;
    let limit = serving.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let refuse = |e: ApiError| {
        let mut r = e.into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        Some(r)
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return refuse(too_large(limit));
    }
    let body = std::mem::take(req.body_mut());
    let timeout = Duration::from_millis(serving.body_timeout_ms);
    let read = http_body_util::Limited::new(body, limit).collect();
    match tokio::time::timeout(timeout, read).await {
        Err(_) => refuse(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request body not received within {} ms (serving.body_timeout_ms)",
                timeout.as_millis()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => refuse(too_large(limit)),
        Ok(Err(e)) => refuse(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unreadable body: {e}"),
        )),
        Ok(Ok(collected)) => {
            *req.body_mut() = axum::body::Body::from(collected.to_bytes());
            None
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body over {limit} bytes (serving.max_body_bytes)"),
    )
}

/// When a request must be answered by (`serving.request_timeout_ms` after it arrived).
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub tokio::time::Instant);

fn timed_out(timeout: Duration) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "request timed out after {} ms (serving.request_timeout_ms)",
            timeout.as_millis()
        ),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route; see /openapi.json")
}

async fn health() -> Json<Health> {
    Json(Health::OK)
}

async fn ready(State(state): State<Arc<AppState>>) -> Json<Ready> {
    let m = state.model();
    Json(Ready {
        model_name: m.name.clone(),
        model_version: m.version.clone(),
        status: "ready",
    })
}

async fn metadata(State(state): State<Arc<AppState>>) -> Json<Metadata> {
    let m = state.model();
    let b = &m.bundle;
    Json(Metadata {
        bundle_sha256: b.bundle_sha256.clone(),
        feature_sql_sha256: b.feature_sql.sha256(),
        learner: b.card.learner,
        model_name: m.name.clone(),
        model_reference: state.reference.to_string(),
        model_version: m.version.clone(),
        pd_bands: b.card.pd_bands.clone(),
        reason_codes: b.card.reason_codes,
        run_id: (b.metadata.tracking_run_id.clone()).unwrap_or_else(|| b.metadata.run_id.clone()),
        threshold: b.card.decision_threshold,
        training_date: b.metadata.finished_at.clone(),
    })
}

async fn json_schema() -> Json<Value> {
    Json(schema::request_schema())
}

async fn openapi() -> Json<Value> {
    Json(schema::openapi())
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let m = state.model();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&m.name, &m.version),
    )
        .into_response()
}

/// The body as bytes: 413 beyond `serving.max_body_bytes`, 400 when unreadable.
fn body_bytes(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(state.opts.serving.max_body_bytes)
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, format!("unreadable body: {e}"))
        }
    })
}

fn checked(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<request::Checked, ApiError> {
    let bytes = body_bytes(state, body)?;
    request::check(&bytes, state.opts.serving.max_records).inspect_err(|e| {
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            let records: std::collections::BTreeSet<_> =
                e.problems.iter().filter_map(|p| p.record).collect();
            state.metrics.rejected(records.len().max(1) as u64);
        }
    })
}

async fn validate(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Validated>, ApiError> {
    let c = checked(&state, body)?;
    Ok(Json(Validated {
        records: c.rows.num_rows(),
        request_id: id.0,
        valid: true,
    }))
}

/// Check, featurise and score before the deadline; then audit and answer. The audit write is
/// never cut short by the timeout, so a decision is either answered and audited or neither.
async fn predict(
    State(state): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Extension(Deadline(deadline)): Extension<Deadline>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Predictions>, ApiError> {
    let model = state.model();
    // Dropped when this future is (client gone, or the deadline below): the scoring then stops.
    let cancel = Cancel::default();
    let _stop_when_abandoned = cancel.on_drop();
    let work = async {
        let c = checked(&state, body)?;
        let features = c.features(&model.engine).await?;
        plausible(&state, &c, &model.bundle, &features)?;
        let options = ScoreOptions {
            explain: true,
            threshold: c.threshold,
        };
        let bundle = model.bundle.clone();
        let scored = score_until(bundle, features.clone(), options, cancel.clone()).await?;
        Ok::<_, ApiError>((c, features, scored))
    };
    let timeout = Duration::from_millis(state.opts.serving.request_timeout_ms);
    let (c, features, scored) = tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| timed_out(timeout))??;
    let decisions = scored.decisions();
    let feature_rows = if c.return_features {
        Some(request::feature_rows(&features)?)
    } else {
        None
    };
    let digests = input_digests(&c.records);
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let context = AuditContext {
        request_id: &id.0,
        time: &time,
        model_name: &model.name,
        model_version: &model.version,
        bundle_sha256: &model.bundle.bundle_sha256,
        threshold: scored.threshold,
    };
    let records: Vec<AuditRecord> = decisions
        .iter()
        .map(|d| context.record(d, digests.get(&d.sk_id_curr).map(String::as_str)))
        .collect();
    state.audit.append(&records).await?;
    for d in &decisions {
        state.metrics.decision(d.decision.as_str());
    }
    let mut rows = feature_rows.map(Vec::into_iter);
    let predictions = decisions
        .into_iter()
        .map(|d| Prediction::new(d, rows.as_mut().and_then(Iterator::next)))
        .collect();
    Ok(Json(Predictions {
        model_name: model.name.clone(),
        model_version: model.version.clone(),
        predictions,
        request_id: id.0,
        threshold: scored.threshold,
    }))
}

/// 422 naming every numeric feature far outside its training range (`serving.plausibility_factor`),
/// by the record's SK_ID_CURR: a typo or a unit error must not be scored as if it were normal.
fn plausible(
    state: &AppState,
    checked: &request::Checked,
    bundle: &ModelBundle,
    features: &RecordBatch,
) -> Result<(), ApiError> {
    let factor = state.opts.serving.plausibility_factor;
    let found = bundle.implausible(features, factor)?;
    if found.is_empty() {
        return Ok(());
    }
    let refused = checked.implausible(&found, factor)?;
    let records: std::collections::BTreeSet<_> =
        refused.problems.iter().filter_map(|p| p.record).collect();
    state.metrics.rejected(records.len().max(1) as u64);
    Err(refused)
}

/// sha256 of each record as given (compact JSON), by SK_ID_CURR: the feature SQL orders rows by
/// SK_ID_CURR, so each decision finds its request record by id.
fn input_digests(records: &[Map<String, Value>]) -> HashMap<i64, String> {
    records
        .iter()
        .map(|r| {
            let id = r.get("SK_ID_CURR").and_then(Value::as_i64).or_else(|| {
                r.get("SK_ID_CURR")
                    .and_then(Value::as_str)
                    .and_then(|s| s.trim().parse().ok())
            });
            let canonical = serde_json::to_vec(r).unwrap_or_default();
            (
                id.unwrap_or_default(),
                hex::encode(Sha256::digest(&canonical)),
            )
        })
        .collect()
}

async fn reload(State(state): State<Arc<AppState>>) -> Result<Json<Reloaded>, ApiError> {
    if state.opts.token.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reload needs a bearer token: set serving.auth_token or its environment variable",
        ));
    }
    let m = state.reload().await?;
    Ok(Json(Reloaded {
        model_name: m.name.clone(),
        model_version: m.version.clone(),
        reloaded: true,
    }))
}
