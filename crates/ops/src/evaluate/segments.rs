//! Which segment each evaluated applicant belongs to, and the segment and period tables of
//! `reports/segments.json`. Protected attributes (CODE_GENDER) are deliberately not in the
//! feature store, so a segment column missing from the split is read from the raw
//! `application_train.csv` and joined by SK_ID_CURR: the model never sees it, the analysis does.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};

use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::{GovernanceConfig, SegmentConfig};
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::{Layout, Split};
use creditrisk_model::metrics::segments::{self, PeriodRow, SegmentAnalysis, SegmentRule};

/// `--by vintage` when no column of that name exists: applicants in SK_ID_CURR order cut into
/// `governance.vintages` equal-count periods (Home Credit numbers applications in arrival order,
/// so the id order stands in for the application date the extract lacks).
pub const SYNTHETIC_VINTAGE: &str = "vintage";
/// Label of a NULL value.
const MISSING: &str = "(missing)";
/// A `--by` column with more distinct values than this is not a period column.
const MAX_PERIODS: usize = 60;

/// AUC, default rate and mean PD per period (`evaluate --by COLUMN`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stability {
    pub column: String,
    /// Where the periods came from: the split, the raw application file, or the synthetic vintage.
    pub source: String,
    pub periods: Vec<PeriodRow>,
}

/// `reports/segments.json` (`train_segments.json` for the train split).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentsReport {
    pub split: Split,
    pub model_name: String,
    pub bundle_sha256: String,
    pub decision_threshold: f64,
    /// `governance.adverse_impact_ratio` and `min_segment_rows`.
    pub adverse_impact_ratio: f64,
    pub min_segment_rows: usize,
    pub attributes: Vec<SegmentAnalysis>,
    /// Flagged segments over all attributes, as `name=value`.
    pub flagged: Vec<String>,
    pub stability: Option<Stability>,
}

/// What the analysis is run on.
pub struct Scope<'a> {
    pub layout: &'a Layout,
    pub split: Split,
    pub batch: &'a RecordBatch,
    pub ids: &'a [i64],
    pub y: &'a [f64],
    pub pd: &'a [f64],
    pub threshold: f64,
}

/// Segment tables for every configured attribute, and the period table when `by` is given.
pub fn analyse(
    scope: &Scope<'_>,
    governance: &GovernanceConfig,
    by: Option<&str>,
) -> Result<(Vec<SegmentAnalysis>, Option<Stability>)> {
    let mut raw = RawColumns::new(scope.layout.raw_file(RawTable::ApplicationTrain));
    let rule = SegmentRule {
        threshold: scope.threshold,
        min_ratio: governance.adverse_impact_ratio,
        min_rows: governance.min_segment_rows,
    };
    let mut attributes = Vec::new();
    for s in &governance.segments {
        let labels = labels_of(scope, s, &mut raw).map_err(|e| {
            Error::input(format!(
                "governance.segments `{}`: {}; fix the column or remove the segment",
                s.name,
                message(e)
            ))
        })?;
        let mut analysis =
            segments::segment_table(&s.name, &s.column, &labels, scope.y, scope.pd, rule);
        if !s.bands.is_empty() {
            // Bands read youngest to oldest, not in text order ("<25" after "55–65").
            let order = band_order(&s.bands);
            analysis
                .segments
                .sort_by_key(|r| order.iter().position(|o| *o == r.value));
        }
        attributes.push(analysis);
    }
    let stability = match by {
        None => None,
        Some(column) => Some(stability(scope, governance, column, &mut raw)?),
    };
    Ok((attributes, stability))
}

fn stability(
    scope: &Scope<'_>,
    governance: &GovernanceConfig,
    column: &str,
    raw: &mut RawColumns,
) -> Result<Stability> {
    let segment = SegmentConfig {
        name: column.to_string(),
        column: column.to_string(),
        bands: vec![],
    };
    let (labels, source) = if column == SYNTHETIC_VINTAGE
        && scope.batch.column_by_name(column).is_none()
        && !raw.has(column)?
    {
        (
            vintages(scope.ids, governance.vintages),
            format!(
                "synthetic vintage: SK_ID_CURR order in {} equal-count periods",
                governance.vintages
            ),
        )
    } else {
        let source = if scope.batch.column_by_name(column).is_some() {
            scope.split.name().to_string()
        } else {
            raw.path.display().to_string()
        };
        let labels = labels_of(scope, &segment, raw).map_err(|e| {
            Error::input(format!(
                "evaluate --by {column}: {}; name a period column (e.g. an application month) \
                 or `--by {SYNTHETIC_VINTAGE}`",
                message(e)
            ))
        })?;
        (labels, source)
    };
    let distinct = labels.iter().collect::<BTreeSet<_>>().len();
    if distinct > MAX_PERIODS {
        return Err(Error::input(format!(
            "evaluate --by {column}: {distinct} distinct values, more than {MAX_PERIODS}; name a \
             period column (e.g. an application month) or `--by {SYNTHETIC_VINTAGE}`"
        )));
    }
    Ok(Stability {
        column: column.to_string(),
        source,
        periods: segments::period_table(&labels, scope.y, scope.pd),
    })
}

/// The text of an input error without its kind prefix, to nest it in a more precise one.
fn message(e: Error) -> String {
    match e {
        Error::Input { message: m, .. } => m,
        other => other.to_string(),
    }
}

/// Period `V1`… of each row by the rank of its id among the rows.
fn vintages(ids: &[i64], periods: usize) -> Vec<String> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    let width = periods.to_string().len();
    let mut out = vec![String::new(); ids.len()];
    for (rank, &i) in order.iter().enumerate() {
        let period = rank * periods / ids.len().max(1) + 1;
        out[i] = format!("V{period:0width$}");
    }
    out
}

/// The label of every row for one attribute: from the split when it has the column, else from
/// the raw application file by SK_ID_CURR.
fn labels_of(scope: &Scope<'_>, s: &SegmentConfig, raw: &mut RawColumns) -> Result<Vec<String>> {
    if let Some(array) = scope.batch.column_by_name(&s.column) {
        return array_labels(array.as_ref(), &s.bands, &s.column);
    }
    let values = raw.column(&s.column).map_err(|e| {
        Error::input(format!(
            "column {} is neither in the {} split nor readable from {} ({})",
            s.column,
            scope.split.name(),
            raw.path.display(),
            message(e)
        ))
    })?;
    scope
        .ids
        .iter()
        .map(|id| {
            let text = values.get(id).map(String::as_str).unwrap_or("");
            if s.bands.is_empty() || text.is_empty() {
                return Ok(if text.is_empty() { MISSING } else { text }.to_string());
            }
            let v: f64 = text.parse().map_err(|_| {
                Error::input(format!(
                    "column {} of SK_ID_CURR {id} is {text:?}, not a number (the segment has bands)",
                    s.column
                ))
            })?;
            Ok(band_label(v, &s.bands))
        })
        .collect()
}

fn array_labels(array: &dyn Array, bands: &[f64], column: &str) -> Result<Vec<String>> {
    let numeric = array.data_type().is_numeric() || *array.data_type() == DataType::Boolean;
    if !numeric {
        if !bands.is_empty() {
            return Err(Error::input(format!(
                "column {column} is {}, but bands need a number",
                array.data_type()
            )));
        }
        let text = cast(array, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        return Ok((0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    MISSING.to_string()
                } else {
                    text.value(i).to_string()
                }
            })
            .collect());
    }
    let values = cast(array, &DataType::Float64)?;
    let values = values.as_primitive::<Float64Type>();
    Ok((0..values.len())
        .map(|i| {
            if values.is_null(i) || values.value(i).is_nan() {
                MISSING.to_string()
            } else if bands.is_empty() {
                plain(values.value(i))
            } else {
                band_label(values.value(i), bands)
            }
        })
        .collect())
}

/// `<25`, `25–35`, …, `≥65` for bands `[25, 35, …, 65]`.
fn band_label(v: f64, bands: &[f64]) -> String {
    let i = bands.partition_point(|b| *b <= v);
    match i {
        0 => format!("<{}", plain(bands[0])),
        i if i == bands.len() => format!("≥{}", plain(bands[i - 1])),
        i => format!("{}–{}", plain(bands[i - 1]), plain(bands[i])),
    }
}

/// Every band label in increasing order, then the label of NULL.
fn band_order(bands: &[f64]) -> Vec<String> {
    let mut out = vec![format!("<{}", plain(bands[0]))];
    out.extend(
        bands
            .windows(2)
            .map(|w| format!("{}–{}", plain(w[0]), plain(w[1]))),
    );
    out.push(format!("≥{}", plain(bands[bands.len() - 1])));
    out.push(MISSING.to_string());
    out
}

/// Integers without a decimal point (flags read `0`/`1`).
fn plain(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Columns of the raw application file by SK_ID_CURR, read once per column on demand.
struct RawColumns {
    path: PathBuf,
    header: Option<Vec<String>>,
}

impl RawColumns {
    fn new(path: PathBuf) -> RawColumns {
        RawColumns { path, header: None }
    }

    fn header(&mut self) -> Result<&[String]> {
        if self.header.is_none() {
            self.header = Some(creditrisk_data::raw::read_header(&self.path)?);
        }
        Ok(self.header.as_deref().unwrap_or_default())
    }

    fn has(&mut self, column: &str) -> Result<bool> {
        if !self.path.is_file() {
            return Ok(false);
        }
        Ok(self.header()?.iter().any(|h| h == column))
    }

    fn column(&mut self, column: &str) -> Result<HashMap<i64, String>> {
        let path = self.path.clone();
        let header = self.header()?;
        let position = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| Error::input(format!("{} has no column {name}", path.display())))
        };
        let (id_at, at) = (position("SK_ID_CURR")?, position(column)?);
        read_pairs(&path, id_at, at)
    }
}

fn read_pairs(path: &Path, id_at: usize, at: usize) -> Result<HashMap<i64, String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| Error::input_from(format!("{}", path.display()), e))?;
    let mut out = HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut line = 1;
    while reader
        .read_record(&mut record)
        .map_err(|e| Error::input_from(format!("{}", path.display()), e))?
    {
        line += 1;
        let id = record.get(id_at).unwrap_or("");
        let id: i64 = id.parse().map_err(|_| {
            Error::input(format!(
                "{}: line {line}: SK_ID_CURR {id:?} is not an integer",
                path.display()
            ))
        })?;
        out.insert(id, record.get(at).unwrap_or("").to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_and_vintages_label_rows() {
        let bands = [25.0, 35.0];
        assert_eq!(band_label(20.0, &bands), "<25");
        assert_eq!(band_label(25.0, &bands), "25–35");
        assert_eq!(band_label(40.5, &bands), "≥35");
        assert_eq!(plain(1.0), "1");
        assert_eq!(band_order(&bands), ["<25", "25–35", "≥35", "(missing)"]);
        assert_eq!(vintages(&[30, 10, 20, 40], 2), ["V2", "V1", "V1", "V2"]);
    }
}
