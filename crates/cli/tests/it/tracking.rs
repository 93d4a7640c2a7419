//! The tracker against the real thing: MLflow 3.17.2's Python client reads what the file store
//! wrote, and a real `mlflow server` (SQLite backend, proxied artifacts, an ephemeral port on
//! 127.0.0.1, killed at the end even on panic) serves the REST backend. No mocks. Every process
//! runs under a deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use creditrisk_base::Error;
use creditrisk_base::config::Stage;
use creditrisk_mlflow::{Batch, Metric, ModelRef, NewRun, RunStatus, Tracker};
use serde_json::Value;

// ---- processes under a deadline ---------------------------------------------------------

/// Kills a child's whole process group when dropped (also while a failed test unwinds): `mlflow
/// server` runs a uvicorn child that a plain kill would orphan.
pub(crate) struct Group {
    pub(crate) child: Child,
}

impl Group {
    pub(crate) fn spawn(mut cmd: Command) -> Group {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        Group {
            child: cmd.spawn().expect("spawn"),
        }
    }

    pub(crate) fn kill(&mut self) {
        let pgid = format!("-{}", self.child.id());
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("kill")
                .args([signal, "--", &pgid])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run a command to completion within `limit`, output captured in files (no pipe deadlock).
pub(crate) fn run_bounded(mut cmd: Command, limit: Duration, what: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .stdin(Stdio::null());
    let mut group = Group::spawn(cmd);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = group.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no result within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}):\n{out}\n{err}");
    (out, err)
}

/// The virtualenv with pinned MLflow, made once per test binary.
pub(crate) fn pyenv() -> &'static Path {
    static PYENV: OnceLock<PathBuf> = OnceLock::new();
    PYENV.get_or_init(|| {
        let script =
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("scripts/python-env.sh");
        let (out, _) = run_bounded(
            Command::new(script),
            Duration::from_secs(900),
            "scripts/python-env.sh",
        );
        PathBuf::from(
            out.lines()
                .last()
                .expect("python-env.sh prints the venv path")
                .trim(),
        )
    })
}

pub(crate) fn mlflow_env(cmd: &mut Command) {
    cmd.env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("DO_NOT_TRACK", "true")
        .env("PYTHONWARNINGS", "ignore");
}

/// Run a Python script with MLflow; its last stdout line is JSON. It runs in an empty folder:
/// MLflow's file registry opens its default store (`./mlflow.db`) as a side effect.
pub(crate) fn python(script: &str, args: &[&str]) -> Value {
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(pyenv().join("bin/python"));
    cmd.arg("-c").arg(script).args(args).current_dir(cwd.path());
    mlflow_env(&mut cmd);
    let (out, err) = run_bounded(cmd, Duration::from_secs(120), "python");
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{out}\n{err}"))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mlflow server` on a fresh SQLite store with proxied artifacts; ready when /health answers.
pub(crate) struct Server {
    pub(crate) uri: String,
    _group: Group,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new(pyenv().join("bin/mlflow"));
    cmd.args([
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--workers",
        "1",
    ])
    .arg("--backend-store-uri")
    .arg(format!(
        "sqlite:///{}",
        dir.path().join("mlflow.db").display()
    ))
    .arg("--artifacts-destination")
    .arg(dir.path().join("artifacts"))
    .stdout(std::fs::File::create(dir.path().join("server.log")).unwrap())
    .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap())
    .stdin(Stdio::null());
    mlflow_env(&mut cmd);
    let mut group = Group::spawn(cmd);
    let uri = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = client.get(format!("{uri}/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        if let Ok(Some(status)) = group.child.try_wait() {
            let err = std::fs::read_to_string(dir.path().join("server.err")).unwrap_or_default();
            panic!("mlflow server exited ({status}):\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "mlflow server not ready within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Server {
        uri,
        _group: group,
        _dir: dir,
    }
}

// ---- the scenario both backends run -----------------------------------------------------

const MODEL: &str = "credit-model";
/// A ': ' makes PyYAML quote it (MLflow's own name filter cannot hold a quote).
const EXPERIMENT: &str = "credit exp: pd";
const RUN_NAME: &str = "train 1: 'quoted' #x";

/// What the scenario logged, for the checks.
struct Logged {
    run_id: String,
    params: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    /// key → (step, value) in logging order.
    metrics: BTreeMap<String, Vec<(i64, f64)>>,
    artifacts: Vec<String>,
    model_files: Vec<String>,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Relative paths of the files under `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().is_dir() {
                walk(&e.path(), root, out);
            } else {
                out.push(
                    e.path()
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// Experiment, run (params, metrics with steps, tags, a folder and a file artifact), two
/// versions, a stage transition with archive-existing, an alias move, version and model tags.
async fn scenario(t: &Tracker, extra_metrics: &[(&str, f64)]) -> Logged {
    let src = tempfile::tempdir().unwrap();
    write(
        &src.path().join("model/MLmodel"),
        "artifact_path: model\nflavors: {}\n",
    );
    write(
        &src.path().join("model/bundle.json"),
        "{\"kind\": \"test\"}\n",
    );
    write(&src.path().join("model/sub/dir/extra.txt"), "extra\n");
    write(&src.path().join("report a.txt"), "report text\n");

    let exp = t.get_or_create_experiment(EXPERIMENT).await.unwrap();
    assert_eq!(
        t.get_or_create_experiment(EXPERIMENT).await.unwrap(),
        exp,
        "get-or-create is stable"
    );
    let mut spec = NewRun::new(RUN_NAME);
    spec.user = "ci-user".into();
    spec.git_commit = Some("81f8f73".into());
    spec.tags.insert("team".into(), "risk".into());
    let run = t.create_run(&exp, &spec).await.unwrap();
    assert_eq!(run.status, RunStatus::Running);

    let ts = 1_795_758_996_559;
    let mut metrics = vec![
        ("auc", 0.81, 0),
        ("auc", 0.83, 1),
        ("auc", 3.0, 2),
        ("val/brier", 0.12, 0),
        ("nanm", f64::NAN, 0),
    ];
    metrics.extend(extra_metrics.iter().map(|(k, v)| (*k, *v, 0)));
    let mut batch = Batch::default()
        .param("lr", "0.1")
        .param("max_depth", "4")
        .param("nested/key", "x y")
        .param("quote", "it's: #1")
        .tag("stage", "dev");
    for (i, (k, v, step)) in metrics.iter().enumerate() {
        batch.metrics.push(Metric {
            key: k.to_string(),
            value: *v,
            timestamp: ts + i as i64,
            step: *step,
        });
    }
    t.log_batch(&run.run_id, &batch).await.unwrap();
    // Params are immutable: the same value again is fine, a different one is refused.
    t.log_batch(&run.run_id, &Batch::default().param("lr", "0.1"))
        .await
        .unwrap();
    let conflict = t
        .log_batch(&run.run_id, &Batch::default().param("lr", "0.2"))
        .await;
    assert!(matches!(conflict, Err(Error::Input { .. })), "{conflict:?}");
    t.set_tag(&run.run_id, "note", "set later").await.unwrap();
    // 150 params and 1200 metrics: over REST that is several requests within the limits.
    let mut big = Batch::default();
    for i in 0..150 {
        big = big.param(format!("p{i:03}"), i.to_string());
    }
    for i in 0..1200 {
        big.metrics.push(Metric {
            key: "loss".into(),
            value: 1.0 / (i + 1) as f64,
            timestamp: ts,
            step: i,
        });
    }
    t.log_batch(&run.run_id, &big).await.unwrap();

    t.log_artifact(&run.run_id, &src.path().join("model"), "model")
        .await
        .unwrap();
    t.log_artifact(&run.run_id, &src.path().join("report a.txt"), "reports")
        .await
        .unwrap();
    t.end_run(&run.run_id, RunStatus::Finished, None)
        .await
        .unwrap();

    t.create_registered_model(MODEL).await.unwrap();
    t.create_registered_model(MODEL).await.unwrap(); // idempotent
    let v1 = t
        .create_model_version(
            MODEL,
            &run.artifact_uri_of("model"),
            Some(&run.run_id),
            None,
        )
        .await
        .unwrap();
    let source2 = format!("runs:/{}/model", run.run_id);
    let v2 = t
        .create_model_version(
            MODEL,
            &source2,
            Some(&run.run_id),
            Some("second version, registered from a runs:/ URI"),
        )
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.stage, Stage::None);
    t.transition_stage(MODEL, 1, Stage::Production, false)
        .await
        .unwrap();
    let promoted = t
        .transition_stage(MODEL, 2, Stage::Production, true)
        .await
        .unwrap();
    assert_eq!(promoted.stage, Stage::Production);
    assert!(
        t.transition_stage(MODEL, 2, Stage::None, true)
            .await
            .is_err(),
        "archive needs an active stage"
    );
    t.set_alias(MODEL, "champion", 1).await.unwrap();
    t.set_alias(MODEL, "champion", 2).await.unwrap(); // moved
    t.set_alias(MODEL, "challenger", 1).await.unwrap();
    t.set_alias(MODEL, "temp", 1).await.unwrap();
    t.delete_alias(MODEL, "temp").await.unwrap();
    t.set_model_version_tag(MODEL, 2, "validation_status", "approved")
        .await
        .unwrap();
    t.set_registered_model_tag(MODEL, "owner", "risk-team")
        .await
        .unwrap();

    let mut params: BTreeMap<String, String> = [
        ("lr", "0.1"),
        ("max_depth", "4"),
        ("nested/key", "x y"),
        ("quote", "it's: #1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.extend((0..150).map(|i| (format!("p{i:03}"), i.to_string())));
    let tags: BTreeMap<String, String> = [
        ("mlflow.runName", RUN_NAME),
        ("mlflow.user", "ci-user"),
        ("mlflow.source.name", "creditrisk"),
        ("mlflow.source.type", "LOCAL"),
        ("mlflow.source.git.commit", "81f8f73"),
        ("team", "risk"),
        ("stage", "dev"),
        ("note", "set later"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut by_key: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for (k, v, step) in metrics {
        by_key.entry(k.to_string()).or_default().push((step, v));
    }
    by_key.insert(
        "loss".into(),
        (0..1200).map(|i| (i, 1.0 / (i + 1) as f64)).collect(),
    );
    Logged {
        run_id: run.run_id,
        params,
        tags,
        metrics: by_key,
        artifacts: [
            "model/MLmodel",
            "model/bundle.json",
            "model/sub/dir/extra.txt",
            "reports/report a.txt",
        ]
        .map(String::from)
        .to_vec(),
        model_files: ["MLmodel", "bundle.json", "sub/dir/extra.txt"]
            .map(String::from)
            .to_vec(),
    }
}

/// What our own reader sees, and every reference form.
async fn check_with_tracker(t: &Tracker, logged: &Logged, cache: &Path) {
    let run = t.get_run(&logged.run_id).await.unwrap();
    assert_eq!(run.info.status, RunStatus::Finished);
    assert!(run.info.end_time.is_some());
    assert_eq!(run.info.run_name, RUN_NAME);
    assert_eq!(run.params, logged.params);
    assert_eq!(run.tags, logged.tags);
    assert_eq!(run.metrics["auc"].value, 3.0);
    assert_eq!(run.metrics["auc"].step, 2);
    assert!(run.metrics["nanm"].value.is_nan());
    let history = t.metric_history(&logged.run_id, "auc").await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        t.metric_history(&logged.run_id, "loss")
            .await
            .unwrap()
            .len(),
        1200
    );
    let top: Vec<String> = t
        .list_artifacts(&logged.run_id, "")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(top, vec!["model", "reports"]);
    let model_entries = t.list_artifacts(&logged.run_id, "model").await.unwrap();
    assert!(
        model_entries
            .iter()
            .any(|e| e.path == "model/MLmodel" && !e.is_dir && e.size == Some(33)),
        "{model_entries:?}"
    );
    let dl = tempfile::tempdir().unwrap();
    let got = t
        .download_artifacts(&logged.run_id, "model", dl.path())
        .await
        .unwrap();
    assert_eq!(files(&got), logged.model_files);
    let one = t
        .download_artifacts(&logged.run_id, "reports/report a.txt", dl.path())
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(one).unwrap(), "report text\n");
    let missing = t
        .download_artifacts(&logged.run_id, "nope.txt", dl.path())
        .await;
    assert!(matches!(missing, Err(Error::Input { .. })), "{missing:?}");

    let versions = t.list_model_versions(MODEL).await.unwrap();
    let summary: Vec<(u64, Stage, Vec<String>)> = versions
        .iter()
        .map(|v| (v.version, v.stage, v.aliases.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Stage::Archived, vec!["challenger".to_string()]),
            (2, Stage::Production, vec!["champion".to_string()])
        ]
    );
    assert_eq!(
        versions[1]
            .tags
            .get("validation_status")
            .map(String::as_str),
        Some("approved")
    );
    assert_eq!(versions[1].run_id.as_deref(), Some(logged.run_id.as_str()));
    assert_eq!(versions[1].source, format!("runs:/{}/model", logged.run_id));

    for (text, want) in [
        ("models:/credit-model/1", 1),
        ("models:/credit-model@champion", 2),
        ("models:/credit-model@challenger", 1),
        ("models:/credit-model/Production", 2),
        ("models:/credit-model/archived", 1),
        ("models:/credit-model/latest", 2),
    ] {
        let mv = t.resolve(&ModelRef::parse(text).unwrap()).await.unwrap();
        assert_eq!(mv.version, want, "{text}");
        let located = t
            .locate(&ModelRef::parse(text).unwrap(), cache)
            .await
            .unwrap();
        assert_eq!(files(&located.dir), logged.model_files, "{text}");
    }
    let again = t.download_version(&versions[0], cache).await.unwrap();
    assert_eq!(
        files(&again),
        logged.model_files,
        "the cached copy is reused"
    );
    for (text, needle) in [
        (
            "models:/credit-model/Staging",
            "models:/credit-model/Staging",
        ),
        ("models:/credit-model@nope", "nope"),
        ("models:/credit-model/99", "credit-model"),
        ("models:/no-such-model/1", "no-such-model"),
    ] {
        match t.resolve(&ModelRef::parse(text).unwrap()).await {
            Err(Error::Input { message: m, .. }) => assert!(m.contains(needle), "{text}: {m}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

/// MLflow's Python client reads the store or server back; values as text (repr) so NaN survives
/// JSON. It then registers a third version itself, proving the numbering is shared.
const READ_BACK: &str = r#"
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient
uri, run_id, model, exp_name = sys.argv[1:5]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(uri, registry_uri=uri)
r = c.get_run(run_id)
def walk(path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out += walk(f.path) if f.is_dir else [f.path]
    return out
def tree(p):
    return sorted(os.path.relpath(os.path.join(d, f), p) for d, _, fs in os.walk(p) for f in fs)
hist = {k: [[m.step, repr(m.value)] for m in sorted(c.get_metric_history(run_id, k), key=lambda m: (m.timestamp, m.step))]
        for k in r.data.metrics}
versions = sorted(c.search_model_versions(f"name='{model}'"), key=lambda v: int(v.version))
rm = c.get_registered_model(model)
downloads = {}
for ref in [f"models:/{model}/1", f"models:/{model}/2", f"models:/{model}@champion"]:
    downloads[ref] = tree(mlflow.artifacts.download_artifacts(ref, dst_path=tempfile.mkdtemp()))
v3 = c.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
print(json.dumps({
    "experiment_id": c.get_experiment_by_name(exp_name).experiment_id,
    "run": {"name": r.info.run_name, "status": r.info.status, "user": r.info.user_id,
            "experiment_id": r.info.experiment_id, "ended": r.info.end_time is not None,
            "params": r.data.params, "tags": r.data.tags,
            "latest": {k: repr(v) for k, v in r.data.metrics.items()}},
    "history": hist,
    "artifacts": sorted(walk()),
    "versions": [{"version": int(v.version), "stage": v.current_stage, "run_id": v.run_id, "source": v.source,
                  "tags": v.tags, "description": v.description or None} for v in versions],
    "by_alias": {a: int(c.get_model_version_by_alias(model, a).version) for a in ["champion", "challenger"]},
    "aliases": {a: int(v) for a, v in rm.aliases.items()},
    "model_tags": rm.tags,
    "downloads": downloads,
    "python_version": int(v3.version),
}))
"#;

fn check_with_mlflow(uri: &str, logged: &Logged, exp_id: &str) {
    let got = python(READ_BACK, &[uri, &logged.run_id, MODEL, EXPERIMENT]);
    assert_eq!(got["experiment_id"], exp_id);
    let run = &got["run"];
    assert_eq!(run["name"], RUN_NAME);
    assert_eq!(run["status"], "FINISHED");
    assert_eq!(run["user"], "ci-user");
    assert_eq!(run["ended"], true);
    let params: BTreeMap<String, String> = serde_json::from_value(run["params"].clone()).unwrap();
    assert_eq!(params, logged.params);
    let tags: BTreeMap<String, String> = serde_json::from_value(run["tags"].clone()).unwrap();
    assert_eq!(tags, logged.tags);
    // Every value of every metric, with its step, as MLflow reads it.
    let history: BTreeMap<String, Vec<(i64, String)>> =
        serde_json::from_value(got["history"].clone()).unwrap();
    assert_eq!(
        history.keys().collect::<Vec<_>>(),
        logged.metrics.keys().collect::<Vec<_>>()
    );
    for (key, want) in &logged.metrics {
        let have = &history[key];
        assert_eq!(have.len(), want.len(), "{key}");
        for ((s1, v1), (s2, v2)) in have.iter().zip(want) {
            assert_eq!(s1, s2, "{key}");
            let v1: f64 = v1.parse().unwrap();
            assert!(same_float(v1, *v2), "{key}: {v1} != {v2}");
        }
    }
    assert_eq!(run["latest"]["auc"], "3.0");
    let artifacts: Vec<String> = serde_json::from_value(got["artifacts"].clone()).unwrap();
    assert_eq!(artifacts, logged.artifacts);
    let versions = got["versions"].as_array().unwrap();
    let stages: Vec<(i64, &str)> = versions
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["stage"].as_str().unwrap()))
        .collect();
    assert_eq!(stages, vec![(1, "Archived"), (2, "Production")]);
    for v in versions {
        assert_eq!(v["run_id"], logged.run_id.as_str());
    }
    assert_eq!(
        versions[1]["source"],
        format!("runs:/{}/model", logged.run_id)
    );
    assert_eq!(versions[1]["tags"]["validation_status"], "approved");
    assert_eq!(
        versions[1]["description"],
        "second version, registered from a runs:/ URI"
    );
    assert_eq!(versions[0]["description"], Value::Null);
    assert_eq!(
        got["by_alias"],
        serde_json::json!({"champion": 2, "challenger": 1})
    );
    assert_eq!(
        got["aliases"],
        serde_json::json!({"champion": 2, "challenger": 1})
    );
    assert_eq!(got["model_tags"], serde_json::json!({"owner": "risk-team"}));
    for (reference, tree) in got["downloads"].as_object().unwrap() {
        let tree: BTreeSet<String> = serde_json::from_value(tree.clone()).unwrap();
        for f in &logged.model_files {
            assert!(tree.contains(f), "{reference}: {f} missing from {tree:?}");
        }
    }
    assert_eq!(
        got["python_version"], 3,
        "MLflow numbers the next version after ours"
    );
}

/// Every meta.yaml in the store is exactly what PyYAML would write for its content.
const PYYAML_BYTES: &str = r#"
import json, os, sys, yaml
bad = []
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        if f == "meta.yaml":
            p = os.path.join(d, f)
            text = open(p, encoding="utf-8").read()
            again = yaml.safe_dump(yaml.safe_load(text), default_flow_style=False, allow_unicode=True, sort_keys=True)
            n += 1
            if again != text:
                bad.append([p, text, again])
print(json.dumps({"checked": n, "bad": bad}))
"#;

// ---- tests ------------------------------------------------------------------------------

#[test]
fn model_references_parse_strictly() {
    let ok = [
        (
            "models:/credit-model/3",
            ModelRef::Version {
                name: "credit-model".into(),
                version: 3,
            },
        ),
        (
            "models:/credit-model@champion",
            ModelRef::Alias {
                name: "credit-model".into(),
                alias: "champion".into(),
            },
        ),
        (
            "models:/credit-model/Production",
            ModelRef::Stage {
                name: "credit-model".into(),
                stage: Stage::Production,
            },
        ),
        (
            "models:/credit-model/staging",
            ModelRef::Stage {
                name: "credit-model".into(),
                stage: Stage::Staging,
            },
        ),
        (
            "models:/m/None",
            ModelRef::Stage {
                name: "m".into(),
                stage: Stage::None,
            },
        ),
        ("models:/m/latest", ModelRef::Latest { name: "m".into() }),
        ("artifacts/model", ModelRef::Path("artifacts/model".into())),
        ("/abs/bundle", ModelRef::Path("/abs/bundle".into())),
        ("file:///abs/bundle", ModelRef::Path("/abs/bundle".into())),
    ];
    for (text, want) in ok {
        let got = ModelRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, want, "{text}");
        if !text.starts_with("file:") && text != "models:/credit-model/staging" {
            assert_eq!(got.to_string(), text, "display round-trips");
        }
    }
    for bad in [
        "",
        "models:/",
        "models:/credit-model",
        "models:/credit-model/",
        "models:/credit-model/0",
        "models:/credit-model/Prod",
        "models:/credit-model/1/extra",
        "models://credit-model/1",
        "models:/@champion",
        "models:/credit-model@",
        "models:/credit-model@bad alias",
        "models:/credit-model@v1",
        "models:/a:b/1",
        "runs:/abc/model",
        "s3://bucket/model",
    ] {
        match ModelRef::parse(bad) {
            Err(Error::Config { message: m, .. }) => assert!(
                m.contains(&format!("{bad:?}")),
                "message names the reference: {m}"
            ),
            other => panic!("{bad:?} should be refused, got {other:?}"),
        }
    }
}

#[test]
fn tracking_uris_choose_the_backend() {
    assert!(matches!(Tracker::from_uri("mlruns"), Ok(Tracker::File(_))));
    assert!(matches!(
        Tracker::from_uri("file:///tmp/x/mlruns"),
        Ok(Tracker::File(_))
    ));
    assert!(matches!(
        Tracker::from_uri("http://127.0.0.1:5000"),
        Ok(Tracker::Rest(_))
    ));
    assert!(matches!(
        Tracker::from_uri("https://mlflow.example.com/prefix"),
        Ok(Tracker::Rest(_))
    ));
    for bad in [
        "",
        "  ",
        "sqlite:///mlflow.db",
        "databricks://profile",
        "file:relative",
        "http://",
    ] {
        assert!(
            matches!(Tracker::from_uri(bad), Err(Error::Config { .. })),
            "{bad:?}"
        );
    }
    let t = Tracker::from_uri("file:///tmp/x/mlruns").unwrap();
    assert_eq!(t.uri(), "file:///tmp/x/mlruns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_is_read_back_by_mlflow() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    // A plain path: MLflow writes plain artifact paths then; the client reads it through file://.
    let t = Tracker::from_uri(root.to_str().unwrap()).unwrap();
    let logged = {
        let logged = scenario(
            &t,
            &[
                ("infm", f64::INFINITY),
                ("neg_inf", f64::NEG_INFINITY),
                ("tiny", 1e-7),
            ],
        )
        .await;
        // A long description folds across lines and a newline makes a multi-line scalar.
        let long = "A long description of a model version that is well over eighty characters wide, with spaces\nand a second line";
        let run = t.get_run(&logged.run_id).await.unwrap();
        let v = t
            .create_model_version(
                MODEL,
                &run.info.artifact_uri_of("model"),
                Some(&logged.run_id),
                Some(long),
            )
            .await;
        assert_eq!(v.unwrap().description.as_deref(), Some(long));
        logged
    };
    // Our own files, before MLflow touches them.
    let auc = std::fs::read_to_string(find_file(&root, "metrics/auc")).unwrap();
    assert!(auc.ends_with("1795758996561 3.0 2\n"), "{auc}");
    let tags_dir = find_file(&root, "tags/mlflow.runName");
    assert_eq!(
        std::fs::read_to_string(tags_dir).unwrap(),
        RUN_NAME,
        "no trailing newline"
    );
    let alias =
        std::fs::read_to_string(root.join("models").join(MODEL).join("aliases/champion")).unwrap();
    assert_eq!(alias, "2");
    let meta = std::fs::read_to_string(root.join("models").join(MODEL).join("meta.yaml")).unwrap();
    assert!(
        meta.starts_with("aliases:\n  challenger: '1'\n  champion: '2'\n"),
        "{meta}"
    );

    // v3 (our long-description version) is the newest now; the reference checks expect v2 latest.
    t.transition_stage(MODEL, 3, Stage::Archived, false)
        .await
        .unwrap();
    let bytes = python(PYYAML_BYTES, &[root.to_str().unwrap()]);
    assert!(bytes["checked"].as_u64().unwrap() >= 6, "{bytes}");
    assert_eq!(
        bytes["bad"],
        serde_json::json!([]),
        "meta.yaml differs from PyYAML's bytes"
    );

    // Everything MLflow's client sees (it numbers its own next version 4 here).
    let exp_id = t.get_or_create_experiment(EXPERIMENT).await.unwrap();
    let uri = url_of(&root);
    let got = python(READ_BACK, &[&uri, &logged.run_id, MODEL, EXPERIMENT]);
    assert_eq!(got["python_version"], 4);
    assert_eq!(got["run"]["latest"]["infm"], "inf");
    assert_eq!(got["run"]["latest"]["tiny"], "1e-07");
    let descriptions: Vec<Value> = got["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["description"].clone())
        .collect();
    assert_eq!(
        descriptions[2],
        "A long description of a model version that is well over eighty characters wide, with spaces\nand a second line"
    );
    let _ = exp_id;
}

fn url_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The one file under `root` whose path ends with `suffix`.
fn find_file(root: &Path, suffix: &str) -> PathBuf {
    fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, suffix, out);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    let mut out = vec![];
    walk(root, suffix, &mut out);
    assert_eq!(out.len(), 1, "{suffix}: {out:?}");
    out.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_scenario_matches_mlflow_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let t = Tracker::from_uri(&url_of(&root)).unwrap();
    let logged = scenario(&t, &[]).await;
    check_with_tracker(&t, &logged, &dir.path().join("cache")).await;
    let exp_id = t.get_or_create_experiment(EXPERIMENT).await.unwrap();
    check_with_mlflow(&t.uri(), &logged, &exp_id);
    // MLflow's own version 3 is visible to us, and we continue the numbering.
    let next = t
        .create_model_version(
            MODEL,
            &format!("runs:/{}/model", logged.run_id),
            Some(&logged.run_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(next.version, 4);
}

/// 16 writers at once against one store: one experiment, 16 runs, versions 1..=16.
async fn concurrent_writers(t: &Tracker) -> Vec<(String, u64)> {
    let src = tempfile::tempdir().unwrap();
    write(
        &src.path().join("model/MLmodel"),
        "artifact_path: model\nflavors: {}\n",
    );
    let model_dir = src.path().join("model");
    let mut tasks = vec![];
    for i in 0..16 {
        let t = t.clone();
        let model_dir = model_dir.clone();
        tasks.push(tokio::spawn(async move {
            let exp = t.get_or_create_experiment("concurrent").await.unwrap();
            let run = t
                .create_run(&exp, &NewRun::new(format!("writer-{i}")))
                .await
                .unwrap();
            t.log_batch(
                &run.run_id,
                &Batch::default()
                    .metric("auc", i as f64 / 16.0, 0)
                    .param("writer", i.to_string()),
            )
            .await
            .unwrap();
            t.log_artifact(&run.run_id, &model_dir, "model")
                .await
                .unwrap();
            t.end_run(&run.run_id, RunStatus::Finished, None)
                .await
                .unwrap();
            t.create_registered_model("concurrent-model").await.unwrap();
            let v = t
                .create_model_version(
                    "concurrent-model",
                    &run.artifact_uri_of("model"),
                    Some(&run.run_id),
                    None,
                )
                .await
                .unwrap();
            (exp, run.run_id, v.version)
        }));
    }
    let mut out = vec![];
    let mut experiments = BTreeSet::new();
    for task in tasks {
        let (exp, run_id, version) = task.await.unwrap();
        experiments.insert(exp);
        out.push((run_id, version));
    }
    assert_eq!(
        experiments.len(),
        1,
        "one experiment for all writers: {experiments:?}"
    );
    let mut numbers: Vec<u64> = out.iter().map(|(_, v)| *v).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>());
    out
}

const READ_CONCURRENT: &str = r#"
import json, sys
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient(sys.argv[1], registry_uri=sys.argv[1])
exp = c.get_experiment_by_name("concurrent")
runs = c.search_runs([exp.experiment_id], max_results=100)
versions = c.search_model_versions("name='concurrent-model'")
print(json.dumps({
    "runs": sorted([r.info.run_id, r.info.status, r.data.params.get("writer"), len(r.data.metrics)] for r in runs),
    "versions": sorted([int(v.version), v.run_id] for v in versions),
}))
"#;

fn check_concurrent_with_mlflow(uri: &str, written: &[(String, u64)]) {
    let got = python(READ_CONCURRENT, &[uri]);
    let runs = got["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 16, "{got}");
    let writers: BTreeSet<String> = runs
        .iter()
        .map(|r| r[2].as_str().unwrap().to_string())
        .collect();
    assert_eq!(writers.len(), 16);
    for r in runs {
        assert_eq!(r[1], "FINISHED");
        assert_eq!(r[3], 1);
    }
    let versions: Vec<(u64, String)> = serde_json::from_value(got["versions"].clone()).unwrap();
    let mut want: Vec<(u64, String)> = written.iter().map(|(r, v)| (*v, r.clone())).collect();
    want.sort();
    assert_eq!(versions, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_one_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mlruns");
    let t = Tracker::from_uri(root.to_str().unwrap()).unwrap();
    let written = concurrent_writers(&t).await;
    check_concurrent_with_mlflow(&url_of(&root), &written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_backend_against_a_real_mlflow_server() {
    let server = start_server().await;
    let t = Tracker::from_uri(&server.uri).unwrap();
    assert!(t.is_remote());
    let cache = tempfile::tempdir().unwrap();
    let logged = scenario(&t, &[]).await;
    check_with_tracker(&t, &logged, cache.path()).await;
    let cached = cache.path().join(MODEL).join("1");
    assert_eq!(
        files(&cached),
        logged.model_files,
        "downloaded once into cache/<name>/<version>"
    );
    let exp_id = t.get_or_create_experiment(EXPERIMENT).await.unwrap();
    check_with_mlflow(&server.uri, &logged, &exp_id);
    let written = concurrent_writers(&t).await;
    check_concurrent_with_mlflow(&server.uri, &written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_a_clear_error_naming_the_uri() {
    let uri = format!("http://127.0.0.1:{}", free_port());
    let t = Tracker::from_uri(&uri).unwrap();
    let start = Instant::now();
    let err = t.get_or_create_experiment("x").await.unwrap_err();
    let elapsed = start.elapsed();
    match &err {
        Error::Input { message: m, .. } => {
            assert!(m.contains(&uri) && m.contains("cannot reach"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        elapsed < Duration::from_secs(10),
        "bounded retries, took {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(2500),
        "it did retry with backoff ({elapsed:?})"
    );
}
