//! The values both backends exchange: runs, metrics, batches and model versions, shaped after
//! MLflow's entities so a reader of MLflow's docs recognises every field.

use std::collections::BTreeMap;

use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};

/// A run's lifecycle status; MLflow stores it as an integer in the file store and as a name over
/// REST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "RUNNING",
            RunStatus::Scheduled => "SCHEDULED",
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }

    /// The file store's integer (`status: 3` is FINISHED).
    pub fn code(self) -> i64 {
        match self {
            RunStatus::Running => 1,
            RunStatus::Scheduled => 2,
            RunStatus::Finished => 3,
            RunStatus::Failed => 4,
            RunStatus::Killed => 5,
        }
    }

    pub(crate) fn from_code(code: i64) -> Option<RunStatus> {
        Some(match code {
            1 => RunStatus::Running,
            2 => RunStatus::Scheduled,
            3 => RunStatus::Finished,
            4 => RunStatus::Failed,
            5 => RunStatus::Killed,
            _ => return None,
        })
    }

    pub(crate) fn from_name(name: &str) -> Option<RunStatus> {
        Some(match name {
            "RUNNING" => RunStatus::Running,
            "SCHEDULED" => RunStatus::Scheduled,
            "FINISHED" => RunStatus::Finished,
            "FAILED" => RunStatus::Failed,
            "KILLED" => RunStatus::Killed,
            _ => return None,
        })
    }
}

/// Parse a stage name as MLflow does: case-insensitively (`production` is Production).
pub fn parse_stage(text: &str) -> Option<Stage> {
    [
        Stage::None,
        Stage::Staging,
        Stage::Production,
        Stage::Archived,
    ]
    .into_iter()
    .find(|s| s.as_str().eq_ignore_ascii_case(text))
}

pub(crate) fn stage_or_error(text: &str, context: &str) -> Result<Stage> {
    parse_stage(text).ok_or_else(|| {
        Error::input(format!(
            "{context}: unknown stage {text:?} (expected None, Staging, Production or Archived)"
        ))
    })
}

/// What to record when a run starts. `tags` may add any run tag; the MLflow system tags
/// (`mlflow.runName`, `mlflow.user`, `mlflow.source.name`, `mlflow.source.type`,
/// `mlflow.source.git.commit`) are filled from the fields so MLflow's UI shows who ran what.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub run_name: String,
    /// `user_id` of the run and its `mlflow.user` tag.
    pub user: String,
    /// `mlflow.source.name`: what ran (the program and subcommand).
    pub source_name: String,
    /// `mlflow.source.git.commit`, when known.
    pub git_commit: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Start time (epoch ms); now when `None`.
    pub start_time: Option<i64>,
}

impl NewRun {
    /// A run named `run_name`, by the OS user (`$USER`, else `unknown`), from `creditrisk`.
    pub fn new(run_name: impl Into<String>) -> NewRun {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        NewRun {
            run_name: run_name.into(),
            user,
            source_name: "creditrisk".to_string(),
            git_commit: None,
            tags: BTreeMap::new(),
            start_time: None,
        }
    }

    /// All tags the run starts with: the caller's plus MLflow's system tags.
    pub(crate) fn all_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert("mlflow.runName".into(), self.run_name.clone());
        tags.insert("mlflow.user".into(), self.user.clone());
        tags.insert("mlflow.source.name".into(), self.source_name.clone());
        tags.insert("mlflow.source.type".into(), "LOCAL".into());
        if let Some(commit) = self.git_commit.as_ref().filter(|c| !c.is_empty()) {
            tags.insert("mlflow.source.git.commit".into(), commit.clone());
        }
        tags
    }
}

/// A run's identity and lifecycle, as MLflow's `RunInfo`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// `file:///…/artifacts`, a plain path, or `mlflow-artifacts:/…` on a server.
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

impl RunInfo {
    /// The URI of `path` under this run's artifacts: what `mlflow.register_model` stores as a
    /// version's `source` for a run artifact (docs/mlflow-formats.md §d), accepted by an MLflow
    /// server's source validation and downloadable by MLflow's own client.
    pub fn artifact_uri_of(&self, path: &str) -> String {
        let path = path.trim_matches('/');
        if path.is_empty() {
            self.artifact_uri.clone()
        } else {
            format!("{}/{}", self.artifact_uri.trim_end_matches('/'), path)
        }
    }
}

/// One metric value.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    /// Epoch milliseconds.
    pub timestamp: i64,
    pub step: i64,
}

impl Metric {
    /// MLflow's "latest" value of a key is the greatest by (step, timestamp, value), not the last
    /// logged one.
    pub(crate) fn later_than(&self, other: &Metric) -> bool {
        (self.step, self.timestamp)
            .cmp(&(other.step, other.timestamp))
            .then(self.value.total_cmp(&other.value))
            .is_gt()
    }
}

/// A run read back: its info, params, the latest value of each metric, and its tags.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Run {
    pub info: RunInfo,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, Metric>,
    pub tags: BTreeMap<String, String>,
}

/// Metrics, params and tags to log in one call. Over REST it is split into requests within the
/// server's limits; params are immutable (logging the same value again is fine, a different one
/// is an error).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub metrics: Vec<Metric>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Batch {
    /// Add a metric value at `step`, stamped now.
    pub fn metric(mut self, key: impl Into<String>, value: f64, step: i64) -> Batch {
        self.metrics.push(Metric {
            key: key.into(),
            value,
            timestamp: super::names::now_ms(),
            step,
        });
        self
    }

    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Batch {
        self.params.insert(key.into(), value.into());
        self
    }

    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Batch {
        self.tags.insert(key.into(), value.into());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.params.is_empty() && self.tags.is_empty()
    }

    /// Check every key and value before anything is written.
    pub(crate) fn check(&self) -> Result<()> {
        use super::names::{check_key, check_param_value, check_tag_value};
        for m in &self.metrics {
            check_key("metric", &m.key)?;
        }
        for (k, v) in &self.params {
            check_key("param", k)?;
            check_param_value(k, v)?;
        }
        for (k, v) in &self.tags {
            check_key("tag", k)?;
            check_tag_value(k, v)?;
        }
        Ok(())
    }
}

/// A registered model version, from either backend.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: u64,
    /// The run that produced it (MLflow allows versions without one).
    pub run_id: Option<String>,
    /// Where the version's files are: `runs:/<id>/model`, the run's artifact URI + `/model`, …
    pub source: String,
    pub stage: Stage,
    /// Aliases pointing at this version, sorted.
    pub aliases: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    /// `READY` once registered (both backends register synchronously).
    pub status: String,
}

/// One entry of an artifact listing (not recursive), as MLflow's `FileInfo`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArtifactEntry {
    /// Path relative to the run's artifact root, `/`-separated.
    pub path: String,
    pub is_dir: bool,
    /// Size in bytes (files only).
    pub size: Option<u64>,
}
