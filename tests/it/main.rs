//! The one integration-test binary (each test binary links DataFusion, so there is only one).
mod features;
mod model;
mod synth;
