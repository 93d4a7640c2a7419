//! `creditrisk gc`: the bundle folders under `paths.models_dir` that nothing refers to, reported
//! and, when asked, removed. A bundle is referenced when a registered version was trained in its
//! run or it is the model's `latest`; a `.incomplete-…` folder is a bundle whose training died
//! while writing it. Folders younger than `min_age` are left alone, since a training that is
//! still running writes its bundle before it registers the version.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::bundle::TrainingMetadata;
use serde::Serialize;

/// What `gc` looks at and whether it removes.
pub struct GcOptions {
    pub tracking: TrackingOptions,
    /// Remove the unreferenced folders (otherwise only report them).
    pub delete: bool,
    pub min_age: Duration,
}

#[derive(Debug, Serialize)]
pub struct Unreferenced {
    pub dir: PathBuf,
    pub why: String,
    pub bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct GcReport {
    pub model_name: String,
    pub kept: Vec<PathBuf>,
    pub unreferenced: Vec<Unreferenced>,
    /// The unreferenced folders were removed.
    pub deleted: bool,
}

pub async fn run(layout: &Layout, opts: &GcOptions) -> Result<GcReport> {
    let name = opts.tracking.registry.model_name.clone();
    let tracker = opts.tracking.tracker(layout)?;
    let runs: Vec<String> = match tracker.list_model_versions(&name).await {
        Ok(versions) => versions.into_iter().filter_map(|v| v.run_id).collect(),
        // No registered model yet: no version refers to anything.
        Err(Error::Input { .. }) => vec![],
        Err(e) => return Err(e),
    };
    let latest = std::fs::read_to_string(layout.latest_pointer(&name))
        .map(|s| s.trim().to_string())
        .ok();
    let mut report = GcReport {
        model_name: name.clone(),
        kept: vec![],
        unreferenced: vec![],
        deleted: opts.delete,
    };
    for dir in folders(&layout.model_root(&name))? {
        match why_unreferenced(&dir, &runs, latest.as_deref(), opts.min_age) {
            None => report.kept.push(dir),
            Some(why) => report.unreferenced.push(Unreferenced {
                bytes: size_of(&dir),
                dir,
                why,
            }),
        }
    }
    if opts.delete {
        for u in &report.unreferenced {
            std::fs::remove_dir_all(&u.dir).map_err(|e| Error::io(&u.dir, e))?;
        }
    }
    Ok(report)
}

fn folders(root: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(root, e)),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// `None` when the folder is referenced (or too young to judge), else why it is not.
fn why_unreferenced(
    dir: &Path,
    runs: &[String],
    latest: Option<&str>,
    min_age: Duration,
) -> Option<String> {
    let modified = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default();
    if age < min_age {
        return None;
    }
    let name = dir.file_name()?.to_string_lossy().to_string();
    if name.starts_with(".incomplete-") {
        return Some("a training died while writing this bundle".into());
    }
    if latest == Some(name.as_str()) {
        return None;
    }
    let metadata = std::fs::read(dir.join("metadata.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<TrainingMetadata>(&b).ok());
    match metadata.and_then(|m| m.tracking_run_id) {
        Some(run) if runs.contains(&run) => None,
        Some(run) => Some(format!("no registered version comes from run {run}")),
        None => Some("its training was not tracked, and it is not the latest bundle".into()),
    }
}

fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
