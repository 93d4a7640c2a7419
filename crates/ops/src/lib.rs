//! The stages of creditrisk, each a module with one entry function, and the pipeline that chains
//! them: [`ingest`] verifies raw files, [`split`] makes stratified train/test splits, [`train`]
//! fits preprocessing, learner and calibration into a verified bundle, [`evaluate`] scores a split
//! into metrics, plots and an HTML report, [`gates`] (validate-model, canary, auto-promote),
//! [`registry`] (promotions), [`predict`] (batch scoring), [`monitor`] (drift, production
//! monitoring, freshness), [`deploy`] (the deployment manifest), [`model_card`] (the governance
//! document of a model version), [`experiment`] (what a run records in the tracker),
//! [`pipeline`] (the stage table behind `creditrisk run` and `creditrisk demo`) and [`gc`] (bundle
//! folders nothing refers to).
//!
//! The synthetic generator, the feature store and the HTTP API are stages too; they live in their
//! own crates (`creditrisk-synth`, `creditrisk-data`, `creditrisk-serve`).

pub mod deploy;
pub mod evaluate;
pub mod experiment;
pub mod gates;
pub mod gc;
pub mod ingest;
pub mod model_card;
pub mod monitor;
pub mod pipeline;
pub mod predict;
pub mod registry;
pub mod split;
pub mod train;
