//! creditrisk: a probability-of-default platform for consumer lending.
//!
//! Data flows one way through stages, each a module with one entry function:
//! `synth` makes Kaggle-shaped raw files → `ingest` verifies them → `contracts` check every column
//! → `features` runs the SQL in `sql/` on DataFusion into the feature store → `split` makes
//! stratified train/test splits → `model` fits preprocessing, learner and calibration into a
//! verified bundle → `evaluate` scores a split into metrics, plots and an HTML report.
//! `pipeline` chains them (`creditrisk demo`). `catalog` declares the raw tables once for all.

pub mod artifact;
pub mod catalog;
pub mod config;
pub mod contracts;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod ingest;
pub mod model;
pub mod pipeline;
pub mod raw;
pub mod split;
pub mod synth;

pub use config::Config;
pub use error::{Error, Result};
