//! The REST backend: an MLflow tracking server through its REST API 2.0 (docs/mlflow-formats.md
//! §c) — experiments, runs, batched logging within the server's limits — and artifacts through
//! the server's artifact proxy (`mlflow-artifacts:` URIs, `/api/2.0/mlflow-artifacts/artifacts`).
//! The registry endpoints are in `rest_registry`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::Url;
use serde::Deserialize;
use serde_json::json;

use super::blocking;
use super::http::{Auth, Call, Http, Retry};
use super::local_files::{join_rel, upload_plan};
use super::names::{check_artifact_path, check_key, check_run_id, check_tag_value};
use super::types::{ArtifactEntry, Batch, Metric, NewRun, Run, RunInfo, RunStatus};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::write_atomic;

/// log-batch limits of MLflow's server: per request at most 1000 metrics, 100 params, 100 tags,
/// and 1000 items in all.
const MAX_METRICS: usize = 1000;
const MAX_PARAMS: usize = 100;
const MAX_TAGS: usize = 100;
const MAX_ITEMS: usize = 1000;

/// An MLflow tracking server.
#[derive(Clone, Debug)]
pub struct RestStore {
    pub(crate) http: Http,
}

/// int64 fields arrive as JSON numbers, or as strings from some proxies.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Int {
    Num(i64),
    Str(String),
}

impl Int {
    pub(crate) fn get(&self) -> i64 {
        match self {
            Int::Num(n) => *n,
            Int::Str(s) => s.parse().unwrap_or(0),
        }
    }
}

/// A metric value: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` (protobuf JSON).
#[derive(Deserialize)]
#[serde(untagged)]
enum Float {
    Num(f64),
    Str(String),
}

impl Float {
    fn get(&self) -> f64 {
        match self {
            Float::Num(n) => *n,
            Float::Str(s) => match s.as_str() {
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                other => other.parse().unwrap_or(f64::NAN),
            },
        }
    }
}

fn float_json(v: f64) -> serde_json::Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

#[derive(Deserialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

pub(crate) fn kv_map(list: Vec<KeyValue>) -> BTreeMap<String, String> {
    list.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

fn kv_list(map: &BTreeMap<String, String>) -> Vec<serde_json::Value> {
    map.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

#[derive(Deserialize)]
struct Experiment {
    experiment_id: String,
    #[serde(default)]
    lifecycle_stage: Option<String>,
}

#[derive(Deserialize)]
struct ExperimentReply {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct CreateExperimentReply {
    experiment_id: String,
}

#[derive(Deserialize)]
struct WireRunInfo {
    run_id: Option<String>,
    run_uuid: Option<String>,
    experiment_id: String,
    #[serde(default)]
    run_name: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    status: Option<String>,
    start_time: Option<Int>,
    end_time: Option<Int>,
    #[serde(default)]
    artifact_uri: String,
    #[serde(default)]
    lifecycle_stage: Option<String>,
}

impl WireRunInfo {
    fn into_info(self) -> RunInfo {
        RunInfo {
            run_id: self.run_id.or(self.run_uuid).unwrap_or_default(),
            experiment_id: self.experiment_id,
            run_name: self.run_name,
            user_id: self.user_id,
            status: self
                .status
                .as_deref()
                .and_then(RunStatus::from_name)
                .unwrap_or(RunStatus::Running),
            start_time: self.start_time.map_or(0, |t| t.get()),
            end_time: self.end_time.map(|t| t.get()),
            artifact_uri: self.artifact_uri,
            lifecycle_stage: self.lifecycle_stage.unwrap_or_else(|| "active".into()),
        }
    }
}

#[derive(Deserialize)]
struct WireMetric {
    key: String,
    value: Float,
    timestamp: Option<Int>,
    step: Option<Int>,
}

impl WireMetric {
    fn into_metric(self) -> Metric {
        Metric {
            key: self.key,
            value: self.value.get(),
            timestamp: self.timestamp.map_or(0, |t| t.get()),
            step: self.step.map_or(0, |s| s.get()),
        }
    }
}

#[derive(Deserialize, Default)]
struct WireRunData {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct WireRun {
    info: WireRunInfo,
    #[serde(default)]
    data: WireRunData,
}

#[derive(Deserialize)]
struct RunReply {
    run: WireRun,
}

#[derive(Deserialize)]
struct HistoryReply {
    #[serde(default)]
    metrics: Vec<WireMetric>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct WireFile {
    path: String,
    #[serde(default)]
    is_dir: bool,
    file_size: Option<Int>,
}

#[derive(Deserialize)]
struct ListReply {
    #[serde(default)]
    files: Vec<WireFile>,
}

#[derive(Deserialize)]
struct Empty {}

impl RestStore {
    pub(crate) fn new(uri: &str, auth: Auth) -> Result<RestStore> {
        Ok(RestStore {
            http: Http::new(uri, auth)?,
        })
    }

    pub(crate) fn uri(&self) -> &str {
        self.http.base()
    }

    /// Turn a failed call into the crate's error.
    pub(crate) fn fail(&self, err: super::http::CallError) -> Error {
        self.http.error(err)
    }

    pub(crate) async fn call<T>(&self, call: impl Future<Output = Call<T>>) -> Result<T> {
        call.await.map_err(|e| self.fail(e))
    }

    // ---- experiments and runs ---------------------------------------------------------

    /// get-by-name, create on RESOURCE_DOES_NOT_EXIST, and get-by-name again when a concurrent
    /// creator won (RESOURCE_ALREADY_EXISTS).
    pub(crate) async fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if name.trim().is_empty() {
            return Err(Error::input("experiment name is empty"));
        }
        for _ in 0..3 {
            if let Some(id) = self.experiment_by_name(name).await? {
                return Ok(id);
            }
            let created: Call<CreateExperimentReply> = self
                .http
                .post(
                    "mlflow/experiments/create",
                    &json!({"name": name}),
                    Retry::Always,
                )
                .await;
            match created {
                Ok(r) => return Ok(r.experiment_id),
                Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => continue,
                Err(e) => return Err(self.fail(e)),
            }
        }
        Err(Error::internal(format!(
            "MLflow tracking server {}: experiment {name:?} neither exists nor can be created",
            self.uri()
        )))
    }

    async fn experiment_by_name(&self, name: &str) -> Result<Option<String>> {
        let reply: Call<ExperimentReply> = self
            .http
            .get(
                "mlflow/experiments/get-by-name",
                &[("experiment_name", name)],
            )
            .await;
        match reply {
            Ok(r) if r.experiment.lifecycle_stage.as_deref() == Some("deleted") => {
                Err(Error::input(format!(
                    "experiment {name:?} on {} is deleted: restore it (mlflow experiments restore) or use another name",
                    self.uri()
                )))
            }
            Ok(r) => Ok(Some(r.experiment.experiment_id)),
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    pub(crate) async fn create_run(&self, experiment_id: &str, spec: &NewRun) -> Result<RunInfo> {
        let tags = spec.all_tags();
        for (k, v) in &tags {
            check_key("tag", k)?;
            check_tag_value(k, v)?;
        }
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": spec.run_name,
            "user_id": spec.user,
            "start_time": spec.start_time.unwrap_or_else(super::names::now_ms),
            "tags": kv_list(&tags),
        });
        let reply: RunReply = self
            .call(
                self.http
                    .post("mlflow/runs/create", &body, Retry::UnlessProcessed),
            )
            .await?;
        Ok(reply.run.info.into_info())
    }

    /// Log a batch in as many requests as the server's limits need; params go first so a
    /// conflicting param fails before anything else is sent.
    pub(crate) async fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        batch.check()?;
        check_run_id(run_id)?;
        let mut params: Vec<(&String, &String)> = batch.params.iter().collect();
        let mut tags: Vec<(&String, &String)> = batch.tags.iter().collect();
        let mut metrics: &[Metric] = &batch.metrics;
        while !(params.is_empty() && tags.is_empty() && metrics.is_empty()) {
            let p: Vec<_> = params.drain(..params.len().min(MAX_PARAMS)).collect();
            let t: Vec<_> = tags.drain(..tags.len().min(MAX_TAGS)).collect();
            let room = MAX_METRICS.min(MAX_ITEMS - p.len() - t.len());
            let (m, rest) = metrics.split_at(metrics.len().min(room));
            metrics = rest;
            let body = json!({
                "run_id": run_id,
                "params": p.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
                "tags": t.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
                "metrics": m.iter().map(|x| json!({
                    "key": x.key, "value": float_json(x.value), "timestamp": x.timestamp, "step": x.step,
                })).collect::<Vec<_>>(),
            });
            let _: Empty = self
                .call(
                    self.http
                        .post("mlflow/runs/log-batch", &body, Retry::Always),
                )
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        check_key("tag", key)?;
        check_tag_value(key, value)?;
        let body = json!({"run_id": run_id, "key": key, "value": value});
        let _: Empty = self
            .call(self.http.post("mlflow/runs/set-tag", &body, Retry::Always))
            .await?;
        Ok(())
    }

    pub(crate) async fn end_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<()> {
        let body = json!({
            "run_id": run_id,
            "status": status.as_str(),
            "end_time": end_time.unwrap_or_else(super::names::now_ms),
        });
        let _: serde_json::Value = self
            .call(self.http.post("mlflow/runs/update", &body, Retry::Always))
            .await?;
        Ok(())
    }

    pub(crate) async fn get_run(&self, run_id: &str) -> Result<Run> {
        check_run_id(run_id)?;
        let reply: Call<RunReply> = self
            .http
            .get("mlflow/runs/get", &[("run_id", run_id)])
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => {
                return Err(Error::input(format!(
                    "run {run_id} not found on {}",
                    self.uri()
                )));
            }
            Err(e) => return Err(self.fail(e)),
        };
        let data = reply.run.data;
        Ok(Run {
            info: reply.run.info.into_info(),
            params: kv_map(data.params),
            metrics: data
                .metrics
                .into_iter()
                .map(|m| (m.key.clone(), m.into_metric()))
                .collect(),
            tags: kv_map(data.tags),
        })
    }

    pub(crate) async fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        check_key("metric", key)?;
        let mut out = vec![];
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("run_id", run_id), ("metric_key", key)];
            if let Some(t) = &token {
                query.push(("page_token", t.as_str()));
            }
            let reply: HistoryReply = self
                .call(self.http.get("mlflow/metrics/get-history", &query))
                .await?;
            out.extend(reply.metrics.into_iter().map(WireMetric::into_metric));
            match reply.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    // ---- artifacts ---------------------------------------------------------------------

    /// The proxy URL of `rel` under an `mlflow-artifacts:` URI; any other artifact location
    /// means the server does not proxy artifacts, which this client needs.
    pub(crate) fn proxy_url(&self, artifact_uri: &str, rel: &str) -> Result<Url> {
        let (base, path) = self.proxy_parts(artifact_uri)?;
        let mut url = Url::parse(&format!("{base}/api/2.0/mlflow-artifacts/artifacts"))
            .map_err(|e| Error::config_from(format!("tracking.uri {}", self.uri()), e))?;
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                Error::config(format!("tracking.uri {} cannot hold a path", self.uri()))
            })?;
            segments.extend(
                path.split('/')
                    .chain(rel.split('/'))
                    .filter(|s| !s.is_empty()),
            );
        }
        Ok(url)
    }

    /// The proxy's list URL for `rel` under an `mlflow-artifacts:` URI.
    fn proxy_list_url(&self, artifact_uri: &str, rel: &str) -> Result<Url> {
        let (base, path) = self.proxy_parts(artifact_uri)?;
        let mut url = Url::parse(&format!("{base}/api/2.0/mlflow-artifacts/artifacts"))
            .map_err(|e| Error::config_from(format!("tracking.uri {}", self.uri()), e))?;
        let full: Vec<&str> = path
            .split('/')
            .chain(rel.split('/'))
            .filter(|s| !s.is_empty())
            .collect();
        url.query_pairs_mut().append_pair("path", &full.join("/"));
        Ok(url)
    }

    /// (server base, path) of an `mlflow-artifacts:` URI: `mlflow-artifacts:/1/<run>/artifacts`
    /// is served by this server; `mlflow-artifacts://host:port/…` by that host.
    fn proxy_parts(&self, artifact_uri: &str) -> Result<(String, String)> {
        let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            return Err(Error::input(format!(
                "the MLflow server {} stores artifacts at {artifact_uri}, which only the server itself can reach: \
                 start it with --artifacts-destination <dir> (artifact proxying, --serve-artifacts, is on by default) \
                 so artifacts go through {}/api/2.0/mlflow-artifacts",
                self.uri(),
                self.uri()
            )));
        };
        if let Some(authority_and_path) = rest.strip_prefix("//") {
            let (authority, path) = authority_and_path
                .split_once('/')
                .unwrap_or((authority_and_path, ""));
            if !authority.is_empty() {
                let scheme = self.uri().split("://").next().unwrap_or("http");
                return Ok((format!("{scheme}://{authority}"), path.to_string()));
            }
            return Ok((self.uri().to_string(), path.to_string()));
        }
        Ok((
            self.uri().to_string(),
            rest.trim_start_matches('/').to_string(),
        ))
    }

    async fn run_artifact_uri(&self, run_id: &str) -> Result<String> {
        Ok(self.get_run(run_id).await?.info.artifact_uri)
    }

    /// Upload a file (to `<artifact_path>/<file name>`) or a folder's contents (recursively, to
    /// `<artifact_path>/…`) through the artifact proxy.
    pub(crate) async fn log_artifact(
        &self,
        run_id: &str,
        local: &Path,
        artifact_path: &str,
    ) -> Result<()> {
        check_artifact_path(artifact_path)?;
        let root = self.run_artifact_uri(run_id).await?;
        let local = local.to_path_buf();
        let plan = blocking(move || upload_plan(&local)).await?;
        for (src, rel) in plan {
            let target = if artifact_path.is_empty() {
                rel
            } else {
                format!("{artifact_path}/{rel}")
            };
            let url = self.proxy_url(&root, &target)?;
            let bytes =
                blocking(move || std::fs::read(&src).map_err(|e| Error::io(&src, e))).await?;
            self.call(self.http.put_bytes(url, bytes)).await?;
        }
        Ok(())
    }

    /// Download artifact `path` ("" for all) of a run to `dest/<path>`.
    pub(crate) async fn download_artifacts(
        &self,
        run_id: &str,
        path: &str,
        dest: &Path,
    ) -> Result<PathBuf> {
        check_artifact_path(path)?;
        let root = self.run_artifact_uri(run_id).await?;
        let target = join_rel(dest, path);
        self.download_uri(&root, path, &target).await?;
        Ok(target)
    }

    /// Download what lies at `rel` under an `mlflow-artifacts:` URI (a file, or a folder
    /// recursively) to `target`.
    pub(crate) async fn download_uri(
        &self,
        artifact_uri: &str,
        rel: &str,
        target: &Path,
    ) -> Result<()> {
        let entries = self.list_proxy(artifact_uri, rel).await?;
        if entries.is_empty() {
            // Not a folder (or an empty one): fetch it as a file.
            let url = self.proxy_url(artifact_uri, rel)?;
            let bytes = match self.http.get_url(url).await {
                Ok(b) => b,
                Err(e) if e.status() == Some(404) || e.status() == Some(400) => {
                    return Err(Error::input(format!(
                        "no artifact at {}/{rel} on {}",
                        artifact_uri.trim_end_matches('/'),
                        self.uri()
                    )));
                }
                Err(e) => return Err(self.fail(e)),
            };
            let target = target.to_path_buf();
            return blocking(move || write_atomic(&target, &bytes)).await;
        }
        let mut stack: Vec<(String, PathBuf, Vec<WireFile>)> =
            vec![(rel.to_string(), target.to_path_buf(), entries)];
        while let Some((dir_rel, dir_target, files)) = stack.pop() {
            let dir = dir_target.clone();
            blocking(move || std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))).await?;
            for f in files {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                if name.is_empty() || name == "." || name == ".." {
                    continue;
                }
                let child_rel = if dir_rel.is_empty() {
                    name.clone()
                } else {
                    format!("{dir_rel}/{name}")
                };
                let child_target = dir_target.join(&name);
                if f.is_dir {
                    let children = self.list_proxy(artifact_uri, &child_rel).await?;
                    stack.push((child_rel, child_target, children));
                } else {
                    let url = self.proxy_url(artifact_uri, &child_rel)?;
                    let bytes = self.call(self.http.get_url(url)).await?;
                    blocking(move || write_atomic(&child_target, &bytes)).await?;
                }
            }
        }
        Ok(())
    }

    async fn list_proxy(&self, artifact_uri: &str, rel: &str) -> Result<Vec<WireFile>> {
        let url = self.proxy_list_url(artifact_uri, rel)?;
        let bytes = self.call(self.http.get_url(url)).await?;
        let reply: ListReply = serde_json::from_slice(&bytes).map_err(|e| {
            Error::internal(format!(
                "MLflow tracking server {}: bad artifact listing: {e}",
                self.uri()
            ))
        })?;
        Ok(reply.files)
    }

    /// The entries directly under artifact folder `path` of a run.
    pub(crate) async fn list_artifacts(
        &self,
        run_id: &str,
        path: &str,
    ) -> Result<Vec<ArtifactEntry>> {
        check_artifact_path(path)?;
        let root = self.run_artifact_uri(run_id).await?;
        let mut out: Vec<ArtifactEntry> = self
            .list_proxy(&root, path)
            .await?
            .into_iter()
            .map(|f| {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                ArtifactEntry {
                    path: if path.is_empty() {
                        name
                    } else {
                        format!("{path}/{name}")
                    },
                    is_dir: f.is_dir,
                    size: f.file_size.map(|s| u64::try_from(s.get()).unwrap_or(0)),
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Download the files of a model version's `source` into `target`: an `mlflow-artifacts:`
    /// URI directly, a `runs:/<id>/<path>` URI through the run's artifact location.
    pub(crate) async fn download_source(&self, source: &str, target: &Path) -> Result<()> {
        if let Some(rest) = source.strip_prefix("runs:/") {
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            let root = self.run_artifact_uri(run_id).await?;
            return self.download_uri(&root, path, target).await;
        }
        if source.starts_with("mlflow-artifacts:") {
            return self.download_uri(source, "", target).await;
        }
        Err(Error::input(format!(
            "model source {source} cannot be downloaded through {}: only runs:/ and mlflow-artifacts: sources are \
             supported (start the server with --artifacts-destination so run artifacts are proxied)",
            self.uri()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RestStore {
        RestStore::new("http://127.0.0.1:5000/prefix/", Auth::None).expect("store")
    }

    #[test]
    fn proxy_urls_follow_the_artifact_uri() {
        let s = store();
        let url = s
            .proxy_url("mlflow-artifacts:/1/abc/artifacts", "model/a b.txt")
            .expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/a%20b.txt"
        );
        let other = s
            .proxy_url("mlflow-artifacts://other:6000/2/x/artifacts", "m")
            .expect("url");
        assert_eq!(
            other.as_str(),
            "http://other:6000/api/2.0/mlflow-artifacts/artifacts/2/x/artifacts/m"
        );
        let list = s
            .proxy_list_url("mlflow-artifacts:/1/abc/artifacts", "model")
            .expect("url");
        assert_eq!(
            list.as_str(),
            "http://127.0.0.1:5000/prefix/api/2.0/mlflow-artifacts/artifacts?path=1%2Fabc%2Fartifacts%2Fmodel"
        );
    }

    #[test]
    fn a_server_without_the_artifact_proxy_is_named_with_the_fix() {
        let err = store()
            .proxy_url("file:///srv/mlruns/1/abc/artifacts", "model")
            .expect_err("not proxied");
        let text = err.to_string();
        assert!(text.contains("--artifacts-destination"), "{text}");
        assert!(text.contains("http://127.0.0.1:5000/prefix"), "{text}");
    }

    #[test]
    fn metric_values_use_protobuf_json_for_non_finite() {
        assert_eq!(float_json(f64::NAN), json!("NaN"));
        assert_eq!(float_json(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float_json(0.5), json!(0.5));
        let m: WireMetric =
            serde_json::from_str(r#"{"key":"a","value":"NaN","timestamp":"5","step":2}"#)
                .expect("metric");
        let m = m.into_metric();
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (5, 2));
    }
}
