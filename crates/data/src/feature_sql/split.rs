//! One per-table statement run as two halves of the applicants, on two cores, with the bits of
//! one run.
//!
//! A statement runs in one partition so that every sum adds the same numbers in the same order
//! (file order) on every run. That leaves a core idle for the longest statements. A statement is
//! split only when its optimized plan shows that each output row comes from one applicant's rows
//! alone: one table held in memory, scanned once, under filters, projections and aggregations
//! whose GROUP BY keeps that table's SK_ID_CURR. Each half then reads the table restricted to
//! half of the applicants (a slice of a table held sorted by SK_ID_CURR; else, through a filter,
//! the odd or even keys), all of each one's rows still in file order, so each group meets its
//! rows, and each applicant its loans, in the order one run would: the union of the halves is
//! the one run's result, bit for bit. Anything else (joins, unions, windows, limits, subqueries,
//! views, files) runs whole.
//!
//! The store query joins the per-table results, each held in memory sorted by SK_ID_CURR, on
//! that key. [`by_key_range`] runs it as consecutive ranges of applicants, two at a time: each
//! range reads a slice of every table (no copy, no filter pass), and the ranges' results one
//! after another are the one run's result, row for row and bit for bit.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{Int64Type, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{MemTable, provider_as_source, source_as_provider};
use datafusion::error::Result;
use datafusion::logical_expr::{
    Expr, JoinType, LogicalPlan, LogicalPlanBuilder, SortExpr, ident, lit,
};

use super::KEY;

/// The two halves of `df`, or `df` alone when its result is not computed applicant by
/// applicant. A table held sorted by SK_ID_CURR is halved at its middle key, each half reading a
/// slice of it (as [`by_key_range`]); any other, only when `filtered`, into odd and even
/// SK_ID_CURR (NULL keys with the even), each half filtering all of its rows: an extra pass.
pub fn by_applicant(df: DataFrame, filtered: bool) -> Result<Vec<DataFrame>> {
    let (state, plan) = df.into_parts();
    let optimized = state.optimize(&plan)?;
    let Some(table) = single_table(&optimized) else {
        return Ok(vec![DataFrame::new(state, plan)]);
    };
    let key_out = optimized.schema().index_of_column_by_name(None, KEY);
    let applicant_local = key_columns(&optimized, Scope::Table(&table))
        .is_some_and(|keys| key_out.is_some_and(|k| keys.contains(&k)));
    if !applicant_local {
        return Ok(vec![DataFrame::new(state, plan)]);
    }
    if let Some(tables) = sorted_tables(&plan) {
        return key_ranges(&state, &plan, &tables, 2);
    }
    if !filtered {
        return Ok(vec![DataFrame::new(state, plan)]);
    }
    let parity = || ident(KEY) % lit(2i64);
    let halves = [
        ident(KEY).is_null().or(parity().eq(lit(0i64))),
        parity().not_eq(lit(0i64)),
    ];
    let mut out = vec![];
    for half in halves {
        // Filtered at every scan of the table, before anything reads its rows.
        let filtered = plan.clone().transform_up(|node| match &node {
            LogicalPlan::TableScan(scan) if scan.table_name.table() == table => {
                let node = LogicalPlanBuilder::from(node)
                    .filter(half.clone())?
                    .build()?;
                Ok(Transformed::yes(node))
            }
            _ => Ok(Transformed::no(node)),
        })?;
        out.push(DataFrame::new(state.clone(), filtered.data));
    }
    Ok(out)
}

/// The one table `plan` scans (None for none or several).
fn single_table(plan: &LogicalPlan) -> Option<String> {
    let mut tables = vec![];
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            // Held in memory (a file would be decoded twice, once per half).
            let in_memory = datafusion::datasource::source_as_provider(&scan.source)
                .is_ok_and(|p| p.is::<datafusion::datasource::MemTable>());
            tables.push(in_memory.then(|| scan.table_name.table().to_string()));
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })
    .ok()?;
    if tables.len() == 1 {
        tables.remove(0)
    } else {
        None
    }
}

/// The plans [`key_columns`] accepts.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// One table's rows: a per-table statement.
    Table(&'a str),
    /// Any tables, joined on the key, and sorts: the store query.
    Joined,
}

/// Output columns (by position) of `plan` that carry a scanned table's SK_ID_CURR unchanged
/// (never NULL-extended by an outer join), when every output row is computed from the rows of
/// one such key; None when `plan` holds anything else.
fn key_columns(plan: &LogicalPlan, scope: Scope) -> Option<Vec<usize>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let table_ok = match scope {
                Scope::Table(table) => scan.table_name.table() == table,
                Scope::Joined => true,
            };
            let whole = table_ok && scan.fetch.is_none();
            if !whole || !scan.filters.iter().all(row_level) {
                return None;
            }
            let key = scan.projected_schema.index_of_column_by_name(None, KEY)?;
            Some(vec![key])
        }
        LogicalPlan::Filter(filter) if row_level(&filter.predicate) => {
            key_columns(&filter.input, scope)
        }
        LogicalPlan::SubqueryAlias(alias) => key_columns(&alias.input, scope),
        LogicalPlan::Projection(projection) if projection.expr.iter().all(row_level) => {
            let keys = key_columns(&projection.input, scope)?;
            let input = projection.input.schema();
            Some(kept(&projection.expr, &keys, |c| {
                input.index_of_column(c).ok()
            }))
        }
        LogicalPlan::Aggregate(aggregate) => {
            let plain = |e: &Expr| !matches!(e, Expr::GroupingSet(_)) && row_level(e);
            if !aggregate.group_expr.iter().all(plain) || !aggregate.aggr_expr.iter().all(row_level)
            {
                return None;
            }
            let keys = key_columns(&aggregate.input, scope)?;
            let input = aggregate.input.schema();
            // Output: the group columns first, then the aggregates.
            let grouped = kept(&aggregate.group_expr, &keys, |c| {
                input.index_of_column(c).ok()
            });
            (!grouped.is_empty()).then_some(grouped)
        }
        LogicalPlan::Join(join) if matches!(scope, Scope::Joined) => {
            if !join.filter.as_ref().is_none_or(row_level) {
                return None;
            }
            let left = key_columns(&join.left, scope)?;
            let right = key_columns(&join.right, scope)?;
            let (left_schema, right_schema) = (join.left.schema(), join.right.schema());
            let key_of = |e: &Expr, schema: &DFSchema, keys: &[usize]| match e {
                Expr::Column(c) => schema.index_of_column(c).is_ok_and(|i| keys.contains(&i)),
                _ => false,
            };
            let on_key = join
                .on
                .iter()
                .any(|(l, r)| key_of(l, left_schema, &left) && key_of(r, right_schema, &right));
            if !on_key {
                return None;
            }
            // Output: the left columns, then the right ones. A side whose rows may be missing
            // (NULL-extended) keeps no key column: its key is NULL there, not the row's key.
            let right = right.iter().map(|i| i + left_schema.fields().len());
            match join.join_type {
                JoinType::Inner => Some(left.iter().copied().chain(right).collect()),
                JoinType::Left => Some(left),
                JoinType::Right => Some(right.collect()),
                _ => None,
            }
        }
        LogicalPlan::Sort(sort) if matches!(scope, Scope::Joined) && sort.fetch.is_none() => {
            key_columns(&sort.input, scope)
        }
        _ => None,
    }
}

/// Positions in `exprs` that are (aliases of) input columns among `keys`.
fn kept(
    exprs: &[Expr],
    keys: &[usize],
    index: impl Fn(&datafusion::common::Column) -> Option<usize>,
) -> Vec<usize> {
    let mut out = vec![];
    for (i, e) in exprs.iter().enumerate() {
        if let Expr::Column(c) = e.clone().unalias_nested().data
            && index(&c).is_some_and(|j| keys.contains(&j))
        {
            out.push(i);
        }
    }
    out
}

/// Whether `e` reads only the row at hand (no subquery, no window).
fn row_level(e: &Expr) -> bool {
    let other_rows = e.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::InSubquery(_)
                | Expr::Exists(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::WindowFunction(_)
        ))
    });
    other_rows.is_ok_and(|found| !found)
}

/// `df` run as up to `parts` consecutive ranges of SK_ID_CURR, in key order (or `df` alone when
/// that would not give its result). It must be computed key by key from tables held in memory,
/// each in one partition sorted by SK_ID_CURR (ascending, NULLs last), joined on that key, and
/// end sorted by a key column: each range then meets all the rows of its keys, in the order one
/// run reads them, and the ranges' results in turn are the one run's rows in its order. NULL keys
/// go with the last range, where one run sorts them.
pub fn by_key_range(df: DataFrame, parts: usize) -> Result<Vec<DataFrame>> {
    let (state, plan) = df.into_parts();
    let optimized = state.optimize(&plan)?;
    let local =
        parts > 1 && key_columns(&optimized, Scope::Joined).is_some() && sorted_by_key(&optimized);
    match local.then(|| sorted_tables(&plan)).flatten() {
        Some(tables) => key_ranges(&state, &plan, &tables, parts),
        None => Ok(vec![DataFrame::new(state, plan)]),
    }
}

/// `plan` over `parts` consecutive key ranges of its `tables` (the rows in each are slices).
fn key_ranges(
    state: &datafusion::execution::SessionState,
    plan: &LogicalPlan,
    tables: &BTreeMap<String, SortedTable>,
    parts: usize,
) -> Result<Vec<DataFrame>> {
    // Bounds at even steps through the largest table's rows (NULL keys, last, bound nothing).
    let Some(largest) = tables.values().max_by_key(|t| t.rows()) else {
        return Ok(vec![DataFrame::new(state.clone(), plan.clone())]);
    };
    let mut bounds: Vec<i64> = (1..parts)
        .filter_map(|i| largest.key_at(largest.rows() * i / parts))
        .collect();
    bounds.dedup();
    let mut out = vec![];
    for range in 0..=bounds.len() {
        let lower = range.checked_sub(1).map(|i| bounds[i]);
        let upper = bounds.get(range).copied();
        let sliced = plan.clone().transform_up(|node| match &node {
            LogicalPlan::TableScan(scan) => {
                let Some(table) = tables.get(&scan.table_name.to_string()) else {
                    return Ok(Transformed::no(node));
                };
                let mut scan = scan.clone();
                scan.source = provider_as_source(Arc::new(table.slice(lower, upper)?));
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            _ => Ok(Transformed::no(node)),
        })?;
        out.push(DataFrame::new(state.clone(), sliced.data));
    }
    Ok(out)
}

/// Whether `plan`'s rows come out sorted first by one of its key columns, ascending, NULLs last.
fn sorted_by_key(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Projection(projection) => sorted_by_key(&projection.input),
        LogicalPlan::SubqueryAlias(alias) => sorted_by_key(&alias.input),
        LogicalPlan::Sort(sort) => {
            let Some(first) = sort.expr.first() else {
                return false;
            };
            let keys = key_columns(&sort.input, Scope::Joined).unwrap_or_default();
            let input = sort.input.schema();
            first.asc
                && !first.nulls_first
                && matches!(&first.expr, Expr::Column(c)
                    if input.index_of_column(c).is_ok_and(|i| keys.contains(&i)))
        }
        _ => false,
    }
}

/// A table held in memory in one partition, sorted by SK_ID_CURR (ascending, NULLs last).
struct SortedTable {
    schema: SchemaRef,
    order: Vec<Vec<SortExpr>>,
    /// Its batches, each with its key column.
    batches: Vec<(RecordBatch, Int64Array)>,
}

impl SortedTable {
    /// `table`, when it is held so.
    fn of(table: &MemTable) -> Option<SortedTable> {
        let order = table.sort_order.lock().clone();
        let on_key = order.iter().any(|o| {
            o.first().is_some_and(|first| {
                matches!(&first.expr, Expr::Column(c) if c.name == KEY)
                    && first.asc
                    && !first.nulls_first
            })
        });
        if !on_key || table.batches.len() != 1 {
            return None;
        }
        // Nothing writes to these tables; a lock held elsewhere leaves the query whole.
        let batches = table.batches[0].try_read().ok()?.clone();
        let batches = batches.into_iter().map(|batch| {
            let key = batch
                .column_by_name(KEY)?
                .as_primitive_opt::<Int64Type>()?
                .clone();
            Some((batch, key))
        });
        Some(SortedTable {
            schema: table.schema(),
            order,
            batches: batches.collect::<Option<_>>()?,
        })
    }

    fn rows(&self) -> usize {
        self.batches.iter().map(|(batch, _)| batch.num_rows()).sum()
    }

    /// The key of its row at `position` (in its order), unless NULL.
    fn key_at(&self, mut position: usize) -> Option<i64> {
        for (_, key) in &self.batches {
            if position < key.len() {
                return key.is_valid(position).then(|| key.value(position));
            }
            position -= key.len();
        }
        None
    }

    /// A table of the rows whose key is in [lower, upper) (no bound: open; NULL keys are above
    /// every bound), with the same schema and declared order: slices of its batches.
    fn slice(&self, lower: Option<i64>, upper: Option<i64>) -> Result<MemTable> {
        let mut rows = vec![];
        for (batch, key) in &self.batches {
            // Rows below `bound`: a prefix, since the batch is sorted with NULLs last.
            let below = |bound: i64| {
                let (mut lo, mut hi) = (0, key.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    match key.is_valid(mid) && key.value(mid) < bound {
                        true => lo = mid + 1,
                        false => hi = mid,
                    }
                }
                lo
            };
            let start = lower.map_or(0, below);
            let end = upper.map_or(key.len(), below);
            if end > start {
                rows.push(batch.slice(start, end - start));
            }
        }
        let table = MemTable::try_new(self.schema.clone(), vec![rows])?;
        Ok(table.with_sort_order(self.order.clone()))
    }
}

/// Every table `plan` scans, by name, when each is held in memory as a [`SortedTable`].
fn sorted_tables(plan: &LogicalPlan) -> Option<BTreeMap<String, SortedTable>> {
    let mut tables = BTreeMap::new();
    let mut all_sorted = true;
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let provider = source_as_provider(&scan.source).ok();
            let memory = provider.as_ref().and_then(|p| p.downcast_ref::<MemTable>());
            match memory.and_then(SortedTable::of) {
                Some(table) => {
                    tables.insert(scan.table_name.to_string(), table);
                }
                None => all_sorted = false,
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .ok()?;
    all_sorted.then_some(tables)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::common::Column;

    use super::*;
    use crate::feature_sql::tests::keyed;

    /// A query joining tables sorted by SK_ID_CURR on it and sorted by it runs as key ranges
    /// whose results in turn are the one run's (a NULL key, a key repeated across a batch
    /// boundary); anything whose rows could mix ranges, or come out in another order, runs
    /// whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn key_ranges_give_the_rows_of_one_run() {
        let ctx = crate::raw::feature_session(&crate::raw::session());
        let sorted = vec![Expr::Column(Column::new_unqualified(KEY)).sort(true, false)];
        let a = vec![
            keyed(vec![Some(1), Some(2), Some(4)], vec![10, 20, 40]),
            keyed(vec![Some(5), Some(7), Some(8), None], vec![50, 70, 80, 0]),
        ];
        let b = vec![
            keyed(vec![Some(2), Some(2), Some(5)], vec![1, 2, 3]),
            keyed(vec![Some(5), Some(8), Some(9), None], vec![4, 5, 6, 7]),
        ];
        for (name, batches) in [("a", a.clone()), ("b", b.clone())] {
            let schema = batches[0].schema();
            crate::raw::register_sorted(&ctx, name, schema, vec![batches], sorted.clone()).unwrap();
        }
        // The same rows without a declared order.
        crate::raw::register_batches(&ctx, "plain", a[0].schema(), vec![a.clone()]).unwrap();
        let rows = |batches: &[RecordBatch]| -> Vec<String> {
            let mut out = vec![];
            for batch in batches {
                for i in 0..batch.num_rows() {
                    let cells: Vec<String> = batch
                        .columns()
                        .iter()
                        .map(|c| match c.is_null(i) {
                            true => "NULL".to_string(),
                            false => array_value_to_string(c, i).unwrap(),
                        })
                        .collect();
                    out.push(cells.join("|"));
                }
            }
            out
        };
        let split = [
            "SELECT a.SK_ID_CURR, a.row, s.n, s.total FROM a \
             LEFT JOIN (SELECT SK_ID_CURR, COUNT(*) AS n, SUM(row) AS total FROM b GROUP BY SK_ID_CURR) s \
             ON s.SK_ID_CURR = a.SK_ID_CURR ORDER BY a.SK_ID_CURR",
            "SELECT b.SK_ID_CURR, b.row, a.row AS a_row FROM a RIGHT JOIN b \
             ON a.SK_ID_CURR = b.SK_ID_CURR WHERE b.row > 1 ORDER BY b.SK_ID_CURR, b.row",
            "SELECT a.SK_ID_CURR, b.row FROM a JOIN b ON a.SK_ID_CURR = b.SK_ID_CURR \
             ORDER BY b.SK_ID_CURR",
        ];
        for sql in split {
            let whole = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let ranges = super::by_key_range(ctx.sql(sql).await.unwrap(), 3).unwrap();
            assert_eq!(ranges.len(), 3, "{sql}");
            let mut batches = vec![];
            let mut per_range = vec![];
            for range in ranges {
                let part = range.collect().await.unwrap();
                per_range.push(rows(&part).len());
                batches.extend(part);
            }
            assert_eq!(rows(&batches), rows(&whole), "{sql}");
            assert!(
                per_range.iter().filter(|n| **n > 0).count() >= 2,
                "{sql}: {per_range:?}"
            );
        }
        let whole = [
            // Not sorted by a key, or not at all.
            "SELECT a.SK_ID_CURR, b.row FROM a JOIN b ON a.SK_ID_CURR = b.SK_ID_CURR ORDER BY b.row",
            "SELECT a.SK_ID_CURR, b.row FROM a JOIN b ON a.SK_ID_CURR = b.SK_ID_CURR",
            "SELECT a.SK_ID_CURR, b.row FROM a JOIN b ON a.SK_ID_CURR = b.SK_ID_CURR \
             ORDER BY a.SK_ID_CURR DESC",
            // The key of the side an outer join fills with NULLs.
            "SELECT a.SK_ID_CURR, b.row FROM a LEFT JOIN b ON a.SK_ID_CURR = b.SK_ID_CURR \
             ORDER BY b.SK_ID_CURR",
            // Joined on something else, across all rows, or limited.
            "SELECT a.SK_ID_CURR, b.row FROM a JOIN b ON a.row = b.row ORDER BY a.SK_ID_CURR",
            "SELECT a.SK_ID_CURR, a.row - (SELECT AVG(row) FROM b) AS d FROM a ORDER BY a.SK_ID_CURR",
            "SELECT SK_ID_CURR, SUM(row) OVER () AS t FROM a ORDER BY SK_ID_CURR",
            "SELECT SK_ID_CURR, row FROM a ORDER BY SK_ID_CURR LIMIT 3",
            // A table without a declared order.
            "SELECT p.SK_ID_CURR, b.row FROM plain p JOIN b ON p.SK_ID_CURR = b.SK_ID_CURR \
             ORDER BY p.SK_ID_CURR",
        ];
        for sql in whole {
            let parts = super::by_key_range(ctx.sql(sql).await.unwrap(), 3).unwrap();
            assert_eq!(parts.len(), 1, "{sql}");
        }
    }
}
