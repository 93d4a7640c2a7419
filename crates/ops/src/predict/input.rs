//! The input of `batch-predict`, read in chunks: raw application rows (CSV or Parquet) as text
//! columns for the serving contract, or ready feature rows typed as the store.
//!
//! A raw CSV is read record by record (the `csv` crate, flexible): a row whose field count differs
//! from the header's, or that is not UTF-8, is refused into the rejects file with its row number —
//! never scored, and never the end of the run.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use creditrisk_base::catalog::{FEATURES, KEY_COLUMNS};
use creditrisk_base::error::{Error, Result};
use creditrisk_model::ID_COLUMN;
use creditrisk_model::serving_contract::Violation;

/// One chunk of the input.
pub struct Chunk {
    /// Raw mode: every column as text (`Utf8`); features mode: the store types.
    pub batch: RecordBatch,
    /// The 1-based data row number of each row of `batch`.
    pub rows: Vec<u64>,
    /// Rows refused before their values could be read (raw CSV only).
    pub malformed: Vec<Violation>,
}

type Batches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, ArrowError>> + Send>;

enum Reader {
    /// A raw CSV, record by record.
    RawCsv(csv::Reader<BufReader<File>>),
    /// Arrow readers: Parquet (raw or features) and feature CSVs.
    Batches { batches: Batches, as_text: bool },
}

/// A chunked reader of the input.
pub struct Input {
    path: PathBuf,
    header: Vec<String>,
    chunk: usize,
    reader: Reader,
    next_row: u64,
}

impl Input {
    /// Open `path` (by extension: `.csv` or `.parquet`); `features`: feature-store rows.
    pub fn open(path: &Path, chunk: usize, features: bool) -> Result<Input> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let (header, reader) = match extension(path).as_str() {
            "csv" if !features => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_reader(BufReader::new(file));
                let header = reader
                    .headers()
                    .map_err(|e| Error::input_from(format!("{}: header", path.display()), e))?
                    .iter()
                    .map(str::to_string)
                    .collect();
                (header, Reader::RawCsv(reader))
            }
            "csv" => {
                let header = creditrisk_data::raw::read_header(path)?;
                let store_types: HashMap<&str, DataType> = KEY_COLUMNS
                    .iter()
                    .map(|(n, t)| (*n, t.clone()))
                    .chain(FEATURES.iter().map(|(n, t)| (*n, t.arrow_type())))
                    .collect();
                let fields: Vec<Field> = header
                    .iter()
                    .map(|name| {
                        let ty = store_types.get(name.as_str()).cloned();
                        Field::new(name, ty.unwrap_or(DataType::Utf8), true)
                    })
                    .collect();
                let reader =
                    datafusion::arrow::csv::ReaderBuilder::new(Arc::new(Schema::new(fields)))
                        .with_header(true)
                        .with_batch_size(chunk)
                        .build(BufReader::new(file))?;
                let batches = Box::new(reader) as Batches;
                (
                    header,
                    Reader::Batches {
                        batches,
                        as_text: false,
                    },
                )
            }
            "parquet" => {
                let unreadable = |e| Error::parquet(path, e);
                let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?;
                let header = builder
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                let reader = builder.with_batch_size(chunk).build().map_err(unreadable)?;
                let batches = Box::new(reader) as Batches;
                (
                    header,
                    Reader::Batches {
                        batches,
                        as_text: !features,
                    },
                )
            }
            other => {
                return Err(Error::config(format!(
                    "{}: unsupported input extension {other:?}; expected .csv or .parquet",
                    path.display()
                )));
            }
        };
        Ok(Input {
            path: path.to_path_buf(),
            header,
            chunk,
            reader,
            next_row: 1,
        })
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    fn read_csv_chunk(&mut self) -> Result<Option<Chunk>> {
        let Reader::RawCsv(reader) = &mut self.reader else {
            return Ok(None);
        };
        let width = self.header.len();
        let id_at = self.header.iter().position(|h| h == ID_COLUMN);
        let mut cells: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(self.chunk); width];
        let (mut rows, mut malformed) = (vec![], vec![]);
        let mut record = csv::ByteRecord::new();
        while rows.len() < self.chunk {
            let more = reader.read_byte_record(&mut record).map_err(|e| {
                Error::input(format!(
                    "{}: data row {}: {e}",
                    self.path.display(),
                    self.next_row
                ))
            })?;
            if !more {
                break;
            }
            let row = self.next_row;
            self.next_row += 1;
            let text: Option<Vec<&str>> =
                record.iter().map(|f| std::str::from_utf8(f).ok()).collect();
            let reason = match &text {
                None => Some("not valid UTF-8".to_string()),
                Some(t) if t.len() != width => {
                    Some(format!("{} fields where the header has {width}", t.len()))
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                let sk_id_curr = id_at
                    .and_then(|i| text.as_ref()?.get(i)?.trim().parse().ok())
                    .filter(|_| text.as_ref().is_some_and(|t| t.len() == width));
                malformed.push(Violation {
                    row,
                    sk_id_curr,
                    column: String::new(),
                    value: None,
                    reason,
                    allowed: "one UTF-8 field per header column".into(),
                });
                continue;
            }
            for (column, field) in cells.iter_mut().zip(text.unwrap_or_default()) {
                column.push((!field.is_empty()).then(|| field.to_string()));
            }
            rows.push(row);
        }
        if rows.is_empty() && malformed.is_empty() {
            return Ok(None);
        }
        let fields: Vec<Field> = self
            .header
            .iter()
            .map(|h| Field::new(h, DataType::Utf8, true))
            .collect();
        let columns: Vec<ArrayRef> = cells
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Some(Chunk {
            batch,
            rows,
            malformed,
        }))
    }
}

impl Iterator for Input {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Result<Chunk>> {
        let (batches, as_text) = match &mut self.reader {
            Reader::RawCsv(_) => return self.read_csv_chunk().transpose(),
            Reader::Batches { batches, as_text } => (batches, *as_text),
        };
        let batch = match batches.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(Error::input(format!("{}: {e}", self.path.display())))),
        };
        let first = self.next_row;
        self.next_row += batch.num_rows() as u64;
        let batch = if as_text {
            text_columns(&batch)
        } else {
            Ok(batch)
        };
        Some(batch.map(|batch| Chunk {
            batch,
            rows: (first..self.next_row).collect(),
            malformed: vec![],
        }))
    }
}

/// The lower-case extension of `path`.
pub fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Every column as text (Parquet inputs are typed; the contract checks text).
fn text_columns(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| Field::new(f.name(), DataType::Utf8, true))
        .collect();
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| cast(c, &DataType::Utf8))
        .collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
