//! The append-only JSON-lines audit log of every decision. One writer thread owns the file:
//! requests send their lines (one request's lines together) over a channel; the writer appends
//! whatever is queued, fsyncs once per batch and only then acknowledges, so a decision is
//! answered only after its audit line is on disk, and lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::answers::{band_schema, outcome_schema, pd_schema, reasons_schema, sorted_keys};
use super::schema::{Documented, FieldSchema};
use creditrisk_base::error::{Error, Result};
use creditrisk_model::{Decision, Outcome, Reason};

/// Lines queued at most per fsync.
const MAX_BATCH: usize = 256;

/// One line of the audit log: one decision, with what it was made by and on. Fields are declared
/// in byte order of their names, the sorted key order the log's lines have always had.
#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord<'a> {
    #[serde(rename = "PD")]
    pub pd: f64,
    #[serde(rename = "SK_ID_CURR")]
    pub sk_id_curr: i64,
    pub band: &'a str,
    pub bundle_sha256: &'a str,
    pub decision: Outcome,
    /// sha256 of the request record with this SK_ID_CURR, as given (None when none has it).
    pub input_sha256: Option<&'a str>,
    pub model_name: &'a str,
    pub model_version: &'a str,
    #[serde(serialize_with = "sorted_keys")]
    pub reasons: &'a [Reason],
    pub request_id: &'a str,
    pub threshold: f64,
    /// When the request was audited (RFC 3339, microseconds, UTC).
    pub time: &'a str,
}

/// What every decision of one request shares in its audit lines.
pub struct AuditContext<'a> {
    pub request_id: &'a str,
    pub time: &'a str,
    pub model_name: &'a str,
    pub model_version: &'a str,
    pub bundle_sha256: &'a str,
    pub threshold: f64,
}

impl<'a> AuditContext<'a> {
    /// The audit line of `decision`, whose input record has digest `input_sha256`.
    pub fn record(&self, decision: &'a Decision, input_sha256: Option<&'a str>) -> AuditRecord<'a> {
        AuditRecord {
            pd: decision.pd,
            sk_id_curr: decision.sk_id_curr,
            band: &decision.band,
            bundle_sha256: self.bundle_sha256,
            decision: decision.decision,
            input_sha256,
            model_name: self.model_name,
            model_version: self.model_version,
            reasons: &decision.reasons,
            request_id: self.request_id,
            threshold: self.threshold,
            time: self.time,
        }
    }
}

impl Documented for AuditRecord<'_> {
    const NAME: &'static str = "AuditRecord";
    const DESCRIPTION: &'static str =
        "one line of the audit log (serving.audit_log): one decision of /predict";
    fn fields() -> Vec<FieldSchema> {
        let text = json!({"type": "string"});
        vec![
            FieldSchema::required("PD", pd_schema()),
            FieldSchema::required("SK_ID_CURR", json!({"type": "integer"})),
            FieldSchema::required("band", band_schema()),
            FieldSchema::required("bundle_sha256", text.clone()),
            FieldSchema::required("decision", outcome_schema()),
            FieldSchema::required(
                "input_sha256",
                json!({"type": ["string", "null"],
                    "description": "sha256 of the record as given (compact JSON, keys sorted)"}),
            ),
            FieldSchema::required("model_name", text.clone()),
            FieldSchema::required("model_version", text.clone()),
            FieldSchema::required("reasons", reasons_schema()),
            FieldSchema::required("request_id", text.clone()),
            FieldSchema::required("threshold", json!({"type": "number"})),
            FieldSchema::required("time", text),
        ]
    }
}

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
            .map_err(|e| Error::internal_from("cannot start the audit writer", e))?;
        Ok(Audit {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// Append one line per record (one request's, together) and wait until they are fsync'd.
    pub async fn append(&self, records: &[AuditRecord<'_>]) -> Result<()> {
        let mut lines = String::new();
        for record in records {
            let line = serde_json::to_string(record)
                .map_err(|e| Error::internal_from("an audit line", e))?;
            lines.push_str(&line);
            lines.push('\n');
        }
        self.append_lines(lines).await
    }

    /// Append `lines` (each ending in '\n') and wait until they are fsync'd.
    async fn append_lines(&self, lines: String) -> Result<()> {
        let (done, wait) = oneshot::channel();
        let gone = || {
            Error::internal(format!(
                "the audit writer of {} stopped",
                self.path.display()
            ))
        };
        self.tx.send(Entry { lines, done }).map_err(|_| gone())?;
        wait.await
            .map_err(|_| gone())?
            .map_err(|e| Error::internal(format!("audit log {}: {e}", self.path.display())))
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
