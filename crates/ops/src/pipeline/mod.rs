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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

pub use demo::{DemoSummary, demo};
pub use file_hashes::FileHashes;
pub use fingerprint::{Dependencies, Fingerprint, RegistryKey};
pub use stages::{STAGES, StageContext, StageDef};

use creditrisk_base::config::{Config, Section};
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
            Error::config(format!(
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
        return Err(Error::config(format!(
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
    let mut hashes = FileHashes::load(&layout.file_hash_cache());
    let binary_sha256 = binary_sha256(&mut hashes)?;
    let mut runner = Runner {
        ctx: StageContext {
            cfg,
            layout: &layout,
            reporter,
        },
        force: opts.force,
        binary_sha256,
        sections: cfg.section_hashes(),
        hashes,
    };
    let mut reports = vec![];
    for stage in selected {
        reports.push(runner.stage(stage).await?);
    }
    runner.hashes.save()?;
    Ok(RunSummary {
        stages: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What every stage of one `run` shares: the context, the digests known so far and the
/// dependencies that are the same for all stages.
struct Runner<'a> {
    ctx: StageContext<'a>,
    force: bool,
    binary_sha256: String,
    sections: BTreeMap<Section, String>,
    hashes: FileHashes,
}

/// Whether a stage must run (and why), or the figure of its last success when nothing changed.
enum Verdict {
    Run(String),
    Unchanged { figure: String },
}

impl Runner<'_> {
    /// Check one stage and run it unless its fingerprint still matches.
    async fn stage(&mut self, stage: &StageDef) -> Result<StageReport> {
        let clock = Instant::now();
        let mut depends_on = self.dependencies(stage).await?;
        let inputs = (stage.inputs)(&self.ctx);
        let reason = match self.verdict(stage, &inputs, &mut depends_on)? {
            Verdict::Run(reason) => reason,
            Verdict::Unchanged { figure } => {
                self.note(stage, "skipped (unchanged)");
                return Ok(StageReport {
                    stage: stage.name,
                    outcome: Outcome::Skipped,
                    reason: "inputs, config, feature SQL, binary and outputs unchanged".into(),
                    seconds: clock.elapsed().as_secs_f64(),
                    figure,
                });
            }
        };
        self.note(stage, &format!("running ({reason})"));
        let figure = self.work(stage, &mut depends_on, inputs).await?;
        let seconds = clock.elapsed().as_secs_f64();
        self.record(stage, depends_on, &figure, seconds).await?;
        self.note(stage, &format!("done in {seconds:.2} s: {figure}"));
        Ok(StageReport {
            stage: stage.name,
            outcome: Outcome::Ran,
            reason,
            seconds,
            figure,
        })
    }

    fn note(&self, stage: &StageDef, text: &str) {
        self.ctx
            .reporter
            .note(&format!("{:<20} {text}", stage.name));
    }

    /// Everything but the input digests, which are hashed only when there is something to compare.
    async fn dependencies(&self, stage: &StageDef) -> Result<Dependencies> {
        Ok(Dependencies {
            binary_sha256: self.binary_sha256.clone(),
            sections: stage
                .sections
                .iter()
                .map(|s| (s.name().to_string(), self.sections[s].clone()))
                .collect(),
            feature_sql_sha256: match stage.reads_feature_sql {
                true => Some(SqlSet::load(&self.ctx.layout.sql_dir)?.sha256()),
                false => None,
            },
            inputs: Default::default(),
            registry: self.registry(stage).await?,
        })
    }

    /// The registered version the stage acts on, for the stages that touch the registry.
    async fn registry(&self, stage: &StageDef) -> Result<Option<RegistryKey>> {
        match stage.registry {
            Some(read) => Ok(Some(read(&self.ctx).await.map_err(|e| failed(stage, e))?)),
            None => Ok(None),
        }
    }

    /// Compare with the last success's fingerprint (filling in the input digests to do so).
    fn verdict(
        &mut self,
        stage: &StageDef,
        inputs: &[PathBuf],
        depends_on: &mut Dependencies,
    ) -> Result<Verdict> {
        let last = match self.force {
            true => None,
            false => Fingerprint::load(&self.ctx.layout.stage_fingerprint(stage.name)),
        };
        let Some(last) = last else {
            let reason = match self.force {
                true => "--force",
                false => "no earlier successful run",
            };
            return Ok(Verdict::Run(reason.to_string()));
        };
        let root = &self.ctx.layout.root;
        depends_on.inputs = fingerprint::digest_paths(root, inputs, &mut self.hashes)?;
        let outputs =
            fingerprint::digest_paths(root, &(stage.outputs)(&self.ctx), &mut self.hashes)?;
        Ok(match last.stale_because(depends_on, &outputs) {
            Some(reason) => Verdict::Run(reason),
            None => Verdict::Unchanged {
                figure: last.figure,
            },
        })
    }

    /// Run the stage and return its figure. With no input digests yet (nothing was compared),
    /// the inputs are hashed on another thread while it runs: a cold ingest reads the 2.5 GB of
    /// raw CSVs itself, and this uses the other core meanwhile.
    async fn work(
        &mut self,
        stage: &StageDef,
        depends_on: &mut Dependencies,
        inputs: Vec<PathBuf>,
    ) -> Result<String> {
        let digesting = depends_on.inputs.is_empty().then(|| {
            let root = self.ctx.layout.root.clone();
            let mut taken = std::mem::take(&mut self.hashes);
            std::thread::spawn(move || {
                let digests = fingerprint::digest_paths(&root, &inputs, &mut taken);
                (taken, digests)
            })
        });
        let ran = (stage.run)(&self.ctx).await;
        let digested = match digesting {
            Some(thread) => {
                let (taken, digests) = thread
                    .join()
                    .map_err(|_| Error::internal("the input hashing thread panicked"))?;
                self.hashes = taken;
                Some(digests)
            }
            None => None,
        };
        // Save what was learnt so far: a failing stage must not cost the next run its hashes.
        self.hashes.save()?;
        let figure = ran.map_err(|e| failed(stage, e))?;
        if let Some(digests) = digested {
            depends_on.inputs = digests?;
        }
        Ok(figure)
    }

    /// Save the fingerprint of a success: what it depended on, the registry as the stage left
    /// it, and the digests of what it wrote.
    async fn record(
        &mut self,
        stage: &StageDef,
        depends_on: Dependencies,
        figure: &str,
        seconds: f64,
    ) -> Result<()> {
        let layout = self.ctx.layout;
        let outputs =
            fingerprint::digest_paths(&layout.root, &(stage.outputs)(&self.ctx), &mut self.hashes)?;
        let registry = self.registry(stage).await?;
        Fingerprint {
            stage: stage.name.to_string(),
            depends_on: Dependencies {
                registry,
                ..depends_on
            },
            outputs,
            figure: figure.to_string(),
            seconds,
            finished_at: chrono::Utc::now().to_rfc3339(),
        }
        .save(&layout.stage_fingerprint(stage.name))?;
        self.hashes.save()
    }
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
        .map_err(|e| Error::internal_from("cannot locate the running executable", e))?;
    hashes.sha256(&exe)?.ok_or_else(|| {
        Error::internal(format!(
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
