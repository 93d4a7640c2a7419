//! Which process owns each RUNNING run of the folder store, so a run whose process died (killed,
//! out of memory, power lost) is marked KILLED the next time creditrisk opens the store instead of
//! showing RUNNING forever. Each run creditrisk starts leaves `.creditrisk.run-<run id>` at the
//! store root (a file, which MLflow never lists) holding the host, the boot and the process with
//! its start time; ending the run removes it.

use std::path::{Path, PathBuf};

use creditrisk_base::error::{Error, Result};

const PREFIX: &str = ".creditrisk.run-";

/// This process, as the marker records it: host, boot id, pid, start time in clock ticks.
fn me() -> Option<String> {
    let host = read_trimmed("/proc/sys/kernel/hostname")?;
    let boot = read_trimmed("/proc/sys/kernel/random/boot_id")?;
    let pid = std::process::id();
    Some(format!("{host} {boot} {pid} {}", start_time(pid)?))
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, so a reused pid is not mistaken for
/// the owner.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

pub(crate) fn marker(root: &Path, run_id: &str) -> PathBuf {
    root.join(format!("{PREFIX}{run_id}"))
}

/// Record this process as the owner of `run_id` (nothing where `/proc` is missing: no marker, no
/// reaping).
pub(crate) fn claim(root: &Path, run_id: &str) -> Result<()> {
    match me() {
        Some(owner) => creditrisk_base::io::write_atomic(&marker(root, run_id), owner.as_bytes()),
        None => Ok(()),
    }
}

pub(crate) fn release(root: &Path, run_id: &str) -> Result<()> {
    let path = marker(root, run_id);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The runs whose owner on this host is gone: the process ended, or the machine rebooted.
pub(crate) fn orphans(root: &Path) -> Result<Vec<String>> {
    let Some(me) = me() else {
        return Ok(vec![]);
    };
    let mut mine = me.split(' ');
    let (host, boot) = (mine.next(), mine.next());
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(root, e)),
    };
    let mut out = vec![];
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(run_id) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Ok(owner) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let fields: Vec<&str> = owner.split(' ').collect();
        let [o_host, o_boot, o_pid, o_start] = fields[..] else {
            out.push(run_id.to_string());
            continue;
        };
        if Some(o_host) != host {
            continue; // another machine's run on a shared store: only that machine can tell
        }
        let alive = Some(o_boot) == boot
            && o_pid
                .parse()
                .ok()
                .and_then(start_time)
                .is_some_and(|t| t == o_start);
        if !alive {
            out.push(run_id.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file_store::FileStore;
    use crate::types::{NewRun, RunStatus};

    /// A run whose owner died is KILLED when the store is next opened; a live owner's run and a
    /// finished run are left as they are.
    #[test]
    fn runs_of_dead_processes_are_marked_killed_on_open() {
        if me().is_none() {
            return; // no /proc: nothing is claimed, nothing reaped
        }
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path(), false).unwrap();
        let exp = store.get_or_create_experiment("e").unwrap();
        let dead = store.create_run(&exp, &NewRun::new("dead")).unwrap();
        let alive = store.create_run(&exp, &NewRun::new("alive")).unwrap();
        let done = store.create_run(&exp, &NewRun::new("done")).unwrap();
        store
            .end_run(&done.run_id, RunStatus::Finished, None)
            .unwrap();
        assert!(!marker(dir.path(), &done.run_id).exists());
        // The dead run's owner: this host and boot, a start time no live process has.
        let mine = me().unwrap();
        let fields: Vec<&str> = mine.split(' ').collect();
        let owner = format!("{} {} {} 1", fields[0], fields[1], fields[2]);
        std::fs::write(marker(dir.path(), &dead.run_id), owner).unwrap();

        let reopened = FileStore::new(dir.path(), false).unwrap();
        let status = |id: &str| reopened.get_run(id).unwrap().info.status;
        assert_eq!(status(&dead.run_id), RunStatus::Killed);
        assert!(
            reopened
                .get_run(&dead.run_id)
                .unwrap()
                .info
                .end_time
                .is_some()
        );
        assert_eq!(status(&alive.run_id), RunStatus::Running);
        assert_eq!(status(&done.run_id), RunStatus::Finished);
        assert!(!marker(dir.path(), &dead.run_id).exists());
        assert!(marker(dir.path(), &alive.run_id).exists());
    }
}
