//! `creditrisk split-data`: labelled applicants of the feature store → stratified, seeded
//! train/test splits (`<processed_dir>/{train,test}.parquet`), checked for leakage by
//! [`crate::contracts::splits`] before anything is written.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::contracts::splits::{self, SplitKeys};
use crate::error::{Error, Result};
use crate::model::io;

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
pub fn run(cfg: &Config) -> Result<SplitSummary> {
    let store = cfg.store_file();
    let source = store.display().to_string();
    let batch = io::read_parquet(&store, "run `creditrisk build-feature-store` first")?;
    let target = batch.column_by_name("TARGET").ok_or_else(|| {
        Error::Input(format!(
            "{source}: column `TARGET` is missing; the feature store must carry the label"
        ))
    })?;
    let target = cast(target, &DataType::Int64)
        .map_err(|e| Error::Input(format!("{source}: column `TARGET`: {e}")))?;
    let target = target.as_primitive::<Int64Type>();
    let labelled: Vec<usize> = (0..target.len()).filter(|&i| !target.is_null(i)).collect();
    if labelled.is_empty() {
        return Err(Error::Input(format!(
            "{source}: no labelled rows (TARGET is NULL everywhere)"
        )));
    }
    let labels: Vec<i64> = labelled.iter().map(|&i| target.value(i)).collect();
    if let Some(pos) = labels.iter().position(|v| !matches!(v, 0 | 1)) {
        return Err(Error::Check(format!(
            "{source}: TARGET is {} in row {}; labels must be 0 or 1",
            labels[pos], labelled[pos]
        )));
    }
    let (train_pos, test_pos) =
        stratified_partition(&labels, cfg.training.test_size, cfg.training.random_state);
    let pick = |pos: &[usize]| -> Result<_> {
        let idx = UInt32Array::from_iter_values(pos.iter().map(|&p| labelled[p] as u32));
        Ok(take_record_batch(&batch, &idx)?)
    };
    let (train, test) = (pick(&train_pos)?, pick(&test_pos)?);

    let train_file = cfg.processed_dir().join("train.parquet");
    let test_file = cfg.processed_dir().join("test.parquet");
    let report = splits::check(
        &SplitKeys::from_batch(&train, &source)?,
        &SplitKeys::from_batch(&test, &source)?,
        cfg.validation.sample_rows,
        &format!("{} + {}", train_file.display(), test_file.display()),
    );
    let validation_report = report.write(&cfg.reports_dir(), "splits")?;
    report.ensure_passed()?;
    io::write_parquet(&train_file, &train)?;
    io::write_parquet(&test_file, &test)?;

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

/// Stratified, seeded partition of row positions: within each label, `share` of the rows
/// (rounded, at least one and never all when the label has two or more rows) go to the second
/// list. Both lists are sorted so the splits keep the input order.
pub fn stratified_partition(labels: &[i64], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let (mut keep, mut held) = (Vec::new(), Vec::new());
    for class in classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len();
        let mut n_held = (n as f64 * share).round() as usize;
        if n >= 2 {
            n_held = n_held.clamp(1, n - 1);
        }
        held.extend_from_slice(&rows[..n_held]);
        keep.extend_from_slice(&rows[n_held..]);
    }
    keep.sort_unstable();
    held.sort_unstable();
    (keep, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_stratified_seeded_and_complete() {
        let labels: Vec<i64> = (0..1000).map(|i| i64::from(i % 10 == 0)).collect();
        let (a, b) = stratified_partition(&labels, 0.2, 42);
        assert_eq!((a.len(), b.len()), (800, 200));
        assert_eq!(b.iter().filter(|&&i| labels[i] == 1).count(), 20);
        let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(
            stratified_partition(&labels, 0.2, 42),
            (a.clone(), b.clone())
        );
        assert_ne!(stratified_partition(&labels, 0.2, 43).1, b);
    }
}
