//! One per-table statement run as two halves of the applicants, on two cores, with the bits of
//! one run.
//!
//! A statement runs in one partition so that every sum adds the same numbers in the same order
//! (file order) on every run. That leaves a core idle for the longest statements. A statement is
//! split only when its optimized plan shows that each output row comes from one applicant's rows
//! alone: one table held in memory, scanned once, under filters, projections and aggregations
//! whose GROUP BY keeps that table's SK_ID_CURR. Each half then reads the table restricted to half of the
//! applicants (all of each one's rows, still in file order), so each group meets its rows, and
//! each applicant its loans, in the order one run would: the union of the halves is the one
//! run's result, bit for bit. Anything else (joins, unions, windows, limits, subqueries, views,
//! files) runs whole.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::dataframe::DataFrame;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, ident, lit};

use super::KEY;

/// The two halves of `df` (odd and even SK_ID_CURR; NULL keys with the even), or `df` alone when
/// its result is not computed applicant by applicant.
pub fn by_applicant(df: DataFrame) -> Result<Vec<DataFrame>> {
    let (state, plan) = df.into_parts();
    let optimized = state.optimize(&plan)?;
    let Some(table) = single_table(&optimized) else {
        return Ok(vec![DataFrame::new(state, plan)]);
    };
    let key_out = optimized.schema().index_of_column_by_name(None, KEY);
    let applicant_local = applicant_columns(&optimized, &table)
        .is_some_and(|keys| key_out.is_some_and(|k| keys.contains(&k)));
    if !applicant_local {
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

/// Output columns (by position) of `plan` that carry `table`'s SK_ID_CURR unchanged, when every
/// output row is computed from the rows of one such key; None when `plan` holds anything else.
fn applicant_columns(plan: &LogicalPlan, table: &str) -> Option<Vec<usize>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let whole = scan.table_name.table() == table && scan.fetch.is_none();
            if !whole || !scan.filters.iter().all(row_level) {
                return None;
            }
            let key = scan.projected_schema.index_of_column_by_name(None, KEY)?;
            Some(vec![key])
        }
        LogicalPlan::Filter(filter) if row_level(&filter.predicate) => {
            applicant_columns(&filter.input, table)
        }
        LogicalPlan::SubqueryAlias(alias) => applicant_columns(&alias.input, table),
        LogicalPlan::Projection(projection) if projection.expr.iter().all(row_level) => {
            let keys = applicant_columns(&projection.input, table)?;
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
            let keys = applicant_columns(&aggregate.input, table)?;
            let input = aggregate.input.schema();
            // Output: the group columns first, then the aggregates.
            let grouped = kept(&aggregate.group_expr, &keys, |c| {
                input.index_of_column(c).ok()
            });
            (!grouped.is_empty()).then_some(grouped)
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
