//! The file-store model registry, `mlruns/models/<name>/` (docs/mlflow-formats.md §b):
//! `meta.yaml`, `version-N/meta.yaml` with exactly the keys MLflow 3.17.2 writes,
//! `version-N/tags/`, `tags/`, and `aliases/<alias>` files holding a version number (what MLflow
//! reads) mirrored into the `aliases:` map of the model's meta.yaml (a copy MLflow keeps in step).
//!
//! Every change that reads then writes (numbering a version, archiving the other versions of a
//! stage, moving an alias) runs under the store lock, and every file is replaced atomically; a new
//! version is built in a `.tmp-…` folder and renamed to `version-N` (MLflow only lists `version-*`
//! folders), so no reader ever sees a version without its meta.yaml.
//!
//! A stage transition rewrites several versions' meta.yaml (the new holder, the archived ones), so
//! it is journaled: the new contents of every file go first into one `.creditrisk-transition.json`
//! in the model's folder (a file MLflow ignores), then to their places, then the journal is
//! removed. A transition cut short by a crash is completed from the journal by the next process
//! that takes the lock or reads the registry; creditrisk's readers take the lock shared, so they
//! see a transition either not started or complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::file_store::{FileStore, StoreLock, StrOrInt};
use super::local_files::{files_under, read_files, read_optional};
use super::names::{self, check_alias, check_key, check_model_name, now_ms};
use super::types::{ModelVersion, parse_stage};
use super::yaml::{self, Value};
use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};
use std::io::Write;

use creditrisk_base::io::{write_atomic, write_atomic_via};

const META: &str = "meta.yaml";
/// The pending transition of a model (see the module docs).
const JOURNAL: &str = ".creditrisk-transition.json";
/// MLflow's limit on registry tag values.
const MAX_REGISTRY_TAG_VALUE_LEN: usize = 100_000;

#[derive(Deserialize)]
struct ModelMeta {
    #[serde(default)]
    creation_timestamp: Option<i64>,
    #[serde(default)]
    last_updated_timestamp: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    deployment_job_id: Option<String>,
    #[serde(default)]
    deployment_job_state: Option<String>,
}

/// A version's meta.yaml; fields MLflow may have filled (model_id, run_link, …) are kept when we
/// rewrite the file.
#[derive(Deserialize)]
struct VersionMeta {
    name: String,
    version: StrOrInt,
    #[serde(default)]
    creation_timestamp: Option<i64>,
    #[serde(default)]
    last_updated_timestamp: Option<i64>,
    #[serde(default)]
    current_stage: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    run_link: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_message: Option<String>,
    #[serde(default)]
    storage_location: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    model_id: Option<String>,
    #[serde(default)]
    deployment_job_state: Option<String>,
}

impl VersionMeta {
    fn to_yaml(&self, version: u64) -> String {
        yaml::to_string(vec![
            (
                "creation_timestamp".into(),
                Value::opt_int(self.creation_timestamp),
            ),
            (
                "current_stage".into(),
                Value::str(self.current_stage.as_deref().unwrap_or("None")),
            ),
            (
                "deployment_job_state".into(),
                Value::opt_str(self.deployment_job_state.as_deref()),
            ),
            (
                "description".into(),
                Value::opt_str(self.description.as_deref()),
            ),
            (
                "last_updated_timestamp".into(),
                Value::opt_int(self.last_updated_timestamp),
            ),
            ("model_id".into(), Value::opt_str(self.model_id.as_deref())),
            ("name".into(), Value::str(&self.name)),
            ("run_id".into(), Value::opt_str(self.run_id.as_deref())),
            ("run_link".into(), Value::opt_str(self.run_link.as_deref())),
            ("source".into(), Value::opt_str(self.source.as_deref())),
            (
                "status".into(),
                Value::str(self.status.as_deref().unwrap_or("READY")),
            ),
            (
                "status_message".into(),
                Value::opt_str(self.status_message.as_deref()),
            ),
            (
                "storage_location".into(),
                Value::opt_str(self.storage_location.as_deref()),
            ),
            ("user_id".into(), Value::opt_str(self.user_id.as_deref())),
            (
                "version".into(),
                Value::Int(i64::try_from(version).unwrap_or(i64::MAX)),
            ),
            ("workspace".into(), Value::str("default")),
        ])
    }
}

fn version_number(v: StrOrInt, path: &Path) -> Result<u64> {
    let text = v.into_string();
    text.parse::<u64>().map_err(|_| {
        Error::input(format!(
            "{}: version {text:?} is not a number",
            path.display()
        ))
    })
}

impl FileStore {
    fn model_dir(&self, name: &str) -> Result<PathBuf> {
        check_model_name(name)?;
        Ok(self.root().join("models").join(name))
    }

    /// The folder of an existing registered model.
    fn existing_model_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.model_dir(name)?;
        if !dir.join(META).is_file() {
            return Err(Error::input(format!(
                "registered model {name:?} not found in the MLflow store {}",
                self.root().display()
            )));
        }
        Ok(dir)
    }

    /// Create registered model `name` unless it exists. A folder left without meta.yaml by a
    /// crash is completed.
    pub(crate) fn create_registered_model(&self, name: &str) -> Result<()> {
        let dir = self.model_dir(name)?;
        if dir.join(META).is_file() {
            return Ok(());
        }
        let _lock = self.lock()?;
        if dir.join(META).is_file() {
            return Ok(());
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let now = now_ms();
        let meta = ModelMeta {
            creation_timestamp: Some(now),
            last_updated_timestamp: Some(now),
            description: None,
            deployment_job_id: None,
            deployment_job_state: None,
        };
        write_model_meta(&dir, name, &meta)
    }

    /// Rewrite the model's meta.yaml with `last_updated_timestamp = now` and the aliases map
    /// taken from the `aliases/` files. Caller holds the lock.
    fn touch_model(&self, dir: &Path, name: &str, now: i64) -> Result<()> {
        let mut meta: ModelMeta = yaml::read(&dir.join(META))?;
        meta.last_updated_timestamp = Some(now);
        write_model_meta(dir, name, &meta)
    }

    /// Register a new version of `name` (which must exist) and return it, numbered
    /// max(existing) + 1 under the store lock.
    pub(crate) fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: Option<&str>,
        description: Option<&str>,
    ) -> Result<ModelVersion> {
        if source.is_empty() {
            return Err(Error::input(format!(
                "model {name:?}: a version needs a source"
            )));
        }
        if let Some(r) = run_id {
            names::check_run_id(r)?;
        }
        let dir = self.existing_model_dir(name)?;
        let _lock = self.lock()?;
        let now = now_ms();
        let first = self.version_numbers(&dir)?.into_iter().max().unwrap_or(0) + 1;
        let meta = VersionMeta {
            name: name.to_string(),
            version: StrOrInt::Int(0),
            creation_timestamp: Some(now),
            last_updated_timestamp: Some(now),
            current_stage: Some(Stage::None.as_str().to_string()),
            description: description.map(str::to_string),
            source: Some(source.to_string()),
            run_id: run_id.map(str::to_string),
            run_link: None,
            status: Some("READY".into()),
            status_message: None,
            storage_location: Some(source.to_string()),
            user_id: None,
            model_id: None,
            deployment_job_state: None,
        };
        // A writer that ignores our lock (MLflow's own client) may take a number meanwhile: the
        // rename then fails on the existing folder and the next number is tried.
        for version in (first..).take(100) {
            let staging = tempfile::Builder::new()
                .prefix(".tmp-version-")
                .tempdir_in(&dir)
                .map_err(|e| Error::io(&dir, e))?;
            write_atomic(&staging.path().join(META), meta.to_yaml(version).as_bytes())?;
            let target = dir.join(format!("version-{version}"));
            if !target.exists() && std::fs::rename(staging.path(), &target).is_ok() {
                let _ = staging.keep();
                self.touch_model(&dir, name, now)?;
                return self.version_unlocked(&dir, name, version);
            }
        }
        Err(Error::internal(format!(
            "model {name:?}: could not allocate a version folder in {}",
            dir.display()
        )))
    }

    fn version_numbers(&self, dir: &Path) -> Result<Vec<u64>> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        Ok(entries
            .flatten()
            .filter(|e| e.path().join(META).is_file())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("version-")?
                    .parse::<u64>()
                    .ok()
            })
            .collect())
    }

    fn read_version_meta(
        &self,
        dir: &Path,
        name: &str,
        version: u64,
    ) -> Result<(PathBuf, VersionMeta)> {
        let path = dir.join(format!("version-{version}")).join(META);
        if !path.is_file() {
            return Err(Error::input(format!(
                "model version {name} {version} not found"
            )));
        }
        Ok((path.clone(), yaml::read(&path)?))
    }

    pub(crate) fn get_model_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        let dir = self.existing_model_dir(name)?;
        let _lock = self.read_lock(&dir)?;
        self.version_unlocked(&dir, name, version)
    }

    /// A version as the files say; the caller holds the lock.
    fn version_unlocked(&self, dir: &Path, name: &str, version: u64) -> Result<ModelVersion> {
        let aliases = alias_files(dir)?;
        self.load_version(dir, name, version, &aliases)
    }

    /// The lock a reader holds: shared, after completing a transition a crashed writer left.
    fn read_lock(&self, dir: &Path) -> Result<StoreLock> {
        if dir.join(JOURNAL).exists() {
            let _lock = self.lock()?;
            complete_transition(dir, self.root())?;
        }
        self.lock_shared()
    }

    fn load_version(
        &self,
        dir: &Path,
        name: &str,
        version: u64,
        aliases: &BTreeMap<String, String>,
    ) -> Result<ModelVersion> {
        let (path, meta) = self.read_version_meta(dir, name, version)?;
        let number = version_number(meta.version, &path)?;
        let stage_text = meta.current_stage.unwrap_or_else(|| "None".into());
        let stage = parse_stage(&stage_text).ok_or_else(|| {
            Error::input(format!("{}: unknown stage {stage_text:?}", path.display()))
        })?;
        let number_text = number.to_string();
        Ok(ModelVersion {
            name: meta.name,
            version: number,
            run_id: meta.run_id.filter(|r| !r.is_empty()),
            source: meta.source.unwrap_or_default(),
            stage,
            aliases: aliases
                .iter()
                .filter(|(_, v)| v.trim() == number_text)
                .map(|(a, _)| a.clone())
                .collect(),
            tags: read_files(&dir.join(format!("version-{version}")).join("tags"))?,
            description: meta.description.filter(|d| !d.is_empty()),
            creation_timestamp: meta.creation_timestamp.unwrap_or(0),
            last_updated_timestamp: meta.last_updated_timestamp.unwrap_or(0),
            status: meta.status.unwrap_or_else(|| "READY".into()),
        })
    }

    /// All versions of `name`, oldest first.
    pub(crate) fn list_model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let dir = self.existing_model_dir(name)?;
        let _lock = self.read_lock(&dir)?;
        let aliases = alias_files(&dir)?;
        let mut numbers = self.version_numbers(&dir)?;
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|v| self.load_version(&dir, name, v, &aliases))
            .collect()
    }

    /// Move a version to `stage`; with `archive_existing`, every other version in that stage
    /// becomes Archived in the same critical section (only Staging and Production can archive,
    /// as in MLflow).
    pub(crate) fn transition_stage(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        self.transition_stage_from(name, version, stage, archive_existing)
            .map(|(after, _)| after)
    }

    /// [`FileStore::transition_stage`], with the versions that held `stage` when the lock was
    /// taken.
    pub(crate) fn transition_stage_from(
        &self,
        name: &str,
        version: u64,
        stage: Stage,
        archive_existing: bool,
    ) -> Result<(ModelVersion, Vec<u64>)> {
        if archive_existing && !matches!(stage, Stage::Staging | Stage::Production) {
            return Err(Error::input(format!(
                "model {name} version {version}: archiving existing versions needs stage Staging or Production, not {}",
                stage.as_str()
            )));
        }
        let dir = self.existing_model_dir(name)?;
        let _lock = self.lock()?;
        complete_transition(&dir, self.root())?;
        let now = now_ms();
        let (target_path, mut target) = self.read_version_meta(&dir, name, version)?;
        target.current_stage = Some(stage.as_str().into());
        target.last_updated_timestamp = Some(now);
        // The new holder is written first, so even a reader without the lock (MLflow's own)
        // never finds the stage empty.
        let mut writes = vec![(target_path, target.to_yaml(version))];
        let mut previous = vec![];
        for other in self.version_numbers(&dir)? {
            if other == version {
                continue;
            }
            let (path, mut meta) = self.read_version_meta(&dir, name, other)?;
            if meta.current_stage.as_deref().and_then(parse_stage) == Some(stage) {
                previous.push(other);
                if archive_existing {
                    meta.current_stage = Some(Stage::Archived.as_str().into());
                    meta.last_updated_timestamp = Some(now);
                    writes.push((path, meta.to_yaml(other)));
                }
            }
        }
        previous.sort_unstable();
        let journal = Journal {
            writes: writes
                .into_iter()
                .map(|(path, text)| (rel_to(&dir, &path), text))
                .collect(),
        };
        write_atomic(&dir.join(JOURNAL), &journal_bytes(&journal)?)?;
        complete_transition(&dir, self.root())?;
        self.touch_model(&dir, name, now)?;
        Ok((self.version_unlocked(&dir, name, version)?, previous))
    }

    /// Point `alias` at `version` (moving it if it pointed elsewhere): one atomic file
    /// replacement, then the meta.yaml copy.
    pub(crate) fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        check_alias(alias)?;
        let dir = self.existing_model_dir(name)?;
        let _lock = self.lock()?;
        self.read_version_meta(&dir, name, version)?;
        self.write(
            &dir.join("aliases").join(alias),
            version.to_string().as_bytes(),
        )?;
        self.touch_model(&dir, name, now_ms())
    }

    pub(crate) fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        check_alias(alias)?;
        let dir = self.existing_model_dir(name)?;
        let _lock = self.read_lock(&dir)?;
        let text = read_optional(&dir.join("aliases").join(alias))?.ok_or_else(|| {
            Error::input(format!("registered model {name:?} has no alias {alias:?}"))
        })?;
        let version = text.trim().parse::<u64>().map_err(|_| {
            Error::input(format!(
                "alias {alias:?} of model {name:?} holds {text:?}, not a version"
            ))
        })?;
        self.get_model_version(name, version)
    }

    /// Remove an alias (nothing to do when it does not exist).
    pub(crate) fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        check_alias(alias)?;
        let dir = self.existing_model_dir(name)?;
        let _lock = self.lock()?;
        let path = dir.join("aliases").join(alias);
        match std::fs::remove_file(&path) {
            Ok(()) => self.touch_model(&dir, name, now_ms()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    pub(crate) fn set_model_version_tag(
        &self,
        name: &str,
        version: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_registry_tag(key, value)?;
        let dir = self.existing_model_dir(name)?;
        self.read_version_meta(&dir, name, version)?;
        let path = dir
            .join(format!("version-{version}"))
            .join("tags")
            .join(key);
        self.write(&path, value.as_bytes())
    }

    pub(crate) fn set_registered_model_tag(
        &self,
        name: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_registry_tag(key, value)?;
        let dir = self.existing_model_dir(name)?;
        self.write(&dir.join("tags").join(key), value.as_bytes())
    }
}

/// A transition's new file contents, relative to the model's folder, in the order they are
/// written.
#[derive(serde::Serialize, Deserialize)]
struct Journal {
    writes: Vec<(String, String)>,
}

fn journal_bytes(journal: &Journal) -> Result<Vec<u8>> {
    serde_json::to_vec(journal)
        .map_err(|e| Error::internal_from("cannot serialise a registry transition", e))
}

/// `path` relative to the model folder `dir` (every journaled file is inside it).
fn rel_to(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Apply a pending transition of the model in `dir`, if any, then drop its journal; applying
/// twice writes the same bytes, so a crash during this function is completed by the next call.
/// Caller holds the lock; temporary files go to `temp_dir` (the store root, which MLflow does
/// not list).
fn complete_transition(dir: &Path, temp_dir: &Path) -> Result<()> {
    let path = dir.join(JOURNAL);
    let Some(text) = read_optional(&path)? else {
        return Ok(());
    };
    let journal: Journal = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: unreadable registry transition ({e}); the model's versions may be mid-transition: \
             check their stages, then delete this file",
            path.display()
        ))
    })?;
    for (rel, text) in &journal.writes {
        let target = dir.join(rel);
        if !target.starts_with(dir) || rel.split('/').any(|part| part == "..") {
            return Err(Error::input(format!(
                "{}: a transition may only write inside the model's folder, not {rel:?}",
                path.display()
            )));
        }
        write_atomic_via(&target, temp_dir, |f| f.write_all(text.as_bytes()))?;
    }
    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))
}

fn check_registry_tag(key: &str, value: &str) -> Result<()> {
    check_key("registry tag", key)?;
    if value.chars().count() > MAX_REGISTRY_TAG_VALUE_LEN {
        return Err(Error::input(format!(
            "registry tag {key:?}: value longer than {MAX_REGISTRY_TAG_VALUE_LEN} characters"
        )));
    }
    Ok(())
}

/// alias → version text, from the `aliases/` files.
fn alias_files(model_dir: &Path) -> Result<BTreeMap<String, String>> {
    let dir = model_dir.join("aliases");
    let mut out = BTreeMap::new();
    for alias in files_under(&dir)? {
        if let Some(text) = read_optional(&dir.join(&alias))? {
            out.insert(alias, text.trim().to_string());
        }
    }
    Ok(out)
}

fn write_model_meta(dir: &Path, name: &str, meta: &ModelMeta) -> Result<()> {
    let aliases = alias_files(dir)?
        .into_iter()
        .map(|(a, v)| (a, Value::Str(v)))
        .collect();
    let text = yaml::to_string(vec![
        ("aliases".into(), Value::Map(aliases)),
        (
            "creation_timestamp".into(),
            Value::opt_int(meta.creation_timestamp),
        ),
        (
            "deployment_job_id".into(),
            Value::opt_str(meta.deployment_job_id.as_deref()),
        ),
        (
            "deployment_job_state".into(),
            Value::opt_str(meta.deployment_job_state.as_deref()),
        ),
        (
            "description".into(),
            Value::opt_str(meta.description.as_deref()),
        ),
        (
            "last_updated_timestamp".into(),
            Value::opt_int(meta.last_updated_timestamp),
        ),
        ("name".into(), Value::str(name)),
        ("workspace".into(), Value::str("default")),
    ]);
    write_atomic(&dir.join(META), text.as_bytes())
}
