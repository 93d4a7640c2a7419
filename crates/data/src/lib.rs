//! The data layer on DataFusion: raw extracts read by catalog ([`raw`], [`csv_reader`], object
//! stores through [`storage`]), the data contracts ([`contracts`]), the feature SQL run on a
//! session ([`feature_sql`]), the feature-store build ([`features`]), the bundle's feature SQL
//! planned once for scoring ([`feature_engine`]) and the Ballista cluster ([`cluster`], cargo feature `ballista`).

pub mod cluster;
pub mod contracts;
pub mod csv_reader;
pub mod feature_engine;
pub mod feature_sql;
pub mod features;
pub mod raw;
pub mod storage;
