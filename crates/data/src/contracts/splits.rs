//! Split leakage contract: the train and test splits share no SK_ID_CURR, neither holds a
//! duplicate or NULL id, and every label is 0 or 1. Written to `reports/validation/splits.json`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use serde_json::json;

use super::report::{CheckFailure, Severity, ValidationReport};
use creditrisk_base::error::{Error, Result};

/// Keys and labels of one split.
pub struct SplitKeys {
    pub ids: Vec<Option<i64>>,
    pub targets: Vec<Option<i64>>,
}

impl SplitKeys {
    /// SK_ID_CURR and TARGET of a split batch.
    pub fn from_batch(batch: &RecordBatch, source: &str) -> Result<SplitKeys> {
        let column = |name: &str| -> Result<Vec<Option<i64>>> {
            let array = batch
                .column_by_name(name)
                .ok_or_else(|| Error::input(format!("{source}: column `{name}` is missing")))?;
            let ints = cast(array, &DataType::Int64)
                .map_err(|e| Error::input_from(format!("{source}: column `{name}`"), e))?;
            let ints = ints.as_primitive::<Int64Type>();
            Ok((0..ints.len())
                .map(|i| (!ints.is_null(i)).then(|| ints.value(i)))
                .collect())
        };
        Ok(SplitKeys {
            ids: column("SK_ID_CURR")?,
            targets: column("TARGET")?,
        })
    }

    /// Keys of a split Parquet file.
    pub fn from_file(path: &Path) -> Result<SplitKeys> {
        let batch =
            creditrisk_base::parquet_io::read_parquet(path, "run `creditrisk split-data` first")?;
        SplitKeys::from_batch(&batch, &path.display().to_string())
    }
}

fn failure(
    table: &str,
    column: Option<&str>,
    check: &str,
    failing: u64,
    total: u64,
    expectation: &str,
    samples: Vec<serde_json::Value>,
) -> CheckFailure {
    CheckFailure {
        table: table.to_string(),
        column: column.map(str::to_string),
        check: check.to_string(),
        severity: Severity::Fail,
        failing,
        total,
        expectation: expectation.to_string(),
        samples,
    }
}

/// Run every split check; `source` names the files in the report.
pub fn check(
    train: &SplitKeys,
    test: &SplitKeys,
    sample_rows: usize,
    source: &str,
) -> ValidationReport {
    let rows = (train.ids.len() + test.ids.len()) as u64;
    let mut report = ValidationReport::new("splits", source, rows);
    for (name, keys) in [("train", train), ("test", test)] {
        let findings = [
            non_empty(name, keys),
            ids_not_null(name, keys, sample_rows),
            ids_unique(name, keys, sample_rows),
            labels_binary(name, keys, sample_rows),
        ];
        record_all(&mut report, findings);
    }
    record_all(&mut report, [disjoint(train, test, sample_rows)]);
    report
}

/// Count every check run and record those that failed, in order.
fn record_all<const N: usize>(report: &mut ValidationReport, findings: [Option<CheckFailure>; N]) {
    for finding in findings {
        report.checks_run += 1;
        if let Some(finding) = finding {
            report.record(finding);
        }
    }
}

/// An empty split is a failed split, not a vacuous pass.
fn non_empty(name: &str, keys: &SplitKeys) -> Option<CheckFailure> {
    keys.ids.is_empty().then(|| {
        failure(
            name,
            None,
            "non_empty",
            1,
            0,
            &format!("the {name} split has rows"),
            vec![],
        )
    })
}

/// A NULL id can be neither joined nor checked for leakage; samples give its row.
fn ids_not_null(name: &str, keys: &SplitKeys, sample_rows: usize) -> Option<CheckFailure> {
    let nulls: Vec<usize> = (0..keys.ids.len())
        .filter(|&i| keys.ids[i].is_none())
        .collect();
    if nulls.is_empty() {
        return None;
    }
    let samples = nulls
        .iter()
        .take(sample_rows)
        .map(|i| json!({ "row": i }))
        .collect();
    Some(failure(
        name,
        Some("SK_ID_CURR"),
        "not_null",
        nulls.len() as u64,
        keys.ids.len() as u64,
        "SK_ID_CURR is not NULL",
        samples,
    ))
}

/// A repeated applicant weighs twice in training or evaluation; samples give each repeated id
/// (smallest first) and its count.
fn ids_unique(name: &str, keys: &SplitKeys, sample_rows: usize) -> Option<CheckFailure> {
    let mut seen: HashMap<i64, u32> = HashMap::with_capacity(keys.ids.len());
    for id in keys.ids.iter().flatten() {
        *seen.entry(*id).or_default() += 1;
    }
    let mut dups: Vec<(i64, u32)> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
    if dups.is_empty() {
        return None;
    }
    dups.sort_unstable();
    let failing = dups.iter().map(|(_, n)| u64::from(*n)).sum();
    let samples = dups
        .iter()
        .take(sample_rows)
        .map(|(id, n)| json!({ "SK_ID_CURR": id, "count": n }))
        .collect();
    Some(failure(
        name,
        Some("SK_ID_CURR"),
        "unique",
        failing,
        keys.ids.len() as u64,
        "each applicant appears once per split",
        samples,
    ))
}

/// Every split row is labelled: TARGET is 0 or 1, never NULL or another value.
fn labels_binary(name: &str, keys: &SplitKeys, sample_rows: usize) -> Option<CheckFailure> {
    let bad: Vec<usize> = (0..keys.targets.len())
        .filter(|&i| !matches!(keys.targets[i], Some(0 | 1)))
        .collect();
    if bad.is_empty() {
        return None;
    }
    let samples = bad
        .iter()
        .take(sample_rows)
        .map(|&i| json!({ "SK_ID_CURR": keys.ids[i], "TARGET": keys.targets[i] }))
        .collect();
    Some(failure(
        name,
        Some("TARGET"),
        "domain",
        bad.len() as u64,
        keys.ids.len() as u64,
        "TARGET in {0, 1} (labelled rows only)",
        samples,
    ))
}

/// An applicant in both splits leaks training rows into the evaluation; samples give each shared
/// id once, smallest first.
fn disjoint(train: &SplitKeys, test: &SplitKeys, sample_rows: usize) -> Option<CheckFailure> {
    let train_ids: HashSet<i64> = train.ids.iter().flatten().copied().collect();
    let mut shared: Vec<i64> = test
        .ids
        .iter()
        .flatten()
        .copied()
        .filter(|id| train_ids.contains(id))
        .collect();
    if shared.is_empty() {
        return None;
    }
    shared.sort_unstable();
    shared.dedup();
    let samples = shared
        .iter()
        .take(sample_rows)
        .map(|id| json!({ "SK_ID_CURR": id }))
        .collect();
    Some(failure(
        "train/test",
        Some("SK_ID_CURR"),
        "disjoint",
        shared.len() as u64,
        test.ids.len() as u64,
        "no applicant is in both the train and the test split",
        samples,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ids: &[i64]) -> SplitKeys {
        SplitKeys {
            ids: ids.iter().map(|i| Some(*i)).collect(),
            targets: ids.iter().map(|i| Some(i % 2)).collect(),
        }
    }

    #[test]
    fn disjoint_splits_pass() {
        let r = check(&keys(&[1, 2, 3]), &keys(&[4, 5]), 5, "t");
        assert!(r.passed, "{r:?}");
        assert!(r.ensure_passed().is_ok());
    }

    #[test]
    fn overlap_duplicates_and_bad_labels_fail_with_samples() {
        let mut test = keys(&[3, 4, 4]);
        test.targets[0] = None;
        let r = check(&keys(&[1, 2, 3]), &test, 5, "t");
        assert!(!r.passed);
        let checks: Vec<&str> = r.failures.iter().map(|f| f.check.as_str()).collect();
        assert!(
            checks.contains(&"disjoint")
                && checks.contains(&"unique")
                && checks.contains(&"domain"),
            "{checks:?}"
        );
        let err = r.ensure_passed().unwrap_err().to_string();
        assert!(
            err.contains("disjoint") && err.contains("SK_ID_CURR"),
            "{err}"
        );
    }
}
