//! The sha256 of every raw file, hashed on one background thread while the build parses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::watch;

use crate::raw;
use crate::storage::{self, Storage};
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};

/// sha256 of every raw file, computed on one background thread while the tables are parsed;
/// each answer is awaited only where it is needed (a cache key, the lineage).
#[derive(Clone)]
pub(super) struct Digests {
    results: BTreeMap<RawTable, watch::Receiver<Option<std::result::Result<String, String>>>>,
}

impl Digests {
    pub(super) fn spawn(
        files: Vec<(RawTable, PathBuf)>,
        memo_dir: Option<PathBuf>,
        storage: Storage,
    ) -> Digests {
        let mut senders = vec![];
        let mut results = BTreeMap::new();
        for (table, path) in files {
            let (tx, rx) = watch::channel(None);
            senders.push((tx, path));
            results.insert(table, rx);
        }
        std::thread::spawn(move || {
            lower_priority();
            for (tx, path) in senders {
                let digest = match creditrisk_base::location::remote(&path) {
                    Some(uri) => storage::block_on(storage.sha256(uri)),
                    None => raw::file_sha256(&path, memo_dir.as_deref()),
                };
                let digest = digest.map_err(|e| e.to_string());
                tx.send_replace(Some(digest));
            }
        });
        Digests { results }
    }

    pub(super) async fn wait(&self, table: RawTable) -> Result<String> {
        let mut rx = self
            .results
            .get(&table)
            .cloned()
            .ok_or_else(|| Error::internal(format!("{} is not hashed", table.name())))?;
        // A closed channel still holds the last answer; `borrow` reads it either way.
        let _ = rx.wait_for(Option::is_some).await;
        let answer = rx.borrow().clone();
        match answer {
            Some(Ok(sha)) => Ok(sha),
            Some(Err(message)) => Err(Error::input(message)),
            None => Err(Error::internal("the raw-file hashing thread stopped")),
        }
    }
}

/// Give this thread the lowest CPU priority: the hashes are awaited late (the lineage, a cache
/// key), and a low-priority thread runs on what the build leaves idle (a core is free for
/// seconds while a table's single-partition feature SQL runs), not in its place. On Linux the
/// nice value is the calling thread's; a failure only leaves the priority as it was.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(None, 19);
}
