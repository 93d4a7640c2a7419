//! Preprocessing fitted on the training rows only and saved in the bundle, so scoring applies
//! exactly what training saw (imputing or encoding over all rows would leak test information).
//!
//! - Categorical columns: levels seen at least [`MIN_LEVEL_ROWS`] times are kept; rarer and
//!   unseen levels become "other". Trees get one ordinal code per column, levels ordered by their
//!   (smoothed) training default rate so that a single split separates risky from safe levels;
//!   the linear model gets one dummy per kept level ("other" is the reference).
//! - Missing values: trees take NaN natively; the linear model gets the training median plus a
//!   missing indicator for every column that had NULLs in training.
//! - Linear design columns are standardised (training mean and std), so coefficient × value is a
//!   contribution relative to the average applicant.
//! - Columns constant on the training rows (one value and no NULLs, or all NULL) are dropped.

use std::collections::HashMap;

use arrow::array::{Array, RecordBatch};
use serde::{Deserialize, Serialize};

use super::frame::{FeatureFrame, FeatureSpec, RawColumn};
use super::rebalance::SmoteColumn;
use creditrisk_base::error::Result;

/// Levels rarer than this in training are pooled into "other".
pub const MIN_LEVEL_ROWS: usize = 10;
/// Pseudo-count pulling a level's default rate to the overall rate when ordering levels.
const RATE_SMOOTHING: f64 = 20.0;
pub const OTHER_LEVEL: &str = "other";

/// What the learner needs from the design matrix.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// NaN kept, one ordinal column per categorical.
    Trees,
    /// Imputed, indicators, dummies, standardised.
    Linear,
}

/// How one kept feature becomes design columns.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transform {
    Numeric {
        /// Index into `Preprocessor::features`.
        feature: usize,
        /// Training median, used for NaN in the linear encoding.
        median: f64,
        /// A missing-indicator column follows (linear encoding, NULLs seen in training).
        indicator: bool,
        /// Smallest and largest training value (serving's plausibility check); absent in
        /// bundles trained before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<[f64; 2]>,
    },
    Categorical {
        feature: usize,
        /// Kept levels, ordered by smoothed training default rate (ascending).
        levels: Vec<String>,
        /// Ordinal code of "other" (unseen or rare levels), placed by its own default rate.
        other_code: f64,
        indicator: bool,
    },
}

/// One column of the design matrix: its name, the feature it came from and its scaling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DesignColumn {
    pub name: String,
    /// Index into `Preprocessor::features`: contributions are summed back per feature.
    pub feature: usize,
    pub center: f64,
    pub scale: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preprocessor {
    pub encoding: Encoding,
    /// Every input feature, in input order (the model's input schema).
    pub features: Vec<FeatureSpec>,
    pub transforms: Vec<Transform>,
    pub design: Vec<DesignColumn>,
    /// Features constant on the training rows, not given to the learner.
    pub dropped_constant: Vec<String>,
}

impl Preprocessor {
    /// Fit on the training rows `frame` with labels `y`.
    pub fn fit(
        encoding: Encoding,
        features: &[FeatureSpec],
        frame: &FeatureFrame,
        y: &[f64],
    ) -> Self {
        let mut transforms = Vec::new();
        let mut dropped_constant = Vec::new();
        let base_rate = y.iter().sum::<f64>() / y.len().max(1) as f64;
        for (feature, column) in frame.columns.iter().enumerate() {
            let name = &features[feature].name;
            let transform = match column {
                RawColumn::Numeric(values) => fit_numeric(feature, values, encoding),
                RawColumn::Categorical(values) => fit_categorical(feature, values, y, base_rate),
            };
            match transform {
                Some(t) => transforms.push(t),
                None => dropped_constant.push(name.clone()),
            }
        }
        let mut pre = Preprocessor {
            encoding,
            features: features.to_vec(),
            transforms,
            design: Vec::new(),
            dropped_constant,
        };
        pre.design = pre.design_columns();
        if encoding == Encoding::Linear {
            pre.fit_scaling(frame);
        }
        pre
    }

    /// Names of the design columns, e.g. `AMT_CREDIT`, `AMT_CREDIT__missing`, `NAME_X=Working`.
    fn design_columns(&self) -> Vec<DesignColumn> {
        let mut out = Vec::new();
        let mut push = |name: String, feature: usize| {
            out.push(DesignColumn {
                name,
                feature,
                center: 0.0,
                scale: 1.0,
            })
        };
        for t in &self.transforms {
            match (t, self.encoding) {
                (
                    Transform::Numeric {
                        feature, indicator, ..
                    },
                    enc,
                ) => {
                    let name = &self.features[*feature].name;
                    push(name.clone(), *feature);
                    if *indicator && enc == Encoding::Linear {
                        push(format!("{name}__missing"), *feature);
                    }
                }
                (Transform::Categorical { feature, .. }, Encoding::Trees) => {
                    push(self.features[*feature].name.clone(), *feature)
                }
                (
                    Transform::Categorical {
                        feature,
                        levels,
                        indicator,
                        ..
                    },
                    Encoding::Linear,
                ) => {
                    let name = &self.features[*feature].name;
                    for level in levels {
                        push(format!("{name}={level}"), *feature);
                    }
                    if *indicator {
                        push(format!("{name}__missing"), *feature);
                    }
                }
            }
        }
        out
    }

    /// Design matrix of `frame` (column-major, rows × design columns), scaled for the learner.
    pub fn transform(&self, frame: &FeatureFrame) -> Vec<f64> {
        let rows: Vec<usize> = (0..frame.rows).collect();
        self.transform_rows(frame, &rows)
    }

    /// Design matrix of the given rows of `frame` only (e.g. after downsampling), so the full
    /// matrix is never materialised.
    pub fn transform_rows(&self, frame: &FeatureFrame, rows: &[usize]) -> Vec<f64> {
        let mut x: Vec<f64> = Vec::with_capacity(rows.len() * self.design.len());
        let mut c = 0;
        self.for_each_design_column(frame, rows, |values| {
            let column = &self.design[c];
            if self.encoding == Encoding::Linear {
                x.extend(values.iter().map(|v| (v - column.center) / column.scale));
            } else {
                x.extend_from_slice(&values);
            }
            c += 1;
        });
        x
    }

    /// Training mean and std of each linear design column, one column at a time.
    fn fit_scaling(&mut self, frame: &FeatureFrame) {
        let rows: Vec<usize> = (0..frame.rows).collect();
        let mut stats = Vec::with_capacity(self.design.len());
        self.for_each_design_column(frame, &rows, |values| {
            let n = values.len().max(1) as f64;
            let mean = values.iter().sum::<f64>() / n;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            stats.push((mean, var.sqrt()));
        });
        for (column, (mean, sd)) in self.design.iter_mut().zip(stats) {
            column.center = mean;
            // A column constant after imputation carries no information; scale 1 keeps it 0.
            column.scale = if sd > 1e-12 { sd } else { 1.0 };
        }
    }

    /// Call `emit` with the unscaled values (over `rows`) of each design column, in order.
    fn for_each_design_column(
        &self,
        frame: &FeatureFrame,
        rows: &[usize],
        mut emit: impl FnMut(Vec<f64>),
    ) {
        for t in &self.transforms {
            match t {
                Transform::Numeric {
                    feature,
                    median,
                    indicator,
                    ..
                } => {
                    let RawColumn::Numeric(values) = &frame.columns[*feature] else {
                        unreachable!("frame columns follow the fitted specs")
                    };
                    match self.encoding {
                        Encoding::Trees => emit(rows.iter().map(|&i| values[i]).collect()),
                        Encoding::Linear => {
                            emit(
                                rows.iter()
                                    .map(|&i| {
                                        if values[i].is_nan() {
                                            *median
                                        } else {
                                            values[i]
                                        }
                                    })
                                    .collect(),
                            );
                            if *indicator {
                                emit(
                                    rows.iter()
                                        .map(|&i| f64::from(u8::from(values[i].is_nan())))
                                        .collect(),
                                );
                            }
                        }
                    }
                }
                Transform::Categorical {
                    feature,
                    levels,
                    other_code,
                    indicator,
                } => {
                    let RawColumn::Categorical(values) = &frame.columns[*feature] else {
                        unreachable!("frame columns follow the fitted specs")
                    };
                    let code: HashMap<&str, usize> = levels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.as_str(), i))
                        .collect();
                    // None: NULL; Some(None): "other"; Some(Some(l)): kept level l.
                    let level_of: Vec<Option<Option<usize>>> = rows
                        .iter()
                        .map(|&i| (!values.is_null(i)).then(|| code.get(values.value(i)).copied()))
                        .collect();
                    match self.encoding {
                        Encoding::Trees => emit(
                            level_of
                                .iter()
                                .map(|l| match l {
                                    None => f64::NAN,
                                    Some(Some(l)) => *l as f64,
                                    Some(None) => *other_code,
                                })
                                .collect(),
                        ),
                        Encoding::Linear => {
                            for level in 0..levels.len() {
                                emit(
                                    level_of
                                        .iter()
                                        .map(|l| f64::from(u8::from(*l == Some(Some(level)))))
                                        .collect(),
                                );
                            }
                            if *indicator {
                                emit(
                                    level_of
                                        .iter()
                                        .map(|l| f64::from(u8::from(l.is_none())))
                                        .collect(),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// How SMOTE treats each design column: category codes and missing indicators are copied;
    /// an imputed numeric column is tied to its indicator so an imputed value is never blended.
    pub fn smote_columns(&self) -> Vec<SmoteColumn> {
        self.design
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let indicator = format!("{}__missing", d.name);
                if self.features[d.feature].kind == super::frame::ColumnKind::Categorical
                    || d.name.ends_with("__missing")
                {
                    SmoteColumn::Copy
                } else if let Some(j) = self.design[i + 1..]
                    .iter()
                    .position(|o| o.name == indicator)
                {
                    SmoteColumn::Imputed(i + 1 + j)
                } else {
                    SmoteColumn::Interpolate
                }
            })
            .collect()
    }
}

fn fit_numeric(feature: usize, values: &[f64], encoding: Encoding) -> Option<Transform> {
    let has_null = values.iter().any(|v| v.is_nan());
    let mut present = values.iter().copied().filter(|v| !v.is_nan());
    let first = present.next();
    let varies = first.is_some_and(|f| present.any(|v| v != f));
    if !(varies || (first.is_some() && has_null)) {
        return None;
    }
    let median = match encoding {
        Encoding::Trees => 0.0,
        Encoding::Linear => median_of(values),
    };
    let present = values.iter().copied().filter(|v| !v.is_nan());
    let range = present.fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], v| {
        [lo.min(v), hi.max(v)]
    });
    Some(Transform::Numeric {
        feature,
        median,
        indicator: has_null,
        range: Some(range),
    })
}

/// A numeric feature value far outside what the model was trained on.
#[derive(Clone, Debug, PartialEq)]
pub struct Implausible {
    /// Row of the frame.
    pub row: usize,
    pub feature: String,
    pub value: f64,
    /// The values accepted: the training range widened by `factor` widths on each side.
    pub accepted: [f64; 2],
}

impl Preprocessor {
    /// Values of `batch` beyond the training range of their feature by more than `factor` times
    /// the range's width (at least 1, so a narrow range still admits nearby values); ±inf always
    /// is, NaN (missing) never. Empty for a factor of 0 or a bundle without recorded ranges.
    pub fn implausible(&self, batch: &RecordBatch, factor: f64) -> Result<Vec<Implausible>> {
        let mut found = Vec::new();
        if factor <= 0.0 {
            return Ok(found);
        }
        for t in &self.transforms {
            let Transform::Numeric {
                feature,
                range: Some([lo, hi]),
                ..
            } = t
            else {
                continue;
            };
            let name = &self.features[*feature].name;
            let Some(column) = batch.column_by_name(name) else {
                continue;
            };
            let values = crate::frame::numeric_values(column.as_ref(), name, "scoring input")?;
            let margin = factor * (hi - lo).max(1.0);
            let accepted = [lo - margin, hi + margin];
            for (row, &value) in values.iter().enumerate() {
                if value < accepted[0] || value > accepted[1] {
                    found.push(Implausible {
                        row,
                        feature: self.features[*feature].name.clone(),
                        value,
                        accepted,
                    });
                }
            }
        }
        Ok(found)
    }
}

/// Median of the non-NaN values (mean of the two middle values for an even count).
fn median_of(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let (n, mid) = (v.len(), v.len() / 2);
    let (lower, upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 0 {
        let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (below + upper) / 2.0
    } else {
        upper
    }
}

fn fit_categorical(
    feature: usize,
    values: &arrow::array::StringArray,
    y: &[f64],
    base_rate: f64,
) -> Option<Transform> {
    let mut stats: HashMap<&str, (usize, f64)> = HashMap::new();
    for (i, label) in y.iter().enumerate().take(values.len()) {
        if !values.is_null(i) {
            let s = stats.entry(values.value(i)).or_insert((0, 0.0));
            s.0 += 1;
            s.1 += label;
        }
    }
    let has_null = values.null_count() > 0;
    if stats.is_empty() || (stats.len() == 1 && !has_null) {
        return None;
    }
    let smoothed =
        |n: usize, pos: f64| (pos + RATE_SMOOTHING * base_rate) / (n as f64 + RATE_SMOOTHING);
    let mut kept: Vec<(&str, f64)> = Vec::new();
    let (mut other_n, mut other_pos) = (0usize, 0.0);
    for (level, (n, pos)) in &stats {
        if *n >= MIN_LEVEL_ROWS {
            kept.push((level, smoothed(*n, *pos)));
        } else {
            other_n += n;
            other_pos += pos;
        }
    }
    // Ties broken by name so the encoding does not depend on hash order.
    kept.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    let other_rate = smoothed(other_n, other_pos);
    let other_code = kept.partition_point(|(_, r)| *r <= other_rate) as f64 - 0.5;
    let levels: Vec<String> = kept.iter().map(|(l, _)| l.to_string()).collect();
    Some(Transform::Categorical {
        feature,
        levels,
        other_code,
        indicator: has_null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::ColumnKind;
    use arrow::array::StringArray;

    fn spec(name: &str, kind: ColumnKind) -> FeatureSpec {
        FeatureSpec {
            name: name.into(),
            kind,
            arrow_type: String::new(),
        }
    }

    fn frame() -> (Vec<FeatureSpec>, FeatureFrame, Vec<f64>) {
        let n = 40;
        let num: Vec<f64> = (0..n)
            .map(|i| if i % 4 == 0 { f64::NAN } else { i as f64 })
            .collect();
        let constant = vec![3.0; n];
        let cat: Vec<Option<&str>> = (0..n)
            .map(|i| match i % 5 {
                0 => None,
                1 | 2 => Some("a"),
                3 => Some("b"),
                _ => {
                    if i == 4 {
                        Some("rare")
                    } else {
                        Some("b")
                    }
                }
            })
            .collect();
        let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 5 == 3))).collect();
        let specs = vec![
            spec("NUM", ColumnKind::Numeric),
            spec("CONST", ColumnKind::Numeric),
            spec("CAT", ColumnKind::Categorical),
        ];
        let frame = FeatureFrame {
            columns: vec![
                RawColumn::Numeric(num),
                RawColumn::Numeric(constant),
                RawColumn::Categorical(StringArray::from(cat)),
            ],
            rows: n,
        };
        (specs, frame, y)
    }

    #[test]
    fn drops_constants_and_orders_levels_by_default_rate() {
        let (specs, frame, y) = frame();
        let pre = Preprocessor::fit(Encoding::Trees, &specs, &frame, &y);
        assert_eq!(pre.dropped_constant, vec!["CONST".to_string()]);
        let names: Vec<&str> = pre.design.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["NUM", "CAT"]);
        let Transform::Categorical { levels, .. } = &pre.transforms[1] else {
            panic!()
        };
        assert_eq!(levels, &["a", "b"]); // "b" defaults more often; "rare" pooled into other
        let x = pre.transform(&frame);
        assert!(x[0].is_nan()); // trees keep NaN
        assert!(x[40].is_nan()); // NULL category → NaN
        assert_eq!(x[41], 0.0); // "a"
        assert_eq!(x[44], pre_other(&pre)); // "rare" → other
    }

    fn pre_other(pre: &Preprocessor) -> f64 {
        match &pre.transforms[1] {
            Transform::Categorical { other_code, .. } => *other_code,
            _ => unreachable!(),
        }
    }

    #[test]
    fn linear_encoding_imputes_indicates_and_standardises() {
        let (specs, frame, y) = frame();
        let pre = Preprocessor::fit(Encoding::Linear, &specs, &frame, &y);
        let names: Vec<&str> = pre.design.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            ["NUM", "NUM__missing", "CAT=a", "CAT=b", "CAT__missing"]
        );
        let x = pre.transform(&frame);
        assert!(x.iter().all(|v| v.is_finite()));
        for c in 0..names.len() {
            let col = &x[c * 40..(c + 1) * 40];
            let mean = col.iter().sum::<f64>() / 40.0;
            assert!(mean.abs() < 1e-9, "{} mean {mean}", names[c]);
        }
    }

    #[test]
    fn median_handles_even_and_odd_counts() {
        assert_eq!(median_of(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(&[4.0, 1.0, f64::NAN, 2.0, 3.0]), 2.5);
    }
}
