//! sha256 of files, remembered by (path, size, mtime in ns) like DVC's state database, so a
//! `creditrisk run` with nothing changed stats the 2.5 GB of raw CSVs instead of reading them.
//!
//! An entry is trusted as [`HashMemo`] says: only when the file was last modified clearly before
//! it was hashed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use creditrisk_base::error::Result;
use creditrisk_base::io::HashMemo;

/// The cache file's contents: absolute path → entry.
#[derive(Debug, Default)]
pub struct FileHashes {
    file: PathBuf,
    entries: BTreeMap<PathBuf, HashMemo>,
    changed: bool,
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
        let Some(now) = HashMemo::stamp(path)? else {
            return Ok(None);
        };
        let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(memo) = self.entries.get(&key)
            && memo.describes(&now)
        {
            return Ok(Some(memo.sha256.clone()));
        }
        let sha256 = creditrisk_base::io::sha256_file(path)?;
        self.entries.insert(key, now.with(&sha256));
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
        creditrisk_base::io::write_json(&self.file, &self.entries)?;
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
        assert_eq!(first, creditrisk_base::io::sha256_file(&data).unwrap());
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
        entry.hashed_at_ns += 1_000_000_000;
        entry.sha256 = "planted".into();
        assert_eq!(cache.sha256(&data).unwrap().unwrap(), "planted");
    }
}
