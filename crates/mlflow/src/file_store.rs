//! The MLflow FileStore layout (`mlruns/`), written so MLflow 3.17's own client, UI and server
//! read it as if MLflow had written it (docs/mlflow-formats.md §a): experiment and run
//! `meta.yaml`, `metrics/<key>` lines, `params/` and `tags/` files without a trailing newline,
//! `artifacts/`, keys with `/` as folders.
//!
//! Concurrency: every file is written to a temporary file in its folder and renamed into place,
//! so a reader never sees half a file. Operations that pick a name or a number (experiment
//! creation, the registry in `registry_files`) hold an exclusive lock on `.creditrisk.lock` in the
//! store's root, so concurrent processes never create the same experiment twice or hand out the
//! same version number. Runs need no lock: their ids are random. Metric values are appended (one
//! `write` per key and batch, like MLflow) rather than rewritten, so logging stays O(1).
//!
//! Everything here is blocking filesystem IO; `Tracker` runs it on tokio's blocking pool.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::local_files::{
    append, copy_atomic, copy_tree, files_under, join_rel, local_path_of, read_files,
    read_optional, upload_plan,
};
use super::names::{self, check_key, check_run_id, check_tag_value};
use super::run_owners;
use super::types::{ArtifactEntry, Batch, Metric, NewRun, Run, RunInfo, RunStatus};
use super::yaml::{self, Value};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::write_atomic_via;

const META: &str = "meta.yaml";
const LOCK_FILE: &str = ".creditrisk.lock";
/// Root folders that are not experiments.
const NOT_EXPERIMENTS: [&str; 2] = [".trash", "models"];

/// An MLflow file store rooted at an absolute folder.
#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
    /// Write artifact locations as `file://` URIs (the store was named by a `file:` URL) or as
    /// plain paths (it was named by a path), as MLflow itself does.
    file_uris: bool,
}

/// Held while a store-wide critical section runs; the OS releases the lock when the file closes,
/// so a crashed process never leaves the store locked.
pub(crate) struct StoreLock {
    _file: File,
}

/// `experiment_id` may be written quoted or as an int; MLflow reads both.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum StrOrInt {
    Str(String),
    Int(i64),
}

impl StrOrInt {
    pub(crate) fn into_string(self) -> String {
        match self {
            StrOrInt::Str(s) => s,
            StrOrInt::Int(i) => i.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct ExperimentMeta {
    experiment_id: StrOrInt,
    name: String,
    #[serde(default)]
    lifecycle_stage: Option<String>,
}

#[derive(Deserialize)]
struct RunMeta {
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_uuid: Option<String>,
    experiment_id: StrOrInt,
    #[serde(default)]
    run_name: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    status: StrOrInt,
    #[serde(default)]
    start_time: Option<i64>,
    #[serde(default)]
    end_time: Option<i64>,
    artifact_uri: String,
    #[serde(default)]
    lifecycle_stage: Option<String>,
}

impl FileStore {
    /// A store at `root` (created on first write). `file_uris`: see the field.
    pub(crate) fn new(root: &Path, file_uris: bool) -> Result<FileStore> {
        let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
        let store = FileStore { root, file_uris };
        store.end_orphaned_runs()?;
        Ok(store)
    }

    /// Mark KILLED every RUNNING run whose process died (see `run_owners`).
    fn end_orphaned_runs(&self) -> Result<()> {
        let orphans = run_owners::orphans(&self.root)?;
        if orphans.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        for run_id in orphans {
            if let Ok(run_dir) = self.run_dir(&run_id) {
                let mut info = self.read_run_info(&run_dir)?;
                if info.status == RunStatus::Running {
                    info.status = RunStatus::Killed;
                    info.end_time = Some(names::now_ms());
                    self.write_run_meta(&run_dir, &info)?;
                }
            }
            run_owners::release(&self.root, &run_id)?;
        }
        Ok(())
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The store's URI as MLflow's client would take it.
    pub(crate) fn uri(&self) -> String {
        self.location_of(&self.root)
    }

    /// How a folder of this store is written into meta.yaml (`artifact_location`, `artifact_uri`).
    pub(crate) fn location_of(&self, path: &Path) -> String {
        if self.file_uris
            && let Ok(url) = url::Url::from_file_path(path)
        {
            return url.to_string();
        }
        path.display().to_string()
    }

    /// Replace `path` atomically, with the temporary file at the store root: MLflow lists every
    /// file of `params/`, `tags/`, `aliases/` and a version's folder, but no file at the root, so a
    /// write cut short by a crash leaves nothing MLflow shows.
    pub(crate) fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        write_atomic_via(path, &self.root, |f| f.write_all(bytes))
    }

    /// Take the store-wide lock (blocks until free).
    pub(crate) fn lock(&self) -> Result<StoreLock> {
        self.take_lock(File::lock)
    }

    /// Take the store-wide lock shared with other readers: a reader waits while a writer holds
    /// [`FileStore::lock`], so it never sees a transition half done.
    pub(crate) fn lock_shared(&self) -> Result<StoreLock> {
        self.take_lock(File::lock_shared)
    }

    fn take_lock(&self, take: fn(&File) -> std::io::Result<()>) -> Result<StoreLock> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.root.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        take(&file).map_err(|e| Error::io(&path, e))?;
        Ok(StoreLock { _file: file })
    }

    // ---- experiments -------------------------------------------------------------------

    /// The id of the active experiment called `name`, creating it when missing.
    pub(crate) fn get_or_create_experiment(&self, name: &str) -> Result<String> {
        if name.trim().is_empty() {
            return Err(Error::input("experiment name is empty"));
        }
        if let Some(id) = self.find_experiment(name)? {
            return Ok(id);
        }
        let _lock = self.lock()?;
        if let Some(id) = self.find_experiment(name)? {
            return Ok(id);
        }
        let id = loop {
            let id = names::new_experiment_id();
            if !self.root.join(&id).exists() {
                break id;
            }
        };
        let dir = self.root.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let now = names::now_ms();
        let meta = yaml::to_string(vec![
            (
                "artifact_location".into(),
                Value::str(self.location_of(&dir)),
            ),
            ("creation_time".into(), Value::Int(now)),
            ("effective_trace_archival_retention".into(), Value::Null),
            ("experiment_id".into(), Value::str(&id)),
            ("last_update_time".into(), Value::Int(now)),
            ("lifecycle_stage".into(), Value::str("active")),
            ("name".into(), Value::str(name)),
            ("trace_location".into(), Value::Null),
            ("workspace".into(), Value::str("default")),
        ]);
        self.write(&dir.join(META), meta.as_bytes())?;
        Ok(id)
    }

    /// Scan `<root>/*/meta.yaml` for an active experiment named `name`, as MLflow does.
    fn find_experiment(&self, name: &str) -> Result<Option<String>> {
        for dir in self.experiment_dirs()? {
            let meta_path = dir.join(META);
            if !meta_path.is_file() {
                continue;
            }
            let meta: ExperimentMeta = yaml::read(&meta_path)?;
            let id = meta.experiment_id.into_string();
            let active = meta.lifecycle_stage.as_deref().unwrap_or("active") == "active";
            // MLflow ignores an experiment whose folder is not named after its id.
            if meta.name == name && active && dir.file_name().is_some_and(|f| *f == *id) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    fn experiment_dirs(&self) -> Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut dirs = vec![];
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.path().is_dir() && !NOT_EXPERIMENTS.contains(&name.as_str()) {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    // ---- runs --------------------------------------------------------------------------

    /// Create a RUNNING run in `experiment_id` with `spec`'s name and tags.
    pub(crate) fn create_run(&self, experiment_id: &str, spec: &NewRun) -> Result<RunInfo> {
        let tags = spec.all_tags();
        for (k, v) in &tags {
            check_key("tag", k)?;
            check_tag_value(k, v)?;
        }
        let exp_dir = self.root.join(experiment_id);
        if experiment_id.is_empty()
            || !experiment_id.chars().all(|c| c.is_ascii_digit())
            || !exp_dir.join(META).is_file()
        {
            return Err(Error::input(format!(
                "experiment {experiment_id:?} does not exist in the MLflow store {}",
                self.root.display()
            )));
        }
        let run_id = names::new_run_id();
        let run_dir = exp_dir.join(&run_id);
        for sub in ["", "metrics", "params", "tags", "artifacts"] {
            let d = run_dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let info = RunInfo {
            run_id: run_id.clone(),
            experiment_id: experiment_id.to_string(),
            run_name: spec.run_name.clone(),
            user_id: spec.user.clone(),
            status: RunStatus::Running,
            start_time: spec.start_time.unwrap_or_else(names::now_ms),
            end_time: None,
            artifact_uri: self.location_of(&run_dir.join("artifacts")),
            lifecycle_stage: "active".into(),
        };
        // meta.yaml first: with it the run is valid (MLflow skips a run folder without one).
        run_owners::claim(&self.root, &run_id)?;
        self.write_run_meta(&run_dir, &info)?;
        for (k, v) in &tags {
            self.write(&run_dir.join("tags").join(k), v.as_bytes())?;
        }
        Ok(info)
    }

    fn write_run_meta(&self, run_dir: &Path, info: &RunInfo) -> Result<()> {
        let meta = yaml::to_string(vec![
            ("artifact_uri".into(), Value::str(&info.artifact_uri)),
            ("end_time".into(), Value::opt_int(info.end_time)),
            ("entry_point_name".into(), Value::str("")),
            ("experiment_id".into(), Value::str(&info.experiment_id)),
            ("lifecycle_stage".into(), Value::str(&info.lifecycle_stage)),
            ("run_id".into(), Value::str(&info.run_id)),
            ("run_name".into(), Value::str(&info.run_name)),
            ("source_name".into(), Value::str("")),
            ("source_type".into(), Value::Int(4)),
            ("source_version".into(), Value::str("")),
            ("start_time".into(), Value::Int(info.start_time)),
            ("status".into(), Value::Int(info.status.code())),
            ("tags".into(), Value::EmptyList),
            ("user_id".into(), Value::str(&info.user_id)),
        ]);
        self.write(&run_dir.join(META), meta.as_bytes())
    }

    /// The folder of run `run_id`, whichever experiment holds it.
    fn run_dir(&self, run_id: &str) -> Result<PathBuf> {
        check_run_id(run_id)?;
        for exp in self.experiment_dirs()? {
            let dir = exp.join(run_id);
            if dir.join(META).is_file() {
                return Ok(dir);
            }
        }
        Err(Error::input(format!(
            "run {run_id} not found in the MLflow store {}",
            self.root.display()
        )))
    }

    fn read_run_info(&self, run_dir: &Path) -> Result<RunInfo> {
        let path = run_dir.join(META);
        let meta: RunMeta = yaml::read(&path)?;
        let run_id = meta.run_id.or(meta.run_uuid).unwrap_or_default();
        let status = match meta.status {
            StrOrInt::Int(i) => RunStatus::from_code(i),
            StrOrInt::Str(s) => RunStatus::from_name(&s),
        }
        .ok_or_else(|| Error::input(format!("{}: unknown run status", path.display())))?;
        Ok(RunInfo {
            run_id,
            experiment_id: meta.experiment_id.into_string(),
            run_name: meta.run_name.unwrap_or_default(),
            user_id: meta.user_id.unwrap_or_default(),
            status,
            start_time: meta.start_time.unwrap_or(0),
            end_time: meta.end_time,
            artifact_uri: meta.artifact_uri,
            lifecycle_stage: meta.lifecycle_stage.unwrap_or_else(|| "active".into()),
        })
    }

    /// Log metrics, params and tags. Params are checked against what is logged before anything
    /// is written, so a conflicting batch writes nothing.
    pub(crate) fn log_batch(&self, run_id: &str, batch: &Batch) -> Result<()> {
        batch.check()?;
        let run_dir = self.run_dir(run_id)?;
        for (k, v) in &batch.params {
            let path = run_dir.join("params").join(k);
            if let Some(old) = read_optional(&path)?
                && old != *v
            {
                return Err(Error::input(format!(
                    "run {run_id}: param {k:?} is already logged as {old:?}; params are immutable (new value {v:?})"
                )));
            }
        }
        for (k, v) in &batch.params {
            let path = run_dir.join("params").join(k);
            if !path.exists() {
                self.write(&path, v.as_bytes())?;
            }
        }
        let mut lines: BTreeMap<&str, String> = BTreeMap::new();
        for m in &batch.metrics {
            let line = lines.entry(m.key.as_str()).or_default();
            line.push_str(&format!(
                "{} {} {}\n",
                m.timestamp,
                python_float(m.value),
                m.step
            ));
        }
        for (key, text) in lines {
            append(&run_dir.join("metrics").join(key), text.as_bytes())?;
        }
        for (k, v) in &batch.tags {
            self.write_tag(&run_dir, k, v)?;
        }
        Ok(())
    }

    pub(crate) fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        check_key("tag", key)?;
        check_tag_value(key, value)?;
        let run_dir = self.run_dir(run_id)?;
        self.write_tag(&run_dir, key, value)
    }

    /// A tag file; `mlflow.runName` also renames the run in meta.yaml, as MLflow does.
    fn write_tag(&self, run_dir: &Path, key: &str, value: &str) -> Result<()> {
        self.write(&run_dir.join("tags").join(key), value.as_bytes())?;
        if key == "mlflow.runName" {
            let mut info = self.read_run_info(run_dir)?;
            if info.run_name != value {
                info.run_name = value.to_string();
                self.write_run_meta(run_dir, &info)?;
            }
        }
        Ok(())
    }

    /// Set the run's status and end time (now when `None`).
    pub(crate) fn end_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<()> {
        let run_dir = self.run_dir(run_id)?;
        let mut info = self.read_run_info(&run_dir)?;
        info.status = status;
        info.end_time = Some(end_time.unwrap_or_else(names::now_ms));
        self.write_run_meta(&run_dir, &info)?;
        run_owners::release(&self.root, run_id)
    }

    pub(crate) fn get_run(&self, run_id: &str) -> Result<Run> {
        let run_dir = self.run_dir(run_id)?;
        let info = self.read_run_info(&run_dir)?;
        let mut metrics = BTreeMap::new();
        for key in files_under(&run_dir.join("metrics"))? {
            let history = read_metric_file(&run_dir.join("metrics").join(&key), &key)?;
            let latest = history
                .into_iter()
                .reduce(|a, b| if b.later_than(&a) { b } else { a });
            if let Some(m) = latest {
                metrics.insert(key, m);
            }
        }
        Ok(Run {
            info,
            params: read_files(&run_dir.join("params"))?,
            metrics,
            tags: read_files(&run_dir.join("tags"))?,
        })
    }

    /// Every logged value of a metric, in logging order.
    pub(crate) fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        check_key("metric", key)?;
        let path = self.run_dir(run_id)?.join("metrics").join(key);
        if !path.is_file() {
            return Ok(vec![]);
        }
        read_metric_file(&path, key)
    }

    // ---- artifacts ---------------------------------------------------------------------

    /// The local folder of a run's artifacts (its `artifact_uri` must be local).
    pub(crate) fn artifact_dir(&self, run_id: &str) -> Result<PathBuf> {
        let info = self.read_run_info(&self.run_dir(run_id)?)?;
        local_path_of(&info.artifact_uri).ok_or_else(|| {
            Error::input(format!(
                "run {run_id}: artifact location {} is not a local folder",
                info.artifact_uri
            ))
        })
    }

    /// Copy a file (to `<artifact_path>/<file name>`) or a folder's contents (to
    /// `<artifact_path>/…`, recursively) into the run's artifacts, as MLflow's `log_artifact` and
    /// `log_artifacts` do.
    pub(crate) fn log_artifact(
        &self,
        run_id: &str,
        local: &Path,
        artifact_path: &str,
    ) -> Result<()> {
        names::check_artifact_path(artifact_path)?;
        let artifacts = self.artifact_dir(run_id)?;
        let dest = join_rel(&artifacts, artifact_path);
        // Temporary files go where MLflow lists nothing, on the artifacts' file system: the store
        // root when the artifacts are inside the store (the default), else the folder holding the
        // run's artifact folder. Not beside `dest`: that is inside `artifacts/` (for any
        // `artifact_path` but ""), which MLflow's UI and `list_artifacts` show, so a process
        // killed mid-copy left a `.tmp…` file there for good.
        let temp_dir = if artifacts.starts_with(&self.root) {
            self.root.as_path()
        } else {
            artifacts.parent().unwrap_or(&artifacts)
        };
        for (src, rel) in upload_plan(local)? {
            let target = join_rel(&dest, &rel);
            copy_atomic(&src, &target, temp_dir)?;
        }
        Ok(())
    }

    /// Copy artifact `path` (a file or folder; "" for all) of a run to `dest/<path>` and return
    /// that local path.
    pub(crate) fn download_artifacts(
        &self,
        run_id: &str,
        path: &str,
        dest: &Path,
    ) -> Result<PathBuf> {
        names::check_artifact_path(path)?;
        let src = join_rel(&self.artifact_dir(run_id)?, path);
        if !src.exists() {
            return Err(Error::input(format!(
                "run {run_id}: no artifact at {path:?}"
            )));
        }
        let target = join_rel(dest, path);
        copy_tree(&src, &target)?;
        Ok(target)
    }

    /// The entries directly under artifact folder `path` ("" for the root).
    pub(crate) fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<ArtifactEntry>> {
        names::check_artifact_path(path)?;
        let dir = join_rel(&self.artifact_dir(run_id)?, path);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(vec![]);
        };
        let mut out = vec![];
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(".tmp") {
                continue; // an atomic write in progress
            }
            let meta = entry.metadata().map_err(|e| Error::io(&entry.path(), e))?;
            let rel = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            out.push(ArtifactEntry {
                path: rel,
                is_dir: meta.is_dir(),
                size: meta.is_file().then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Parse a metric file: lines of `<timestamp> <value> [<step> [<dataset> <digest>]]`.
fn read_metric_file(path: &Path, key: &str) -> Result<Vec<Metric>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let bad = || {
            Error::input(format!(
                "{}:{}: malformed metric line {line:?}",
                path.display(),
                i + 1
            ))
        };
        if !matches!(fields.len(), 2 | 3 | 5) {
            return Err(bad());
        }
        let timestamp = fields[0].parse::<i64>().map_err(|_| bad())?;
        let value = fields[1].parse::<f64>().map_err(|_| bad())?;
        let step = match fields.get(2) {
            Some(s) => s.parse::<i64>().map_err(|_| bad())?,
            None => 0,
        };
        out.push(Metric {
            key: key.to_string(),
            value,
            timestamp,
            step,
        });
    }
    Ok(out)
}

/// A float as Python's `str(float)` writes it (MLflow writes metric files with it): shortest
/// round-trip digits, `3.0` for integral values, exponent form below 1e-4 and from 1e16
/// (`1e-05`, `1.5e+16`), and `nan`, `inf`, `-inf`.
pub(crate) fn python_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-7", "0e0".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if v == 0.0 {
        return format!("{sign}0.0");
    }
    if !(-5 < exp && exp < 16) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let pad = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{pad}.0")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (3.0, "3.0"),
            (0.1, "0.1"),
            (0.81, "0.81"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.2345e-7, "1.2345e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (123456.789, "123456.789"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (v, want) in cases {
            assert_eq!(python_float(v), want, "{v}");
        }
    }
}
