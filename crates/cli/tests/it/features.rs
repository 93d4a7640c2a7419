//! Feature store: golden values for a hand-made dataset (every feature, NULL and zero-history
//! cases, zero denominators), and signal on synthetic data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support;
use creditrisk_base::catalog::FEATURES;
use creditrisk_base::catalog::{Column, Domain, RawTable};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A config whose paths all point into `root` (SQL from the repository).
pub(crate) fn test_config(root: &Path) -> creditrisk_base::Config {
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut cfg = creditrisk_base::Config::load(&manifest.join("configs/baseline.yaml")).unwrap();
    cfg.root = root.to_path_buf();
    cfg.paths.raw_dir = root.join("raw");
    cfg.paths.processed_dir = root.join("processed");
    cfg.paths.reports_dir = root.join("reports");
    cfg.paths.cache_dir = root.join("cache");
    cfg.paths.sql_dir = manifest.join("sql");
    cfg.features.store_file = root.join("processed/feature_store.parquet");
    cfg
}

/// A valid value for a non-nullable column nobody specified.
fn default_value(c: &Column) -> String {
    match c.domain {
        Domain::Id => "1".into(),
        Domain::Binary => "0".into(),
        Domain::Days | Domain::DaysOrSentinel => "-1000".into(),
        Domain::Months => "-1".into(),
        Domain::NonNegative | Domain::Any => "0".into(),
        Domain::UnitInterval => "0.5".into(),
        Domain::Range(lo, _) => format!("{}", lo as i64),
        Domain::Categories(v) => v[0].into(),
    }
}

/// Write `table` with its full catalog header; unspecified columns get a valid default (or stay
/// empty when nullable).
pub(crate) fn write_table(dir: &Path, table: RawTable, rows: &[Vec<(&str, &str)>]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let columns = table.columns();
    let mut text = table.header_line();
    text.push('\n');
    for row in rows {
        for (name, _) in row {
            assert!(
                table.column(name).is_some(),
                "{name} is not a column of {}",
                table.name()
            );
        }
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                let v = match row.iter().find(|(n, _)| *n == c.name) {
                    Some((_, v)) => v.to_string(),
                    None if c.nullable => String::new(),
                    None => default_value(c),
                };
                if v.contains(',') {
                    format!("\"{v}\"")
                } else {
                    v
                }
            })
            .collect();
        text.push_str(&values.join(","));
        text.push('\n');
    }
    let path = dir.join(table.file_name());
    std::fs::write(&path, text).unwrap();
    path
}

macro_rules! row {
    ($($k:expr => $v:expr),* $(,)?) => { vec![$(($k, $v)),*] };
}

/// The golden dataset: applicant 100001 (train, full history), 100002 (train, no history at all,
/// employment sentinel, zero income and family), 100003 (test, thin history with zero
/// denominators and a missing payment day).
fn write_golden(raw: &Path) {
    write_table(
        raw,
        RawTable::ApplicationTrain,
        &[
            row!["SK_ID_CURR" => "100001", "TARGET" => "1", "CNT_CHILDREN" => "1",
             "AMT_INCOME_TOTAL" => "200000", "AMT_CREDIT" => "400000", "AMT_ANNUITY" => "20000",
             "AMT_GOODS_PRICE" => "360000", "NAME_TYPE_SUITE" => "Spouse, partner",
             "DAYS_BIRTH" => "-14610", "DAYS_EMPLOYED" => "-3653", "OWN_CAR_AGE" => "5",
             "FLAG_MOBIL" => "1", "FLAG_EMP_PHONE" => "1", "FLAG_PHONE" => "1",
             "CNT_FAM_MEMBERS" => "3", "REG_CITY_NOT_WORK_CITY" => "1",
             "EXT_SOURCE_1" => "0.5", "EXT_SOURCE_3" => "0.3",
             "FLAG_DOCUMENT_3" => "1", "FLAG_DOCUMENT_8" => "1"],
            row!["SK_ID_CURR" => "100002", "TARGET" => "0", "AMT_INCOME_TOTAL" => "0",
             "AMT_CREDIT" => "100000", "DAYS_BIRTH" => "-20000", "DAYS_EMPLOYED" => "365243",
             "CNT_FAM_MEMBERS" => "0", "FLAG_OWN_CAR" => "Y", "NAME_CONTRACT_TYPE" => "Revolving loans"],
        ],
    );
    write_table(
        raw,
        RawTable::ApplicationTest,
        &[
            row!["SK_ID_CURR" => "100003", "AMT_INCOME_TOTAL" => "150000", "AMT_CREDIT" => "300000",
             "AMT_ANNUITY" => "30000", "AMT_GOODS_PRICE" => "270000", "DAYS_BIRTH" => "-12000",
             "DAYS_EMPLOYED" => "-1200", "CNT_FAM_MEMBERS" => "2", "EXT_SOURCE_1" => "0.2",
             "EXT_SOURCE_2" => "0.6", "EXT_SOURCE_3" => "0.7", "AMT_REQ_CREDIT_BUREAU_YEAR" => "2",
             "WEEKDAY_APPR_PROCESS_START" => "FRIDAY", "HOUR_APPR_PROCESS_START" => "17"],
        ],
    );
    write_table(
        raw,
        RawTable::Bureau,
        &[
            row!["SK_ID_CURR" => "100001", "SK_ID_BUREAU" => "5001", "CREDIT_ACTIVE" => "Active",
             "DAYS_CREDIT" => "-100", "DAYS_CREDIT_UPDATE" => "-10", "AMT_CREDIT_SUM" => "1000",
             "AMT_CREDIT_SUM_DEBT" => "500", "AMT_CREDIT_SUM_LIMIT" => "0",
             "AMT_CREDIT_SUM_OVERDUE" => "0", "AMT_CREDIT_MAX_OVERDUE" => "100",
             "CNT_CREDIT_PROLONG" => "1"],
            row!["SK_ID_CURR" => "100001", "SK_ID_BUREAU" => "5002", "CREDIT_ACTIVE" => "Closed",
             "DAYS_CREDIT" => "-800", "DAYS_CREDIT_UPDATE" => "-700", "AMT_CREDIT_SUM" => "2000",
             "AMT_CREDIT_SUM_DEBT" => "0", "AMT_CREDIT_SUM_OVERDUE" => "50",
             "CNT_CREDIT_PROLONG" => "0"],
            // Zero credit: its debt/credit ratio is NULL and stays out of BUREAU_UTIL_MEAN.
            row!["SK_ID_CURR" => "100001", "SK_ID_BUREAU" => "5003", "CREDIT_ACTIVE" => "Sold",
             "DAYS_CREDIT" => "-50", "DAYS_CREDIT_UPDATE" => "-5", "AMT_CREDIT_SUM" => "0",
             "AMT_CREDIT_SUM_DEBT" => "100", "AMT_CREDIT_SUM_LIMIT" => "300",
             "AMT_CREDIT_SUM_OVERDUE" => "0", "AMT_CREDIT_MAX_OVERDUE" => "20",
             "CNT_CREDIT_PROLONG" => "2"],
            row!["SK_ID_CURR" => "100003", "SK_ID_BUREAU" => "5004", "CREDIT_ACTIVE" => "Active",
             "DAYS_CREDIT" => "-30", "DAYS_CREDIT_UPDATE" => "-3", "AMT_CREDIT_SUM" => "0",
             "AMT_CREDIT_SUM_DEBT" => "0", "AMT_CREDIT_SUM_OVERDUE" => "0",
             "CNT_CREDIT_PROLONG" => "0"],
        ],
    );
    let bb = |id, m, s| row!["SK_ID_BUREAU" => id, "MONTHS_BALANCE" => m, "STATUS" => s];
    write_table(
        raw,
        RawTable::BureauBalance,
        &[
            bb("5001", "0", "C"),
            bb("5001", "-1", "2"),
            bb("5001", "-2", "0"),
            bb("5001", "-3", "1"),
            bb("5002", "-10", "X"),
            bb("5002", "-11", "0"),
            bb("5003", "-4", "5"),
        ],
    );
    write_table(
        raw,
        RawTable::PreviousApplication,
        &[
            row!["SK_ID_PREV" => "2001", "SK_ID_CURR" => "100001", "NAME_CONTRACT_STATUS" => "Approved",
             "AMT_APPLICATION" => "1000", "AMT_CREDIT" => "800", "RATE_DOWN_PAYMENT" => "0.1",
             "CNT_PAYMENT" => "12", "DAYS_DECISION" => "-100"],
            row!["SK_ID_PREV" => "2002", "SK_ID_CURR" => "100001", "NAME_CONTRACT_STATUS" => "Refused",
             "AMT_APPLICATION" => "500", "AMT_CREDIT" => "0", "DAYS_DECISION" => "-400"],
            row!["SK_ID_PREV" => "2003", "SK_ID_CURR" => "100001", "NAME_CONTRACT_STATUS" => "Canceled",
             "AMT_APPLICATION" => "300", "AMT_CREDIT" => "300", "RATE_DOWN_PAYMENT" => "0.2",
             "CNT_PAYMENT" => "24", "DAYS_DECISION" => "-50"],
            row!["SK_ID_PREV" => "2004", "SK_ID_CURR" => "100001", "NAME_CONTRACT_STATUS" => "Unused offer",
             "AMT_APPLICATION" => "100", "AMT_CREDIT" => "200", "RATE_DOWN_PAYMENT" => "0.0",
             "CNT_PAYMENT" => "6", "DAYS_DECISION" => "-20"],
            row!["SK_ID_PREV" => "2005", "SK_ID_CURR" => "100003", "NAME_CONTRACT_STATUS" => "Approved",
             "AMT_APPLICATION" => "1000", "AMT_CREDIT" => "1000", "CNT_PAYMENT" => "10",
             "DAYS_DECISION" => "-10"],
        ],
    );
    let inst = |prev, curr, due, paid, amt, pay| {
        row!["SK_ID_PREV" => prev, "SK_ID_CURR" => curr, "DAYS_INSTALMENT" => due,
             "DAYS_ENTRY_PAYMENT" => paid, "AMT_INSTALMENT" => amt, "AMT_PAYMENT" => pay]
    };
    write_table(
        raw,
        RawTable::InstallmentsPayments,
        &[
            inst("2001", "100001", "-100", "-105", "100", "100"), // early: 0 days late
            inst("2001", "100001", "-70", "-60", "100", "50"),    // 10 days late
            inst("2001", "100001", "-40", "0", "100", "150"),     // 40 days late: severe
            inst("2003", "100001", "-20", "-20", "200", "100"),   // on time
            inst("2003", "100001", "-10", "", "0", ""),           // unpaid, zero instalment
            inst("2005", "100003", "-10", "", "100", ""),         // unpaid
        ],
    );
    let cc = |prev, curr, m, bal, lim, min, pay, dpd, atm, draw| {
        row!["SK_ID_PREV" => prev, "SK_ID_CURR" => curr, "MONTHS_BALANCE" => m, "AMT_BALANCE" => bal,
             "AMT_CREDIT_LIMIT_ACTUAL" => lim, "AMT_INST_MIN_REGULARITY" => min,
             "AMT_PAYMENT_TOTAL_CURRENT" => pay, "SK_DPD" => dpd,
             "AMT_DRAWINGS_ATM_CURRENT" => atm, "AMT_DRAWINGS_CURRENT" => draw]
    };
    write_table(
        raw,
        RawTable::CreditCardBalance,
        &[
            cc(
                "2004", "100001", "-2", "500", "1000", "50", "50", "0", "100", "200",
            ),
            cc(
                "2004", "100001", "-1", "1000", "1000", "100", "20", "5", "0", "0",
            ),
            cc("2004", "100001", "0", "0", "0", "0", "0", "0", "", "0"), // zero limit, zero minimum
            cc("2005", "100003", "-1", "100", "0", "", "0", "0", "", "0"),
        ],
    );
    let pos = |prev, curr, m, status, dpd| {
        row!["SK_ID_PREV" => prev, "SK_ID_CURR" => curr, "MONTHS_BALANCE" => m,
             "NAME_CONTRACT_STATUS" => status, "SK_DPD" => dpd]
    };
    write_table(
        raw,
        RawTable::PosCashBalance,
        &[
            pos("2001", "100001", "-3", "Active", "0"),
            pos("2001", "100001", "-2", "Active", "3"),
            pos("2001", "100001", "-1", "Completed", "0"),
            pos("2003", "100001", "-5", "Active", "0"),
            pos("2003", "100001", "-4", "Signed", "0"),
            pos("2005", "100003", "-1", "Completed", "0"),
        ],
    );
}

#[derive(Clone, Debug, PartialEq)]
enum V {
    I(i64),
    F(f64),
    S(&'static str),
    B(bool),
    N,
}
use V::{B, F, I, N, S};

/// Every store column for the three golden applicants (100001, 100002, 100003).
fn golden_expected() -> Vec<(&'static str, [V; 3])> {
    let mut e: Vec<(&'static str, [V; 3])> = vec![
        ("SK_ID_CURR", [I(100001), I(100002), I(100003)]),
        ("TARGET", [I(1), I(0), N]),
        ("IS_TRAIN", [B(true), B(true), B(false)]),
        (
            "NAME_CONTRACT_TYPE",
            [S("Cash loans"), S("Revolving loans"), S("Cash loans")],
        ),
        ("FLAG_OWN_CAR", [S("N"), S("Y"), S("N")]),
        ("FLAG_OWN_REALTY", [S("N"), S("N"), S("N")]),
        ("CNT_CHILDREN", [I(1), I(0), I(0)]),
        ("AMT_INCOME_TOTAL", [F(200000.0), F(0.0), F(150000.0)]),
        ("AMT_CREDIT", [F(400000.0), F(100000.0), F(300000.0)]),
        ("AMT_ANNUITY", [F(20000.0), N, F(30000.0)]),
        ("AMT_GOODS_PRICE", [F(360000.0), N, F(270000.0)]),
        (
            "NAME_INCOME_TYPE",
            [S("Working"), S("Working"), S("Working")],
        ),
        (
            "NAME_EDUCATION_TYPE",
            [
                S("Secondary / secondary special"),
                S("Secondary / secondary special"),
                S("Secondary / secondary special"),
            ],
        ),
        (
            "NAME_FAMILY_STATUS",
            [
                S("Single / not married"),
                S("Single / not married"),
                S("Single / not married"),
            ],
        ),
        (
            "NAME_HOUSING_TYPE",
            [
                S("House / apartment"),
                S("House / apartment"),
                S("House / apartment"),
            ],
        ),
        ("DAYS_BIRTH", [I(-14610), I(-20000), I(-12000)]),
        ("DAYS_EMPLOYED", [I(-3653), N, I(-1200)]),
        ("DAYS_REGISTRATION", [F(-1000.0), F(-1000.0), F(-1000.0)]),
        ("DAYS_ID_PUBLISH", [I(-1000), I(-1000), I(-1000)]),
        ("OWN_CAR_AGE", [F(5.0), N, N]),
        ("FLAG_MOBIL", [I(1), I(0), I(0)]),
        ("FLAG_EMP_PHONE", [I(1), I(0), I(0)]),
        ("FLAG_WORK_PHONE", [I(0), I(0), I(0)]),
        ("FLAG_CONT_MOBILE", [I(0), I(0), I(0)]),
        ("FLAG_PHONE", [I(1), I(0), I(0)]),
        ("FLAG_EMAIL", [I(0), I(0), I(0)]),
        ("CNT_FAM_MEMBERS", [F(3.0), F(0.0), F(2.0)]),
        ("REGION_RATING_CLIENT", [I(1), I(1), I(1)]),
        ("REGION_RATING_CLIENT_W_CITY", [I(1), I(1), I(1)]),
        (
            "WEEKDAY_APPR_PROCESS_START",
            [S("MONDAY"), S("MONDAY"), S("FRIDAY")],
        ),
        ("HOUR_APPR_PROCESS_START", [I(0), I(0), I(17)]),
        ("REG_REGION_NOT_LIVE_REGION", [I(0), I(0), I(0)]),
        ("REG_REGION_NOT_WORK_REGION", [I(0), I(0), I(0)]),
        ("LIVE_REGION_NOT_WORK_REGION", [I(0), I(0), I(0)]),
        ("REG_CITY_NOT_LIVE_CITY", [I(0), I(0), I(0)]),
        ("REG_CITY_NOT_WORK_CITY", [I(1), I(0), I(0)]),
        ("LIVE_CITY_NOT_WORK_CITY", [I(0), I(0), I(0)]),
        ("EXT_SOURCE_1", [F(0.5), N, F(0.2)]),
        ("EXT_SOURCE_2", [N, N, F(0.6)]),
        ("EXT_SOURCE_3", [F(0.3), N, F(0.7)]),
        ("OBS_30_CNT_SOCIAL_CIRCLE", [N, N, N]),
        ("DEF_30_CNT_SOCIAL_CIRCLE", [N, N, N]),
        ("OBS_60_CNT_SOCIAL_CIRCLE", [N, N, N]),
        ("DEF_60_CNT_SOCIAL_CIRCLE", [N, N, N]),
        ("DAYS_LAST_PHONE_CHANGE", [N, N, N]),
    ];
    for doc in 2..=21 {
        let name: &'static str = Box::leak(format!("FLAG_DOCUMENT_{doc}").into_boxed_str());
        let v = if doc == 3 || doc == 8 { I(1) } else { I(0) };
        e.push((name, [v, I(0), I(0)]));
    }
    e.extend([
        ("AMT_REQ_CREDIT_BUREAU_HOUR", [N, N, N]),
        ("AMT_REQ_CREDIT_BUREAU_DAY", [N, N, N]),
        ("AMT_REQ_CREDIT_BUREAU_WEEK", [N, N, N]),
        ("AMT_REQ_CREDIT_BUREAU_MON", [N, N, N]),
        ("AMT_REQ_CREDIT_BUREAU_QRT", [N, N, N]),
        ("AMT_REQ_CREDIT_BUREAU_YEAR", [N, N, F(2.0)]),
        // Derived application features.
        (
            "AGE_YEARS",
            [F(40.0), F(20000.0 / 365.25), F(32.85420944558521)],
        ),
        ("DAYS_EMPLOYED_ANOM", [I(0), I(1), I(0)]),
        (
            "EMPLOYED_YEARS",
            [F(10.001368925393566), N, F(3.2854209445585214)],
        ),
        ("EMPLOYMENT_TO_AGE", [F(0.25003422313483914), N, F(0.1)]),
        ("PAYMENT_RATE", [F(0.05), N, F(0.1)]),
        ("CREDIT_TO_INCOME", [F(2.0), N, F(2.0)]),
        ("ANNUITY_TO_INCOME", [F(0.1), N, F(0.2)]),
        ("GOODS_TO_CREDIT", [F(0.9), N, F(0.9)]),
        ("INCOME_PER_PERSON", [F(66666.66666666667), N, F(75000.0)]),
        ("CHILDREN_RATIO", [F(1.0 / 3.0), N, F(0.0)]),
        ("EXT_SOURCE_1_IS_MISSING", [I(0), I(1), I(0)]),
        ("EXT_SOURCE_2_IS_MISSING", [I(1), I(1), I(0)]),
        ("EXT_SOURCE_3_IS_MISSING", [I(0), I(1), I(0)]),
        ("OWN_CAR_AGE_IS_MISSING", [I(0), I(1), I(1)]),
        ("EXT_SOURCE_MEAN", [F(0.4), N, F(0.5)]),
        ("EXT_SOURCE_MIN", [F(0.3), N, F(0.2)]),
        ("EXT_SOURCE_MAX", [F(0.5), N, F(0.7)]),
        ("DOC_COUNT", [I(2), I(0), I(0)]),
        ("CONTACT_COUNT", [I(3), I(0), I(0)]),
        ("ADDR_MISMATCH_SUM", [I(1), I(0), I(0)]),
        // 67 nullable raw columns (TARGET is not one); 100001 fills 7 of them (AMT_ANNUITY,
        // AMT_GOODS_PRICE, NAME_TYPE_SUITE, OWN_CAR_AGE, CNT_FAM_MEMBERS, EXT_SOURCE_1/3), 100002
        // fills CNT_FAM_MEMBERS, 100003 fills 7 (annuity, goods, family, three sources, enquiries).
        ("TOT_MISSING_COUNT", [I(60), I(66), I(60)]),
        // Bureau.
        ("HAS_BUREAU", [I(1), I(0), I(1)]),
        ("BUREAU_N_LOANS", [I(3), I(0), I(1)]),
        ("BUREAU_N_ACTIVE", [I(1), I(0), I(1)]),
        ("BUREAU_N_CLOSED", [I(1), I(0), I(0)]),
        ("BUREAU_LAST_CREDIT_DAYS", [I(-50), N, I(-30)]),
        ("BUREAU_LAST_UPDATE_DAYS", [I(-5), N, I(-3)]),
        ("BUREAU_TOTAL_DEBT", [F(600.0), N, F(0.0)]),
        ("BUREAU_TOTAL_CREDIT", [F(3000.0), N, F(0.0)]),
        ("BUREAU_LIMIT_SUM", [F(300.0), N, N]),
        ("BUREAU_UTIL_MEAN", [F(0.25), N, N]),
        ("BUREAU_OVERDUE_SUM", [F(50.0), N, F(0.0)]),
        ("BUREAU_MAX_OVERDUE", [F(100.0), N, N]),
        ("BUREAU_PROLONG_SUM", [I(3), N, I(0)]),
        // Bureau balance: lines 5001 (share 0.5, worst 2, last delinquent 1 month ago), 5002
        // (0, 0, never), 5003 (1, 5, 4 months ago); 5004 has no months.
        ("BB_DELINQ_SHARE_MEAN", [F(0.5), N, N]),
        ("BB_WORST_STATUS_MAX", [I(5), N, N]),
        ("BB_MONTHS_SINCE_LAST_DELINQ_MIN", [I(1), N, N]),
        // Previous applications.
        ("HAS_PREV", [I(1), I(0), I(1)]),
        ("PREV_TOTAL", [I(4), I(0), I(1)]),
        ("PREV_APPROVED", [I(1), I(0), I(1)]),
        ("PREV_REFUSED", [I(1), I(0), I(0)]),
        ("PREV_CANCELLED", [I(1), I(0), I(0)]),
        ("PREV_UNUSED", [I(1), I(0), I(0)]),
        ("PREV_APPROVAL_RATE", [F(0.25), N, F(1.0)]),
        ("PREV_REFUSED_RATE", [F(0.25), N, F(0.0)]),
        // (1000/800 + 300/300 + 100/200) / 3; the refused one has AMT_CREDIT 0.
        ("PREV_APP_CREDIT_RATIO_MEAN", [F(2.75 / 3.0), N, F(1.0)]),
        ("PREV_DOWNPAYMENT_RATE_MEAN", [F(0.10000000000000002), N, N]),
        ("PREV_CNT_PAYMENT_MEAN", [F(14.0), N, F(10.0)]),
        ("PREV_LAST_DECISION_DAYS", [I(-20), N, I(-10)]),
        ("PREV_EARLIEST_DECISION_DAYS", [I(-400), N, I(-10)]),
        // Instalments: loan 2001 ratios (1, .5, 1.5), days late (0, 10, 40); loan 2003 ratio .5
        // then an unpaid zero instalment (NULL ratio, NULL lateness).
        ("HAS_INSTAL", [I(1), I(0), I(1)]),
        ("INSTAL_PAYMENT_RATIO_MEAN", [F(0.75), N, N]),
        ("INSTAL_PAYMENT_RATIO_STD", [F(0.5), N, N]),
        ("INSTAL_LATE_MEAN", [F(8.333333333333334), N, N]),
        ("INSTAL_LATE_MAX", [F(40.0), N, N]),
        ("INSTAL_LATE_SHARE", [F(1.0 / 3.0), N, N]),
        ("INSTAL_SEVERE_LATE_SHARE", [F(1.0 / 6.0), N, N]),
        // Credit card: card 2004 months (util .5, 1, NULL), coverage (1, .2, NULL), met (1, 0, NULL).
        ("HAS_CC", [I(1), I(0), I(1)]),
        ("CC_UTIL_MEAN", [F(0.75), N, N]),
        ("CC_UTIL_MAX", [F(1.0), N, N]),
        ("CC_MINPAY_COVERAGE_MEAN", [F(0.6), N, N]),
        ("CC_MINPAY_MET_SHARE", [F(0.5), N, N]),
        ("CC_DPD_ANY_SHARE", [F(1.0 / 3.0), N, F(0.0)]),
        ("CC_DPD_MAX", [I(5), N, I(0)]),
        ("CC_CASH_RATIO_MEAN", [F(0.5), N, N]),
        // POS: loan 2001 (dpd share 1/3, max 3, last active 2 months ago), 2003 (0, 0, 5).
        ("HAS_POS", [I(1), I(0), I(1)]),
        ("POS_DPD_ANY_SHARE", [F(1.0 / 6.0), N, F(0.0)]),
        ("POS_DPD_MAX", [I(3), N, I(0)]),
        ("POS_MONTHS_SINCE_LAST_ACTIVE", [I(2), N, N]),
    ]);
    e
}

pub(crate) fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap()).collect()
}

fn cell(array: &dyn Array, row: usize) -> V {
    if array.is_null(row) {
        return N;
    }
    match array.data_type() {
        DataType::Int64 => I(array.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => F(array.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => B(array.as_boolean().value(row)),
        DataType::Utf8 => S(Box::leak(
            array
                .as_string::<i32>()
                .value(row)
                .to_string()
                .into_boxed_str(),
        )),
        other => panic!("unexpected store type {other}"),
    }
}

fn same(actual: &V, expected: &V) -> bool {
    match (actual, expected) {
        (F(a), F(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        _ => actual == expected,
    }
}

#[test]
fn golden_dataset_gives_every_feature_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(dir.path());
    write_golden(&support::layout(&cfg).raw_dir);
    let summary = support::build_feature_store(&cfg).unwrap();
    assert_eq!(summary.rows, 3);

    let batches = read_parquet(&support::layout(&cfg).store_file);
    let schema = batches[0].schema();
    let expected = golden_expected();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let expected_names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, expected_names,
        "store columns (and order) differ from the golden list"
    );
    assert_eq!(FEATURES.len() + 3, names.len());

    let mut rows: BTreeMap<i64, (usize, usize)> = BTreeMap::new();
    for (b, batch) in batches.iter().enumerate() {
        let ids = batch.column(0).as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            rows.insert(ids.value(r), (b, r));
        }
    }
    let mut wrong = vec![];
    for (column, values) in &expected {
        for (k, id) in [100001i64, 100002, 100003].iter().enumerate() {
            let (b, r) = rows[id];
            let batch = &batches[b];
            let actual = cell(batch.column_by_name(column).unwrap().as_ref(), r);
            if !same(&actual, &values[k]) {
                wrong.push(format!(
                    "{column}[{id}]: got {actual:?}, expected {:?}",
                    values[k]
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Types: ids and flags Int64, TARGET Int64 nullable, IS_TRAIN Boolean.
    assert_eq!(
        schema.field_with_name("SK_ID_CURR").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name("TARGET").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name("IS_TRAIN").unwrap().data_type(),
        &DataType::Boolean
    );

    // Lineage and reports.
    let lineage: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::layout(&cfg).lineage_file()).unwrap(),
    )
    .unwrap();
    assert_eq!(lineage["sources"].as_array().unwrap().len(), 8);
    assert_eq!(lineage["feature_store"]["rows"], 3);
    assert_eq!(
        lineage["config_hash"],
        cfg.hash_of(&creditrisk_data::features::FeatureStoreOptions::SECTIONS)
    );
    assert_eq!(lineage["sources"][0]["sha256"].as_str().unwrap().len(), 64);
    for table in RawTable::ALL {
        let report = support::layout(&cfg)
            .reports_dir
            .join(format!("validation/raw_{}.json", table.name()));
        assert!(report.is_file(), "{}", report.display());
    }
    assert!(
        support::layout(&cfg)
            .reports_dir
            .join("validation/feature_store.json")
            .is_file()
    );
}

/// The first build with the cache copies 40 % of the extract's CSV bytes (catalog order, a table
/// that would pass the share waits); the next one reads those copies and copies the rest (it may
/// copy 1.4 times the bytes it read from copies on top of the share); the third reads every
/// table from a copy. All three write the same store.
#[test]
fn parquet_cache_gives_the_same_store() {
    use creditrisk_data::features::TypedCopy;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.features.raw_parquet_cache = true;
    assert_eq!(cfg.features.cache_fill_share, 0.4);
    let layout = support::layout(&cfg);
    write_golden(&layout.raw_dir);
    let bytes = |t: &str| {
        let table = RawTable::ALL.iter().find(|r| r.name() == t).unwrap();
        std::fs::metadata(layout.raw_file(*table)).unwrap().len()
    };
    let total: u64 = RawTable::ALL.iter().map(|t| bytes(t.name())).sum();
    let copied = |s: &creditrisk_data::features::FeatureStoreSummary| -> Vec<String> {
        let written = s
            .tables
            .iter()
            .filter(|t| matches!(t.copy, TypedCopy::Written { .. }));
        written.map(|t| t.table.clone()).collect()
    };
    let deferred = |s: &creditrisk_data::features::FeatureStoreSummary| -> Vec<String> {
        let left = s.tables.iter().filter(|t| t.copy == TypedCopy::Deferred);
        left.map(|t| t.table.clone()).collect()
    };

    let cold = support::build_feature_store(&cfg).unwrap();
    assert!(cold.tables.iter().all(|t| format!("{:?}", t.from) == "Csv"));
    let first_copies = copied(&cold);
    let left = deferred(&cold);
    assert!(!first_copies.is_empty() && !left.is_empty(), "{cold:?}");
    assert_eq!(first_copies.len() + left.len(), RawTable::ALL.len());
    let first_bytes: u64 = first_copies.iter().map(|t| bytes(t)).sum();
    let share = (total as f64 * 0.4) as u64;
    assert!(first_bytes <= share, "{first_bytes} of {total}");
    // Greedy in catalog order: each table left over would have passed the share.
    assert!(left.iter().all(|t| first_bytes + bytes(t) > share));
    let first = read_parquet(&layout.store_file);

    let second = support::build_feature_store(&cfg).unwrap();
    for t in &second.tables {
        let from = format!("{:?}", t.from);
        match first_copies.contains(&t.table) {
            true => assert_eq!((from.as_str(), t.copy), ("ParquetCache", TypedCopy::None)),
            false => assert_eq!(from, "Csv"),
        }
    }
    assert_eq!(copied(&second), left, "{second:?}");
    assert_eq!(first, read_parquet(&layout.store_file));

    let warm = support::build_feature_store(&cfg).unwrap();
    assert!(
        warm.tables
            .iter()
            .all(|t| format!("{:?}", t.from) == "ParquetCache" && t.copy == TypedCopy::None),
        "{warm:?}"
    );
    assert_eq!(first, read_parquet(&layout.store_file));

    // A changed file is re-read, not served stale from the cache.
    write_table(
        &support::layout(&cfg).raw_dir,
        RawTable::PosCashBalance,
        &[row![
        "SK_ID_PREV" => "2001", "SK_ID_CURR" => "100001", "MONTHS_BALANCE" => "-7",
        "NAME_CONTRACT_STATUS" => "Active", "SK_DPD" => "9"]],
    );
    let changed = support::build_feature_store(&cfg).unwrap();
    let pos = changed
        .tables
        .iter()
        .find(|t| t.table == "pos_cash_balance")
        .unwrap();
    assert_eq!(format!("{:?}", pos.from), "Csv");
    let store = read_parquet(&support::layout(&cfg).store_file);
    let max = store[0].column_by_name("POS_DPD_MAX").unwrap();
    assert_eq!(cell(max.as_ref(), 0), I(9));
}

/// A rebuild over the same bytes, config and executable reuses each raw table's contract report
/// (byte for byte); a changed `validation` section, a changed file or a changed parent re-checks.
#[test]
fn contract_reports_are_reused_only_over_the_same_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.features.raw_parquet_cache = true;
    let layout = support::layout(&cfg);
    write_golden(&layout.raw_dir);
    let reports = || -> Vec<Vec<u8>> {
        RawTable::ALL
            .iter()
            .map(|t| std::fs::read(layout.validation_report(&format!("raw_{}", t.name()))))
            .map(Result::unwrap)
            .collect()
    };
    let reused = |s: &creditrisk_data::features::FeatureStoreSummary| -> Vec<String> {
        let tables = s.tables.iter().filter(|t| t.contracts_reused);
        tables.map(|t| t.table.clone()).collect()
    };
    let all: Vec<String> = RawTable::ALL.iter().map(|t| t.name().to_string()).collect();
    let lineage_reused = || -> Vec<bool> {
        let text = std::fs::read_to_string(layout.lineage_file()).unwrap();
        let lineage: creditrisk_data::features::lineage::DataLineage =
            serde_json::from_str(&text).unwrap();
        lineage.sources.iter().map(|s| s.contracts_reused).collect()
    };

    let first = support::build_feature_store(&cfg).unwrap();
    assert!(reused(&first).is_empty());
    let checked = reports();
    let store = read_parquet(&layout.store_file);
    let second = support::build_feature_store(&cfg).unwrap();
    assert_eq!(reused(&second), all);
    assert!(reports() == checked, "reused reports are the checked ones");
    assert_eq!(read_parquet(&layout.store_file), store);
    assert!(lineage_reused().iter().all(|r| *r));

    // Any change to the validation section is a new key.
    cfg.validation.sample_rows += 1;
    let config_changed = support::build_feature_store(&cfg).unwrap();
    assert!(reused(&config_changed).is_empty());
    assert!(lineage_reused().iter().all(|r| !*r));
    // Switched off, every table is checked again (and the reports stay the same).
    cfg.features.reuse_contract_reports = false;
    assert!(reused(&support::build_feature_store(&cfg).unwrap()).is_empty());
    assert!(reports() == checked);
    cfg.features.reuse_contract_reports = true;

    // A new previous_application: its own contracts and those of the tables whose SK_ID_PREV
    // is checked against it run again; the others are reused.
    let prev = layout.raw_file(RawTable::PreviousApplication);
    let text = std::fs::read_to_string(&prev).unwrap();
    let another_loan = text.lines().nth(1).unwrap().replacen("2001", "2999", 1);
    std::fs::write(&prev, format!("{text}{another_loan}\n")).unwrap();
    let parent_changed = support::build_feature_store(&cfg).unwrap();
    let rechecked: Vec<String> = all
        .iter()
        .filter(|t| !reused(&parent_changed).contains(t))
        .cloned()
        .collect();
    assert_eq!(
        rechecked,
        [
            "previous_application",
            "installments_payments",
            "credit_card_balance",
            "pos_cash_balance"
        ]
    );
}

/// ROC AUC of `score` against 0/1 labels (ties get half credit); NULL scores are skipped.
fn auc(pairs: &[(f64, i64)]) -> f64 {
    let (score, y): (Vec<f64>, Vec<f64>) = pairs.iter().map(|(s, t)| (*s, *t as f64)).unzip();
    creditrisk_model::metrics::roc_auc(&y, &score).unwrap()
}

#[test]
fn synthetic_store_has_one_row_per_applicant_and_signal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(dir.path());
    let truth = dir.path().join("truth.parquet");
    let opts = creditrisk_synth::SynthOptions::new(4000, 7, support::layout(&cfg).raw_dir, truth);
    let synth = support::synth(&opts).unwrap();
    let applicants = synth.files[0].rows + synth.files[1].rows;

    let summary = support::build_feature_store(&cfg).unwrap();
    assert_eq!(summary.rows, applicants);
    let batches = read_parquet(&support::layout(&cfg).store_file);
    let mut ids = std::collections::HashSet::new();
    let mut by_feature: BTreeMap<&str, Vec<(f64, i64)>> = BTreeMap::new();
    for batch in &batches {
        let id = batch
            .column_by_name("SK_ID_CURR")
            .unwrap()
            .as_primitive::<Int64Type>();
        let target = batch
            .column_by_name("TARGET")
            .unwrap()
            .as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            assert!(
                ids.insert(id.value(r)),
                "duplicate SK_ID_CURR {}",
                id.value(r)
            );
        }
        for feature in [
            "INSTAL_LATE_SHARE",
            "BB_DELINQ_SHARE_MEAN",
            "EXT_SOURCE_MEAN",
        ] {
            let col = batch
                .column_by_name(feature)
                .unwrap()
                .as_primitive::<Float64Type>();
            for r in 0..batch.num_rows() {
                if !target.is_null(r) && !col.is_null(r) {
                    by_feature
                        .entry(feature)
                        .or_default()
                        .push((col.value(r), target.value(r)));
                }
            }
        }
    }
    assert_eq!(ids.len() as u64, applicants);
    let late = auc(&by_feature["INSTAL_LATE_SHARE"]);
    let delinquent = auc(&by_feature["BB_DELINQ_SHARE_MEAN"]);
    let ext = auc(&by_feature["EXT_SOURCE_MEAN"]);
    eprintln!(
        "AUC: INSTAL_LATE_SHARE {late:.3}, BB_DELINQ_SHARE_MEAN {delinquent:.3}, EXT_SOURCE_MEAN {ext:.3}"
    );
    assert!(
        late.max(delinquent) > 0.55,
        "no aggregate signal: {late} / {delinquent}"
    );
    assert!(ext < 0.45, "EXT_SOURCE_MEAN should lower risk: {ext}");
}

/// The store's bytes depend on neither repetition nor the Parquet cache: each per-table statement
/// runs in one partition in file order while contracts, other tables' statements and cache fills
/// run beside it, and the store query is ordered. Six cold builds, a cache fill and five warm
/// builds at 1, 2 and 8 DataFusion partitions: before file scans stopped stealing work, about one
/// cold build in six at 2 partitions read a table's byte ranges out of order and a float sum
/// changed in its last bit.
#[test]
fn store_is_bit_identical_across_builds_and_the_cache() {
    let project = crate::cli::Project::new(|text| text);
    let root = project.root();
    let opts = creditrisk_synth::SynthOptions::new(
        3000,
        11,
        root.join("data/raw"),
        root.join("truth.parquet"),
    );
    support::synth(&opts).unwrap();
    let store = root.join("data/processed/feature_store.parquet");
    // DataFusion's partition count must not reach the values: the issue asks for 1, 2 and 8.
    let build = |cache: bool, partitions: u32| -> (Vec<u8>, String) {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_creditrisk"))
            .current_dir(root)
            .arg("build-feature-store")
            .env(
                "DATAFUSION_EXECUTION_TARGET_PARTITIONS",
                partitions.to_string(),
            )
            .env("CREDITRISK__FEATURES__RAW_PARQUET_CACHE", cache.to_string())
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{log}");
        (std::fs::read(&store).unwrap(), log)
    };
    let (first, _) = build(false, 1);
    for partitions in [2, 8, 2, 8, 2] {
        let (bytes, _) = build(false, partitions);
        assert!(
            bytes == first,
            "cold rebuild at {partitions} partitions differs"
        );
    }
    // Two builds fill the cache (`features.cache_fill_share`), each parsing some tables.
    for partitions in [2, 8] {
        let (filled, log) = build(true, partitions);
        assert!(
            filled == first && log.contains("(Csv)") && log.contains(" copy "),
            "cache fill: {log}"
        );
    }
    for partitions in [1, 2, 8, 2, 8] {
        let (bytes, log) = build(true, partitions);
        assert!(
            log.contains("(ParquetCache)") && !log.contains("(Csv)"),
            "{log}"
        );
        assert!(
            bytes == first,
            "warm build at {partitions} partitions differs"
        );
    }
    // No temp file is left beside the store.
    let leftovers: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Nor any build's folder of in-between feature tables.
    let spills = root.join("data/cache/features");
    let left = std::fs::read_dir(&spills).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "{}", spills.display());
}

/// The build's typed CSV reader gives DataFusion's arrays, value for value and bit for bit, on
/// the real Kaggle rows (quoted text with commas, floats like `0.0` and `-0.0`) and on synthetic
/// files cut into several byte ranges.
#[test]
fn typed_csv_reader_gives_datafusions_arrays() {
    use creditrisk_synth::SynthOptions;
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::prelude::{CsvReadOptions, SessionConfig, SessionContext};
    let dir = tempfile::tempdir().unwrap();
    let synthetic = dir.path().join("raw");
    support::synth(&SynthOptions::new(
        3000,
        5,
        synthetic.clone(),
        dir.path().join("t.parquet"),
    ))
    .unwrap();
    let samples =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("../shared/kaggle/samples");
    let mut files = vec![];
    for table in RawTable::ALL {
        if table != RawTable::ApplicationTest {
            files.push((table, samples.join(table.file_name())));
        }
        files.push((table, synthetic.join(table.file_name())));
    }
    for (table, path) in files {
        let schema = table.arrow_schema();
        let parts = creditrisk_data::csv_reader::read_typed(&path, &schema, 3, 1)
            .unwrap()
            .unwrap_or_else(|| panic!("{} declined", path.display()));
        let ours = concat_batches(&schema, parts.iter().flatten()).unwrap();
        let theirs = support::runtime().block_on(async {
            let options = CsvReadOptions::new().has_header(true).schema(&schema);
            let one_partition = SessionConfig::new().with_target_partitions(1);
            let df = SessionContext::new_with_config(one_partition)
                .read_csv(path.to_str().unwrap(), options)
                .await
                .unwrap();
            concat_batches(&schema, &df.collect().await.unwrap()).unwrap()
        });
        assert!(ours.num_rows() > 0, "{}", path.display());
        assert_eq!(ours.num_rows(), theirs.num_rows(), "{}", path.display());
        for (i, field) in schema.fields().iter().enumerate() {
            let (a, b) = (ours.column(i), theirs.column(i));
            if a.to_data() != b.to_data() {
                let row = (0..a.len())
                    .find(|r| a.slice(*r, 1).to_data() != b.slice(*r, 1).to_data())
                    .unwrap_or(0);
                let show = |x: &dyn Array| array_value_to_string(x, row).unwrap();
                panic!(
                    "{} column {} row {row}: {:?} (nulls {}) vs {:?} (nulls {})",
                    path.display(),
                    field.name(),
                    show(a),
                    a.null_count(),
                    show(b),
                    b.null_count()
                );
            }
        }
    }
}
