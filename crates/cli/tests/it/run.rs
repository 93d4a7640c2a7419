//! `creditrisk run` and `demo` through the CLI, as a user runs them: the demo prints its summary,
//! a second run skips every stage, a raw file rerun reruns what reads it, `--force` reruns all,
//! `--from/--to` restrict, a modified or deleted output reruns its stage (and only what its new
//! bytes change), and a failing gate stops the run naming the stage. All through one binary, so
//! its fingerprint stays the same between the runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// The stages of `run`, in order, from its table.
fn stages() -> Vec<&'static str> {
    creditrisk_ops::pipeline::STAGES
        .iter()
        .map(|s| s.name)
        .collect()
}

/// A project folder with the baseline config.
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

fn creditrisk(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.args(args)
        .current_dir(root)
        .env("CREDITRISK_CONFIG", root.join("configs/baseline.yaml"))
        .env("CREDITRISK__DATA__SYNTH_ROWS", "3000");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Run and require success; the closing table as stage → "ran" | "skipped".
fn run(root: &Path, args: &[&str]) -> BTreeMap<String, String> {
    let out = creditrisk(root, args, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "creditrisk {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    table(&stdout)
}

fn table(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (stage, outcome) = (words.next()?, words.next()?);
            (stages().contains(&stage) && matches!(outcome, "ran" | "skipped"))
                .then(|| (stage.to_string(), outcome.to_string()))
        })
        .collect()
}

fn with(table: &BTreeMap<String, String>, outcome: &str) -> Vec<String> {
    stages()
        .into_iter()
        .filter(|s| table.get(*s).map(String::as_str) == Some(outcome))
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn run_skips_what_is_unchanged_and_reruns_what_changed() {
    let dir = project();
    let root = dir.path();

    // The demo synthesises, runs every stage and says where everything is.
    let out = creditrisk(root, &["demo"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(with(&table(&stdout), "ran"), stages());
    for expected in [
        "test AUC 0.",
        "reports: ",
        "report.html",
        "creditrisk serve",
        "models:/creditrisk-pd/Production",
    ] {
        assert!(stdout.contains(expected), "no `{expected}` in:\n{stdout}");
    }
    for stage in stages() {
        assert!(
            root.join(format!("reports/.stages/{stage}.json")).is_file(),
            "{stage}"
        );
    }

    // Nothing changed: every stage skipped.
    let again = run(root, &["run"]);
    assert_eq!(with(&again, "skipped"), stages(), "{again:?}");

    // A new mtime with the same bytes is no change (content hashes).
    let bureau = root.join("data/raw/bureau.csv");
    let file = std::fs::File::options().append(true).open(&bureau).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(file);
    assert_eq!(with(&run(root, &["run"]), "skipped"), stages());

    // New raw bytes: ingest and the feature store rerun (and what their new outputs change).
    let test_file = root.join("data/raw/application_test.csv");
    let text = std::fs::read_to_string(&test_file).unwrap();
    let fewer = &text[..text.trim_end().rfind('\n').unwrap() + 1];
    std::fs::write(&test_file, fewer).unwrap();
    let changed = run(root, &["run"]);
    assert_eq!(changed["ingest"], "ran");
    assert_eq!(changed["build-feature-store"], "ran");
    assert_eq!(with(&run(root, &["run"]), "skipped"), stages());

    // --from/--to restrict; `evaluate` names both evaluations.
    let part = run(
        root,
        &[
            "run",
            "--from",
            "evaluate",
            "--to",
            "validate-model",
            "--force",
        ],
    );
    assert_eq!(
        part.keys().cloned().collect::<Vec<_>>(),
        ["evaluate-test", "evaluate-train", "validate-model"]
    );
    assert_eq!(with(&part, "ran").len(), 3);
    // The stages left out see the new validation report on the next full run.
    assert_eq!(with(&run(root, &["run"]), "ran"), ["auto-promote"]);

    // A modified output reruns its stage; it writes the same bytes again, so validate-model
    // (which reads them) stays skipped.
    let metrics = root.join("reports/test_metrics.json");
    let mut bytes = std::fs::read(&metrics).unwrap();
    bytes.extend_from_slice(b" ");
    std::fs::write(&metrics, bytes).unwrap();
    let rerun = run(root, &["run"]);
    assert_eq!(with(&rerun, "ran"), ["evaluate-test"], "{rerun:?}");

    // A deleted output reruns its stage.
    std::fs::remove_file(root.join("reports/canary_report.json")).unwrap();
    let rerun = run(root, &["run"]);
    assert_eq!(rerun["canary"], "ran");
    assert_eq!(rerun["train"], "skipped");

    // --force reruns all.
    assert_eq!(with(&run(root, &["run", "--force"]), "ran"), stages());

    // A failing gate stops the run, naming the stage; canary and auto-promote do not run.
    let out = creditrisk(
        root,
        &["run"],
        &[("CREDITRISK__TESTING__MIN_METRICS__ROC_AUC", "0.999")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stage `validate-model` failed") && stderr.contains("min_metric.roc_auc"),
        "{stderr}"
    );
    let canary_ran = stderr
        .lines()
        .any(|l| l.starts_with("canary") && l.contains("running"));
    assert!(!canary_ran, "{stderr}");

    // An unknown stage is a usage error listing the stages.
    let out = creditrisk(root, &["run", "--from", "evaluation"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("build-feature-store"), "{stderr}");
}

#[test]
fn deploy_manifest_pins_the_promoted_model() {
    let dir = project();
    let root = dir.path();
    run(root, &["demo"]);
    let out = creditrisk(
        root,
        &["deploy-manifest"],
        &[("CREDITRISK_MODEL", "models:/creditrisk-pd/Production")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(root.join("reports/deploy_manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["model_reference"], "models:/creditrisk-pd/Production");
    assert_eq!(m["resolved_version"], 1);
    let bundle = std::fs::read_to_string(root.join("models/creditrisk-pd/latest")).unwrap();
    let manifest = root
        .join("models/creditrisk-pd")
        .join(bundle.trim())
        .join("manifest.json");
    assert_eq!(
        m["bundle_sha256"],
        creditrisk_base::io::sha256_file(&manifest).unwrap()
    );
    assert_eq!(m["image"]["entrypoint"][0], "creditrisk");
    assert_eq!(m["binary_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["config_hash"].as_str().unwrap().len(), 64);
}
