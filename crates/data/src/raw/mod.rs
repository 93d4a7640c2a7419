//! Raw reading: the eight Kaggle CSVs into the SQL engine, typed by the catalog (never inferred).
//!
//! Each table is read once into memory (a `MemTable` under its catalog name), so the contracts and
//! the feature SQL scan memory instead of parsing the CSV twice. A file whose header matches the
//! catalog is parsed by [`creditrisk_base::io::csv`] (the same arrays in half the CPU time); DataFusion's
//! CSV reader takes every file that reader declines, and reports the value that does not parse.
//! An optional typed Parquet cache, keyed by the CSV's sha256, lets later builds skip CSV parsing
//! altogether.
//!
//! The file's own header decides which columns are read: the catalog's header is only assumed when
//! it matches, so a missing, extra or reordered column is reported (contract `present`) instead of
//! silently shifting every value one column to the left.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::DataFusionError;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};

use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io::HashMemo;
use creditrisk_base::layout::RawCacheName;
use creditrisk_base::parquet_io::{ParquetOptions, ParquetSink};

mod facts;
mod memory;
mod value_counts;

pub use facts::{ColumnMeasure, Measured, TableFacts};
use memory::register_in_file_order;
pub use memory::{register_batches, register_sorted};

/// A session configured for the Kaggle layout: upper-case identifiers are kept as written.
/// DataFusion's own `DATAFUSION_*` environment variables apply (e.g.
/// `DATAFUSION_EXECUTION_TARGET_PARTITIONS`; the default is one partition per core): the
/// feature values do not depend on them (see [`feature_session`]).
pub fn session() -> SessionContext {
    // An unreadable variable is ignored rather than fatal: it only tunes speed.
    let config = SessionConfig::from_env()
        .unwrap_or_default()
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
        // Keep Parquet strings as Utf8 (the catalog type), not Utf8View.
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        // Partition i of a file scan reads byte range i, so concatenating the partitions gives
        // the file's row order (`register_in_file_order`). With work stealing (DataFusion's
        // default) an idle partition takes a sibling's range, the order depends on timing, and
        // the feature SQL's float sums would change in the last bit from run to run.
        .set_bool(
            "datafusion.execution.enable_file_stream_work_stealing",
            false,
        );
    SessionContext::new_with_config(config)
}

/// A session over the same tables as `ctx` that runs every statement in one partition, reading
/// each table in file order: the feature SQL runs here, so an applicant's sums and means are
/// added up row by row in file order — the same bits on any core count, and the same bits as
/// a request that carries those rows in that order. (With several partitions, partial sums of
/// one applicant's rows would be added in an order that depends on batch boundaries.)
pub fn feature_session(ctx: &SessionContext) -> SessionContext {
    let config = ctx
        .copied_config()
        .with_target_partitions(1)
        .with_repartition_file_scans(false)
        .with_round_robin_repartition(false)
        // The tables are `ctx`'s: keep its catalog (a fresh default one would replace it).
        .with_create_default_catalog_and_schema(false);
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
        .with_config(config)
        .build();
    SessionContext::new_with_state(state)
}

/// Double-quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How a file's header compares with the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderCheck {
    /// Catalog columns absent from the file (read as all-NULL so later stages still plan).
    pub missing: Vec<String>,
    /// File columns the catalog does not know (read as text, then dropped).
    pub extra: Vec<String>,
    /// Columns present but in another order than Kaggle's.
    pub reordered: bool,
}

impl HeaderCheck {
    pub fn matches_catalog(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && !self.reordered
    }
}

/// Read the header line of a CSV (quoted names allowed; a UTF-8 BOM is dropped).
pub fn read_header(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(file);
    let mut record = csv::StringRecord::new();
    let found = reader.read_record(&mut record).map_err(|e| {
        Error::input(format!(
            "{}: cannot read the header line: {e}",
            path.display()
        ))
    })?;
    if !found {
        return Err(Error::input(format!(
            "{}: the file is empty; expected a header line and rows",
            path.display()
        )));
    }
    Ok(record
        .iter()
        .map(|s| s.trim_start_matches('\u{feff}').trim().to_string())
        .collect())
}

/// Compare a header with the catalog columns of `table`.
pub fn check_header(table: RawTable, header: &[String]) -> HeaderCheck {
    let expected: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
    let missing = expected
        .iter()
        .filter(|e| !header.iter().any(|h| h == *e))
        .map(|e| e.to_string())
        .collect();
    let extra: Vec<String> = header
        .iter()
        .filter(|h| !expected.contains(&h.as_str()))
        .cloned()
        .collect();
    let known: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| expected.contains(h))
        .collect();
    let in_order: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|e| known.contains(e))
        .collect();
    HeaderCheck {
        missing,
        extra,
        reordered: known != in_order,
    }
}

/// Schema of the file as it is: catalog types for known columns, text for unknown ones.
fn file_schema(table: RawTable, header: &[String], all_text: bool) -> SchemaRef {
    let fields: Vec<Field> = header
        .iter()
        .map(|name| {
            let ty = match table.column(name) {
                Some(c) if !all_text => c.kind.arrow_type(),
                _ => DataType::Utf8,
            };
            Field::new(name, ty, true)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// SELECT list that puts a file's columns into catalog order (NULL for missing ones).
fn catalog_projection(table: RawTable, header: &HeaderCheck) -> String {
    table
        .columns()
        .iter()
        .map(|c| {
            if header.missing.iter().any(|m| m == c.name) {
                format!(
                    "CAST(NULL AS {}) AS {}",
                    sql_type(&c.kind.arrow_type()),
                    ident(c.name)
                )
            } else {
                ident(c.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQL name of an Arrow type used by the catalog.
pub fn sql_type(ty: &DataType) -> &'static str {
    match ty {
        DataType::Int64 => "BIGINT",
        DataType::Float64 => "DOUBLE",
        DataType::Boolean => "BOOLEAN",
        _ => "VARCHAR",
    }
}

/// Where the rows of a loaded table came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadedFrom {
    Csv,
    ParquetCache,
    /// Text reading with `TRY_CAST`: values that do not parse became NULL (type contract failed).
    CsvRelaxed,
}

/// Outcome of parsing one CSV with the catalog types.
pub enum CsvLoad {
    /// Registered under the catalog name; `parts` are the same batches (for the cache).
    Table {
        rows: u64,
        schema: SchemaRef,
        parts: Vec<Vec<RecordBatch>>,
    },
    /// Some value does not parse as its column's type; `message` names file, column and value.
    /// The file is registered with every column as text under `text_table` for the type contract.
    Unparseable { message: String, text_table: String },
}

/// The typed Parquet cache: one file per raw table and CSV sha256.
#[derive(Clone, Debug)]
pub struct ParquetCache {
    pub dir: PathBuf,
}

impl ParquetCache {
    pub fn file(&self, table: RawTable, sha256: &str) -> PathBuf {
        self.dir.join(RawCacheName::file(table, sha256))
    }

    /// Cached copies of `table` (any version).
    fn copies(&self, table: RawTable) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        entries
            .flatten()
            .filter(|entry| RawCacheName::is_copy_of(&entry.file_name().to_string_lossy(), table))
            .map(|entry| entry.path())
            .collect()
    }

    /// Whether any version of `table` is cached (if not, a build need not wait for the hash).
    pub fn has_any(&self, table: RawTable) -> bool {
        !self.copies(table).is_empty()
    }

    /// Store `parts` as the copy of `table` for `sha256`, removing older versions. The footer
    /// records `facts` (the measures of `parts`), which the contracts read instead of scanning
    /// the copy.
    pub fn store(
        &self,
        table: RawTable,
        sha256: &str,
        schema: &SchemaRef,
        parts: &[Vec<RecordBatch>],
        facts: &TableFacts,
    ) -> Result<()> {
        let file = self.file(table, sha256);
        let mut sink = ParquetSink::create(&file, schema, ParquetOptions::RAW_CACHE)?;
        for batch in parts.iter().flatten() {
            sink.write(batch)?;
        }
        facts.annotate(&mut sink)?;
        sink.finish()?.persist()?;
        for old in self.copies(table).into_iter().filter(|p| *p != file) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }
}

/// A cached copy registered in place of its CSV.
pub struct CachedCopy {
    /// What the copy records of its columns.
    pub facts: TableFacts,
}

/// Register a cached Parquet copy under the table's name, scanned in place (Parquet is columnar
/// and cheap to decode, so the checks and the SQL each read only what they need, and memory stays
/// low). None when the file is not a readable copy with the catalog's columns and its measures.
pub async fn register_parquet(
    ctx: &SessionContext,
    table: RawTable,
    file: &Path,
) -> Result<Option<CachedCopy>> {
    let Some(facts) = TableFacts::recorded_in(file) else {
        return Ok(None);
    };
    let Ok(df) = ctx
        .read_parquet(path_str(file)?, ParquetReadOptions::default())
        .await
    else {
        return Ok(None);
    };
    let expected = table.arrow_schema();
    let schema = df.schema().as_arrow();
    let same = expected.fields().len() == schema.fields().len()
        && expected
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if !same {
        return Ok(None);
    }
    ctx.deregister_table(table.name())?;
    ctx.register_table(table.name(), df.into_view())?;
    Ok(Some(CachedCopy { facts }))
}

/// Register a complete Parquet file (any file name) as table `name`.
pub async fn register_parquet_file(ctx: &SessionContext, name: &str, file: &Path) -> Result<()> {
    let extension = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let options = ParquetReadOptions::default().file_extension(&extension);
    let df = ctx.read_parquet(path_str(file)?, options).await?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, df.into_view())?;
    Ok(())
}

/// Parse a local `path` with `schema` by [`creditrisk_base::io::csv`], cut into byte ranges as `ctx` cuts
/// file scans; None when that reader declines the file (or it is not local).
pub async fn read_plain_csv(
    ctx: &SessionContext,
    path: &Path,
    schema: &SchemaRef,
) -> Result<Option<Vec<Vec<RecordBatch>>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let (file, schema) = (path.to_owned(), schema.clone());
    let config = ctx.state().config().options().clone();
    let partitions = config.execution.target_partitions;
    let min_bytes = config.optimizer.repartition_file_min_size as u64;
    tokio::task::spawn_blocking(move || {
        crate::csv_reader::read_typed(&file, &schema, partitions, min_bytes)
    })
    .await
    .map_err(|e| Error::internal_from(format!("reading {}", path.display()), e))?
}

/// Parse `path` with the catalog types of the columns its header names and register the rows in
/// memory under the table's name, in catalog order (NULL columns for missing ones).
pub async fn load_csv(
    ctx: &SessionContext,
    table: RawTable,
    path: &Path,
    names: &[String],
    header: &HeaderCheck,
) -> Result<CsvLoad> {
    let schema = file_schema(table, names, false);
    if header.matches_catalog()
        && let Some(parts) = read_plain_csv(ctx, path, &schema).await?
    {
        let rows = register_in_file_order(ctx, table.name(), schema.clone(), &parts)?;
        return Ok(CsvLoad::Table {
            rows,
            schema,
            parts,
        });
    }
    let options = CsvReadOptions::new().has_header(true).schema(&schema);
    let df = ctx.read_csv(path_str(path)?, options).await?;
    let file_view = format!("{}__file", table.name());
    let df = if header.matches_catalog() {
        df
    } else {
        ctx.register_table(file_view.as_str(), df.into_view())?;
        let sql = format!(
            "SELECT {} FROM {}",
            catalog_projection(table, header),
            ident(&file_view)
        );
        ctx.sql(&sql).await?
    };
    let schema = Arc::new(df.schema().as_arrow().clone());
    let collected = df.collect_partitioned().await;
    ctx.deregister_table(file_view.as_str())?;
    let parts = match collected {
        Ok(parts) => parts,
        Err(e) => match parse_error(&e) {
            Some(detail) => {
                let text_table = register_as_text(ctx, table, path, names).await?;
                let message = describe_parse_error(table, path, names, &detail);
                return Ok(CsvLoad::Unparseable {
                    message,
                    text_table,
                });
            }
            None => return Err(Error::engine(format!("reading {}", path.display()), e)),
        },
    };
    let rows = register_in_file_order(ctx, table.name(), schema.clone(), &parts)?;
    Ok(CsvLoad::Table {
        rows,
        schema,
        parts,
    })
}

/// Register `text_table` (all text) in memory under the table's name with the catalog types,
/// values that do not parse becoming NULL: the relaxed reading when types are not enforced.
pub async fn load_relaxed(
    ctx: &SessionContext,
    table: RawTable,
    text_table: &str,
    header: &HeaderCheck,
) -> Result<u64> {
    let select: Vec<String> = table
        .columns()
        .iter()
        .map(|c| {
            let ty = sql_type(&c.kind.arrow_type());
            if header.missing.iter().any(|m| m == c.name) {
                format!("CAST(NULL AS {ty}) AS {}", ident(c.name))
            } else {
                format!("TRY_CAST({} AS {ty}) AS {}", ident(c.name), ident(c.name))
            }
        })
        .collect();
    let df = ctx
        .sql(&format!(
            "SELECT {} FROM {}",
            select.join(", "),
            ident(text_table)
        ))
        .await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let parts = df.collect_partitioned().await?;
    register_in_file_order(ctx, table.name(), schema, &parts)
}

/// Register the file with every column as text under `<name>__text` (for `TRY_CAST` type checks).
pub async fn register_as_text(
    ctx: &SessionContext,
    table: RawTable,
    path: &Path,
    names: &[String],
) -> Result<String> {
    let schema = file_schema(table, names, true);
    let name = format!("{}__text", table.name());
    let options = CsvReadOptions::new().has_header(true).schema(&schema);
    ctx.register_csv(name.as_str(), path_str(path)?, options)
        .await?;
    Ok(name)
}

/// The `application` view: train ∪ test, TARGET NULL for test rows, IS_TRAIN marking the source.
pub fn application_view_sql() -> String {
    let columns = RawTable::ApplicationTrain.columns();
    let train: Vec<String> = columns.iter().map(|c| ident(c.name)).collect();
    let test: Vec<String> = columns
        .iter()
        .map(|c| match c.name {
            "TARGET" => "CAST(NULL AS BIGINT) AS \"TARGET\"".to_string(),
            name => ident(name),
        })
        .collect();
    format!(
        "SELECT {}, TRUE AS \"IS_TRAIN\" FROM application_train \
         UNION ALL SELECT {}, FALSE AS \"IS_TRAIN\" FROM application_test",
        train.join(", "),
        test.join(", ")
    )
}

/// Create (or replace) the `application` view over the registered train and test tables.
pub async fn register_application_view(ctx: &SessionContext) -> Result<()> {
    let view = ctx.sql(&application_view_sql()).await?.into_view();
    ctx.deregister_table("application")?;
    ctx.register_table("application", view)?;
    Ok(())
}

/// sha256 of a raw file, remembered next to the cache by (size, modification time) so that a warm
/// build does not hash gigabytes it has already hashed (see [`HashMemo`]).
pub fn file_sha256(path: &Path, memo_dir: Option<&Path>) -> Result<String> {
    let stamp = HashStamp::take(path)?;
    let memo_file = memo_dir.map(|d| stamp.memo_file(d));
    if let Some(file) = &memo_file
        && let Ok(text) = std::fs::read_to_string(file)
        && let Ok(memo) = serde_json::from_str::<Memo>(&text)
        && memo.path == stamp.0.path
        && memo.file.describes(&stamp.0.file)
    {
        return Ok(memo.file.sha256);
    }
    let sha256 = creditrisk_base::io::sha256_file(path)?;
    if let Some(file) = &memo_file {
        // The memo is an optimisation: failing to write it must not fail the build.
        let _ = creditrisk_base::io::write_json(file, &stamp.with(&sha256));
    }
    Ok(sha256)
}

/// A file's path, size and modification time, taken just before it is hashed.
pub struct HashStamp(Memo);

impl HashStamp {
    pub fn take(path: &Path) -> Result<HashStamp> {
        let not_found = || Error::io(path, std::io::ErrorKind::NotFound.into());
        let file = HashMemo::stamp(path)?.ok_or_else(not_found)?;
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(HashStamp(Memo {
            path: abs.display().to_string(),
            file,
        }))
    }

    fn memo_file(&self, memo_dir: &Path) -> PathBuf {
        memo_dir.join(RawCacheName::sha_memo(Path::new(&self.0.path)))
    }

    fn with(&self, sha256: &str) -> Memo {
        Memo {
            path: self.0.path.clone(),
            file: self.0.file.with(sha256),
        }
    }
}

/// Remember `sha256`, hashed from the file `stamp` was taken of, for [`file_sha256`]: `ingest`
/// has just hashed the file, and the store build would otherwise hash the same gigabytes again.
/// Nothing is remembered when the file changed since the stamp. Best effort: a memo that cannot
/// be written only costs that second hash.
pub fn remember_sha256(stamp: &HashStamp, sha256: &str, memo_dir: &Path) {
    let unchanged = HashStamp::take(Path::new(&stamp.0.path))
        .is_ok_and(|now| now.0.file.same_file(&stamp.0.file));
    if unchanged {
        let _ = creditrisk_base::io::write_json(&stamp.memo_file(memo_dir), &stamp.with(sha256));
    }
}

/// A raw file's memo: its absolute path, and its hash with the stamp it was taken of.
#[derive(Serialize, Deserialize)]
struct Memo {
    path: String,
    // Nested, not flattened: serde's flatten cannot carry the u128 timestamps.
    file: HashMemo,
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::input(format!("{}: path is not valid UTF-8", path.display())))
}

/// The Arrow parse error inside an engine error, if that is what it is.
fn parse_error(e: &DataFusionError) -> Option<String> {
    let text = e.to_string();
    text.contains("Error while parsing value").then_some(text)
}

/// "file: column X: value 'abc' at line N is not a DOUBLE" from Arrow's parse error text.
fn describe_parse_error(table: RawTable, path: &Path, names: &[String], detail: &str) -> String {
    let value = between(detail, "parsing value '", "' as type").unwrap_or("?");
    let column = between(detail, "for column ", " at line")
        .and_then(|i| i.trim().parse::<usize>().ok())
        .and_then(|i| names.get(i))
        .map(String::as_str)
        .unwrap_or("?");
    let expected = table
        .column(column)
        .map(|c| sql_type(&c.kind.arrow_type()))
        .unwrap_or("the catalog type");
    format!(
        "{}: column {column}: value '{value}' does not parse as {expected} \
         (the type contract lists every offending row)",
        path.display()
    )
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(&text[from..to])
}

#[cfg(test)]
mod tests {
    use super::{HashStamp, file_sha256, remember_sha256};

    #[test]
    fn a_remembered_sha256_stands_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bureau.csv");
        let memo = dir.path().join("memo");
        std::fs::write(&file, "SK_ID_CURR\n1\n").unwrap();
        // Hashed within the clock tick of its last write: not trusted ("racily clean").
        remember_sha256(&HashStamp::take(&file).unwrap(), "remembered", &memo);
        assert_ne!(file_sha256(&file, Some(&memo)).unwrap(), "remembered");
        std::thread::sleep(std::time::Duration::from_millis(30));
        // A made-up hash shows that the memo is read instead of the file being hashed again.
        remember_sha256(&HashStamp::take(&file).unwrap(), "remembered", &memo);
        assert_eq!(file_sha256(&file, Some(&memo)).unwrap(), "remembered");
        // A stamp taken before the file changed is not remembered.
        let stamp = HashStamp::take(&file).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(&file, "SK_ID_CURR\n3\n").unwrap();
        remember_sha256(&stamp, "stale", &memo);
        let memos = std::fs::read_dir(&memo).unwrap().flatten();
        let texts: Vec<String> = memos
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        assert!(texts.iter().all(|t| !t.contains("stale")), "{texts:?}");
        std::fs::write(&file, "SK_ID_CURR\n12\n").unwrap();
        let real = creditrisk_base::io::sha256_file(&file).unwrap();
        assert_eq!(file_sha256(&file, Some(&memo)).unwrap(), real);
        assert_eq!(file_sha256(&file, Some(&memo)).unwrap(), real);
    }
}
