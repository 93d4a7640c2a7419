//! Data contracts: declarative checks generated from the catalog, run inside the engine.

pub mod report;
pub mod splits;

pub use report::{CheckFailure, Severity, ValidationReport};
