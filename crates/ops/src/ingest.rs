//! `creditrisk ingest`: verify every configured raw source (presence, size, rows, md5, sha256,
//! header against the catalog), bring it into `paths.raw_dir`, and write
//! `reports/ingestion_summary.json`. Every source is checked before failing, so one run reports
//! all problems.

use std::path::{Path, PathBuf};

use serde::Serialize;

use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::{Config, Section, SourceConfig};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::{FileDigest, digest_file, write_json};
use creditrisk_base::layout::Layout;
use creditrisk_data::storage::{self, Storage};

/// md5 of the original Kaggle files (Home Credit Default Risk), to recognise the real data.
const KAGGLE_MD5: &[(&str, &str)] = &[
    ("application_train", "793a017f41fbac1dc28176b26dbab30e"),
    ("bureau", "ec0f59a16e7071de66b83217b23bb390"),
    ("bureau_balance", "5e815ea6eb338752724bcf46da13c602"),
    ("previous_application", "bd1eb5f08a4700414db1742e5cc0f9fa"),
    ("installments_payments", "4e9751972d02c376f0e75edbf6c9d07d"),
    ("credit_card_balance", "ff83bfc2285d218802c6dff749bc5efc"),
    ("pos_cash_balance", "cb8e5cc3885d1e53753955ffde317b44"),
];

#[derive(Clone, Debug, Serialize)]
pub struct SourceReport {
    pub table: String,
    pub uri: String,
    /// Where the verified file now lives (inside `paths.raw_dir`).
    pub path: String,
    pub bytes: u64,
    /// Data rows (header excluded).
    pub rows: u64,
    pub md5: String,
    pub sha256: String,
    /// `ok` or `failed`.
    pub status: String,
    /// True when the md5 is the published Kaggle file's.
    pub kaggle_original: bool,
    pub problems: Vec<String>,
}

impl SourceReport {
    /// A report that fails until every check has passed.
    fn failed(source: &SourceConfig, path: &str) -> SourceReport {
        SourceReport {
            table: source.table.clone(),
            uri: source.uri.clone(),
            path: path.to_string(),
            bytes: 0,
            rows: 0,
            md5: String::new(),
            sha256: String::new(),
            status: "failed".into(),
            kaggle_original: false,
            problems: vec![],
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct IngestionSummary {
    pub sources: Vec<SourceReport>,
    pub passed: bool,
    pub report: PathBuf,
}

/// What `ingest` reads from the configuration: the `ingestion` section.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub sources: Vec<SourceConfig>,
    /// How object-store sources are reached (`paths.endpoint` + the environment).
    pub storage: Storage,
}

impl IngestOptions {
    pub const SECTIONS: [Section; 2] = [Section::Paths, Section::Ingestion];

    pub fn from_config(cfg: &Config) -> IngestOptions {
        IngestOptions {
            sources: cfg.ingestion.sources.clone(),
            storage: Storage::new(cfg.paths.endpoint.clone()),
        }
    }
}

/// The files the configured sources name (unresolvable URIs left out: `run` reports them).
pub fn source_files(layout: &Layout, opts: &IngestOptions) -> Vec<PathBuf> {
    opts.sources
        .iter()
        .filter_map(|s| resolve_uri(&layout.root, &s.uri).ok())
        .collect()
}

/// Verify all sources, copy them into the raw folder when they live elsewhere, write the summary.
pub fn run(layout: &Layout, opts: &IngestOptions) -> Result<IngestionSummary> {
    use rayon::prelude::*;
    // Sources are hashed concurrently, one per core (each is a single-threaded md5 + sha256 pass:
    // at full scale 9.0 s one after another, 5.0 s on 2 cores); reports stay in config order.
    let sources: Vec<SourceReport> = opts
        .sources
        .par_iter()
        .map(|s| match creditrisk_base::location::is_remote(&s.uri) {
            true => verify_remote(layout, &opts.storage, s),
            false => verify_source(layout, s),
        })
        .collect();
    let report = layout.ingestion_summary();
    let passed = sources.iter().all(|s| s.problems.is_empty());
    let summary = IngestionSummary {
        sources,
        passed,
        report: report.clone(),
    };
    write_json(&report, &summary)?;
    if !passed {
        let problems: Vec<String> = summary
            .sources
            .iter()
            .flat_map(|s| s.problems.iter().cloned())
            .collect();
        return Err(Error::check(problems.join("; ")).with_report(report));
    }
    Ok(summary)
}

fn verify_source(layout: &Layout, source: &SourceConfig) -> SourceReport {
    let mut report = SourceReport::failed(source, "");
    // Config::check already rejected unknown tables; stay total anyway.
    let Some(table) = RawTable::from_name(&source.table) else {
        report.problems.push(format!(
            "unknown table `{}` in ingestion.sources",
            source.table
        ));
        return report;
    };
    let path = match resolve_uri(&layout.root, &source.uri) {
        Ok(p) => p,
        Err(e) => {
            report.problems.push(e);
            return report;
        }
    };
    if !path.is_file() {
        report.problems.push(format!(
            "{}: missing file for table {} (check ingestion.sources or run `creditrisk synth`)",
            path.display(),
            table.name()
        ));
        return report;
    }
    let stamp = creditrisk_data::raw::HashStamp::take(&path);
    let digest = match digest_file(&path) {
        Ok(d) => d,
        Err(e) => {
            report.problems.push(e.to_string());
            return report;
        }
    };
    fill_digest(&mut report, &digest);
    report.kaggle_original = KAGGLE_MD5
        .iter()
        .any(|(t, md5)| *t == table.name() && *md5 == digest.md5);
    check_digests(&mut report, source, &path, &digest);
    if let Err(problem) = check_header(&path, table) {
        report.problems.push(problem);
    }
    let target = layout.raw_file(table);
    if creditrisk_base::location::remote(&target).is_some() && report.problems.is_empty() {
        report.problems.push(format!(
            "{}: paths.raw_dir is an object store: upload the file to {} (ingest reads stores, \
             it does not write them)",
            path.display(),
            target.display()
        ));
    }
    if report.problems.is_empty() {
        let target = layout.raw_file(table);
        match bring_into_raw_dir(&path, &target) {
            Ok(()) => {
                // A source already in raw_dir is the file just hashed: the store build reads
                // this memo instead of hashing it a second time. (A copy is newer than its hash
                // and is hashed again.)
                if let (Ok(stamp), true) = (&stamp, same_file(&path, &target)) {
                    creditrisk_data::raw::remember_sha256(
                        stamp,
                        &digest.sha256,
                        &layout.raw_cache_dir(),
                    );
                }
                report.path = target.display().to_string();
            }
            Err(e) => report.problems.push(e.to_string()),
        }
    } else {
        report.path = path.display().to_string();
    }
    if report.problems.is_empty() {
        report.status = "ok".into();
    }
    report
}

fn fill_digest(report: &mut SourceReport, digest: &FileDigest) {
    report.bytes = digest.bytes;
    report.rows = digest.lines.saturating_sub(1);
    report.md5 = digest.md5.clone();
    report.sha256 = digest.sha256.clone();
}

fn check_digests(report: &mut SourceReport, source: &SourceConfig, path: &Path, d: &FileDigest) {
    if d.bytes == 0 {
        report
            .problems
            .push(format!("{}: file is empty", path.display()));
    }
    let expected = [
        ("md5", &source.md5, &d.md5),
        ("sha256", &source.sha256, &d.sha256),
    ];
    for (name, want, got) in expected {
        if let Some(want) = want
            && !want.eq_ignore_ascii_case(got)
        {
            report.problems.push(format!(
                "{}: {name} mismatch: expected {want}, found {got} (the file changed or \
                 ingestion.sources.{name} for table {} is stale)",
                path.display(),
                source.table
            ));
        }
    }
    if let Some(want) = source.rows
        && want != report.rows
    {
        report.problems.push(format!(
            "{}: expected {want} data rows, found {}",
            path.display(),
            report.rows
        ));
    }
}

/// Compare the header (parsed by the pipeline's own reader) with the catalog and name the first
/// differing column. Ingest is strict: the file must be exactly Kaggle's layout.
fn check_header(path: &Path, table: RawTable) -> std::result::Result<(), String> {
    let found = creditrisk_data::raw::read_header(path).map_err(|e| e.to_string())?;
    compare_header(path, &found, table)
}

/// [`check_header`] on a header already read (`path` names the file or object).
fn compare_header(
    path: &Path,
    found: &[String],
    table: RawTable,
) -> std::result::Result<(), String> {
    let expected: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
    for (i, want) in expected.iter().enumerate() {
        match found.get(i) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(format!(
                    "{}: header differs from the catalog at column {}: expected `{want}`, found \
                     `{got}`",
                    path.display(),
                    i + 1
                ));
            }
            None => {
                return Err(format!(
                    "{}: header has {} columns, the catalog expects {} (first missing: `{want}`)",
                    path.display(),
                    found.len(),
                    expected.len()
                ));
            }
        }
    }
    if let Some(extra) = found.get(expected.len()) {
        return Err(format!(
            "{}: header has an extra column `{extra}` after the catalog's {} columns",
            path.display(),
            expected.len()
        ));
    }
    Ok(())
}

/// A source is a local path (relative to the project root) or a `file://` URL.
fn resolve_uri(root: &Path, uri: &str) -> std::result::Result<PathBuf, String> {
    if let Some(rest) = uri.strip_prefix("file://") {
        return Ok(PathBuf::from(rest));
    }
    if let Some((scheme, _)) = uri.split_once("://") {
        return Err(format!(
            "{uri}: unsupported scheme `{scheme}` in ingestion.sources (use a local path or file://)"
        ));
    }
    let path = Path::new(uri);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    })
}

/// Copy a verified file into the raw folder (atomically) unless it is already there.
fn bring_into_raw_dir(source: &Path, target: &Path) -> Result<()> {
    if same_file(source, target) {
        return Ok(());
    }
    creditrisk_base::io::write_atomic_with(target, |out| {
        let mut input = std::fs::File::open(source)?;
        std::io::copy(&mut input, out).map(|_| ())
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// An object-store source, streamed once: size, rows, md5, sha256 and the header from the same
/// pass. When `paths.raw_dir` is local the bytes are saved there in that pass (a temp file,
/// renamed only when every check passed); when it is a store, the object must already be the one
/// `raw_dir` names and nothing is written.
fn verify_remote(layout: &Layout, storage: &Storage, source: &SourceConfig) -> SourceReport {
    let uri = source.uri.as_str();
    let mut report = SourceReport::failed(source, uri);
    let Some(table) = RawTable::from_name(&source.table) else {
        report.problems.push(format!(
            "unknown table `{}` in ingestion.sources",
            source.table
        ));
        return report;
    };
    let target = layout.raw_file(table);
    let label = Path::new(uri);
    let check = |report: &mut SourceReport, digest: &FileDigest, head: &[u8]| {
        fill_digest(report, digest);
        report.kaggle_original = KAGGLE_MD5
            .iter()
            .any(|(t, md5)| *t == table.name() && *md5 == digest.md5);
        check_digests(report, source, label, digest);
        let header = storage::parse_header(uri, head).map_err(|e| e.to_string());
        if let Err(problem) = header.and_then(|found| compare_header(label, &found, table)) {
            report.problems.push(problem);
        }
    };
    if let Some(raw_uri) = creditrisk_base::location::remote(&target) {
        if raw_uri != uri {
            report.problems.push(format!(
                "{uri}: paths.raw_dir is an object store, so table {} is read from {raw_uri}; \
                 point ingestion.sources at that object (ingest does not copy between stores)",
                table.name()
            ));
        }
        match storage::block_on(storage.digest(uri, storage::HEADER_BYTES, None)) {
            Ok((digest, head)) => check(&mut report, &digest, &head),
            Err(e) => report.problems.push(e.to_string()),
        }
    } else {
        let mut failure = None;
        let saved = creditrisk_base::io::write_atomic_with(&target, |file| {
            let sink: &mut (dyn std::io::Write + Send) = file;
            match storage::block_on(storage.digest(uri, storage::HEADER_BYTES, Some(sink))) {
                Ok((digest, head)) => check(&mut report, &digest, &head),
                Err(e) => failure = Some(e.to_string()),
            }
            match failure.is_none() && report.problems.is_empty() {
                true => Ok(()),
                // Dropping the temp file: a failed object never lands in the raw folder.
                false => Err(std::io::Error::other("verification failed")),
            }
        });
        report.problems.extend(failure);
        match saved {
            Ok(()) => report.path = target.display().to_string(),
            Err(e) if report.problems.is_empty() => report.problems.push(e.to_string()),
            Err(_) => {}
        }
    }
    if report.problems.is_empty() {
        report.status = "ok".into();
    }
    report
}
