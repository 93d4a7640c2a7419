//! The one integration-test binary (each test binary links DataFusion, so there is only one).
#![allow(clippy::print_stdout, clippy::print_stderr)]
mod cli;
mod contracts;
mod features;
mod layers;
mod mlflow_pipeline;
mod model;
mod monitor;
mod pipeline;
mod predict;
mod registry;
mod run;
mod scoring;
mod serve;
mod support;
mod synth;
mod tracking;
