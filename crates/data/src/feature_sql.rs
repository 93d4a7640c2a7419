//! Running the feature SQL (`sql/*.sql`, versioned as one [`SqlSet`]) on a DataFusion session.
//! Definitions: `docs/features.md`.
//!
//! Each per-table file is one SELECT over the raw table(s) named like the catalog and yields one row
//! per applicant; its result is registered as `<file stem>_features`. `feature_store.sql` joins
//! them. The same statements run over full raw tables (batch) or over a request's few rows
//! registered under the same names (online scoring): see [`register_feature_views`].

use std::path::Path;

use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::sql::{FeatureSql, KEY, STORE_SQL, SqlSet, TABLE_SQL};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::common::Column;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{Expr, SessionContext};

mod split;

pub use split::by_key_range;

/// Plan one statement on `ctx`, naming the file in any engine error.
pub async fn plan(set: &SqlSet, ctx: &SessionContext, sql: FeatureSql) -> Result<DataFrame> {
    ctx.sql(set.text(sql)?)
        .await
        .map_err(|e| Error::engine(format!("feature SQL {}", sql.file), e))
}

/// Run one statement and keep its (small, per-applicant) result in memory under `result`,
/// sorted by SK_ID_CURR and registered with that order: the store query's joins then
/// stream the applicants in order, so its final ORDER BY needs no sort (nor a second copy of
/// the joined store in memory). A result without SK_ID_CURR is kept as it comes.
///
/// On a local one-partition session (`raw::feature_session`), a statement computed
/// applicant by applicant over a table held sorted by SK_ID_CURR runs as two halves at once
/// (slices of the table), with the bits of one run (see `split`). Over any other table only
/// with `halves`: the halves then cost an extra pass over the table's rows.
///
/// With `spill` (a folder), the sorted result goes to an Arrow IPC file there instead, and
/// [`reload`] registers it: a build then holds no finished table's features in
/// memory while it parses and reduces the others (the application features alone are
/// ~0.3 GB at full scale).
pub async fn materialize(
    set: &SqlSet,
    ctx: &SessionContext,
    sql: FeatureSql,
    spill: Option<&Path>,
    halves: bool,
) -> Result<u64> {
    let engine_error = |e| Error::engine(format!("feature SQL {}", sql.file), e);
    let df = plan(set, ctx, sql).await?;
    let key = Expr::Column(Column::new_unqualified(KEY)).sort(true, false);
    if crate::storage::file_tables(ctx).is_some() {
        // A cluster's session: partitioned there, and kept in files it can read.
        let sorted = df.schema().has_column_with_unqualified_name(KEY);
        let (df, order) = match sorted {
            true => (df.sort(vec![key.clone()]).map_err(engine_error)?, vec![key]),
            false => (df, vec![]),
        };
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let parts = df.collect_partitioned().await.map_err(engine_error)?;
        return crate::raw::register_sorted(ctx, sql.result, schema, parts, order);
    }
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let one_partition = ctx.state().config().target_partitions() == 1;
    let parts = match one_partition {
        true => split::by_applicant(df, halves).map_err(engine_error)?,
        false => vec![df],
    };
    // Each half on its own worker (a one-partition plan runs on the task that polls it).
    let running: Vec<_> = parts
        .into_iter()
        .map(|df| tokio::spawn(df.collect()))
        .collect();
    let mut batches = vec![];
    for part in running {
        let part = part
            .await
            .map_err(|e| Error::internal_from(format!("feature SQL {}", sql.file), e))?;
        batches.extend(part.map_err(engine_error)?);
    }
    let mut spill = match spill {
        Some(dir) => {
            let file = dir.join(format!("{}.arrow", sql.result));
            Some(creditrisk_base::io::ArrowFile::create(&file, &schema)?)
        }
        None => None,
    };
    // Sorted rows go straight to the spill file (one sorted batch in memory at a time).
    let mut sorted = vec![];
    let mut keep = |batch: RecordBatch| match &mut spill {
        Some(file) => file.write(&batch),
        None => {
            sorted.push(batch);
            Ok(())
        }
    };
    let order = match schema.index_of(KEY) {
        Ok(k) => {
            sort_by_applicant(k, &batches, &mut keep)?;
            vec![key]
        }
        Err(_) => {
            batches.into_iter().try_for_each(&mut keep)?;
            vec![]
        }
    };
    if let Some(file) = spill {
        return file.finish();
    }
    let batches = sorted;
    crate::raw::register_sorted(ctx, sql.result, schema, vec![batches], order)
}

/// Register a result that [`materialize`] left in `spill` (already sorted), declared
/// sorted as `materialize` registers it in memory: the store query then plans and runs as it
/// always does.
pub fn reload(ctx: &SessionContext, sql: FeatureSql, spill: &Path) -> Result<u64> {
    let file = spill.join(format!("{}.arrow", sql.result));
    let (schema, batches) = creditrisk_base::io::read_arrow_file(&file)?;
    let order = match schema.index_of(KEY) {
        Ok(_) => vec![Expr::Column(Column::new_unqualified(KEY)).sort(true, false)],
        Err(_) => vec![],
    };
    crate::raw::register_sorted(ctx, sql.result, schema, vec![batches], order)
}

/// Register every per-table result as a lazy view and return the store query: the online
/// path, for rows registered under the raw table names (`application` included).
pub async fn register_feature_views(set: &SqlSet, ctx: &SessionContext) -> Result<DataFrame> {
    for sql in TABLE_SQL {
        let view = plan(set, ctx, sql).await?.into_view();
        ctx.deregister_table(sql.result)?;
        ctx.register_table(sql.result, view)?;
    }
    plan(set, ctx, STORE_SQL).await
}

/// Feature-store rows computed by this set from raw CSVs (`<folder>/<Kaggle name>.csv`, all
/// eight tables): the path that scores new applicants with the SQL a model was trained on.
pub async fn features_of_raw_files(
    set: &SqlSet,
    raw_file: impl Fn(RawTable) -> std::path::PathBuf,
) -> Result<RecordBatch> {
    let ctx = crate::raw::session();
    for table in RawTable::ALL {
        let path = raw_file(table);
        let names = crate::raw::read_header(&path)?;
        let header = crate::raw::check_header(table, &names);
        if let crate::raw::CsvLoad::Unparseable { message, .. } =
            crate::raw::load_csv(&ctx, table, &path, &names, &header).await?
        {
            return Err(Error::input(message));
        }
    }
    crate::raw::register_application_view(&ctx).await?;
    let store = register_feature_views(set, &crate::raw::feature_session(&ctx)).await?;
    let schema = std::sync::Arc::new(store.schema().as_arrow().clone());
    let batches = store.collect().await?;
    Ok(concat_batches(&schema, &batches)?)
}

/// `batches` ordered by the key column `k`: ascending, NULLs last, equal keys in their order
/// here (a stable sort, so the order never depends on the sort's algorithm); handed to `emit` in
/// batches of `io::ARROW_BATCH_ROWS`.
fn sort_by_applicant(
    k: usize,
    batches: &[RecordBatch],
    mut emit: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    use datafusion::arrow::array::{ArrayRef, UInt32Array};
    use datafusion::arrow::compute::{
        SortColumn, SortOptions, concat, interleave_record_batch, lexsort_to_indices,
    };
    if batches.is_empty() {
        return Ok(());
    }
    let keys: Vec<&dyn datafusion::arrow::array::Array> =
        batches.iter().map(|b| b.column(k).as_ref()).collect();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let sort = |values: ArrayRef| SortColumn {
        values,
        options: Some(SortOptions {
            descending: false,
            nulls_first: false,
        }),
    };
    let positions: ArrayRef = std::sync::Arc::new(UInt32Array::from_iter_values(0..rows as u32));
    let order = lexsort_to_indices(&[sort(concat(&keys)?), sort(positions)], None)?;
    // Row i here is (batch, row).
    let mut at = Vec::with_capacity(rows);
    for (b, batch) in batches.iter().enumerate() {
        at.extend((0..batch.num_rows()).map(|r| (b, r)));
    }
    let sources: Vec<&RecordBatch> = batches.iter().collect();
    for chunk in order.values().chunks(creditrisk_base::io::ARROW_BATCH_ROWS) {
        let picks: Vec<(usize, usize)> = chunk.iter().map(|i| at[*i as usize]).collect();
        emit(interleave_record_batch(&sources, &picks)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
    use datafusion::arrow::datatypes::{
        DataType, Field, Float64Type, Int64Type, Schema, SchemaRef,
    };
    use datafusion::datasource::MemTable;

    use super::*;

    /// Rows of SK_ID_CURR and a row number (also for `split`'s tests).
    pub(super) fn keyed(keys: Vec<Option<i64>>, rows: Vec<i64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(KEY, DataType::Int64, true),
            Field::new("row", DataType::Int64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(keys)),
            Arc::new(Int64Array::from(rows)),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Results are sorted by SK_ID_CURR ascending, NULLs last, equal keys in their order,
    /// across batches.
    #[test]
    fn results_are_sorted_by_applicant_stably() {
        let batches = vec![
            keyed(vec![Some(3), None, Some(1)], vec![0, 1, 2]),
            keyed(vec![Some(3), Some(2)], vec![3, 4]),
        ];
        let mut sorted = vec![];
        sort_by_applicant(0, &batches, |b| {
            sorted.push(b);
            Ok(())
        })
        .unwrap();
        let rows: Vec<i64> = sorted
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(rows, [2, 4, 0, 3, 1]);
    }

    /// Whether two results hold the same values bit for bit (floats compared by their bits, so
    /// -0.0 differs from 0.0 and NaN equals itself).
    fn same_bits(schema: &SchemaRef, a: &[RecordBatch], b: &[RecordBatch]) -> Vec<String> {
        let (a, b) = (
            concat_batches(schema, a).unwrap(),
            concat_batches(schema, b).unwrap(),
        );
        let mut differ = vec![];
        for (i, field) in schema.fields().iter().enumerate() {
            let (x, y) = (a.column(i), b.column(i));
            let same = match (
                x.as_primitive_opt::<Float64Type>(),
                y.as_primitive_opt::<Float64Type>(),
            ) {
                (Some(x), Some(y)) => {
                    let bits = |f: &Float64Array| {
                        f.iter().map(|v| v.map(f64::to_bits)).collect::<Vec<_>>()
                    };
                    bits(x) == bits(y)
                }
                _ => x.to_data() == y.to_data(),
            };
            if !same {
                differ.push(field.name().clone());
            }
        }
        differ
    }

    /// Every per-table statement over a small synthetic extract: the union of the halves is the
    /// one run's result bit for bit; every statement computed applicant by applicant from a
    /// table in memory is split; a result that waited on disk comes back unchanged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn halves_give_the_bits_of_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let opts = creditrisk_synth::SynthOptions::new(
            3000,
            11,
            raw.clone(),
            dir.path().join("t.parquet"),
        );
        creditrisk_synth::run(&opts, &creditrisk_base::progress::Silent).unwrap();
        let ctx = crate::raw::session();
        for table in RawTable::ALL {
            let path = raw.join(table.file_name());
            let names = crate::raw::read_header(&path).unwrap();
            let header = crate::raw::check_header(table, &names);
            crate::raw::load_csv(&ctx, table, &path, &names, &header)
                .await
                .unwrap();
        }
        crate::raw::register_application_view(&ctx).await.unwrap();
        let one = crate::raw::feature_session(&ctx);
        let set = SqlSet::builtin();
        let mut split_files = vec![];
        for sql in TABLE_SQL {
            let whole = plan(&set, &one, sql).await.unwrap();
            let schema = Arc::new(whole.schema().as_arrow().clone());
            let k = schema.index_of(KEY).unwrap();
            let sorted = |batches: Vec<RecordBatch>| {
                let mut out = vec![];
                sort_by_applicant(k, &batches, |b| {
                    out.push(b);
                    Ok(())
                })
                .unwrap();
                out
            };
            let whole = sorted(whole.collect().await.unwrap());
            assert!(
                whole.iter().map(RecordBatch::num_rows).sum::<usize>() > 100,
                "{}",
                sql.file
            );
            let halves = split::by_applicant(plan(&set, &one, sql).await.unwrap(), true).unwrap();
            if halves.len() == 2 {
                split_files.push(sql.file);
            }
            let mut batches = vec![];
            let mut key_bounds = vec![];
            for half in halves {
                let part = half.collect().await.unwrap();
                let keys: Vec<i64> = part
                    .iter()
                    .flat_map(|b| b.column(k).as_primitive::<Int64Type>().iter().flatten())
                    .collect();
                key_bounds.push((keys.iter().min().copied(), keys.iter().max().copied()));
                batches.extend(part);
            }
            // synth writes every table sorted by SK_ID_CURR: its halves are key ranges.
            if let [(_, Some(low_max)), (Some(high_min), _)] = key_bounds[..] {
                assert!(low_max < high_min, "{}: {key_bounds:?}", sql.file);
            } else {
                assert!(key_bounds.len() == 1, "{}: {key_bounds:?}", sql.file);
            }
            let halves = sorted(batches);
            assert_eq!(
                same_bits(&schema, &whole, &halves),
                Vec::<String>::new(),
                "{}",
                sql.file
            );

            materialize(&set, &one, sql, Some(dir.path()), true)
                .await
                .unwrap();
            reload(&one, sql, dir.path()).unwrap();
            let back = one
                .table(sql.result)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(
                same_bits(&schema, &whole, &back),
                Vec::<String>::new(),
                "{}",
                sql.file
            );
        }
        // The store query over the seven results as they wait for it: in key ranges, the one
        // run's rows in its order, bit for bit.
        let whole = plan(&set, &one, STORE_SQL).await.unwrap();
        let schema = Arc::new(whole.schema().as_arrow().clone());
        let whole = whole.collect().await.unwrap();
        let ranges = by_key_range(plan(&set, &one, STORE_SQL).await.unwrap(), 8).unwrap();
        assert_eq!(ranges.len(), 8);
        let mut batches = vec![];
        for range in ranges {
            batches.extend(range.collect().await.unwrap());
        }
        assert_eq!(same_bits(&schema, &whole, &batches), Vec::<String>::new());
        // Not application.sql (it reads the `application` view, not a table held in memory)
        // nor bureau_balance.sql (a join).
        let split_expected = [
            "bureau.sql",
            "previous_application.sql",
            "installments_payments.sql",
            "credit_card_balance.sql",
            "pos_cash_balance.sql",
        ];
        assert_eq!(split_files, split_expected);
    }

    /// Statements whose rows mix applicants run whole; the halves split the rows between them,
    /// a NULL key with the even ones.
    #[tokio::test]
    async fn only_applicant_by_applicant_statements_are_split() {
        let schema = Arc::new(Schema::new(vec![
            Field::new(KEY, DataType::Int64, true),
            Field::new("SK_ID_PREV", DataType::Int64, true),
            Field::new("AMT_PAYMENT", DataType::Float64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(2),
                None,
                Some(-3),
                Some(2),
            ])),
            Arc::new(Int64Array::from(vec![10, 20, 30, 40, 20])),
            Arc::new(Float64Array::from(vec![1.5, 2.0, 3.0, 4.0, 0.25])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let ctx = crate::raw::session();
        let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
        ctx.register_table("installments_payments", Arc::new(table))
            .unwrap();
        let one = crate::raw::feature_session(&ctx);
        let keys_of = |batches: Vec<RecordBatch>| -> Vec<Option<i64>> {
            batches
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_primitive::<Int64Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let split = [
            "SELECT SK_ID_CURR, SUM(AMT_PAYMENT) AS s FROM installments_payments GROUP BY SK_ID_CURR",
            "WITH loan AS (SELECT SK_ID_CURR AS id, SK_ID_PREV, AVG(AMT_PAYMENT) AS m \
             FROM installments_payments i WHERE AMT_PAYMENT > 0 GROUP BY SK_ID_PREV, SK_ID_CURR) \
             SELECT id AS SK_ID_CURR, MAX(m) AS m FROM loan GROUP BY id",
            "SELECT SK_ID_CURR, AMT_PAYMENT * 2 AS twice FROM installments_payments",
        ];
        for sql in split {
            let halves = split::by_applicant(one.sql(sql).await.unwrap(), true).unwrap();
            assert_eq!(halves.len(), 2, "{sql}");
            let mut keys = vec![];
            for half in halves {
                keys.push(keys_of(half.collect().await.unwrap()));
            }
            let even = keys[0].iter().all(|k| k.is_none_or(|k| k % 2 == 0));
            let odd = keys[1].iter().all(|k| k.is_some_and(|k| k % 2 != 0));
            assert!(even && odd, "{sql}: {keys:?}");
            let whole = keys_of(one.sql(sql).await.unwrap().collect().await.unwrap());
            assert_eq!(keys[0].len() + keys[1].len(), whole.len(), "{sql}");
        }
        let whole = [
            "SELECT SK_ID_CURR, AMT_PAYMENT / SUM(AMT_PAYMENT) OVER () AS share FROM installments_payments",
            "SELECT SK_ID_CURR, AMT_PAYMENT - (SELECT AVG(AMT_PAYMENT) FROM installments_payments) AS d \
             FROM installments_payments",
            "SELECT MIN(SK_ID_CURR) AS SK_ID_CURR, SUM(AMT_PAYMENT) AS s FROM installments_payments GROUP BY SK_ID_PREV",
            "SELECT SK_ID_PREV AS SK_ID_CURR, SUM(AMT_PAYMENT) AS s FROM installments_payments GROUP BY SK_ID_PREV",
            "SELECT SK_ID_CURR + 0 AS SK_ID_CURR, AMT_PAYMENT FROM installments_payments",
            "SELECT SK_ID_CURR, SUM(AMT_PAYMENT) AS s FROM installments_payments GROUP BY ROLLUP (SK_ID_CURR)",
            "SELECT SK_ID_CURR, AMT_PAYMENT FROM installments_payments LIMIT 2",
            "SELECT a.SK_ID_CURR, b.AMT_PAYMENT FROM installments_payments a \
             JOIN installments_payments b ON a.SK_ID_PREV = b.SK_ID_PREV",
        ];
        for sql in whole {
            let parts = split::by_applicant(one.sql(sql).await.unwrap(), true).unwrap();
            assert_eq!(parts.len(), 1, "{sql}");
        }
    }
}
