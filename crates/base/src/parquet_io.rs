//! The one Parquet reader and writer of the crate (through DataFusion's arrow and parquet
//! re-exports, so the crate links one arrow version). Every Parquet artifact — raw cache, feature
//! store, splits, predictions, the synthetic truth file — goes through [`write_parquet`], so all are
//! written atomically and with fixed writer properties (the same batches give the same bytes).

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::{BatchCoalescer, concat_batches};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Writer settings, one per kind of artifact.
#[derive(Clone, Copy, Debug)]
pub struct ParquetOptions {
    pub compression: Compression,
    pub row_group_rows: usize,
    /// Dictionary-encode numeric columns too. Text columns always are (few distinct values);
    /// for amounts and ratios with many distinct values the dictionary only costs time to build
    /// (it overflows and falls back to plain pages anyway).
    pub numeric_dictionary: bool,
    /// Page and column-chunk statistics (MIN, MAX, NULL count) in the file.
    pub statistics: bool,
}

impl ParquetOptions {
    /// Splits, predictions, truth: Snappy keeps writes fast; moderate row groups.
    pub const ARTIFACT: ParquetOptions = ParquetOptions {
        compression: Compression::SNAPPY,
        row_group_rows: 262_144,
        numeric_dictionary: true,
        statistics: true,
    };
    /// The feature store: read whole by split-data and serving, so large row groups.
    pub const STORE: ParquetOptions = ParquetOptions {
        compression: Compression::SNAPPY,
        row_group_rows: 1 << 20,
        numeric_dictionary: false,
        statistics: true,
    };
    /// The typed raw cache: LZ4 decodes fastest, and the cache is read on every warm build.
    pub const RAW_CACHE: ParquetOptions = ParquetOptions {
        compression: Compression::LZ4_RAW,
        row_group_rows: 1 << 20,
        // Measured at full scale: plain numeric pages cost the warm build ~0.3 CPU-s (2 %) and
        // save the fill ~3 CPU-s. Every new extract is a fill; a warm build reruns the same one.
        numeric_dictionary: false,
        // The contracts read the bounds the parse measured, recorded in the copy's footer
        // (`raw::TableFacts`), so statistics would only be computed to be ignored: at full scale
        // they cost the fill 1.1-1.6 CPU-s (~0.7 s of its wall time).
        statistics: false,
    };
}

/// Read a whole Parquet file into one batch. `hint` tells the user how to produce a missing file.
pub fn read_parquet(path: &Path, hint: &str) -> Result<RecordBatch> {
    if !path.is_file() {
        return Err(Error::input(format!(
            "{}: file not found; {hint}",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let unreadable = |e| Error::parquet(path, e);
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(65_536)
        .build()
        .map_err(unreadable)?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.into()))?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Write `batches` (all of `schema`) to `path` atomically (temp file + rename).
pub fn write_parquet<'a>(
    path: &Path,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = &'a RecordBatch>,
    options: ParquetOptions,
) -> Result<()> {
    let mut sink = ParquetSink::create(path, schema, options)?;
    for batch in batches {
        sink.write(batch)?;
    }
    sink.finish()?.persist()
}

/// A Parquet file written batch by batch into a temp file beside `path`: nothing appears at
/// `path` until [`Finished::persist`], so a failed or abandoned write leaves no partial file.
/// Rows are re-cut into batches of a fixed size first: the writer's page boundaries follow its
/// input batches, so the same rows then give the same bytes however an engine happened to
/// batch them. Each batch's columns are encoded in parallel (one column writer per column, on
/// rayon's pool): the bytes are those of a sequential `ArrowWriter` fed the same batches, and the
/// feature store's 140 columns no longer encode on one core at the end of the build.
pub struct ParquetSink {
    path: PathBuf,
    file: SerializedFileWriter<NamedTempFile>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers and its row count so far.
    columns: Vec<ArrowColumnWriter>,
    group_rows: usize,
    row_group_rows: usize,
    rows: BatchCoalescer,
}

/// Rows per batch handed to the Parquet writer.
const WRITE_BATCH_ROWS: usize = 8192;

impl ParquetSink {
    pub fn create(path: &Path, schema: &SchemaRef, options: ParquetOptions) -> Result<ParquetSink> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        // "<name>.<random>.partial": never mistaken for a finished file, nor hidden from readers.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        // ArrowWriter sets up the file as usual (Arrow schema in the footer); its lower-level
        // parts then take per-column batches.
        let writer = ArrowWriter::try_new(tmp, schema.clone(), Some(properties(schema, options)))?;
        let (file, factory) = writer.into_serialized_writer()?;
        let columns = factory.create_column_writers(0)?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            file,
            factory,
            schema: schema.clone(),
            columns,
            group_rows: 0,
            row_group_rows: options.row_group_rows,
            rows: BatchCoalescer::new(schema.clone(), WRITE_BATCH_ROWS),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        // Every batch goes through the coalescer, even one of exactly the write size: a slice of
        // a larger batch is encoded into other pages than the same rows copied out (the store's
        // bytes would then depend on where the engine cut its batches).
        self.rows.push_batch(batch.clone())?;
        while let Some(batch) = self.rows.next_completed_batch() {
            self.write_rows(&batch)?;
        }
        Ok(())
    }

    /// Encode one write batch, split where a row group fills up (as ArrowWriter does).
    fn write_rows(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.row_group_rows - self.group_rows).min(batch.num_rows() - offset);
            self.encode(&batch.slice(offset, take))?;
            offset += take;
            if self.group_rows == self.row_group_rows {
                self.close_row_group()?;
            }
        }
        Ok(())
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut leaves = vec![];
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        self.columns
            .par_iter_mut()
            .zip(leaves)
            .try_for_each(|(writer, leaf)| writer.write(&leaf))?;
        self.group_rows += batch.num_rows();
        Ok(())
    }

    fn close_row_group(&mut self) -> Result<()> {
        let index = self.file.flushed_row_groups().len();
        let next = self.factory.create_column_writers(index + 1)?;
        let chunks = std::mem::replace(&mut self.columns, next)
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.group_rows = 0;
        Ok(())
    }

    /// A key-value pair for the file's footer.
    pub fn annotate(&mut self, key: &str, value: String) {
        self.file
            .append_key_value_metadata(KeyValue::new(key.to_string(), value));
    }

    /// Close the file (footer written, data synced); it is still only at [`Finished::temp_path`].
    pub fn finish(mut self) -> Result<Finished> {
        self.rows.finish_buffered_batch()?;
        while let Some(batch) = self.rows.next_completed_batch() {
            self.write_rows(&batch)?;
        }
        if self.group_rows > 0 {
            self.close_row_group()?;
        }
        let tmp = self.file.into_inner()?;
        crate::io::set_readable(tmp.as_file(), &self.path)?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Finished {
            path: self.path,
            tmp,
        })
    }
}

/// A complete Parquet file waiting to be renamed into place (dropped: removed).
pub struct Finished {
    path: PathBuf,
    tmp: NamedTempFile,
}

impl Finished {
    /// Where the complete file can be read before it is published.
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn persist(self) -> Result<()> {
        self.tmp
            .persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        Ok(())
    }
}

/// The values of footer key-value pairs, one per key (None when absent or unreadable); the
/// footer is read once.
pub fn footer_values<const N: usize>(path: &Path, keys: [&str; N]) -> [Option<String>; N] {
    let file = std::fs::File::open(path).ok();
    let reader = file.and_then(|f| SerializedFileReader::new(f).ok());
    let pairs = reader
        .as_ref()
        .and_then(|r| r.metadata().file_metadata().key_value_metadata().cloned())
        .unwrap_or_default();
    keys.map(|key| {
        pairs
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone())
    })
}

/// Fixed writer properties (the same batches give the same bytes).
fn properties(schema: &SchemaRef, options: ParquetOptions) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(options.compression)
        .set_max_row_group_row_count(Some(options.row_group_rows));
    if !options.statistics {
        props = props.set_statistics_enabled(EnabledStatistics::None);
    }
    if !options.numeric_dictionary {
        for field in schema.fields() {
            if field.data_type().is_numeric() {
                let column = ColumnPath::from(field.name().as_str());
                props = props.set_column_dictionary_enabled(column, false);
            }
        }
    }
    props.build()
}

/// Write one batch with the artifact settings.
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<()> {
    write_parquet(path, &batch.schema(), [batch], ParquetOptions::ARTIFACT)
}
