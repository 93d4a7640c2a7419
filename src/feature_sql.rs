//! The feature SQL (`sql/*.sql`): loading the files and running them on a session.
//!
//! The statements are versioned as one [`SqlSet`]: the feature store records its sha256 in the
//! lineage, and every model bundle carries the exact texts it was trained on, so scoring computes
//! the features the model saw even after `sql/` changes. Definitions: `docs/features.md`.
//!
//! Each per-table file is one SELECT over the raw table(s) named like the catalog and yields one row
//! per applicant; its result is registered as `<file stem>_features`. `feature_store.sql` joins
//! them. The same statements run over full raw tables (batch) or over a request's few rows
//! registered under the same names (online scoring): see [`register_feature_views`].

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::common::Column;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{Expr, SessionContext};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::RawTable;
use crate::error::{Error, Result};

/// The applicant key every per-table result carries and the store joins on.
const KEY: &str = "SK_ID_CURR";

/// A feature SQL file and the table its result is registered as.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSql {
    pub file: &'static str,
    pub result: &'static str,
    builtin: &'static str,
}

impl FeatureSql {
    /// Every file: the per-table statements, then the store join.
    pub fn all() -> impl Iterator<Item = FeatureSql> {
        TABLE_SQL.into_iter().chain([STORE_SQL])
    }
}

/// Per-table feature files, in the order they can run.
pub const TABLE_SQL: [FeatureSql; 7] = [
    FeatureSql {
        file: "application.sql",
        result: "application_features",
        builtin: include_str!("../sql/application.sql"),
    },
    FeatureSql {
        file: "bureau.sql",
        result: "bureau_features",
        builtin: include_str!("../sql/bureau.sql"),
    },
    FeatureSql {
        file: "bureau_balance.sql",
        result: "bureau_balance_features",
        builtin: include_str!("../sql/bureau_balance.sql"),
    },
    FeatureSql {
        file: "previous_application.sql",
        result: "previous_application_features",
        builtin: include_str!("../sql/previous_application.sql"),
    },
    FeatureSql {
        file: "installments_payments.sql",
        result: "installments_payments_features",
        builtin: include_str!("../sql/installments_payments.sql"),
    },
    FeatureSql {
        file: "credit_card_balance.sql",
        result: "credit_card_balance_features",
        builtin: include_str!("../sql/credit_card_balance.sql"),
    },
    FeatureSql {
        file: "pos_cash_balance.sql",
        result: "pos_cash_balance_features",
        builtin: include_str!("../sql/pos_cash_balance.sql"),
    },
];

/// The join of all per-table results into the store.
pub const STORE_SQL: FeatureSql = FeatureSql {
    file: "feature_store.sql",
    result: "feature_store",
    builtin: include_str!("../sql/feature_store.sql"),
};

/// The texts of every feature SQL file (file name → statement), versioned as one unit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SqlSet {
    pub files: BTreeMap<String, String>,
}

impl SqlSet {
    /// The statements compiled into the binary.
    pub fn builtin() -> SqlSet {
        SqlSet {
            files: FeatureSql::all()
                .map(|f| (f.file.to_string(), f.builtin.to_string()))
                .collect(),
        }
    }

    /// The statements of `sql_dir` when the folder exists (it must then hold every file), else
    /// the copies compiled into the binary (so an installed binary or a test in a temp folder
    /// still has its definitions).
    pub fn load(sql_dir: &Path) -> Result<SqlSet> {
        if !sql_dir.is_dir() {
            return Ok(SqlSet::builtin());
        }
        let mut files = BTreeMap::new();
        for sql in FeatureSql::all() {
            let path = sql_dir.join(sql.file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Input(format!(
                    "{}: {e}; paths.sql_dir must hold every feature SQL file",
                    path.display()
                ))
            })?;
            files.insert(sql.file.to_string(), text);
        }
        Ok(SqlSet { files })
    }

    /// sha256 of each file's text.
    pub fn file_sha256s(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(name, text)| (name.clone(), hex::encode(Sha256::digest(text.as_bytes()))))
            .collect()
    }

    /// One digest of the whole set (`name  sha256` lines in name order, like `sha256sum`).
    pub fn sha256(&self) -> String {
        let mut lines = String::new();
        for (name, sha) in self.file_sha256s() {
            lines.push_str(&format!("{sha}  {name}\n"));
        }
        hex::encode(Sha256::digest(lines.as_bytes()))
    }

    fn text(&self, sql: FeatureSql) -> Result<&str> {
        self.files.get(sql.file).map(String::as_str).ok_or_else(|| {
            Error::Input(format!("feature SQL {} is missing from the set", sql.file))
        })
    }

    /// Plan one statement on `ctx`, naming the file in any engine error.
    pub async fn plan(&self, ctx: &SessionContext, sql: FeatureSql) -> Result<DataFrame> {
        ctx.sql(self.text(sql)?)
            .await
            .map_err(|e| Error::engine(format!("feature SQL {}", sql.file), e))
    }

    /// Run one statement and keep its (small, per-applicant) result in memory under `result`,
    /// sorted by SK_ID_CURR and registered with that order: the store query's joins then
    /// stream the applicants in order, so its final ORDER BY needs no sort (nor a second copy of
    /// the joined store in memory). A result without SK_ID_CURR is kept as it comes.
    ///
    /// With `spill` (a folder), the result streams unsorted into an Arrow IPC file there
    /// instead, and [`SqlSet::reload`] sorts and registers it: a build then holds no finished
    /// table's features in memory (nor sorts them) while it parses and reduces the others (the
    /// application features alone are ~0.3 GB at full scale).
    pub async fn materialize(
        &self,
        ctx: &SessionContext,
        sql: FeatureSql,
        spill: Option<&Path>,
    ) -> Result<u64> {
        let engine_error = |e| Error::engine(format!("feature SQL {}", sql.file), e);
        let df = self.plan(ctx, sql).await?;
        if let Some(dir) = spill.filter(|_| crate::storage::file_tables(ctx).is_none()) {
            let file = dir.join(format!("{}.arrow", sql.result));
            let schema = df.schema().as_arrow().clone();
            let mut writer = crate::io::ArrowFile::create(&file, &schema)?;
            let mut stream = df.execute_stream().await.map_err(engine_error)?;
            while let Some(batch) = stream.next().await {
                writer.write(&batch.map_err(engine_error)?)?;
            }
            return writer.finish();
        }
        let key = Expr::Column(Column::new_unqualified(KEY)).sort(true, false);
        let sorted = df.schema().has_column_with_unqualified_name(KEY);
        let df = if sorted {
            df.sort(vec![key.clone()]).map_err(engine_error)?
        } else {
            df
        };
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let parts = df.collect_partitioned().await.map_err(engine_error)?;
        let order = if sorted { vec![key] } else { vec![] };
        crate::raw::register_sorted(ctx, sql.result, schema, parts, order)
    }

    /// Register a result that [`SqlSet::materialize`] left in `spill`, sorted by SK_ID_CURR (NULLs
    /// last, ties in the file's order) and declared so, as `materialize` registers it in memory:
    /// the store query then plans and runs as it always does.
    pub fn reload(ctx: &SessionContext, sql: FeatureSql, spill: &Path) -> Result<u64> {
        use datafusion::arrow::array::{ArrayRef, UInt32Array};
        use datafusion::arrow::compute::{
            SortColumn, SortOptions, concat, interleave_record_batch, lexsort_to_indices,
        };
        let file = spill.join(format!("{}.arrow", sql.result));
        let (schema, batches) = crate::io::read_arrow_file(&file)?;
        let Ok(k) = schema.index_of(KEY) else {
            return crate::raw::register_sorted(ctx, sql.result, schema, vec![batches], vec![]);
        };
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
        let positions: ArrayRef =
            std::sync::Arc::new(UInt32Array::from_iter_values(0..rows as u32));
        let key = if keys.is_empty() {
            datafusion::arrow::array::new_empty_array(schema.field(k).data_type())
        } else {
            concat(&keys)?
        };
        let order = lexsort_to_indices(&[sort(key), sort(positions)], None)?;
        // Row i of the file is (batch, row) here.
        let mut at = Vec::with_capacity(rows);
        for (b, batch) in batches.iter().enumerate() {
            at.extend((0..batch.num_rows()).map(|r| (b, r)));
        }
        let sources: Vec<&RecordBatch> = batches.iter().collect();
        let mut sorted = vec![];
        for chunk in order.values().chunks(crate::io::ARROW_BATCH_ROWS) {
            let picks: Vec<(usize, usize)> = chunk.iter().map(|i| at[*i as usize]).collect();
            sorted.push(interleave_record_batch(&sources, &picks)?);
        }
        drop(batches);
        let order = vec![Expr::Column(Column::new_unqualified(KEY)).sort(true, false)];
        crate::raw::register_sorted(ctx, sql.result, schema, vec![sorted], order)
    }

    /// Register every per-table result as a lazy view and return the store query: the online
    /// path, for rows registered under the raw table names (`application` included).
    pub async fn register_feature_views(&self, ctx: &SessionContext) -> Result<DataFrame> {
        for sql in TABLE_SQL {
            let view = self.plan(ctx, sql).await?.into_view();
            ctx.deregister_table(sql.result)?;
            ctx.register_table(sql.result, view)?;
        }
        self.plan(ctx, STORE_SQL).await
    }

    /// Feature-store rows computed by this set from raw CSVs (`<folder>/<Kaggle name>.csv`, all
    /// eight tables): the path that scores new applicants with the SQL a model was trained on.
    pub async fn features_of_raw_files(
        &self,
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
                return Err(Error::Input(message));
            }
        }
        crate::raw::register_application_view(&ctx).await?;
        let store = self
            .register_feature_views(&crate::raw::feature_session(&ctx))
            .await?;
        let schema = std::sync::Arc::new(store.schema().as_arrow().clone());
        let batches = store.collect().await?;
        Ok(concat_batches(&schema, &batches)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    /// A spilled result comes back sorted as the in-memory path sorts it: SK_ID_CURR ascending,
    /// NULLs last, equal keys in the file's order, across the file's batches.
    #[tokio::test]
    async fn reload_sorts_a_spilled_result_by_applicant() {
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new(KEY, DataType::Int64, true),
            Field::new("row", DataType::Int64, false),
        ]));
        let batch = |keys: Vec<Option<i64>>, rows: Vec<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(keys)),
                    Arc::new(Int64Array::from(rows)),
                ],
            )
            .unwrap()
        };
        let sql = TABLE_SQL[1];
        let mut file = crate::io::ArrowFile::create(
            &dir.path().join(format!("{}.arrow", sql.result)),
            &schema,
        )
        .unwrap();
        file.write(&batch(vec![Some(3), None, Some(1)], vec![0, 1, 2]))
            .unwrap();
        file.write(&batch(vec![Some(3), Some(2)], vec![3, 4]))
            .unwrap();
        assert_eq!(file.finish().unwrap(), 5);

        let ctx = crate::raw::session();
        assert_eq!(SqlSet::reload(&ctx, sql, dir.path()).unwrap(), 5);
        let out = ctx
            .table(sql.result)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let rows: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(rows, [2, 4, 0, 3, 1]);
    }
}
