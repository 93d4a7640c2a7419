//! A raw table whose rows arrive with each request: the leaf that lets the feature SQL be planned
//! once (physical plan included) and run again for every request or chunk.
//!
//! At planning time a [`RequestTable`] is an ordinary table of the catalog schema. Its scan,
//! [`RequestScan`], holds no rows; [`bind`] walks a prepared plan, gives every scan the rows of
//! its table for one call, and resets the state an operator may keep between runs (a hash join's
//! build side), so concurrent calls each run their own copy of the same plan.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};

use creditrisk_base::catalog::RawTable;

/// The rows of one call, by raw table (a table not given has no rows).
pub type Rows = HashMap<RawTable, RecordBatch>;

/// A raw table fed per call (see the module documentation).
#[derive(Debug)]
pub struct RequestTable {
    table: RawTable,
    schema: SchemaRef,
}

impl RequestTable {
    pub fn new(table: RawTable) -> RequestTable {
        RequestTable {
            table,
            schema: table.arrow_schema(),
        }
    }
}

#[async_trait]
impl TableProvider for RequestTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let projection = projection.cloned();
        let schema = match &projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        Ok(Arc::new(RequestScan {
            table: self.table,
            projection,
            properties: Arc::new(PlanProperties::new(
                EquivalenceProperties::new(schema),
                Partitioning::UnknownPartitioning(1),
                EmissionType::Incremental,
                Boundedness::Bounded,
            )),
            rows: None,
        }))
    }
}

/// The scan of a [`RequestTable`]; `rows` is set by [`bind`] on the copy a call runs.
#[derive(Debug, Clone)]
pub struct RequestScan {
    table: RawTable,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
    rows: Option<RecordBatch>,
}

impl DisplayAs for RequestScan {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RequestScan: {}", self.table.name())
    }
}

impl ExecutionPlan for RequestScan {
    fn name(&self) -> &str {
        "RequestScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        let schema = self.properties.eq_properties.schema().clone();
        let batches = match (&self.rows, &self.projection) {
            (None, _) => vec![],
            (Some(rows), None) => vec![rows.clone()],
            (Some(rows), Some(p)) => vec![rows.project(p)?],
        };
        Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
    }
}

/// A runnable copy of `prepared` for one call: every [`RequestScan`] gets its table's rows, every
/// other operator a fresh state.
pub fn bind(
    prepared: &Arc<dyn ExecutionPlan>,
    rows: &Rows,
) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
    prepared
        .clone()
        .transform_up(|node| {
            if let Some(scan) = node.downcast_ref::<RequestScan>() {
                let mut bound = scan.clone();
                bound.rows = rows.get(&scan.table).cloned();
                return Ok(Transformed::yes(Arc::new(bound) as Arc<dyn ExecutionPlan>));
            }
            Ok(Transformed::yes(node.reset_state()?))
        })
        .map(|t| t.data)
}
