//! Data contracts: declarative checks generated from the catalog, run inside the engine.
//!
//! `checks` holds the rule types; `runner` runs them (one aggregate scan per table, samples only
//! for failing checks), with `first_pass` for its row counts and extremes; `keys` counts
//! unique-key and orphan checks over one scan of the id column (cheaper than the equivalent SQL,
//! same counts); `raw_tables` generates the checks of every raw column from the catalog;
//! `feature_store` checks the built store. The runner works over any registered table, so serving
//! payloads registered as small tables reuse it.

pub mod checks;
pub mod feature_store;
mod first_pass;
mod keys;
pub mod raw_tables;
pub mod report;
pub mod runner;
pub mod splits;

pub use checks::{Check, Group, Rule};
pub use report::{CheckFailure, Severity, ValidationReport};
pub use runner::{TableRun, run_checks};
