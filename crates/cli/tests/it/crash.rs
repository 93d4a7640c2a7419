//! kill -9 of `auto-promote` and `train` on a small trained project (the promote-model kills are
//! in `registry_crash.rs`), at random moments and, for auto-promote, at every rename (strace's
//! fault injection). After each kill: exactly one version in Production (for auto-promote the old
//! one or the new one; for train the one before), `models:/…/Production` resolves, no hidden file
//! where MLflow lists, the runs the killed train left RUNNING are KILLED once creditrisk opens the
//! store again, and the next command completes. After each series `creditrisk run` succeeds.
//!
//! Every attempt works in a copy of one fixture (copying is cheaper than training).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use creditrisk_mlflow::{ModelRef, RunStatus, Tracker};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::registry_crash::{
    check_after_kill, debris, kill_at_each_rename, killed, production, require_strace,
};
use crate::support;

const MODEL: &str = "creditrisk-pd";
/// The fixture's Production version.
const CHAMPION: u64 = 1;
/// The fixture's newest version, validated and canaried: what auto-promote promotes.
const CHALLENGER: u64 = 2;
/// Applicants in the fixture: a train takes about a second.
const ROWS: &str = "2000";
const AUTO_PROMOTE_KILLS: usize = 20;
const TRAIN_KILLS: usize = 20;

fn creditrisk(root: &Path, args: &[&str]) -> Command {
    let mut cmd = support::creditrisk(root, args);
    cmd.env("CREDITRISK__DATA__SYNTH_ROWS", ROWS)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn auto_promote(root: &Path) -> Command {
    creditrisk(root, &["auto-promote", "--stage", "Production"])
}

/// Run `cmd` to its end; it must succeed.
fn ok(mut cmd: Command) -> Output {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The project every attempt copies, made once: `demo` (version 1 trained, gated and in
/// Production), then `run --force --from train --to canary`: version 2 trained, with the
/// validate-model and canary reports auto-promote reads.
fn fixture() -> &'static Path {
    static FIXTURE: OnceLock<PathBuf> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = support::kept_dir();
        support::baseline_project(&root);
        ok(creditrisk(&root, &["demo"]));
        let challenger = ["run", "--force", "--from", "train", "--to", "canary"];
        ok(creditrisk(&root, &challenger));
        assert_eq!(production(&root), [CHAMPION]);
        let tracker = tracker(&root);
        let versions = support::runtime().block_on(tracker.list_model_versions(MODEL));
        let newest = versions.unwrap().iter().map(|v| v.version).max();
        assert_eq!(newest, Some(CHALLENGER));
        root
    })
}

/// A fresh copy of the fixture, removed when dropped.
fn attempt() -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(support::scratch()).unwrap();
    support::copy_project(fixture(), dir.path());
    dir
}

fn tracker(root: &Path) -> Tracker {
    Tracker::from_uri(&root.join("mlruns").display().to_string()).unwrap()
}

/// Spawn `cmd`, SIGKILL it after `delay`; whether the kill came before it ended by itself (it
/// must have succeeded then).
fn kill_after(mut cmd: Command, delay: Duration) -> bool {
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(killed(status) || status.success(), "{cmd:?}: {status}");
    killed(status)
}

/// The state an auto-promote kill left: nothing hidden where MLflow lists, one version in
/// Production (the champion or the challenger) and `models:/…/Production` resolving to it.
/// Returns that version.
fn check_promotion_kill(root: &Path, what: &str) -> u64 {
    check_after_kill(root, what);
    let holder = production(root)[0];
    assert!([CHAMPION, CHALLENGER].contains(&holder), "{what}: {holder}");
    let reference = ModelRef::parse(&format!("models:/{MODEL}/Production")).unwrap();
    let resolved = support::runtime().block_on(tracker(root).resolve(&reference));
    let resolved = resolved.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(resolved.version, holder, "{what}");
    holder
}

/// The next auto-promote completes and promotes the challenger.
fn check_next_auto_promote(root: &Path, what: &str) {
    ok(auto_promote(root));
    assert_eq!(
        production(root),
        [CHALLENGER],
        "{what}: the next auto-promote"
    );
    assert_eq!(debris(root), Vec::<PathBuf>::new(), "{what}");
}

/// `creditrisk run` succeeds on a project that went through a kill series.
fn check_run(root: &Path, what: &str) {
    ok(creditrisk(root, &["run"]));
    check_after_kill(root, &format!("{what}, then run"));
}

#[test]
fn auto_promote_killed_at_random_moments_leaves_one_production_version() {
    let mut rng = ChaCha8Rng::seed_from_u64(36);
    // A normal auto-promote: its duration bounds the kill delays.
    let mut last = attempt();
    let started = Instant::now();
    ok(auto_promote(last.path()));
    let normal = started.elapsed();
    assert_eq!(production(last.path()), [CHALLENGER]);
    let mut held = BTreeMap::<u64, usize>::new();
    let mut kills = 0;
    for _ in 0..3 * AUTO_PROMOTE_KILLS {
        if kills == AUTO_PROMOTE_KILLS {
            break;
        }
        let dir = attempt();
        let root = dir.path();
        let delay = Duration::from_micros(rng.random_range(0..normal.as_micros() as u64));
        if !kill_after(auto_promote(root), delay) {
            continue; // it ended first
        }
        kills += 1;
        let what = format!("auto-promote killed after {delay:?} (of {normal:?})");
        *held.entry(check_promotion_kill(root, &what)).or_default() += 1;
        check_next_auto_promote(root, &what);
        last = dir;
    }
    eprintln!("auto-promote: {kills} random kills, Production held by {held:?}");
    assert_eq!(
        kills, AUTO_PROMOTE_KILLS,
        "most attempts ended before the kill"
    );
    check_run(last.path(), "random auto-promote kills");
}

/// strace kills auto-promote as it enters each of its renames in turn (each in a fresh copy):
/// until the transition's journal is in place the champion holds Production, from then on the
/// challenger.
#[test]
fn auto_promote_killed_at_every_rename_leaves_one_production_version() {
    require_strace();
    let journal = std::cell::Cell::new(None);
    let (renames, last) = kill_at_each_rename(attempt, auto_promote, |root, i, target| {
        let what = format!("auto-promote killed at rename {i} ({target})");
        let before_commit = journal.get().is_none_or(|j| i <= j);
        if target.ends_with(".creditrisk-transition.json") && journal.get().is_none() {
            journal.set(Some(i));
        }
        let expected = if before_commit { CHAMPION } else { CHALLENGER };
        assert_eq!(check_promotion_kill(root, &what), expected, "{what}");
        check_next_auto_promote(root, &what);
    });
    eprintln!("auto-promote: {} kills at renames", renames.len());
    assert!(
        journal.get().is_some(),
        "no transition journal in {renames:?}"
    );
    assert!(
        renames.len() >= 8,
        "only {} renames: {renames:?}",
        renames.len()
    );
    check_run(last.path(), "auto-promote kills at renames");
}

/// Ids of the runs whose `meta.yaml` says RUNNING, read from the files (a tracker would mark
/// those of dead processes KILLED as it opens the store).
fn running_runs(root: &Path) -> Vec<String> {
    let mut out = vec![];
    let running = format!("status: {}", RunStatus::Running.code());
    let dirs = |dir: &Path| {
        let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
        entries.map(|e| e.path()).filter(|p| p.is_dir())
    };
    for experiment in dirs(&root.join("mlruns")) {
        for run in dirs(&experiment) {
            let meta = std::fs::read_to_string(run.join("meta.yaml")).unwrap_or_default();
            if meta.lines().any(|l| l.trim() == running) {
                out.push(run.file_name().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn train_killed_at_random_moments_keeps_production_and_ends_its_runs() {
    let dir = attempt();
    let root = dir.path();
    // A normal train: its duration bounds the kill delays.
    let started = Instant::now();
    ok(creditrisk(root, &["train"]));
    let normal = started.elapsed();
    let holder = production(root);
    assert_eq!(holder, [CHAMPION]);
    let mut rng = ChaCha8Rng::seed_from_u64(37);
    let (mut kills, mut runs_killed, mut trained) = (0, 0, 0);
    for _ in 0..3 * TRAIN_KILLS {
        if kills == TRAIN_KILLS {
            break;
        }
        assert_eq!(running_runs(root), Vec::<String>::new());
        let delay = Duration::from_micros(rng.random_range(0..normal.as_micros() as u64));
        if !kill_after(creditrisk(root, &["train"]), delay) {
            continue; // it ended first
        }
        kills += 1;
        let what = format!("train killed after {delay:?} (of {normal:?})");
        // Before creditrisk opens the store again: what the kill left.
        assert_eq!(debris(root), Vec::<PathBuf>::new(), "{what}");
        let running = running_runs(root);
        assert!(running.len() <= 1, "{what}: {running:?}");
        // Opening the store ends the dead process's run.
        let tracker = tracker(root);
        for id in &running {
            let run = support::runtime().block_on(tracker.get_run(id)).unwrap();
            assert_eq!(run.info.status, RunStatus::Killed, "{what}: run {id}");
            assert!(run.info.end_time.is_some(), "{what}: run {id}");
        }
        assert_eq!(running_runs(root), Vec::<String>::new(), "{what}");
        runs_killed += running.len();
        assert_eq!(production(root), holder, "{what}");
        check_after_kill(root, &what);
        // The next train completes (and registers a version, outside Production).
        let out = ok(creditrisk(root, &["train"]));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("registered version"),
            "{what}: the next train: {said}"
        );
        assert_eq!(production(root), holder, "{what}: the next train");
        assert_eq!(running_runs(root), Vec::<String>::new(), "{what}");
        trained += 1;
    }
    eprintln!("train: {kills} random kills, {runs_killed} with a run open");
    assert_eq!(kills, TRAIN_KILLS, "most attempts ended before the kill");
    assert_eq!(trained, TRAIN_KILLS);
    assert!(
        runs_killed >= TRAIN_KILLS / 2,
        "only {runs_killed} of {kills} kills came while a run was open"
    );
    check_run(root, "random train kills");
}
