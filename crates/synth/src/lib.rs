//! Synthetic Home Credit data (`creditrisk synth`): the eight Kaggle files with Kaggle's headers,
//! vocabularies, sentinels, missingness and fan-out, plus a truth file with every applicant's true
//! probability of default.
//!
//! How it works: `plan` draws each applicant's latent risk and history sizes (so ids can be
//! numbered up front); workers then generate fixed-size chunks of applicants in parallel, each
//! applicant from its own random stream (`draw`), into per-table buffers; the writer appends the
//! chunks to the files in order. Output is therefore byte-identical for a seed whatever the thread
//! count, and memory stays bounded by a few chunks. The PD (`risk`) is computed from the rows the
//! applicant actually got, so the truth file gives the Bayes-optimal score.

mod applicants;
mod bureau;
mod chunk;
mod credit_card;
mod draw;
mod format;
mod installments;
mod loan;
mod out;
mod plan;
mod pos_cash;
mod previous;
mod risk;
mod vocab;
mod writer;

pub use writer::SynthFile;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Instant;

use serde::Serialize;

use chunk::Model;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::progress::Reporter;
use out::ChunkOut;

/// Kaggle's application_train rows.
pub const KAGGLE_TRAIN_ROWS: usize = 307_511;
/// Kaggle's application_test rows.
pub const KAGGLE_TEST_ROWS: usize = 48_744;
/// Largest accepted `train_rows` (about 2 billion rows, 80 GB of CSV).
pub const MAX_TRAIN_ROWS: usize = 10_000_000;
/// Applicants per chunk: large enough to amortise hand-offs, small enough to keep memory flat.
const CHUNK_APPLICANTS: usize = 1024;

/// What to generate and where.
#[derive(Clone, Debug, Serialize)]
pub struct SynthOptions {
    pub train_rows: usize,
    pub test_rows: usize,
    pub seed: u64,
    pub raw_dir: PathBuf,
    pub truth_file: PathBuf,
}

impl SynthOptions {
    /// Test rows in Kaggle's proportion (48,744 per 307,511 train rows).
    pub fn new(train_rows: usize, seed: u64, raw_dir: PathBuf, truth_file: PathBuf) -> Self {
        let test_rows = ((train_rows as u128 * KAGGLE_TEST_ROWS as u128
            + KAGGLE_TRAIN_ROWS as u128 / 2)
            / KAGGLE_TRAIN_ROWS as u128) as usize;
        SynthOptions {
            train_rows,
            test_rows,
            seed,
            raw_dir,
            truth_file,
        }
    }
}

/// What `run` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct SynthSummary {
    /// The eight CSVs in `RawTable::ALL` order, then the truth file.
    pub files: Vec<SynthFile>,
    pub train_default_rate: f64,
    pub seconds: f64,
}

fn check(opts: &SynthOptions) -> Result<()> {
    if opts.train_rows == 0 {
        return Err(Error::config(
            "synth: train rows must be at least 1 (use --rows N, e.g. --rows 10000; Kaggle has 307511)",
        ));
    }
    if opts.train_rows > MAX_TRAIN_ROWS || opts.test_rows > MAX_TRAIN_ROWS {
        return Err(Error::config(format!(
            "synth: {} train / {} test rows is more than the supported {MAX_TRAIN_ROWS} per file; \
             use a smaller --rows",
            opts.train_rows, opts.test_rows
        )));
    }
    if opts.raw_dir.is_file() {
        return Err(Error::config(format!(
            "synth: output folder {} is a file; pass a folder with --out",
            opts.raw_dir.display()
        )));
    }
    if opts.truth_file.is_dir() {
        return Err(Error::config(format!(
            "synth: truth file {} is a folder; set paths.truth_file to a .parquet file path",
            opts.truth_file.display()
        )));
    }
    Ok(())
}

/// Generates the eight raw files and the truth file.
pub fn run(opts: &SynthOptions, reporter: &dyn Reporter) -> Result<SynthSummary> {
    check(opts)?;
    let started = Instant::now();
    let model = Model::new(opts.seed)?;
    let people = plan::plan(&model.streams, opts.train_rows, opts.test_rows);
    let chunks: Vec<&[plan::Profile]> = people.chunks(CHUNK_APPLICANTS).collect();
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);

    reporter.start("synth applicants", people.len() as u64);

    let mut files = writer::CsvFiles::create(&opts.raw_dir)?;
    let mut truth = Vec::with_capacity(people.len());
    std::thread::scope(|s| -> Result<()> {
        let mut results = Vec::with_capacity(workers);
        let mut recycle = Vec::with_capacity(workers);
        for w in 0..workers {
            // One slot per worker: at most ~2 chunks per worker exist at any time.
            let (done_tx, done_rx) = mpsc::sync_channel::<ChunkOut>(1);
            let (free_tx, free_rx) = mpsc::channel::<ChunkOut>();
            results.push(done_rx);
            recycle.push(free_tx);
            let (model, chunks) = (&model, &chunks);
            s.spawn(move || {
                for k in (w..chunks.len()).step_by(workers) {
                    let mut out = free_rx.try_recv().unwrap_or_default();
                    let first_index = (k * CHUNK_APPLICANTS) as u64;
                    chunk::generate(model, chunks[k], first_index, &mut out);
                    if done_tx.send(out).is_err() {
                        return; // the writer stopped on an error
                    }
                }
            });
        }
        for k in 0..chunks.len() {
            let out = results[k % workers]
                .recv()
                .map_err(|_| Error::input("synth: a generator thread stopped unexpectedly"))?;
            files.append(&out)?;
            truth.extend_from_slice(&out.truth);
            reporter.advance(out.truth.len() as u64);
            // The worker may have finished; then the buffer is simply dropped.
            let _ = recycle[k % workers].send(out);
        }
        Ok(())
    })?;
    let mut written = files.finish()?;
    written.push(writer::write_truth(&opts.truth_file, &truth)?);
    reporter.finish();

    let (train, defaults) = truth
        .iter()
        .filter(|t| t.is_train)
        .fold((0u64, 0u64), |(n, d), t| (n + 1, d + t.target as u64));
    Ok(SynthSummary {
        files: written,
        train_default_rate: if train == 0 {
            0.0
        } else {
            defaults as f64 / train as f64
        },
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rows_follow_kaggle_ratio() {
        let o = SynthOptions::new(KAGGLE_TRAIN_ROWS, 1, "a".into(), "b".into());
        assert_eq!(o.test_rows, KAGGLE_TEST_ROWS);
        assert_eq!(
            SynthOptions::new(1000, 1, "a".into(), "b".into()).test_rows,
            159
        );
    }

    #[test]
    fn zero_rows_is_a_clear_error() {
        let o = SynthOptions::new(0, 1, "a".into(), "b".into());
        let err = run(&o, &creditrisk_base::progress::Silent)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--rows"), "{err}");
    }

    #[test]
    fn vocabularies_match_the_catalog() {
        Model::new(1).unwrap();
    }
}
