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

use std::path::Path;

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
            Err(creditrisk_base::Error::Input(format!(
                "the feature store build on {engine} did not finish in {} s \
                 (features.cluster_timeout_seconds); no store was written. Check that every \
                 executor is alive (`creditrisk cluster executor` logs) and run it again",
                opts.cluster_timeout_seconds
            )))
        })
}

/// The parsing floor: parse every typed raw CSV of `raw_dir` once, one table at a time, with the
/// reader the build uses (each table's batches are dropped once counted; in DataFusion's reader,
/// a `COUNT` of every column, so each value is parsed but nothing is kept). Returns (table, rows,
/// seconds) per file; used by `benches/feature_store.sh`.
pub async fn parse_floor(raw_dir: &Path) -> creditrisk_base::Result<Vec<(String, u64, f64)>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::prelude::CsvReadOptions;
    let ctx = crate::raw::session();
    let mut out = vec![];
    for table in creditrisk_base::catalog::RawTable::ALL {
        let started = std::time::Instant::now();
        let path = raw_dir.join(table.file_name());
        let schema = table.arrow_schema();
        // The build's reader first (as `raw::load_csv`), DataFusion's when it declines the file.
        if let Some(parts) = crate::raw::read_plain_csv(&ctx, &path, &schema).await? {
            let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
            let seconds = started.elapsed().as_secs_f64();
            out.push((table.name().to_string(), rows, seconds));
            continue;
        }
        let options = CsvReadOptions::new().has_header(true).schema(&schema);
        ctx.register_csv(table.name(), path.to_string_lossy().as_ref(), options)
            .await?;
        let counts: Vec<String> = table
            .columns()
            .iter()
            .map(|c| format!("COUNT({})", crate::raw::ident(c.name)))
            .collect();
        let sql = format!(
            "SELECT COUNT(*), {} FROM {}",
            counts.join(", "),
            table.name()
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows = batches
            .first()
            .map(|b| b.column(0).as_primitive::<Int64Type>().value(0) as u64)
            .unwrap_or(0);
        out.push((
            table.name().to_string(),
            rows,
            started.elapsed().as_secs_f64(),
        ));
    }
    Ok(out)
}
