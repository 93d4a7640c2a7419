//! sha256 of files, remembered by (path, size, mtime in ns) like DVC's state database, so a
//! `creditrisk run` with nothing changed stats the 2.5 GB of raw CSVs instead of reading them.
//!
//! An entry is trusted only when the file was last modified clearly before it was hashed: file
//! timestamps come from a coarse clock (a few ms), so a rewrite of the same size right after
//! hashing could keep the same mtime ("racily clean", as git calls it). Such entries are hashed
//! again next time, after which they are old enough to trust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// At least the file-system timestamp granularity (one kernel tick: 4 ms at HZ=250, 10 ms at
/// HZ=100): a write after the hash started then always shows a later mtime than the one hashed.
const RACY_MARGIN: Duration = Duration::from_millis(20);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
    /// When the hash was taken (ns since the epoch, read before the file was).
    hashed_at_ns: u128,
}

impl Entry {
    fn trusted(&self) -> bool {
        self.mtime_ns + RACY_MARGIN.as_nanos() < self.hashed_at_ns
    }
}

/// The cache file's contents: absolute path → entry.
#[derive(Debug, Default)]
pub struct FileHashes {
    file: PathBuf,
    entries: BTreeMap<PathBuf, Entry>,
    changed: bool,
}

fn epoch_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

impl FileHashes {
    /// Load the cache (an unreadable or missing cache is an empty one: it only saves time).
    pub fn load(file: &Path) -> FileHashes {
        let entries = std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        FileHashes {
            file: file.to_path_buf(),
            entries,
            changed: false,
        }
    }

    /// sha256 of a file, or `None` when it does not exist.
    pub fn sha256(&mut self, path: &Path) -> Result<Option<String>> {
        let meta = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::error::Error::io(path, e)),
        };
        let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let size = meta.len();
        let mtime_ns = meta.modified().map(epoch_ns).unwrap_or(0);
        if let Some(e) = self.entries.get(&key)
            && e.size == size
            && e.mtime_ns == mtime_ns
            && e.trusted()
        {
            return Ok(Some(e.sha256.clone()));
        }
        let hashed_at_ns = epoch_ns(SystemTime::now());
        let sha256 = crate::io::sha256_file(path)?;
        self.entries.insert(
            key,
            Entry {
                size,
                mtime_ns,
                sha256: sha256.clone(),
                hashed_at_ns,
            },
        );
        self.changed = true;
        Ok(Some(sha256))
    }

    /// Write the cache back (atomically) when it learnt something.
    pub fn save(&mut self) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        // Forget files that no longer exist, so the cache does not grow with every bundle.
        self.entries.retain(|path, _| path.is_file());
        crate::io::write_json(&self.file, &self.entries)?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_remembered_and_a_rewrite_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a.csv");
        std::fs::write(&data, b"x,y\n1,2\n").unwrap();
        let cache_file = dir.path().join("cache.json");
        let mut cache = FileHashes::load(&cache_file);
        let first = cache.sha256(&data).unwrap().unwrap();
        assert_eq!(first, crate::io::sha256_file(&data).unwrap());
        assert_eq!(cache.sha256(&dir.path().join("none")).unwrap(), None);
        cache.save().unwrap();

        // A racily-clean entry (hashed within the margin of its mtime) is not trusted: the same
        // size rewritten at once is still seen.
        std::fs::write(&data, b"x,y\n3,4\n").unwrap();
        let mut cache = FileHashes::load(&cache_file);
        let second = cache.sha256(&data).unwrap().unwrap();
        assert_ne!(first, second);

        // An old entry is trusted without reading the file: prove it by planting a wrong hash.
        let key = std::path::absolute(&data).unwrap();
        let entry = cache.entries.get_mut(&key).unwrap();
        entry.hashed_at_ns += RACY_MARGIN.as_nanos() * 2;
        entry.sha256 = "planted".into();
        assert_eq!(cache.sha256(&data).unwrap().unwrap(), "planted");
    }
}
