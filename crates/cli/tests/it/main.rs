//! The one integration-test binary (each test binary links DataFusion, so there is only one).
#![allow(clippy::print_stdout, clippy::print_stderr)]
mod audit;
mod bundle_fuzz;
mod bundle_trust;
mod cli;
mod crash;
// Starts Ballista processes from the binary: only with the `ballista` feature (default).
#[cfg(feature = "ballista")]
mod cluster;
mod contracts;
mod dvc;
mod features;
mod golden;
mod governance;
mod mlflow_pipeline;
mod model;
mod monitor;
mod object_stores;
mod pipeline;
mod predict;
mod registry;
mod registry_crash;
mod run;
mod scoring;
mod serve;
mod serve_limits;
mod support;
mod synth;
mod tracking;
