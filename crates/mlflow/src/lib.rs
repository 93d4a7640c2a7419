//! Experiment tracking and model registry that speak MLflow, so MLflow's own client,
//! UI and server see creditrisk's runs and model versions as if MLflow had written them.
//!
//! [`Tracker`] picks a backend from `tracking.uri`:
//! - a folder or a `file://` URL: [`FileStore`], MLflow's file-store layout (`mlruns/`), registry
//!   under `mlruns/models/`, safe for concurrent processes (atomic writes, a store lock);
//! - `http(s)://…`: [`RestStore`], an MLflow tracking server over REST API 2.0, artifacts through
//!   its artifact proxy.
//!
//! The API is async (the CLI owns the tokio runtime); file-store work runs on tokio's blocking
//! pool, so a waiting lock or a slow disk never stalls the runtime. [`ModelRef`] parses
//! `models:/…` references; [`Tracker::resolve`] and [`Tracker::download_version`] turn one into a
//! local folder of the version's files (downloaded once into a cache for a server).
//!
//! The formats were verified against MLflow 3.17.2: docs/mlflow-formats.md.

use std::path::{Path, PathBuf};

use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};

mod file_store;
mod http;
mod local_files;
mod model_ref;
mod names;
mod options;
mod registry_files;
mod rest;
mod rest_registry;
mod run_owners;
mod types;
mod yaml;

pub use file_store::FileStore;
pub use model_ref::ModelRef;
pub use options::TrackingOptions;
pub use rest::RestStore;
pub use types::{
    ArtifactEntry, Batch, Metric, ModelVersion, NewRun, Run, RunInfo, RunStatus, parse_stage,
};

/// An experiment tracker and model registry: MLflow's file store or an MLflow server.
#[derive(Clone, Debug)]
pub enum Tracker {
    File(FileStore),
    Rest(RestStore),
}

/// A model reference made local: the folder with the version's files, and the registry version
/// it came from (`None` for a plain path).
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedModel {
    pub dir: PathBuf,
    pub version: Option<ModelVersion>,
}

/// Run blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal_from("tracking worker thread failed", e))?
}

/// Dispatch to the backend: the file store's call runs on the blocking pool with owned copies of
/// the listed arguments; the REST call is awaited in place.
macro_rules! on_backend {
    ($tracker:expr, [$($arg:ident),*], |$fs:ident| $file:expr, |$rest:ident| $remote:expr) => {
        match $tracker {
            Tracker::File(store) => {
                let $fs = store.clone();
                $(let $arg = $arg.to_owned();)*
                blocking(move || $file).await
            }
            Tracker::Rest($rest) => $remote.await,
        }
    };
}

impl Tracker {
    /// The backend for a `tracking.uri`: `http(s)://…` is a server, `file:///…` or a plain path
    /// (relative to the working folder) a file store. Other schemes (`sqlite:`, `databricks`) are
    /// a config error: run `mlflow server` on them and point `tracking.uri` at the server.
    pub fn from_uri(uri: &str) -> Result<Tracker> {
        let text = uri.trim();
        if text.is_empty() {
            return Err(Error::config(
                "tracking.uri is empty: use a folder (mlruns), file:///abs/path or http(s)://host:port",
            ));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = url::Url::parse(text).map_err(|e| {
                Error::config_from(format!("tracking.uri {text:?} is not a valid URL"), e)
            })?;
            if url.host().is_none() {
                return Err(Error::config(format!("tracking.uri {text:?} has no host")));
            }
            return Ok(Tracker::Rest(RestStore::new(text, http::Auth::from_env())?));
        }
        if lower.starts_with("file:") {
            let path = url::Url::parse(text)
                .ok()
                .filter(|_| text[5..].starts_with('/'))
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| {
                    Error::config(format!(
                        "tracking.uri {text:?}: a file: URL must be absolute (file:///abs/path)"
                    ))
                })?;
            return Ok(Tracker::File(FileStore::new(&path, true)?));
        }
        if let Some((scheme, _)) = text.split_once(':')
            && scheme.len() >= 2
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(Error::config(format!(
                "tracking.uri {text:?}: unsupported scheme {scheme}: (use a folder, file:///abs/path, or an MLflow \
                 server's http(s):// URL; serve a database store with `mlflow server --backend-store-uri …`)"
            )));
        }
        Ok(Tracker::File(FileStore::new(Path::new(text), false)?))
    }

    /// The store's URI, for messages and for MLflow's client (`file:///…` or the server URL).
    pub fn uri(&self) -> String {
        match self {
            Tracker::File(fs) => fs.uri(),
            Tracker::Rest(r) => r.uri().to_string(),
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Tracker::Rest(_))
    }

    // ---- tracking ----------------------------------------------------------------------

    /// The id of the experiment called `name`, created when missing (safe against concurrent
    /// creators on both backends).
    pub async fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        on_backend!(self, [name], |fs| fs.get_or_create_experiment(&name), |r| r
            .get_or_create_experiment(name))
    }

    /// Start a run (status RUNNING) with `spec`'s name, user, source and tags.
    pub async fn create_run(&self, experiment_id: &str, spec: &NewRun) -> Result<RunInfo> {
        on_backend!(
            self,
            [experiment_id, spec],
            |fs| fs.create_run(&experiment_id, &spec),
            |r| r.create_run(experiment_id, spec)
        )
    }

    /// Log metrics, params and tags (see [`Batch`]).
    pub async fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        on_backend!(
            self,
            [run_id, batch],
            |fs| fs.log_batch(&run_id, &batch),
            |r| r.log_batch(run_id, batch)
        )
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        on_backend!(
            self,
            [run_id, key, value],
            |fs| fs.set_tag(&run_id, &key, &value),
            |r| r.set_tag(run_id, key, value)
        )
    }

    /// Finish a run: status (FINISHED, FAILED, …) and end time (now when `None`).
    pub async fn end_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<()> {
        on_backend!(
            self,
            [run_id],
            |fs| fs.end_run(&run_id, status, end_time),
            |r| r.end_run(run_id, status, end_time)
        )
    }

    /// A run's info, params, latest metrics and tags.
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        on_backend!(self, [run_id], |fs| fs.get_run(&run_id), |r| r
            .get_run(run_id))
    }

    /// Every value logged for a metric.
    pub async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        on_backend!(
            self,
            [run_id, key],
            |fs| fs.metric_history(&run_id, &key),
            |r| r.metric_history(run_id, key)
        )
    }

    /// Store a file (as `<artifact_path>/<file name>`) or a folder's contents (under
    /// `<artifact_path>/`, recursively) as run artifacts; `artifact_path` "" is the root.
    pub async fn log_artifact(
        &self,
        run_id: &str,
        local: &Path,
        artifact_path: &str,
    ) -> Result<()> {
        on_backend!(
            self,
            [run_id, local, artifact_path],
            |fs| fs.log_artifact(&run_id, &local, &artifact_path),
            |r| r.log_artifact(run_id, local, artifact_path)
        )
    }

    /// Copy a run's artifact `path` (file or folder, "" for all) to `dest/<path>`; returns it.
    pub async fn download_artifacts(
        &self,
        run_id: &str,
        path: &str,
        dest: &Path,
    ) -> Result<PathBuf> {
        on_backend!(
            self,
            [run_id, path, dest],
            |fs| fs.download_artifacts(&run_id, &path, &dest),
            |r| r.download_artifacts(run_id, path, dest)
        )
    }

    /// The entries directly under a run's artifact folder `path` ("" for the root).
    pub async fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<ArtifactEntry>> {
        on_backend!(
            self,
            [run_id, path],
            |fs| fs.list_artifacts(&run_id, &path),
            |r| r.list_artifacts(run_id, path)
        )
    }

    // ---- registry ----------------------------------------------------------------------

    /// Create registered model `name` when missing (idempotent).
    pub async fn create_registered_model(&self, name: &str) -> Result<()> {
        on_backend!(self, [name], |fs| fs.create_registered_model(&name), |r| r
            .create_registered_model(name))
    }

    /// Register a new version of `name` from `source` (use [`RunInfo::artifact_uri_of`] for a
    /// run's model folder, or `runs:/<run_id>/<path>`) and return it with its number.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        match self {
            Tracker::File(store) => {
                let fs = store.clone();
                let (name, source) = (name.to_owned(), source.to_owned());
                let run_id = run_id.map(str::to_owned);
                let description = description.map(str::to_owned);
                blocking(move || {
                    fs.create_model_version(
                        &name,
                        &source,
                        run_id.as_deref(),
                        description.as_deref(),
                    )
                })
                .await
            }
            Tracker::Rest(r) => {
                r.create_model_version(name, source, run_id, description)
                    .await
            }
        }
    }

    pub async fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        on_backend!(
            self,
            [name],
            |fs| fs.get_model_version(&name, version),
            |r| r.get_model_version(name, version)
        )
    }

    /// Every version of `name`, oldest first, with stage, aliases, tags, run id and source.
    pub async fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        on_backend!(self, [name], |fs| fs.list_model_versions(&name), |r| r
            .list_model_versions(name))
    }

    /// Move a version to `stage`; with `archive_existing` (Staging or Production only) every
    /// other version in that stage becomes Archived.
    pub async fn transition_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        on_backend!(
            self,
            [name],
            |fs| fs.transition_stage(&name, version, stage, archive_existing),
            |r| r.transition_stage(name, version, stage, archive_existing)
        )
    }

    /// [`Tracker::transition_stage`], also returning the versions that held `stage` just before
    /// (read in the same critical section on the folder store; on a server, read just before the
    /// transition, which the server makes atomic but cannot report).
    pub async fn transition_stage_from(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<(ModelVersion, Vec<u64>)> {
        match self {
            Tracker::File(store) => {
                let fs = store.clone();
                let name = name.to_owned();
                blocking(move || fs.transition_stage_from(&name, version, stage, archive_existing))
                    .await
            }
            Tracker::Rest(r) => {
                let previous = r
                    .list_model_versions(name)
                    .await?
                    .into_iter()
                    .filter(|v| v.stage == stage && v.version != version)
                    .map(|v| v.version)
                    .collect();
                let after = r
                    .transition_stage(name, version, stage, archive_existing)
                    .await?;
                Ok((after, previous))
            }
        }
    }

    /// Point `alias` at `version` (moving it atomically if it pointed elsewhere).
    pub async fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        on_backend!(
            self,
            [name, alias],
            |fs| fs.set_alias(&name, &alias, version),
            |r| r.set_alias(name, alias, version)
        )
    }

    pub async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        on_backend!(
            self,
            [name, alias],
            |fs| fs.get_version_by_alias(&name, &alias),
            |r| r.get_version_by_alias(name, alias)
        )
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        on_backend!(
            self,
            [name, alias],
            |fs| fs.delete_alias(&name, &alias),
            |r| r.delete_alias(name, alias)
        )
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        on_backend!(
            self,
            [name, key, value],
            |fs| fs.set_model_version_tag(&name, version, &key, &value),
            |r| r.set_model_version_tag(name, version, key, value)
        )
    }

    pub async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        on_backend!(
            self,
            [name, key, value],
            |fs| fs.set_registered_model_tag(&name, &key, &value),
            |r| r.set_registered_model_tag(name, key, value)
        )
    }

    // ---- references --------------------------------------------------------------------

    /// The registry version a reference names; errors name the reference.
    pub async fn resolve(&self, reference: &ModelRef) -> Result<ModelVersion> {
        let context = |e: Error| e.about(reference);
        match reference {
            ModelRef::Version { name, version } => self
                .get_model_version(name, *version)
                .await
                .map_err(context),
            ModelRef::Alias { name, alias } => self
                .get_version_by_alias(name, alias)
                .await
                .map_err(context),
            ModelRef::Stage { name, stage } => {
                let versions = self.list_model_versions(name).await.map_err(context)?;
                versions
                    .into_iter()
                    .filter(|v| v.stage == *stage)
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        Error::input(format!(
                            "{reference}: no version of model {name:?} is in stage {}",
                            stage.as_str()
                        ))
                    })
            }
            ModelRef::Latest { name } => {
                let versions = self.list_model_versions(name).await.map_err(context)?;
                versions
                    .into_iter()
                    .max_by_key(|v| v.version)
                    .ok_or_else(|| {
                        Error::input(format!("{reference}: model {name:?} has no versions"))
                    })
            }
            ModelRef::Path(p) => Err(Error::input(format!(
                "{}: a local path is not a registry reference",
                p.display()
            ))),
        }
    }

    /// A local folder holding the version's files. File store: the source's own folder (no
    /// copy). Server: downloaded once into `cache_dir/<name>/<version>/` (built beside it and
    /// renamed into place, so a folder there is always complete) and reused afterwards.
    pub async fn download_version(
        &self,
        version: &ModelVersion,
        cache_dir: &Path,
    ) -> Result<PathBuf> {
        match self {
            Tracker::File(store) => {
                let fs = store.clone();
                let mv = version.clone();
                blocking(move || fs.version_dir(&mv)).await
            }
            Tracker::Rest(r) => download_cached(r, version, cache_dir).await,
        }
    }

    /// Resolve and fetch any reference: a path is returned as is (it must exist), a registry
    /// reference is resolved and downloaded (see [`Tracker::download_version`]).
    pub async fn locate(&self, reference: &ModelRef, cache_dir: &Path) -> Result<LocatedModel> {
        if let ModelRef::Path(p) = reference {
            if !p.exists() {
                return Err(Error::input(format!(
                    "model path {} does not exist",
                    p.display()
                )));
            }
            return Ok(LocatedModel {
                dir: p.clone(),
                version: None,
            });
        }
        let version = self.resolve(reference).await?;
        let dir = self.download_version(&version, cache_dir).await?;
        Ok(LocatedModel {
            dir,
            version: Some(version),
        })
    }
}

impl FileStore {
    /// The local folder of a version's source: `runs:/<id>/<path>` through the run's artifact
    /// folder, a `file:` URI or an absolute path as is.
    fn version_dir(&self, mv: &ModelVersion) -> Result<PathBuf> {
        let what = || format!("model {} version {}", mv.name, mv.version);
        let dir = if let Some(rest) = mv.source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            local_files::join_rel(&self.artifact_dir(run_id)?, path)
        } else {
            local_files::local_path_of(&mv.source).ok_or_else(|| {
                Error::input(format!(
                    "{}: source {} is not a local folder or runs:/ URI",
                    what(),
                    mv.source
                ))
            })?
        };
        if !dir.exists() {
            return Err(Error::input(format!(
                "{}: its files are missing ({} does not exist)",
                what(),
                dir.display()
            )));
        }
        Ok(dir)
    }
}

/// The server branch of [`Tracker::download_version`]. A `<version>.source` file beside the
/// folder records which server and source it came from, so a cache shared between servers never
/// serves another server's model under the same name and number.
async fn download_cached(rest: &RestStore, mv: &ModelVersion, cache_dir: &Path) -> Result<PathBuf> {
    names::check_model_name(&mv.name)?;
    let model_dir = cache_dir.join(&mv.name);
    let target = model_dir.join(mv.version.to_string());
    let marker = model_dir.join(format!("{}.source", mv.version));
    let origin = format!("{} {}", rest.uri(), mv.source);
    let cached = {
        let (target, marker, origin) = (target.clone(), marker.clone(), origin.clone());
        blocking(move || {
            Ok(target.is_dir()
                && local_files::read_optional(&marker)?.as_deref() == Some(origin.as_str()))
        })
        .await?
    };
    if cached {
        return Ok(target);
    }
    let staging = {
        let model_dir = model_dir.clone();
        blocking(move || {
            std::fs::create_dir_all(&model_dir).map_err(|e| Error::io(&model_dir, e))?;
            tempfile::Builder::new()
                .prefix(".tmp-download-")
                .tempdir_in(&model_dir)
                .map_err(|e| Error::io(&model_dir, e))
        })
        .await?
    };
    let files = staging.path().join("files");
    rest.download_source(&mv.source, &files).await?;
    blocking(move || {
        std::fs::create_dir_all(&files).map_err(|e| Error::io(&files, e))?;
        if target.is_dir()
            && local_files::read_optional(&marker)?.as_deref() == Some(origin.as_str())
        {
            return Ok(target); // another process finished the same download first
        }
        if target.exists() {
            // From another server or source: replace it.
            let old = staging.path().join("old");
            std::fs::rename(&target, &old).map_err(|e| Error::io(&target, e))?;
        }
        std::fs::rename(&files, &target).map_err(|e| Error::io(&target, e))?;
        creditrisk_base::io::write_atomic(&marker, origin.as_bytes())?;
        drop(staging);
        Ok(target)
    })
    .await
}
