//! The one integration-test binary (each test binary links DataFusion, so there is only one).
mod cli;
mod contracts;
mod features;
mod model;
mod pipeline;
mod synth;
