//! A stage's fingerprint: everything its result depends on (input file digests, the config
//! sections it reads, the feature SQL, the binary, the registry version it acts on) and the
//! digests of what it wrote. `creditrisk run` skips a stage whose fingerprint from its last
//! success still matches, and saves a new one only after the stage succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file_hashes::FileHashes;
use creditrisk_base::config::Stage;
use creditrisk_base::error::Result;

/// Digest recorded for a file (or folder) that does not exist.
const MISSING: &str = "missing";

/// What a stage's result depends on; equal before and after means "nothing changed".
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dependencies {
    /// sha256 of the running executable: a rebuilt binary reruns every stage.
    pub binary_sha256: String,
    /// Config section → sha256 of its effective value (after environment overrides).
    pub sections: BTreeMap<String, String>,
    /// sha256 of the feature SQL set, for the stages that read it.
    pub feature_sql_sha256: Option<String>,
    /// Input file (relative to the project root) → sha256.
    pub inputs: BTreeMap<String, String>,
    /// The registered version the stage acts on (`None` for stages that do not touch the
    /// registry).
    pub registry: Option<RegistryKey>,
}

/// What the registry held for a stage, as fields rather than a sentence, so that rewording how it
/// is shown never reruns a stage. A fingerprint written before this was typed (a plain string)
/// does not load, and its stage runs once more.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegistryKey {
    /// `registry.model_name` has no version yet.
    NoVersion,
    /// `model.name` has no trained bundle yet.
    NoBundle,
    /// The latest bundle was trained without a tracker, so nothing registered it.
    UntrackedBundle { bundle: String },
    /// The latest bundle's tracked run is not registered as any version.
    UnregisteredRun { run_id: String },
    /// A registered version, with its stage for the stages whose result depends on it.
    Version {
        model: String,
        version: u64,
        run_id: Option<String>,
        stage: Option<Stage>,
    },
}

impl std::fmt::Display for RegistryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryKey::NoVersion => f.write_str("no registered version"),
            RegistryKey::NoBundle => f.write_str("no trained bundle"),
            RegistryKey::UntrackedBundle { bundle } => write!(f, "{bundle}: no tracked run"),
            RegistryKey::UnregisteredRun { run_id } => write!(f, "run {run_id}: not registered"),
            RegistryKey::Version {
                model,
                version,
                run_id,
                stage,
            } => {
                let run = run_id.as_deref().unwrap_or("-");
                write!(f, "models:/{model}/{version} (run {run})")?;
                match stage {
                    Some(stage) => write!(f, " in {}", stage.as_str()),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `reports/.stages/<stage>.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fingerprint {
    pub stage: String,
    pub depends_on: Dependencies,
    /// Output file (relative to the project root) → sha256.
    pub outputs: BTreeMap<String, String>,
    /// The stage's headline figure, shown again when it is skipped.
    pub figure: String,
    pub seconds: f64,
    pub finished_at: String,
}

impl Fingerprint {
    /// The last successful run's fingerprint (an unreadable one counts as none: the stage reruns).
    pub fn load(path: &Path) -> Option<Fingerprint> {
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        creditrisk_base::io::write_json(path, self)
    }

    /// Why the stage must run again, or `None` when it may be skipped.
    pub fn stale_because(
        &self,
        now: &Dependencies,
        outputs: &BTreeMap<String, String>,
    ) -> Option<String> {
        let was = &self.depends_on;
        if was.binary_sha256 != now.binary_sha256 {
            return Some("the binary changed".into());
        }
        if let Some(section) = changed_key(&was.sections, &now.sections) {
            return Some(format!("config section `{section}` changed"));
        }
        if was.feature_sql_sha256 != now.feature_sql_sha256 {
            return Some("the feature SQL changed".into());
        }
        if let Some(file) = changed_key(&was.inputs, &now.inputs) {
            return Some(format!("input {file} changed"));
        }
        if was.registry != now.registry {
            return Some(format!(
                "the registry changed ({} → {})",
                shown(was.registry.as_ref()),
                shown(now.registry.as_ref())
            ));
        }
        if let Some(file) = changed_key(&self.outputs, outputs) {
            return Some(format!("output {file} is missing or was modified"));
        }
        None
    }
}

/// A registry key as the reason for a rerun shows it.
fn shown(key: Option<&RegistryKey>) -> String {
    key.map_or_else(|| "none".to_string(), RegistryKey::to_string)
}

/// The first key whose value differs between two maps (present in either).
fn changed_key(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Option<String> {
    a.iter()
        .find(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .or_else(|| b.keys().find(|k| !a.contains_key(*k)).cloned())
}

/// Digest of each file: a folder stands for every file beneath it; a missing path is recorded as
/// missing, so it differs from any earlier digest.
pub fn digest_paths(
    root: &Path,
    paths: &[PathBuf],
    hashes: &mut FileHashes,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for path in paths {
        let files = if path.is_dir() {
            files_under(path)?
        } else {
            vec![path.clone()]
        };
        if files.is_empty() {
            out.insert(relative(root, path), MISSING.to_string());
        }
        for file in files {
            let digest = hashes.sha256(&file)?.unwrap_or_else(|| MISSING.to_string());
            out.insert(relative(root, &file), digest);
        }
    }
    Ok(out)
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = vec![];
    let entries = std::fs::read_dir(dir).map_err(|e| creditrisk_base::error::Error::io(dir, e))?;
    for entry in entries {
        let path = entry
            .map_err(|e| creditrisk_base::error::Error::io(dir, e))?
            .path();
        if path.is_dir() {
            out.extend(files_under(&path)?);
        } else {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// A path as recorded: relative to the project root when inside it.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_deleted_or_added_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("out/plots")).unwrap();
        std::fs::write(root.join("out/plots/a.svg"), "a").unwrap();
        std::fs::write(root.join("in.csv"), "1").unwrap();
        let mut hashes = FileHashes::load(&root.join("cache.json"));
        let paths = [
            root.join("in.csv"),
            root.join("out"),
            root.join("gone.json"),
        ];
        let before = digest_paths(root, &paths, &mut hashes).unwrap();
        assert_eq!(before["gone.json"], MISSING);
        assert!(before.contains_key("out/plots/a.svg"));
        let fp = Fingerprint {
            stage: "s".into(),
            depends_on: Dependencies::default(),
            outputs: before.clone(),
            figure: String::new(),
            seconds: 0.0,
            finished_at: String::new(),
        };
        assert_eq!(fp.stale_because(&Dependencies::default(), &before), None);

        std::fs::write(root.join("out/plots/b.svg"), "b").unwrap();
        let added = digest_paths(root, &paths, &mut hashes).unwrap();
        let why = fp.stale_because(&Dependencies::default(), &added).unwrap();
        assert!(why.contains("out/plots/b.svg"), "{why}");

        std::fs::remove_file(root.join("out/plots/a.svg")).unwrap();
        std::fs::remove_file(root.join("out/plots/b.svg")).unwrap();
        let emptied = digest_paths(root, &paths, &mut hashes).unwrap();
        assert!(
            fp.stale_because(&Dependencies::default(), &emptied)
                .is_some()
        );

        let mut now = Dependencies::default();
        now.sections.insert("training".into(), "x".into());
        let why = fp.stale_because(&now, &before).unwrap();
        assert!(why.contains("training"), "{why}");
    }

    fn version(stage: Option<Stage>) -> RegistryKey {
        RegistryKey::Version {
            model: "pd".into(),
            version: 3,
            run_id: Some("abc".into()),
            stage,
        }
    }

    #[test]
    fn the_registry_key_round_trips_and_a_change_is_shown() {
        let key = version(Some(Stage::Production));
        assert_eq!(key.to_string(), "models:/pd/3 (run abc) in Production");
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<RegistryKey>(&text).unwrap(), key);
        let was = Dependencies {
            registry: Some(version(None)),
            ..Dependencies::default()
        };
        let fp = Fingerprint {
            stage: "s".into(),
            depends_on: was.clone(),
            outputs: BTreeMap::new(),
            figure: String::new(),
            seconds: 0.0,
            finished_at: String::new(),
        };
        assert_eq!(fp.stale_because(&was, &BTreeMap::new()), None);
        let now = Dependencies {
            registry: Some(RegistryKey::NoVersion),
            ..Dependencies::default()
        };
        assert_eq!(
            fp.stale_because(&now, &BTreeMap::new()).unwrap(),
            "the registry changed (models:/pd/3 (run abc) → no registered version)"
        );
    }

    #[test]
    fn a_fingerprint_with_the_registry_as_text_loads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("canary.json");
        let old = r#"{"stage":"canary","depends_on":{"binary_sha256":"b","sections":{},
            "feature_sql_sha256":null,"inputs":{},"registry":"models:/pd/3 (run abc)"},
            "outputs":{},"figure":"passed","seconds":1.0,"finished_at":"t"}"#;
        std::fs::write(&file, old).unwrap();
        assert!(Fingerprint::load(&file).is_none());
        let untouched = old.replace(
            r#""registry":"models:/pd/3 (run abc)""#,
            r#""registry":null"#,
        );
        std::fs::write(&file, untouched).unwrap();
        assert!(Fingerprint::load(&file).is_some());
    }
}
