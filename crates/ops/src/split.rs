//! `creditrisk split-data`: labelled applicants of the feature store → stratified, seeded
//! train/test splits (`<processed_dir>/{train,test}.parquet`), checked for leakage by
//! [`creditrisk_data::contracts::splits`] before anything is written.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use serde::{Deserialize, Serialize};

use creditrisk_base::config::{Config, Section};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_base::parquet_io;
use creditrisk_data::contracts::splits::{self, SplitKeys};
use creditrisk_model::sampling::stratified_partition;

/// What `split-data` reads from the configuration.
#[derive(Clone, Debug)]
pub struct SplitOptions {
    /// `training.test_size`
    pub test_size: f64,
    /// `training.random_state`
    pub seed: u64,
    /// `validation.sample_rows`
    pub sample_rows: usize,
}

impl SplitOptions {
    pub const SECTIONS: [Section; 3] = [Section::Paths, Section::Training, Section::Validation];

    pub fn from_config(cfg: &Config) -> SplitOptions {
        SplitOptions {
            test_size: cfg.training.test_size,
            seed: cfg.training.random_state,
            sample_rows: cfg.validation.sample_rows,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SplitSummary {
    pub store_file: PathBuf,
    pub train_file: PathBuf,
    pub test_file: PathBuf,
    pub validation_report: PathBuf,
    pub labelled_rows: usize,
    /// Applicants without TARGET (the Kaggle test file), left out of both splits.
    pub unlabelled_rows: usize,
    pub train_rows: usize,
    pub test_rows: usize,
    pub train_default_rate: f64,
    pub test_default_rate: f64,
}

/// Split the labelled rows of the feature store.
pub fn run(layout: &Layout, opts: &SplitOptions) -> Result<SplitSummary> {
    let store = layout.store_file.clone();
    let source = store.display().to_string();
    let batch = parquet_io::read_parquet(&store, "run `creditrisk build-feature-store` first")?;
    let target = batch.column_by_name("TARGET").ok_or_else(|| {
        Error::input(format!(
            "{source}: column `TARGET` is missing; the feature store must carry the label"
        ))
    })?;
    let target = cast(target, &DataType::Int64)
        .map_err(|e| Error::input_from(format!("{source}: column `TARGET`"), e))?;
    let target = target.as_primitive::<Int64Type>();
    let labelled: Vec<usize> = (0..target.len()).filter(|&i| !target.is_null(i)).collect();
    if labelled.is_empty() {
        return Err(Error::input(format!(
            "{source}: no labelled rows (TARGET is NULL everywhere)"
        )));
    }
    let labels: Vec<i64> = labelled.iter().map(|&i| target.value(i)).collect();
    if let Some(pos) = labels.iter().position(|v| !matches!(v, 0 | 1)) {
        return Err(Error::check(format!(
            "{source}: TARGET is {} in row {}; labels must be 0 or 1",
            labels[pos], labelled[pos]
        )));
    }
    let (train_pos, test_pos) = stratified_partition(&labels, opts.test_size, opts.seed);
    let pick = |pos: &[usize]| -> Result<_> {
        let idx = UInt32Array::from_iter_values(pos.iter().map(|&p| labelled[p] as u32));
        Ok(take_record_batch(&batch, &idx)?)
    };
    let (train, test) = (pick(&train_pos)?, pick(&test_pos)?);

    let train_file = layout.split_file(Split::Train);
    let test_file = layout.split_file(Split::Test);
    let report = splits::check(
        &SplitKeys::from_batch(&train, &source)?,
        &SplitKeys::from_batch(&test, &source)?,
        opts.sample_rows,
        &format!("{} + {}", train_file.display(), test_file.display()),
    );
    let validation_report = layout.validation_report("splits");
    report.write_and_check(&validation_report)?;
    parquet_io::write_batch(&train_file, &train)?;
    parquet_io::write_batch(&test_file, &test)?;

    let rate = |pos: &[usize]| {
        pos.iter().map(|&p| labels[p] as f64).sum::<f64>() / pos.len().max(1) as f64
    };
    Ok(SplitSummary {
        store_file: store,
        train_file,
        test_file,
        validation_report,
        labelled_rows: labelled.len(),
        unlabelled_rows: batch.num_rows() - labelled.len(),
        train_rows: train_pos.len(),
        test_rows: test_pos.len(),
        train_default_rate: rate(&train_pos),
        test_default_rate: rate(&test_pos),
    })
}
