//! Per-decision explanations: each feature's contribution to the applicant's log-odds
//! (TreeSHAP for trees, coefficient × standardised value for the logistic model), summed back to
//! the input feature it came from, and the top reasons that raised the PD ("principal reasons"
//! for an adverse decision).

use serde::{Deserialize, Serialize};

use super::frame::FeatureFrame;
use super::statements::ReasonStatements;

/// Approve below the decision threshold, decline at or above it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approve,
    Decline,
}

impl Outcome {
    pub fn at_threshold(pd: f64, threshold: f64) -> Outcome {
        if pd >= threshold {
            Outcome::Decline
        } else {
            Outcome::Approve
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approve => "approve",
            Outcome::Decline => "decline",
        }
    }
}

/// One reason code: a feature that raised the PD, its value and its contribution.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reason {
    pub feature: String,
    /// The applicant's input value (number, text, or null when missing).
    pub value: serde_json::Value,
    /// Contribution to the log-odds of the uncalibrated score (calibration is monotone, so the
    /// order of reasons is the same on the PD scale).
    pub contribution: f64,
    /// The reviewed plain-language statement with the value and its unit (adverse-action text).
    pub statement: String,
}

/// The scored decision for one applicant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Decision {
    pub sk_id_curr: i64,
    pub pd: f64,
    pub decision: Outcome,
    /// Risk band, "A" (safest) upwards.
    pub band: String,
    pub reasons: Vec<Reason>,
}

/// Sum design-column contributions (row-major, `design_cols` per row, anything after ignored)
/// into one value per input feature, using `feature_of[design column]`.
pub fn per_feature(contrib_row: &[f64], feature_of: &[usize], n_features: usize) -> Vec<f64> {
    let mut out = vec![0.0; n_features];
    for (c, f) in feature_of.iter().enumerate() {
        out[*f] += contrib_row[c];
    }
    out
}

/// The `k` features with the largest positive contributions, largest first (ties by name), each
/// with its statement.
pub fn reason_codes(
    contributions: &[f64],
    names: &[String],
    frame: &FeatureFrame,
    row: usize,
    k: usize,
    statements: &ReasonStatements,
) -> Vec<Reason> {
    let mut order: Vec<usize> = (0..contributions.len())
        .filter(|&f| contributions[f] > 0.0)
        .collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .total_cmp(&contributions[a])
            .then(names[a].cmp(&names[b]))
    });
    order
        .into_iter()
        .take(k)
        .map(|f| {
            let value = frame.columns[f].json_value(row);
            Reason {
                statement: statements.render(&names[f], &value),
                feature: names[f].clone(),
                value,
                contribution: contributions[f],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::RawColumn;

    #[test]
    fn reasons_are_the_largest_positive_contributions() {
        let frame = FeatureFrame {
            columns: vec![
                RawColumn::Numeric(vec![1.0]),
                RawColumn::Numeric(vec![f64::NAN]),
                RawColumn::Numeric(vec![3.0]),
            ],
            rows: 1,
        };
        let names = vec!["A".to_string(), "B".to_string(), "C".to_string()];
        let contrib = per_feature(&[0.2, -0.5, 0.1, 0.4, 9.0], &[0, 1, 2, 1], 3);
        assert_eq!(contrib.len(), 3);
        assert!((contrib[1] - (-0.1)).abs() < 1e-12);
        let reasons = reason_codes(&contrib, &names, &frame, 0, 4, &ReasonStatements::default());
        let got: Vec<&str> = reasons.iter().map(|r| r.feature.as_str()).collect();
        assert_eq!(got, ["A", "C"]);
        assert_eq!(reasons[1].value, serde_json::json!(3.0));
        assert_eq!(Outcome::at_threshold(0.15, 0.15), Outcome::Decline);
    }
}
