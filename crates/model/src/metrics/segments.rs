//! Metrics per segment (age band, gender, income type …) and per period: the questions of a
//! model-risk review and of a fair-lending (adverse-impact) analysis. Every figure reuses the
//! split-level definitions of this module's parent (AUC, ECE, decision at PD ≥ threshold).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ECE_BINS, ece, roc_auc};

/// One segment of one attribute.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentRow {
    pub value: String,
    pub rows: usize,
    pub defaults: usize,
    pub default_rate: f64,
    pub mean_pd: f64,
    /// None when the segment holds one class only (AUC is undefined).
    pub roc_auc: Option<f64>,
    pub ece: f64,
    /// Share approved (PD below the threshold).
    pub approval_rate: f64,
    /// Approval rate / the most-approved segment's approval rate (None when nobody is approved).
    pub adverse_impact_ratio: Option<f64>,
    /// Ratio below the configured minimum, on a segment of at least `min_rows` rows.
    pub flagged: bool,
}

/// The segments of one attribute and which of them are flagged.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SegmentAnalysis {
    /// Configured name (`gender`) and the column it comes from (`CODE_GENDER`).
    pub name: String,
    pub column: String,
    /// The segment with the highest approval rate among those with at least `min_rows` rows.
    pub most_approved: Option<String>,
    pub segments: Vec<SegmentRow>,
    pub flagged: Vec<String>,
}

/// How segments are judged.
#[derive(Clone, Copy, Debug)]
pub struct SegmentRule {
    pub threshold: f64,
    /// Flag below this adverse-impact ratio (0.8: the four-fifths rule).
    pub min_ratio: f64,
    /// Smaller segments are reported, never flagged, and never the reference.
    pub min_rows: usize,
}

/// Row positions of each label, labels in order.
fn groups(labels: &[String]) -> BTreeMap<&str, Vec<usize>> {
    let mut out: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        out.entry(l.as_str()).or_default().push(i);
    }
    out
}

fn pick(v: &[f64], idx: &[usize]) -> Vec<f64> {
    idx.iter().map(|&i| v[i]).collect()
}

/// Segment metrics of `pd` against `y`, one segment per distinct label.
pub fn segment_table(
    name: &str,
    column: &str,
    labels: &[String],
    y: &[f64],
    pd: &[f64],
    rule: SegmentRule,
) -> SegmentAnalysis {
    let mut segments: Vec<SegmentRow> = groups(labels)
        .into_iter()
        .map(|(value, idx)| {
            let (ys, ps) = (pick(y, &idx), pick(pd, &idx));
            let n = idx.len() as f64;
            let defaults = ys.iter().filter(|t| **t == 1.0).count();
            let approved = ps.iter().filter(|p| **p < rule.threshold).count();
            SegmentRow {
                value: value.to_string(),
                rows: idx.len(),
                defaults,
                default_rate: defaults as f64 / n,
                mean_pd: ps.iter().sum::<f64>() / n,
                roc_auc: roc_auc(&ys, &ps).ok(),
                ece: ece(&ys, &ps, ECE_BINS),
                approval_rate: approved as f64 / n,
                adverse_impact_ratio: None,
                flagged: false,
            }
        })
        .collect();
    let reference = segments
        .iter()
        .filter(|s| s.rows >= rule.min_rows)
        .max_by(|a, b| {
            a.approval_rate
                .total_cmp(&b.approval_rate)
                .then(b.value.cmp(&a.value))
        })
        .map(|s| (s.value.clone(), s.approval_rate));
    let mut flagged = Vec::new();
    if let Some((_, best)) = &reference {
        for s in &mut segments {
            if *best > 0.0 {
                let ratio = s.approval_rate / best;
                s.adverse_impact_ratio = Some(ratio);
                s.flagged = s.rows >= rule.min_rows && ratio < rule.min_ratio;
            }
            if s.flagged {
                flagged.push(s.value.clone());
            }
        }
    }
    SegmentAnalysis {
        name: name.to_string(),
        column: column.to_string(),
        most_approved: reference.map(|(v, _)| v),
        segments,
        flagged,
    }
}

/// One period of a stability-over-time table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PeriodRow {
    pub period: String,
    pub rows: usize,
    pub default_rate: f64,
    pub mean_pd: f64,
    pub roc_auc: Option<f64>,
}

/// AUC, default rate and mean PD per period label, periods in label order (numbers numerically).
pub fn period_table(labels: &[String], y: &[f64], pd: &[f64]) -> Vec<PeriodRow> {
    let mut rows: Vec<PeriodRow> = groups(labels)
        .into_iter()
        .map(|(period, idx)| {
            let (ys, ps) = (pick(y, &idx), pick(pd, &idx));
            let n = idx.len() as f64;
            PeriodRow {
                period: period.to_string(),
                rows: idx.len(),
                default_rate: ys.iter().sum::<f64>() / n,
                mean_pd: ps.iter().sum::<f64>() / n,
                roc_auc: roc_auc(&ys, &ps).ok(),
            }
        })
        .collect();
    rows.sort_by(
        |a, b| match (a.period.parse::<f64>(), b.period.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.total_cmp(&y),
            _ => a.period.cmp(&b.period),
        },
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn segment_metrics_by_hand() {
        // F: y 1,0,0,0  pd .30,.10,.20,.05 → approved (pd < .15) 2 of 4 = 0.5; AUC 1 (the default
        //    has the highest PD); mean PD .1625; ECE: bins [0,.1) {.05: 0}, [.1,.2) {.10: 0},
        //    [.2,.3) {.20: 0}, [.3,.4) {.30: 1} → (.05 + .10 + .20 + .70) / 4 = .2625.
        // M: y 0,1,0  pd .01,.02,.12 → approved 3 of 3 = 1; AUC: the default (.02) beats .01 and
        //    loses to .12 → 0.5; one bin [0,.1) {.01,.02: rate .5, mean .015} and [.1,.2) {.12: 0}
        //    → (2·|.015 − .5| + .12) / 3 = (0.97 + 0.12) / 3.
        let labels: Vec<String> = ["F", "F", "F", "F", "M", "M", "M"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let y = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let pd = [0.30, 0.10, 0.20, 0.05, 0.01, 0.02, 0.12];
        let rule = SegmentRule {
            threshold: 0.15,
            min_ratio: 0.8,
            min_rows: 1,
        };
        let a = segment_table("gender", "CODE_GENDER", &labels, &y, &pd, rule);
        let (f, m) = (&a.segments[0], &a.segments[1]);
        assert_eq!((f.value.as_str(), f.rows, f.defaults), ("F", 4, 1));
        assert!(close(f.default_rate, 0.25) && close(f.mean_pd, 0.1625));
        assert!(close(f.roc_auc.unwrap(), 1.0) && close(f.ece, 0.2625));
        assert!(close(f.approval_rate, 0.5));
        assert!(close(m.approval_rate, 1.0) && close(m.roc_auc.unwrap(), 0.5));
        assert!(close(m.ece, (0.97 + 0.12) / 3.0));
        assert!(close(m.mean_pd, 0.05));
        assert_eq!(a.most_approved.as_deref(), Some("M"));
        assert!(close(f.adverse_impact_ratio.unwrap(), 0.5) && f.flagged);
        assert!(!m.flagged);
        assert_eq!(a.flagged, ["F"]);
        // Too small to judge: reported, not flagged, not the reference.
        let a = segment_table(
            "gender",
            "CODE_GENDER",
            &labels,
            &y,
            &pd,
            SegmentRule {
                min_rows: 4,
                ..rule
            },
        );
        assert_eq!(a.most_approved.as_deref(), Some("F"));
        assert!(a.flagged.is_empty());
        assert!(close(a.segments[1].adverse_impact_ratio.unwrap(), 2.0));
        // One class only: no AUC.
        let one = segment_table("x", "x", &labels[..1], &y[..1], &pd[..1], rule);
        assert_eq!(one.segments[0].roc_auc, None);
    }

    #[test]
    fn periods_sort_numerically_with_their_auc() {
        let labels: Vec<String> = ["10", "9", "10", "9"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let rows = period_table(&labels, &[1.0, 0.0, 0.0, 1.0], &[0.9, 0.2, 0.1, 0.3]);
        assert_eq!(rows[0].period, "9");
        assert!(close(rows[0].roc_auc.unwrap(), 1.0) && close(rows[0].mean_pd, 0.25));
        assert!(close(rows[1].default_rate, 0.5));
    }
}
