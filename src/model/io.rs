//! Parquet in and out for the split, train and evaluate stages (through DataFusion's arrow and
//! parquet re-exports, so the crate links one arrow version).

use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Read a whole Parquet file into one batch. `hint` tells the user how to produce a missing file.
pub fn read_parquet(path: &Path, hint: &str) -> Result<RecordBatch> {
    if !path.is_file() {
        return Err(Error::Input(format!(
            "{}: file not found; {hint}",
            path.display()
        )));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let named = |e: &dyn std::fmt::Display| {
        Error::Input(format!(
            "{}: not a readable Parquet file: {e}",
            path.display()
        ))
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| named(&e))?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(65_536)
        .build()
        .map_err(|e| named(&e))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| named(&e))?;
    Ok(concat_batches(&schema, &batches)?)
}

/// Write `batch` to `path` atomically (temp file + rename). Snappy keeps writes fast; the
/// writer properties are fixed so the same batch always gives the same bytes.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(262_144))
        .build();
    let mut failure: Option<Error> = None;
    crate::artifact::write_atomic_with(path, |file| {
        let run = || -> Result<()> {
            let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
            writer.write(batch)?;
            writer.close()?;
            Ok(())
        };
        run().map_err(|e| {
            let msg = e.to_string();
            failure = Some(e);
            std::io::Error::other(msg)
        })
    })
    .map_err(|e| failure.take().unwrap_or(e))
}
