//! Split → train → evaluate on a small feature-store-like Parquet with a known signal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support;
use creditrisk_base::Split;
use creditrisk_base::config::{Calibration, ClassWeight, Learner};
use creditrisk_base::layout::BundleFile;
use creditrisk_base::parquet_io;
use creditrisk_base::{Config, Error};
use creditrisk_data::contracts::splits::{SplitKeys, check};
use creditrisk_model::{self as model, ModelBundle};
use creditrisk_ops::evaluate;
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
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut cfg =
        Config::load_with_overrides(&manifest.join("configs/baseline.yaml"), &[]).unwrap();
    cfg.root = root.to_path_buf();
    cfg.paths.processed_dir = root.join("processed");
    cfg.paths.reports_dir = root.join("reports");
    cfg.paths.models_dir = root.join("models");
    cfg.features.store_file = root.join("processed/feature_store.parquet");
    cfg.model.monotone_constraints.clear();
    // The synthetic features need their reviewed adverse-action statements like any feature.
    let statements = root.join("reason_statements.csv");
    let mut table = String::from("feature,statement,unit\n");
    for f in ["X1", "X2", "NOISE", "CAT", "CONSTANT"] {
        table.push_str(&format!(
            "{f},Test feature {f} raised the estimated risk,\n"
        ));
    }
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(&statements, table).unwrap();
    cfg.governance.reason_statements = statements;
    // Its store has none of the default segment columns (and there is no raw file to join).
    cfg.governance.segments.clear();
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
    parquet_io::write_batch(&support::layout(&cfg).store_file, &store_batch(5).0).unwrap();
    (dir, cfg)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn split_is_deterministic_stratified_and_leak_free() {
    let (_dir, cfg) = project();
    let s = support::split(&cfg).unwrap();
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

    let again = support::split(&cfg).unwrap();
    assert_eq!(read(&again.train_file), train);
    assert_eq!(read(&again.test_file), test);
}

#[test]
fn leakage_check_fails_on_an_overlapping_split() {
    let (_dir, cfg) = project();
    let s = support::split(&cfg).unwrap();
    let train = SplitKeys::from_file(&s.train_file).unwrap();
    let mut test = SplitKeys::from_file(&s.test_file).unwrap();
    test.ids[0] = train.ids[3];
    test.targets[0] = train.targets[3];
    let report = check(&train, &test, 5, "overlap");
    assert!(!report.passed);
    let err = report.ensure_passed().unwrap_err();
    assert!(matches!(err, Error::Check { .. }));
    let text = err.to_string();
    assert!(
        text.contains("disjoint") && text.contains("SK_ID_CURR"),
        "{text}"
    );
}

#[test]
fn end_to_end_trees_and_logistic_produce_every_artifact() {
    let (_dir, cfg) = project();
    support::split(&cfg).unwrap();

    let trees = support::train(&cfg).unwrap();
    assert_eq!(trees.dropped_constant, vec!["CONSTANT".to_string()]);
    assert!(trees.trees.unwrap() > 0);
    // Isotonic calibration on the validation slice: the mean PD matches the default rate.
    let v = &trees.validation;
    assert!((v.mean_pd - v.default_rate).abs() < 0.01, "{v:?}");
    for file in BundleFile::DETERMINISTIC
        .map(BundleFile::name)
        .iter()
        .chain(&["metadata.json", "manifest.json"])
    {
        assert!(trees.model_dir.join(file).is_file(), "{file}");
    }

    let test = support::evaluate(&cfg, Split::Test).unwrap();
    let train = support::evaluate(&cfg, Split::Train).unwrap();
    let reports = support::layout(&cfg).reports_dir;
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
        let predictions = parquet_io::read_parquet(&reports.join(preds), "").unwrap();
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
    let logistic = support::train(&lcfg).unwrap();
    assert!(logistic.trees.is_none());
    assert!(logistic.design_columns > trees.design_columns); // dummies + missing indicators
    let ltest = support::evaluate(&lcfg, Split::Test).unwrap().metrics;
    assert!(ltest.roc_auc > 0.55);
    assert!(
        t.roc_auc > ltest.roc_auc + 0.03,
        "trees {} should beat logistic {} on the U-shaped signal",
        t.roc_auc,
        ltest.roc_auc
    );

    // Bayes AUC of the same test rows from a truth file.
    let (_, truth) = store_batch(5);
    let store = parquet_io::read_parquet(&support::layout(&cfg).store_file, "").unwrap();
    let truth_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("SK_ID_CURR", DataType::Int64, false),
            Field::new("TRUE_PD", DataType::Float64, false),
        ])),
        vec![store.column(0).clone(), Arc::new(Float64Array::from(truth))],
    )
    .unwrap();
    let truth_file = cfg.root.join("truth.parquet");
    parquet_io::write_batch(&truth_file, &truth_batch).unwrap();
    let bayes =
        evaluate::bayes_auc(&support::layout(&cfg).split_file(Split::Test), &truth_file).unwrap();
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
    support::split(&cfg).unwrap();
    let a = support::train(&cfg).unwrap();
    let b = support::train(&cfg).unwrap();
    assert_ne!(a.model_dir, b.model_dir);
    for file in BundleFile::DETERMINISTIC.map(BundleFile::name) {
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
    support::split(&cfg).unwrap();
    let summary = support::train(&cfg).unwrap();
    let bundle = ModelBundle::load_latest(&support::layout(&cfg), &cfg.model.name).unwrap();
    assert_eq!(bundle.dir, summary.model_dir);
    assert_eq!(bundle.validation_metrics, summary.validation);

    let test =
        parquet_io::read_parquet(&support::layout(&cfg).split_file(Split::Test), "").unwrap();
    let batch = test.slice(0, 50);
    let explained = model::ScoreOptions {
        explain: true,
        threshold: None,
    };
    let decisions = bundle.score_batch(&batch, explained).unwrap().decisions();
    let pds = bundle
        .score_batch(&batch, model::ScoreOptions::default())
        .unwrap()
        .pd;
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
    let learner = summary.model_dir.join(BundleFile::Learner.name());
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
    support::split(&cfg).unwrap();
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
        let s = support::train(&c).unwrap();
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
    let err = support::train(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("train.parquet") && err.contains("split-data"),
        "{err}"
    );
    let err = support::evaluate(&cfg, Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("creditrisk train") || err.contains("split-data"),
        "{err}"
    );
    support::split(&cfg).unwrap();

    // Unknown monotone feature and unknown forust parameter name the key.
    let mut c = cfg.clone();
    c.model
        .monotone_constraints
        .insert("NOT_A_FEATURE".into(), 1);
    let err = support::train(&c).unwrap_err();
    assert!(matches!(err, Error::Config { .. }));
    assert!(
        err.to_string()
            .contains("model.monotone_constraints.NOT_A_FEATURE"),
        "{err}"
    );
    let mut c = cfg.clone();
    c.model
        .params
        .insert("max_dpth".into(), serde_json::json!(3));
    let err = support::train(&c).unwrap_err();
    assert!(
        matches!(err, Error::Config { .. }) && err.to_string().contains("model.params.max_dpth"),
        "{err}"
    );

    // A feature with inf.
    let mut batch =
        parquet_io::read_parquet(&support::layout(&cfg).split_file(Split::Train), "").unwrap();
    let idx = batch.schema().index_of("NOISE").unwrap();
    let mut noise: Vec<Option<f64>> = vec![Some(0.5); batch.num_rows()];
    noise[7] = Some(f64::INFINITY);
    let mut columns = batch.columns().to_vec();
    columns[idx] = Arc::new(Float64Array::from(noise));
    batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
    parquet_io::write_batch(&support::layout(&cfg).split_file(Split::Train), &batch).unwrap();
    let err = support::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("NOISE") && err.contains("infinite"), "{err}");

    // One-class labels.
    let labels: Vec<i64> = vec![0; batch.num_rows()];
    let idx = batch.schema().index_of("TARGET").unwrap();
    let mut columns = batch.columns().to_vec();
    columns[idx] = Arc::new(Int64Array::from(labels));
    let one_class = RecordBatch::try_new(batch.schema(), columns).unwrap();
    parquet_io::write_batch(&support::layout(&cfg).split_file(Split::Train), &one_class).unwrap();
    let err = support::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("labels are 0"), "{err}");
}
