//! Artifact IO shared by every stage: atomic writes, file digests and Arrow IPC files (the one
//! Parquet reader and writer is the data crate's `parquet_io`).
//!
//! Artifacts are written to a temporary file in the destination folder and renamed into place, so a
//! crash or a concurrent reader never sees half a file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

mod hash_memo;
pub use hash_memo::HashMemo;

/// Write `bytes` to `path` atomically (temp file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Write JSON (pretty) to `path` atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = json_text(value)
        .map_err(|e| Error::input_from(format!("{}: cannot serialise", path.display()), e))?;
    write_atomic(path, text.as_bytes())
}

/// The text [`write_json`] writes for `value`.
pub fn json_text<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Create `path` atomically from a writer callback.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_atomic_via(path, dir, fill)
}

/// Create `path` atomically from a writer callback, with the temporary file in `temp_dir`
/// (same file system): for folders whose every file another tool lists (MLflow's `params/`,
/// `tags/`), so a crash leaves no stray entry there.
pub fn write_atomic_via(
    path: &Path,
    temp_dir: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(temp_dir).map_err(|e| Error::io(temp_dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(temp_dir).map_err(|e| Error::io(temp_dir, e))?;
    fill(tmp.as_file_mut()).map_err(|e| Error::io(path, e))?;
    // Temp files are created 0600; artifacts are shared (reports, serving), so open them up.
    set_readable(tmp.as_file(), path)?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(unix)]
pub fn set_readable(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
pub fn set_readable(_file: &std::fs::File, _path: &Path) -> Result<()> {
    Ok(())
}

/// Digests of one file, computed in a single pass.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FileDigest {
    pub bytes: u64,
    pub md5: String,
    pub sha256: String,
    /// Newline-terminated lines, header included.
    pub lines: u64,
}

/// md5, sha256, size and line count of a file in one streaming pass.
pub fn digest_file(path: &Path) -> Result<FileDigest> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut md5 = Md5::new();
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut bytes, mut lines, mut last) = (0u64, 0u64, b'\n');
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        md5.update(chunk);
        sha.update(chunk);
        bytes += n as u64;
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        last = chunk[n - 1];
    }
    if last != b'\n' {
        lines += 1; // a final line without newline still counts
    }
    Ok(FileDigest {
        bytes,
        md5: hex::encode(md5.finalize()),
        sha256: hex::encode(sha.finalize()),
        lines,
    })
}

/// sha256 of a file (streaming). Only sha256: md5 has no CPU extension and cost three times as
/// much as sha256 on the feature store's cold build (perf: 15 % of its CPU).
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
    }
    Ok(hex::encode(sha.finalize()))
}

/// `git rev-parse HEAD` in `root`, or "unknown" outside a repository or without git; recorded in
/// lineage and model bundles.
pub fn git_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Rows per batch of in-between tables rebuilt in memory.
pub const ARROW_BATCH_ROWS: usize = 8192;

/// An Arrow IPC file written batch by batch (in-between tables of a build: not atomic, the
/// build's own temp folder holds it).
pub struct ArrowFile {
    path: PathBuf,
    writer: arrow::ipc::writer::FileWriter<std::io::BufWriter<std::fs::File>>,
    rows: u64,
}

impl ArrowFile {
    pub fn create(path: &Path, schema: &arrow::datatypes::Schema) -> Result<ArrowFile> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let writer =
            arrow::ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), schema)?;
        Ok(ArrowFile {
            path: path.to_path_buf(),
            writer,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &arrow::array::RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        Ok(self.writer.write(batch)?)
    }

    /// Close the file; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        self.writer.finish()?;
        use std::io::Write;
        (self.writer.get_mut().flush()).map_err(|e| Error::io(&self.path, e))?;
        Ok(self.rows)
    }
}

/// Every batch of an Arrow IPC file, with its schema.
pub fn read_arrow_file(
    path: &Path,
) -> Result<(arrow::datatypes::SchemaRef, Vec<arrow::array::RecordBatch>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = arrow::ipc::reader::FileReader::try_new(std::io::BufReader::new(file), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}
