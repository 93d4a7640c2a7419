//! The synthetic data generator, through the library API on a few thousand applicants.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use creditrisk_base::catalog::{DAYS_SENTINEL, Domain, Kind, RawTable};
use creditrisk_base::io::sha256_file;
use creditrisk_synth::{SynthOptions, SynthSummary};

fn run(opts: &SynthOptions) -> creditrisk_base::Result<SynthSummary> {
    creditrisk_synth::run(opts, &creditrisk_base::progress::Silent)
}

const TRAIN_ROWS: usize = 5000;

/// Kaggle's row counts, for the fan-out ratios.
const KAGGLE_ROWS: [(RawTable, f64); 8] = [
    (RawTable::ApplicationTrain, 307_511.0),
    (RawTable::ApplicationTest, 48_744.0),
    (RawTable::Bureau, 1_716_428.0),
    (RawTable::BureauBalance, 27_299_925.0),
    (RawTable::PreviousApplication, 1_670_214.0),
    (RawTable::InstallmentsPayments, 13_605_401.0),
    (RawTable::CreditCardBalance, 3_840_312.0),
    (RawTable::PosCashBalance, 10_001_358.0),
];

struct Generated {
    _dir: tempfile::TempDir,
    raw: PathBuf,
    truth: PathBuf,
    summary: SynthSummary,
}

/// One shared data set for the read-only tests (generated once per test binary).
fn generated() -> &'static Generated {
    static DATA: OnceLock<Generated> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir_in(crate::support::scratch()).unwrap();
        let raw = dir.path().join("raw");
        let truth = dir.path().join("synth_truth.parquet");
        let summary = run(&SynthOptions::new(
            TRAIN_ROWS,
            42,
            raw.clone(),
            truth.clone(),
        ))
        .unwrap();
        Generated {
            _dir: dir,
            raw,
            truth,
            summary,
        }
    })
}

fn read(path: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader.records().map(|r| r.unwrap()).collect()
}

fn file(table: RawTable) -> PathBuf {
    generated().raw.join(table.file_name())
}

fn column_index(table: RawTable, name: &str) -> usize {
    table.columns().iter().position(|c| c.name == name).unwrap()
}

fn first_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn headers_match_kaggle_byte_for_byte() {
    let samples =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared/kaggle/samples");
    for table in RawTable::ALL {
        let expected = if table == RawTable::ApplicationTest {
            first_line(&samples.join("application_train.csv")).replacen(",TARGET", "", 1)
        } else {
            first_line(&samples.join(table.file_name()))
        };
        assert_eq!(first_line(&file(table)), expected, "{}", table.file_name());
    }
}

#[test]
fn summary_counts_rows_and_bytes() {
    let g = generated();
    assert_eq!(g.summary.files.len(), 9);
    for f in &g.summary.files {
        let bytes = std::fs::metadata(&f.path).unwrap().len();
        assert_eq!(bytes, f.bytes, "{}", f.table);
        if f.table != "synth_truth" {
            let lines = std::fs::read(&f.path)
                .unwrap()
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            assert_eq!(lines as u64, f.rows + 1, "{}", f.table);
        }
    }
    let train = &g.summary.files[0];
    assert_eq!(
        (train.table.as_str(), train.rows),
        ("application_train", TRAIN_ROWS as u64)
    );
    assert_eq!(g.summary.files[1].rows, 793);
}

#[test]
fn fan_out_follows_kaggle() {
    let g = generated();
    let applicants = (g.summary.files[0].rows + g.summary.files[1].rows) as f64;
    let kaggle_applicants = 307_511.0 + 48_744.0;
    for (table, kaggle) in KAGGLE_ROWS.iter().skip(2) {
        let rows = g
            .summary
            .files
            .iter()
            .find(|f| f.table == table.name())
            .unwrap()
            .rows as f64;
        let ratio = (rows / applicants) / (kaggle / kaggle_applicants);
        assert!(
            (0.85..1.15).contains(&ratio),
            "{}: {ratio:.3} of Kaggle's rows per applicant",
            table.name()
        );
    }
}

#[test]
fn application_rates_look_like_kaggle() {
    let g = generated();
    assert!(
        (0.07..=0.09).contains(&g.summary.train_default_rate),
        "{}",
        g.summary.train_default_rate
    );
    let rows = read(&file(RawTable::ApplicationTrain));
    let t = RawTable::ApplicationTrain;
    let share = |col: &str, pred: &dyn Fn(&str) -> bool| {
        let i = column_index(t, col);
        rows.iter().filter(|r| pred(&r[i])).count() as f64 / rows.len() as f64
    };
    let target = share("TARGET", &|v| v == "1");
    assert!((target - g.summary.train_default_rate).abs() < 1e-12);
    let sentinel = DAYS_SENTINEL.to_string();
    let checks = [
        (
            "DAYS_EMPLOYED",
            share("DAYS_EMPLOYED", &|v| v == sentinel),
            0.18,
            0.02,
        ),
        (
            "EXT_SOURCE_1",
            share("EXT_SOURCE_1", &|v| v.is_empty()),
            0.564,
            0.03,
        ),
        (
            "EXT_SOURCE_3",
            share("EXT_SOURCE_3", &|v| v.is_empty()),
            0.198,
            0.03,
        ),
        (
            "OCCUPATION_TYPE",
            share("OCCUPATION_TYPE", &|v| v.is_empty()),
            0.313,
            0.03,
        ),
        (
            "APARTMENTS_AVG",
            share("APARTMENTS_AVG", &|v| v.is_empty()),
            0.507,
            0.04,
        ),
        (
            "AMT_REQ_CREDIT_BUREAU_YEAR",
            share("AMT_REQ_CREDIT_BUREAU_YEAR", &|v| v.is_empty()),
            0.135,
            0.03,
        ),
        (
            "CODE_GENDER",
            share("CODE_GENDER", &|v| v == "F"),
            0.658,
            0.03,
        ),
        (
            "NAME_CONTRACT_TYPE",
            share("NAME_CONTRACT_TYPE", &|v| v == "Cash loans"),
            0.905,
            0.02,
        ),
    ];
    for (name, got, want, tol) in checks {
        assert!(
            (got - want).abs() < tol,
            "{name}: {got:.3} vs Kaggle {want}"
        );
    }
    // OWN_CAR_AGE is missing exactly when there is no car.
    let (car, age) = (
        column_index(t, "FLAG_OWN_CAR"),
        column_index(t, "OWN_CAR_AGE"),
    );
    assert!(rows.iter().all(|r| (&r[car] == "N") == r[age].is_empty()));
    // The building block is missing together: no MODE value without its AVG block being present.
    let (avg, mode) = (
        column_index(t, "FLOORSMAX_AVG"),
        column_index(t, "FLOORSMAX_MODE"),
    );
    assert!(rows.iter().all(|r| r[avg].is_empty() == r[mode].is_empty()));

    let prev = read(&file(RawTable::PreviousApplication));
    let status = column_index(RawTable::PreviousApplication, "NAME_CONTRACT_STATUS");
    let approved =
        prev.iter().filter(|r| &r[status] == "Approved").count() as f64 / prev.len() as f64;
    assert!(
        (approved - 0.62).abs() < 0.04,
        "approved share {approved:.3}"
    );
}

#[test]
fn every_value_is_inside_its_catalog_domain() {
    for table in RawTable::ALL {
        let columns = table.columns();
        for (n, row) in read(&file(table)).iter().enumerate() {
            assert_eq!(row.len(), columns.len(), "{} row {n}", table.name());
            for (col, cell) in columns.iter().zip(row.iter()) {
                let at = || format!("{}.{} row {n}: {cell:?}", table.name(), col.name);
                if cell.is_empty() {
                    assert!(col.nullable, "{} is empty", at());
                    continue;
                }
                let number = match col.kind {
                    Kind::Int => {
                        Some(cell.parse::<i64>().unwrap_or_else(|_| panic!("{}", at())) as f64)
                    }
                    Kind::Float => Some(cell.parse::<f64>().unwrap_or_else(|_| panic!("{}", at()))),
                    Kind::Text => None,
                };
                let ok = match (col.domain, number) {
                    (Domain::Categories(codes), _) => codes.contains(&cell),
                    (_, None) => true,
                    (Domain::Id, Some(x)) => x > 0.0,
                    (Domain::Binary, Some(x)) => x == 0.0 || x == 1.0,
                    (Domain::Days, Some(x)) => x <= 0.0,
                    (Domain::DaysOrSentinel, Some(x)) => x <= 0.0 || x == DAYS_SENTINEL as f64,
                    (Domain::Months, Some(x)) => x <= 0.0,
                    (Domain::NonNegative, Some(x)) => x >= 0.0,
                    (Domain::UnitInterval, Some(x)) => (0.0..=1.0).contains(&x),
                    (Domain::Range(lo, hi), Some(x)) => (lo..=hi).contains(&x),
                    (Domain::Any, Some(x)) => x.is_finite(),
                };
                assert!(ok, "{} is outside {:?}", at(), col.domain);
            }
        }
    }
}

#[test]
fn fields_with_commas_are_quoted_like_kaggle() {
    let train = std::fs::read_to_string(file(RawTable::ApplicationTrain)).unwrap();
    assert!(train.contains(",\"Spouse, partner\","));
    assert!(train.contains(",\"Stone, brick\","));
    let prev = std::fs::read_to_string(file(RawTable::PreviousApplication)).unwrap();
    assert!(prev.contains(",\"Spouse, partner\","));
    // Integral floats: bare in application, `.0` in the instalment table (as in Kaggle).
    assert!(!train.lines().nth(1).unwrap().contains(".0,"));
    let inst = std::fs::read_to_string(file(RawTable::InstallmentsPayments)).unwrap();
    assert!(inst.lines().nth(1).unwrap().contains(".0,"));
}

#[test]
fn child_rows_point_at_their_parents() {
    let prev = read(&file(RawTable::PreviousApplication));
    let owner: HashMap<&str, &str> = prev.iter().map(|r| (&r[0], &r[1])).collect();
    assert_eq!(owner.len(), prev.len(), "SK_ID_PREV is unique");
    for table in [
        RawTable::InstallmentsPayments,
        RawTable::CreditCardBalance,
        RawTable::PosCashBalance,
    ] {
        for r in read(&file(table)) {
            assert_eq!(
                owner.get(&r[0]),
                Some(&&r[1]),
                "{} SK_ID_PREV {}",
                table.name(),
                &r[0]
            );
        }
    }
    let bureau = read(&file(RawTable::Bureau));
    let ids: std::collections::HashSet<&str> = bureau.iter().map(|r| &r[1]).collect();
    assert_eq!(ids.len(), bureau.len(), "SK_ID_BUREAU is unique");
    assert!(
        read(&file(RawTable::BureauBalance))
            .iter()
            .all(|r| ids.contains(&r[0]))
    );
    let min_prev: i64 = prev
        .iter()
        .map(|r| r[0].parse::<i64>().unwrap())
        .min()
        .unwrap();
    assert_eq!(min_prev, 1_000_000);
}

/// Default rate of train applicants grouped by a per-applicant flag.
fn default_rates(flagged: &std::collections::HashSet<String>) -> (f64, f64) {
    let t = RawTable::ApplicationTrain;
    let target = column_index(t, "TARGET");
    let (mut yes, mut no) = ((0.0, 0.0), (0.0, 0.0));
    for r in read(&file(t)) {
        let d = if &r[target] == "1" { 1.0 } else { 0.0 };
        let slot = if flagged.contains(&r[0]) {
            &mut yes
        } else {
            &mut no
        };
        slot.0 += d;
        slot.1 += 1.0;
    }
    assert!(
        yes.1 >= 200.0 && no.1 >= 200.0,
        "groups too small: {} / {}",
        yes.1,
        no.1
    );
    (yes.0 / yes.1, no.0 / no.1)
}

#[test]
fn history_carries_default_signal() {
    // Late instalments: applicants with a high share of late payments default more.
    let t = RawTable::InstallmentsPayments;
    let (due, paid) = (
        column_index(t, "DAYS_INSTALMENT"),
        column_index(t, "DAYS_ENTRY_PAYMENT"),
    );
    let mut late: HashMap<String, (f64, f64)> = HashMap::new();
    for r in read(&file(t)) {
        if r[paid].is_empty() {
            continue;
        }
        let e = late.entry(r[1].to_string()).or_default();
        e.0 += (r[paid].parse::<f64>().unwrap() > r[due].parse::<f64>().unwrap()) as u8 as f64;
        e.1 += 1.0;
    }
    let mut shares: Vec<f64> = late.values().map(|(l, n)| l / n).collect();
    shares.sort_by(|a, b| a.total_cmp(b));
    let cut = shares[shares.len() * 3 / 4];
    let lateish = late
        .iter()
        .filter(|(_, (l, n))| l / n > cut)
        .map(|(k, _)| k.clone())
        .collect();
    let (high, rest) = default_rates(&lateish);
    assert!(
        high > 1.5 * rest,
        "late payers {high:.3} vs others {rest:.3}"
    );

    // Bureau delinquency: any month with status 1-5.
    let owner: HashMap<String, String> = read(&file(RawTable::Bureau))
        .iter()
        .map(|r| (r[1].to_string(), r[0].to_string()))
        .collect();
    let delinquent = read(&file(RawTable::BureauBalance))
        .iter()
        .filter(|r| matches!(&r[2], "1" | "2" | "3" | "4" | "5"))
        .filter_map(|r| owner.get(&r[0]).cloned())
        .collect();
    let (bad, good) = default_rates(&delinquent);
    assert!(bad > 1.3 * good, "delinquent {bad:.3} vs others {good:.3}");
}

#[test]
fn truth_file_holds_every_applicant_and_ranks_defaults() {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let g = generated();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&g.truth).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let (mut scored, mut applicants, mut test_nulls) = (Vec::new(), 0, 0);
    for batch in reader {
        let batch = batch.unwrap();
        let pd = batch
            .column_by_name("TRUE_PD")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        let target = batch
            .column_by_name("TARGET")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let train = batch
            .column_by_name("IS_TRAIN")
            .unwrap()
            .as_boolean()
            .clone();
        for i in 0..batch.num_rows() {
            applicants += 1;
            assert!((0.0..=1.0).contains(&pd.value(i)));
            if train.value(i) {
                scored.push((pd.value(i), target.value(i)));
            } else {
                assert!(target.is_null(i));
                test_nulls += 1;
            }
        }
    }
    assert_eq!(applicants, TRAIN_ROWS + 793);
    assert_eq!(test_nulls, 793);
    // Bayes AUC from the true PD (rank-sum formula).
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = scored.iter().filter(|s| s.1 == 1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    let rank_sum: f64 = scored
        .iter()
        .enumerate()
        .filter(|(_, s)| s.1 == 1)
        .map(|(i, _)| (i + 1) as f64)
        .sum();
    let auc = (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
    assert!((0.75..0.95).contains(&auc), "Bayes AUC {auc:.3}");
}

fn digests(dir: &Path, truth: &Path) -> Vec<String> {
    let mut out: Vec<String> = RawTable::ALL
        .iter()
        .map(|t| sha256_file(&dir.join(t.file_name())).unwrap())
        .collect();
    out.push(sha256_file(truth).unwrap());
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, seed: u64| {
        let raw = dir.path().join(name);
        let truth = dir.path().join(format!("{name}.parquet"));
        run(&SynthOptions::new(700, seed, raw.clone(), truth.clone())).unwrap();
        digests(&raw, &truth)
    };
    let a = make("a", 7);
    let b = make("b", 7);
    let c = make("c", 8);
    assert_eq!(a, b);
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x, y);
    }
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(&SynthOptions::new(
        0,
        1,
        dir.path().join("raw"),
        dir.path().join("t.parquet"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("--rows"), "{err}");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = run(&SynthOptions::new(
        10,
        1,
        blocker.clone(),
        dir.path().join("t.parquet"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains(&blocker.display().to_string()), "{err}");
}
