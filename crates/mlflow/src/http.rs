//! The HTTP side of the REST backend: one `reqwest` client with timeouts, MLflow's credentials
//! from the environment, bounded retries with exponential backoff, and MLflow's error shape
//! parsed into something callers can match (`error_code`).
//!
//! Retry rule: connection failures and timeouts and HTTP 5xx are retried (a server restarting or a
//! proxy hiccup); 4xx never is (the request is wrong and stays wrong). Requests that create
//! something numbered (a model version) are retried after a 5xx or timeout only when the server
//! cannot have acted on them (502/503/504 from a gateway, or no connection), so a retry never
//! registers the same model twice.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use creditrisk_base::error::{Error, Result};

/// Tries per request (the first plus four retries) and the first pause (doubled each time):
/// 0.2 + 0.4 + 0.8 + 1.6 s, so an unreachable server is reported after about 3 s.
const TRIES: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Per request; artifact transfers of a model bundle fit well within it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Credentials, from MLflow's own environment variables.
#[derive(Clone)]
pub(crate) enum Auth {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

/// Never print a secret (a `Tracker` is `Debug`).
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
        }
    }
}

impl Auth {
    /// `MLFLOW_TRACKING_TOKEN` (Bearer), else `MLFLOW_TRACKING_USERNAME` and
    /// `MLFLOW_TRACKING_PASSWORD` (Basic), else none.
    pub(crate) fn from_env() -> Auth {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
            return Auth::Bearer(token);
        }
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(user), password) => Auth::Basic {
                user,
                password: password.unwrap_or_default(),
            },
            _ => Auth::None,
        }
    }
}

/// Whether a request may be sent again after the server may have acted on it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and idempotent writes (set a tag, move an alias, log params).
    Always,
    /// Creations: only when the request cannot have been processed.
    UnlessProcessed,
}

/// A failed call, before it becomes an [`Error`]: callers match on the MLflow `error_code`
/// (`RESOURCE_DOES_NOT_EXIST`, `RESOURCE_ALREADY_EXISTS`, …).
#[derive(Debug)]
pub(crate) enum CallError {
    /// The server answered 4xx (or 5xx after the retries).
    Api {
        status: u16,
        code: Option<String>,
        message: String,
        what: String,
    },
    /// No answer: connection refused, DNS, timeout. `maybe_processed`: the request may have
    /// reached the server (a timeout rather than a refused connection).
    Unreachable {
        what: String,
        detail: String,
        maybe_processed: bool,
    },
    /// The answer was not what MLflow sends.
    Protocol { what: String, detail: String },
}

impl CallError {
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            CallError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            CallError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A REST call's outcome.
pub(crate) type Call<T> = std::result::Result<T, CallError>;

/// The HTTP client of one tracking server.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    /// `http(s)://host[:port][/prefix]`, no trailing slash: what messages name.
    base: String,
    client: reqwest::Client,
    auth: Auth,
    tries: u32,
}

impl Http {
    pub(crate) fn new(base: &str, auth: Auth) -> Result<Http> {
        let url = Url::parse(base).map_err(|e| {
            Error::config_from(format!("tracking.uri {base:?} is not a valid URL"), e)
        })?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("creditrisk/", env!("CARGO_PKG_VERSION")));
        // A proxy from the environment must not capture a server on this machine.
        if is_loopback(&url) {
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| Error::internal_from("cannot build the HTTP client", e))?;
        Ok(Http {
            base: base.trim_end_matches('/').to_string(),
            client,
            auth,
            tries: TRIES,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `<base>/api/2.0/<endpoint>`.
    pub(crate) fn api_url(&self, endpoint: &str) -> Call<Url> {
        let text = format!("{}/api/2.0/{endpoint}", self.base);
        Url::parse(&text).map_err(|e| CallError::Protocol {
            what: text.clone(),
            detail: e.to_string(),
        })
    }

    /// GET an MLflow endpoint with query parameters, JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Call<T> {
        let mut url = self.api_url(endpoint)?;
        url.query_pairs_mut().extend_pairs(query);
        let bytes = self.send(Method::GET, url, None, Retry::Always).await?;
        parse_json(&bytes, endpoint)
    }

    /// POST a JSON body to an MLflow endpoint, JSON answer.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
        retry: Retry,
    ) -> Call<T> {
        let url = self.api_url(endpoint)?;
        let bytes = self
            .send(Method::POST, url, Some(Body::Json(body.to_string())), retry)
            .await?;
        parse_json(&bytes, endpoint)
    }

    /// DELETE with a JSON body (MLflow ignores query parameters on DELETE).
    pub(crate) async fn delete(&self, endpoint: &str, body: &serde_json::Value) -> Call<()> {
        let url = self.api_url(endpoint)?;
        self.send(
            Method::DELETE,
            url,
            Some(Body::Json(body.to_string())),
            Retry::Always,
        )
        .await
        .map(|_| ())
    }

    /// PUT raw bytes (artifact upload).
    pub(crate) async fn put_bytes(&self, url: Url, bytes: Vec<u8>) -> Call<()> {
        self.send(Method::PUT, url, Some(Body::Raw(bytes)), Retry::Always)
            .await
            .map(|_| ())
    }

    /// GET raw bytes (artifact download) or JSON from a full URL.
    pub(crate) async fn get_url(&self, url: Url) -> Call<Vec<u8>> {
        self.send(Method::GET, url, None, Retry::Always).await
    }

    /// One request with the retry loop.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
        retry: Retry,
    ) -> Call<Vec<u8>> {
        let what = format!("{method} {}", redact(&url));
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let mut req = self.client.request(method.clone(), url.clone());
            req = match &self.auth {
                Auth::None => req,
                Auth::Bearer(t) => req.bearer_auth(t),
                Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            };
            req = match &body {
                Some(Body::Json(text)) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(text.clone()),
                Some(Body::Raw(bytes)) => req.body(bytes.clone()),
                None => req,
            };
            let err = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(bytes) if status.is_success() => return Ok(bytes.to_vec()),
                        Ok(bytes) => api_error(status, &bytes, &what),
                        Err(e) => CallError::Unreachable {
                            what: what.clone(),
                            detail: chain(&e),
                            maybe_processed: true,
                        },
                    }
                }
                Err(e) => CallError::Unreachable {
                    what: what.clone(),
                    detail: chain(&e),
                    maybe_processed: !e.is_connect(),
                },
            };
            let retryable = match &err {
                CallError::Unreachable {
                    maybe_processed, ..
                } => retry == Retry::Always || !maybe_processed,
                CallError::Api { status, .. } if *status >= 500 => {
                    retry == Retry::Always || matches!(*status, 502..=504)
                }
                _ => false,
            };
            if !retryable || attempt >= self.tries {
                return Err(err);
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            attempt += 1;
        }
    }

    /// Turn a failed call into the crate's error, naming the server and what was asked.
    pub(crate) fn error(&self, err: CallError) -> Error {
        match err {
            CallError::Unreachable { what, detail, .. } => Error::input(format!(
                "cannot reach the MLflow tracking server at {} ({what}, {} tries): {detail}; is it running, and is tracking.uri right?",
                self.base, self.tries
            )),
            CallError::Api {
                status,
                code,
                message,
                what,
            } if status >= 500 => Error::internal(format!(
                "MLflow tracking server {} failed {what} after {} tries: HTTP {status} {}{message}",
                self.base,
                self.tries,
                code.map(|c| format!("{c}: ")).unwrap_or_default()
            )),
            CallError::Api {
                status,
                code,
                message,
                what,
            } => Error::input(format!(
                "MLflow tracking server {} refused {what}: HTTP {status} {}{message}",
                self.base,
                code.map(|c| format!("{c}: ")).unwrap_or_default()
            )),
            CallError::Protocol { what, detail } => Error::internal(format!(
                "MLflow tracking server {}: unexpected answer to {what}: {detail}",
                self.base
            )),
        }
    }
}

enum Body {
    Json(String),
    Raw(Vec<u8>),
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Call<T> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| CallError::Protocol {
        what: what.to_string(),
        detail: format!(
            "{e} in {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ),
    })
}

/// MLflow's `{"error_code", "message"}`, or FastAPI's `{"detail"}`, or whatever text came back.
fn api_error(status: StatusCode, bytes: &[u8], what: &str) -> CallError {
    #[derive(serde::Deserialize)]
    struct Shape {
        error_code: Option<String>,
        message: Option<String>,
        detail: Option<serde_json::Value>,
    }
    let text = String::from_utf8_lossy(bytes);
    let (code, message) = match serde_json::from_slice::<Shape>(bytes) {
        Ok(s) => (
            s.error_code,
            s.message
                .or_else(|| {
                    s.detail
                        .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
                })
                .unwrap_or_else(|| text.to_string()),
        ),
        Err(_) => (None, text.chars().take(500).collect()),
    };
    CallError::Api {
        status: status.as_u16(),
        code,
        message,
        what: what.to_string(),
    }
}

/// An error with its causes ("error sending request: … Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A URL for messages, without credentials.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    let _ = u.set_username("");
    u.to_string()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
