//! A real Ballista cluster from the binary: `creditrisk cluster scheduler` and two
//! `creditrisk cluster executor` processes on 127.0.0.1 (killed at the end), and
//! `build-feature-store --engine ballista://…` through them against the local build: the same
//! ids and columns, integers and counts exact, float aggregates within 1e-12 relative (partial
//! sums are added in another order on a cluster). Killing an executor mid-build either completes
//! on the other (Ballista retries the tasks) or fails with one clear error, never a partial store.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::{sort_to_indices, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Float64Type};

use crate::object_stores::{cli, fixture, project, stderr};
use crate::tracking::{Group, free_port};

struct Cluster {
    port: u16,
    scheduler: Group,
    executors: Vec<Group>,
    dir: tempfile::TempDir,
}

fn spawn(dir: &Path, name: &str, args: &[String]) -> Group {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join(format!("{name}.out"))).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap());
    Group::spawn(cmd)
}

fn wait_for(port: u16, group: &mut Group, dir: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = group.child.try_wait() {
            let err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
            panic!("{name} exited ({status}):\n{err}");
        }
        assert!(Instant::now() < deadline, "{name} not listening in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_cluster(executors: usize) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut scheduler = spawn(
        dir.path(),
        "scheduler",
        &[
            "cluster".into(),
            "scheduler".into(),
            "--bind".into(),
            format!("127.0.0.1:{port}"),
            "--executor-timeout-seconds".into(),
            "10".into(),
        ],
    );
    wait_for(port, &mut scheduler, dir.path(), "scheduler");
    let mut groups = vec![];
    for i in 0..executors {
        let (flight, grpc) = (free_port(), free_port());
        let work = dir.path().join(format!("executor{i}"));
        std::fs::create_dir_all(&work).unwrap();
        let name = format!("executor{i}");
        let mut group = spawn(
            dir.path(),
            &name,
            &[
                "cluster".into(),
                "executor".into(),
                "--bind".into(),
                format!("127.0.0.1:{flight}"),
                "--grpc-bind".into(),
                format!("127.0.0.1:{grpc}"),
                "--scheduler".into(),
                format!("127.0.0.1:{port}"),
                "--work-dir".into(),
                work.display().to_string(),
                "--concurrent-tasks".into(),
                "2".into(),
            ],
        );
        wait_for(flight, &mut group, dir.path(), &name);
        groups.push(group);
    }
    // Registration follows the listening socket by a round trip to the scheduler.
    std::thread::sleep(Duration::from_secs(2));
    Cluster {
        port,
        scheduler,
        executors: groups,
        dir,
    }
}

impl Cluster {
    fn engine(&self) -> String {
        format!("ballista://127.0.0.1:{}", self.port)
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "err") {
                let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = body.lines().rev().take(20).collect();
                text.push_str(&format!("--- {}\n", entry.path().display()));
                for line in tail.into_iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }
}

/// A project reading the fixture's raw files in place (a path every executor sees).
fn cluster_project() -> PathBuf {
    let raw = fixture().raw_dir.display().to_string();
    project(move |t| {
        t.replace("raw_dir: data/raw", &format!("raw_dir: {raw}"))
            .replace("uri: data/raw/", &format!("uri: {raw}/"))
    })
}

fn sorted_by_id(batch: &RecordBatch) -> RecordBatch {
    let ids = batch.column_by_name("SK_ID_CURR").expect("SK_ID_CURR");
    let order = sort_to_indices(ids, None, None).unwrap();
    take_record_batch(batch, &order).unwrap()
}

/// Same ids and columns; integers, strings and booleans exact; floats within 1e-12 relative.
fn assert_equivalent(local: &RecordBatch, cluster: &RecordBatch) {
    assert_eq!(local.schema(), cluster.schema(), "columns and types");
    assert_eq!(local.num_rows(), cluster.num_rows(), "rows");
    let (a, b) = (sorted_by_id(local), sorted_by_id(cluster));
    for (i, field) in a.schema().fields().iter().enumerate() {
        let (x, y) = (a.column(i), b.column(i));
        if *field.data_type() != DataType::Float64 {
            assert_eq!(x.as_ref(), y.as_ref(), "column {}", field.name());
            continue;
        }
        let (x, y) = (
            x.as_primitive::<Float64Type>(),
            y.as_primitive::<Float64Type>(),
        );
        for row in 0..x.len() {
            assert_eq!(x.is_null(row), y.is_null(row), "{} row {row}", field.name());
            if x.is_null(row) {
                continue;
            }
            let (p, q) = (x.value(row), y.value(row));
            let same = p == q
                || (p.is_nan() && q.is_nan())
                || (p - q).abs() <= 1e-12 * p.abs().max(q.abs());
            assert!(same, "{} row {row}: {p} vs {q}", field.name());
        }
    }
}

#[test]
fn ballista_cluster_builds_the_local_feature_store() {
    let data = fixture();
    let cluster = start_cluster(2);
    let root = cluster_project();
    let out = cli(
        &root,
        &[
            "build-feature-store",
            "--engine",
            &cluster.engine(),
            "--output",
            "data/processed/cluster.parquet",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "cluster build: {}\n{}",
        stderr(&out),
        cluster.logs()
    );
    let local = creditrisk_base::parquet_io::read_parquet(&data.local_store, "local").unwrap();
    let remote = creditrisk_base::parquet_io::read_parquet(
        &root.join("data/processed/cluster.parquet"),
        "cluster",
    )
    .unwrap();
    assert_equivalent(&local, &remote);
    // The in-between tables of the build are gone.
    let spill = root.join("data/cache/ballista");
    let left = std::fs::read_dir(&spill).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "{}", spill.display());
    drop(cluster);
}

#[test]
fn killing_an_executor_mid_build_never_leaves_a_partial_store() {
    let data = fixture();
    let mut cluster = start_cluster(2);
    let root = cluster_project();
    // A job whose executor died with its shuffle data may never finish on Ballista: the build's
    // own time-out must then fail it cleanly.
    let config = root.join("configs/baseline.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace(
        "cluster_timeout_seconds: 3600",
        "cluster_timeout_seconds: 60",
    );
    std::fs::write(&config, text).unwrap();
    let output = root.join("data/processed/killed.parquet");
    let dir = tempfile::tempdir().unwrap();
    let mut build = spawn(
        dir.path(),
        "build",
        &[
            "--config".into(),
            root.join("configs/baseline.yaml").display().to_string(),
            "build-feature-store".into(),
            "--engine".into(),
            cluster.engine(),
            "--output".into(),
            output.display().to_string(),
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    cluster.executors[0].kill();
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = build.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "build neither finished nor failed in 300 s\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(dir.path().join("build.err")).unwrap_or_default();
    let processed = root.join("data/processed");
    let stray: Vec<String> = std::fs::read_dir(&processed)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "killed.parquet")
                .collect()
        })
        .unwrap_or_default();
    assert!(stray.is_empty(), "temp files left: {stray:?}");
    if status.success() {
        let local = creditrisk_base::parquet_io::read_parquet(&data.local_store, "local").unwrap();
        let remote = creditrisk_base::parquet_io::read_parquet(&output, "cluster").unwrap();
        assert_equivalent(&local, &remote);
    } else {
        assert!(!output.exists(), "a failed build left {}", output.display());
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
    }
    let _ = &cluster.scheduler;
}
