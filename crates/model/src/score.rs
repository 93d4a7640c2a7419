//! The one scoring core: a bundle and feature-store rows in, a columnar result out (id, PD,
//! decision, risk band, top reason codes). `evaluate`, batch scoring and the HTTP API all call
//! [`score`], so a decision is made one way everywhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::bundle::{ModelBundle, TrainedLearner};
use super::explain::{self, Decision, Outcome, Reason};
use super::{ID_COLUMN, frame, gbm};
use crate::metrics::bands;
use crate::preprocess::Implausible;
use creditrisk_base::error::{Error, Result};

/// How to score.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScoreOptions {
    /// Compute reason codes (the bundle's `reason_codes` per row). Costs a TreeSHAP pass, so
    /// metric-only callers turn it off.
    pub explain: bool,
    /// Decision threshold instead of the bundle's (a lender's what-if); `None` uses the bundle's.
    pub threshold: Option<f64>,
}

/// Scored rows, column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub ids: Vec<i64>,
    pub pd: Vec<f64>,
    pub decisions: Vec<Outcome>,
    pub bands: Vec<String>,
    /// Per row, the top reasons (empty when not explained).
    pub reasons: Vec<Vec<Reason>>,
    /// The threshold the decisions used.
    pub threshold: f64,
}

/// Score feature-store rows with `bundle` on a blocking thread, so an async caller (a server,
/// a pipeline) keeps its reactor free while trees are walked.
pub async fn score(
    bundle: Arc<ModelBundle>,
    features: RecordBatch,
    options: ScoreOptions,
) -> Result<Scored> {
    tokio::task::spawn_blocking(move || bundle.score_batch(&features, options))
        .await
        .map_err(|e| Error::internal_from("scoring task failed", e))?
}

/// Rows scored between two looks at the cancel flag.
const CANCEL_CHUNK_ROWS: usize = 256;

/// As [`score`] (same results: rows are scored independently), in chunks of rows, stopping
/// between chunks once `cancel` is set (the caller has gone: its request was abandoned or timed
/// out), so abandoned work does not keep a core busy. For requests, not bulk scoring.
pub async fn score_until(
    bundle: Arc<ModelBundle>,
    features: RecordBatch,
    options: ScoreOptions,
    cancel: Cancel,
) -> Result<Scored> {
    tokio::task::spawn_blocking(move || {
        let rows = features.num_rows();
        let mut scored: Option<Scored> = None;
        for start in (0..rows.max(1)).step_by(CANCEL_CHUNK_ROWS) {
            if cancel.is_cancelled() {
                return Err(Error::internal("scoring stopped: its caller is gone"));
            }
            let len = CANCEL_CHUNK_ROWS.min(rows - start);
            let part = bundle.score_batch(&features.slice(start, len), options)?;
            match &mut scored {
                None => scored = Some(part),
                Some(s) => s.append(part),
            }
        }
        scored.ok_or_else(|| Error::internal("no rows scored"))
    })
    .await
    .map_err(|e| Error::internal_from("scoring task failed", e))?
}

/// A flag the scorer checks between chunks of rows.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels when dropped: held by a request handler, it stops the scoring when
    /// the handler's future is dropped (client gone, timeout).
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// Cancels its [`Cancel`] when dropped.
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl ModelBundle {
    /// Numeric features of `batch` far outside their training range, with their row's id (see
    /// [`Preprocessor::implausible`](crate::preprocess::Preprocessor::implausible)).
    pub fn implausible(&self, batch: &RecordBatch, factor: f64) -> Result<Vec<(i64, Implausible)>> {
        if factor <= 0.0 {
            return Ok(Vec::new());
        }
        let ids = frame::id_column(batch, ID_COLUMN, "scoring input")?;
        let found = self.preprocessor.implausible(batch, factor)?;
        Ok(found.into_iter().map(|i| (ids[i.row], i)).collect())
    }

    /// The synchronous body of [`score`]: PD, decision at the threshold, band and reasons for
    /// every row of `batch` (feature-store columns by name; extra columns are ignored).
    pub fn score_batch(&self, batch: &RecordBatch, options: ScoreOptions) -> Result<Scored> {
        let ids = frame::id_column(batch, ID_COLUMN, "scoring input")?;
        let (frame, x, scores) = self.raw_scores(batch, Some(&ids))?;
        let threshold = options.threshold.unwrap_or(self.card.decision_threshold);
        let pd: Vec<f64> = scores.iter().map(|s| self.calibrator.pd(*s)).collect();
        let decisions = pd
            .iter()
            .map(|p| Outcome::at_threshold(*p, threshold))
            .collect();
        let bands = pd
            .iter()
            .map(|p| bands::band_name(bands::pd_band(*p, &self.card.pd_bands)))
            .collect();
        let reasons = if options.explain {
            self.reasons(&frame, &x)
        } else {
            vec![Vec::new(); frame.rows]
        };
        Ok(Scored {
            ids,
            pd,
            decisions,
            bands,
            reasons,
            threshold,
        })
    }

    /// Top reason codes of every row from per-feature contributions to the log-odds.
    fn reasons(&self, frame: &frame::FeatureFrame, x: &[f64]) -> Vec<Vec<Reason>> {
        let (rows, cols) = (frame.rows, self.preprocessor.design.len());
        let feature_of: Vec<usize> = self.preprocessor.design.iter().map(|d| d.feature).collect();
        let names: Vec<String> = self
            .preprocessor
            .features
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let contributions: Vec<f64> = match &self.learner {
            // rows × (cols + 1), bias last.
            TrainedLearner::Trees(b) => gbm::contributions(b, x, rows, cols),
            TrainedLearner::Logistic(m) => {
                let mut out = vec![0.0; rows * (cols + 1)];
                for (c, beta) in m.coefficients.iter().enumerate() {
                    for r in 0..rows {
                        out[r * (cols + 1) + c] = beta * x[c * rows + r];
                    }
                }
                out
            }
        };
        (0..rows)
            .map(|r| {
                let row = &contributions[r * (cols + 1)..(r + 1) * (cols + 1)];
                let per_feature = explain::per_feature(row, &feature_of, names.len());
                explain::reason_codes(
                    &per_feature,
                    &names,
                    frame,
                    r,
                    self.card.reason_codes,
                    &self.reason_statements,
                )
            })
            .collect()
    }
}

impl Scored {
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// The rows of `next` after these (same threshold).
    fn append(&mut self, next: Scored) {
        self.ids.extend(next.ids);
        self.pd.extend(next.pd);
        self.decisions.extend(next.decisions);
        self.bands.extend(next.bands);
        self.reasons.extend(next.reasons);
    }

    /// Row by row, for JSON answers.
    pub fn decisions(&self) -> Vec<Decision> {
        (0..self.rows())
            .map(|r| Decision {
                sk_id_curr: self.ids[r],
                pd: self.pd[r],
                decision: self.decisions[r],
                band: self.bands[r].clone(),
                reasons: self.reasons[r].clone(),
            })
            .collect()
    }

    /// SK_ID_CURR, PD, decision, band, then `reason_<k>`, `reason_<k>_value` (JSON text),
    /// `reason_<k>_contribution` and `reason_<k>_statement` (the adverse-action sentence) for
    /// k = 1..=`reason_columns` (NULL where a row has fewer).
    pub fn to_record_batch(&self, reason_columns: usize) -> Result<RecordBatch> {
        let mut fields = vec![
            Field::new(ID_COLUMN, DataType::Int64, false),
            Field::new("PD", DataType::Float64, false),
            Field::new("decision", DataType::Utf8, false),
            Field::new("band", DataType::Utf8, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.ids.clone())),
            Arc::new(Float64Array::from(self.pd.clone())),
            Arc::new(StringArray::from_iter_values(
                self.decisions.iter().map(|d| d.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(self.bands.iter())),
        ];
        for k in 0..reason_columns {
            let n = k + 1;
            fields.push(Field::new(format!("reason_{n}"), DataType::Utf8, true));
            fields.push(Field::new(
                format!("reason_{n}_value"),
                DataType::Utf8,
                true,
            ));
            fields.push(Field::new(
                format!("reason_{n}_contribution"),
                DataType::Float64,
                true,
            ));
            let nth = |r: &Vec<Reason>| r.get(k).cloned();
            columns.push(Arc::new(StringArray::from_iter(
                self.reasons.iter().map(|r| nth(r).map(|x| x.feature)),
            )));
            columns.push(Arc::new(StringArray::from_iter(
                self.reasons
                    .iter()
                    .map(|r| nth(r).map(|x| x.value.to_string())),
            )));
            columns.push(Arc::new(Float64Array::from_iter(
                self.reasons.iter().map(|r| nth(r).map(|x| x.contribution)),
            )));
            fields.push(Field::new(
                format!("reason_{n}_statement"),
                DataType::Utf8,
                true,
            ));
            columns.push(Arc::new(StringArray::from_iter(
                self.reasons.iter().map(|r| nth(r).map(|x| x.statement)),
            )));
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}
