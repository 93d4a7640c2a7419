//! creditrisk: a probability-of-default platform for consumer lending.
//!
//! Data flows one way through stages, each a module with one entry function:
//! `synth` makes Kaggle-shaped raw files → `ingest` verifies them → `features` checks every raw
//! column against its contract and runs the SQL in `sql/` on DataFusion into the feature store →
//! `split` makes stratified train/test splits → `train` fits preprocessing, learner and calibration
//! into a verified bundle → `evaluate` scores a split into metrics, plots and an HTML report.
//! `pipeline` chains them as a table of stages (`creditrisk run`, skipping what is unchanged;
//! `creditrisk demo`).
//!
//! # Layers
//!
//! Imports only point down this list; modules of one layer may use each other, but no two
//! modules import each other (a test, `tests/it/layers.rs`, enforces both):
//!
//! 1. **CLI** — `src/cli/` (the binary): parses arguments, owns the async runtime and the
//!    progress bars.
//! 2. **pipeline** — [`pipeline`]: the stage table, fingerprints and the runner of `run`/`demo`.
//! 3. **stages** — [`synth`], [`ingest`], [`features`], [`split`], [`train`], [`evaluate`],
//!    [`registry`] (promotions), [`gates`] (validate-model, canary, auto-promote), [`predict`]
//!    (batch-predict: streaming scoring of new applicants), [`serve`] (the HTTP API),
//!    [`monitor`] (monitor-drift, monitor-production with the retrain trigger, check-freshness),
//!    [`deploy`] (the deployment manifest), [`model_card`] (the governance document of a
//!    model version), [`cluster`] (Ballista scheduler and executor processes, and the session
//!    that sends the feature SQL to them; cargo feature `ballista`, on by default).
//! 4. **core** — [`model`] (bundle and the one scoring core), [`experiment`] (what a run records
//!    in the tracker), [`contracts`], [`feature_sql`], [`feature_engine`] (the bundle's feature SQL
//!    planned once and run per request or chunk), [`serving_contract`] (what a row to score
//!    must look like, from the catalog),
//!    [`raw`], [`metrics`], [`sampling`], [`io`], [`layout`], [`progress`], [`tracking`]
//!    (MLflow-compatible runs and registry), [`storage`] (raw data in S3, Azure Blob, GCS or
//!    over HTTP, through `object_store`).
//! 5. **catalog/config** — [`catalog`] (raw tables and the feature-store schema), [`config`],
//!    [`error`].

// 5. catalog/config
pub mod catalog;
pub mod config;
pub mod error;
// 4. core
pub mod contracts;
pub mod experiment;
pub mod feature_engine;
pub mod feature_sql;
pub mod io;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod raw;
pub mod sampling;
pub mod serving_contract;
pub mod storage;
pub mod tracking;
// 3. stages
pub mod cluster;
pub mod deploy;
pub mod evaluate;
pub mod features;
pub mod gates;
pub mod ingest;
pub mod model_card;
pub mod monitor;
pub mod predict;
pub mod registry;
pub mod serve;
pub mod split;
pub mod synth;
pub mod train;
// 2. pipeline
pub mod pipeline;

pub use config::Config;
pub use error::{Error, Result};
pub use layout::{Layout, Split};
