//! A file's sha256 remembered with its size and modification time, as git's index and DVC's
//! state database do: a file found with the same size and mtime is not read again.
//!
//! File timestamps come from a coarse clock (one kernel tick, 4-10 ms): a rewrite of the same size
//! within the tick in which the file was hashed keeps its mtime. Such a memo ("racily clean", as
//! git calls it) is not trusted; the file is hashed again, after which the memo is old enough.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// More than the file-system timestamp granularity: a write after the hash started then always
/// shows a later mtime than the one hashed.
const RACY_MARGIN_NS: u128 = 20_000_000;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashMemo {
    pub size: u64,
    pub mtime_ns: u128,
    pub sha256: String,
    /// When the hash was started (ns since the epoch, read before the file was); memos without
    /// it are not trusted.
    #[serde(default)]
    pub hashed_at_ns: u128,
}

impl HashMemo {
    /// The file as it is now, before it is hashed (`sha256` empty); None when it is not a file.
    pub fn stamp(path: &Path) -> Result<Option<HashMemo>> {
        let hashed_at_ns = epoch_ns(SystemTime::now());
        let meta = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        Ok(Some(HashMemo {
            size: meta.len(),
            mtime_ns: meta.modified().map(epoch_ns).unwrap_or(0),
            sha256: String::new(),
            hashed_at_ns,
        }))
    }

    /// Whether this memo holds the hash of the file as the stamp `now` found it.
    pub fn describes(&self, now: &HashMemo) -> bool {
        self.size == now.size
            && self.mtime_ns == now.mtime_ns
            && self.mtime_ns != 0
            && self.mtime_ns + RACY_MARGIN_NS < self.hashed_at_ns
    }

    /// Whether the file still has the size and mtime of this stamp.
    pub fn same_file(&self, now: &HashMemo) -> bool {
        self.size == now.size && self.mtime_ns == now.mtime_ns
    }

    /// This stamp with the hash taken of the file.
    pub fn with(&self, sha256: &str) -> HashMemo {
        HashMemo {
            sha256: sha256.to_string(),
            ..self.clone()
        }
    }
}

fn epoch_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_is_trusted_only_when_the_file_is_unchanged_and_older_than_a_tick() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        assert_eq!(HashMemo::stamp(&file).unwrap(), None);
        assert_eq!(HashMemo::stamp(dir.path()).unwrap(), None);
        std::fs::write(&file, b"x\n1\n").unwrap();
        let now = HashMemo::stamp(&file).unwrap().unwrap();
        let mut memo = now.with("h");
        memo.hashed_at_ns = memo.mtime_ns + RACY_MARGIN_NS; // hashed within the tick
        assert!(!memo.describes(&now));
        memo.hashed_at_ns += 1;
        assert!(memo.describes(&now));
        let grown = HashMemo {
            size: now.size + 1,
            ..now.clone()
        };
        assert!(!memo.describes(&grown) && !memo.same_file(&grown));
        let touched = HashMemo {
            mtime_ns: now.mtime_ns + 1,
            ..now.clone()
        };
        assert!(!memo.describes(&touched));
        let no_mtime = HashMemo {
            mtime_ns: 0,
            hashed_at_ns: RACY_MARGIN_NS + 1,
            ..now.clone()
        };
        assert!(!no_mtime.describes(&no_mtime));
    }
}
