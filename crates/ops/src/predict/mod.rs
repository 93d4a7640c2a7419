//! `batch-predict`: score a file of new applicants with a registered (or local) model bundle,
//! streaming in chunks so memory does not grow with the input.
//!
//! Per chunk: read (CSV or Parquet), check every raw value with the [`serving_contract`] (invalid
//! rows go to `<output stem>.rejects.jsonl`, one line per problem, and are never scored), compute
//! the features with the bundle's own feature SQL (`bundle.feature_sql`, never `sql/`), score them
//! with the one scoring core ([`creditrisk_model::score`]) and append the decisions to the output (Parquet,
//! CSV or JSON lines by extension; written to a temporary file and renamed into place at the end).
//! Within a chunk, output rows keep the input order, except with `--history DIR` where they come
//! in SK_ID_CURR order. Where the history features come from: see [`History`] (the feature store
//! by default, a folder of history CSVs, or ready feature rows).
//!
//! [`serving_contract`]: creditrisk_model::serving_contract

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use serde::Serialize;

use creditrisk_base::config::Config;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_data::feature_engine::FeatureEngine;
pub use creditrisk_data::feature_engine::History;
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::serving_contract::{self, Violation};
use creditrisk_model::{ID_COLUMN, ModelBundle, ScoreOptions, Scored};
use input::Chunk;
pub use input::Input;

mod input;

/// Rows read, checked, featurised and scored at a time.
pub const DEFAULT_CHUNK_ROWS: usize = 16_384;

/// Rows per row group of a Parquet output (the writer's buffer).
const OUTPUT_ROW_GROUP_ROWS: usize = 65_536;

/// What batch scoring reads from the configuration.
#[derive(Clone, Debug)]
pub struct PredictOptions {
    pub tracking: TrackingOptions,
    pub chunk_rows: usize,
}

impl PredictOptions {
    pub fn from_config(cfg: &Config) -> PredictOptions {
        PredictOptions {
            tracking: TrackingOptions::from_config(cfg),
            chunk_rows: DEFAULT_CHUNK_ROWS,
        }
    }
}

/// One `batch-predict` call.
#[derive(Clone, Debug)]
pub struct PredictRequest {
    pub model: ModelRef,
    pub input: PathBuf,
    pub output: PathBuf,
    pub threshold: Option<f64>,
    pub history: History,
}

/// What a run did.
#[derive(Clone, Debug, Serialize)]
pub struct PredictSummary {
    pub model_name: String,
    /// Registry version, or "path" for a bundle folder.
    pub model_version: String,
    pub bundle_sha256: String,
    pub rows_read: u64,
    pub rows_scored: u64,
    pub rows_rejected: u64,
    /// Lines of the rejects file (a rejected row may have several problems).
    pub problems: u64,
    pub output: PathBuf,
    pub rejects: PathBuf,
    pub seconds: f64,
}

/// `<output stem>.rejects.jsonl` next to the output.
pub fn rejects_path(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "predictions".into());
    output.with_file_name(format!("{stem}.rejects.jsonl"))
}

/// Score `request.input` into `request.output`.
pub async fn run(
    layout: &Layout,
    opts: &PredictOptions,
    request: &PredictRequest,
) -> Result<PredictSummary> {
    let started = Instant::now();
    check_threshold(request.threshold)?;
    let format = Format::of(&request.output)?;
    let (bundle, meta) = load_model(layout, opts, &request.model).await?;
    let features_mode = request.history == History::Features;
    let input = Input::open(&request.input, opts.chunk_rows.max(1), features_mode)?;
    let engine = feature_engine(layout, &bundle, request, &input).await?;
    let k = bundle.card.reason_codes;
    let schema = meta.output(&empty_scored(), k)?.schema();
    let mut sink = Sink::open(&request.output, format, schema)?;
    let rejects_file = rejects_path(&request.output);
    let mut rejects = Rejects::open(&rejects_file)?;
    let options = ScoreOptions {
        explain: true,
        threshold: request.threshold,
    };
    let mut counts = Counts::default();
    for chunk in input {
        let Some(features) = featurise(chunk?, engine.as_ref(), &mut rejects, &mut counts).await?
        else {
            continue;
        };
        let scored = creditrisk_model::score(bundle.clone(), features, options).await?;
        counts.scored += scored.rows() as u64;
        sink.write(&meta.output(&scored, k)?)?;
    }
    sink.finish()?;
    let problems = rejects.finish()?;
    Ok(PredictSummary {
        model_name: meta.model_name,
        model_version: meta.model_version,
        bundle_sha256: meta.bundle_sha256,
        rows_read: counts.read,
        rows_scored: counts.scored,
        rows_rejected: counts.rejected,
        problems,
        output: request.output.clone(),
        rejects: rejects_file,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn check_threshold(threshold: Option<f64>) -> Result<()> {
    match threshold {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(Error::config(format!(
            "--threshold {t}: must be within [0, 1]"
        ))),
        _ => Ok(()),
    }
}

/// The bundle to score with, and the identity every output row carries.
async fn load_model(
    layout: &Layout,
    opts: &PredictOptions,
    model: &ModelRef,
) -> Result<(Arc<ModelBundle>, Meta)> {
    let loaded = creditrisk_model::registry::load(layout, &opts.tracking, model).await?;
    let meta = Meta {
        model_name: loaded.label.name().to_string(),
        model_version: loaded.label.version_text(),
        bundle_sha256: loaded.bundle.bundle_sha256.clone(),
    };
    Ok((loaded.bundle, meta))
}

/// The engine that turns raw applications into features; `None` when the input holds ready
/// feature rows, which then only need their id column.
async fn feature_engine(
    layout: &Layout,
    bundle: &ModelBundle,
    request: &PredictRequest,
    input: &Input,
) -> Result<Option<FeatureEngine>> {
    let source = request.input.display().to_string();
    if request.history == History::Features {
        if !input.header().iter().any(|h| h == ID_COLUMN) {
            return Err(Error::input(format!(
                "{source}: missing required column {ID_COLUMN}"
            )));
        }
        return Ok(None);
    }
    serving_contract::check_header(input.header(), &source)?;
    Ok(Some(
        FeatureEngine::new(bundle, &request.history, layout).await?,
    ))
}

/// Rows read, scored and rejected so far.
#[derive(Default)]
struct Counts {
    read: u64,
    scored: u64,
    rejected: u64,
}

/// The feature rows of one chunk, its rejects written and counted; `None` when no row is left
/// to score.
async fn featurise(
    chunk: Chunk,
    engine: Option<&FeatureEngine>,
    rejects: &mut Rejects,
    counts: &mut Counts,
) -> Result<Option<RecordBatch>> {
    counts.read += chunk.rows.len() as u64 + chunk.malformed.len() as u64;
    counts.rejected += chunk.malformed.len() as u64;
    rejects.write(&chunk.malformed)?;
    let features = match engine {
        None => chunk.batch,
        Some(engine) => {
            let mut checked = serving_contract::check_batch(&chunk.batch, 1)?;
            // The contract numbers rows within the batch; the rejects name the input's rows.
            for v in checked.violations.iter_mut() {
                v.row = chunk.rows[(v.row - 1) as usize];
            }
            counts.rejected += checked.rejected_rows;
            rejects.write(&checked.violations)?;
            if checked.valid.num_rows() == 0 {
                return Ok(None);
            }
            engine.features(checked.valid).await?
        }
    };
    Ok((features.num_rows() > 0).then_some(features))
}

/// Model identity added to every output row.
struct Meta {
    model_name: String,
    model_version: String,
    bundle_sha256: String,
}

impl Meta {
    fn output(&self, scored: &Scored, k: usize) -> Result<RecordBatch> {
        let base = scored.to_record_batch(k)?;
        let rows = base.num_rows();
        let mut fields: Vec<Field> = base
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns = base.columns().to_vec();
        for (name, value) in [
            ("model_name", &self.model_name),
            ("model_version", &self.model_version),
            ("bundle_sha256", &self.bundle_sha256),
        ] {
            fields.push(Field::new(name, DataType::Utf8, false));
            columns.push(Arc::new(StringArray::from_iter_values(
                std::iter::repeat_n(value.as_str(), rows),
            )));
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

fn empty_scored() -> Scored {
    Scored {
        ids: vec![],
        pd: vec![],
        decisions: vec![],
        bands: vec![],
        reasons: vec![],
        threshold: 0.0,
    }
}

#[derive(Clone, Copy, Debug)]
enum Format {
    Parquet,
    Csv,
    JsonLines,
}

impl Format {
    fn of(path: &Path) -> Result<Format> {
        match input::extension(path).as_str() {
            "parquet" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            "jsonl" | "ndjson" => Ok(Format::JsonLines),
            other => Err(Error::config(format!(
                "{}: unsupported output extension {other:?}; expected .parquet, .csv or .jsonl",
                path.display()
            ))),
        }
    }
}

/// A temporary file next to `path`, renamed into place by `persist`.
fn temp_next_to(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

enum Writer {
    Parquet(ArrowWriter<File>),
    Csv(datafusion::arrow::csv::Writer<BufWriter<File>>),
    JsonLines(datafusion::arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

/// The output, streamed to a temporary file.
struct Sink {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    writer: Writer,
}

impl Sink {
    fn open(path: &Path, format: Format, schema: SchemaRef) -> Result<Sink> {
        let tmp = temp_next_to(path)?;
        let file = tmp.reopen().map_err(|e| Error::io(path, e))?;
        let writer = match format {
            Format::Parquet => {
                // Small row groups: the writer buffers one in memory, so this bounds its memory.
                let props = WriterProperties::builder()
                    .set_max_row_group_row_count(Some(OUTPUT_ROW_GROUP_ROWS))
                    .build();
                Writer::Parquet(ArrowWriter::try_new(file, schema, Some(props))?)
            }
            Format::Csv => {
                let mut w = datafusion::arrow::csv::Writer::new(BufWriter::new(file));
                // The header, even when nothing is scored.
                w.write(&RecordBatch::new_empty(schema))?;
                Writer::Csv(w)
            }
            Format::JsonLines => Writer::JsonLines(
                datafusion::arrow::json::LineDelimitedWriter::new(BufWriter::new(file)),
            ),
        };
        Ok(Sink {
            tmp,
            path: path.to_path_buf(),
            writer,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            Writer::Parquet(w) => w.write(batch)?,
            Writer::Csv(w) => w.write(batch)?,
            Writer::JsonLines(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        let io = |e: std::io::Error| Error::io(&self.path, e);
        match self.writer {
            Writer::Parquet(w) => {
                w.close()?;
            }
            Writer::Csv(w) => w.into_inner().flush().map_err(io)?,
            Writer::JsonLines(mut w) => {
                w.finish()?;
                w.into_inner().flush().map_err(io)?;
            }
        }
        persist(self.tmp, &self.path)
    }
}

/// The rejects file: one JSON line per problem.
struct Rejects {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    out: BufWriter<File>,
    lines: u64,
}

impl Rejects {
    fn open(path: &Path) -> Result<Rejects> {
        let tmp = temp_next_to(path)?;
        let out = BufWriter::new(tmp.reopen().map_err(|e| Error::io(path, e))?);
        Ok(Rejects {
            tmp,
            path: path.to_path_buf(),
            out,
            lines: 0,
        })
    }

    fn write(&mut self, violations: &[Violation]) -> Result<()> {
        for v in violations {
            let line = serde_json::to_string(v)
                .map_err(|e| Error::internal_from("cannot serialise a reject", e))?;
            writeln!(self.out, "{line}").map_err(|e| Error::io(&self.path, e))?;
            self.lines += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<u64> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        persist(self.tmp, &self.path)?;
        Ok(self.lines)
    }
}
