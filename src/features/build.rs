//! The build pipeline behind [`super::build_feature_store`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::lineage::{self, DataLineage, SourceLineage, StoreLineage};
use super::{FeatureStoreOptions, FeatureStoreSummary, peak_rss_mb};
use crate::catalog::RawTable;
use crate::cluster::Engine;
use crate::config::{ValidationConfig, combine_hashes};
use crate::contracts::ValidationReport;
use crate::contracts::feature_store::check_feature_store;
use crate::contracts::raw_tables::{check_raw_table, check_types, register_known_ids};
use crate::error::{Error, Result};
use crate::feature_sql::{FeatureSql, STORE_SQL, SqlSet, TABLE_SQL};
use crate::io::ParquetOptions;
use crate::layout::Layout;
use crate::progress::Reporter;
use crate::raw::{self, CsvLoad, LoadedFrom, ParquetCache};
use crate::storage::{self, Storage};

/// Time spent on one raw table.
#[derive(Clone, Debug, Serialize)]
pub struct TableTiming {
    pub table: String,
    pub rows: u64,
    pub from: LoadedFrom,
    pub load_seconds: f64,
    pub contracts_seconds: f64,
    /// Seconds of this table's feature SQL (attributed to the table it reads the most).
    pub features_seconds: f64,
}

/// One unit of work: tables loaded together, the SQL that reduces them, what to keep afterwards.
struct Step {
    tables: &'static [RawTable],
    sql: usize,
    /// Parents whose ids later tables check against.
    known: &'static [RawTable],
    /// Tables dropped from memory after this step.
    drop: &'static [RawTable],
}

const STEPS: [Step; 7] = [
    Step {
        tables: &[RawTable::ApplicationTrain, RawTable::ApplicationTest],
        sql: 0,
        known: &[RawTable::ApplicationTrain],
        drop: &[RawTable::ApplicationTrain, RawTable::ApplicationTest],
    },
    // bureau stays in memory for bureau_balance.sql, which reaches applicants through it.
    Step {
        tables: &[RawTable::Bureau],
        sql: 1,
        known: &[RawTable::Bureau],
        drop: &[],
    },
    Step {
        tables: &[RawTable::BureauBalance],
        sql: 2,
        known: &[],
        drop: &[RawTable::BureauBalance, RawTable::Bureau],
    },
    Step {
        tables: &[RawTable::PreviousApplication],
        sql: 3,
        known: &[RawTable::PreviousApplication],
        drop: &[RawTable::PreviousApplication],
    },
    Step {
        tables: &[RawTable::InstallmentsPayments],
        sql: 4,
        known: &[],
        drop: &[RawTable::InstallmentsPayments],
    },
    Step {
        tables: &[RawTable::CreditCardBalance],
        sql: 5,
        known: &[],
        drop: &[RawTable::CreditCardBalance],
    },
    Step {
        tables: &[RawTable::PosCashBalance],
        sql: 6,
        known: &[],
        drop: &[RawTable::PosCashBalance],
    },
];

/// sha256 of every raw file, computed on one background thread while the tables are parsed.
struct Digests {
    results: BTreeMap<RawTable, mpsc::Receiver<Result<String>>>,
}

impl Digests {
    fn spawn(
        files: Vec<(RawTable, PathBuf)>,
        memo_dir: Option<PathBuf>,
        storage: Storage,
    ) -> Digests {
        let mut senders = vec![];
        let mut results = BTreeMap::new();
        for (table, path) in files {
            let (tx, rx) = mpsc::channel();
            senders.push((tx, path));
            results.insert(table, rx);
        }
        std::thread::spawn(move || {
            for (tx, path) in senders {
                let sha = match storage::remote(&path) {
                    Some(uri) => storage::block_on(storage.sha256(uri)),
                    None => raw::file_sha256(&path, memo_dir.as_deref()),
                };
                let _ = tx.send(sha);
            }
        });
        Digests { results }
    }

    fn wait(&mut self, table: RawTable) -> Result<String> {
        let rx = self.results.get(&table).expect("every raw table is hashed");
        // Keep the answer for later callers: receive once, then re-queue a copy.
        let answer = rx
            .recv()
            .map_err(|_| Error::Internal("the raw-file hashing thread stopped".into()))?;
        let (tx, rx) = mpsc::channel();
        let copy = match &answer {
            Ok(sha) => Ok(sha.clone()),
            Err(e) => Err(Error::Input(e.to_string())),
        };
        let _ = tx.send(copy);
        self.results.insert(table, rx);
        answer
    }
}

struct Source {
    table: RawTable,
    path: PathBuf,
    rows: u64,
    nulls: BTreeMap<String, u64>,
}

pub(super) async fn run(
    layout: &Layout,
    opts: &FeatureStoreOptions,
    reporter: &dyn Reporter,
) -> Result<FeatureStoreSummary> {
    let started = Instant::now();
    let engine = Engine::parse(opts.engine.as_deref(), "features.engine")?;
    let output = layout.store_file.as_path();
    let sql = SqlSet::load(&layout.sql_dir)?;
    let files: Vec<(RawTable, PathBuf)> = RawTable::ALL
        .iter()
        .map(|t| (*t, layout.raw_file(*t)))
        .collect();
    let mut absent: Vec<String> = vec![];
    for (_, p) in &files {
        match storage::remote(p) {
            // A missing object or refused credentials: the store's own error, naming the URI.
            Some(uri) => {
                opts.storage.size(uri).await?;
            }
            None if !p.is_file() => absent.push(p.display().to_string()),
            None => {}
        }
    }
    if !absent.is_empty() {
        return Err(Error::Input(format!(
            "raw files missing: {} (run `creditrisk synth` or `creditrisk ingest`, or set paths.raw_dir)",
            absent.join(", ")
        )));
    }
    let cache_dir = layout.raw_cache_dir();
    let cache = opts.raw_parquet_cache.then(|| ParquetCache {
        dir: cache_dir.clone(),
    });
    let memo = cache.as_ref().map(|_| cache_dir.clone());
    let mut digests = Digests::spawn(files.clone(), memo, opts.storage.clone());

    reporter.start("feature store", (STEPS.len() + 2) as u64);
    let spill = Spill::new(&engine, &layout.cache_dir)?;
    let ctx = session(&engine, &opts.storage, spill.as_ref()).await?;
    if let Some(uri) = storage::remote(&layout.raw_dir) {
        opts.storage.register(&ctx, uri)?;
    }
    let mut timings: Vec<TableTiming> = vec![];
    let mut sources: Vec<Source> = vec![];
    let mut failed: Vec<Error> = vec![];
    let mut type_reports: Vec<ValidationReport> = vec![];

    for step in &STEPS {
        for &table in step.tables {
            reporter.message(&format!("{}: reading", table.name()));
            let path = layout.raw_file(table);
            let t0 = Instant::now();
            let loaded = match engine {
                Engine::Local => {
                    load(
                        &ctx,
                        table,
                        &path,
                        cache.as_ref(),
                        &mut digests,
                        &opts.validation,
                        reporter,
                        &opts.storage,
                    )
                    .await?
                }
                Engine::Ballista { .. } => load_listing(&ctx, table, &path, &opts.storage).await?,
            };
            let load_seconds = t0.elapsed().as_secs_f64();
            if table == RawTable::ApplicationTest {
                raw::register_application_view(&ctx).await?;
            }
            timings.push(TableTiming {
                table: table.name().into(),
                rows: 0,
                from: loaded.from,
                load_seconds,
                contracts_seconds: 0.0,
                features_seconds: 0.0,
            });
            sources.push(Source {
                table,
                path,
                rows: 0,
                nulls: BTreeMap::new(),
            });
            if let Some(types) = loaded.type_report {
                // Merged into the table's report below.
                type_reports.push(types);
            }
        }
        for &parent in step.known {
            register_known_ids(&ctx, parent).await?;
        }
        for &table in step.tables {
            reporter.message(&format!("{}: contracts", table.name()));
            let t0 = Instant::now();
            let path = layout.raw_file(table);
            let source = path.display().to_string();
            let names = read_header(&opts.storage, &path).await?;
            let header = raw::check_header(table, &names);
            let (mut report, run) =
                check_raw_table(&ctx, table, &source, &header, &opts.validation).await?;
            if let Some(pos) = type_reports.iter().position(|r| r.table == table.name()) {
                merge(&mut report, type_reports.remove(pos));
            }
            let report_file = layout.validation_report(&format!("raw_{}", table.name()));
            let timing = timings
                .iter_mut()
                .find(|t| t.table == table.name())
                .expect("timed");
            timing.rows = run.rows;
            timing.contracts_seconds = t0.elapsed().as_secs_f64();
            let src = sources
                .iter_mut()
                .find(|s| s.table == table)
                .expect("listed");
            src.rows = run.rows;
            src.nulls = run.nulls;
            if let Err(e) = report.write_and_check(&report_file) {
                failed.push(e);
            }
        }
        if failed.is_empty() {
            let file: FeatureSql = TABLE_SQL[step.sql];
            reporter.message(&format!("{}: features", file.file));
            let t0 = Instant::now();
            // Locally one partition in file order (raw::feature_session); a cluster partitions.
            let features_ctx = match engine {
                Engine::Local => raw::feature_session(&ctx),
                Engine::Ballista { .. } => ctx.clone(),
            };
            sql.materialize(&features_ctx, file).await?;
            let timing = timings
                .iter_mut()
                .rfind(|t| step.tables.iter().any(|x| x.name() == t.table));
            if let Some(timing) = timing {
                timing.features_seconds = t0.elapsed().as_secs_f64();
            }
        }
        for &table in step.drop {
            ctx.deregister_table(table.name())?;
        }
        if step.tables.contains(&RawTable::ApplicationTrain) {
            ctx.deregister_table("application")?;
        }
        reporter.advance(1);
    }
    if !failed.is_empty() {
        reporter.finish();
        return Err(raw_failure(failed));
    }

    reporter.message(STORE_SQL.file);
    let t0 = Instant::now();
    let df = sql.plan(&ctx, STORE_SQL).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let parts = df.collect_partitioned().await?;
    let rows = raw::register_batches(&ctx, STORE_SQL.result, schema.clone(), parts.clone())?;
    let store_seconds = t0.elapsed().as_secs_f64();
    reporter.advance(1);

    reporter.message("feature store: contracts");
    let store_source = output.display().to_string();
    let report = check_feature_store(
        &ctx,
        STORE_SQL.result,
        &schema,
        &store_source,
        &opts.validation,
    )
    .await?;
    if let Err(e) = report.write_and_check(&layout.validation_report("feature_store")) {
        reporter.finish();
        return Err(e);
    }

    reporter.message("writing the store");
    let t0 = Instant::now();
    crate::io::write_parquet(
        output,
        &schema,
        parts.iter().flatten(),
        ParquetOptions::STORE,
    )?;
    let write_seconds = t0.elapsed().as_secs_f64();

    let t0 = Instant::now();
    let mut lineage_sources = vec![];
    for source in &sources {
        let bytes = match storage::remote(&source.path) {
            Some(uri) => opts.storage.size(uri).await?,
            None => std::fs::metadata(&source.path)
                .map_err(|e| Error::io(&source.path, e))?
                .len(),
        };
        lineage_sources.push(SourceLineage {
            table: source.table.name().into(),
            path: source.path.display().to_string(),
            bytes,
            sha256: digests.wait(source.table)?,
            rows: source.rows,
            columns: source.table.columns().len(),
            top_missing: lineage::top_missing(&source.nulls, source.rows),
        });
    }
    let lineage = DataLineage {
        created_at: chrono::Utc::now().to_rfc3339(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: crate::io::git_commit(&layout.root),
        config_hash: combine_hashes(&opts.config_sections),
        config_sections: opts.config_sections.clone(),
        feature_sql_sha256: sql.sha256(),
        feature_sql_files: sql.file_sha256s(),
        sources: lineage_sources,
        feature_store: StoreLineage {
            path: output.display().to_string(),
            rows,
            columns: schema.fields().len(),
        },
    };
    crate::io::write_json(&layout.lineage_file(), &lineage)?;
    let lineage_seconds = t0.elapsed().as_secs_f64();
    reporter.advance(1);
    reporter.finish();
    drop(spill);

    let summary = FeatureStoreSummary {
        output: output.display().to_string(),
        rows,
        columns: schema.fields().len(),
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
        tables: timings,
        store_seconds,
        write_seconds,
        lineage_seconds,
    };
    Ok(summary)
}

struct Loaded {
    from: LoadedFrom,
    /// Type-contract report (source "types") when some values did not parse.
    type_report: Option<ValidationReport>,
}

/// Put one raw table in memory: from the Parquet cache when it holds this file's version, else
/// from the CSV (caching it), else — values that do not parse — from a text reading.
#[allow(clippy::too_many_arguments)]
async fn load(
    ctx: &SessionContext,
    table: RawTable,
    path: &Path,
    cache: Option<&ParquetCache>,
    digests: &mut Digests,
    validation: &ValidationConfig,
    reporter: &dyn Reporter,
    storage: &Storage,
) -> Result<Loaded> {
    let names = read_header(storage, path).await?;
    let header = raw::check_header(table, &names);
    // Only wait for the hash when a cached copy could match it.
    if let Some(cache) = cache.filter(|c| c.has_any(table)) {
        let sha = digests.wait(table)?;
        let file = cache.file(table, &sha);
        if file.is_file() && raw::register_parquet(ctx, table, &file).await? {
            return Ok(Loaded {
                from: LoadedFrom::ParquetCache,
                type_report: None,
            });
        }
    }
    match raw::load_csv(ctx, table, path, &names, &header).await? {
        CsvLoad::Table { schema, parts, .. } => {
            if let Some(cache) = cache {
                let sha = digests.wait(table)?;
                cache.store(table, &sha, &schema, &parts)?;
            }
            Ok(Loaded {
                from: LoadedFrom::Csv,
                type_report: None,
            })
        }
        CsvLoad::Unparseable {
            message,
            text_table,
        } => {
            reporter.note(&message);
            // A throwaway validation config: sample rows as configured, severities as configured.
            let report = check_types(ctx, table, "types", &header, &text_table, validation).await?;
            raw::load_relaxed(ctx, table, &text_table, &header).await?;
            ctx.deregister_table(text_table.as_str())?;
            Ok(Loaded {
                from: LoadedFrom::CsvRelaxed,
                type_report: Some(report),
            })
        }
    }
}

fn merge(report: &mut ValidationReport, other: ValidationReport) {
    report.checks_run += other.checks_run;
    for f in other.failures.into_iter().chain(other.warnings) {
        report.record(f);
    }
}

/// One error for every raw table whose contracts failed; it points at the first failing
/// table's report (each message names its table, and every table has its own report).
fn raw_failure(failed: Vec<Error>) -> Error {
    let report = failed.iter().find_map(|e| match e {
        Error::Check { report, .. } => report.clone(),
        _ => None,
    });
    let messages: Vec<String> = failed
        .into_iter()
        .map(|e| match e {
            Error::Check {
                message,
                report: Some(path),
            } => format!("{message} (report: {})", path.display()),
            Error::Check { message, .. } => message,
            other => other.to_string(),
        })
        .collect();
    Error::Check {
        message: format!("raw data contracts failed: {}", messages.join(" | ")),
        report,
    }
}

/// The header of a raw file, local or in an object store.
async fn read_header(storage: &Storage, path: &Path) -> Result<Vec<String>> {
    match storage::remote(path) {
        Some(uri) => storage.read_header(uri).await,
        None => raw::read_header(path),
    }
}

/// The session the build runs on: DataFusion here, or a Ballista cluster whose in-between
/// tables are Parquet files in `spill` (a cluster cannot be sent in-memory tables).
async fn session(
    engine: &Engine,
    storage: &Storage,
    spill: Option<&Spill>,
) -> Result<SessionContext> {
    match (engine, spill) {
        (Engine::Ballista { host, port }, Some(spill)) => {
            let files = storage::FileTables {
                dir: spill.dir.clone(),
            };
            let config = raw::session()
                .copied_config()
                .with_extension(std::sync::Arc::new(files));
            crate::cluster::remote_session(host, *port, config, storage).await
        }
        _ => Ok(raw::session()),
    }
}

/// A raw CSV as a file-backed table the cluster reads itself (no in-memory copy, no Parquet
/// cache: the cache is local to this machine). The cluster reads the catalog's layout only.
async fn load_listing(
    ctx: &SessionContext,
    table: RawTable,
    path: &Path,
    storage: &Storage,
) -> Result<Loaded> {
    let names = read_header(storage, path).await?;
    if !raw::check_header(table, &names).matches_catalog() {
        return Err(Error::Input(format!(
            "{}: the header differs from the catalog's {} columns; the Ballista engine reads \
             the catalog layout only (run `creditrisk ingest` for the first difference, or build \
             locally with --engine local)",
            path.display(),
            table.name()
        )));
    }
    let location = match storage::remote(path) {
        Some(uri) => uri.to_string(),
        None => std::path::absolute(path)
            .map_err(|e| Error::io(path, e))?
            .display()
            .to_string(),
    };
    let schema = table.arrow_schema();
    let options = datafusion::prelude::CsvReadOptions::new()
        .has_header(true)
        .schema(&schema);
    ctx.deregister_table(table.name())?;
    ctx.register_csv(table.name(), &location, options)
        .await
        .map_err(|e| Error::engine(format!("registering {location} on the cluster"), e))?;
    Ok(Loaded {
        from: LoadedFrom::Csv,
        type_report: None,
    })
}

/// The folder of a cluster build's in-between tables, removed when the build ends (also on
/// error). It lives under `paths.cache_dir`, which every executor must see at the same path.
struct Spill {
    dir: PathBuf,
}

impl Spill {
    fn new(engine: &Engine, cache_dir: &Path) -> Result<Option<Spill>> {
        if *engine == Engine::Local {
            return Ok(None);
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.f");
        let dir = std::path::absolute(
            cache_dir
                .join("ballista")
                .join(format!("build-{stamp}-{}", std::process::id())),
        )
        .map_err(|e| Error::io(cache_dir, e))?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Some(Spill { dir }))
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
