//! Feature-store rows for new applicants, computed with a model bundle's own feature SQL — planned
//! once (logical and physical plan) when the engine is made, then run for every `/predict`
//! request or `batch-predict` chunk. Calls share nothing mutable, so the HTTP server runs them
//! concurrently without a lock.
//!
//! Where the history features come from ([`History`]):
//! * [`History::Store`], the rule: the application features are computed with `application.sql`
//!   over the call's rows; every history column — a store column that `application.sql` does not
//!   produce (the store is `a.*` then the history columns) — is taken from the feature store
//!   (`layout.store_file`) for an applicant it holds, and otherwise gets the "no history" value
//!   (HAS_* = 0, counts 0, the rest NULL — what the store SQL gives an applicant without history
//!   rows, computed once at start-up with the store SQL over empty history tables). The store must
//!   have been built with the bundle's feature SQL (checked on its lineage). Rows keep the call's
//!   order. A call may instead carry its own history rows ([`FeatureEngine::features_of`]): then
//!   every statement runs over them, as the store build does over the raw files.
//! * [`History::Dir`]: the seven history CSVs of a folder (Kaggle names); their per-table
//!   features are computed once, then joined to each call's applications by the store SQL
//!   (rows in SK_ID_CURR order).
//! * [`History::Features`]: the input already holds feature-store rows (no engine).

mod overlay;
mod request_scan;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch, new_null_array};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::feature_sql;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_base::sql::{APPLICATION_SQL, FeatureSql, HISTORY_SQL, STORE_SQL, SqlSet};
use creditrisk_model::{ID_COLUMN, ModelBundle};
use overlay::StoreOverlay;
use request_scan::RequestTable;
pub use request_scan::Rows;

/// Where history features come from (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum History {
    Store,
    Dir(PathBuf),
    Features,
}

/// A prepared statement: its physical plan and the file it came from (for error messages).
struct Prepared {
    plan: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    file: &'static str,
}

enum Source {
    Store {
        application: Prepared,
        overlay: StoreOverlay,
        /// The store SQL over history carried by the call.
        carried: Prepared,
    },
    Dir {
        store: Prepared,
    },
}

/// The bundle's feature SQL, prepared (see the module documentation).
pub struct FeatureEngine {
    task: Arc<TaskContext>,
    source: Source,
}

impl FeatureEngine {
    pub async fn new(bundle: &ModelBundle, history: &History, layout: &Layout) -> Result<Self> {
        let sql = &bundle.feature_sql;
        let ctx = call_session();
        ctx.register_table(
            RawTable::ApplicationTest.name(),
            Arc::new(RequestTable::new(RawTable::ApplicationTest)),
        )?;
        crate::raw::register_batches(
            &ctx,
            RawTable::ApplicationTrain.name(),
            RawTable::ApplicationTrain.arrow_schema(),
            vec![],
        )?;
        crate::raw::register_application_view(&ctx).await?;
        let source = match history {
            History::Dir(dir) => {
                materialize_history(sql, dir, &ctx).await?;
                let application = feature_sql::plan(sql, &ctx, APPLICATION_SQL)
                    .await?
                    .into_view();
                ctx.register_table(APPLICATION_SQL.result, application)?;
                Source::Dir {
                    store: prepare(&ctx, sql, STORE_SQL).await?,
                }
            }
            History::Store | History::Features => {
                for table in RawTable::HISTORY {
                    ctx.register_table(table.name(), Arc::new(RequestTable::new(table)))?;
                }
                let carried = {
                    feature_sql::register_feature_views(sql, &ctx).await?;
                    prepare(&ctx, sql, STORE_SQL).await?
                };
                let application = prepare(&ctx, sql, APPLICATION_SQL).await?;
                let task = ctx.task_ctx();
                let none = run(&task, &carried, &probe()?).await?;
                let overlay = StoreOverlay::load(layout, sql, &application.schema, &none)?;
                Source::Store {
                    application,
                    overlay,
                    carried,
                }
            }
        };
        Ok(FeatureEngine {
            task: ctx.task_ctx(),
            source,
        })
    }

    /// Feature-store rows of checked application rows (serving-contract schema), history from
    /// the engine's source.
    pub async fn features(&self, applications: RecordBatch) -> Result<RecordBatch> {
        let rows = Rows::from([(RawTable::ApplicationTest, applications)]);
        match &self.source {
            Source::Store {
                application,
                overlay,
                ..
            } => overlay.assemble(&run(&self.task, application, &rows).await?),
            Source::Dir { store } => run(&self.task, store, &rows).await,
        }
    }

    /// Feature-store rows of applications that carry their own history rows (a table absent from
    /// `rows` has none), in SK_ID_CURR order.
    pub async fn features_of(&self, rows: &Rows) -> Result<RecordBatch> {
        match &self.source {
            Source::Store { carried, .. } => run(&self.task, carried, rows).await,
            Source::Dir { .. } => Err(Error::internal(
                "history rows given to an engine that reads history files",
            )),
        }
    }
}

/// The session calls run on: one partition (a call is one request or chunk, and one partition
/// keeps rows in order), and no dynamic filters (a plan that uses them cannot be run twice).
fn call_session() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
        .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false);
    SessionContext::new_with_config(config)
}

async fn prepare(ctx: &SessionContext, sql: &SqlSet, file: FeatureSql) -> Result<Prepared> {
    let df = feature_sql::plan(sql, ctx, file).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let plan = df
        .create_physical_plan()
        .await
        .map_err(|e| Error::engine(format!("feature SQL {}", file.file), e))?;
    Ok(Prepared {
        plan,
        schema,
        file: file.file,
    })
}

async fn run(task: &Arc<TaskContext>, prepared: &Prepared, rows: &Rows) -> Result<RecordBatch> {
    let failed = |e| Error::engine(format!("feature SQL {}", prepared.file), e);
    let plan = request_scan::bind(&prepared.plan, rows).map_err(failed)?;
    let batches = datafusion::physical_plan::collect(plan, task.clone())
        .await
        .map_err(failed)?;
    Ok(concat_batches(&prepared.schema, &batches)?)
}

/// One application whose columns are all NULL but its id: the store SQL gives it the "no
/// history" values.
fn probe() -> Result<Rows> {
    let schema = RawTable::ApplicationTest.arrow_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            ID_COLUMN => Arc::new(Int64Array::from(vec![1])) as _,
            _ => new_null_array(f.data_type(), 1),
        })
        .collect();
    let batch = RecordBatch::try_new(schema, columns)?;
    Ok(Rows::from([(RawTable::ApplicationTest, batch)]))
}

/// Compute every per-table feature set of the history CSVs in `dir` (all cores) and register the
/// results in `ctx`.
async fn materialize_history(
    sql: &SqlSet,
    dir: &std::path::Path,
    ctx: &SessionContext,
) -> Result<()> {
    let files = crate::raw::session();
    for table in RawTable::HISTORY {
        let path = dir.join(table.file_name());
        let names = crate::raw::read_header(&path)?;
        let header = crate::raw::check_header(table, &names);
        if let crate::raw::CsvLoad::Unparseable { message, .. } =
            crate::raw::load_csv(&files, table, &path, &names, &header).await?
        {
            return Err(Error::input(message));
        }
    }
    let files = crate::raw::feature_session(&files);
    for file in HISTORY_SQL {
        let df = feature_sql::plan(sql, &files, file).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let parts = df
            .collect_partitioned()
            .await
            .map_err(|e| Error::engine(format!("feature SQL {}", file.file), e))?;
        crate::raw::register_batches(ctx, file.result, schema, parts)?;
    }
    Ok(())
}
