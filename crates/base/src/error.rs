//! Library errors. Every variant a user can cause carries a message that names the file, row,
//! column or config key and what to change; `main` prints it on one line and exits 1
//! (failed check or stage) or 2 (usage: bad config or arguments). [`Error::kind`] lets an HTTP
//! layer map an error to 4xx or 5xx without reading its text.

use std::path::{Path, PathBuf};

use arrow::error::ArrowError;

/// A cause from an engine outside this crate (DataFusion, Parquet), kept for the error chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration (key, type, value): exit code 2.
    #[error("config error: {message}{}", cause(.source))]
    Config {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Bad or missing input data: exit code 1.
    #[error("input error: {message}{}", cause(.source))]
    Input {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// A data contract or gate failed; `report` is the JSON report with the details.
    #[error("check failed: {message}{}", report_hint(.report))]
    Check {
        message: String,
        report: Option<PathBuf>,
    },
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The SQL engine failed; `context` names what it was running (a SQL file, a check).
    #[error("query engine: {context}: {source}")]
    Engine {
        context: String,
        #[source]
        source: Cause,
    },
    /// Arrow compute or conversion failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// A Parquet file could not be read or written.
    #[error("{path}: Parquet: {source}")]
    Parquet {
        path: String,
        #[source]
        source: Cause,
    },
    /// Model training or scoring failed.
    #[error("model error: {message}{}", cause(.source))]
    Model {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// A stage of `creditrisk run` failed; `source` says how.
    #[error("stage `{stage}` failed: {source}")]
    Stage {
        stage: String,
        #[source]
        source: Box<Error>,
    },
    /// A bug or an environment failure (a worker thread died, no async runtime).
    #[error("internal error: {message}{}", cause(.source))]
    Internal {
        message: String,
        #[source]
        source: Option<Cause>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a caller should treat an error: the CLI maps it to an exit code, an HTTP layer to a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's configuration or arguments are wrong (exit 2, HTTP 400).
    Usage,
    /// The caller's data is wrong or missing (exit 1, HTTP 400/404).
    BadInput,
    /// The data was read but a contract or gate rejected it (exit 1, HTTP 422).
    CheckFailed,
    /// Not the caller's fault (exit 1, HTTP 500).
    Internal,
}

/// `: <cause>` when there is one, so the one-line message still says what went wrong underneath.
fn cause(source: &Option<Cause>) -> String {
    source
        .as_ref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}

fn report_hint(report: &Option<PathBuf>) -> String {
    report
        .as_ref()
        .map(|p| format!(" (details and sample rows: {})", p.display()))
        .unwrap_or_default()
}

impl Error {
    pub fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::config`] that keeps `cause` as its source.
    pub fn config_from(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Config {
            message: message.into(),
            source: Some(Box::new(cause)),
        }
    }

    pub fn input(message: impl Into<String>) -> Error {
        Error::Input {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::input`] that keeps `cause` as its source.
    pub fn input_from(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Input {
            message: message.into(),
            source: Some(Box::new(cause)),
        }
    }

    pub fn model(message: impl Into<String>) -> Error {
        Error::Model {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::model`] that keeps `cause` as its source.
    pub fn model_from(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Model {
            message: message.into(),
            source: Some(Box::new(cause)),
        }
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// [`Error::internal`] that keeps `cause` as its source.
    pub fn internal_from(
        message: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Internal {
            message: message.into(),
            source: Some(Box::new(cause)),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A Parquet file that could not be read or written.
    pub fn parquet(path: &Path, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::Parquet {
            path: path.display().to_string(),
            source: Box::new(source),
        }
    }

    /// A failed check without a report file.
    pub fn check(message: impl Into<String>) -> Error {
        Error::Check {
            message: message.into(),
            report: None,
        }
    }

    /// An engine error with what was being run.
    pub fn engine(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Engine {
            context: context.into(),
            source: Box::new(source),
        }
    }

    /// An input error prefixed with what it concerns (`models:/m/3: …`); other errors unchanged.
    pub fn about(self, what: impl std::fmt::Display) -> Error {
        match self {
            Error::Input { message, source } => Error::Input {
                message: format!("{what}: {message}"),
                source,
            },
            other => other,
        }
    }

    /// Attach the report that explains a failed check (other errors are returned unchanged).
    pub fn with_report(self, path: PathBuf) -> Error {
        match self {
            Error::Check { message, .. } => Error::Check {
                message,
                report: Some(path),
            },
            other => other,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Stage { source, .. } => source.kind(),
            Error::Config { .. } => ErrorKind::Usage,
            Error::Input { .. } => ErrorKind::BadInput,
            Error::Check { .. } => ErrorKind::CheckFailed,
            Error::Io { .. }
            | Error::Engine { .. }
            | Error::Arrow(_)
            | Error::Parquet { .. }
            | Error::Model { .. }
            | Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// Process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind() {
            ErrorKind::Usage => 2,
            _ => 1,
        }
    }
}

#[cfg(feature = "engine")]
impl From<datafusion_common::DataFusionError> for Error {
    fn from(e: datafusion_common::DataFusionError) -> Self {
        Error::engine("executing a query", e)
    }
}

#[cfg(feature = "parquet")]
impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            path: "Parquet stream".into(),
            source: Box::new(e),
        }
    }
}
