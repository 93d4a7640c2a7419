//! The main job end to end on synthetic data, and the model comparisons the issue asks for:
//! trees beat logistic, and both beat a model that sees the application table only.

use std::path::Path;

use crate::support;
use creditrisk_base::Config;
use creditrisk_base::Split;
use creditrisk_base::config::Learner;

/// Feature-store columns that come from the history tables (not from the application).
fn history_features() -> Vec<String> {
    let prefixes = ["HAS_", "BUREAU_", "BB_", "PREV_", "INSTAL_", "CC_", "POS_"];
    creditrisk_base::catalog::FEATURES
        .iter()
        .map(|(name, _)| name.to_string())
        .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
        .collect()
}

fn config_in(root: &Path, rows: usize) -> Config {
    let baseline =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml");
    let mut cfg = Config::load_with_overrides(&baseline, &[]).unwrap();
    cfg.root = root.to_path_buf();
    cfg.data.synth_rows = rows;
    cfg
}

fn test_auc(cfg: &Config) -> f64 {
    support::train(cfg).unwrap();
    support::evaluate(cfg, Split::Test).unwrap().metrics.roc_auc
}

#[test]
fn demo_runs_every_stage_and_trees_beat_logistic_beat_application_only() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), 20_000);

    let demo = support::demo(&cfg).unwrap();
    assert!(demo.synthesised());
    assert_eq!(
        demo.run.ran(),
        [
            "ingest",
            "build-feature-store",
            "split-data",
            "train",
            "evaluate-train",
            "evaluate-test",
            "validate-model",
            "canary",
            "monitor-drift",
            "auto-promote"
        ]
    );
    for artifact in [
        "reports/ingestion_summary.json",
        "reports/data_lineage.json",
        "reports/validation/raw_bureau.json",
        "reports/validation/feature_store.json",
        "reports/validation/splits.json",
        "reports/test_metrics.json",
        "reports/test_predictions.parquet",
        "data/processed/feature_store.parquet",
        "data/processed/train.parquet",
        "data/processed/test.parquet",
    ] {
        assert!(dir.path().join(artifact).is_file(), "missing {artifact}");
    }
    assert!(demo.html_report.is_file());

    // A calibrated PD: mean PD near the observed default rate, ECE small, Brier beats the base rate.
    let m = &demo.test;
    assert!(m.roc_auc > 0.70, "test AUC {}", m.roc_auc);
    assert!(
        (m.mean_pd - m.default_rate).abs() < 0.02,
        "mean PD {} vs {}",
        m.mean_pd,
        m.default_rate
    );
    assert!(m.ece < 0.03, "ECE {}", m.ece);
    assert!(
        m.brier < m.brier_base_rate,
        "Brier {} vs base {}",
        m.brier,
        m.brier_base_rate
    );

    // A second demo run reuses the raw data instead of synthesising again, and runs nothing.
    let trees = m.roc_auc;
    let again = support::demo(&cfg).unwrap();
    assert!(!again.synthesised());
    assert!(again.run.ran().is_empty(), "{:?}", again.run.ran());
    assert_eq!(again.test.roc_auc, trees);

    let mut logistic = cfg.clone();
    logistic.model.learner = Learner::Logistic;
    let logistic_auc = test_auc(&logistic);

    let mut application_only = cfg.clone();
    application_only.features.exclude.extend(history_features());
    let application_trees = test_auc(&application_only);
    application_only.model.learner = Learner::Logistic;
    let application_logistic = test_auc(&application_only);

    eprintln!(
        "test AUC: trees {trees:.4}, logistic {logistic_auc:.4}, application-only trees \
         {application_trees:.4} / logistic {application_logistic:.4}"
    );
    assert!(
        trees > logistic_auc,
        "trees {trees} vs logistic {logistic_auc}"
    );
    assert!(
        logistic_auc > application_trees.max(application_logistic) + 0.01,
        "with history {logistic_auc} vs application only {application_trees} / {application_logistic}"
    );
}

#[test]
fn demo_stops_with_a_clear_error_when_a_raw_contract_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), 2_000);
    support::demo(&cfg).unwrap();
    // Corrupt one bureau_balance STATUS code; ingest recomputes checksums, the contracts catch it.
    let path = support::layout(&cfg).raw_dir.join("bureau_balance.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let corrupted = text.replacen(",C\n", ",Z\n", 1);
    assert_ne!(text, corrupted);
    std::fs::write(&path, corrupted).unwrap();
    let err = support::demo(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("bureau_balance") && err.contains("STATUS"),
        "{err}"
    );
    assert!(err.contains("domain"), "{err}");
}
