//! The base every other creditrisk crate builds on: errors ([`error`]), the typed configuration
//! ([`config`]), the raw tables and the feature-store schema ([`catalog`]), every artifact path
//! ([`layout`]), local vs object-store locations ([`location`]), atomic writes and digests
//! ([`io`]), Parquet files (`parquet_io`, cargo feature `parquet`), the feature SQL texts a store and a bundle are versioned by ([`sql`]) and the
//! progress callback stages report through ([`progress`]). No DataFusion here.

pub mod catalog;
pub mod config;
pub mod error;
pub mod io;
pub mod layout;
pub mod location;
#[cfg(feature = "parquet")]
pub mod parquet_io;
pub mod progress;
pub mod sql;

pub use config::Config;
pub use error::{Error, Result};
pub use layout::{Layout, Split};
