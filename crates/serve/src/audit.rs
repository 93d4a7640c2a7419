//! The append-only JSON-lines audit log of every decision. One writer thread owns the file:
//! requests send their lines (one request's lines together) over a channel; the writer appends
//! whatever is queued, fsyncs once per batch and only then acknowledges, so a decision is
//! answered only after its audit line is on disk, and lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::{mpsc, oneshot};

use creditrisk_base::error::{Error, Result};

/// Lines queued at most per fsync.
const MAX_BATCH: usize = 256;

struct Entry {
    lines: String,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

/// A handle to the writer (cheap to clone).
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::UnboundedSender<Entry>,
    path: PathBuf,
}

impl Audit {
    /// Open (create or append) `path` and start its writer thread; it ends when every handle is
    /// dropped, after writing what was queued.
    pub fn open(path: &Path) -> Result<Audit> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(file, rx, owned))
            .map_err(|e| Error::Internal(format!("cannot start the audit writer: {e}")))?;
        Ok(Audit {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// Append `lines` (each ending in '\n') and wait until they are fsync'd.
    pub async fn append(&self, lines: String) -> Result<()> {
        let (done, wait) = oneshot::channel();
        let gone = || {
            Error::Internal(format!(
                "the audit writer of {} stopped",
                self.path.display()
            ))
        };
        self.tx.send(Entry { lines, done }).map_err(|_| gone())?;
        wait.await
            .map_err(|_| gone())?
            .map_err(|e| Error::Internal(format!("audit log {}: {e}", self.path.display())))
    }
}

fn writer(mut file: File, mut rx: mpsc::UnboundedReceiver<Entry>, path: PathBuf) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut buffer = String::new();
        for e in &batch {
            buffer.push_str(&e.lines);
        }
        let outcome = file
            .write_all(buffer.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("{}: {e}", path.display()));
        for e in batch {
            let _ = e.done.send(outcome.clone());
        }
    }
}
