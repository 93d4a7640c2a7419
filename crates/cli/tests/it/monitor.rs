//! Drift monitoring: the statistics equal scipy's, Evidently's verdicts flag exactly the columns
//! that moved (small and large references), the commands write their reports and log a
//! monitoring run, the retrain trigger fires on a drifted extract only, and bad input fails
//! with one clear line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use creditrisk_base::config::MonitoringConfig;
use creditrisk_base::{Config, Layout, Split};
use creditrisk_mlflow::Tracker;
use creditrisk_model::frame::{ColumnKind, FeatureSpec};
use creditrisk_ops::monitor::production::{ProductionRequest, RetrainTrigger, monitor_production};
use creditrisk_ops::monitor::stats;
use creditrisk_ops::monitor::{DriftReport, DriftRequest, DriftTest, MonitorOptions, drift};
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::support;

fn baseline_monitoring() -> MonitoringConfig {
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    Config::load_with_overrides(&manifest.join("configs/baseline.yaml"), &[])
        .unwrap()
        .monitoring
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-9,
        "{what}: {actual} vs scipy {expected}"
    );
}

// The scipy 1.17.1 / numpy 2.4.6 values below were computed once with the project's venv
// (`scripts/python-env.sh`):
//
// import numpy as np
// from scipy import stats
// from scipy.spatial import distance
// a = np.array([0.3, 1.7, 2.2, 2.9, 3.4, 4.1, 4.8, 5.5, 6.0, 7.3, 8.8, 9.1])
// b = np.array([2.5, 3.9, 4.4, 5.2, 6.7, 7.7, 8.1, 9.6, 10.4])
// stats.ks_2samp(a, b)                       # (0.3055555555555556, 0.6383458646616543)
// stats.ks_2samp(a[:9], b)                   # (0.5555555555555556, 0.12587412587412586)
// la = np.array([(i * 7919 % 1000) / 10 for i in range(200)])
// lb = np.array([(i * 104729 % 1000) / 10 + 12.5 for i in range(300)])
// stats.ks_2samp(la, lb)                     # (0.14, 0.01686076378104174)
// stats.ks_2samp(la, lb[:200])               # (0.14, 0.03956202584899502)
// stats.wasserstein_distance(a, b)           # 1.8250000000000002
// stats.wasserstein_distance(a, b) / max(np.std(a), 0.001)   # 0.685061073622411
// edges = np.unique(np.quantile(a, np.arange(1, 10) / 10))
// def counts(x): return np.bincount(np.searchsorted(edges, x, side='right'),
//                                   minlength=len(edges) + 1)
// def fill(p):   # Evidently's feel_zeroes
//     p = p.astype(float).copy(); m = p[p != 0].min()
//     p[p == 0] = m / 1e6 if m <= 0.0001 else 0.0001
//     return p
// r = fill(counts(a) / len(a)); c = fill(counts(b) / len(b))
// np.sum((r - c) * np.log(r / c))            # PSI 3.227437506475251
// ref = np.array([40., 35., 25.]); cur = np.array([20., 30., 50.])
// stats.chisquare(cur, ref * cur.sum() / ref.sum())   # (35.714285714285715, 1.7568771506461996e-08)
// distance.jensenshannon(ref / ref.sum(), cur / cur.sum())   # 0.19796406809023523
// r2 = fill(ref / ref.sum()); c2 = fill(cur / cur.sum())
// np.sum((r2 - c2) * np.log(r2 / c2))        # PSI 0.3196237652433383
const A: [f64; 12] = [0.3, 1.7, 2.2, 2.9, 3.4, 4.1, 4.8, 5.5, 6.0, 7.3, 8.8, 9.1];
const B: [f64; 9] = [2.5, 3.9, 4.4, 5.2, 6.7, 7.7, 8.1, 9.6, 10.4];

#[test]
fn drift_statistics_equal_scipy() {
    let ks = stats::ks_2samp(&A, &B);
    assert_close(ks.statistic, 0.3055555555555556, "KS D, 12 vs 9");
    // Hand: the widest ECDF gap is right after 3.4: 5/12 of A against 1/9 of B, 15/36 − 4/36.
    assert_close(ks.statistic, 11.0 / 36.0, "KS D by hand");
    assert_close(ks.p_value, 0.6383458646616543, "KS p, 12 vs 9");
    let ks = stats::ks_2samp(&A[..9], &B);
    assert_close(ks.statistic, 0.5555555555555556, "KS D, 9 vs 9");
    assert_close(ks.p_value, 0.12587412587412586, "KS p, 9 vs 9");
    let la: Vec<f64> = (0..200).map(|i| (i * 7919 % 1000) as f64 / 10.0).collect();
    let lb: Vec<f64> = (0..300)
        .map(|i| (i as u64 * 104729 % 1000) as f64 / 10.0 + 12.5)
        .collect();
    let ks = stats::ks_2samp(&la, &lb);
    assert_close(ks.statistic, 0.14, "KS D, 200 vs 300");
    assert_close(ks.p_value, 0.01686076378104174, "KS p, 200 vs 300");
    let ks = stats::ks_2samp(&la, &lb[..200]);
    assert_close(ks.p_value, 0.03956202584899502, "KS p, 200 vs 200");

    assert_close(
        stats::wasserstein(&A, &B),
        1.8250000000000002,
        "Wasserstein",
    );
    assert_close(
        stats::wasserstein_normed(&A, &B),
        0.685061073622411,
        "Wasserstein / std",
    );
    assert_close(stats::psi_numeric(&A, &B, 10), 3.227437506475251, "PSI");

    let (reference, current) = ([40.0, 35.0, 25.0], [20.0, 30.0, 50.0]);
    let chi = stats::chi_squared(&reference, &current);
    // Hand: expected = observed total × reference shares = (40, 35, 25);
    // (20−40)²/40 + (30−35)²/35 + (50−25)²/25 = 10 + 5/7 + 25.
    assert_close(chi.statistic, 10.0 + 5.0 / 7.0 + 25.0, "chi² by hand");
    assert_close(chi.statistic, 35.714285714285715, "chi²");
    assert_close(chi.p_value, 1.7568771506461996e-08, "chi² p");
    assert_close(
        stats::jensen_shannon(&reference, &current),
        0.19796406809023523,
        "Jensen-Shannon",
    );
    assert_close(
        stats::psi(&reference, &current),
        0.3196237652433383,
        "PSI categorical",
    );
}

/// A batch of feature columns: numeric X and Y, categorical C.
fn feature_batch(x: Vec<Option<f64>>, y: Vec<Option<f64>>, c: Vec<&str>) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("X", DataType::Float64, true),
        Field::new("Y", DataType::Float64, true),
        Field::new("C", DataType::Utf8, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(x)),
        Arc::new(Float64Array::from(y)),
        Arc::new(StringArray::from(c)),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn specs() -> Vec<FeatureSpec> {
    [
        ("X", ColumnKind::Numeric),
        ("Y", ColumnKind::Numeric),
        ("C", ColumnKind::Categorical),
    ]
    .into_iter()
    .map(|(name, kind)| FeatureSpec {
        name: name.into(),
        kind,
        arrow_type: "Float64".into(),
    })
    .collect()
}

/// `n` rows: X and Y spread evenly over [0, 1) in a scrambled order (Y with a few NULLs),
/// C = A/B/C in `weights` tenths. `shift` moves X; `offset` moves Y by half a grid step.
fn sample(n: usize, shift: f64, offset: f64, weights: [usize; 3]) -> RecordBatch {
    let grid = |i: usize, off: f64| ((i * 7919) % n) as f64 / n as f64 + off / n as f64;
    let x = (0..n).map(|i| Some(grid(i, 0.0) + shift)).collect();
    let y = (0..n)
        .map(|i| (i % 97 != 0).then(|| grid(i, offset)))
        .collect();
    let c = (0..n)
        .map(|i| match i % 10 {
            d if d < weights[0] => "A",
            d if d < weights[0] + weights[1] => "B",
            _ => "C",
        })
        .collect();
    feature_batch(x, y, c)
}

fn flagged(pairs: &[drift::ColumnPair]) -> Vec<String> {
    let mut names: Vec<String> = pairs
        .iter()
        .filter(|p| p.drift.drifted)
        .map(|p| p.drift.column.clone())
        .collect();
    names.sort();
    names
}

#[test]
fn identical_samples_drift_nowhere_and_moved_columns_are_exactly_the_flagged_ones() {
    let cfg = baseline_monitoring();
    // n = 500 ≤ large_sample_rows: KS and chi-squared; n = 5000: Wasserstein and Jensen-Shannon.
    for (n, numeric, categorical) in [
        (500, DriftTest::Ks, DriftTest::ChiSquared),
        (5000, DriftTest::WassersteinNormed, DriftTest::JensenShannon),
    ] {
        let reference = sample(n, 0.0, 0.0, [5, 3, 2]);
        let same = drift::compare(&reference, "ref", &reference, "cur", &specs(), &cfg).unwrap();
        assert!(flagged(&same).is_empty(), "n={n}: {:?}", flagged(&same));
        for p in &same {
            assert_eq!(p.drift.psi, 0.0, "n={n} {}", p.drift.column);
        }
        let tests: Vec<DriftTest> = same.iter().map(|p| p.drift.test).collect();
        assert_eq!(tests, [numeric, numeric, categorical], "n={n}");
        let features: Vec<_> = same.iter().map(|p| p.drift.clone()).collect();
        let summary = drift::DriftSummary::of(&features, &same[0].drift, None, &cfg);
        assert!(!summary.dataset_drift && summary.drifted == 0);

        // X shifted by 0.3 (≈ one std of a uniform), C re-weighted 5/3/2 → 2/3/5; Y is the same
        // distribution on a half-step offset grid and keeps its NULLs.
        let current = sample(n, 0.3, 0.5, [2, 3, 5]);
        let moved = drift::compare(&reference, "ref", &current, "cur", &specs(), &cfg).unwrap();
        assert_eq!(flagged(&moved), ["C", "X"], "n={n}");
        let y = moved.iter().find(|p| p.drift.column == "Y").unwrap();
        assert!(y.drift.reference_null_share > 0.0 && y.drift.current_null_share > 0.0);
        assert_eq!(y.drift.reference_values, n - n.div_ceil(97));
        let features: Vec<_> = moved.iter().map(|p| p.drift.clone()).collect();
        let summary = drift::DriftSummary::of(&features, &moved[0].drift, None, &cfg);
        // Two of three features drifted: 0.667 ≥ drift_share 0.5.
        assert!(summary.dataset_drift && summary.drifted == 2, "{summary:?}");
    }
}

#[test]
fn compare_names_a_missing_column_and_an_empty_set() {
    let cfg = baseline_monitoring();
    let reference = sample(50, 0.0, 0.0, [5, 3, 2]);
    let no_c = reference.project(&[0, 1]).unwrap();
    let err = drift::compare(
        &reference,
        "ref.parquet",
        &no_c,
        "cur.parquet",
        &specs(),
        &cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cur.parquet") && err.contains("missing: C"),
        "{err}"
    );
    let empty = reference.slice(0, 0);
    let err = drift::compare(
        &reference,
        "ref.parquet",
        &empty,
        "cur.parquet",
        &specs(),
        &cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cur.parquet") && err.contains("no rows"),
        "{err}"
    );
    let all_null = feature_batch(vec![None; 3], vec![Some(1.0); 3], vec!["A"; 3]);
    let err = drift::compare(
        &reference,
        "ref.parquet",
        &all_null,
        "cur.parquet",
        &specs(),
        &cfg,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`X`") && err.contains("no non-NULL"), "{err}");
}

/// One trained synthetic project (3000 applicants) shared by the command tests, with a config
/// file the binary can read.
struct Project {
    root: PathBuf,
    cfg: Config,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let (root, cfg, _) = support::trained_project(3000, 23);
        write_config(&root, "monitor.yaml", &[]);
        Project { root, cfg }
    })
}

/// `configs/<name>` in the project: the repo's baseline with the project's paths and `extra`
/// (key line, replacement line) edits.
fn write_config(root: &Path, name: &str, extra: &[(&str, &str)]) -> PathBuf {
    let manifest = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut text = std::fs::read_to_string(manifest.join("configs/baseline.yaml")).unwrap();
    for (from, to) in [
        ("  raw_dir: data/raw", "  raw_dir: raw".to_string()),
        (
            "  processed_dir: data/processed",
            "  processed_dir: processed".into(),
        ),
        ("  cache_dir: data/cache", "  cache_dir: cache".into()),
        (
            "  sql_dir: sql",
            format!("  sql_dir: {}", manifest.join("sql").display()),
        ),
        (
            "  store_file: data/processed/feature_store.parquet",
            "  store_file: processed/feature_store.parquet".into(),
        ),
    ] {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, &to);
    }
    for (from, to) in extra {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = root.join("configs").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn run_cli(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_creditrisk"))
        .current_dir(root)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit `code`, one `error:` line naming every needle, no panic.
fn assert_clear_error(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for needle in needles {
        assert!(lines[0].contains(needle), "missing `{needle}` in: {err}");
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn monitor_drift_covers_every_model_feature_and_logs_a_monitoring_run() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let opts = MonitorOptions::from_config(&p.cfg);
    let report = support::runtime()
        .block_on(creditrisk_ops::monitor::monitor_drift(
            &layout,
            &opts,
            &DriftRequest::default(),
        ))
        .unwrap();
    let bundle = creditrisk_model::ModelBundle::load_latest(&layout, &p.cfg.model.name).unwrap();
    let mut watched: Vec<&str> = report.features.iter().map(|f| f.column.as_str()).collect();
    let mut features: Vec<&str> = bundle
        .card
        .features
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    watched.sort_unstable();
    features.sort_unstable();
    assert_eq!(watched, features, "every model feature, not a prefix");
    // Evidently's choice by the reference column's non-NULL values (2400 rows, sparse history
    // columns fewer): distances above large_sample_rows, p-values at or below it.
    for f in &report.features {
        let large = matches!(
            f.test,
            DriftTest::WassersteinNormed | DriftTest::JensenShannon
        );
        assert_eq!(large, f.reference_values > 1000, "{f:?}");
    }
    // Rare flags (a handful of ones) are tested as categories, not by Wasserstein / a tiny std.
    let flag = report
        .features
        .iter()
        .find(|f| f.column == "FLAG_DOCUMENT_2")
        .unwrap();
    assert_eq!(flag.test, DriftTest::JensenShannon, "{flag:?}");
    assert!(!report.summary.dataset_drift, "{:?}", report.summary);
    assert!(report.summary.prediction_psi < report.settings.psi_threshold);
    assert_eq!(report.summary.target_drift, Some(false));
    // Drifted features first.
    let first_stable = report.features.iter().position(|f| !f.drifted);
    assert!(first_stable.is_none_or(|i| report.features[i..].iter().all(|f| !f.drifted)));

    let on_disk: DriftReport = read_json(&layout.drift_report());
    assert_eq!(on_disk, report);
    let html = std::fs::read_to_string(layout.drift_report_html()).unwrap();
    // Self-contained: inline SVG, nothing fetched.
    assert!(html.contains("<svg") && !html.contains("src=\"http") && !html.contains("<link"));
    assert_eq!(html.matches("<figure>").count(), features.len() + 2);

    let tracker =
        Tracker::from_uri(&layout.tracking_dir.clone().unwrap().display().to_string()).unwrap();
    let run = support::runtime()
        .block_on(tracker.get_run(report.tracking_run_id.as_deref().unwrap()))
        .unwrap();
    assert_eq!(run.tags["creditrisk.run_type"], "monitoring");
    assert_eq!(
        run.tags["creditrisk.monitored_version"],
        report.model.version.unwrap().to_string()
    );
    assert_eq!(run.metrics["drift_features"].value, features.len() as f64);
}

/// The test split's feature rows with every numeric feature scaled and shifted.
fn drifted_features(p: &Project, path: &Path) {
    let layout = Layout::new(&p.cfg);
    let test =
        creditrisk_base::parquet_io::read_parquet(&layout.split_file(Split::Test), "").unwrap();
    let bundle = creditrisk_model::ModelBundle::load_latest(&layout, &p.cfg.model.name).unwrap();
    let schema = test.schema();
    let mut fields = vec![];
    let mut columns: Vec<ArrayRef> = vec![];
    for (field, column) in schema.fields().iter().zip(test.columns()) {
        let numeric_feature = bundle
            .card
            .features
            .iter()
            .any(|f| f.name == *field.name() && f.kind == ColumnKind::Numeric);
        if numeric_feature {
            let floats = cast(column, &DataType::Float64).unwrap();
            let floats = floats
                .as_any()
                .downcast_ref::<Float64Array>()
                .unwrap()
                .iter()
                .map(|v| v.map(|v| v * 3.0 + 1.0))
                .collect::<Float64Array>();
            fields.push(Field::new(field.name(), DataType::Float64, true));
            columns.push(Arc::new(floats));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    creditrisk_base::parquet_io::write_batch(path, &batch).unwrap();
}

#[test]
fn retrain_trigger_fires_on_a_drifted_extract_only() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let opts = MonitorOptions::from_config(&p.cfg);

    // Undrifted: raw application rows of the unlabelled applicants, featurised with the
    // bundle's SQL (history from the store).
    let raw = layout.raw_file(creditrisk_base::catalog::RawTable::ApplicationTest);
    let request = ProductionRequest {
        current: raw.clone(),
        model: None,
    };
    let calm = support::runtime()
        .block_on(monitor_production(&layout, &opts, &request))
        .unwrap();
    assert!(!calm.trigger.fired, "{:?}", calm.trigger);
    assert!(!calm.report.summary.dataset_drift);
    assert_eq!(calm.report.current.rejected_rows, Some(0));
    assert!(
        calm.report.reference.sha256.is_some(),
        "checked against lineage"
    );
    assert_eq!(calm.report.target, None, "production rows carry no label");
    let on_disk: RetrainTrigger = read_json(&layout.retrain_trigger());
    assert_eq!(on_disk, calm.trigger);
    assert!(layout.production_drift_report_html().is_file());

    // Drifted: feature rows with every numeric feature moved.
    let drifted = p.root.join("drifted.parquet");
    drifted_features(p, &drifted);
    let request = ProductionRequest {
        current: drifted.clone(),
        model: None,
    };
    let storm = support::runtime()
        .block_on(monitor_production(&layout, &opts, &request))
        .unwrap();
    assert!(storm.trigger.fired, "{:?}", storm.trigger);
    assert!(storm.report.summary.dataset_drift);
    assert!(storm.trigger.drifted_share >= opts.monitoring.retrain_drift_threshold);
    assert_eq!(
        (storm.trigger.command.as_ref(), storm.trigger.exit_code),
        (None, None),
        "auto_retrain is off"
    );

    // Through the binary with auto-retrain: the command runs and its exit code is recorded.
    write_config(
        &p.root,
        "retrain.yaml",
        &[
            ("  auto_retrain: false", "  auto_retrain: true"),
            (
                "  retrain_command: creditrisk run --from train",
                "  retrain_command: creditrisk models list",
            ),
        ],
    );
    let drifted_arg = drifted.display().to_string();
    let out = run_cli(
        &p.root,
        &[
            "monitor-production",
            "--config",
            "configs/retrain.yaml",
            "--current",
            &drifted_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fired: RetrainTrigger = read_json(&layout.retrain_trigger());
    assert!(fired.fired && fired.exit_code == Some(0), "{fired:?}");
    assert!(fired.command.unwrap().contains("models list"));

    // A failing retrain command: recorded, and the command fails.
    write_config(
        &p.root,
        "retrain_fails.yaml",
        &[
            ("  auto_retrain: false", "  auto_retrain: true"),
            (
                "  retrain_command: creditrisk run --from train",
                "  retrain_command: creditrisk models show models:/no-such-model/1",
            ),
        ],
    );
    let out = run_cli(
        &p.root,
        &[
            "monitor-production",
            "--config",
            "configs/retrain_fails.yaml",
            "--current",
            &drifted_arg,
        ],
    );
    assert_clear_error(&out, 1, &["retrain", "exit code"]);
    let failed: RetrainTrigger = read_json(&layout.retrain_trigger());
    assert!(
        failed.fired && failed.exit_code.is_some_and(|c| c != 0),
        "{failed:?}"
    );

    // The undrifted extract through the binary: not fired, exit 0.
    let raw_arg = raw.display().to_string();
    let out = run_cli(
        &p.root,
        &[
            "monitor-production",
            "--config",
            "configs/retrain.yaml",
            "--current",
            &raw_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("not fired"), "{}", stderr(&out));
    let calm: RetrainTrigger = read_json(&layout.retrain_trigger());
    assert!(!calm.fired && calm.command.is_none());
}

#[test]
fn bad_monitoring_input_fails_with_one_line_naming_the_culprit() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let config = ["--config", "configs/monitor.yaml"];
    let run = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(&config).copied().collect();
        run_cli(&p.root, &all)
    };

    let out = run(&["monitor-drift", "--current", "nowhere.parquet"]);
    assert_clear_error(&out, 1, &["nowhere.parquet", "not found"]);
    let out = run(&["monitor-production", "--current", "nowhere.csv"]);
    assert_clear_error(&out, 1, &["nowhere.csv", "not found"]);

    let test =
        creditrisk_base::parquet_io::read_parquet(&layout.split_file(Split::Test), "").unwrap();
    let bundle = creditrisk_model::ModelBundle::load_latest(&layout, &p.cfg.model.name).unwrap();
    let dropped = &bundle.card.features.last().unwrap().name;
    let keep: Vec<usize> = (0..test.num_columns())
        .filter(|i| test.schema().field(*i).name() != dropped)
        .collect();
    let missing = p.root.join("missing_column.parquet");
    creditrisk_base::parquet_io::write_batch(&missing, &test.project(&keep).unwrap()).unwrap();
    let out = run(&["monitor-drift", "--current", missing.to_str().unwrap()]);
    assert_clear_error(&out, 1, &["missing_column.parquet", dropped]);

    let empty = p.root.join("empty.parquet");
    creditrisk_base::parquet_io::write_batch(&empty, &test.slice(0, 0)).unwrap();
    let out = run(&["monitor-drift", "--current", empty.to_str().unwrap()]);
    assert_clear_error(&out, 1, &["empty.parquet", "no rows"]);

    for (from, to, key) in [
        (
            "  drift_share: 0.5",
            "  drift_share: 1.5",
            "monitoring.drift_share",
        ),
        (
            "  sample_rows: 10000",
            "  sample_rows: 20000",
            "monitoring.sample_rows",
        ),
        ("  ks_p_value: 0.05", "  ks_p_valeu: 0.05", "ks_p_valeu"),
    ] {
        write_config(&p.root, "bad.yaml", &[(from, to)]);
        let out = run_cli(&p.root, &["monitor-drift", "--config", "configs/bad.yaml"]);
        assert_clear_error(&out, 2, &[key, "bad.yaml"]);
    }
}

#[test]
fn check_freshness_ages_every_ingested_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_config(root, "baseline.yaml", &[]);
    let out = run_cli(root, &["check-freshness", "--max-age-hours", "24"]);
    assert_clear_error(&out, 1, &["ingestion_summary.json", "creditrisk ingest"]);

    std::fs::create_dir_all(root.join("raw")).unwrap();
    std::fs::create_dir_all(root.join("reports")).unwrap();
    let old = root.join("raw/bureau.csv");
    let new = root.join("raw/application_train.csv");
    for f in [&old, &new] {
        std::fs::write(f, "SK_ID_CURR\n").unwrap();
    }
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    let summary = serde_json::json!({
        "sources": [
            {"table": "application_train", "path": new, "status": "ok"},
            {"table": "bureau", "path": old, "status": "ok"},
            {"table": "bureau_balance", "path": "", "status": "failed"},
        ],
        "passed": false,
    });
    std::fs::write(
        root.join("reports/ingestion_summary.json"),
        summary.to_string(),
    )
    .unwrap();
    let out = run_cli(root, &["check-freshness", "--max-age-hours", "24"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: creditrisk_ops::monitor::freshness::FreshnessReport =
        read_json(&root.join("reports/freshness_report.json"));
    assert_eq!(report.stale, ["bureau", "bureau_balance"]);
    let age = report.files[1].age_hours.unwrap();
    assert!((47.9..48.5).contains(&age), "{age}");
    let out = run_cli(
        root,
        &[
            "check-freshness",
            "--max-age-hours",
            "24",
            "--fail-on-stale",
        ],
    );
    assert_clear_error(&out, 1, &["stale", "bureau, bureau_balance"]);
    let out = run_cli(
        root,
        &[
            "check-freshness",
            "--max-age-hours",
            "100",
            "--fail-on-stale",
        ],
    );
    assert_clear_error(&out, 1, &["bureau_balance"]);
    let out = run_cli(root, &["check-freshness", "--max-age-hours", "0"]);
    assert_clear_error(&out, 2, &["--max-age-hours"]);
}
