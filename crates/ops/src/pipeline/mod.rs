//! `creditrisk run`: the stages of [`stages::STAGES`] in order, each skipped when nothing it
//! depends on changed since its last success (DVC-style content hashes: an upstream stage that
//! reran but wrote the same bytes does not rerun what follows), and `creditrisk demo` on top.
//!
//! Each stage's [`Fingerprint`] lives in `reports/.stages/<stage>.json`, written atomically
//! after the stage succeeded; file digests come through the [`FileHashes`] cache, so a run with
//! nothing changed stats files instead of reading them.

mod demo;
mod file_hashes;
mod fingerprint;
pub mod stages;

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

pub use demo::{DemoSummary, demo};
pub use file_hashes::FileHashes;
pub use fingerprint::{Dependencies, Fingerprint};
pub use stages::{STAGES, StageContext, StageDef};

use creditrisk_base::config::Config;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_base::progress::Reporter;
use creditrisk_base::sql::SqlSet;

/// `creditrisk run [--from STAGE] [--to STAGE] [--force]`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// First stage to consider (earlier stages are neither checked nor run).
    pub from: Option<String>,
    /// Last stage to consider.
    pub to: Option<String>,
    /// Run every selected stage even when its fingerprint matches.
    pub force: bool,
}

/// What happened to one stage.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ran,
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct StageReport {
    pub stage: &'static str,
    pub outcome: Outcome,
    /// Why it ran (what changed), or why it could be skipped.
    pub reason: String,
    pub seconds: f64,
    /// The stage's headline figure (rows, AUC, gate outcome), from its last success when skipped.
    pub figure: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub stages: Vec<StageReport>,
    pub seconds: f64,
}

impl RunSummary {
    pub fn ran(&self) -> Vec<&'static str> {
        self.with(Outcome::Ran)
    }
    pub fn skipped(&self) -> Vec<&'static str> {
        self.with(Outcome::Skipped)
    }
    fn with(&self, outcome: Outcome) -> Vec<&'static str> {
        self.stages
            .iter()
            .filter(|s| s.outcome == outcome)
            .map(|s| s.stage)
            .collect()
    }
}

/// The stages `--from`/`--to` select. A name is a stage's, or a prefix of a group of stages
/// (`evaluate` = `evaluate-train` and `evaluate-test`).
pub fn select(opts: &RunOptions) -> Result<&'static [StageDef]> {
    let find = |name: &str, last: bool| -> Result<usize> {
        let matches = |s: &&StageDef| s.name == name || s.name.starts_with(&format!("{name}-"));
        let found = if last {
            STAGES.iter().rposition(|s| matches(&s))
        } else {
            STAGES.iter().position(|s| matches(&s))
        };
        found.ok_or_else(|| {
            let names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
            Error::Config(format!(
                "unknown stage `{name}`; the stages are: {}",
                names.join(", ")
            ))
        })
    };
    let first = opts.from.as_deref().map_or(Ok(0), |n| find(n, false))?;
    let last = opts
        .to
        .as_deref()
        .map_or(Ok(STAGES.len() - 1), |n| find(n, true))?;
    if first > last {
        return Err(Error::Config(format!(
            "--from {} comes after --to {}",
            STAGES[first].name, STAGES[last].name
        )));
    }
    Ok(&STAGES[first..=last])
}

/// Run the selected stages in order, skipping those whose fingerprint still matches. A failing
/// stage (a gate included) stops the run with an error naming it.
pub async fn run(cfg: &Config, opts: &RunOptions, reporter: &dyn Reporter) -> Result<RunSummary> {
    let started = Instant::now();
    let layout = Layout::new(cfg);
    let selected = select(opts)?;
    let ctx = StageContext {
        cfg,
        layout: &layout,
        reporter,
    };
    let mut hashes = FileHashes::load(&layout.file_hash_cache());
    let binary_sha256 = binary_sha256(&mut hashes)?;
    let sections = cfg.section_hashes();
    let mut reports = vec![];
    for stage in selected {
        let clock = Instant::now();
        let mut depends_on = Dependencies {
            binary_sha256: binary_sha256.clone(),
            sections: stage
                .sections
                .iter()
                .map(|s| (s.name().to_string(), sections[s].clone()))
                .collect(),
            feature_sql_sha256: match stage.reads_feature_sql {
                true => Some(SqlSet::load(&layout.sql_dir)?.sha256()),
                false => None,
            },
            inputs: Default::default(),
            registry: match stage.registry {
                Some(read) => Some(read(&ctx).await.map_err(|e| failed(stage, e))?),
                None => None,
            },
        };
        let inputs = (stage.inputs)(&ctx);
        let file = layout.stage_fingerprint(stage.name);
        let last = match opts.force {
            true => None,
            false => Fingerprint::load(&file),
        };
        let reason = match last {
            None if opts.force => "--force".to_string(),
            None => "no earlier successful run".to_string(),
            Some(last) => {
                depends_on.inputs = fingerprint::digest_paths(&layout.root, &inputs, &mut hashes)?;
                let outputs =
                    fingerprint::digest_paths(&layout.root, &(stage.outputs)(&ctx), &mut hashes)?;
                match last.stale_because(&depends_on, &outputs) {
                    Some(reason) => reason,
                    None => {
                        reporter.note(&format!("{:<20} skipped (unchanged)", stage.name));
                        reports.push(StageReport {
                            stage: stage.name,
                            outcome: Outcome::Skipped,
                            reason: "inputs, config, feature SQL, binary and outputs unchanged"
                                .into(),
                            seconds: clock.elapsed().as_secs_f64(),
                            figure: last.figure,
                        });
                        continue;
                    }
                }
            }
        };
        reporter.note(&format!("{:<20} running ({reason})", stage.name));
        // Nothing to compare with: hash the inputs on another thread while the stage runs (a cold
        // ingest reads the 2.5 GB of raw CSVs itself; this uses the other core meanwhile).
        let digesting = depends_on.inputs.is_empty().then(|| {
            let (root, mut taken) = (layout.root.clone(), std::mem::take(&mut hashes));
            std::thread::spawn(move || {
                let digests = fingerprint::digest_paths(&root, &inputs, &mut taken);
                (taken, digests)
            })
        });
        let ran = (stage.run)(&ctx).await;
        let digested = match digesting {
            Some(thread) => {
                let (taken, digests) = thread
                    .join()
                    .map_err(|_| Error::Internal("the input hashing thread panicked".into()))?;
                hashes = taken;
                Some(digests)
            }
            None => None,
        };
        // Save what was learnt so far: a failing stage must not cost the next run its hashes.
        hashes.save()?;
        let figure = ran.map_err(|e| failed(stage, e))?;
        if let Some(digests) = digested {
            depends_on.inputs = digests?;
        }
        let seconds = clock.elapsed().as_secs_f64();
        let outputs = fingerprint::digest_paths(&layout.root, &(stage.outputs)(&ctx), &mut hashes)?;
        let registry = match stage.registry {
            Some(read) => Some(read(&ctx).await.map_err(|e| failed(stage, e))?),
            None => None,
        };
        Fingerprint {
            stage: stage.name.to_string(),
            depends_on: Dependencies {
                registry,
                ..depends_on
            },
            outputs,
            figure: figure.clone(),
            seconds,
            finished_at: chrono::Utc::now().to_rfc3339(),
        }
        .save(&file)?;
        hashes.save()?;
        reporter.note(&format!(
            "{:<20} done in {seconds:.2} s: {figure}",
            stage.name
        ));
        reports.push(StageReport {
            stage: stage.name,
            outcome: Outcome::Ran,
            reason,
            seconds,
            figure,
        });
    }
    hashes.save()?;
    Ok(RunSummary {
        stages: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The error of a failed stage, naming it; a failed gate keeps its report.
fn failed(stage: &StageDef, e: Error) -> Error {
    let message = format!(
        "stage `{}` failed; fix it and rerun `creditrisk run`",
        stage.name
    );
    match e {
        Error::Check { message: m, report } => Error::Check {
            message: format!("{message}: {m}"),
            report,
        },
        other => Error::Stage {
            stage: stage.name.to_string(),
            source: Box::new(other),
        },
    }
}

/// sha256 of the running executable, so a rebuilt binary reruns every stage.
fn binary_sha256(hashes: &mut FileHashes) -> Result<String> {
    let exe: PathBuf = std::env::current_exe()
        .map_err(|e| Error::Internal(format!("cannot locate the running executable: {e}")))?;
    hashes.sha256(&exe)?.ok_or_else(|| {
        Error::Internal(format!(
            "{}: the running executable is not a file",
            exe.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(from: Option<&str>, to: Option<&str>) -> Result<Vec<&'static str>> {
        let opts = RunOptions {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            force: false,
        };
        Ok(select(&opts)?.iter().map(|s| s.name).collect())
    }

    #[test]
    fn from_and_to_select_a_range_and_name_groups() {
        assert_eq!(names(None, None).unwrap().len(), STAGES.len());
        assert_eq!(
            names(Some("evaluate"), Some("evaluate")).unwrap(),
            ["evaluate-train", "evaluate-test"]
        );
        assert_eq!(
            names(Some("canary"), None).unwrap(),
            ["canary", "monitor-drift", "auto-promote"]
        );
        assert_eq!(names(None, Some("ingest")).unwrap(), ["ingest"]);
        let err = names(Some("evaluation"), None).unwrap_err().to_string();
        assert!(
            err.contains("unknown stage `evaluation`") && err.contains("split-data"),
            "{err}"
        );
        let err = names(Some("train"), Some("ingest"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("comes after"), "{err}");
    }

    #[test]
    fn stage_names_are_unique_subcommands_and_outputs_are_owned_once() {
        let mut seen = std::collections::BTreeSet::new();
        for stage in STAGES {
            assert!(seen.insert(stage.name), "{} twice", stage.name);
        }
        // Two stages writing one file would rerun each other forever.
        let dir = tempfile::tempdir().unwrap();
        let baseline = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("configs/baseline.yaml");
        let mut cfg = Config::load_with_overrides(&baseline, &[]).unwrap();
        cfg.root = dir.path().to_path_buf();
        let layout = Layout::new(&cfg);
        let ctx = StageContext {
            cfg: &cfg,
            layout: &layout,
            reporter: &creditrisk_base::progress::Silent,
        };
        let mut owners = std::collections::BTreeMap::new();
        for stage in STAGES {
            for out in (stage.outputs)(&ctx) {
                if let Some(other) = owners.insert(out.clone(), stage.name) {
                    panic!("{} is written by {other} and {}", out.display(), stage.name);
                }
            }
        }
    }
}
