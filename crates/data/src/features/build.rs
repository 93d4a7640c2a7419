//! The build pipeline behind [`super::build_feature_store`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;
use tokio::task::JoinSet;

use super::digests::Digests;
use super::engine::{Spill, read_header, register_listing, session};
use super::lineage::{self, DataLineage, SourceLineage, StoreLineage};
use super::options::FeatureStoreOptions;
use super::raw_checks::{Checked, RawChecks};
use super::store;
use super::summary::{FeatureStoreSummary, TableTiming, TypedCopy, peak_rss_mb};
use crate::cluster::Engine;
use crate::contracts::ValidationReport;
use crate::contracts::raw_tables::check_types;
use crate::feature_sql;
use crate::raw::{self, CsvLoad, LoadedFrom, ParquetCache, TableFacts};
use crate::storage::Storage;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::combine_hashes;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_base::progress::Reporter;
use creditrisk_base::sql::{APPLICATION_SQL, FeatureSql, HISTORY_SQL, SqlSet};

/// One unit of work: tables loaded together, the SQL that reduces them, the parents whose ids
/// later tables are checked against. Its tables are dropped once its work is done.
struct Step {
    tables: &'static [RawTable],
    /// Each feature statement of the step, and the table its time is attributed to.
    sql: &'static [(FeatureSql, RawTable)],
    known: &'static [RawTable],
}

// bureau and bureau_balance form one step: bureau_balance.sql reaches applicants through bureau.
static STEPS: [Step; 6] = [
    Step {
        tables: &[RawTable::ApplicationTrain, RawTable::ApplicationTest],
        sql: &[(APPLICATION_SQL, RawTable::ApplicationTest)],
        known: &[RawTable::ApplicationTrain],
    },
    Step {
        tables: &[RawTable::Bureau, RawTable::BureauBalance],
        sql: &[
            (history_sql(RawTable::Bureau), RawTable::Bureau),
            (
                history_sql(RawTable::BureauBalance),
                RawTable::BureauBalance,
            ),
        ],
        known: &[RawTable::Bureau],
    },
    Step {
        tables: &[RawTable::PreviousApplication],
        sql: &[(
            history_sql(RawTable::PreviousApplication),
            RawTable::PreviousApplication,
        )],
        known: &[RawTable::PreviousApplication],
    },
    Step {
        tables: &[RawTable::InstallmentsPayments],
        sql: &[(
            history_sql(RawTable::InstallmentsPayments),
            RawTable::InstallmentsPayments,
        )],
        known: &[],
    },
    Step {
        tables: &[RawTable::CreditCardBalance],
        sql: &[(
            history_sql(RawTable::CreditCardBalance),
            RawTable::CreditCardBalance,
        )],
        known: &[],
    },
    Step {
        tables: &[RawTable::PosCashBalance],
        sql: &[(
            history_sql(RawTable::PosCashBalance),
            RawTable::PosCashBalance,
        )],
        known: &[],
    },
];

/// The feature statement of a credit-history table. `HISTORY_SQL` holds one statement per
/// `RawTable::HISTORY` table, in the same order; looking it up by table keeps the steps naming
/// tables rather than positions (a table outside the history fails the build at compile time).
const fn history_sql(table: RawTable) -> FeatureSql {
    let mut i = 0;
    while i < RawTable::HISTORY.len() {
        if RawTable::HISTORY[i] as u8 == table as u8 {
            return HISTORY_SQL[i];
        }
        i += 1;
    }
    panic!("not a credit-history table")
}

/// CSV bytes whose parsed rows may sit in memory at once: the next step is parsed while earlier
/// ones are checked and reduced only while their CSVs and its own stay under this, so peak memory
/// stays near that of the largest table (a step over it alone still runs, by itself). Parsed rows
/// take about 1.2 times their CSV's bytes (the wide application tables about 2 times). Steps read
/// from the Parquet cache hold no rows, but their SQL's working memory: in a build that also
/// parses, each counts for half its CSV's bytes (a build that parses nothing runs them all at
/// once). Without that, a second build (some tables read from copies, the others parsed and
/// copied) peaked at 1.58 GB; with it, 1.26-1.41 GB.
const PARSED_BYTES_IN_MEMORY: u64 = 800_000_000;

/// The same when the build fills the cache: a step then holds its rows until their copy is
/// written too. Measured at full scale, 800 MB let the application step's rows, still being
/// written, meet bureau_balance's: 1.23-1.58 GB peaks, against 1.22-1.33 GB here at the same
/// speed (a cold build at 700 MB was 0.2 s slower, so it keeps 800).
const PARSED_BYTES_IN_MEMORY_FILLING: u64 = 700_000_000;

/// Rows from which a table's feature statement runs as two halves of the applicants filtered
/// out of all its rows (see `feature_sql::split`), when its table is held in memory but not
/// sorted by SK_ID_CURR (a sorted table is always halved, into slices that cost no pass).
/// Measured at full scale, before sorted tables were sliced: the 13.8 M
/// instalment rows ran alone on one core for 1.4 s (their contracts take 0.2 s, and the next
/// table may not be parsed beside them), and halves saved 0.5 s; for 10.6 M POS rows the
/// contracts keep the other core busy, and halves only added their extra pass.
const HALVES_FROM_ROWS: u64 = 12_000_000;

/// Copy bytes a build may write for each CSV byte it read from a copy instead of parsing it.
/// Measured at full scale: a table read from its copy costs ~0.42 of parsing, checking and
/// reducing it (warm 4.4 s against cold 10.4 s), and copying it costs ~0.41 (8.3 of 20.2 CPU-s);
/// so each byte read from a copy saves the cost of ~1.4 bytes of copies. With it the second build
/// of an extract copies everything the first left, and takes no longer than the first.
const READ_COPY_CREDIT: f64 = 1.4;

/// What every step's task needs.
struct Shared {
    ctx: SessionContext,
    engine: Engine,
    storage: Storage,
    sql: SqlSet,
    layout: Layout,
    cache: Option<ParquetCache>,
    fill: FillBudget,
    /// Where finished per-table features wait for the store query, when this build parses CSVs
    /// into memory (None: they stay in memory, as on a warm build, which holds no parsed rows).
    spill: Option<PathBuf>,
    digests: Digests,
    checks: RawChecks,
}

/// CSV bytes whose typed copies this build may still write: `features.cache_fill_share` of the
/// extract, plus `READ_COPY_CREDIT` times the bytes of the tables it read from their copies.
/// Tables are offered in parse order, so the same cache state gives the same choice.
struct FillBudget {
    /// Bytes left, and whether a copy was admitted yet: the first always is, so a table larger
    /// than the share is copied too (by a build of its own).
    left: Mutex<(u64, bool)>,
}

impl FillBudget {
    fn admit(&self, bytes: u64) -> bool {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        let (rest, any) = &mut *left;
        let fits = bytes <= *rest || !*any;
        if fits {
            *rest = rest.saturating_sub(bytes);
            *any = true;
        }
        fits
    }

    fn read_from_copy(&self, bytes: u64) {
        let credit = (bytes as f64 * READ_COPY_CREDIT) as u64;
        self.left.lock().unwrap_or_else(|e| e.into_inner()).0 += credit;
    }
}

struct Source {
    table: RawTable,
    path: PathBuf,
    rows: u64,
    nulls: BTreeMap<String, u64>,
    contracts_reused: bool,
}

/// What one step's task found.
struct StepDone {
    step: &'static Step,
    timings: Vec<TableTiming>,
    sources: Vec<Source>,
    /// Contract failures in catalog order (every table is checked even when an earlier one
    /// failed).
    failed: Vec<Error>,
    /// CSV bytes the step counts for while it runs (see `run`).
    held_bytes: u64,
}

pub(super) async fn run(
    layout: &Layout,
    opts: &FeatureStoreOptions,
    reporter: &dyn Reporter,
) -> Result<FeatureStoreSummary> {
    let started = Instant::now();
    let engine = Engine::parse(opts.engine.as_deref(), "features.engine")?;
    let sql = SqlSet::load(&layout.sql_dir)?;
    let files: Vec<(RawTable, PathBuf)> = RawTable::ALL
        .iter()
        .map(|t| (*t, layout.raw_file(*t)))
        .collect();
    check_present(&files, &opts.storage).await?;
    let cache_dir = layout.raw_cache_dir();
    let cache = opts.raw_parquet_cache.then(|| ParquetCache {
        dir: cache_dir.clone(),
    });
    let memo = cache.as_ref().map(|_| cache_dir.clone());
    let digests = Digests::spawn(files, memo, opts.storage.clone());

    reporter.start("feature store", (STEPS.len() + 2) as u64);
    let spill = Spill::new(&engine, &layout.cache_dir)?;
    // Some table will be parsed when there is no cache or no copy of it (a stale copy is found
    // out later: that build keeps its features in memory).
    let parses_csv = engine == Engine::Local
        && (cache.as_ref()).is_none_or(|c| RawTable::ALL.iter().any(|t| !c.has_any(*t)));
    let ctx = session(&engine, &opts.storage, &spill).await?;
    if let Some(uri) = creditrisk_base::location::remote(&layout.raw_dir) {
        opts.storage.register(&ctx, uri)?;
    }
    let shared = Arc::new(Shared {
        ctx: ctx.clone(),
        engine: engine.clone(),
        storage: opts.storage.clone(),
        sql: sql.clone(),
        layout: layout.clone(),
        cache: cache.clone(),
        fill: FillBudget {
            left: Mutex::new((
                (csv_bytes(layout, RawTable::ALL.iter().copied()) as f64 * opts.cache_fill_share)
                    as u64,
                false,
            )),
        },
        spill: parses_csv.then(|| spill.dir.clone()),
        digests: digests.clone(),
        checks: RawChecks::new(
            ctx.clone(),
            opts.storage.clone(),
            layout.clone(),
            opts.validation.clone(),
            // The memo lives with the typed cache.
            cache.as_ref().map(|c| c.dir.clone()),
            opts.reuse_contract_reports,
            digests.clone(),
        ),
    });
    let (timings, sources) = run_steps(&shared, parses_csv, reporter).await?;

    let store = store::write(
        &ctx,
        &engine,
        &sql,
        shared.spill.clone(),
        layout,
        &opts.validation,
        reporter,
    )
    .await;
    let store = store.inspect_err(|_| reporter.finish())?;

    let t0 = Instant::now();
    write_lineage(layout, opts, &sql, &sources, &digests, &store).await?;
    let lineage_seconds = t0.elapsed().as_secs_f64();
    reporter.advance(1);
    reporter.finish();
    drop(spill);

    Ok(FeatureStoreSummary {
        output: layout.store_file.display().to_string(),
        rows: store.rows,
        columns: store.columns,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
        tables: timings,
        store_seconds: store.seconds,
        store_contracts_seconds: store.contracts_seconds,
        lineage_seconds,
    })
}

/// Every raw file present (a remote object is asked for its size: a missing one or refused
/// credentials give the store's own error, naming the URI).
async fn check_present(files: &[(RawTable, PathBuf)], storage: &Storage) -> Result<()> {
    let mut absent: Vec<String> = vec![];
    for (_, p) in files {
        match creditrisk_base::location::remote(p) {
            Some(uri) => {
                storage.size(uri).await?;
            }
            None if !p.is_file() => absent.push(p.display().to_string()),
            None => {}
        }
    }
    if !absent.is_empty() {
        return Err(Error::input(format!(
            "raw files missing: {} (run `creditrisk synth` or `creditrisk ingest`, or set paths.raw_dir)",
            absent.join(", ")
        )));
    }
    Ok(())
}

/// Parse step after step on this task; each step's contracts, feature SQL and cache fill run as
/// tasks beside the parsing of the next (and beside each other). Returns the tables' timings and
/// sources in catalog order, or every contract failure.
async fn run_steps(
    shared: &Arc<Shared>,
    parses_csv: bool,
    reporter: &dyn Reporter,
) -> Result<(Vec<TableTiming>, Vec<Source>)> {
    let layout = &shared.layout;
    let mut done: Vec<StepDone> = vec![];
    let mut running: JoinSet<Result<StepDone>> = JoinSet::new();
    let mut held_bytes = 0;
    // With the cache on, a parsed step may hold its rows until their copy is written.
    let in_memory = match shared.cache.is_some() {
        true => PARSED_BYTES_IN_MEMORY_FILLING,
        false => PARSED_BYTES_IN_MEMORY,
    };
    for step in &STEPS {
        let step_bytes = csv_bytes(layout, step.tables.iter().copied());
        while held_bytes > 0 && held_bytes + step_bytes > in_memory {
            let Some(step) = next_done(&mut running).await? else {
                break;
            };
            held_bytes -= step.held_bytes;
            reporter.advance(1);
            done.push(step);
        }
        let mut loads = vec![];
        for &table in step.tables {
            reporter.message(&format!("{}: reading", table.name()));
            let t0 = Instant::now();
            let loaded = load(shared, table, reporter).await?;
            loads.push((table, loaded, t0.elapsed().as_secs_f64()));
            if table == RawTable::ApplicationTest {
                raw::register_application_view(&shared.ctx).await?;
            }
        }
        let (cached, parsed): (Vec<_>, Vec<_>) = loads
            .iter()
            .map(|(t, l, _)| (*t, l.from))
            .partition(|(_, from)| *from == LoadedFrom::ParquetCache);
        let mut held = csv_bytes(layout, parsed.into_iter().map(|(t, _)| t));
        if parses_csv {
            held += csv_bytes(layout, cached.into_iter().map(|(t, _)| t)) / 2;
        }
        held_bytes += held;
        running.spawn(check_and_reduce(shared.clone(), step, loads, held));
    }
    while let Some(step) = next_done(&mut running).await? {
        reporter.advance(1);
        done.push(step);
    }
    // In catalog order, as steps are: they finish in any order, the message must not.
    done.sort_by_key(|d| STEPS.iter().position(|s| std::ptr::eq(s, d.step)));
    let failed: Vec<Error> = done.iter_mut().flat_map(|d| d.failed.drain(..)).collect();
    if !failed.is_empty() {
        reporter.finish();
        return Err(raw_failure(failed));
    }
    // Back in catalog order (steps finish in any order).
    let order = |name: &str| RawTable::ALL.iter().position(|t| t.name() == name);
    let mut timings: Vec<TableTiming> = done.iter_mut().flat_map(|d| d.timings.drain(..)).collect();
    timings.sort_by_key(|t| order(&t.table));
    let mut sources: Vec<Source> = done.iter_mut().flat_map(|d| d.sources.drain(..)).collect();
    sources.sort_by_key(|s| order(s.table.name()));
    Ok((timings, sources))
}

/// `reports/data_lineage.json`: every source with its sha256 (waited for here, the last moment
/// it is needed), the configuration, the feature SQL and the store.
async fn write_lineage(
    layout: &Layout,
    opts: &FeatureStoreOptions,
    sql: &SqlSet,
    sources: &[Source],
    digests: &Digests,
    store: &store::Written,
) -> Result<()> {
    let mut lineage_sources = vec![];
    for source in sources {
        let bytes = match creditrisk_base::location::remote(&source.path) {
            Some(uri) => opts.storage.size(uri).await?,
            None => std::fs::metadata(&source.path)
                .map_err(|e| Error::io(&source.path, e))?
                .len(),
        };
        lineage_sources.push(SourceLineage {
            table: source.table.name().into(),
            path: source.path.display().to_string(),
            bytes,
            sha256: digests.wait(source.table).await?,
            contracts_reused: source.contracts_reused,
            rows: source.rows,
            columns: source.table.columns().len(),
            top_missing: lineage::top_missing(&source.nulls, source.rows),
        });
    }
    let lineage = DataLineage {
        created_at: chrono::Utc::now().to_rfc3339(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        git_commit: creditrisk_base::io::git_commit(&layout.root),
        config_hash: combine_hashes(&opts.config_sections),
        config_sections: opts.config_sections.clone(),
        feature_sql_sha256: sql.sha256(),
        feature_sql_files: sql.file_sha256s(),
        sources: lineage_sources,
        feature_store: StoreLineage {
            path: layout.store_file.display().to_string(),
            rows: store.rows,
            columns: store.columns,
        },
    };
    creditrisk_base::io::write_json(&layout.lineage_file(), &lineage)
}

/// Bytes of the raw files of `tables` (0 for objects in a store: they are not held whole).
fn csv_bytes(layout: &Layout, tables: impl Iterator<Item = RawTable>) -> u64 {
    tables
        .filter_map(|t| std::fs::metadata(layout.raw_file(t)).ok())
        .map(|m| m.len())
        .sum()
}

/// The next finished step (None when none is running); a failed task fails the build, and
/// dropping the set then stops the others.
async fn next_done(running: &mut JoinSet<Result<StepDone>>) -> Result<Option<StepDone>> {
    match running.join_next().await {
        None => Ok(None),
        Some(Ok(step)) => step.map(Some),
        Some(Err(e)) => Err(Error::internal(format!(
            "a feature-store task stopped: {e}"
        ))),
    }
}

/// One piece of a step's work.
enum Piece {
    Contracts(RawTable, Checked),
    Features { table: RawTable, seconds: f64 },
    CacheFilled { table: RawTable, seconds: f64 },
    KnownIds,
}

/// A step's contracts, feature SQL, cache fill and parents' known ids, concurrently; then its
/// tables are dropped. The feature SQL runs beside the contracts (its result is simply not used
/// when they fail): each statement runs in one partition in file order (or as two halves with the
/// same bits), so its bits do not depend on what runs beside it.
async fn check_and_reduce(
    shared: Arc<Shared>,
    step: &'static Step,
    loads: Vec<(RawTable, Loaded, f64)>,
    held_bytes: u64,
) -> Result<StepDone> {
    let mut pieces: JoinSet<Result<Piece>> = JoinSet::new();
    let mut timings = vec![];
    let parsed_rows = |table: RawTable| {
        let loaded = loads.iter().find(|(t, _, _)| *t == table);
        loaded.and_then(|(_, l, _)| l.facts.measured.as_ref().map(|m| m.rows))
    };
    for &(file, table) in step.sql {
        let halves = parsed_rows(table).is_some_and(|rows| rows >= HALVES_FROM_ROWS);
        pieces.spawn(features(shared.clone(), file, table, halves));
    }
    if !step.known.is_empty() {
        let shared = shared.clone();
        pieces.spawn(async move {
            shared.checks.register_known_ids(step.known).await?;
            Ok(Piece::KnownIds)
        });
    }
    for (table, loaded, load_seconds) in loads {
        timings.push(TableTiming {
            table: table.name().into(),
            rows: 0,
            from: loaded.from,
            load_seconds,
            contracts_seconds: 0.0,
            contracts_reused: false,
            features_seconds: 0.0,
            copy: loaded.copy,
        });
        if let Some(fill) = loaded.fill {
            pieces.spawn(fill_cache(shared.clone(), table, fill));
        }
        let shared = shared.clone();
        pieces.spawn(async move {
            let checks = &shared.checks;
            let checked = checks.check(table, loaded.type_report, loaded.facts);
            Ok(Piece::Contracts(table, checked.await?))
        });
    }
    let mut sources = vec![];
    let mut failed = vec![];
    while let Some(piece) = pieces.join_next().await {
        let piece =
            piece.map_err(|e| Error::internal_from("a feature-store task stopped", e))??;
        let timing = |table: RawTable, timings: &mut Vec<TableTiming>| {
            timings
                .iter()
                .position(|t| t.table == table.name())
                .expect("every table of the step is timed")
        };
        match piece {
            Piece::Contracts(table, checked) => {
                let i = timing(table, &mut timings);
                timings[i].rows = checked.rows;
                timings[i].contracts_seconds = checked.seconds;
                timings[i].contracts_reused = checked.reused;
                sources.push(Source {
                    table,
                    path: shared.layout.raw_file(table),
                    rows: checked.rows,
                    nulls: checked.nulls,
                    contracts_reused: checked.reused,
                });
                failed.extend(checked.failure.map(|f| (table, f)));
            }
            Piece::Features { table, seconds } => {
                let i = timing(table, &mut timings);
                timings[i].features_seconds = seconds;
            }
            Piece::CacheFilled { table, seconds } => {
                let i = timing(table, &mut timings);
                timings[i].copy = TypedCopy::Written { seconds };
            }
            Piece::KnownIds => {}
        }
    }
    failed.sort_by_key(|(table, _)| RawTable::ALL.iter().position(|t| t == table));
    for &table in step.tables {
        shared.ctx.deregister_table(table.name())?;
    }
    if step.tables.contains(&RawTable::ApplicationTrain) {
        shared.ctx.deregister_table("application")?;
    }
    Ok(StepDone {
        step,
        timings,
        sources,
        failed: failed.into_iter().map(|(_, f)| f).collect(),
        held_bytes,
    })
}

/// `halves`: run the statement as two halves of the applicants (`HALVES_FROM_ROWS`).
async fn features(
    shared: Arc<Shared>,
    file: FeatureSql,
    table: RawTable,
    halves: bool,
) -> Result<Piece> {
    let t0 = Instant::now();
    // Locally one partition in file order (raw::feature_session), the result kept on disk until
    // the store query when the build parses CSVs; a cluster partitions and keeps its results.
    let ctx = match shared.engine {
        Engine::Local => raw::feature_session(&shared.ctx),
        Engine::Ballista { .. } => shared.ctx.clone(),
    };
    feature_sql::materialize(&shared.sql, &ctx, file, shared.spill.as_deref(), halves).await?;
    Ok(Piece::Features {
        table,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Write the typed Parquet copy of a freshly parsed table (on a blocking thread: it is CPU-bound
/// encoding, and must not hold up the engine's workers).
async fn fill_cache(shared: Arc<Shared>, table: RawTable, fill: CacheFill) -> Result<Piece> {
    let t0 = Instant::now();
    // A build makes a CacheFill only when it has a cache.
    let cache = shared.cache.clone().ok_or_else(|| {
        Error::internal(format!("{}: a cache fill without a cache", table.name()))
    })?;
    let sha = shared.digests.wait(table).await?;
    tokio::task::spawn_blocking(move || {
        cache.store(table, &sha, &fill.schema, &fill.parts, &fill.facts)
    })
    .await
    .map_err(|e| Error::internal_from("the cache writer stopped", e))??;
    Ok(Piece::CacheFilled {
        table,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Parsed batches to write to the Parquet cache, and their facts.
struct CacheFill {
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
    facts: TableFacts,
}

struct Loaded {
    from: LoadedFrom,
    /// Type-contract report (source "types") when some values did not parse.
    type_report: Option<ValidationReport>,
    /// The parsed rows, when the cache should keep a copy.
    fill: Option<CacheFill>,
    /// `Deferred` when the cache should keep a copy but this build has written its share.
    copy: TypedCopy,
    /// What is known of the table (see [`TableFacts`]).
    facts: TableFacts,
}

/// Put one raw table in the engine: from the Parquet cache when it holds this file's version,
/// else from the CSV (to be cached), else — values that do not parse — from a text reading.
async fn load(shared: &Shared, table: RawTable, reporter: &dyn Reporter) -> Result<Loaded> {
    let ctx = &shared.ctx;
    let path = shared.layout.raw_file(table);
    if let Engine::Ballista { .. } = shared.engine {
        register_listing(ctx, table, &path, &shared.storage).await?;
        return Ok(Loaded {
            from: LoadedFrom::Csv,
            type_report: None,
            fill: None,
            copy: TypedCopy::None,
            facts: TableFacts::default(),
        });
    }
    let names = read_header(&shared.storage, &path).await?;
    let header = raw::check_header(table, &names);
    // Only wait for the hash when a cached copy could match it.
    if let Some(cache) = shared.cache.as_ref().filter(|c| c.has_any(table)) {
        let sha = shared.digests.wait(table).await?;
        let file = cache.file(table, &sha);
        if file.is_file()
            && let Some(copy) = raw::register_parquet(ctx, table, &file).await?
        {
            (shared.fill).read_from_copy(csv_bytes(&shared.layout, [table].into_iter()));
            return Ok(Loaded {
                from: LoadedFrom::ParquetCache,
                type_report: None,
                fill: None,
                copy: TypedCopy::None,
                facts: copy.facts,
            });
        }
    }
    match raw::load_csv(ctx, table, &path, &names, &header).await? {
        CsvLoad::Table { schema, parts, .. } => {
            // One pass per byte range, on both cores (the next parse waits for it).
            let facts = {
                use rayon::prelude::*;
                let of = |part: &Vec<RecordBatch>| TableFacts::of(&schema, part.iter());
                let facts = parts.par_iter().map(of).reduce_with(|a, b| a.both(&b));
                facts.unwrap_or_else(|| TableFacts::of(&schema, std::iter::empty()))
            };
            let cached = shared.cache.is_some();
            let copied = cached
                && shared
                    .fill
                    .admit(csv_bytes(&shared.layout, [table].into_iter()));
            let fill = copied.then(|| CacheFill {
                schema,
                parts,
                facts: facts.clone(),
            });
            Ok(Loaded {
                from: LoadedFrom::Csv,
                type_report: None,
                facts,
                fill,
                copy: match cached && !copied {
                    true => TypedCopy::Deferred,
                    false => TypedCopy::None,
                },
            })
        }
        CsvLoad::Unparseable {
            message,
            text_table,
        } => {
            reporter.note(&message);
            let report = check_types(
                ctx,
                table,
                "types",
                &header,
                &text_table,
                &shared.checks.validation,
            )
            .await?;
            raw::load_relaxed(ctx, table, &text_table, &header).await?;
            ctx.deregister_table(text_table.as_str())?;
            Ok(Loaded {
                from: LoadedFrom::CsvRelaxed,
                type_report: Some(report),
                fill: None,
                copy: TypedCopy::None,
                facts: TableFacts::default(),
            })
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use creditrisk_base::sql::TABLE_SQL;

    /// The steps run every per-table statement once, in the order they can run, each attributed
    /// to the table it reads.
    #[test]
    fn steps_run_every_table_statement_once_in_order() {
        let files: Vec<&str> = STEPS
            .iter()
            .flat_map(|s| s.sql)
            .map(|(sql, _)| sql.file)
            .collect();
        let expected: Vec<&str> = TABLE_SQL.iter().map(|sql| sql.file).collect();
        assert_eq!(files, expected);
        for table in RawTable::HISTORY {
            assert_eq!(history_sql(table).file, format!("{}.sql", table.name()));
        }
    }
}
