//! History features from the feature store, by SK_ID_CURR, laid over a call's application
//! features (the [`History::Store`](super::History::Store) rule).

use std::collections::HashMap;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{cast, interleave};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};

use creditrisk_base::catalog::KEY_COLUMNS;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_base::sql::SqlSet;
use creditrisk_model::ID_COLUMN;

/// Where one store column of a call's answer comes from.
enum Column {
    /// Produced by `application.sql` (this index of its output).
    Own(usize),
    /// A history column: the store's values (cast to the SQL's type) and the one-row "no history"
    /// value.
    History { stored: ArrayRef, none: ArrayRef },
}

pub struct StoreOverlay {
    schema: SchemaRef,
    /// Store row of each SK_ID_CURR.
    rows: HashMap<i64, usize>,
    columns: Vec<Column>,
}

impl StoreOverlay {
    /// `application`: the output schema of `application.sql`; `none`: the store SQL's one row for
    /// an applicant without history.
    pub fn load(
        layout: &Layout,
        sql: &SqlSet,
        application: &SchemaRef,
        none: &RecordBatch,
    ) -> Result<StoreOverlay> {
        if let Ok(text) = std::fs::read_to_string(layout.lineage_file())
            && let Ok(lineage) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(sha) = lineage["feature_sql_sha256"].as_str()
            && sha != sql.sha256()
        {
            return Err(Error::input(format!(
                "the feature store {} was built with other feature SQL ({sha}) than the \
                 model's ({}); rebuild it or pass --history DIR",
                layout.store_file.display(),
                sql.sha256()
            )));
        }
        let store = creditrisk_base::parquet_io::read_parquet(
            &layout.store_file,
            "run `creditrisk build-feature-store`, or pass --history DIR or --features",
        )?;
        let ids = store
            .column_by_name(ID_COLUMN)
            .ok_or_else(|| Error::input(format!("the feature store has no {ID_COLUMN}")))?;
        let rows = cast(ids, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .enumerate()
            .filter_map(|(i, id)| id.map(|id| (id, i)))
            .collect();
        let keys: Vec<&str> = KEY_COLUMNS.iter().map(|(n, _)| *n).collect();
        let schema = none.schema();
        let columns = schema
            .fields()
            .iter()
            .zip(none.columns())
            .map(|(field, none)| {
                let name = field.name();
                if let Ok(i) = application.index_of(name) {
                    return Ok(Column::Own(i));
                }
                let stored = store
                    .column_by_name(name)
                    .filter(|_| !keys.contains(&name.as_str()))
                    .ok_or_else(|| {
                        Error::input(format!(
                            "the feature store {} has no column {name}; rebuild it",
                            layout.store_file.display()
                        ))
                    })?;
                Ok(Column::History {
                    stored: cast(stored, field.data_type())?,
                    none: none.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(StoreOverlay {
            schema,
            rows,
            columns,
        })
    }

    /// Store rows (call order) from the application features of a call.
    pub fn assemble(&self, application: &RecordBatch) -> Result<RecordBatch> {
        let ids = application
            .column_by_name(ID_COLUMN)
            .ok_or_else(|| Error::internal(format!("application features without {ID_COLUMN}")))?;
        let picks: Vec<(usize, usize)> = cast(ids, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .map(|id| match id.and_then(|id| self.rows.get(&id)) {
                Some(row) => (1, *row),
                None => (0, 0),
            })
            .collect();
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                Column::Own(i) => Ok(application.column(*i).clone()),
                Column::History { stored, none } => {
                    Ok(interleave(&[none.as_ref(), stored.as_ref()], &picks)?)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
