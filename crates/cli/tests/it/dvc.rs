//! `dvc.yaml` under the pinned DVC (scripts/python-env.sh): in a temporary git repository with
//! small synthetic data, `dvc repro` runs every stage, a second `dvc repro` runs nothing, editing
//! one param reruns exactly the stages that read it (and those reading what they rewrote), and
//! `dvc metrics show` reads our metric files.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::tracking::{pyenv, run_bounded};

/// A command in `root` with the binary on PATH and DVC quiet.
fn command(root: &Path, program: &Path, args: &[&str]) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_creditrisk"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        pyenv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(root)
        .env("PATH", path)
        .env("DVC_NO_ANALYTICS", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("PYTHONWARNINGS", "ignore")
        // Keep DVC's site cache (repo index, state) inside the temporary folder.
        .env("DVC_SITE_CACHE_DIR", root.join(".dvc-site-cache"))
        .env_remove("CREDITRISK_CONFIG");
    cmd
}

fn dvc(root: &Path, args: &[&str]) -> String {
    let cmd = command(root, &pyenv().join("bin/dvc"), args);
    let (out, err) = run_bounded(cmd, Duration::from_secs(600), &format!("dvc {args:?}"));
    format!("{out}\n{err}")
}

/// The stages a `dvc repro` ran, from its "Running stage 'x':" lines.
fn repro(root: &Path) -> BTreeSet<String> {
    let out = dvc(root, &["repro"]);
    out.lines()
        .filter_map(|l| l.strip_prefix("Running stage '"))
        .filter_map(|l| l.split('\'').next())
        .map(str::to_string)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn dvc_repro_runs_the_pipeline_and_reruns_only_what_a_param_change_touches() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    std::fs::create_dir_all(root.join("configs")).unwrap();
    std::fs::create_dir_all(root.join("sql")).unwrap();
    std::fs::copy(repo.join("dvc.yaml"), root.join("dvc.yaml")).unwrap();
    let config = root.join("configs/baseline.yaml");
    std::fs::copy(repo.join("configs/baseline.yaml"), &config).unwrap();
    std::fs::copy(
        repo.join("configs/reason_statements.csv"),
        root.join("configs/reason_statements.csv"),
    )
    .unwrap();
    edit(&config, "synth_rows: 20000", "synth_rows: 3000");
    for entry in std::fs::read_dir(repo.join("sql")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, root.join("sql").join(path.file_name().unwrap())).unwrap();
    }
    let git = |args: &[&str]| {
        run_bounded(
            command(root, Path::new("git"), args),
            Duration::from_secs(60),
            &format!("git {args:?}"),
        )
    };
    git(&["init", "-q"]);
    dvc(root, &["init", "-q"]);
    run_bounded(
        command(
            root,
            Path::new(env!("CARGO_BIN_EXE_creditrisk")),
            &["synth"],
        ),
        Duration::from_secs(120),
        "creditrisk synth",
    );

    // dvc.yaml has exactly the stages of `creditrisk run`.
    let all: Vec<&str> = creditrisk_ops::pipeline::STAGES
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(repro(root), set(&all));
    assert!(root.join("dvc.lock").is_file());
    assert_eq!(repro(root), set(&[]), "a second repro must run nothing");

    // Pinning a source's checksum is read by ingest only, and nothing reads its summary.
    let bureau = creditrisk_base::io::sha256_file(&root.join("data/raw/bureau.csv")).unwrap();
    edit(
        &config,
        "uri: data/raw/bureau.csv }",
        &format!("uri: data/raw/bureau.csv, sha256: {bureau} }}"),
    );
    assert_eq!(repro(root), set(&["ingest"]));

    // The gate thresholds are read by validate-model only; auto-promote reads its new report.
    edit(&config, "    ks: 0.25", "    ks: 0.2");
    assert_eq!(repro(root), set(&["validate-model", "auto-promote"]));
    assert_eq!(repro(root), set(&[]));

    let shown = dvc(root, &["metrics", "show", "--json"]);
    let json_start = shown.find('{').expect("dvc metrics show prints JSON");
    let metrics: serde_json::Value = serde_json::Deserializer::from_str(&shown[json_start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let files = &metrics[""]["data"];
    for (file, key) in [
        ("reports/test_metrics.json", "roc_auc"),
        ("reports/metrics.json", "roc_auc"),
        ("reports/post_training_validation.json", "passed"),
        ("reports/canary_report.json", "passed"),
    ] {
        let value = &files[file]["data"][key];
        assert!(!value.is_null(), "no {key} of {file} in:\n{shown}");
    }
    let auc = files["reports/test_metrics.json"]["data"]["roc_auc"]
        .as_f64()
        .unwrap();
    assert!(auc > 0.6 && auc <= 1.0, "test AUC {auc}");
}
