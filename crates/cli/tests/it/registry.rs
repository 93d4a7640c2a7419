//! Training records its run and registers its bundle; promotions move stages and aliases with
//! governance tags and a transition report (file-store backend; the server backend and MLflow's
//! own client are exercised in `tracking.rs`).

use creditrisk_base::config::Stage;
use creditrisk_base::{Layout, Split};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_ops::gates::{self, CanaryStatus, GateOptions};
use creditrisk_ops::registry::{self, Promotion, Target};

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
    let opts = creditrisk_synth::SynthOptions::new(
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
        v2.tags["creditrisk.promotion.stage.Production.reviewer"],
        "model-risk@lender"
    );
    assert_eq!(
        v2.tags["creditrisk.promotion.stage.Production.previous_versions"],
        "1"
    );
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

    // validate-model: every gate passes on the newest version (2, the one evaluated).
    let mut gate_opts = GateOptions::from_config(&cfg);
    let ok = rt
        .block_on(gates::validate_model(&layout, &gate_opts, None))
        .unwrap();
    assert!(ok.passed && ok.version == 2, "{:?}", ok.gates);
    assert_eq!(ok.gates.len(), cfg.testing.min_metrics.len() + 3);

    // Each gate fails on its own, naming itself in the error and the report.
    let failing = |opts: &GateOptions, gate: &str| {
        let err = rt
            .block_on(gates::validate_model(&layout, opts, None))
            .unwrap_err();
        assert!(matches!(err, creditrisk_base::Error::Check { .. }), "{err}");
        assert!(err.to_string().contains(gate), "{err}");
        let report = std::fs::read_to_string(layout.post_training_validation()).unwrap();
        assert!(
            report.contains("\"passed\": false") && report.contains(gate),
            "{report}"
        );
    };
    gate_opts
        .min_metrics
        .insert(creditrisk_base::config::MetricName::RocAuc, 0.9999);
    failing(&gate_opts, "min_metric.roc_auc");
    let gate_opts = GateOptions::from_config(&cfg);
    let metrics_file = layout.metrics_file(Split::Test);
    let original = std::fs::read_to_string(&metrics_file).unwrap();
    let mut tampered: serde_json::Value = serde_json::from_str(&original).unwrap();
    tampered["ks"] = serde_json::json!(0.123);
    std::fs::write(&metrics_file, tampered.to_string()).unwrap();
    failing(&gate_opts, "tracker_metrics_match_files");
    std::fs::write(&metrics_file, &original).unwrap();
    let html = layout.evaluation_report(Split::Test);
    let kept = std::fs::read(&html).unwrap();
    std::fs::remove_file(&html).unwrap();
    failing(&gate_opts, "evaluation_artifacts");
    std::fs::write(&html, kept).unwrap();
    let lineage = layout.lineage_file();
    let kept = std::fs::read(&lineage).unwrap();
    std::fs::remove_file(&lineage).unwrap();
    failing(&gate_opts, "lineage");
    std::fs::write(&lineage, kept).unwrap();

    // canary: the same model against itself is within any tolerance; no production is a skip.
    let model = |text: &str| ModelRef::parse(&text.replace("NAME", name)).unwrap();
    let canary = |candidate: &str, production: &str, delta| {
        rt.block_on(gates::canary(
            &layout,
            &gate_opts,
            &model(candidate),
            &model(production),
            None,
            delta,
        ))
    };
    let same = canary("models:/NAME/2", "models:/NAME/Production", 0.0).unwrap();
    assert_eq!(same.status, CanaryStatus::Passed);
    assert_eq!(same.deltas["mean_pd"], 0.0);
    let skipped = canary("models:/NAME/2", "models:/NAME@challenger", 0.0).unwrap();
    assert_eq!(skipped.status, CanaryStatus::Skipped);

    // A logistic challenger (version 3) moves the approval rate: the canary fails at tolerance 0.
    let mut logistic = cfg.clone();
    logistic.model.learner = creditrisk_base::config::Learner::Logistic;
    assert_eq!(
        support::train(&logistic).unwrap().registered_version,
        Some(3)
    );
    let err = canary("models:/NAME/3", "models:/NAME/Production", 0.0).unwrap_err();
    assert!(err.to_string().contains("canary"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(layout.canary_report()).unwrap()).unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["candidate"]["version"], 3);

    // auto-promote refuses version 3 (validated was 2, its canary failed) and says why.
    let target = Target::Alias {
        alias: "challenger".into(),
    };
    let err = rt
        .block_on(gates::auto_promote(&layout, &gate_opts, target.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not the newest") && err.contains("canary failed"),
        "{err}"
    );

    // Validated and within tolerance: promoted.
    support::evaluate(&logistic, Split::Test).unwrap();
    rt.block_on(gates::validate_model(&layout, &gate_opts, None))
        .unwrap();
    canary("models:/NAME/3", "models:/NAME/Production", 1.0).unwrap();
    let done = rt
        .block_on(gates::auto_promote(&layout, &gate_opts, target))
        .unwrap();
    assert!(done.promoted && done.version == Some(3));
    assert_eq!(
        resolve(&format!("models:/{name}@challenger"))
            .unwrap()
            .version,
        3
    );
}
