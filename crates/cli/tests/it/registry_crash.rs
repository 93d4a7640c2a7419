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
pub(crate) fn production(root: &Path) -> Vec<u64> {
    let tracker = Tracker::from_uri(&root.join("mlruns").display().to_string()).unwrap();
    let versions = support::runtime().block_on(tracker.list_model_versions(MODEL));
    versions
        .unwrap()
        .into_iter()
        .filter(|v| v.stage == Stage::Production)
        .map(|v| v.version)
        .collect()
}

/// Hidden entries (temporary files, half-built folders: names starting with `.`) where MLflow
/// lists, in the store of project `root`: anywhere inside a version's folder, a model's `tags/`
/// and `aliases/`, a run's `metrics/`, `params/`, `tags/` and `artifacts/`, an experiment's
/// `tags/`; and folders in the store root, an experiment or `models/`, which MLflow would take
/// for experiments, runs or models. Files at the store root and in a model's own folder are not
/// listed: temporary files and the transition journal go there.
pub(crate) fn debris(root: &Path) -> Vec<PathBuf> {
    let hidden = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    };
    let folders = |dir: &Path| -> Vec<PathBuf> {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.map(|e| e.path()).filter(|p| p.is_dir()).collect()
    };
    let mut out = vec![];
    // Folders whose every entry MLflow lists.
    let mut listed = vec![];
    for top in folders(&root.join("mlruns")) {
        let name = top.file_name().unwrap().to_string_lossy().into_owned();
        if name == ".trash" {
            continue;
        } else if hidden(&top) {
            out.push(top);
        } else if name == "models" {
            for model in folders(&top) {
                if hidden(&model) {
                    out.push(model);
                    continue;
                }
                listed.extend([model.join("tags"), model.join("aliases")]);
                let versions = folders(&model).into_iter().filter(|v| {
                    let name = v.file_name().unwrap().to_string_lossy();
                    name.starts_with("version-")
                });
                listed.extend(versions);
            }
        } else {
            listed.push(top.join("tags"));
            for run in folders(&top).into_iter().filter(|r| !r.ends_with("tags")) {
                if hidden(&run) {
                    out.push(run);
                    continue;
                }
                for sub in ["metrics", "params", "tags", "artifacts"] {
                    listed.push(run.join(sub));
                }
            }
        }
    }
    while let Some(dir) = listed.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if hidden(&path) {
                out.push(path);
            } else if path.is_dir() {
                listed.push(path);
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn check_after_kill(root: &Path, what: &str) {
    assert_eq!(debris(root), Vec::<PathBuf>::new(), "{what}");
    assert_eq!(production(root).len(), 1, "{what}: {:?}", production(root));
    assert_eq!(debris(root), Vec::<PathBuf>::new(), "{what}");
}

/// `cmd` (its program, arguments, folder and environment) under `strace -f` tracing renames, with
/// `options` added.
fn strace(cmd: &Command, options: &[&str]) -> Command {
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-qq", "-e", "trace=rename,renameat,renameat2"])
        .args(options)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = cmd.get_current_dir() {
        traced.current_dir(dir);
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => traced.env(key, value),
            None => traced.env_remove(key),
        };
    }
    traced
}

/// Where `cmd`'s renames go (each one's target path), in order, from a run under strace that
/// must succeed.
pub(crate) fn renames(cmd: &Command) -> Vec<String> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let path = log.path().display().to_string();
    let status = strace(cmd, &["-s", "4096", "-o", &path]).status().unwrap();
    assert!(status.success(), "{cmd:?} under strace: {status}");
    let text = std::fs::read_to_string(log.path()).unwrap();
    let calls = text
        .lines()
        .filter_map(|line| Some(line.split_once(' ')?.1.trim_start()));
    let renames = calls.filter(|call| {
        ["rename(", "renameat(", "renameat2("]
            .iter()
            .any(|name| call.starts_with(name))
    });
    // `renameat(AT_FDCWD, "from", AT_FDCWD, "to") = 0`: the fourth piece between quotes.
    renames
        .filter_map(|call| call.split('"').nth(3).map(str::to_string))
        .collect()
}

/// `cmd` under strace, killed with SIGKILL as it enters its `nth` rename onto `target`, so that
/// rename never happens. (strace counts per thread: killing at the n-th rename of any kind would
/// skip renames made by threads that rename less often, hence one target at a time.)
fn killed_at_rename(cmd: &Command, target: &str, nth: usize) -> Command {
    let inject = format!("inject=rename,renameat,renameat2:signal=SIGKILL:when={nth}");
    strace(cmd, &["-o", "/dev/null", "-P", target, "-e", &inject])
}

/// Kill `cmd` at each rename it makes, one kill per fresh project: the renames are those of a
/// first run (in a project from `fresh`, under strace); for each, `cmd` runs in a new project
/// from `fresh` and is killed as it enters that rename, then `check` sees the project, the
/// rename's index and its target. Returns the renames' targets (in the first project) and the
/// last project (the first when there was no rename).
pub(crate) fn kill_at_each_rename(
    fresh: impl Fn() -> tempfile::TempDir,
    cmd: impl Fn(&Path) -> Command,
    mut check: impl FnMut(&Path, usize, &str),
) -> (Vec<String>, tempfile::TempDir) {
    let mut last = fresh();
    let targets = renames(&cmd(last.path()));
    let first_root = last.path().display().to_string();
    for (i, target) in targets.iter().enumerate() {
        let nth = 1 + targets[..i].iter().filter(|t| *t == target).count();
        let dir = fresh();
        let here = target.replace(&first_root, &dir.path().display().to_string());
        let cmd = cmd(dir.path());
        let status = killed_at_rename(&cmd, &here, nth).status().unwrap();
        assert!(killed(status), "{cmd:?} at rename {i} ({here}): {status}");
        check(dir.path(), i, target);
        last = dir;
    }
    (targets, last)
}

/// Whether a process ended by SIGKILL (directly, or as strace reports its tracee's death).
pub(crate) fn killed(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9) || status.code() == Some(128 + 9)
}

pub(crate) fn require_strace() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is missing: scripts/test.sh installs it (Debian package strace)");
    }
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

/// strace kills the process as it enters each of its renames in turn (a fresh registry each
/// time): each step of the transition is interrupted once. Until the journal is in place version
/// 1 holds Production; from then on the promoted version does.
#[test]
fn a_kill_at_every_rename_leaves_one_production_version() {
    require_strace();
    let fresh = || registry().0;
    let journal = std::cell::Cell::new(None);
    let (renames, _) = kill_at_each_rename(
        fresh,
        |root| promote(root, 3),
        |root, i, target| {
            let what = format!("kill at rename {i} ({target})");
            check_after_kill(root, &what);
            let before_commit = journal.get().is_none_or(|j| i <= j);
            if target.ends_with(".creditrisk-transition.json") && journal.get().is_none() {
                journal.set(Some(i));
            }
            let expected = if before_commit { 1 } else { 3 };
            assert_eq!(production(root), [expected], "{what}");
            // The next command completes normally.
            let out = promote(root, 3).output().unwrap();
            assert!(
                out.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(production(root), [3], "{what}");
        },
    );
    eprintln!("promote-model: {} kills at renames", renames.len());
    assert!(
        journal.get().is_some(),
        "no transition journal in {renames:?}"
    );
    assert!(
        renames.len() >= 5,
        "only {} renames: {renames:?}",
        renames.len()
    );
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
