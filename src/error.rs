//! Library errors. Every variant a user can cause carries a message that names the file, row,
//! column or config key and what to change; `main` prints it on one line and exits 1 (failed
//! check or stage) or 2 (usage: bad config or arguments).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration (key, type, value): exit code 2.
    #[error("config error: {0}")]
    Config(String),
    /// Bad or missing input data: exit code 1.
    #[error("input error: {0}")]
    Input(String),
    /// A data contract or gate failed: exit code 1.
    #[error("check failed: {0}")]
    Check(String),
    /// I/O on a named path.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The SQL engine reported an error.
    #[error("query engine: {0}")]
    Engine(String),
    /// Model training or scoring failed.
    #[error("model error: {0}")]
    Model(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            _ => 1,
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Engine(e.to_string())
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::Engine(e.to_string())
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        Error::Engine(e.to_string())
    }
}
