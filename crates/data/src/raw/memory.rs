//! Raw tables held in memory: registered in file order, with the order of a key they are
//! already sorted on declared to the engine.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Column;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{Expr, SortExpr};
use datafusion::prelude::SessionContext;

use creditrisk_base::error::Result;

/// Register the in-memory batches as `name`; returns the row count.
pub fn register_batches(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
) -> Result<u64> {
    // A distributed engine cannot be sent in-memory tables: file-backed there (crate::storage).
    if let Some(files) = crate::storage::file_tables(ctx) {
        return files.register(ctx, name, schema, &parts);
    }
    let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
    let parts = if parts.is_empty() {
        vec![vec![]]
    } else {
        parts
    };
    let table = MemTable::try_new(schema, parts)?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(rows)
}

/// Register in-memory batches as `name`, declaring that they are sorted by `order` (empty: no
/// order) so that plans over them can rely on it; returns the row count.
pub fn register_sorted(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
    order: Vec<SortExpr>,
) -> Result<u64> {
    let orders = match order.is_empty() {
        true => vec![],
        false => vec![order],
    };
    register_ordered(ctx, name, schema, parts, orders)
}

/// Register in-memory batches as `name` with each of `orders` declared (none: no order).
fn register_ordered(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: Vec<Vec<RecordBatch>>,
    orders: Vec<Vec<SortExpr>>,
) -> Result<u64> {
    if orders.is_empty() || parts.is_empty() || crate::storage::file_tables(ctx).is_some() {
        return register_batches(ctx, name, schema, parts);
    }
    let rows = parts.iter().flatten().map(|b| b.num_rows() as u64).sum();
    let table = MemTable::try_new(schema, parts)?.with_sort_order(orders);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(rows)
}

/// A raw table read in several partitions (byte ranges, in order) as one partition in file order
/// (see [`super::feature_session`]).
pub(super) fn register_in_file_order(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    parts: &[Vec<RecordBatch>],
) -> Result<u64> {
    let rows: Vec<RecordBatch> = parts.iter().flatten().cloned().collect();
    let orders: Vec<Vec<SortExpr>> = ORDER_KEYS
        .iter()
        .filter(|key| sorted_on(&rows, key))
        .map(|key| vec![Expr::Column(Column::new_unqualified(*key)).sort(true, false)])
        .collect();
    register_ordered(ctx, name, schema, vec![rows], orders)
}

/// The keys the feature statements group rows on. A table whose rows are already in the order
/// of one of them (an extract exported in key order, as `synth` writes them) is registered with
/// that order, so the engine aggregates each loan or applicant as its rows stream past instead
/// of keeping every group in a hash table; the rows, their order and so every sum are the same.
const ORDER_KEYS: [&str; 3] = ["SK_ID_CURR", "SK_ID_PREV", "SK_ID_BUREAU"];

/// Whether `key` is a column of `batches` without NULLs whose values never decrease.
fn sorted_on(batches: &[RecordBatch], key: &str) -> bool {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let mut last = i64::MIN;
    for batch in batches {
        let Some(column) = batch.column_by_name(key) else {
            return false;
        };
        let Some(values) = column.as_primitive_opt::<Int64Type>() else {
            return false;
        };
        let values = values.values();
        if column.null_count() > 0
            || values.first().is_some_and(|first| *first < last)
            || values.windows(2).any(|pair| pair[1] < pair[0])
        {
            return false;
        }
        last = values.last().copied().unwrap_or(last);
    }
    true
}

#[cfg(test)]
mod tests {
    /// A key is declared as the table's order only when every row is in it, across batches and
    /// without NULLs; the engine then aggregates on it as a stream, with the same result.
    #[tokio::test]
    async fn sorted_keys_are_declared_and_aggregate_alike() {
        use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::physical_plan::displayable;
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("SK_ID_PREV", DataType::Int64, true),
            Field::new("SK_ID_CURR", DataType::Int64, true),
            Field::new("SK_ID_BUREAU", DataType::Int64, true),
            Field::new("AMT", DataType::Float64, true),
        ]));
        let batch = |prev: Vec<i64>, curr: Vec<i64>, bureau: Vec<Option<i64>>, amt: Vec<f64>| {
            let columns: Vec<datafusion::arrow::array::ArrayRef> = vec![
                Arc::new(Int64Array::from(prev)),
                Arc::new(Int64Array::from(curr)),
                Arc::new(Int64Array::from(bureau)),
                Arc::new(Float64Array::from(amt)),
            ];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let batches = vec![
            batch(
                vec![1, 1, 2],
                vec![7, 7, 9],
                vec![Some(5), Some(5), Some(6)],
                vec![0.1, 0.2, 0.3],
            ),
            // SK_ID_CURR goes down across the batch boundary; SK_ID_BUREAU has a NULL.
            batch(
                vec![2, 3, 3],
                vec![8, 9, 9],
                vec![Some(6), None, Some(7)],
                vec![0.4, 0.5, 0.6],
            ),
        ];
        assert!(super::sorted_on(&batches, "SK_ID_PREV"));
        assert!(!super::sorted_on(&batches, "SK_ID_CURR"));
        assert!(!super::sorted_on(&batches, "SK_ID_BUREAU"));
        assert!(!super::sorted_on(&batches, "MISSING"));
        assert!(
            !super::sorted_on(&batches[..1], "AMT"),
            "not an integer key"
        );
        assert!(super::sorted_on(&batches[..1], "SK_ID_BUREAU"));

        let sql = "SELECT SK_ID_PREV, SUM(AMT) AS s, COUNT(*) AS n FROM t GROUP BY SK_ID_PREV";
        let run = |declared: bool| {
            let (schema, batches) = (schema.clone(), batches.clone());
            async move {
                let ctx = crate::raw::feature_session(&crate::raw::session());
                if declared {
                    super::register_in_file_order(&ctx, "t", schema, &[batches]).unwrap();
                } else {
                    super::register_batches(&ctx, "t", schema, vec![batches]).unwrap();
                }
                let df = ctx.sql(sql).await.unwrap();
                let plan = df.clone().create_physical_plan().await.unwrap();
                let shown = displayable(plan.as_ref()).indent(true).to_string();
                // Streamed groups come in batches of their own: compare the rows.
                let rows = df.collect().await.unwrap();
                let rows = datafusion::arrow::compute::concat_batches(&rows[0].schema(), &rows);
                (shown.contains("ordering_mode=Sorted"), rows.unwrap())
            }
        };
        let (streamed, declared) = run(true).await;
        let (hashed, plain) = run(false).await;
        assert!(streamed && !hashed);
        assert_eq!(declared, plain);
    }
}
