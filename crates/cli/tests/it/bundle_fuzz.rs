//! Tampered bundles (files edited, manifest checksums recomputed so the manifest check passes):
//! loading, `batch-predict`, `serve` and `deploy-manifest` answer each with a clean error or a
//! normal result, never a panic, an abort or a hang. Hundreds of random mutations of the JSON
//! files, plus the hostile edits found by hand (child index 999999, split feature 100000, a node
//! that is its own child, empty calibration knots, reason_codes 10^9, manifest names outside the
//! folder).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use creditrisk_base::catalog::RawTable;
use creditrisk_base::parquet_io;
use creditrisk_base::{Layout, Split};
use creditrisk_mlflow::ModelRef;
use creditrisk_model::{ModelBundle, ScoreOptions};
use creditrisk_ops::predict::{History, PredictOptions, PredictRequest};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support;

const FILES: [&str; 5] = [
    "learner.json",
    "preprocessing.json",
    "calibration.json",
    "model.json",
    "validation_metrics.json",
];

/// A copy of `bundle` in `dir` with `file` replaced by `value` and the manifest recomputed.
fn tampered(bundle: &Path, dir: &Path, file: &str, value: &Value) -> PathBuf {
    copy_dir(bundle, dir);
    std::fs::write(dir.join(file), serde_json::to_vec(value).unwrap()).unwrap();
    rehash(dir);
    dir.to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Recompute every manifest checksum, as an attacker with write access would.
fn rehash(dir: &Path) {
    let path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let names: Vec<String> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for name in names {
        if let Ok(bytes) = std::fs::read(dir.join(&name)) {
            manifest["files"][&name] = Value::String(hex(&Sha256::digest(&bytes)));
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Paths to every number, string and array inside `v` (JSON pointers).
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                leaves(child, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            out.push(at.clone());
            for (i, child) in items.iter().enumerate() {
                leaves(child, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// A hostile replacement for the value at one leaf.
fn hostile(rng: &mut ChaCha8Rng, old: &Value) -> Value {
    let choices: [Value; 12] = [
        serde_json::json!(0),
        serde_json::json!(-1),
        serde_json::json!(999_999),
        serde_json::json!(100_000),
        serde_json::json!(1_000_000_000u64),
        serde_json::json!(1e308),
        serde_json::json!(-1e308),
        Value::Null,
        serde_json::json!([]),
        serde_json::json!(""),
        serde_json::json!(true),
        match old {
            Value::Array(items) => Value::Array(items.iter().chain(items).cloned().collect()),
            other => other.clone(),
        },
    ];
    choices[rng.random_range(0..choices.len())].clone()
}

/// Load and score `dir` on a worker thread; a panic or a run past 20 s fails the test.
fn load_and_score(dir: &Path, rows: &datafusion::arrow::array::RecordBatch, what: &str) {
    let (tx, rx) = mpsc::channel();
    let (dir, rows) = (dir.to_path_buf(), rows.clone());
    std::thread::spawn(move || {
        let outcome = ModelBundle::load(&dir).map(|b| {
            let options = ScoreOptions {
                explain: true,
                ..ScoreOptions::default()
            };
            b.score_batch(&rows, options).map(|s| s.rows())
        });
        let _ = tx.send(outcome.is_ok());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(_) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: loading and scoring hung"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: loading or scoring panicked"),
    }
}

#[test]
fn random_mutations_never_panic_or_hang() {
    let (_, cfg, bundle) = support::trained_project(1500, 71);
    let rows = parquet_io::read_parquet(&Layout::new(&cfg).split_file(Split::Test), "").unwrap();
    let rows = rows.slice(0, rows.num_rows().min(200));
    let scratch = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut refused = 0;
    for i in 0..300 {
        let file = FILES[rng.random_range(0..FILES.len())];
        let mut value: Value =
            serde_json::from_slice(&std::fs::read(bundle.join(file)).unwrap()).unwrap();
        let mut paths = vec![];
        leaves(&value, String::new(), &mut paths);
        let at = &paths[rng.random_range(0..paths.len())];
        let old = value.pointer(at).unwrap().clone();
        *value.pointer_mut(at).unwrap() = hostile(&mut rng, &old);
        let dir = tampered(&bundle, &scratch.path().join(i.to_string()), file, &value);
        load_and_score(&dir, &rows, &format!("{file}{at}"));
        refused += usize::from(ModelBundle::load(&dir).is_err());
    }
    // Most hostile values are refused at load; some (a metric, a timestamp) are harmless.
    assert!(
        refused > 100,
        "only {refused} of 300 tampered bundles were refused"
    );
}

/// The edits a hostile tester made by hand, each through every entry point.
#[test]
fn targeted_edits_are_refused_by_every_entry_point() {
    let (_, cfg, bundle) = support::trained_project(1500, 72);
    let scratch = tempfile::tempdir().unwrap();
    let learner: Value =
        serde_json::from_slice(&std::fs::read(bundle.join("learner.json")).unwrap()).unwrap();
    let first_split = |v: &Value| {
        v["trees"]
            .as_array()
            .unwrap()
            .iter()
            .position(|t| t["nodes"].as_array().unwrap().len() > 1)
            .unwrap()
    };
    let t = first_split(&learner);
    let edits: Vec<(&str, &str, Value)> = vec![
        (
            "learner.json",
            "/nodes/0/left_child",
            serde_json::json!(999_999),
        ),
        (
            "learner.json",
            "/nodes/0/split_feature",
            serde_json::json!(100_000),
        ),
        ("learner.json", "/nodes/0/right_child", serde_json::json!(0)),
        ("calibration.json", "/knots_logit", serde_json::json!([])),
        (
            "model.json",
            "/reason_codes",
            serde_json::json!(1_000_000_000u64),
        ),
    ];
    let mut dirs = vec![];
    for (i, (file, at, new)) in edits.iter().enumerate() {
        let mut value: Value =
            serde_json::from_slice(&std::fs::read(bundle.join(file)).unwrap()).unwrap();
        let at = match *file {
            "learner.json" => format!("/trees/{t}{at}"),
            _ => at.to_string(),
        };
        match value.pointer_mut(&at) {
            Some(slot) => *slot = new.clone(),
            // A calibration without knots (not isotonic): give it an empty isotonic table.
            None => {
                value = serde_json::json!({"method": "isotonic", "knots_logit": [], "knots_pd": []})
            }
        }
        dirs.push((
            format!("{file}{at}"),
            tampered(&bundle, &scratch.path().join(i.to_string()), file, &value),
        ));
    }
    for (name, outside) in [("../../etc/hostname", "hostname"), ("/dev/zero", "zero")] {
        let dir = scratch.path().join(outside);
        copy_dir(&bundle, &dir);
        let path = dir.join("manifest.json");
        let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        manifest["files"][name] = Value::String("0".repeat(64));
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
        dirs.push((format!("manifest names {name}"), dir));
    }
    let layout = Layout::new(&cfg);
    let input = layout.raw_file(RawTable::ApplicationTest);
    for (what, dir) in &dirs {
        let err = match ModelBundle::load(dir) {
            Ok(_) => panic!("{what}: the tampered bundle loaded"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("model bundle"), "{what}: {err}");
        let reference = ModelRef::Path(dir.clone());
        let request = PredictRequest {
            model: reference.clone(),
            input: input.clone(),
            output: scratch.path().join("scored.parquet"),
            threshold: None,
            history: History::Store,
        };
        let opts = PredictOptions::from_config(&cfg);
        let predicted =
            support::runtime().block_on(creditrisk_ops::predict::run(&layout, &opts, &request));
        refused(what, "batch-predict", predicted.map(|_| ()));
        let deployed =
            support::runtime().block_on(creditrisk_ops::deploy::manifest(&cfg, &reference));
        refused(what, "deploy-manifest", deployed.map(|_| ()));
        let served = support::runtime().block_on(creditrisk_serve::bind(
            &layout,
            &creditrisk_serve::ServeOptions::from_config(&cfg),
            &reference,
            "127.0.0.1:0".parse().unwrap(),
        ));
        refused(what, "serve", served.map(|_| ()));
    }
}

/// The entry point answered with the bundle's error, not a result or another failure.
fn refused(what: &str, entry: &str, outcome: creditrisk_base::Result<()>) {
    match outcome {
        Ok(()) => panic!("{what}: {entry} accepted the tampered bundle"),
        Err(e) => assert!(
            e.to_string().contains("model bundle"),
            "{what}: {entry}: {e}"
        ),
    }
}
