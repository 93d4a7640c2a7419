//! Synchronous wrappers over the async stage entry points, as the CLI wires them, so tests read
//! like the commands they exercise. The library creates no runtime; tests share one here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use creditrisk_base::progress::Silent;
use creditrisk_base::{Config, Layout, Result, Split};
use creditrisk_data::features::{FeatureStoreOptions, FeatureStoreSummary};
use creditrisk_ops::evaluate::EvalSummary;
use creditrisk_ops::pipeline::DemoSummary;
use creditrisk_ops::split::{SplitOptions, SplitSummary};
use creditrisk_ops::train::{TrainOptions, TrainSummary};
use creditrisk_synth::{SynthOptions, SynthSummary};

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// A folder for files that outlive one test (the fixtures shared through statics, which are never
/// dropped): `creditrisk-it-<pid>` in the temp folder. A watcher process removes it once this
/// test binary has exited, and the first call removes any left by a binary that was killed, so
/// test runs leave nothing behind.
pub fn scratch() -> &'static Path {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let tmp = std::env::temp_dir();
        let pid = std::process::id();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.strip_prefix("creditrisk-it-") else {
                continue;
            };
            if !Path::new("/proc").join(owner).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let root = tmp.join(format!("creditrisk-it-{pid}"));
        std::fs::create_dir_all(&root).unwrap();
        let watch = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; rm -rf '{}'",
            root.display()
        );
        // Not waited for: it outlives this process by design (init reaps it).
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &watch])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the scratch folder's watcher");
        root
    })
}

/// A new folder in [`scratch`], kept until the test binary exits.
pub fn kept_dir() -> PathBuf {
    tempfile::tempdir_in(scratch()).unwrap().keep()
}

pub fn layout(cfg: &Config) -> Layout {
    Layout::new(cfg)
}

pub fn synth(opts: &SynthOptions) -> Result<SynthSummary> {
    creditrisk_synth::run(opts, &Silent)
}

pub fn build_feature_store(cfg: &Config) -> Result<FeatureStoreSummary> {
    runtime().block_on(creditrisk_data::features::build_feature_store(
        &layout(cfg),
        &FeatureStoreOptions::from_config(cfg),
        &Silent,
    ))
}

pub fn split(cfg: &Config) -> Result<SplitSummary> {
    creditrisk_ops::split::run(&layout(cfg), &SplitOptions::from_config(cfg))
}

pub fn train(cfg: &Config) -> Result<TrainSummary> {
    runtime().block_on(creditrisk_ops::train::run(
        &layout(cfg),
        &TrainOptions::from_config(cfg),
    ))
}

pub fn evaluate(cfg: &Config, split: Split) -> Result<EvalSummary> {
    runtime().block_on(creditrisk_ops::evaluate::run(
        &layout(cfg),
        &creditrisk_ops::evaluate::EvaluateOptions::from_config(cfg),
        split,
    ))
}

pub fn demo(cfg: &Config) -> Result<DemoSummary> {
    runtime().block_on(creditrisk_ops::pipeline::demo(cfg, &Silent))
}

/// A synthetic project in a [`kept_dir`]: `rows` applicants made with `seed`, its
/// feature store, splits and a trained, registered model. Returns the root, the config and the
/// model's bundle folder.
pub fn trained_project(rows: usize, seed: u64) -> (PathBuf, Config, PathBuf) {
    let root = kept_dir();
    let mut cfg = crate::features::test_config(&root);
    cfg.paths.models_dir = root.join("models");
    let layout = Layout::new(&cfg);
    let opts = SynthOptions::new(
        rows,
        seed,
        layout.raw_dir.clone(),
        root.join("truth.parquet"),
    );
    synth(&opts).unwrap();
    build_feature_store(&cfg).unwrap();
    split(&cfg).unwrap();
    let model_dir = train(&cfg).unwrap().model_dir;
    (root, cfg, model_dir)
}
