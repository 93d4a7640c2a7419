//! `batch-predict`: the same PD as the scoring core on the feature-store row of every applicant
//! (history from the store, from raw history files, or ready feature rows), bad rows refused
//! precisely, and every output format holding the same rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use creditrisk_base::catalog::RawTable;
use creditrisk_base::parquet_io;
use creditrisk_base::{Config, Layout};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::{ModelBundle, ScoreOptions};
use creditrisk_ops::predict::{self, History, PredictOptions, PredictRequest, PredictSummary};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};

use crate::support;

/// One synthetic project (3000 applicants, store, split, trained bundle) shared by these tests.
struct Trained {
    root: PathBuf,
    cfg: Config,
    model_dir: PathBuf,
    bundle: Arc<ModelBundle>,
    /// PD of the scoring core on each applicant's feature-store row.
    core_pd: HashMap<i64, f64>,
}

fn trained() -> &'static Trained {
    static PROJECT: OnceLock<Trained> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let (root, cfg, model_dir) = support::trained_project(3000, 11);
        let layout = Layout::new(&cfg);
        let bundle = Arc::new(ModelBundle::load(&model_dir).unwrap());
        let store = parquet_io::read_parquet(&layout.store_file, "").unwrap();
        let scored = bundle.score_batch(&store, ScoreOptions::default()).unwrap();
        let core_pd = scored.ids.iter().copied().zip(scored.pd).collect();
        Trained {
            root,
            cfg,
            model_dir,
            bundle,
            core_pd,
        }
    })
}

fn request(model: ModelRef, input: &Path, output: &Path, history: History) -> PredictRequest {
    PredictRequest {
        model,
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        threshold: None,
        history,
    }
}

fn run(t: &Trained, request: &PredictRequest) -> creditrisk_base::Result<PredictSummary> {
    let mut opts = PredictOptions::from_config(&t.cfg);
    opts.chunk_rows = 700; // several chunks, a partial last one
    support::runtime().block_on(predict::run(&Layout::new(&t.cfg), &opts, request))
}

fn path_ref(t: &Trained) -> ModelRef {
    ModelRef::Path(t.model_dir.clone())
}

pub(crate) fn ids_and_pd(batch: &RecordBatch) -> Vec<(i64, f64)> {
    let ids = batch
        .column_by_name("SK_ID_CURR")
        .unwrap()
        .as_primitive::<Int64Type>();
    let pd = batch
        .column_by_name("PD")
        .unwrap()
        .as_primitive::<Float64Type>();
    ids.values()
        .iter()
        .copied()
        .zip(pd.values().iter().copied())
        .collect()
}

fn csv_rows(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().map(|r| r.unwrap()).collect();
    (header, rows)
}

fn write_csv(path: &Path, header: &csv::StringRecord, rows: &[csv::StringRecord]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

fn assert_core_pd(t: &Trained, rows: &[(i64, f64)], what: &str) {
    for (id, pd) in rows {
        let core = t.core_pd[id];
        assert_eq!(*pd, core, "{what}: SK_ID_CURR {id}");
    }
}

#[test]
fn batch_predict_gives_the_scoring_core_pd_of_every_store_row() {
    let t = trained();
    let layout = Layout::new(&t.cfg);
    let out = t.root.join("parity");
    let train_csv = layout.raw_file(RawTable::ApplicationTrain);
    let (_, raw_rows) = csv_rows(&train_csv);

    // History from the feature store, model from the registry.
    let registered = ModelRef::Latest {
        name: TrackingOptions::from_config(&t.cfg).registry.model_name,
    };
    let output = out.join("store.parquet");
    let s = run(t, &request(registered, &train_csv, &output, History::Store)).unwrap();
    assert_eq!(s.rows_read as usize, raw_rows.len());
    assert_eq!(
        (s.rows_scored, s.rows_rejected, s.problems),
        (s.rows_read, 0, 0)
    );
    assert_ne!(s.model_version, "path");
    assert_eq!(s.bundle_sha256, t.bundle.bundle_sha256);
    let batch = parquet_io::read_parquet(&output, "").unwrap();
    let rows = ids_and_pd(&batch);
    assert_eq!(rows.len(), raw_rows.len());
    assert_core_pd(t, &rows, "history from the store");
    // Reason codes are present (k = the bundle's reason_codes).
    let k = t.bundle.card.reason_codes;
    assert!(batch.column_by_name(&format!("reason_{k}")).is_some());
    assert!(batch.column_by_name("model_version").is_some());
    // Every reason code has its statement beside it, from the bundle's reviewed table.
    for n in 1..=k {
        let codes = batch
            .column_by_name(&format!("reason_{n}"))
            .unwrap()
            .as_string::<i32>();
        let texts = batch
            .column_by_name(&format!("reason_{n}_statement"))
            .unwrap()
            .as_string::<i32>();
        for r in 0..batch.num_rows() {
            assert_eq!(codes.is_null(r), texts.is_null(r), "row {r}, reason {n}");
            if !codes.is_null(r) {
                let text = &t.bundle.reason_statements.statements[codes.value(r)].text;
                assert!(texts.value(r).starts_with(text.as_str()), "row {r}");
            }
        }
    }
    assert!(std::fs::read_to_string(&s.rejects).unwrap().is_empty());

    // History from the raw history files.
    let output = out.join("history.parquet");
    let history = History::Dir(layout.raw_dir.clone());
    let s = run(t, &request(path_ref(t), &train_csv, &output, history)).unwrap();
    assert_eq!(s.rows_scored as usize, raw_rows.len());
    assert_eq!(s.model_version, "path");
    let rows = ids_and_pd(&parquet_io::read_parquet(&output, "").unwrap());
    assert_eq!(rows.len(), raw_rows.len());
    assert_core_pd(t, &rows, "history from --history");

    // Ready feature-store rows.
    let output = out.join("features.parquet");
    let input = layout.store_file.clone();
    let s = run(t, &request(path_ref(t), &input, &output, History::Features)).unwrap();
    assert_eq!(s.rows_scored as usize, t.core_pd.len());
    let rows = ids_and_pd(&parquet_io::read_parquet(&output, "").unwrap());
    assert_eq!(rows.len(), t.core_pd.len());
    assert_core_pd(t, &rows, "--features");
}

#[test]
fn batch_predict_scores_every_good_row_and_rejects_every_bad_one() {
    let t = trained();
    let layout = Layout::new(&t.cfg);
    let dir = t.root.join("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let (header, rows) = csv_rows(&layout.raw_file(RawTable::ApplicationTest));
    let mut rows: Vec<csv::StringRecord> = rows.into_iter().take(300).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // (1-based data row, column, bad value)
    let bad = [
        (3, "AMT_CREDIT", "lots"),
        (7, "DAYS_BIRTH", "120"),
        (11, "NAME_CONTRACT_TYPE", "Mortgage"),
        (15, "SK_ID_CURR", ""),
    ];
    for (row, column, value) in bad {
        let record = &rows[row - 1];
        let mut fields: Vec<String> = record.iter().map(str::to_string).collect();
        fields[col(column)] = value.to_string();
        rows[row - 1] = csv::StringRecord::from(fields);
    }
    // Rows the CSV reader cannot split into the header's columns: too few fields, too many, and
    // not UTF-8 (patched into the bytes below).
    let malformed = [
        (19, "5 fields where the header has"),
        (23, "fields where the header has"),
        (27, "not valid UTF-8"),
    ];
    rows[18] = rows[18].iter().take(5).collect();
    rows[22].push_field("extra");
    rows[26] = rows[26]
        .iter()
        .map(|f| if f.is_empty() { "@@" } else { f })
        .collect();
    let input = dir.join("applications.csv");
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&input)
        .unwrap();
    w.write_record(&header).unwrap();
    for r in &rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    let text = std::fs::read(&input).unwrap();
    let at = text.windows(2).position(|w| w == b"@@").unwrap();
    let patched = [&text[..at], b"\xff\xfe".as_slice(), &text[at + 2..]].concat();
    std::fs::write(&input, patched).unwrap();
    let output = dir.join("scored.csv");
    let mut opts = PredictOptions::from_config(&t.cfg);
    opts.chunk_rows = 64; // rejects in several chunks
    let s = support::runtime()
        .block_on(predict::run(
            &layout,
            &opts,
            &request(path_ref(t), &input, &output, History::Store),
        ))
        .unwrap();
    assert_eq!(s.rows_read, 300);
    assert_eq!(s.rows_rejected, 7);
    assert_eq!(s.rows_scored, 293);
    assert_eq!(s.rows_scored + s.rows_rejected, s.rows_read);
    assert_eq!(s.problems, 7);
    assert_eq!(s.rejects, dir.join("scored.rejects.jsonl"));

    let mut lines: Vec<serde_json::Value> = std::fs::read_to_string(&s.rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l["row"].as_u64());
    assert_eq!(lines.len(), 7);
    let broken: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| malformed.iter().any(|(row, _)| l["row"] == *row as u64))
        .collect();
    for ((row, reason), line) in malformed.iter().zip(&broken) {
        assert_eq!(line["row"], *row as u64, "{line}");
        assert!(line["reason"].as_str().unwrap().contains(reason), "{line}");
    }
    lines.retain(|l| !malformed.iter().any(|(row, _)| l["row"] == *row as u64));
    for ((row, column, value), line) in bad.iter().zip(&lines) {
        assert_eq!(line["row"], *row as u64, "{line}");
        assert_eq!(line["column"], *column, "{line}");
        assert!(!line["reason"].as_str().unwrap().is_empty(), "{line}");
        assert!(!line["allowed"].as_str().unwrap().is_empty(), "{line}");
        if value.is_empty() {
            assert!(
                line["value"].is_null() && line["sk_id_curr"].is_null(),
                "{line}"
            );
        } else {
            assert_eq!(line["value"], *value, "{line}");
            let id: i64 = rows[row - 1][col("SK_ID_CURR")].parse().unwrap();
            assert_eq!(line["sk_id_curr"], id, "{line}");
        }
    }
    assert!(lines[0]["reason"].as_str().unwrap().contains("number"));
    assert!(lines[2]["allowed"].as_str().unwrap().contains("Cash loans"));

    // Every good row scored, with the core's PD; no bad row scored.
    let (out_header, scored) = csv_rows(&output);
    let id_at = out_header.iter().position(|h| h == "SK_ID_CURR").unwrap();
    let pd_at = out_header.iter().position(|h| h == "PD").unwrap();
    let mut got: Vec<i64> = scored.iter().map(|r| r[id_at].parse().unwrap()).collect();
    let mut want: Vec<i64> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| !bad.iter().any(|(row, _, _)| row - 1 == *i))
        .filter(|(i, _)| !malformed.iter().any(|(row, _)| row - 1 == *i))
        .map(|(_, r)| r[col("SK_ID_CURR")].parse().unwrap())
        .collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    for r in &scored {
        let id: i64 = r[id_at].parse().unwrap();
        assert_eq!(r[pd_at].parse::<f64>().unwrap(), t.core_pd[&id]);
    }
}

#[test]
fn batch_predict_writes_the_same_rows_as_csv_jsonl_and_parquet() {
    let t = trained();
    let layout = Layout::new(&t.cfg);
    let dir = t.root.join("formats");
    std::fs::create_dir_all(&dir).unwrap();
    let (header, rows) = csv_rows(&layout.raw_file(RawTable::ApplicationTest));
    let input = dir.join("applications.csv");
    write_csv(&input, &header, &rows[..400]);

    let mut outputs = vec![];
    for name in ["scored.parquet", "scored.csv", "scored.jsonl"] {
        let output = dir.join(name);
        let s = run(t, &request(path_ref(t), &input, &output, History::Store)).unwrap();
        assert_eq!((s.rows_read, s.rows_scored), (400, 400));
        outputs.push(output);
    }
    let parquet = parquet_io::read_parquet(&outputs[0], "").unwrap();
    let k = t.bundle.card.reason_codes;
    let expected: Vec<String> = parquet
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // id, PD, decision, band; per reason code: feature, value, contribution, statement; model
    // name, version, bundle sha256.
    assert_eq!(expected.len(), 4 + 4 * k + 3);
    let from_parquet = ids_and_pd(&parquet);
    assert_core_pd(t, &from_parquet, "parquet");

    let (csv_header, csv_body) = csv_rows(&outputs[1]);
    assert_eq!(csv_header.iter().collect::<Vec<_>>(), expected);
    let from_csv: Vec<(i64, f64)> = csv_body
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(from_csv, from_parquet);

    let jsonl = std::fs::read_to_string(&outputs[2]).unwrap();
    let from_json: Vec<(i64, f64)> = jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["model_version"], "path");
            assert!(v["decision"].is_string() && v["band"].is_string());
            (v["SK_ID_CURR"].as_i64().unwrap(), v["PD"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(from_json.len(), from_parquet.len());
    for ((a, x), (b, y)) in from_json.iter().zip(&from_parquet) {
        assert_eq!(a, b);
        // serde_json parses floats to within one ulp.
        assert!((x - y).abs() <= 1e-15, "{x} vs {y}");
    }

    // A missing required column is a file-level error naming it (exit 1 from the binary).
    let at = header.iter().position(|h| h == "AMT_CREDIT").unwrap();
    let drop = |r: &csv::StringRecord| -> csv::StringRecord {
        r.iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, v)| v)
            .collect()
    };
    let without = dir.join("without_amt_credit.csv");
    let rows: Vec<csv::StringRecord> = rows[..10].iter().map(drop).collect();
    write_csv(&without, &drop(&header), &rows);
    let output = dir.join("never.parquet");
    let err = run(t, &request(path_ref(t), &without, &output, History::Store))
        .unwrap_err()
        .to_string();
    assert!(err.contains("AMT_CREDIT"), "{err}");
    assert!(!output.exists());

    let project = crate::cli::Project::new(|text| text);
    let out = project.run(&[
        "batch-predict",
        "--model",
        t.model_dir.to_str().unwrap(),
        "--input",
        without.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AMT_CREDIT") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn an_applicant_outside_the_store_gets_the_no_history_features() {
    let t = trained();
    let layout = Layout::new(&t.cfg);
    let dir = t.root.join("new_applicant");
    std::fs::create_dir_all(&dir).unwrap();
    // Store applicants without any history row: their store row holds the "no history" values.
    let store = parquet_io::read_parquet(&layout.store_file, "").unwrap();
    let has = |name: &str| -> Vec<i64> {
        store
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    };
    let flags: Vec<Vec<i64>> = ["HAS_BUREAU", "HAS_PREV", "HAS_INSTAL", "HAS_CC", "HAS_POS"]
        .iter()
        .map(|n| has(n))
        .collect();
    let ids = has("SK_ID_CURR");
    let without: Vec<i64> = (0..ids.len())
        .filter(|r| flags.iter().all(|f| f[*r] == 0))
        .map(|r| ids[r])
        .collect();
    assert!(
        !without.is_empty(),
        "the synthetic run has applicants without history"
    );

    // Their raw rows under new ids (unknown to the store) score exactly as their store rows.
    let (header, rows) = csv_rows(&layout.raw_file(RawTable::ApplicationTrain));
    let at = header.iter().position(|h| h == "SK_ID_CURR").unwrap();
    let offset = 900_000_000;
    let renamed: Vec<csv::StringRecord> = rows
        .iter()
        .filter(|r| without.contains(&r[at].parse().unwrap()))
        .map(|r| {
            let mut fields: Vec<String> = r.iter().map(str::to_string).collect();
            fields[at] = (fields[at].parse::<i64>().unwrap() + offset).to_string();
            csv::StringRecord::from(fields)
        })
        .collect();
    assert!(!renamed.is_empty());
    let input = dir.join("new.csv");
    write_csv(&input, &header, &renamed);
    let output = dir.join("new.parquet");
    let s = run(t, &request(path_ref(t), &input, &output, History::Store)).unwrap();
    assert_eq!(s.rows_scored as usize, renamed.len());
    for (id, pd) in ids_and_pd(&parquet_io::read_parquet(&output, "").unwrap()) {
        assert!(!t.core_pd.contains_key(&id));
        assert_eq!(pd, t.core_pd[&(id - offset)], "SK_ID_CURR {id}");
    }
}

#[test]
fn the_serving_contract_follows_the_catalog_domains() {
    use creditrisk_model::serving_contract::{Value, check_value};
    let column = |name: &str| RawTable::ApplicationTest.column(name).unwrap();
    let ok = |name: &str, v: Option<&str>| check_value(&column(name), v).is_ok();
    assert!(ok("SK_ID_CURR", Some("100002")) && !ok("SK_ID_CURR", Some("0")));
    assert!(!ok("SK_ID_CURR", None) && !ok("SK_ID_CURR", Some("")));
    assert!(ok("FLAG_MOBIL", Some("1")) && !ok("FLAG_MOBIL", Some("2")));
    assert!(ok("DAYS_BIRTH", Some("-12000")) && !ok("DAYS_BIRTH", Some("1")));
    assert!(ok("DAYS_EMPLOYED", Some("365243")) && !ok("DAYS_EMPLOYED", Some("365242")));
    assert!(ok("AMT_ANNUITY", None) && !ok("AMT_ANNUITY", Some("-1")));
    assert!(!ok("AMT_CREDIT", Some("NaN")) && !ok("AMT_CREDIT", Some("inf")));
    assert!(ok("EXT_SOURCE_1", Some("0.5")) && !ok("EXT_SOURCE_1", Some("1.5")));
    assert!(ok("REGION_RATING_CLIENT", Some("3")) && !ok("REGION_RATING_CLIENT", Some("4")));
    assert!(ok("CODE_GENDER", Some("XNA")) && !ok("CODE_GENDER", Some("X")));
    assert!(!ok("CNT_CHILDREN", Some("1.5")));
    assert_eq!(
        check_value(&column("AMT_CREDIT"), Some("1000.5")),
        Ok(Value::Float(1000.5))
    );
}
