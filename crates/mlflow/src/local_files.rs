//! Plain filesystem helpers both backends share: URIs to paths, recursive listings, verbatim
//! key files, atomic copies. Every write goes through `creditrisk_base::io`'s temp-file-and-rename, and
//! listings skip the `.tmp…` files of writes in progress.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::write_atomic_via;

/// The local path of a `file:` URI or a plain absolute path; `None` for any other scheme.
pub(crate) fn local_path_of(uri: &str) -> Option<PathBuf> {
    if uri.starts_with("file:") {
        return url::Url::parse(uri).ok()?.to_file_path().ok();
    }
    let p = Path::new(uri);
    p.is_absolute().then(|| p.to_path_buf())
}

/// `base` joined with a `/`-separated relative path ("" = `base`).
pub(crate) fn join_rel(base: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .filter(|s| !s.is_empty())
        .fold(base.to_path_buf(), |p, s| p.join(s))
}

/// Files to upload for `local`: (source file, path relative to the destination folder). A file
/// goes under its own name; a folder's files keep their relative paths.
pub(crate) fn upload_plan(local: &Path) -> Result<Vec<(PathBuf, String)>> {
    let meta = std::fs::metadata(local).map_err(|e| Error::io(local, e))?;
    if meta.is_file() {
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| Error::input(format!("{}: not a file name", local.display())))?;
        return Ok(vec![(local.to_path_buf(), name)]);
    }
    Ok(files_under(local)?
        .into_iter()
        .map(|rel| (join_rel(local, &rel), rel))
        .collect())
}

/// Relative `/`-separated paths of all files under `dir` (recursively, sorted); temporary files of
/// atomic writes in progress (`.tmp…`) are skipped. A missing folder has none.
pub(crate) fn files_under(dir: &Path) -> Result<Vec<String>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(".tmp") {
                continue;
            }
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            if std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .is_dir()
            {
                walk(&path, &rel, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = vec![];
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

/// key → content of every file under `dir` (params, tags), read verbatim.
pub(crate) fn read_files(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for key in files_under(dir)? {
        let path = join_rel(dir, &key);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        out.insert(key, text);
    }
    Ok(out)
}

/// A file's content, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

pub(crate) fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))
}

/// Copy one file atomically (temp file in `temp_dir`, then rename).
pub(crate) fn copy_atomic(src: &Path, target: &Path, temp_dir: &Path) -> Result<()> {
    let mut input = File::open(src).map_err(|e| Error::io(src, e))?;
    write_atomic_via(target, temp_dir, |out| {
        std::io::copy(&mut input, out).map(|_| ())
    })
}

/// Copy a file or a folder (recursively) to `target`, temp files beside `target`.
pub(crate) fn copy_tree(src: &Path, target: &Path) -> Result<()> {
    let temp_dir = target.parent().unwrap_or(target);
    if src.is_file() {
        return copy_atomic(src, target, temp_dir);
    }
    std::fs::create_dir_all(target).map_err(|e| Error::io(target, e))?;
    for rel in files_under(src)? {
        copy_atomic(&join_rel(src, &rel), &join_rel(target, &rel), temp_dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_of_uris() {
        assert_eq!(
            local_path_of("file:///tmp/a%20b"),
            Some(PathBuf::from("/tmp/a b"))
        );
        assert_eq!(local_path_of("/tmp/x"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(local_path_of("mlflow-artifacts:/1/x"), None);
    }
}
