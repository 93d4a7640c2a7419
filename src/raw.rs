//! Raw reading: the eight Kaggle CSVs into the SQL engine, typed by the catalog (never inferred).
//!
//! Each table is read once into memory (a `MemTable` under its catalog name), so the contracts and
//! the feature SQL scan memory instead of parsing the CSV twice. A file whose header matches the
//! catalog is parsed by [`crate::io::csv`] (the same arrays in half the CPU time); DataFusion's
//! CSV reader takes every file that reader declines, and reports the value that does not parse.
//! An optional typed Parquet cache, keyed by the CSV's sha256, lets later builds skip CSV parsing
//! altogether.
//!
//! The file's own header decides which columns are read: the catalog's header is only assumed when
//! it matches, so a missing, extra or reordered column is reported (contract `present`) instead of
//! silently shifting every value one column to the left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::SortExpr;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};

use crate::catalog::RawTable;
use crate::error::{Error, Result};
use crate::io::{ParquetOptions, ParquetSink};
use crate::layout::RawCacheName;

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
        Error::Input(format!(
            "{}: cannot read the header line: {e}",
            path.display()
        ))
    })?;
    if !found {
        return Err(Error::Input(format!(
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
    /// records `facts` (those of `parts`), which let the contracts take a column's bounds from
    /// the Parquet statistics alone.
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
        facts.annotate(&mut sink);
        sink.finish()?.persist()?;
        for old in self.copies(table).into_iter().filter(|p| *p != file) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }
}

/// Footer keys of a cached copy: float columns without NaN, and without -0.0, comma-separated.
const NAN_FREE_KEY: &str = "creditrisk.nan_free_columns";
const NO_NEGATIVE_ZERO_KEY: &str = "creditrisk.no_negative_zero_columns";

/// What is known of a table beyond its rows in the engine. Parquet statistics leave NaN out of
/// MIN and MAX and write a zero MIN as -0.0 whatever the zero's sign (Parquet's rule); the
/// contracts compare in total order (-0.0 < 0.0), so without the float facts a column of
/// non-negative values whose minimum is 0 could not be proved `>= 0` from statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableFacts {
    /// Float columns in which no (non-NULL) value is NaN.
    pub nan_free: Vec<String>,
    /// Float columns in which no value is -0.0.
    pub no_negative_zero: Vec<String>,
    /// The typed Parquet copy the table was registered from (None: rows parsed into memory):
    /// its dictionary-encoded text columns let domain checks skip decoding every string.
    pub copy: Option<PathBuf>,
    /// Exact measures of rows parsed into memory, taken as they were parsed (None for a cached
    /// copy, whose Parquet statistics answer the same questions): the contracts' first pass reads
    /// them instead of scanning the table again.
    pub measured: Option<Measured>,
}

/// Row count and per-column measures of a table in memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    pub rows: u64,
    pub columns: BTreeMap<String, ColumnMeasure>,
}

/// What the contracts' first pass asks of one column, as SQL's aggregates would answer it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColumnMeasure {
    pub nulls: u64,
    /// MIN and MAX of the non-NULL values of a numeric column in total order (-0.0 < 0.0),
    /// None when there is none. Both are NaN when any value is NaN, so that no bound is proved.
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl ColumnMeasure {
    /// The measure of two parts of one column.
    fn both(self, other: ColumnMeasure) -> ColumnMeasure {
        let pick = |a: Option<f64>, b: Option<f64>, first: std::cmp::Ordering| match (a, b) {
            (Some(a), Some(b)) if a.is_nan() || b.is_nan() => Some(f64::NAN),
            (Some(a), Some(b)) => Some(if a.total_cmp(&b) == first { a } else { b }),
            (a, b) => a.or(b),
        };
        ColumnMeasure {
            nulls: self.nulls + other.nulls,
            min: pick(self.min, other.min, std::cmp::Ordering::Less),
            max: pick(self.max, other.max, std::cmp::Ordering::Greater),
        }
    }
}

impl TableFacts {
    /// The facts of `batches` (all of one table, with `schema`), with their measures.
    pub fn of<'a>(schema: &SchemaRef, batches: impl Iterator<Item = &'a RecordBatch>) -> Self {
        use datafusion::arrow::array::{Array, AsArray};
        use datafusion::arrow::datatypes::{Float64Type, Int64Type};
        let width = schema.fields().len();
        let mut nan = vec![false; width];
        let mut negative_zero = vec![false; width];
        let mut measures = vec![ColumnMeasure::default(); width];
        let mut rows = 0;
        for batch in batches {
            rows += batch.num_rows() as u64;
            for (i, column) in batch.columns().iter().enumerate() {
                let mut part = ColumnMeasure {
                    nulls: column.null_count() as u64,
                    ..Default::default()
                };
                match column.data_type() {
                    DataType::Float64 => {
                        let values = column.as_primitive::<Float64Type>();
                        let scan = if values.null_count() == 0 {
                            FloatScan::of(values.values())
                        } else {
                            // NULL slots hold arbitrary values: count the valid ones only.
                            let valid: Vec<f64> = values.iter().flatten().collect();
                            FloatScan::of(&valid)
                        };
                        nan[i] |= scan.nan;
                        negative_zero[i] |= scan.negative_zero;
                        (part.min, part.max) = scan.bounds();
                    }
                    DataType::Int64 => {
                        let values = column.as_primitive::<Int64Type>();
                        (part.min, part.max) = if values.null_count() == 0 {
                            int_bounds(values.values())
                        } else {
                            let valid: Vec<i64> = values.iter().flatten().collect();
                            int_bounds(&valid)
                        };
                    }
                    _ => {}
                }
                measures[i] = measures[i].both(part);
            }
        }
        let floats = |flags: &[bool]| -> Vec<String> {
            (0..width)
                .filter(|i| schema.field(*i).data_type() == &DataType::Float64 && !flags[*i])
                .map(|i| schema.field(i).name().clone())
                .collect()
        };
        let columns = (0..width)
            .map(|i| (schema.field(i).name().clone(), measures[i]))
            .collect();
        TableFacts {
            nan_free: floats(&nan),
            no_negative_zero: floats(&negative_zero),
            copy: None,
            measured: Some(Measured { rows, columns }),
        }
    }

    /// What holds in both parts of one table.
    pub fn both(mut self, other: &TableFacts) -> Self {
        self.nan_free.retain(|c| other.nan_free.contains(c));
        self.no_negative_zero
            .retain(|c| other.no_negative_zero.contains(c));
        self.measured = match (self.measured, &other.measured) {
            (Some(mut a), Some(b)) => {
                a.rows += b.rows;
                for (name, m) in &b.columns {
                    let merged = a.columns.get(name).map(|x| x.both(*m));
                    a.columns.insert(name.clone(), merged.unwrap_or(*m));
                }
                Some(a)
            }
            _ => None,
        };
        self
    }

    /// The facts a Parquet file's footer records (none when it records nothing), with the file.
    pub fn recorded_in(file: &Path) -> Self {
        let [nan_free, no_negative_zero] =
            crate::io::footer_values(file, [NAN_FREE_KEY, NO_NEGATIVE_ZERO_KEY]).map(|list| {
                list.map(|list| {
                    list.split(',')
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
            });
        TableFacts {
            nan_free,
            no_negative_zero,
            copy: Some(file.to_path_buf()),
            measured: None,
        }
    }

    /// Record these facts in the footer of a Parquet file being written.
    pub fn annotate(&self, sink: &mut ParquetSink) {
        sink.annotate(NAN_FREE_KEY, self.nan_free.join(","));
        sink.annotate(NO_NEGATIVE_ZERO_KEY, self.no_negative_zero.join(","));
    }
}

/// Lanes of the scans below: independent accumulators the compiler keeps in vector registers.
const LANES: usize = 8;

/// One pass over a float column's values.
struct FloatScan {
    nan: bool,
    negative_zero: bool,
    /// Extremes of the non-NaN values (±inf when there are none).
    min: f64,
    max: f64,
}

impl FloatScan {
    fn of(values: &[f64]) -> FloatScan {
        const NEGATIVE_ZERO: u64 = 1 << 63;
        let (mut min, mut max) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let (mut nan, mut zero) = ([false; LANES], [false; LANES]);
        let chunks = values.chunks_exact(LANES);
        let rest = chunks.remainder();
        let mut step = |lane: usize, v: f64| {
            // NaN compares false both ways, so it never becomes an extreme.
            min[lane] = if v < min[lane] { v } else { min[lane] };
            max[lane] = if v > max[lane] { v } else { max[lane] };
            nan[lane] |= v.is_nan();
            zero[lane] |= v.to_bits() == NEGATIVE_ZERO;
        };
        for chunk in chunks {
            for (lane, v) in chunk.iter().enumerate() {
                step(lane, *v);
            }
        }
        for (lane, v) in rest.iter().enumerate() {
            step(lane, *v);
        }
        FloatScan {
            nan: nan.iter().any(|x| *x),
            negative_zero: zero.iter().any(|x| *x),
            min: min.iter().fold(f64::INFINITY, |a, b| a.min(*b)),
            max: max.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b)),
        }
    }

    /// MIN and MAX as [`ColumnMeasure`] holds them (total order; NaN when NaN is present).
    fn bounds(&self) -> (Option<f64>, Option<f64>) {
        if self.nan {
            return (Some(f64::NAN), Some(f64::NAN));
        }
        if self.min > self.max {
            return (None, None); // no value
        }
        // A zero extreme of either sign, widened: -0.0 < 0.0 in total order.
        let min = if self.min == 0.0 && self.negative_zero {
            -0.0
        } else {
            self.min
        };
        let max = if self.max == 0.0 { 0.0 } else { self.max };
        (Some(min), Some(max))
    }
}

/// MIN and MAX of integer values, as f64 (as the engine casts them), None when there are none.
fn int_bounds(values: &[i64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let (mut min, mut max) = ([i64::MAX; LANES], [i64::MIN; LANES]);
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    let mut step = |lane: usize, v: i64| {
        min[lane] = min[lane].min(v);
        max[lane] = max[lane].max(v);
    };
    for chunk in chunks {
        for (lane, v) in chunk.iter().enumerate() {
            step(lane, *v);
        }
    }
    for (lane, v) in rest.iter().enumerate() {
        step(lane, *v);
    }
    let min = min.iter().min().copied().unwrap_or(i64::MAX);
    let max = max.iter().max().copied().unwrap_or(i64::MIN);
    (Some(min as f64), Some(max as f64))
}

/// A cached copy registered in place of its CSV.
pub struct CachedCopy {
    /// What the copy records of its columns, and its path.
    pub facts: TableFacts,
}

/// Register a cached Parquet copy under the table's name, scanned in place (Parquet is columnar
/// and cheap to decode, so the checks and the SQL each read only what they need, and memory stays
/// low). None when the file is not a readable copy with the catalog's columns.
pub async fn register_parquet(
    ctx: &SessionContext,
    table: RawTable,
    file: &Path,
) -> Result<Option<CachedCopy>> {
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
    Ok(Some(CachedCopy {
        facts: TableFacts::recorded_in(file),
    }))
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

/// Parse a local `path` with `schema` by [`crate::io::csv`], cut into byte ranges as `ctx` cuts
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
        crate::io::csv::read_typed(&file, &schema, partitions, min_bytes)
    })
    .await
    .map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?
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

/// Register the in-memory batches as `name`; returns the row count.
pub fn register_batches(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
) -> Result<u64> {
    // A distributed engine cannot be sent in-memory tables: file-backed there (crate::storage).
    if let Some(files) = crate::storage::file_tables(ctx) {
        return files.register(ctx, name, schema, &parts);
    }
    let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
    let parts = if parts.is_empty() {
        vec![vec![]]
    } else {
        parts
    };
    let table = MemTable::try_new(schema, parts)?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(rows)
}

/// Register in-memory batches as `name`, declaring that they are sorted by `order` (empty: no
/// order) so that plans over them can rely on it; returns the row count.
pub fn register_sorted(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
    order: Vec<SortExpr>,
) -> Result<u64> {
    if order.is_empty() || parts.is_empty() || crate::storage::file_tables(ctx).is_some() {
        return register_batches(ctx, name, schema, parts);
    }
    let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
    let table = MemTable::try_new(schema, parts)?.with_sort_order(vec![order]);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(rows)
}

/// A raw table read in several partitions (byte ranges, in order) as one partition in file order
/// (see [`feature_session`]).
fn register_in_file_order(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: &[Vec<RecordBatch>],
) -> Result<u64> {
    let rows: Vec<RecordBatch> = parts.iter().flatten().cloned().collect();
    register_batches(ctx, name, schema, vec![rows])
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
/// build does not hash gigabytes it has already hashed (the same trick as git's index).
pub fn file_sha256(path: &Path, memo_dir: Option<&Path>) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let key = Memo {
        path: abs.display().to_string(),
        bytes: meta.len(),
        modified_ns: modified,
        sha256: String::new(),
    };
    let memo_file = memo_dir.map(|d| d.join(RawCacheName::sha_memo(&abs)));
    if let Some(file) = &memo_file
        && let Ok(text) = std::fs::read_to_string(file)
        && let Ok(memo) = serde_json::from_str::<Memo>(&text)
        && memo.path == key.path
        && memo.bytes == key.bytes
        && memo.modified_ns == key.modified_ns
        && modified != 0
    {
        return Ok(memo.sha256);
    }
    let sha256 = crate::io::sha256_file(path)?;
    if let Some(file) = &memo_file {
        let memo = Memo {
            sha256: sha256.clone(),
            ..key
        };
        // The memo is an optimisation: failing to write it must not fail the build.
        let _ = crate::io::write_json(file, &memo);
    }
    Ok(sha256)
}

#[derive(Serialize, Deserialize)]
struct Memo {
    path: String,
    bytes: u64,
    modified_ns: u128,
    sha256: String,
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::Input(format!("{}: path is not valid UTF-8", path.display())))
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
    use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};

    use super::*;

    /// The measures the contracts read instead of a scan agree with the engine's MIN, MAX and
    /// NULL counts over the same rows (split over batches, with NULLs, -0.0, infinities), and
    /// are NaN — proving no bound — where a value is NaN.
    #[tokio::test]
    async fn measures_agree_with_the_engines_aggregates() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("z", DataType::Float64, true),
            Field::new("n", DataType::Float64, true),
            Field::new("e", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let f = |v: Vec<Option<f64>>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let batch = |cols: Vec<ArrayRef>| RecordBatch::try_new(schema.clone(), cols).unwrap();
        let first = batch(vec![
            f(vec![Some(1.5), Some(-0.0), None, Some(f64::INFINITY)]),
            f(vec![Some(0.0), Some(-0.0), Some(0.0), Some(2.0)]),
            f(vec![Some(f64::NAN), Some(1.0), None, Some(-4.0)]),
            f(vec![None, None, None, None]),
            Arc::new(Int64Array::from(vec![Some(5), None, Some(-2), Some(9)])),
            Arc::new(StringArray::from(vec![Some("a"), None, None, Some("b")])),
        ]);
        let second = batch(vec![
            f((0..20).map(|k| Some(-3.25 + k as f64)).collect()),
            f((0..20).map(|k| Some(k as f64)).collect()),
            f((0..20).map(|_| Some(0.5)).collect()),
            f((0..20).map(|_| None).collect()),
            Arc::new(Int64Array::from_iter((0..20).map(|k| Some(k * 1000 - 7)))),
            Arc::new(StringArray::from_iter((0..20).map(|_| Some("c")))),
        ]);
        let batches = [first, second];
        let facts = TableFacts::of(&schema, batches.iter());
        let both = TableFacts::of(&schema, batches[..1].iter())
            .both(&TableFacts::of(&schema, batches[1..].iter()));
        // (NaN is not equal to itself: compared as text.)
        assert_eq!(
            format!("{:?}", facts.measured),
            format!("{:?}", both.measured)
        );
        let measured = facts.measured.unwrap();
        assert_eq!(measured.rows, 24);

        let ctx = session();
        let parts = vec![batches.to_vec()];
        register_batches(&ctx, "t", schema.clone(), parts).unwrap();
        for field in schema.fields() {
            let c = field.name();
            let m = measured.columns[c];
            let sql = format!("SELECT COUNT(*) - COUNT({c}) FROM t");
            let row = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let nulls = row[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(m.nulls, nulls.value(0) as u64, "{c}");
            if field.data_type() == &DataType::Utf8 {
                continue;
            }
            let sql = format!("SELECT CAST(MIN({c}) AS DOUBLE), CAST(MAX({c}) AS DOUBLE) FROM t");
            let row = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let value = |i: usize| {
                let a = row[0].column(i).as_any().downcast_ref::<Float64Array>();
                let a = a.unwrap();
                (!a.is_null(0)).then(|| a.value(0))
            };
            if c == "n" {
                assert!(m.min.unwrap().is_nan() && m.max.unwrap().is_nan());
                continue;
            }
            // Equal values; a zero extreme may be widened (-0.0 for MIN, 0.0 for MAX).
            assert_eq!(m.min, value(0), "{c} min");
            assert_eq!(m.max, value(1), "{c} max");
        }
        let z = measured.columns["z"];
        assert_eq!(z.min.unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(measured.columns["e"].min, None);
    }
}
