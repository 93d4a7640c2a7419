//! The stages against real MLflow, through the CLI as a user runs them: `demo` (train registers
//! version 1, evaluate adds test metrics), 16 concurrent `train` processes, `promote-model`,
//! `validate-model`, `canary` with a version MLflow's own client downloaded — on an `mlflow
//! server` and on an `mlruns/` folder — then MLflow's Python client checks what was recorded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::tracking::{python, run_bounded, start_server};

const MODEL: &str = "creditrisk-pd";

/// A project folder with the baseline config and small synthetic data settings.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("configs")).unwrap();
    std::fs::copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml"),
        dir.path().join("configs/baseline.yaml"),
    )
    .unwrap();
    dir
}

fn creditrisk(root: &Path, tracking_uri: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.arg("--config")
        .arg(root.join("configs/baseline.yaml"))
        .args(args)
        .current_dir(root)
        .env("CREDITRISK__DATA__SYNTH_ROWS", "3000")
        .env("CREDITRISK__TRACKING__URI", tracking_uri)
        .env("CREDITRISK__REGISTRY__PROMOTE_MIN_VALUE", "0.55");
    let (_, err) = run_bounded(
        cmd,
        Duration::from_secs(300),
        &format!("creditrisk {args:?}"),
    );
    err
}

/// What MLflow's client sees: every version, and for version 1 its run.
const READ_BACK: &str = r#"
import json, sys, mlflow
from mlflow import MlflowClient
uri, name = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(uri, registry_uri=uri)
versions = sorted(c.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
out = {"versions": []}
for v in versions:
    full = c.get_model_version(name, v.version)
    run = c.get_run(v.run_id)
    out["versions"].append({
        "version": int(v.version), "stage": full.current_stage, "aliases": sorted(full.aliases),
        "run_status": run.info.status, "tags": dict(full.tags),
        "has_val_auc": "val_roc_auc" in run.data.metrics,
    })
one = c.get_model_version(name, "1")
run = c.get_run(one.run_id)
out["params"] = run.data.params
out["metrics"] = run.data.metrics
out["run_tags"] = {k: v for k, v in run.data.tags.items() if k.startswith("creditrisk.")}
out["artifacts"] = sorted(f.path for f in c.list_artifacts(one.run_id, "model")) + \
    sorted(f.path for f in c.list_artifacts(one.run_id, "evaluation/test"))
out["champion"] = int(c.get_model_version_by_alias(name, "champion").version)
dst = sys.argv[3]
out["downloaded"] = mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=dst)
print(json.dumps(out))
"#;

fn round_trip(root: &Path, uri: &str) {
    creditrisk(root, uri, &["demo"]);
    // 16 concurrent trainings: 16 more versions, none lost, none shared.
    let children: Vec<_> = (0..16)
        .map(|_| {
            let (root, uri) = (root.to_path_buf(), uri.to_string());
            std::thread::spawn(move || creditrisk(&root, &uri, &["train"]))
        })
        .collect();
    for child in children {
        child.join().unwrap();
    }
    creditrisk(
        root,
        uri,
        &[
            "promote-model",
            "--version",
            "1",
            "--stage",
            "Production",
            "--archive-existing",
            "--reviewer",
            "model-risk",
            "--note",
            "first champion",
        ],
    );
    creditrisk(
        root,
        uri,
        &["promote-model", "--version", "1", "--alias", "champion"],
    );
    let validated = creditrisk(
        root,
        uri,
        &["validate-model", "--model", "models:/creditrisk-pd/1"],
    );
    assert!(validated.contains("passed every gate"), "{validated}");

    let downloads = root.join("downloaded");
    let seen = python(READ_BACK, &[uri, MODEL, downloads.to_str().unwrap()]);
    let versions = seen["versions"].as_array().unwrap();
    let numbers: Vec<u64> = versions
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=17).collect::<Vec<u64>>());
    for v in versions {
        assert_eq!(v["run_status"], "FINISHED", "{v}");
        assert_eq!(v["has_val_auc"], true, "{v}");
        let expected = if v["version"] == 1 {
            "Production"
        } else {
            "Staging"
        };
        assert_eq!(v["stage"], expected, "{v}");
    }
    assert_eq!(versions[0]["aliases"], serde_json::json!(["champion"]));
    assert_eq!(
        versions[0]["tags"]["creditrisk.promotion.stage.Production.reviewer"],
        "model-risk"
    );
    assert_eq!(seen["champion"], 1);
    assert_eq!(seen["params"]["training.test_size"], "0.2");
    assert_eq!(seen["params"]["model.params.learning_rate"], "0.08");
    let test_metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("reports/test_metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(seen["metrics"]["test_roc_auc"], test_metrics["roc_auc"]);
    assert!(seen["run_tags"]["creditrisk.feature_sql_sha256"].is_string());
    let artifacts: Vec<&str> = seen["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(artifacts.contains(&"model/manifest.json"), "{artifacts:?}");
    assert!(artifacts.contains(&"model/sql"), "{artifacts:?}");
    assert!(
        artifacts.contains(&"evaluation/test/report.html"),
        "{artifacts:?}"
    );

    // The version MLflow downloaded is a verified bundle that scores: canary it against
    // production (itself), every delta 0.
    let downloaded = seen["downloaded"].as_str().unwrap();
    let canary = creditrisk(
        root,
        uri,
        &[
            "canary",
            "--candidate",
            downloaded,
            "--production",
            "models:/creditrisk-pd/Production",
            "--max-metric-delta",
            "0",
        ],
    );
    assert!(canary.contains("canary passed"), "{canary}");
}

#[test]
fn the_stages_against_an_mlflow_server() {
    let runtime = crate::support::runtime();
    let server = runtime.block_on(start_server());
    let dir = project();
    round_trip(dir.path(), &server.uri);
}

#[test]
fn the_stages_against_an_mlruns_folder() {
    let dir = project();
    let store = dir.path().join("mlruns");
    round_trip(dir.path(), store.to_str().unwrap());
}
