//! Discrimination and calibration metrics of a PD against observed defaults (1 = default).
//! Hand-written because each is a few lines and the conventions matter: AUC averages the ranks
//! of tied scores, ECE uses 10 equal-width PD bins, the decision is "decline" at PD ≥ threshold
//! and a default is the positive class; precision (recall) is 0 when nothing is declined (no
//! default exists).

use serde::{Deserialize, Serialize};

pub mod bands;
pub mod segments;

use bands::{BandRow, band_table};
pub use creditrisk_base::config::MetricName;
use creditrisk_base::error::{Error, Result};

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 10;
/// Probabilities are clipped to [ε, 1 − ε] in log loss.
const LOG_LOSS_EPS: f64 = 1e-15;

/// Counts at the decision threshold (positive = default / decline).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Confusion {
    pub true_positive: usize,
    pub false_positive: usize,
    pub true_negative: usize,
    pub false_negative: usize,
}

impl Confusion {
    pub fn at_threshold(y: &[f64], pd: &[f64], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for (t, p) in y.iter().zip(pd) {
            match (*t == 1.0, *p >= threshold) {
                (true, true) => c.true_positive += 1,
                (false, true) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (true, false) => c.false_negative += 1,
            }
        }
        c
    }
    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 { 0.0 } else { a as f64 / b as f64 }
    }
    pub fn accuracy(&self) -> f64 {
        let total =
            self.true_positive + self.false_positive + self.true_negative + self.false_negative;
        Self::ratio(self.true_positive + self.true_negative, total)
    }
    pub fn precision(&self) -> f64 {
        Self::ratio(self.true_positive, self.true_positive + self.false_positive)
    }
    pub fn recall(&self) -> f64 {
        Self::ratio(self.true_positive, self.true_positive + self.false_negative)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Everything `evaluate` reports for one split (also the bundle's validation metrics).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    pub rows: usize,
    pub defaults: usize,
    pub default_rate: f64,
    pub mean_pd: f64,
    pub roc_auc: f64,
    pub gini: f64,
    pub ks: f64,
    pub brier: f64,
    /// Brier score of always predicting the observed default rate: the bar to beat.
    pub brier_base_rate: f64,
    pub log_loss: f64,
    pub ece: f64,
    pub ece_bins: usize,
    pub ece_binning: String,
    pub decision_threshold: f64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Share of applicants approved (PD below the threshold).
    pub approval_rate: f64,
    pub confusion: Confusion,
    pub pd_bands: Vec<BandRow>,
}

impl Metrics {
    /// The value of a named metric.
    pub fn get(&self, name: MetricName) -> f64 {
        match name {
            MetricName::RocAuc => self.roc_auc,
            MetricName::Gini => self.gini,
            MetricName::Ks => self.ks,
            MetricName::Brier => self.brier,
            MetricName::LogLoss => self.log_loss,
            MetricName::Ece => self.ece,
            MetricName::Accuracy => self.accuracy,
            MetricName::Precision => self.precision,
            MetricName::Recall => self.recall,
            MetricName::F1 => self.f1,
            MetricName::ApprovalRate => self.approval_rate,
        }
    }
}

/// An error naming `what` when the labels are all one class (AUC, KS… are undefined).
pub fn require_both_classes(y: &[f64], what: &str) -> Result<()> {
    let defaults = y.iter().filter(|v| **v == 1.0).count();
    if y.is_empty() || defaults == 0 || defaults == y.len() {
        let class = if defaults == 0 {
            "0 (no default)"
        } else {
            "1 (default)"
        };
        return Err(Error::input(format!(
            "{what}: all {} labels are {class}; AUC, Gini and KS need both defaults and \
             non-defaults — use more data or a different split",
            y.len()
        )));
    }
    Ok(())
}

fn check_inputs(y: &[f64], pd: &[f64]) -> Result<()> {
    if y.len() != pd.len() {
        return Err(Error::model(format!(
            "{} labels but {} predictions",
            y.len(),
            pd.len()
        )));
    }
    if let Some(i) = pd.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(Error::model(format!(
            "prediction {i} is {}, not a probability",
            pd[i]
        )));
    }
    if let Some(i) = y.iter().position(|t| *t != 0.0 && *t != 1.0) {
        return Err(Error::input(format!(
            "label {i} is {}, labels must be 0 or 1",
            y[i]
        )));
    }
    require_both_classes(y, "metrics")
}

/// Positions sorted by score, and the tie groups as ranges of that order.
fn tie_groups(score: &[f64]) -> (Vec<usize>, Vec<std::ops::Range<usize>>) {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len() || score[order[i]] != score[order[start]] {
            groups.push(start..i);
            start = i;
        }
    }
    (order, groups)
}

/// ROC AUC by the Mann–Whitney statistic with average ranks for ties.
pub fn roc_auc(y: &[f64], score: &[f64]) -> Result<f64> {
    require_both_classes(y, "roc_auc")?;
    let (order, groups) = tie_groups(score);
    let mut rank_sum = 0.0;
    for g in groups {
        let avg_rank = (g.start + 1 + g.end) as f64 / 2.0; // ranks start..end are 1-based g.start+1..=g.end
        let positives = order[g].iter().filter(|&&i| y[i] == 1.0).count();
        rank_sum += avg_rank * positives as f64;
    }
    let n_pos = y.iter().filter(|v| **v == 1.0).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    Ok((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Kolmogorov–Smirnov: the largest gap between the score distributions of defaults and
/// non-defaults (tied scores move together).
pub fn ks_statistic(y: &[f64], score: &[f64]) -> Result<f64> {
    require_both_classes(y, "ks")?;
    let n_pos = y.iter().filter(|v| **v == 1.0).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    let (order, groups) = tie_groups(score);
    let (mut cum_pos, mut cum_neg, mut ks) = (0.0, 0.0, 0.0f64);
    for g in groups {
        for &i in &order[g] {
            if y[i] == 1.0 {
                cum_pos += 1.0
            } else {
                cum_neg += 1.0
            }
        }
        ks = ks.max((cum_neg / n_neg - cum_pos / n_pos).abs());
    }
    Ok(ks)
}

pub fn brier(y: &[f64], pd: &[f64]) -> f64 {
    y.iter().zip(pd).map(|(t, p)| (p - t).powi(2)).sum::<f64>() / y.len().max(1) as f64
}

pub fn log_loss(y: &[f64], pd: &[f64]) -> f64 {
    let total: f64 = y
        .iter()
        .zip(pd)
        .map(|(t, p)| {
            let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
        })
        .sum();
    total / y.len().max(1) as f64
}

/// Expected calibration error over `bins` equal-width PD bins: Σ (n_b / n)·|mean PD_b − rate_b|.
pub fn ece(y: &[f64], pd: &[f64], bins: usize) -> f64 {
    let total = y.len().max(1) as f64;
    reliability(y, pd, bins)
        .into_iter()
        .map(|(mean_pd, rate, n)| n as f64 * (mean_pd - rate).abs() / total)
        .sum()
}

/// (false positive rate, true positive rate) at every distinct threshold, from (0,0) to (1,1).
pub fn roc_curve(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let n_pos = y.iter().filter(|v| **v == 1.0).count().max(1) as f64;
    let n_neg = (y.len() as f64 - y.iter().filter(|v| **v == 1.0).count() as f64).max(1.0);
    let (order, groups) = tie_groups(score);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    for g in groups.into_iter().rev() {
        for &i in &order[g] {
            if y[i] == 1.0 { tp += 1.0 } else { fp += 1.0 }
        }
        points.push((fp / n_neg, tp / n_pos));
    }
    points
}

/// (recall, precision) at every distinct threshold, highest threshold first.
pub fn pr_curve(y: &[f64], score: &[f64]) -> Vec<(f64, f64)> {
    let n_pos = y.iter().filter(|v| **v == 1.0).count().max(1) as f64;
    let (order, groups) = tie_groups(score);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = Vec::new();
    for g in groups.into_iter().rev() {
        for &i in &order[g] {
            if y[i] == 1.0 { tp += 1.0 } else { fp += 1.0 }
        }
        points.push((tp / n_pos, tp / (tp + fp)));
    }
    points
}

/// Reliability diagram bins: (mean PD, observed rate, count) for each non-empty bin.
pub fn reliability(y: &[f64], pd: &[f64], bins: usize) -> Vec<(f64, f64, usize)> {
    let mut n = vec![0usize; bins];
    let mut sum_pd = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    for (t, p) in y.iter().zip(pd) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        n[b] += 1;
        sum_pd[b] += p;
        sum_y[b] += t;
    }
    (0..bins)
        .filter(|&b| n[b] > 0)
        .map(|b| (sum_pd[b] / n[b] as f64, sum_y[b] / n[b] as f64, n[b]))
        .collect()
}

/// All metrics of `pd` against labels `y`.
pub fn compute(y: &[f64], pd: &[f64], threshold: f64, pd_bands: &[f64]) -> Result<Metrics> {
    check_inputs(y, pd)?;
    let n = y.len();
    let defaults = y.iter().filter(|v| **v == 1.0).count();
    let rate = defaults as f64 / n as f64;
    let roc_auc = roc_auc(y, pd)?;
    let confusion = Confusion::at_threshold(y, pd, threshold);
    Ok(Metrics {
        rows: n,
        defaults,
        default_rate: rate,
        mean_pd: pd.iter().sum::<f64>() / n as f64,
        roc_auc,
        gini: 2.0 * roc_auc - 1.0,
        ks: ks_statistic(y, pd)?,
        brier: brier(y, pd),
        brier_base_rate: rate * (1.0 - rate),
        log_loss: log_loss(y, pd),
        ece: ece(y, pd, ECE_BINS),
        ece_bins: ECE_BINS,
        ece_binning: "equal_width".to_string(),
        decision_threshold: threshold,
        accuracy: confusion.accuracy(),
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        approval_rate: (confusion.true_negative + confusion.false_negative) as f64 / n as f64,
        confusion,
        pd_bands: band_table(y, pd, pd_bands),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn auc_handles_ties_with_average_ranks() {
        // Pairs (pos, neg): (0.8,0.1) 1, (0.8,0.4) 1, (0.8,0.8) ½, (0.4,0.1) 1, (0.4,0.4) ½,
        // (0.4,0.8) 0 → 4/6.
        let y = [1.0, 1.0, 0.0, 0.0, 0.0];
        let s = [0.8, 0.4, 0.1, 0.4, 0.8];
        assert!(close(roc_auc(&y, &s).unwrap(), 4.0 / 6.0));
        assert!(close(roc_auc(&[0.0, 1.0], &[0.3, 0.3]).unwrap(), 0.5));
        assert!(close(
            roc_auc(&[0.0, 0.0, 1.0, 1.0], &[0.1, 0.2, 0.3, 0.4]).unwrap(),
            1.0
        ));
    }

    #[test]
    fn ks_brier_log_loss_by_hand() {
        let y = [0.0, 0.0, 1.0, 1.0];
        let p = [0.1, 0.6, 0.4, 0.9];
        // Sorted: 0.1 (neg) → |0.5-0|; 0.4 (pos) → |0.5-0.5|; 0.6 (neg) → |1-0.5|; → 0.5
        assert!(close(ks_statistic(&y, &p).unwrap(), 0.5));
        assert!(close(brier(&y, &p), (0.01 + 0.36 + 0.36 + 0.01) / 4.0));
        let ll = -(0.9f64.ln() + 0.4f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 4.0;
        assert!(close(log_loss(&y, &p), ll));
    }

    #[test]
    fn ece_uses_ten_equal_width_bins() {
        // Bin [0.1,0.2): pd 0.1, 0.1, rates 0, 1 → |0.1−0.5|·2/4; bin [0.9,1]: pd 0.9 ×2, rate 1 → 0.1·2/4.
        let y = [0.0, 1.0, 1.0, 1.0];
        let p = [0.1, 0.1, 0.9, 0.9];
        assert!(close(ece(&y, &p, 10), 0.4 * 0.5 + 0.1 * 0.5));
        assert!(close(ece(&[1.0], &[1.0], 10), 0.0));
    }

    #[test]
    fn confusion_and_f1_at_threshold() {
        let y = [1.0, 1.0, 0.0, 0.0, 1.0];
        let p = [0.2, 0.15, 0.15, 0.05, 0.01];
        let c = Confusion::at_threshold(&y, &p, 0.15);
        assert_eq!(
            (
                c.true_positive,
                c.false_positive,
                c.true_negative,
                c.false_negative
            ),
            (2, 1, 1, 1)
        );
        assert!(close(c.precision(), 2.0 / 3.0));
        assert!(close(c.recall(), 2.0 / 3.0));
        assert!(close(c.f1(), 2.0 / 3.0));
        assert!(close(c.accuracy(), 3.0 / 5.0));
        assert_eq!(Confusion::default().f1(), 0.0);
    }

    #[test]
    fn one_class_labels_are_a_clear_error() {
        let err = compute(&[0.0, 0.0], &[0.1, 0.2], 0.5, &[0.1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("all 2 labels are 0"), "{err}");
        assert!(roc_auc(&[1.0], &[0.3]).is_err());
    }

    #[test]
    fn curves_span_the_unit_square() {
        let y = [0.0, 1.0, 0.0, 1.0];
        let p = [0.1, 0.9, 0.5, 0.5];
        let roc = roc_curve(&y, &p);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert_eq!(pr_curve(&y, &p)[0], (0.5, 1.0));
    }
}
