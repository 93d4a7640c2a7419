//! Split → train → evaluate on a small feature-store-like Parquet with a known signal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use creditrisk::config::{Calibration, ClassWeight, Learner};
use creditrisk::contracts::splits::{SplitKeys, check};
use creditrisk::evaluate::{self, EvalSplit};
use creditrisk::model::bundle::{DETERMINISTIC_FILES, LEARNER_FILE};
use creditrisk::model::{self, ModelBundle, io};
use creditrisk::{Config, Error, split};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LABELLED: usize = 4000;
const UNLABELLED: usize = 300;

/// A config whose paths all point into `root`.
fn config(root: &Path) -> Config {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg =
        Config::load_with_overrides(&manifest.join("configs/baseline.yaml"), &[]).unwrap();
    cfg.root = root.to_path_buf();
    cfg.paths.processed_dir = root.join("processed");
    cfg.paths.reports_dir = root.join("reports");
    cfg.paths.models_dir = root.join("models");
    cfg.features.store_file = root.join("processed/feature_store.parquet");
    cfg.model.monotone_constraints.clear();
    cfg
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Feature-store-like rows: a U-shaped effect of X1 (trees can, a linear model cannot, fit it),
/// a linear X2, a categorical with NULLs, noise, a constant column; NULL TARGET for the
/// unlabelled applicants. Returns the batch and the true PD of every row.
fn store_batch(seed: u64) -> (RecordBatch, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = LABELLED + UNLABELLED;
    let (mut ids, mut target, mut is_train, mut x1, mut x2, mut x3, mut cat, mut truth) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for i in 0..n {
        let a: f64 = rng.random::<f64>() * 4.0 - 2.0;
        let b: i64 = rng.random_range(0..100);
        let c = ["A", "B", "C", "D"][rng.random_range(0..4)];
        let z = -3.6
            + 2.4 * f64::from(u8::from(a.abs() > 1.0))
            + 0.02 * (b as f64 - 50.0)
            + if c == "B" { 0.8 } else { 0.0 };
        let pd = sigmoid(z);
        let labelled = i < LABELLED;
        ids.push(100_000 + i as i64);
        target.push(labelled.then(|| i64::from(rng.random::<f64>() < pd)));
        is_train.push(labelled);
        x1.push((rng.random::<f64>() > 0.1).then_some(a));
        x2.push(b);
        x3.push((rng.random::<f64>() > 0.3).then(|| rng.random::<f64>()));
        cat.push((rng.random::<f64>() > 0.05).then_some(c));
        truth.push(pd);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("SK_ID_CURR", DataType::Int64, false),
        Field::new("TARGET", DataType::Int64, true),
        Field::new("IS_TRAIN", DataType::Boolean, false),
        Field::new("X1", DataType::Float64, true),
        Field::new("X2", DataType::Int64, true),
        Field::new("NOISE", DataType::Float64, true),
        Field::new("CAT", DataType::Utf8, true),
        Field::new("CONSTANT", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(Int64Array::from(target)),
        Arc::new(BooleanArray::from(is_train)),
        Arc::new(Float64Array::from(x1)),
        Arc::new(Int64Array::from(x2)),
        Arc::new(Float64Array::from(x3)),
        Arc::new(StringArray::from(cat)),
        Arc::new(Float64Array::from(vec![1.0; n])),
    ];
    (RecordBatch::try_new(schema, columns).unwrap(), truth)
}

/// A project folder with a feature store, and its config.
fn project() -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    io::write_parquet(&cfg.store_file(), &store_batch(5).0).unwrap();
    (dir, cfg)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn split_is_deterministic_stratified_and_leak_free() {
    let (_dir, cfg) = project();
    let s = split::run(&cfg).unwrap();
    assert_eq!(s.labelled_rows, LABELLED);
    assert_eq!(s.unlabelled_rows, UNLABELLED);
    assert_eq!(s.test_rows, 800);
    assert!(
        (s.train_default_rate - s.test_default_rate).abs() < 0.002,
        "{s:?}"
    );
    let (train, test) = (read(&s.train_file), read(&s.test_file));
    let report: serde_json::Value = serde_json::from_slice(&read(&s.validation_report)).unwrap();
    assert_eq!(report["passed"], true);

    let again = split::run(&cfg).unwrap();
    assert_eq!(read(&again.train_file), train);
    assert_eq!(read(&again.test_file), test);
}

#[test]
fn leakage_check_fails_on_an_overlapping_split() {
    let (_dir, cfg) = project();
    let s = split::run(&cfg).unwrap();
    let train = SplitKeys::from_file(&s.train_file).unwrap();
    let mut test = SplitKeys::from_file(&s.test_file).unwrap();
    test.ids[0] = train.ids[3];
    test.targets[0] = train.targets[3];
    let report = check(&train, &test, 5, "overlap");
    assert!(!report.passed);
    let err = report.ensure_passed().unwrap_err();
    assert!(matches!(err, Error::Check(_)));
    let text = err.to_string();
    assert!(
        text.contains("disjoint") && text.contains("SK_ID_CURR"),
        "{text}"
    );
}

#[test]
fn end_to_end_trees_and_logistic_produce_every_artifact() {
    let (_dir, cfg) = project();
    split::run(&cfg).unwrap();

    let trees = model::train(&cfg).unwrap();
    assert_eq!(trees.dropped_constant, vec!["CONSTANT".to_string()]);
    assert!(trees.trees.unwrap() > 0);
    // Isotonic calibration on the validation slice: the mean PD matches the default rate.
    let v = &trees.validation;
    assert!((v.mean_pd - v.default_rate).abs() < 0.01, "{v:?}");
    for file in DETERMINISTIC_FILES
        .iter()
        .chain(&["metadata.json", "manifest.json"])
    {
        assert!(trees.model_dir.join(file).is_file(), "{file}");
    }

    let test = evaluate::run(&cfg, EvalSplit::Test).unwrap();
    let train = evaluate::run(&cfg, EvalSplit::Train).unwrap();
    let reports = cfg.reports_dir();
    for (summary, metrics, dir, preds) in [
        (
            &test,
            "test_metrics.json",
            "test_evaluation",
            "test_predictions.parquet",
        ),
        (
            &train,
            "metrics.json",
            "evaluation",
            "train_predictions.parquet",
        ),
    ] {
        assert_eq!(summary.metrics_file, reports.join(metrics));
        let m: serde_json::Value = serde_json::from_slice(&read(&summary.metrics_file)).unwrap();
        for key in [
            "roc_auc",
            "gini",
            "ks",
            "brier",
            "log_loss",
            "ece",
            "accuracy",
            "precision",
            "recall",
            "f1",
        ] {
            assert!(
                m[key].as_f64().is_some_and(f64::is_finite),
                "{metrics}: {key}"
            );
        }
        assert_eq!(
            m["pd_bands"].as_array().unwrap().len(),
            cfg.inference.pd_bands.len() + 1
        );
        for plot in [
            "roc",
            "precision_recall",
            "calibration",
            "confusion_matrix",
            "score_distribution",
        ] {
            for ext in ["png", "svg"] {
                let path = reports.join(dir).join(format!("{plot}.{ext}"));
                assert!(read(&path).len() > 1000, "{}", path.display());
            }
        }
        let html = String::from_utf8(read(&reports.join(dir).join("report.html"))).unwrap();
        assert!(html.contains("<svg") && html.contains("ROC AUC") && html.contains("equal-width"));
        assert!(
            !html.contains("http://") || !html.contains("<script src"),
            "no network in the report"
        );
        let predictions = io::read_parquet(&reports.join(preds), "").unwrap();
        let names: Vec<String> = predictions
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["SK_ID_CURR", "y_true", "PD", "decision", "band"]);
        assert_eq!(predictions.num_rows(), summary.metrics.rows);
    }
    let t = &test.metrics;
    assert!(t.roc_auc > 0.70, "{t:?}");
    assert!(t.brier < t.brier_base_rate, "{t:?}");

    // The logistic challenger, as a second model name.
    let mut lcfg = cfg.clone();
    lcfg.model.learner = Learner::Logistic;
    lcfg.model.name = "challenger".into();
    let logistic = model::train(&lcfg).unwrap();
    assert!(logistic.trees.is_none());
    assert!(logistic.design_columns > trees.design_columns); // dummies + missing indicators
    let ltest = evaluate::run(&lcfg, EvalSplit::Test).unwrap().metrics;
    assert!(ltest.roc_auc > 0.55);
    assert!(
        t.roc_auc > ltest.roc_auc + 0.03,
        "trees {} should beat logistic {} on the U-shaped signal",
        t.roc_auc,
        ltest.roc_auc
    );

    // Bayes AUC of the same test rows from a truth file.
    let (_, truth) = store_batch(5);
    let store = io::read_parquet(&cfg.store_file(), "").unwrap();
    let truth_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("SK_ID_CURR", DataType::Int64, false),
            Field::new("TRUE_PD", DataType::Float64, false),
        ])),
        vec![store.column(0).clone(), Arc::new(Float64Array::from(truth))],
    )
    .unwrap();
    let truth_file = cfg.root.join("truth.parquet");
    io::write_parquet(&truth_file, &truth_batch).unwrap();
    let bayes =
        evaluate::bayes_auc(&cfg.processed_dir().join("test.parquet"), &truth_file).unwrap();
    eprintln!(
        "test AUC: trees {:.4}, logistic {:.4}, Bayes {bayes:.4}",
        t.roc_auc, ltest.roc_auc
    );
    assert!(
        bayes > t.roc_auc - 0.02 && bayes < 1.0,
        "bayes {bayes} vs model {}",
        t.roc_auc
    );
    if let Ok(keep) = std::env::var("CREDITRISK_KEEP_TEST_REPORTS") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        for f in [
            "roc.png",
            "calibration.png",
            "confusion_matrix.png",
            "score_distribution.png",
            "precision_recall.png",
            "report.html",
        ] {
            std::fs::copy(reports.join("test_evaluation").join(f), keep.join(f)).unwrap();
        }
    }
}

#[test]
fn training_is_deterministic() {
    let (_dir, cfg) = project();
    split::run(&cfg).unwrap();
    let a = model::train(&cfg).unwrap();
    let b = model::train(&cfg).unwrap();
    assert_ne!(a.model_dir, b.model_dir);
    for file in DETERMINISTIC_FILES {
        assert_eq!(
            read(&a.model_dir.join(file)),
            read(&b.model_dir.join(file)),
            "{file}"
        );
    }
}

#[test]
fn bundle_round_trips_scores_with_reasons_and_refuses_a_modified_file() {
    let (_dir, cfg) = project();
    split::run(&cfg).unwrap();
    let summary = model::train(&cfg).unwrap();
    let bundle = ModelBundle::load_latest(&cfg).unwrap();
    assert_eq!(bundle.dir, summary.model_dir);
    assert_eq!(bundle.validation_metrics, summary.validation);

    let test = io::read_parquet(&cfg.processed_dir().join("test.parquet"), "").unwrap();
    let batch = test.slice(0, 50);
    let decisions = bundle.score(&batch).unwrap();
    let pds = bundle.predict_pd(&batch).unwrap();
    assert_eq!(decisions.len(), 50);
    for (d, pd) in decisions.iter().zip(&pds) {
        assert!((d.pd - pd).abs() < 1e-12);
        assert!(d.reasons.len() <= cfg.inference.reason_codes);
        assert!(
            d.reasons
                .windows(2)
                .all(|w| w[0].contribution >= w[1].contribution)
        );
        assert!(
            d.reasons
                .iter()
                .all(|r| r.contribution > 0.0 && r.feature != "CONSTANT")
        );
    }
    let risky = decisions
        .iter()
        .max_by(|a, b| a.pd.total_cmp(&b.pd))
        .unwrap();
    assert!(!risky.reasons.is_empty());
    assert_eq!(risky.decision, model::Outcome::Decline, "{risky:?}");

    // A modified file is refused, naming the file.
    let learner = summary.model_dir.join(LEARNER_FILE);
    let mut text = read(&learner);
    text.push(b' ');
    std::fs::write(&learner, text).unwrap();
    let err = ModelBundle::load(&summary.model_dir)
        .err()
        .expect("modified bundle must not load");
    let msg = err.to_string();
    assert!(
        msg.contains("learner.json") && msg.contains("modified"),
        "{msg}"
    );
}

#[test]
fn rebalancing_with_calibration_still_gives_a_pd_at_the_base_rate() {
    let (_dir, cfg) = project();
    split::run(&cfg).unwrap();
    type Case = (fn(&mut Config), &'static str);
    let cases: [Case; 3] = [
        (
            |c| {
                c.training.downsample_majority = true;
                c.training.downsample_ratio = 2.0;
                c.training.calibration = Calibration::PriorCorrection;
            },
            "downsample + prior correction",
        ),
        (
            |c| {
                c.training.use_smote = true;
                c.training.calibration = Calibration::Platt;
            },
            "smote + platt",
        ),
        (
            |c| {
                c.training.class_weight = ClassWeight::Balanced;
                c.training.calibration = Calibration::Isotonic;
                c.model.learner = Learner::Logistic;
            },
            "class weights + isotonic (logistic)",
        ),
    ];
    for (tweak, name) in cases {
        let mut c = cfg.clone();
        c.training.downsample_majority = false;
        tweak(&mut c);
        let s = model::train(&c).unwrap();
        assert!(
            s.rebalance.log_odds_shift > 0.3,
            "{name}: {:?}",
            s.rebalance
        );
        let v = &s.validation;
        assert!(
            (v.mean_pd - v.default_rate).abs() < 0.02,
            "{name}: mean PD {} vs rate {}",
            v.mean_pd,
            v.default_rate
        );
        assert!(v.roc_auc > 0.7, "{name}: {v:?}");
    }
}

#[test]
fn bad_inputs_are_single_clear_errors() {
    // No split yet.
    let (_dir, cfg) = project();
    let err = model::train(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("train.parquet") && err.contains("split-data"),
        "{err}"
    );
    let err = evaluate::run(&cfg, EvalSplit::Test)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("creditrisk train") || err.contains("split-data"),
        "{err}"
    );
    split::run(&cfg).unwrap();

    // Unknown monotone feature and unknown forust parameter name the key.
    let mut c = cfg.clone();
    c.model
        .monotone_constraints
        .insert("NOT_A_FEATURE".into(), 1);
    let err = model::train(&c).unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(
        err.to_string()
            .contains("model.monotone_constraints.NOT_A_FEATURE"),
        "{err}"
    );
    let mut c = cfg.clone();
    c.model
        .params
        .insert("max_dpth".into(), serde_json::json!(3));
    let err = model::train(&c).unwrap_err();
    assert!(
        matches!(err, Error::Config(_)) && err.to_string().contains("model.params.max_dpth"),
        "{err}"
    );

    // A feature with inf.
    let mut batch = io::read_parquet(&cfg.processed_dir().join("train.parquet"), "").unwrap();
    let idx = batch.schema().index_of("NOISE").unwrap();
    let mut noise: Vec<Option<f64>> = vec![Some(0.5); batch.num_rows()];
    noise[7] = Some(f64::INFINITY);
    let mut columns = batch.columns().to_vec();
    columns[idx] = Arc::new(Float64Array::from(noise));
    batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    io::write_parquet(&cfg.processed_dir().join("train.parquet"), &batch).unwrap();
    let err = model::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("NOISE") && err.contains("infinite"), "{err}");

    // One-class labels.
    let labels: Vec<i64> = vec![0; batch.num_rows()];
    let idx = batch.schema().index_of("TARGET").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[idx] = Arc::new(Int64Array::from(labels));
    let one_class = RecordBatch::try_new(batch.schema(), columns).unwrap();
    io::write_parquet(&cfg.processed_dir().join("train.parquet"), &one_class).unwrap();
    let err = model::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("labels are 0"), "{err}");
}

/// CPU seconds (user + system) of this process so far, from /proc (Linux), for timings that
/// stay comparable while other work shares the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Full-scale timing on a given feature store (see benches/train.sh):
/// `CREDITRISK_BENCH_STORE=/path/store.parquet cargo test --release --test it model::bench -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_full_scale() {
    let Ok(store) = std::env::var("CREDITRISK_BENCH_STORE") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Environment overrides (CREDITRISK__MODEL__PARAMS__MAX_DEPTH=4, …) apply, for tuning.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = Config::load(&manifest.join("configs/baseline.yaml")).unwrap();
    cfg.root = dir.path().to_path_buf();
    cfg.paths.processed_dir = dir.path().join("processed");
    cfg.paths.reports_dir = dir.path().join("reports");
    cfg.paths.models_dir = dir.path().join("models");
    cfg.features.store_file = PathBuf::from(store);
    if std::env::var("CREDITRISK_BENCH_NO_MONOTONE").is_ok() {
        cfg.model.monotone_constraints.clear();
    }
    let t = std::time::Instant::now();
    let s = split::run(&cfg).unwrap();
    eprintln!("split {:.2}s {s:?}", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let cpu = cpu_seconds();
    let m = model::train(&cfg).unwrap();
    eprintln!("train cpu {:.2}s", cpu_seconds() - cpu);
    eprintln!(
        "train {:.2}s trees {:?} val auc {:.4} ece {:.4}",
        t.elapsed().as_secs_f64(),
        m.trees,
        m.validation.roc_auc,
        m.validation.ece
    );
    let t = std::time::Instant::now();
    let e = evaluate::run(&cfg, EvalSplit::Test).unwrap();
    eprintln!(
        "evaluate {:.2}s auc {:.4} ece {:.4} brier {:.5} (base {:.5})",
        t.elapsed().as_secs_f64(),
        e.metrics.roc_auc,
        e.metrics.ece,
        e.metrics.brier,
        e.metrics.brier_base_rate
    );
    if let Ok(truth) = std::env::var("CREDITRISK_BENCH_TRUTH") {
        let bayes = evaluate::bayes_auc(&s.test_file, Path::new(&truth)).unwrap();
        eprintln!(
            "Bayes AUC {bayes:.4} (model {:.4}, gap {:.4})",
            e.metrics.roc_auc,
            bayes - e.metrics.roc_auc
        );
    }
}

/// Writes a full-scale feature-store-like Parquet (307,511 labelled + 48,744 unlabelled rows,
/// 150 features, ~8 % defaults, non-linear signal) and its truth file, for tuning speed before
/// the real synthetic store exists:
/// `CREDITRISK_BENCH_OUT=bench-data cargo test --release --test it model::bench_make -- --ignored`
#[test]
#[ignore]
fn bench_make_store() {
    let Ok(out) = std::env::var("CREDITRISK_BENCH_OUT") else {
        return;
    };
    let out = PathBuf::from(out);
    let (labelled, unlabelled) = (307_511usize, 48_744usize);
    let n = labelled + unlabelled;
    let (n_numeric, n_categorical) = (135usize, 15usize);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let gauss = |rng: &mut ChaCha8Rng| -> f64 {
        // Box–Muller
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    };
    let mut numeric: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(n); n_numeric];
    let mut cats: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(n); n_categorical];
    let (mut target, mut truth) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let risk = gauss(&mut rng);
        let mut z = -3.55 + 0.9 * risk;
        for (j, col) in numeric.iter_mut().enumerate() {
            // The first 25 columns carry signal (some non-linear), the rest are noise.
            let x = if j < 25 {
                0.6 * risk + 0.8 * gauss(&mut rng)
            } else {
                gauss(&mut rng)
            };
            if j < 25 {
                z += match j % 5 {
                    0 => 0.15 * x,
                    1 => 0.25 * (x.abs() > 1.2) as u8 as f64,
                    2 => -0.1 * x * x,
                    3 => 0.2 * (x > 0.5) as u8 as f64,
                    _ => 0.0,
                };
            }
            let missing = rng.random::<f64>() < (j % 7) as f64 * 0.08;
            let value = if j % 3 == 0 {
                (x * 0.5 + 10.0).exp().round()
            } else {
                x
            };
            col.push((!missing).then_some(value));
        }
        for (j, col) in cats.iter_mut().enumerate() {
            let level = rng.random_range(0..(3 + j * 4));
            if j < 5 && level == 0 {
                z += 0.3;
            }
            col.push((rng.random::<f64>() > 0.03).then(|| format!("L{level}")));
        }
        let pd = 1.0 / (1.0 + (-z).exp());
        truth.push(pd);
        target.push((i < labelled).then(|| i64::from(rng.random::<f64>() < pd)));
    }
    let mut fields = vec![
        Field::new("SK_ID_CURR", DataType::Int64, false),
        Field::new("TARGET", DataType::Int64, true),
        Field::new("IS_TRAIN", DataType::Boolean, false),
    ];
    let ids: Vec<i64> = (0..n as i64).map(|i| 100_002 + i).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Int64Array::from(target)),
        Arc::new(BooleanArray::from(
            (0..n).map(|i| i < labelled).collect::<Vec<_>>(),
        )),
    ];
    for (j, col) in numeric.into_iter().enumerate() {
        if j % 3 == 0 {
            fields.push(Field::new(format!("AMT_{j}"), DataType::Int64, true));
            columns.push(Arc::new(Int64Array::from(
                col.into_iter()
                    .map(|v| v.map(|v| v as i64))
                    .collect::<Vec<_>>(),
            )));
        } else {
            fields.push(Field::new(format!("NUM_{j}"), DataType::Float64, true));
            columns.push(Arc::new(Float64Array::from(col)));
        }
    }
    for (j, col) in cats.into_iter().enumerate() {
        fields.push(Field::new(format!("CAT_{j}"), DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from(col)));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    io::write_parquet(&out.join("feature_store.parquet"), &batch).unwrap();
    let truth_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("SK_ID_CURR", DataType::Int64, false),
            Field::new("TRUE_PD", DataType::Float64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Float64Array::from(truth)),
        ],
    )
    .unwrap();
    io::write_parquet(&out.join("synth_truth.parquet"), &truth_batch).unwrap();
}

/// Prints `BAYES_AUC=<value>` for benches/train.sh when the CLI has no `bayes-auc` subcommand.
#[test]
#[ignore]
fn bench_bayes_auc() {
    let (Ok(test), Ok(truth)) = (
        std::env::var("CREDITRISK_BAYES_TEST"),
        std::env::var("CREDITRISK_BAYES_TRUTH"),
    ) else {
        return;
    };
    let auc = evaluate::bayes_auc(Path::new(&test), Path::new(&truth)).unwrap();
    println!("BAYES_AUC={auc:.6}");
}
