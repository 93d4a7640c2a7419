//! Output files: the eight CSVs, streamed chunk by chunk into temporary files that are renamed
//! into place only when complete, and the truth file (Parquet).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use tempfile::NamedTempFile;

use super::out::{ChunkOut, Truth};
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};

struct Output {
    table: RawTable,
    path: PathBuf,
    file: BufWriter<NamedTempFile>,
    rows: u64,
    bytes: u64,
}

/// One written file.
#[derive(Clone, Debug, Serialize)]
pub struct SynthFile {
    /// Raw table name (`application_train`, …) or `synth_truth` for the truth file.
    pub table: String,
    pub path: PathBuf,
    /// Data rows (header excluded).
    pub rows: u64,
    pub bytes: u64,
}

/// The eight CSV files being written.
pub struct CsvFiles {
    outputs: Vec<Output>,
}

impl CsvFiles {
    /// Creates `raw_dir` and a temporary file with the Kaggle header for every table.
    pub fn create(raw_dir: &Path) -> Result<CsvFiles> {
        std::fs::create_dir_all(raw_dir).map_err(|e| {
            Error::input(format!(
                "cannot create output folder {}: {e}",
                raw_dir.display()
            ))
        })?;
        let mut outputs = Vec::with_capacity(8);
        for table in RawTable::ALL {
            let path = raw_dir.join(table.file_name());
            let tmp = NamedTempFile::new_in(raw_dir).map_err(|e| Error::io(raw_dir, e))?;
            let mut file = BufWriter::with_capacity(1 << 20, tmp);
            let header = table.header_line();
            file.write_all(header.as_bytes())
                .and_then(|_| file.write_all(b"\n"))
                .map_err(|e| Error::io(&path, e))?;
            outputs.push(Output {
                table,
                path,
                file,
                rows: 0,
                bytes: header.len() as u64 + 1,
            });
        }
        Ok(CsvFiles { outputs })
    }

    /// Appends one chunk (tables in `RawTable::ALL` order).
    pub fn append(&mut self, chunk: &ChunkOut) -> Result<()> {
        for (out, part) in self.outputs.iter_mut().zip(&chunk.tables) {
            out.file
                .write_all(&part.bytes)
                .map_err(|e| Error::io(&out.path, e))?;
            out.rows += part.rows;
            out.bytes += part.bytes.len() as u64;
        }
        Ok(())
    }

    /// Flushes, syncs (all files at once, so the disk works on them in parallel) and renames
    /// every file into place.
    pub fn finish(self) -> Result<Vec<SynthFile>> {
        let mut ready = Vec::with_capacity(self.outputs.len());
        for out in self.outputs {
            let tmp = out
                .file
                .into_inner()
                .map_err(|e| Error::io(&out.path, e.into_error()))?;
            ready.push((out.table, out.path, tmp, out.rows, out.bytes));
        }
        std::thread::scope(|s| {
            let syncs: Vec<_> = ready
                .iter()
                .map(|(_, path, tmp, _, _)| {
                    s.spawn(move || tmp.as_file().sync_data().map_err(|e| Error::io(path, e)))
                })
                .collect();
            syncs.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| Error::input("synth: a file sync thread failed"))?
            })
        })?;
        let mut files = Vec::with_capacity(ready.len());
        for (table, path, tmp, rows, bytes) in ready {
            tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
            files.push(SynthFile {
                table: table.name().to_string(),
                path,
                rows,
                bytes,
            });
        }
        Ok(files)
    }
}

/// Writes the truth file atomically: SK_ID_CURR, TRUE_PD, TARGET (null for test applicants),
/// TARGET_DRAWN (the outcome drawn for every applicant) and IS_TRAIN.
pub fn write_truth(path: &Path, truth: &[Truth]) -> Result<SynthFile> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("SK_ID_CURR", DataType::Int64, false),
        Field::new("TRUE_PD", DataType::Float64, false),
        Field::new("TARGET", DataType::Int64, true),
        Field::new("TARGET_DRAWN", DataType::Int64, false),
        Field::new("IS_TRAIN", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            truth.iter().map(|t| t.sk_id_curr),
        )),
        Arc::new(Float64Array::from_iter_values(truth.iter().map(|t| t.pd))),
        Arc::new(Int64Array::from_iter(
            truth.iter().map(|t| t.is_train.then_some(t.target as i64)),
        )),
        Arc::new(Int64Array::from_iter_values(
            truth.iter().map(|t| t.target as i64),
        )),
        Arc::new(BooleanArray::from_iter(
            truth.iter().map(|t| Some(t.is_train)),
        )),
    ];
    let batch = RecordBatch::try_new(schema, columns)?;
    creditrisk_base::parquet_io::write_batch(path, &batch)?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    Ok(SynthFile {
        table: "synth_truth".to_string(),
        path: path.to_path_buf(),
        rows: truth.len() as u64,
        bytes,
    })
}
