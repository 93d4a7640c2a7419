//! Calibration: maps the learner's log-odds to a PD at the true base rate. Fitted on the
//! validation slice (never on the rows the learner saw), so it also undoes the prior shift of
//! rebalancing.
//!
//! - `prior_correction`: subtract the log-odds shift rebalancing caused (King & Zeng 2001).
//! - `isotonic`: pool-adjacent-violators on the validation slice; the PD is interpolated linearly
//!   between the centres of the pooled blocks ("centred isotonic regression"), so it stays
//!   strictly increasing between blocks and the score ranking (AUC) is kept.
//! - `platt`: a 1-D logistic regression on the log-odds.

use serde::{Deserialize, Serialize};

use creditrisk_base::config::Calibration;
use creditrisk_base::error::{Error, Result};

/// PDs are kept inside (0, 1) so log loss stays finite.
pub const PD_FLOOR: f64 = 1e-6;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibrator {
    None,
    PriorCorrection {
        log_odds_shift: f64,
    },
    Isotonic {
        knots_logit: Vec<f64>,
        knots_pd: Vec<f64>,
    },
    Platt {
        slope: f64,
        intercept: f64,
    },
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibrator {
    /// Fit `method` on validation log-odds `scores` and labels `y`.
    pub fn fit(
        method: Calibration,
        scores: &[f64],
        y: &[f64],
        log_odds_shift: f64,
    ) -> Result<Self> {
        if scores.len() != y.len() || scores.is_empty() {
            return Err(Error::model(
                "calibration needs a non-empty validation slice",
            ));
        }
        Ok(match method {
            Calibration::None => Calibrator::None,
            Calibration::PriorCorrection => Calibrator::PriorCorrection { log_odds_shift },
            Calibration::Isotonic => {
                let (knots_logit, knots_pd) = isotonic_knots(scores, y);
                Calibrator::Isotonic {
                    knots_logit,
                    knots_pd,
                }
            }
            Calibration::Platt => {
                let (slope, intercept) = platt(scores, y);
                Calibrator::Platt { slope, intercept }
            }
        })
    }

    /// The PD for one log-odds score.
    pub fn pd(&self, score: f64) -> f64 {
        let p = match self {
            Calibrator::None => sigmoid(score),
            Calibrator::PriorCorrection { log_odds_shift } => sigmoid(score - log_odds_shift),
            Calibrator::Isotonic {
                knots_logit,
                knots_pd,
            } => interpolate(knots_logit, knots_pd, score),
            Calibrator::Platt { slope, intercept } => sigmoid(slope * score + intercept),
        };
        p.clamp(PD_FLOOR, 1.0 - PD_FLOOR)
    }

    pub fn method(&self) -> &'static str {
        match self {
            Calibrator::None => "none",
            Calibrator::PriorCorrection { .. } => "prior_correction",
            Calibrator::Isotonic { .. } => "isotonic",
            Calibrator::Platt { .. } => "platt",
        }
    }
}

fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[xs.len() - 1] {
        return ys[ys.len() - 1];
    }
    let j = xs.partition_point(|k| *k <= x); // xs[j-1] <= x < xs[j]
    let (x0, x1, y0, y1) = (xs[j - 1], xs[j], ys[j - 1], ys[j]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// PAV blocks as (weighted mean score, mean label) knots, increasing in both.
pub fn isotonic_knots(scores: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Blocks: (sum of scores, sum of labels, count). Tied scores start in one block.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    let mut last = f64::NAN;
    for &i in &order {
        if scores[i] == last {
            let b = blocks
                .last_mut()
                .expect("a block exists for a repeated score");
            b.0 += scores[i];
            b.1 += y[i];
            b.2 += 1.0;
        } else {
            blocks.push((scores[i], y[i], 1.0));
            last = scores[i];
        }
        // Pool while the previous block's mean is not below the last one's.
        while blocks.len() > 1 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.1 / a.2 < b.1 / b.2 {
                break;
            }
            blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
            blocks.pop();
        }
    }
    blocks.iter().map(|(s, l, n)| (s / n, l / n)).unzip()
}

/// Platt scaling by Newton's method on (slope, intercept).
fn platt(scores: &[f64], y: &[f64]) -> (f64, f64) {
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (s, t) in scores.iter().zip(y) {
            let p = sigmoid(a * s + b);
            let r = p - t;
            let h = (p * (1.0 - p)).max(1e-12);
            ga += r * s;
            gb += r;
            haa += h * s * s;
            hab += h * s;
            hbb += h;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() < 1e-10 && db.abs() < 1e-10 {
            break;
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Scores that rank well but are shifted by +2 log-odds (as after rebalancing).
    fn shifted_scores() -> (Vec<f64>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut scores = Vec::new();
        let mut y = Vec::new();
        for _ in 0..20_000 {
            let z: f64 = -2.5 + 1.5 * (rng.random::<f64>() * 2.0 - 1.0);
            y.push(f64::from(u8::from(rng.random::<f64>() < sigmoid(z))));
            scores.push(z + 2.0);
        }
        (scores, y)
    }

    #[test]
    fn every_method_brings_the_mean_pd_to_the_observed_rate() {
        let (scores, y) = shifted_scores();
        let rate = y.iter().sum::<f64>() / y.len() as f64;
        let raw_mean = scores.iter().map(|s| sigmoid(*s)).sum::<f64>() / y.len() as f64;
        assert!((raw_mean - rate).abs() > 0.1);
        for method in [
            Calibration::PriorCorrection,
            Calibration::Isotonic,
            Calibration::Platt,
        ] {
            let cal = Calibrator::fit(method, &scores, &y, 2.0).unwrap();
            let mean = scores.iter().map(|s| cal.pd(*s)).sum::<f64>() / y.len() as f64;
            assert!(
                (mean - rate).abs() < 0.005,
                "{method:?}: mean PD {mean} vs rate {rate}"
            );
        }
    }

    #[test]
    fn isotonic_is_monotone_and_pools_violators() {
        let (xs, ys) = isotonic_knots(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0, 0.0, 1.0]);
        assert_eq!(xs, vec![1.0, 2.5, 4.0]);
        assert_eq!(ys, vec![0.0, 0.5, 1.0]);
        let cal = Calibrator::Isotonic {
            knots_logit: xs,
            knots_pd: ys,
        };
        assert!(cal.pd(1.5) < cal.pd(2.0) && cal.pd(2.0) < cal.pd(3.0));
    }
}
