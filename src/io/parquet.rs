//! The one Parquet reader and writer of the crate (through DataFusion's arrow and parquet
//! re-exports, so the crate links one arrow version). Every Parquet artifact — raw cache, feature
//! store, splits, predictions, the synthetic truth file — goes through [`write_parquet`], so all are
//! written atomically and with fixed writer properties (the same batches give the same bytes).

use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Writer settings, one per kind of artifact.
#[derive(Clone, Copy, Debug)]
pub struct ParquetOptions {
    pub compression: Compression,
    pub row_group_rows: usize,
}

impl ParquetOptions {
    /// Splits, predictions, truth: Snappy keeps writes fast; moderate row groups.
    pub const ARTIFACT: ParquetOptions = ParquetOptions {
        compression: Compression::SNAPPY,
        row_group_rows: 262_144,
    };
    /// The feature store: read whole by split-data and serving, so large row groups.
    pub const STORE: ParquetOptions = ParquetOptions {
        compression: Compression::SNAPPY,
        row_group_rows: 1 << 20,
    };
    /// The typed raw cache: LZ4 decodes fastest, and the cache is read on every warm build.
    pub const RAW_CACHE: ParquetOptions = ParquetOptions {
        compression: Compression::LZ4_RAW,
        row_group_rows: 1 << 20,
    };
}

/// Read a whole Parquet file into one batch. `hint` tells the user how to produce a missing file.
pub fn read_parquet(path: &Path, hint: &str) -> Result<RecordBatch> {
    if !path.is_file() {
        return Err(Error::Input(format!(
            "{}: file not found; {hint}",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let unreadable = |source| Error::Parquet {
        path: path.display().to_string(),
        source,
    };
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
    let props = WriterProperties::builder()
        .set_compression(options.compression)
        .set_max_row_group_row_count(Some(options.row_group_rows))
        .build();
    let mut failure: Option<Error> = None;
    super::write_atomic_with(path, |file| {
        let result = (|| -> Result<()> {
            let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.close()?;
            Ok(())
        })();
        result.map_err(|e| {
            let msg = e.to_string();
            failure = Some(e);
            std::io::Error::other(msg)
        })
    })
    .map_err(|e| failure.take().unwrap_or(e))
}

/// Write one batch with the artifact settings.
pub fn write_batch(path: &Path, batch: &RecordBatch) -> Result<()> {
    write_parquet(path, &batch.schema(), [batch], ParquetOptions::ARTIFACT)
}
