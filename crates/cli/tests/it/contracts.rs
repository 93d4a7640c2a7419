//! Raw data contracts on real Kaggle rows (they pass; orphans are warnings) and on deliberately
//! corrupted copies (each fails with the right table, column and check named).

use std::path::{Path, PathBuf};

use creditrisk_base::Error;
use creditrisk_base::catalog::RawTable;
use creditrisk_data::contracts::ValidationReport;

use super::features::{read_parquet, test_config};
use crate::support;

fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.."),
        "/../shared/kaggle/samples"
    ))
}

/// A raw folder holding the Kaggle sample rows, plus an application_test.csv made of the first
/// five train rows (ids shifted so they stay unique) without TARGET.
fn kaggle_raw_dir(raw: &Path) {
    std::fs::create_dir_all(raw).unwrap();
    for table in RawTable::ALL {
        if table != RawTable::ApplicationTest {
            std::fs::copy(
                samples_dir().join(table.file_name()),
                raw.join(table.file_name()),
            )
            .unwrap();
        }
    }
    let train = std::fs::read_to_string(samples_dir().join("application_train.csv")).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(train.as_bytes());
    let header = reader.headers().unwrap().clone();
    let target = header.iter().position(|h| h == "TARGET").unwrap();
    let mut out = csv::Writer::from_path(raw.join("application_test.csv")).unwrap();
    out.write_record(
        header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != target)
            .map(|(_, h)| h),
    )
    .unwrap();
    for record in reader.records().take(5) {
        let record = record.unwrap();
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != target)
            .map(|(i, v)| {
                if i == 0 {
                    (v.parse::<i64>().unwrap() + 900_000).to_string()
                } else {
                    v.to_string()
                }
            })
            .collect();
        out.write_record(&fields).unwrap();
    }
    out.flush().unwrap();
}

fn report(cfg: &creditrisk_base::Config, stem: &str) -> ValidationReport {
    let path = support::layout(cfg).validation_report(stem);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A config over the Kaggle samples: they are a random slice of each file, so almost every child
/// row is an orphan; the orphan gate is lifted (they must still be reported as warnings).
fn kaggle_config(root: &Path) -> creditrisk_base::Config {
    let mut cfg = test_config(root);
    cfg.validation.max_orphan_share = 1.0;
    kaggle_raw_dir(&support::layout(&cfg).raw_dir);
    cfg
}

#[test]
fn kaggle_samples_parse_and_pass_the_raw_contracts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = kaggle_config(dir.path());
    let summary = support::build_feature_store(&cfg).unwrap();
    assert_eq!(summary.rows, 59 + 5);

    for table in RawTable::ALL {
        let r = report(&cfg, &format!("raw_{}", table.name()));
        assert!(r.passed, "{}: {:?}", table.name(), r.failures);
        assert!(
            r.checks_run >= table.columns().len(),
            "{}: {} checks",
            table.name(),
            r.checks_run
        );
    }
    let bureau = report(&cfg, "raw_bureau");
    let orphans = bureau
        .warnings
        .iter()
        .find(|w| w.check == "orphans")
        .expect("orphans reported");
    assert_eq!(orphans.column.as_deref(), Some("SK_ID_CURR"));
    assert!(orphans.failing > 0 && !orphans.samples.is_empty());
    assert!(bureau.measures["orphans.SK_ID_CURR"] > 0.0);

    // The quoted "Spouse, partner" survived as one value.
    let store = read_parquet(&support::layout(&cfg).store_file);
    let rows: usize = store.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 64);
    let text = std::fs::read_to_string(samples_dir().join("application_train.csv")).unwrap();
    assert!(text.contains("\"Spouse, partner\""));
    let train = report(&cfg, "raw_application_train");
    assert!(train.measures["null.NAME_TYPE_SUITE"] < 0.5);
}

#[test]
fn kaggle_orphans_fail_above_the_configured_share() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = kaggle_config(dir.path());
    cfg.validation.max_orphan_share = 0.05;
    let err = support::build_feature_store(&cfg).unwrap_err().to_string();
    assert!(err.contains("bureau.SK_ID_CURR orphans"), "{err}");
    // Relaxed: reported only.
    cfg.validation.enforce_referential = false;
    support::build_feature_store(&cfg).unwrap();
    assert!(!report(&cfg, "raw_bureau").warnings.is_empty());
}

/// Copy the Kaggle samples, corrupt one file with `edit`, build, and return the error text and
/// the table's report.
fn corrupted(
    table: RawTable,
    edit: impl Fn(String) -> String,
) -> (String, ValidationReport, creditrisk_base::Config) {
    // Kept until the test binary exits: the caller reads the reports.
    let dir = support::kept_dir();
    let cfg = kaggle_config(&dir);
    let path = support::layout(&cfg).raw_file(table);
    std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    let err = support::build_feature_store(&cfg).unwrap_err();
    assert!(matches!(err, Error::Check { .. }), "{err}");
    let r = report(&cfg, &format!("raw_{}", table.name()));
    assert!(!r.passed);
    (err.to_string(), r, cfg)
}

/// Replace field `column` of data line `line` (1 = first data row).
fn set_field(text: String, table: RawTable, line: usize, column: &str, value: &str) -> String {
    let index = table
        .columns()
        .iter()
        .position(|c| c.name == column)
        .unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(lines[line].as_bytes());
    let record = reader.records().next().unwrap().unwrap();
    let mut fields: Vec<String> = record.iter().map(String::from).collect();
    fields[index] = value.to_string();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(vec![]);
    w.write_record(&fields).unwrap();
    lines[line] = String::from_utf8(w.into_inner().unwrap())
        .unwrap()
        .trim_end()
        .to_string();
    lines.join("\n") + "\n"
}

fn failure<'a>(
    r: &'a ValidationReport,
    column: &str,
    check: &str,
) -> &'a creditrisk_data::contracts::CheckFailure {
    r.failures
        .iter()
        .find(|f| f.column.as_deref() == Some(column) && f.check == check)
        .unwrap_or_else(|| panic!("no {column} {check} failure in {:?}", r.failures))
}

#[test]
fn duplicate_applicant_fails_unique() {
    let (err, r, _) = corrupted(RawTable::ApplicationTrain, |text| {
        let second = text.lines().nth(2).unwrap().to_string();
        format!("{text}{second}\n")
    });
    let f = failure(&r, "SK_ID_CURR", "unique");
    assert_eq!(f.failing, 1);
    assert_eq!(f.samples.len(), 1);
    assert!(
        err.contains("application_train.SK_ID_CURR unique: 1 of 60 rows fail"),
        "{err}"
    );
}

#[test]
fn target_two_fails_range() {
    let (err, r, _) = corrupted(RawTable::ApplicationTrain, |t| {
        set_field(t, RawTable::ApplicationTrain, 3, "TARGET", "2")
    });
    let f = failure(&r, "TARGET", "range");
    assert_eq!(f.failing, 1);
    assert_eq!(f.samples[0]["TARGET"], 2);
    assert!(f.samples[0]["SK_ID_CURR"].is_number());
    assert!(err.contains("application_train.TARGET range"), "{err}");
}

#[test]
fn positive_days_birth_fails_range() {
    let (err, r, _) = corrupted(RawTable::ApplicationTrain, |t| {
        let t = set_field(t, RawTable::ApplicationTrain, 1, "DAYS_BIRTH", "100");
        set_field(t, RawTable::ApplicationTrain, 2, "DAYS_BIRTH", "5")
    });
    assert_eq!(failure(&r, "DAYS_BIRTH", "range").failing, 2);
    assert!(
        err.contains("application_train.DAYS_BIRTH range: 2 of 59 rows fail"),
        "{err}"
    );
}

#[test]
fn unknown_bureau_balance_status_fails_domain() {
    let (err, r, _) = corrupted(RawTable::BureauBalance, |t| {
        set_field(t, RawTable::BureauBalance, 4, "STATUS", "Z")
    });
    let f = failure(&r, "STATUS", "domain");
    assert_eq!(f.failing, 1);
    assert_eq!(f.samples[0]["STATUS"], "Z");
    assert!(f.samples[0]["SK_ID_BUREAU"].is_number());
    assert!(err.contains("bureau_balance.STATUS domain"), "{err}");
}

/// A warm build checks the typed Parquet copies (the measures and value counts their footers
/// record, id scans) where a cold build checks parsed rows: on the same corrupted files both must
/// report the same counts and samples, table by table.
#[test]
fn warm_build_reports_what_the_cold_build_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = kaggle_config(dir.path());
    assert!(cfg.features.raw_parquet_cache);
    // Every table copied by the cold build, so that the warm one checks only copies.
    cfg.features.cache_fill_share = 1.0;
    // The warm build must check the copies, not reuse the cold build's reports.
    cfg.features.reuse_contract_reports = false;
    let corrupt = |table: RawTable, edit: &dyn Fn(String) -> String| {
        let path = support::layout(&cfg).raw_file(table);
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    };
    let bb = RawTable::BureauBalance;
    corrupt(bb, &|t| {
        set_field(set_field(t, bb, 4, "STATUS", "Z"), bb, 6, "STATUS", "c")
    });
    let prev = RawTable::PreviousApplication;
    corrupt(prev, &|t| {
        set_field(t, prev, 2, "NAME_CONTRACT_TYPE", "Cash Loans")
    });
    let train = RawTable::ApplicationTrain;
    corrupt(train, &|text| {
        let second = text.lines().nth(2).unwrap().to_string();
        set_field(
            format!(
                "{text}{second}
"
            ),
            train,
            5,
            "DAYS_BIRTH",
            "7",
        )
    });
    // A zero minimum: the measures recorded with the copy keep its sign (a -0.0 MIN, as Parquet
    // statistics would write it, could not prove `>= 0`).
    let inst = RawTable::InstallmentsPayments;
    corrupt(inst, &|t| set_field(t, inst, 1, "AMT_PAYMENT", "0"));
    let reports = || -> Vec<ValidationReport> {
        RawTable::ALL
            .iter()
            .map(|t| report(&cfg, &format!("raw_{}", t.name())))
            .collect()
    };
    let cold = support::build_feature_store(&cfg).unwrap_err().to_string();
    let cold_reports = reports();
    let cache = support::layout(&cfg).raw_cache_dir();
    let copies = std::fs::read_dir(&cache).unwrap().flatten();
    let copies = copies.filter(|e| e.path().extension().is_some_and(|x| x == "parquet"));
    assert_eq!(copies.count(), RawTable::ALL.len(), "every table cached");
    let report_bytes = || -> Vec<Vec<u8>> {
        let layout = support::layout(&cfg);
        RawTable::ALL
            .iter()
            .map(|t| std::fs::read(layout.validation_report(&format!("raw_{}", t.name()))))
            .map(Result::unwrap)
            .collect()
    };
    let cold_bytes = report_bytes();
    let warm = support::build_feature_store(&cfg).unwrap_err().to_string();
    assert_eq!(warm, cold);
    for (w, c) in reports().iter().zip(&cold_reports) {
        assert_eq!(w, c, "{}", w.table);
    }
    // Reused reports (the failing ones too) are the checked ones, byte for byte, and fail alike.
    let mut reuse = cfg.clone();
    reuse.features.reuse_contract_reports = true;
    let reused = support::build_feature_store(&reuse)
        .unwrap_err()
        .to_string();
    assert_eq!(reused, cold);
    assert!(report_bytes() == cold_bytes);
    let count = |table: RawTable, column: &str, check: &str| {
        let r = &cold_reports[RawTable::ALL.iter().position(|t| *t == table).unwrap()];
        failure(r, column, check).failing
    };
    assert_eq!(count(bb, "STATUS", "domain"), 2);
    assert_eq!(count(prev, "NAME_CONTRACT_TYPE", "domain"), 1);
    assert_eq!(count(train, "SK_ID_CURR", "unique"), 1);
    assert_eq!(count(train, "DAYS_BIRTH", "range"), 1);
    let installments = &cold_reports[RawTable::ALL.iter().position(|t| *t == inst).unwrap()];
    assert!(installments.passed, "{:?}", installments.failures);
}

#[test]
fn missing_column_fails_present() {
    let (err, r, _) = corrupted(RawTable::Bureau, |text| {
        // Drop AMT_ANNUITY, the last column, from the header and every row.
        text.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
            .collect()
    });
    assert!(
        failure(&r, "AMT_ANNUITY", "present")
            .expectation
            .contains("present")
    );
    assert!(err.contains("bureau.AMT_ANNUITY present"), "{err}");
}

#[test]
fn extra_column_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = kaggle_config(dir.path());
    let path = support::layout(&cfg).raw_dir.join("bureau.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let widened: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},NOTE\n")
            } else {
                format!("{l},x\n")
            }
        })
        .collect();
    std::fs::write(&path, widened).unwrap();
    support::build_feature_store(&cfg).unwrap();
    let r = report(&cfg, "raw_bureau");
    assert!(r.passed);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.check == "present" && w.column.as_deref() == Some("NOTE"))
    );
}

#[test]
fn non_numeric_amount_fails_type_with_a_sample() {
    let (err, r, _) = corrupted(RawTable::Bureau, |t| {
        set_field(t, RawTable::Bureau, 2, "AMT_CREDIT_SUM", "lots")
    });
    let f = failure(&r, "AMT_CREDIT_SUM", "type");
    assert_eq!(f.failing, 1);
    assert_eq!(f.samples[0]["AMT_CREDIT_SUM"], "lots");
    assert!(f.samples[0]["SK_ID_BUREAU"].is_string(), "{:?}", f.samples);
    assert!(err.contains("bureau.AMT_CREDIT_SUM type"), "{err}");
}

#[test]
fn relaxed_groups_turn_failures_into_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = kaggle_config(dir.path());
    let path = support::layout(&cfg).raw_dir.join("application_train.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        set_field(text, RawTable::ApplicationTrain, 1, "DAYS_BIRTH", "100"),
    )
    .unwrap();
    cfg.validation.enforce_ranges = false;
    support::build_feature_store(&cfg).unwrap();
    let r = report(&cfg, "raw_application_train");
    assert!(r.passed);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.check == "range" && w.column.as_deref() == Some("DAYS_BIRTH"))
    );
}

#[test]
fn feature_store_contracts_pass_and_name_their_checks() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = kaggle_config(dir.path());
    support::build_feature_store(&cfg).unwrap();
    let r = report(&cfg, "feature_store");
    assert!(r.passed, "{:?}", r.failures);
    assert_eq!(r.rows, 64);
    assert!(r.checks_run > creditrisk_base::catalog::FEATURES.len());
}
