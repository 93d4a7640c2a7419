//! The folder registry under crashes and concurrency: `promote-model --archive-existing` killed
//! with SIGKILL at random moments and at every rename (strace's fault injection), and lookups of
//! `models:/…/Production` during concurrent promotions. After every kill exactly one version holds
//! Production, no temporary file sits in a folder MLflow lists, and the next command works; no
//! lookup ever finds the stage empty.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use creditrisk_base::config::Stage;
use creditrisk_mlflow::{ModelRef, Tracker};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support;

const MODEL: &str = "creditrisk-pd";
const VERSIONS: u64 = 5;

/// A project folder (baseline config) whose folder registry holds `VERSIONS` versions, version 1
/// in Production.
fn registry() -> (tempfile::TempDir, Tracker) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("configs")).unwrap();
    std::fs::copy(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("configs/baseline.yaml"),
        dir.path().join("configs/baseline.yaml"),
    )
    .unwrap();
    let tracker = Tracker::from_uri(&dir.path().join("mlruns").display().to_string()).unwrap();
    support::runtime().block_on(async {
        tracker.create_registered_model(MODEL).await.unwrap();
        for v in 1..=VERSIONS {
            let source = dir.path().join(format!("bundle-{v}"));
            let source = source.display().to_string();
            let created = tracker.create_model_version(MODEL, &source, None, None);
            assert_eq!(created.await.unwrap().version, v);
        }
        let promoted = tracker.transition_stage(MODEL, 1, Stage::Production, true);
        promoted.await.unwrap();
    });
    (dir, tracker)
}

fn promote(root: &Path, version: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_creditrisk"));
    cmd.args(["promote-model", "--version", &version.to_string()])
        .args([
            "--stage",
            "Production",
            "--archive-existing",
            "--reviewer",
            "t",
        ])
        .current_dir(root)
        .env("CREDITRISK_CONFIG", root.join("configs/baseline.yaml"))
        .env("CREDITRISK__TRACKING__URI", root.join("mlruns"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Versions in Production, read by a fresh tracker (as the next process would).
fn production(root: &Path) -> Vec<u64> {
    let tracker = Tracker::from_uri(&root.join("mlruns").display().to_string()).unwrap();
    let versions = support::runtime().block_on(tracker.list_model_versions(MODEL));
    versions
        .unwrap()
        .into_iter()
        .filter(|v| v.stage == Stage::Production)
        .map(|v| v.version)
        .collect()
}

/// Temporary files inside the folders MLflow lists (a version's folder and its tags, aliases,
/// the model's tags); files at the store root and the model's own folder are not listed.
fn debris(root: &Path) -> Vec<PathBuf> {
    let model = root.join("mlruns/models").join(MODEL);
    let mut out = vec![];
    let mut stack = vec![model.join("aliases"), model.join("tags")];
    for v in 1..=VERSIONS {
        stack.push(model.join(format!("version-{v}")));
    }
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry.file_name().to_string_lossy().starts_with(".tmp") {
                out.push(path);
            }
        }
    }
    out
}

fn check_after_kill(root: &Path, what: &str) {
    assert_eq!(production(root).len(), 1, "{what}: {:?}", production(root));
    assert_eq!(debris(root), Vec::<PathBuf>::new(), "{what}");
}

#[test]
fn kills_at_random_moments_leave_one_production_version() {
    let (dir, _) = registry();
    let root = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(34);
    for i in 0..80 {
        let version = rng.random_range(1..=VERSIONS);
        let mut child = promote(root, version).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..30_000)));
        let _ = child.kill();
        let _ = child.wait();
        check_after_kill(root, &format!("kill {i} (promoting {version})"));
    }
    // The next command completes normally.
    let out = promote(root, 3).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(production(root), vec![3]);
}

/// strace kills the process at its n-th rename, for every n a promotion reaches: each step of
/// the transition is interrupted once.
#[test]
fn a_kill_at_every_rename_leaves_one_production_version() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is missing: scripts/test.sh installs it (Debian package strace)");
    }
    let (dir, _) = registry();
    let root = dir.path();
    let mut kills = 0;
    for n in 1..40 {
        let version = 2 + n % (VERSIONS - 1);
        let mut cmd = Command::new("strace");
        let inject = format!("inject=rename,renameat,renameat2:signal=SIGKILL:when={n}");
        let promote = promote(root, version);
        cmd.args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=rename,renameat,renameat2",
        ])
        .args(["-e", &inject])
        .arg(promote.get_program())
        .args(promote.get_args())
        .current_dir(root)
        .env("CREDITRISK_CONFIG", root.join("configs/baseline.yaml"))
        .env("CREDITRISK__TRACKING__URI", root.join("mlruns"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let status = cmd.status().unwrap();
        check_after_kill(root, &format!("kill at rename {n}"));
        if status.success() {
            break; // fewer than n renames: every one has been interrupted
        }
        kills += 1;
    }
    assert!(kills >= 3, "only {kills} renames were interrupted");
}

#[test]
fn lookups_during_concurrent_promotions_never_miss() {
    let (dir, tracker) = registry();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = vec![];
    for w in 0..8u64 {
        let tracker = Tracker::from_uri(&dir.path().join("mlruns").display().to_string()).unwrap();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut v = 1 + w % VERSIONS;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let promoted = tracker.transition_stage(MODEL, v, Stage::Production, true);
                support::runtime().block_on(promoted).unwrap();
                v = 1 + v % VERSIONS;
            }
        }));
    }
    let reference = ModelRef::parse(&format!("models:/{MODEL}/Production")).unwrap();
    let started = Instant::now();
    let mut misses = 0;
    for _ in 0..1000 {
        misses += usize::from(
            support::runtime()
                .block_on(tracker.resolve(&reference))
                .is_err(),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(misses, 0, "in {:?}", started.elapsed());
    assert_eq!(production(dir.path()).len(), 1);
}
