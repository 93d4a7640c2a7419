//! Feature store (`build-feature-store`): raw contracts → feature SQL → store contracts → Parquet.
//!
//! Raw tables are processed one group at a time (application train+test, bureau with its balance,
//! then each previous-loan table): each is parsed once into memory (or scanned from its typed
//! Parquet copy), then checked, reduced to one row per applicant by its SQL file and dropped.
//! A group's contracts, feature SQL and cache fill run concurrently, beside the parsing of the
//! next group; at most two parsed groups are held at once, so memory peaks at about the two
//! largest groups, not the sum.

mod build;
mod digests;
mod engine;
pub mod lineage;
mod memo;
mod options;
mod raw_checks;
mod store;
mod summary;

pub use options::FeatureStoreOptions;
pub use summary::{FeatureStoreSummary, TableTiming, TypedCopy};

/// Build the feature store at `layout.store_file` from the raw files of `layout.raw_dir`.
pub async fn build_feature_store(
    layout: &creditrisk_base::Layout,
    opts: &FeatureStoreOptions,
    reporter: &dyn creditrisk_base::progress::Reporter,
) -> creditrisk_base::Result<FeatureStoreSummary> {
    let engine = opts.engine.as_deref().filter(|e| *e != "local");
    let Some(engine) = engine else {
        return build::run(layout, opts, reporter).await;
    };
    let limit = std::time::Duration::from_secs(opts.cluster_timeout_seconds);
    // Dropping the build on time-out removes its temp store file and in-between tables.
    tokio::time::timeout(limit, build::run(layout, opts, reporter))
        .await
        .unwrap_or_else(|_| {
            Err(creditrisk_base::Error::input(format!(
                "the feature store build on {engine} did not finish in {} s \
                 (features.cluster_timeout_seconds); no store was written. Check that every \
                 executor is alive (`creditrisk cluster executor` logs) and run it again",
                opts.cluster_timeout_seconds
            )))
        })
}
