//! The one scoring core: evaluate decides exactly as the core does, and a bundle scores with the
//! feature SQL it was trained on even after `sql/` changes.

use std::path::Path;
use std::sync::Arc;

use creditrisk_base::parquet_io;
use creditrisk_base::{Layout, Split};
use creditrisk_model::{ModelBundle, ScoreOptions, score};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{SortOptions, sort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};

use crate::features::test_config;
use crate::support;

/// A project with synthetic raw data and its own copy of the feature SQL.
fn project(root: &Path) -> creditrisk_base::Config {
    let mut cfg = test_config(root);
    let sql = root.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    for entry in
        std::fs::read_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("sql"))
            .unwrap()
    {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), sql.join(entry.file_name())).unwrap();
    }
    cfg.paths.sql_dir = sql;
    cfg.paths.models_dir = root.join("models");
    let layout = Layout::new(&cfg);
    let opts = creditrisk_synth::SynthOptions::new(
        3000,
        11,
        layout.raw_dir.clone(),
        root.join("truth.parquet"),
    );
    support::synth(&opts).unwrap();
    cfg
}

fn build_and_train(cfg: &creditrisk_base::Config) -> ModelBundle {
    support::build_feature_store(cfg).unwrap();
    support::split(cfg).unwrap();
    let trained = support::train(cfg).unwrap();
    ModelBundle::load(&trained.model_dir).unwrap()
}

fn by_id(batch: &RecordBatch) -> RecordBatch {
    let ids = batch.column_by_name("SK_ID_CURR").unwrap();
    let order = sort_to_indices(ids, Some(SortOptions::default()), None).unwrap();
    take_record_batch(batch, &order).unwrap()
}

fn float_column(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .collect()
}

#[test]
fn evaluate_decides_exactly_as_the_scoring_core() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = project(dir.path());
    let bundle = Arc::new(build_and_train(&cfg));
    let layout = Layout::new(&cfg);
    let summary = support::evaluate(&cfg, Split::Test).unwrap();

    let test = parquet_io::read_parquet(&layout.split_file(Split::Test), "").unwrap();
    let core = support::runtime()
        .block_on(score(bundle.clone(), test, ScoreOptions::default()))
        .unwrap();
    let predictions = parquet_io::read_parquet(&summary.predictions_file, "").unwrap();
    let ids: Vec<i64> = predictions
        .column_by_name("SK_ID_CURR")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(ids, core.ids);
    let pd: Vec<f64> = float_column(&predictions, "PD")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(pd, core.pd);
    let text = |name: &str| -> Vec<String> {
        predictions
            .column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap().to_string())
            .collect()
    };
    let decisions: Vec<String> = core
        .decisions
        .iter()
        .map(|d| d.as_str().to_string())
        .collect();
    assert_eq!(text("decision"), decisions);
    assert_eq!(text("band"), core.bands);
    assert!(decisions.iter().any(|d| d == "decline") && decisions.iter().any(|d| d == "approve"));
    // The metrics' approval rate counts the same decisions.
    let approved = decisions.iter().filter(|d| *d == "approve").count() as f64;
    assert!((summary.metrics.approval_rate - approved / decisions.len() as f64).abs() < 1e-12);
}

#[test]
fn a_bundle_scores_with_its_own_feature_sql_after_sql_changes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = project(dir.path());
    let layout = Layout::new(&cfg);
    let old = build_and_train(&cfg);
    let old_store = by_id(&parquet_io::read_parquet(&layout.store_file, "").unwrap());
    let lineage = |layout: &Layout| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(layout.lineage_file()).unwrap()).unwrap()
    };
    assert_eq!(
        lineage(&layout)["feature_sql_sha256"],
        old.card.feature_sql_sha256
    );

    // A changed definition: CREDIT_TO_INCOME doubles.
    let file = layout.sql_dir.join("application.sql");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replace(
        "AMT_CREDIT / NULLIF(AMT_INCOME_TOTAL, 0) AS CREDIT_TO_INCOME",
        "2 * AMT_CREDIT / NULLIF(AMT_INCOME_TOTAL, 0) AS CREDIT_TO_INCOME",
    );
    assert_ne!(text, changed);
    std::fs::write(&file, changed).unwrap();

    // Training on the old store with new SQL is refused: the bundle would lie about its features.
    let err = support::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("build-feature-store"), "{err}");

    let new = build_and_train(&cfg);
    assert_ne!(new.card.feature_sql_sha256, old.card.feature_sql_sha256);
    assert_eq!(
        lineage(&layout)["feature_sql_sha256"],
        new.card.feature_sql_sha256
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new.dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["feature_sql_sha256"], new.card.feature_sql_sha256);
    assert!(manifest["files"]["sql/application.sql"].is_string());

    // The old bundle recomputes the old features from the raw files; the new one the new ones.
    let features = |bundle: &ModelBundle| {
        by_id(
            &support::runtime()
                .block_on(creditrisk_data::feature_sql::features_of_raw_files(
                    &bundle.feature_sql,
                    |t| layout.raw_file(t),
                ))
                .unwrap(),
        )
    };
    let from_old = features(&old);
    let from_new = features(&new);
    let new_store = by_id(&parquet_io::read_parquet(&layout.store_file, "").unwrap());
    assert_eq!(
        float_column(&from_old, "CREDIT_TO_INCOME"),
        float_column(&old_store, "CREDIT_TO_INCOME")
    );
    assert_eq!(
        float_column(&from_new, "CREDIT_TO_INCOME"),
        float_column(&new_store, "CREDIT_TO_INCOME")
    );
    assert_ne!(
        float_column(&from_old, "CREDIT_TO_INCOME"),
        float_column(&from_new, "CREDIT_TO_INCOME")
    );
    // And scores them as it scored the store it was trained from (float aggregates may differ in
    // the last bit between the lazy and the materialised plan, so compare to 1e-9).
    let options = ScoreOptions::default();
    let a = old.score_batch(&from_old, options).unwrap().pd;
    let b = old.score_batch(&old_store, options).unwrap().pd;
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9));
}
