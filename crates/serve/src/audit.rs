//! The append-only JSON-lines audit log of every decision, hash-chained so that an edited,
//! deleted, inserted or reordered line shows.
//!
//! One writer thread owns the file: requests send their lines (one request's lines together)
//! over a channel; the writer appends whatever is queued, fsyncs once per batch and only then
//! acknowledges, so a decision is answered only after its audit line is on disk, and lines never
//! interleave.
//!
//! # Line format
//!
//! Every line is `BODY,"sha256":"H"}` and a newline, where `BODY + "}"` is a JSON object (the
//! [`AuditRecord`] members, then `"seq"` and `"prev_sha256"` as its last two members) and `H` is
//! the lowercase hex sha256 of the bytes of `BODY + "}"`. `seq` is 1 on the log's first line and
//! one more on each next line, across restarts (on open the writer reads the last line's `seq`
//! and `sha256`); `prev_sha256` is the previous line's `sha256` (64 zeros on line 1). The writer
//! thread, which owns the order, splices the three members into the serialised record as it
//! writes (the request path does no hashing), and advances `seq` only when a write succeeded.
//! A third party checks a log with a few lines of Python:
//!
//! ```text
//! import hashlib, json
//! seq, prev = 0, "0" * 64
//! for n, line in enumerate(open("decisions.jsonl", "rb"), 1):
//!     assert line.endswith(b"\n"), f"line {n} is torn"
//!     body, _, tail = line[:-1].rpartition(b',"sha256":"')
//!     record = json.loads(body + b"}")
//!     assert hashlib.sha256(body + b"}").hexdigest() == tail[:-2].decode(), f"line {n} edited"
//!     assert record["seq"] == seq + 1, f"line {n}: a line deleted, inserted or moved"
//!     assert record["prev_sha256"] == prev, f"line {n}: the line before it replaced"
//!     seq, prev = record["seq"], tail[:-2].decode()
//! print(seq, prev)
//! ```
//!
//! [`verify`] (`creditrisk audit verify`) does the same in Rust. Only a removed tail leaves a
//! valid chain: it shows only against a last `seq` and `sha256` recorded earlier, which is why
//! `verify` returns them.
//!
//! # Failures
//!
//! - A failed write or fsync (disk full, file size limit, I/O error) is cut back: the file is
//!   truncated to its length before the batch, so no partial line remains; every request of the
//!   batch gets the error (an error answer, no decision); `seq` does not advance, and the next
//!   lines are valid once space returns.
//! - On open, a last line without its newline (a process killed mid-write, a crash) is cut off,
//!   with a warning saying how many bytes were dropped.
//! - The file is created with mode 0600; an existing one readable or writable by others is
//!   narrowed to 0600 on open.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::answers::{band_schema, outcome_schema, pd_schema, reasons_schema, sorted_keys};
use super::schema::{Documented, FieldSchema};
use creditrisk_base::error::{Error, Result};
use creditrisk_model::{Decision, Outcome, Reason};

/// Lines queued at most per fsync.
const MAX_BATCH: usize = 256;

/// The `prev_sha256` of line 1.
pub const GENESIS_SHA256: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the audit log: one decision, with what it was made by and on. Fields are declared
/// in byte order of their names, the sorted key order the log's lines have always had; the
/// writer adds `seq`, `prev_sha256` and `sha256` after them (see the module doc).
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
    const DESCRIPTION: &'static str = "one line of the audit log (serving.audit_log): one decision \
        of /predict. The lines form a hash chain: each line is BODY,\"sha256\":\"H\"} and a \
        newline, where BODY + \"}\" is this object without sha256 (its last two members seq and \
        prev_sha256) and H is the lowercase hex sha256 of the bytes BODY + \"}\"; seq counts \
        lines from 1, prev_sha256 is the previous line's sha256 (64 zeros on line 1). \
        `creditrisk audit verify` checks a log";
    fn fields() -> Vec<FieldSchema> {
        let text = json!({"type": "string"});
        let sha256 = |description: &str| json!({"type": "string", "pattern": "^[0-9a-f]{64}$", "description": description});
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
            FieldSchema::required(
                "seq",
                json!({"type": "integer", "minimum": 1,
                    "description": "the line's number in the log: 1, 2, 3 … across restarts"}),
            ),
            FieldSchema::required(
                "prev_sha256",
                sha256("the previous line's sha256 (64 zeros on line 1)"),
            ),
            FieldSchema::required(
                "sha256",
                sha256(
                    "sha256 of the line's bytes before `,\"sha256\"` followed by `}`: the JSON \
                     object of every other member",
                ),
            ),
        ]
    }
}

/// Append to `out` the chained line of `record` (a serialised JSON object, no newline) as line
/// `seq` after a line whose sha256 was `prev`, newline included; returns the line's sha256.
pub fn chain_line(out: &mut String, record: &str, seq: u64, prev: &str) -> String {
    let start = out.len();
    out.push_str(record.strip_suffix('}').unwrap_or(record));
    let _ = write!(out, ",\"seq\":{seq},\"prev_sha256\":\"{prev}\"}}");
    let sha256 = hex::encode(Sha256::digest(&out.as_bytes()[start..]));
    out.pop();
    let _ = writeln!(out, ",\"sha256\":\"{sha256}\"}}");
    sha256
}

/// Where the chain stands: the last line's `seq` and `sha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Chain {
    seq: u64,
    sha256: String,
}

impl Chain {
    fn empty() -> Chain {
        Chain {
            seq: 0,
            sha256: GENESIS_SHA256.to_string(),
        }
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
    /// Open (create with mode 0600, or append to) `path`, cut off a torn last line, read where
    /// the chain stands and start the writer thread; it ends when every handle is dropped, after
    /// writing what was queued.
    pub fn open(path: &Path) -> Result<Audit> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
        restrict(&file, path)?;
        let chain = recover(&mut file, path)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let owned = path.to_path_buf();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || writer(file, rx, owned, chain))
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

    /// Append `lines` (serialised JSON objects, each ending in '\n') and wait until they are
    /// fsync'd.
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

/// Mode 0600: an existing file readable or writable by others is narrowed to it.
#[cfg(unix)]
fn restrict(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|e| Error::io(path, e))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & !0o600 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(path, e))?;
        tracing::warn!(audit_log = %path.display(), mode = format!("{mode:o}"),
            "audit log was readable or writable by others; its mode is now 600");
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &File, _: &Path) -> Result<()> {
    Ok(())
}

/// Read `buf.len()` bytes at `offset`.
fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// The offset just after the last '\n' of the file's first `end` bytes (0 when there is none).
fn after_last_newline(file: &mut File, end: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(hi - lo) as usize];
        read_at(file, lo, chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(lo + i as u64 + 1);
        }
        hi = lo;
    }
    Ok(0)
}

/// Cut off a torn last line (one without its newline), then read the last line's `seq` and
/// `sha256`.
fn recover(file: &mut File, path: &Path) -> Result<Chain> {
    let io = |e| Error::io(path, e);
    let len = file.metadata().map_err(io)?.len();
    let mut end = len;
    if len > 0 {
        let mut last = [0u8];
        read_at(file, len - 1, &mut last).map_err(io)?;
        if last[0] != b'\n' {
            end = after_last_newline(file, len).map_err(io)?;
            file.set_len(end).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::warn!(
                audit_log = %path.display(),
                dropped_bytes = len - end,
                kept_bytes = end,
                "the audit log ended in a torn line (a write cut short); cut it off"
            );
        }
    }
    if end == 0 {
        return Ok(Chain::empty());
    }
    let start = after_last_newline(file, end - 1).map_err(io)?;
    let mut line = vec![0u8; (end - 1 - start) as usize];
    read_at(file, start, &mut line).map_err(io)?;
    let chained = serde_json::from_slice::<Map<String, Value>>(&line)
        .ok()
        .and_then(|m| {
            let seq = m.get("seq")?.as_u64()?;
            let sha256 = m.get("sha256")?.as_str()?.to_string();
            Some(Chain { seq, sha256 })
        });
    chained.ok_or_else(|| {
        Error::input(format!(
            "audit log {}: its last line is not a chained audit line (no \"seq\" and \
             \"sha256\": written before the hash chain, or not an audit log); move the file \
             aside, and serve starts a new log",
            path.display()
        ))
    })
}

fn writer(mut file: File, mut rx: mpsc::UnboundedReceiver<Entry>, path: PathBuf, mut chain: Chain) {
    // The length to cut the file back to, when cutting a failed write back failed too.
    let mut cut_to = None;
    let mut buffer = String::new();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        buffer.clear();
        let mut next = chain.clone();
        for e in &batch {
            for record in e.lines.split_terminator('\n') {
                next.seq += 1;
                next.sha256 = chain_line(&mut buffer, record, next.seq, &next.sha256);
            }
        }
        let outcome = write_batch(&mut file, buffer.as_bytes(), &mut cut_to)
            .map_err(|e| format!("{}: {e}", path.display()));
        match &outcome {
            Ok(()) => chain = next,
            Err(e) => tracing::error!(error = %e, "audit write failed; its requests get an error"),
        }
        for e in batch {
            let _ = e.done.send(outcome.clone());
        }
    }
}

/// Shorten the file to `len` bytes, durably.
fn cut_back(file: &File, len: u64) -> std::io::Result<()> {
    file.set_len(len)?;
    file.sync_data()
}

/// Append `bytes` and fsync; on failure cut the file back to its length before, so no partial
/// line remains (when that fails too, `cut_to` keeps the length and the next batch retries it
/// before writing).
fn write_batch(file: &mut File, bytes: &[u8], cut_to: &mut Option<u64>) -> std::io::Result<()> {
    if let Some(len) = *cut_to {
        cut_back(file, len)?;
        *cut_to = None;
    }
    let before = file.metadata()?.len();
    let written = file.write_all(bytes).and_then(|()| file.sync_data());
    if let Err(e) = written {
        if let Err(cut) = cut_back(file, before) {
            *cut_to = Some(before);
            return Err(std::io::Error::new(
                e.kind(),
                format!("{e}; cutting the partial write back failed too ({cut}), retried next"),
            ));
        }
        return Err(e);
    }
    Ok(())
}

/// What [`verify`] found in an intact log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub lines: u64,
    /// The last line's `seq` (0 for an empty log).
    pub last_seq: u64,
    /// The last line's `sha256` (64 zeros for an empty log).
    pub last_sha256: String,
}

/// Check `path`'s hash chain (see the module doc): every line a JSON object ending in a newline,
/// `seq` 1, 2, 3 …, each `prev_sha256` the previous line's `sha256`, each `sha256` that of its
/// own line. The error (input error) names the first bad line and what is wrong with it.
pub fn verify(path: &Path) -> Result<Verified> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut chain = Chain::empty();
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(path, e))?;
        if read == 0 {
            break;
        }
        n += 1;
        let bad =
            |what: String| Error::input(format!("audit log {}: line {n} {what}", path.display()));
        let Some(text) = line.strip_suffix(b"\n") else {
            return Err(bad(
                "is torn: it does not end in a newline (a write cut short; serve cuts it off \
                 when it next opens the log)"
                    .into(),
            ));
        };
        chain = check_line(text, &chain).map_err(bad)?;
    }
    Ok(Verified {
        lines: n,
        last_seq: chain.seq,
        last_sha256: chain.sha256,
    })
}

/// Check one line (without its newline) that follows `prev`; where the chain stands after it, or
/// what is wrong with it.
fn check_line(text: &[u8], prev: &Chain) -> std::result::Result<Chain, String> {
    let record: Map<String, Value> =
        serde_json::from_slice(text).map_err(|e| format!("is not a JSON object: {e}"))?;
    let field = |name: &str| record.get(name).ok_or(format!("has no \"{name}\""));
    let seq = field("seq")?
        .as_u64()
        .ok_or("has a \"seq\" that is not a positive integer")?;
    let prev_sha256 = field("prev_sha256")?
        .as_str()
        .ok_or("has a \"prev_sha256\" that is not a string")?;
    let sha256 = field("sha256")?
        .as_str()
        .ok_or("has a \"sha256\" that is not a string")?;
    let chained = format!(",\"seq\":{seq},\"prev_sha256\":\"{prev_sha256}\"");
    let tail = format!("{chained},\"sha256\":\"{sha256}\"}}");
    let Some(body) = text.strip_suffix(tail.as_bytes()) else {
        return Err(format!(
            "does not end in its \"seq\", \"prev_sha256\" and \"sha256\", in that order, as \
             the writer writes them (expected it to end in {tail})"
        ));
    };
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.update(chained.as_bytes());
    hasher.update(b"}");
    let actual = hex::encode(hasher.finalize());
    if actual != sha256 {
        return Err(format!(
            "was edited: its sha256 {sha256} is not that of its content ({actual})"
        ));
    }
    if seq != prev.seq + 1 {
        return Err(format!(
            "has seq {seq}, expected {}: a line was deleted or inserted before it, or lines \
             were moved",
            prev.seq + 1
        ));
    }
    if prev_sha256 != prev.sha256 {
        return Err(format!(
            "has prev_sha256 {prev_sha256}, but the line before it has sha256 {}: a line \
             before it was replaced",
            prev.sha256
        ));
    }
    Ok(Chain {
        seq,
        sha256: sha256.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A fresh folder under the temp folder, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "creditrisk-audit-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn log(&self) -> PathBuf {
            self.0.join("audit").join("decisions.jsonl")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn decision(id: i64) -> Decision {
        Decision {
            sk_id_curr: id,
            pd: 0.125 + id as f64 * 1e-3,
            decision: Outcome::Decline,
            band: "C".into(),
            reasons: vec![Reason {
                feature: "EXT_SOURCE_2".into(),
                value: json!(0.25),
                contribution: 0.5,
                statement: "External score 2 is low (0.25)".into(),
            }],
        }
    }

    /// One request of `ids.len()` decisions, appended and fsync'd.
    async fn request(audit: &Audit, request_id: &str, ids: &[i64]) {
        let decisions: Vec<Decision> = ids.iter().map(|&id| decision(id)).collect();
        let context = AuditContext {
            request_id,
            time: "2026-01-01T00:00:00.000000Z",
            model_name: "pd",
            model_version: "3",
            bundle_sha256: "0f",
            threshold: 0.5,
        };
        let records: Vec<AuditRecord> = decisions
            .iter()
            .map(|d| context.record(d, Some("ab")))
            .collect();
        audit.append(&records).await.unwrap();
    }

    /// A log of `n` lines, one request each; its lines.
    async fn log_of(path: &Path, n: i64) -> Vec<String> {
        let audit = Audit::open(path).unwrap();
        for i in 0..n {
            request(&audit, &format!("r{i}"), &[100_000 + i]).await;
        }
        lines(path)
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn rewrite(path: &Path, lines: &[String]) {
        std::fs::write(
            path,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
    }

    fn verify_error(path: &Path) -> String {
        verify(path).unwrap_err().to_string()
    }

    /// The module doc's recipe, by hand: BODY + "}" is the record with seq and prev_sha256
    /// last, and sha256 is its hash.
    fn check_as_documented(line: &str, seq: u64, prev: &str) -> String {
        let (body, tail) = line.rsplit_once(",\"sha256\":\"").unwrap();
        let sha256 = tail.strip_suffix("\"}").unwrap();
        let object = format!("{body}}}");
        assert_eq!(hex::encode(Sha256::digest(object.as_bytes())), sha256);
        let record: Map<String, Value> = serde_json::from_str(&object).unwrap();
        assert!(record.contains_key("request_id") && record.contains_key("PD"));
        assert!(body.ends_with(&format!(",\"seq\":{seq},\"prev_sha256\":\"{prev}\"")));
        sha256.to_string()
    }

    #[tokio::test]
    async fn the_chain_continues_across_a_restart() {
        let dir = TempDir::new();
        let path = dir.log();
        let audit = Audit::open(&path).unwrap();
        request(&audit, "r1", &[1, 2]).await;
        request(&audit, "r2", &[3]).await;
        drop(audit);
        let first = verify(&path).unwrap();
        assert_eq!((first.lines, first.last_seq), (3, 3));
        let audit = Audit::open(&path).unwrap();
        request(&audit, "r3", &[4, 5]).await;
        drop(audit);
        let v = verify(&path).unwrap();
        assert_eq!((v.lines, v.last_seq), (5, 5));
        let mut prev = GENESIS_SHA256.to_string();
        for (i, line) in lines(&path).iter().enumerate() {
            prev = check_as_documented(line, i as u64 + 1, &prev);
        }
        assert_eq!(v.last_sha256, prev);
        // The first line after the restart links to the last one before it.
        let fourth: Value = serde_json::from_str(&lines(&path)[3]).unwrap();
        assert_eq!(fourth["prev_sha256"], json!(first.last_sha256));
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_off_on_open() {
        let dir = TempDir::new();
        let path = dir.log();
        log_of(&path, 3).await;
        let intact = std::fs::metadata(&path).unwrap().len();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"PD\":0.5,\"SK_ID_CURR\":7,\"ba")
            .unwrap();
        drop(file);
        let e = verify_error(&path);
        assert!(e.contains("line 4 is torn"), "{e}");
        let audit = Audit::open(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), intact);
        request(&audit, "r9", &[9]).await;
        drop(audit);
        let v = verify(&path).unwrap();
        assert_eq!((v.lines, v.last_seq), (4, 4));
        // A file of one torn line only is cut to nothing and starts at seq 1.
        std::fs::write(&path, "{\"PD\":").unwrap();
        let audit = Audit::open(&path).unwrap();
        request(&audit, "r1", &[1]).await;
        drop(audit);
        assert_eq!(verify(&path).unwrap().last_seq, 1);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_log_is_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let path = dir.log();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(Audit::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Audit::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
    }

    #[tokio::test]
    async fn a_log_that_is_not_chained_is_refused_on_open() {
        let dir = TempDir::new();
        let path = dir.log();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"PD\":0.5}\n").unwrap();
        let e = Audit::open(&path).err().unwrap().to_string();
        assert!(e.contains("not a chained audit line"), "{e}");
    }

    #[tokio::test]
    async fn verify_names_an_edited_line() {
        let dir = TempDir::new();
        let path = dir.log();
        let mut lines = log_of(&path, 5).await;
        assert_eq!(verify(&path).unwrap().lines, 5);
        lines[2] = lines[2].replace("\"decision\":\"decline\"", "\"decision\":\"approve\"");
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 3 was edited"), "{e}");
    }

    #[tokio::test]
    async fn verify_names_a_line_edited_and_rehashed_by_the_next_line() {
        let dir = TempDir::new();
        let path = dir.log();
        let mut lines = log_of(&path, 4).await;
        // Edit line 2 and recompute its own sha256: line 3 no longer links to it.
        let (body, _) = lines[1].rsplit_once(",\"sha256\":\"").unwrap();
        let body = body.replace("\"decision\":\"decline\"", "\"decision\":\"approve\"");
        let sha256 = hex::encode(Sha256::digest(format!("{body}}}").as_bytes()));
        lines[1] = format!("{body},\"sha256\":\"{sha256}\"}}");
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 3 has prev_sha256"), "{e}");
    }

    #[tokio::test]
    async fn verify_names_the_line_after_a_deleted_one() {
        let dir = TempDir::new();
        let path = dir.log();
        let mut lines = log_of(&path, 5).await;
        lines.remove(2);
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 3 has seq 4, expected 3"), "{e}");
        // The first line deleted.
        let mut lines = log_of(&dir.0.join("first.jsonl"), 3).await;
        lines.remove(0);
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 1 has seq 2, expected 1"), "{e}");
    }

    #[tokio::test]
    async fn verify_names_a_swapped_pair() {
        let dir = TempDir::new();
        let path = dir.log();
        let mut lines = log_of(&path, 5).await;
        lines.swap(1, 2);
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 2 has seq 3, expected 2"), "{e}");
    }

    #[tokio::test]
    async fn verify_names_a_line_that_is_not_json_or_not_chained() {
        let dir = TempDir::new();
        let path = dir.log();
        let mut lines = log_of(&path, 5).await;
        lines[3] = "not json".into();
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 4 is not a JSON object"), "{e}");
        lines[3] = "{\"PD\":0.5}".into();
        rewrite(&path, &lines);
        let e = verify_error(&path);
        assert!(e.contains("line 4 has no \"seq\""), "{e}");
        assert!(e.contains("input error"), "{e}");
    }

    #[test]
    fn an_empty_log_verifies() {
        let dir = TempDir::new();
        let path = dir.0.join("empty.jsonl");
        std::fs::write(&path, "").unwrap();
        let v = verify(&path).unwrap();
        assert_eq!(
            (v.lines, v.last_seq, v.last_sha256.as_str()),
            (0, 0, GENESIS_SHA256)
        );
    }
}
