//! Synchronous wrappers over the async stage entry points, as the CLI wires them, so tests read
//! like the commands they exercise. The library creates no runtime; tests share one here.

use std::sync::OnceLock;

use creditrisk::evaluate::EvalSummary;
use creditrisk::features::{FeatureStoreOptions, FeatureStoreSummary};
use creditrisk::pipeline::DemoSummary;
use creditrisk::progress::Silent;
use creditrisk::split::{SplitOptions, SplitSummary};
use creditrisk::synth::{SynthOptions, SynthSummary};
use creditrisk::train::{TrainOptions, TrainSummary};
use creditrisk::{Config, Layout, Result, Split};

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

pub fn layout(cfg: &Config) -> Layout {
    Layout::new(cfg)
}

pub fn synth(opts: &SynthOptions) -> Result<SynthSummary> {
    creditrisk::synth::run(opts, &Silent)
}

pub fn build_feature_store(cfg: &Config) -> Result<FeatureStoreSummary> {
    runtime().block_on(creditrisk::features::build_feature_store(
        &layout(cfg),
        &FeatureStoreOptions::from_config(cfg),
        &Silent,
    ))
}

pub fn split(cfg: &Config) -> Result<SplitSummary> {
    creditrisk::split::run(&layout(cfg), &SplitOptions::from_config(cfg))
}

pub fn train(cfg: &Config) -> Result<TrainSummary> {
    runtime().block_on(creditrisk::train::run(
        &layout(cfg),
        &TrainOptions::from_config(cfg),
    ))
}

pub fn evaluate(cfg: &Config, split: Split) -> Result<EvalSummary> {
    runtime().block_on(creditrisk::evaluate::run(
        &layout(cfg),
        &creditrisk::evaluate::EvaluateOptions::from_config(cfg),
        split,
    ))
}

pub fn demo(cfg: &Config) -> Result<DemoSummary> {
    runtime().block_on(creditrisk::pipeline::demo(cfg, &Silent))
}

/// A synthetic project in a kept temporary folder: `rows` applicants made with `seed`, its
/// feature store, splits and a trained, registered model. Returns the root, the config and the
/// model's bundle folder.
pub fn trained_project(rows: usize, seed: u64) -> (std::path::PathBuf, Config, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap().keep();
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
