//! The feature SQL (`sql/*.sql`): loading the files and running them on a session.
//!
//! Each per-table file is one SELECT over the raw table(s) named like the catalog and yields one row
//! per applicant; its result is registered as `<file stem>_features`. `feature_store.sql` joins
//! them. The same statements run over full raw tables (batch) or over a request's few rows
//! registered under the same names (online scoring): see [`register_feature_views`].

use std::path::Path;

use datafusion::dataframe::DataFrame;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// A feature SQL file and the table its result is registered as.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSql {
    pub file: &'static str,
    pub result: &'static str,
    builtin: &'static str,
}

/// Per-table feature files, in the order they can run.
pub const TABLE_SQL: [FeatureSql; 7] = [
    FeatureSql {
        file: "application.sql",
        result: "application_features",
        builtin: include_str!("../../sql/application.sql"),
    },
    FeatureSql {
        file: "bureau.sql",
        result: "bureau_features",
        builtin: include_str!("../../sql/bureau.sql"),
    },
    FeatureSql {
        file: "bureau_balance.sql",
        result: "bureau_balance_features",
        builtin: include_str!("../../sql/bureau_balance.sql"),
    },
    FeatureSql {
        file: "previous_application.sql",
        result: "previous_application_features",
        builtin: include_str!("../../sql/previous_application.sql"),
    },
    FeatureSql {
        file: "installments_payments.sql",
        result: "installments_payments_features",
        builtin: include_str!("../../sql/installments_payments.sql"),
    },
    FeatureSql {
        file: "credit_card_balance.sql",
        result: "credit_card_balance_features",
        builtin: include_str!("../../sql/credit_card_balance.sql"),
    },
    FeatureSql {
        file: "pos_cash_balance.sql",
        result: "pos_cash_balance_features",
        builtin: include_str!("../../sql/pos_cash_balance.sql"),
    },
];

/// The join of all per-table results into the store.
pub const STORE_SQL: FeatureSql = FeatureSql {
    file: "feature_store.sql",
    result: "feature_store",
    builtin: include_str!("../../sql/feature_store.sql"),
};

impl FeatureSql {
    /// The statement from `sql_dir` when the folder has the file, else the copy compiled into the
    /// binary (so an installed binary or a test in a temp folder still has its definitions).
    pub fn text(&self, sql_dir: &Path) -> Result<String> {
        let path = sql_dir.join(self.file);
        if !sql_dir.is_dir() {
            return Ok(self.builtin.to_string());
        }
        std::fs::read_to_string(&path).map_err(|e| {
            Error::Input(format!(
                "{}: {e}; paths.sql_dir must hold every feature SQL file",
                path.display()
            ))
        })
    }

    /// Plan the statement on `ctx`, naming the file in any engine error.
    pub async fn plan(&self, ctx: &SessionContext, sql_dir: &Path) -> Result<DataFrame> {
        let text = self.text(sql_dir)?;
        ctx.sql(&text)
            .await
            .map_err(|e| Error::Engine(format!("{}: {e}", sql_dir.join(self.file).display())))
    }

    /// Run the statement and keep its (small, per-applicant) result in memory under `result`.
    pub async fn materialize(&self, ctx: &SessionContext, sql_dir: &Path) -> Result<u64> {
        let df = self.plan(ctx, sql_dir).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let parts = df
            .collect_partitioned()
            .await
            .map_err(|e| Error::Engine(format!("{}: {e}", sql_dir.join(self.file).display())))?;
        crate::raw::register_batches(ctx, self.result, schema, parts)
    }
}

/// Register every per-table result as a lazy view and return the store query: the online path,
/// for a request's rows registered under the raw table names (`application` included).
pub async fn register_feature_views(ctx: &SessionContext, sql_dir: &Path) -> Result<DataFrame> {
    for sql in TABLE_SQL {
        let view = sql.plan(ctx, sql_dir).await?.into_view();
        ctx.deregister_table(sql.result)?;
        ctx.register_table(sql.result, view)?;
    }
    STORE_SQL.plan(ctx, sql_dir).await
}
