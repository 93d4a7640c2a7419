//! Column drift as Evidently's data drift preset decides it (`get_default_stattest`): NULLs (and
//! ±inf) dropped first; a reference column of at most `large_sample_rows` values gets a p-value
//! test, drifted when p ≤ the threshold — KS for numeric columns, chi-squared for categorical
//! ones (the z-test of two proportions when reference and current hold at most two values) — a
//! larger one a distance, drifted when it is ≥ the threshold — Wasserstein / reference std for
//! numeric columns, Jensen-Shannon for categorical ones. As in Evidently, a numeric column with
//! at most five distinct values (a flag, a small count) is tested as categorical. The dataset
//! drifted when the share of drifted columns ≥ `drift_share`. PSI is reported beside every test
//! (it does not decide a column's drift; it decides prediction drift).

use std::collections::HashMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};

use super::stats::{self, CategoryCounts};
use creditrisk_base::config::MonitoringConfig;
use creditrisk_base::error::{Error, Result};
use creditrisk_model::frame::{ColumnKind, FeatureSpec};

/// Non-NULL values of one column of one side.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Numeric(Vec<f64>),
    Categorical(Vec<String>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Numeric(v) => v.len(),
            Values::Categorical(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The values of `column` in `batch` read as `kind`, NULL, NaN and ±inf dropped (Evidently
/// drops them before testing), and the share of rows dropped.
pub fn column_values(
    batch: &RecordBatch,
    column: &str,
    kind: ColumnKind,
    source: &str,
) -> Result<(Values, f64)> {
    let array = batch.column_by_name(column).ok_or_else(|| {
        Error::input(format!(
            "{source}: column `{column}` is missing (every model feature must be in both sets)"
        ))
    })?;
    let rows = batch.num_rows();
    let values = match kind {
        ColumnKind::Numeric => {
            let floats = cast(array, &DataType::Float64).map_err(|e| {
                Error::input(format!(
                    "{source}: column `{column}` cannot be read as a number: {e}"
                ))
            })?;
            let floats = floats.as_primitive::<Float64Type>();
            Values::Numeric(floats.iter().flatten().filter(|v| v.is_finite()).collect())
        }
        ColumnKind::Categorical => {
            let text = cast(array, &DataType::Utf8).map_err(|e| {
                Error::input(format!(
                    "{source}: column `{column}` cannot be read as text: {e}"
                ))
            })?;
            let text = text.as_string::<i32>();
            Values::Categorical(text.iter().flatten().map(str::to_string).collect())
        }
    };
    let dropped = rows - values.len();
    Ok((values, dropped as f64 / rows.max(1) as f64))
}

/// The test a column got.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DriftTest {
    /// Two-sample Kolmogorov-Smirnov p-value (numeric, small reference).
    Ks,
    /// Wasserstein distance / reference std (numeric, large reference).
    WassersteinNormed,
    /// Chi-squared goodness-of-fit p-value (categorical, small reference).
    ChiSquared,
    /// Jensen-Shannon distance (categorical, large reference).
    JensenShannon,
    /// Two-proportion z-test p-value (at most two values, small reference).
    ZTest,
}

/// One column's verdict (`reports/drift_report.json` → `features[]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: ColumnKind,
    pub test: DriftTest,
    /// KS D, Wasserstein/std, χ² or Jensen-Shannon distance; `null` when infinite (a category
    /// the reference never had).
    pub statistic: Option<f64>,
    /// For the p-value tests (KS, chi-squared).
    pub p_value: Option<f64>,
    /// p-value at or below which (p-value tests) or distance at or above which the column drifted.
    pub threshold: f64,
    pub drifted: bool,
    pub psi: f64,
    pub psi_threshold: f64,
    pub psi_drifted: bool,
    /// Non-NULL values tested on each side.
    pub reference_values: usize,
    pub current_values: usize,
    /// Share of rows whose value was NULL (or not finite) and was left out.
    pub reference_null_share: f64,
    pub current_null_share: f64,
}

/// Test one column (both sides already free of NULLs; neither may be empty).
pub fn test_column(
    column: &str,
    reference: &Values,
    current: &Values,
    cfg: &MonitoringConfig,
) -> Result<ColumnDrift> {
    let small = reference.len() <= cfg.large_sample_rows;
    let (kind, test, tested, psi) = match (reference, current) {
        (Values::Numeric(r), Values::Numeric(c)) if few_values(r, c) => {
            let psi = stats::psi_numeric(r, c, cfg.psi_bins);
            let (r, c): (Vec<String>, Vec<String>) = (
                r.iter().map(f64::to_string).collect(),
                c.iter().map(f64::to_string).collect(),
            );
            let counts =
                CategoryCounts::of(r.iter().map(String::as_str), c.iter().map(String::as_str));
            let (test, tested) = categorical_test(&counts, small);
            (ColumnKind::Numeric, test, tested, psi)
        }
        (Values::Numeric(r), Values::Numeric(c)) => {
            let psi = stats::psi_numeric(r, c, cfg.psi_bins);
            if small {
                let t = stats::ks_2samp(r, c);
                (ColumnKind::Numeric, DriftTest::Ks, t, psi)
            } else {
                let d = stats::wasserstein_normed(r, c);
                let t = stats::Tested {
                    statistic: d,
                    p_value: f64::NAN,
                };
                (ColumnKind::Numeric, DriftTest::WassersteinNormed, t, psi)
            }
        }
        (Values::Categorical(r), Values::Categorical(c)) => {
            let counts =
                CategoryCounts::of(r.iter().map(String::as_str), c.iter().map(String::as_str));
            let psi = stats::psi(&counts.reference, &counts.current);
            let (test, tested) = categorical_test(&counts, small);
            (ColumnKind::Categorical, test, tested, psi)
        }
        _ => {
            return Err(Error::internal(format!(
                "column `{column}` was read as numeric on one side and text on the other"
            )));
        }
    };
    let (threshold, drifted) = match test {
        DriftTest::Ks => (cfg.ks_p_value, tested.p_value <= cfg.ks_p_value),
        DriftTest::ChiSquared | DriftTest::ZTest => (
            cfg.chi_squared_p_value,
            tested.p_value <= cfg.chi_squared_p_value,
        ),
        DriftTest::WassersteinNormed => (
            cfg.wasserstein_threshold,
            tested.statistic >= cfg.wasserstein_threshold,
        ),
        DriftTest::JensenShannon => (
            cfg.jensen_shannon_threshold,
            tested.statistic >= cfg.jensen_shannon_threshold,
        ),
    };
    Ok(ColumnDrift {
        column: column.to_string(),
        kind,
        test,
        statistic: Some(tested.statistic).filter(|s| s.is_finite()),
        p_value: Some(tested.p_value).filter(|p| !p.is_nan()),
        threshold,
        drifted,
        psi,
        psi_threshold: cfg.psi_threshold,
        psi_drifted: psi >= cfg.psi_threshold,
        reference_values: reference.len(),
        current_values: current.len(),
        reference_null_share: 0.0,
        current_null_share: 0.0,
    })
}

/// Evidently tests a numeric column with at most this many distinct values (both sides
/// together) as categorical.
const FEW_VALUES: usize = 5;

fn few_values(r: &[f64], c: &[f64]) -> bool {
    let mut seen: Vec<u64> = Vec::with_capacity(FEW_VALUES + 1);
    for v in r.iter().chain(c) {
        // +0.0 and −0.0 are one value.
        let key = (v + 0.0).to_bits();
        if !seen.contains(&key) {
            seen.push(key);
            if seen.len() > FEW_VALUES {
                return false;
            }
        }
    }
    true
}

/// Chi-squared (z-test with at most two categories) for a small reference, Jensen-Shannon for
/// a large one.
fn categorical_test(counts: &CategoryCounts, small: bool) -> (DriftTest, stats::Tested) {
    match (small, counts.categories.len() <= 2) {
        (true, true) => (
            DriftTest::ZTest,
            stats::z_test(&counts.reference, &counts.current),
        ),
        (true, false) => (
            DriftTest::ChiSquared,
            stats::chi_squared(&counts.reference, &counts.current),
        ),
        (false, _) => (
            DriftTest::JensenShannon,
            stats::Tested {
                statistic: stats::jensen_shannon(&counts.reference, &counts.current),
                p_value: f64::NAN,
            },
        ),
    }
}

/// Both sides of one tested column, kept for the plots.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnPair {
    pub drift: ColumnDrift,
    pub reference: Values,
    pub current: Values,
}

/// Test every feature of `features` between two sets of feature rows. Errors name the set and
/// the column: a feature missing from either set, or with no non-NULL value on one side
/// (Evidently refuses an empty column too).
pub fn compare(
    reference: &RecordBatch,
    reference_source: &str,
    current: &RecordBatch,
    current_source: &str,
    features: &[FeatureSpec],
    cfg: &MonitoringConfig,
) -> Result<Vec<ColumnPair>> {
    for (batch, source) in [(reference, reference_source), (current, current_source)] {
        if batch.num_rows() == 0 {
            return Err(Error::input(format!(
                "{source}: no rows; drift needs a non-empty reference and current set"
            )));
        }
        let names: HashMap<&str, ()> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), ()))
            .collect();
        let missing: Vec<&str> = features
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| !names.contains_key(n))
            .collect();
        if !missing.is_empty() {
            return Err(Error::input(format!(
                "{source}: model feature column(s) missing: {}; drift is measured on every \
                 feature the model reads",
                missing.join(", ")
            )));
        }
    }
    features
        .iter()
        .map(|f| {
            let (r, r_null) = column_values(reference, &f.name, f.kind, reference_source)?;
            let (c, c_null) = column_values(current, &f.name, f.kind, current_source)?;
            for (values, source) in [(&r, reference_source), (&c, current_source)] {
                if values.is_empty() {
                    return Err(Error::input(format!(
                        "{source}: column `{}` has no non-NULL value; drift cannot be tested \
                         on an empty column (fix the extract or its feature rows)",
                        f.name
                    )));
                }
            }
            let mut drift = test_column(&f.name, &r, &c, cfg)?;
            drift.reference_null_share = r_null;
            drift.current_null_share = c_null;
            Ok(ColumnPair {
                drift,
                reference: r,
                current: c,
            })
        })
        .collect()
}

/// The dataset verdict (`summary` of the report).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DriftSummary {
    pub features: usize,
    pub drifted: usize,
    pub drifted_share: f64,
    /// `monitoring.drift_share`.
    pub drift_share: f64,
    /// drifted_share ≥ drift_share (Evidently's dataset drift).
    pub dataset_drift: bool,
    /// PSI of the registered model's PD, reference vs current.
    pub prediction_psi: f64,
    /// prediction_psi ≥ `monitoring.psi_threshold`.
    pub prediction_drift: bool,
    /// The label's test verdict, when both sets carry labels.
    pub target_drift: Option<bool>,
}

impl DriftSummary {
    pub fn of(
        features: &[ColumnDrift],
        prediction: &ColumnDrift,
        target: Option<&ColumnDrift>,
        cfg: &MonitoringConfig,
    ) -> DriftSummary {
        let drifted = features.iter().filter(|f| f.drifted).count();
        let drifted_share = if features.is_empty() {
            0.0
        } else {
            drifted as f64 / features.len() as f64
        };
        DriftSummary {
            features: features.len(),
            drifted,
            drifted_share,
            drift_share: cfg.drift_share,
            dataset_drift: !features.is_empty() && drifted_share >= cfg.drift_share,
            prediction_psi: prediction.psi,
            prediction_drift: prediction.psi_drifted,
            target_drift: target.map(|t| t.drifted),
        }
    }
}

/// Drifted columns first, then by name (the order of the report and its plots).
pub fn drifted_first(pairs: &mut [ColumnPair]) {
    pairs.sort_by(|a, b| {
        b.drift
            .drifted
            .cmp(&a.drift.drifted)
            .then_with(|| a.drift.column.cmp(&b.drift.column))
    });
}
