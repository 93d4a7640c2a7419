//! Training records its run and registers its bundle; promotions move stages and aliases with
//! governance tags and a transition report (file-store backend; the server backend and MLflow's
//! own client are exercised in `tracking.rs`).

use creditrisk::config::Stage;
use creditrisk::experiment::TrackingOptions;
use creditrisk::registry::{self, Promotion, Target};
use creditrisk::tracking::ModelRef;
use creditrisk::{Layout, Split};

use crate::features::test_config;
use crate::support;

#[test]
fn training_registers_versions_and_promotions_leave_an_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.paths.models_dir = dir.path().join("models");
    cfg.registry.promote_min_value = 0.55;
    let layout = Layout::new(&cfg);
    assert_eq!(layout.tracking_dir, Some(dir.path().join("mlruns")));
    let opts = creditrisk::synth::SynthOptions::new(
        2500,
        5,
        layout.raw_dir.clone(),
        dir.path().join("truth.parquet"),
    );
    support::synth(&opts).unwrap();
    support::build_feature_store(&cfg).unwrap();
    support::split(&cfg).unwrap();
    let first = support::train(&cfg).unwrap();
    let second = support::train(&cfg).unwrap();
    assert_eq!(first.registered_version, Some(1));
    assert_eq!(second.registered_version, Some(2));
    let evaluated = support::evaluate(&cfg, Split::Test).unwrap();

    let tracking = TrackingOptions::from_config(&cfg);
    let tracker = tracking.tracker(&layout).unwrap();
    let rt = support::runtime();
    let run = rt
        .block_on(tracker.get_run(second.tracking_run_id.as_deref().unwrap()))
        .unwrap();
    assert_eq!(run.info.status.as_str(), "FINISHED");
    assert_eq!(run.params["training.test_size"], "0.2");
    assert!(
        run.params.contains_key("learner.learning_rate"),
        "{:?}",
        run.params.keys()
    );
    assert_eq!(run.metrics["val_roc_auc"].value, second.validation.roc_auc);
    assert_eq!(run.metrics["test_roc_auc"].value, evaluated.metrics.roc_auc);
    assert!(run.tags.contains_key("creditrisk.feature_sql_sha256"));
    assert_eq!(run.tags["owner"], "credit-risk-modelling");

    // The promotion rule moved both to Staging (validation AUC over 0.55).
    let name = &cfg.registry.model_name;
    let versions = rt.block_on(tracker.list_model_versions(name)).unwrap();
    assert!(
        versions.iter().all(|v| v.stage == Stage::Staging),
        "{versions:?}"
    );

    let promote = |version, target| {
        rt.block_on(registry::promote(
            &layout,
            &tracking,
            &Promotion {
                version,
                target,
                reviewer: Some("model-risk@lender".into()),
                note: Some("quarterly review".into()),
            },
        ))
    };
    let production = |archive_existing| Target::Stage {
        stage: Stage::Production,
        archive_existing,
    };
    promote(1, production(false)).unwrap();
    let t = promote(2, production(true)).unwrap();
    assert_eq!(t.previous, vec![1]);
    let versions = rt.block_on(tracker.list_model_versions(name)).unwrap();
    let in_production: Vec<u64> = versions
        .iter()
        .filter(|v| v.stage == Stage::Production)
        .map(|v| v.version)
        .collect();
    assert_eq!(in_production, vec![2]);
    assert_eq!(versions[0].stage, Stage::Archived);
    let v2 = &versions[1];
    assert_eq!(
        v2.tags["creditrisk.promotion.reviewer"],
        "model-risk@lender"
    );
    assert_eq!(v2.tags["creditrisk.promotion.previous_versions"], "1");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.registry_transition()).unwrap())
            .unwrap();
    assert_eq!(report["version"], 2);

    // Aliases move; references resolve.
    promote(
        1,
        Target::Alias {
            alias: "champion".into(),
        },
    )
    .unwrap();
    let moved = promote(
        2,
        Target::Alias {
            alias: "champion".into(),
        },
    )
    .unwrap();
    assert_eq!(moved.previous, vec![1]);
    let resolve = |text: &str| rt.block_on(tracker.resolve(&ModelRef::parse(text).unwrap()));
    assert_eq!(
        resolve(&format!("models:/{name}@champion"))
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        resolve(&format!("models:/{name}/Production"))
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        resolve(&format!("models:/{name}/1")).unwrap().stage,
        Stage::Archived
    );

    // A missing version is a clear error naming the reference.
    let err = promote(9, production(false)).unwrap_err().to_string();
    assert!(err.contains(&format!("models:/{name}/9")), "{err}");
}
