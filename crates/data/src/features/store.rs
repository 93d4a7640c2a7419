//! The store query: every table's features joined into one row per applicant, streamed into the
//! Parquet file and checked by the store's contracts before the file is published.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;

use crate::cluster::Engine;
use crate::contracts::feature_store::check_feature_store;
use creditrisk_base::config::ValidationConfig;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::sql::{STORE_SQL, SqlSet, TABLE_SQL};

use crate::feature_sql::{self, by_key_range};
use crate::raw::{self, TableFacts};
use creditrisk_base::layout::Layout;
use creditrisk_base::parquet_io::{Finished, ParquetOptions, ParquetSink};
use creditrisk_base::progress::Reporter;

/// Applicant ranges the local store query runs in (see `feature_sql::by_key_range`). Run whole,
/// in one partition, its joins kept one core busy for ~0.7 s at full scale before the first row
/// reached the writer; in ranges the next range is joined while the writer encodes this one, and
/// at most two ranges of joined rows (a quarter of the store) wait in memory.
const STORE_RANGES: usize = 8;

/// The published store.
pub(super) struct Written {
    pub rows: u64,
    pub columns: usize,
    /// Seconds of the query and the write, then of the store's contracts.
    pub seconds: f64,
    pub contracts_seconds: f64,
}

/// Run the store query over the per-table features registered in `ctx` (or, with `spill`, waiting
/// in that folder), write the store file (`layout.store_file`) and check it. Its contract report
/// is written either way; the file is published only when the contracts pass.
pub(super) async fn write(
    ctx: &SessionContext,
    engine: &Engine,
    sql: &SqlSet,
    spill: Option<PathBuf>,
    layout: &Layout,
    validation: &ValidationConfig,
    reporter: &dyn Reporter,
) -> Result<Written> {
    // The store query streams into the Parquet file; its contracts then read the complete file
    // before it is published (so memory holds the joined store once, in encoded pages). Locally
    // it runs in ranges of applicants, each in one partition: the per-table results are sorted by
    // SK_ID_CURR (`SqlSet::materialize`), so each range reads slices of them, its joins stream
    // its applicants in that order, and the final ORDER BY costs no sort.
    reporter.message(STORE_SQL.file);
    let output = layout.store_file.as_path();
    let t0 = Instant::now();
    let store_ctx = store_session(ctx, engine, spill).await?;
    let df = feature_sql::plan(sql, &store_ctx, STORE_SQL).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let (batches, writer) = spawn_writer(output.to_path_buf(), schema.clone());
    // A closed channel means the writer failed: its error is reported below.
    let parts = match engine {
        Engine::Local => by_key_range(df, STORE_RANGES).map_err(engine_error)?,
        Engine::Ballista { .. } => vec![df],
    };
    send_joined(parts, &batches).await?;
    drop(batches);
    let (written, rows, facts) = writer
        .await
        .map_err(|e| Error::internal_from("the feature-store writer stopped", e))??;
    let store_seconds = t0.elapsed().as_secs_f64();
    reporter.advance(1);

    reporter.message("feature store: contracts");
    let t0 = Instant::now();
    check_and_publish(written, &schema, &facts, output, layout, validation).await?;
    let store_contracts_seconds = t0.elapsed().as_secs_f64();

    Ok(Written {
        rows,
        columns: schema.fields().len(),
        seconds: store_seconds,
        contracts_seconds: store_contracts_seconds,
    })
}

/// A failure of the store query, naming its file.
fn engine_error(e: DataFusionError) -> Error {
    Error::engine(format!("feature SQL {}", STORE_SQL.file), e)
}

/// The session the store query runs in. Locally it is one partition in file order, over the
/// per-table results read back from `spill` when the build left them there.
async fn store_session(
    ctx: &SessionContext,
    engine: &Engine,
    spill: Option<PathBuf>,
) -> Result<SessionContext> {
    Ok(match (engine, spill) {
        (Engine::Local, Some(dir)) => {
            // Read back and sorted on both cores (each is a file read, a sort and a copy).
            let reload_ctx = ctx.clone();
            tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                TABLE_SQL
                    .par_iter()
                    .try_for_each(|file| feature_sql::reload(&reload_ctx, *file, &dir).map(|_| ()))
            })
            .await
            .map_err(|e| Error::internal_from("reading back the features stopped", e))??;
            raw::feature_session(ctx)
        }
        (Engine::Local, None) => raw::feature_session(ctx),
        (Engine::Ballista { .. }, _) => ctx.clone(),
    })
}

/// The writer's answer: the unpublished file, its rows, and the facts measured as it streamed.
type WriterResult = Result<(Finished, u64, TableFacts)>;

/// Start the Parquet writer of `file` on a blocking thread: joined batches are encoded there
/// while the next ones are joined. Dropping the sender ends the file.
fn spawn_writer(
    file: PathBuf,
    store_schema: SchemaRef,
) -> (Sender<RecordBatch>, JoinHandle<WriterResult>) {
    let (batches, mut received) = tokio::sync::mpsc::channel::<RecordBatch>(4);
    let writer = tokio::task::spawn_blocking(move || {
        let mut sink = ParquetSink::create(&file, &store_schema, ParquetOptions::STORE)?;
        let mut rows = 0;
        // Measured as it streams: the store's contracts read these bounds instead of a scan.
        let mut facts = TableFacts::default();
        while let Some(batch) = received.blocking_recv() {
            // The bounds measured beside the encoding (both on the rayon pool).
            let (these, written) = rayon::join(
                || TableFacts::of(&store_schema, std::iter::once(&batch)),
                || sink.write(&batch),
            );
            written?;
            facts = if rows == 0 { these } else { facts.both(&these) };
            rows += batch.num_rows() as u64;
        }
        Ok::<_, Error>((sink.finish()?, rows, facts))
    });
    (batches, writer)
}

/// Send the joined rows of `parts` to the writer, in key order; stops early when the writer is
/// gone (its error is the one reported).
async fn send_joined(mut parts: Vec<DataFrame>, batches: &Sender<RecordBatch>) -> Result<()> {
    if parts.len() == 1 {
        let mut stream = parts
            .remove(0)
            .execute_stream()
            .await
            .map_err(engine_error)?;
        while let Some(batch) = stream.next().await {
            if batches.send(batch.map_err(engine_error)?).await.is_err() {
                break;
            }
        }
        return Ok(());
    }
    // Each range joined on a worker of its own while the one before it is written, in key order.
    let running = parts.into_iter().map(|df| tokio::spawn(df.collect()));
    let mut ranges = futures::stream::iter(running).buffered(2);
    while let Some(range) = ranges.next().await {
        let range = range
            .map_err(|e| Error::internal_from("the store query stopped", e))?
            .map_err(engine_error)?;
        for batch in range {
            if batches.send(batch).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Check the written store (here, whatever the engine: the file is local until it is
/// published), write its report, and publish the file only when the contracts pass.
async fn check_and_publish(
    written: Finished,
    schema: &Schema,
    facts: &TableFacts,
    output: &Path,
    layout: &Layout,
    validation: &ValidationConfig,
) -> Result<()> {
    let store_source = output.display().to_string();
    let check_ctx = raw::session();
    raw::register_parquet_file(&check_ctx, STORE_SQL.result, written.temp_path()).await?;
    let report = check_feature_store(
        &check_ctx,
        STORE_SQL.result,
        schema,
        &store_source,
        validation,
        facts,
    )
    .await?;
    report.write_and_check(&layout.validation_report("feature_store"))?;
    written.persist()
}
