//! Rebalancing options from the original design: majority downsampling, SMOTE and balanced class
//! weights, all seeded. Each one changes the class prior the learner sees; the log-odds shift it
//! causes is recorded so calibration can map scores back to the true base rate.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use creditrisk_base::config::{ClassWeight, TrainingConfig};
use creditrisk_base::error::{Error, Result};

/// Distinguishes the rebalancing random stream from the split streams of the same seed.
const REBALANCE_SALT: u64 = 0x5EBA_1A4C;
const DOWNSAMPLE_SALT: u64 = 0xD0_5A3F;

/// What rebalancing did, saved in the bundle metadata.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RebalanceSummary {
    pub rows_in: usize,
    pub defaults_in: usize,
    pub majority_dropped: usize,
    pub synthetic_minority: usize,
    /// Weight of class 0 and class 1.
    pub class_weights: [f64; 2],
    /// Default rate of the training rows before rebalancing.
    pub base_rate: f64,
    /// Weighted default rate the learner saw.
    pub effective_rate: f64,
    /// logit(effective_rate) − logit(base_rate): what prior correction subtracts.
    pub log_odds_shift: f64,
}

/// The learner's training rows after rebalancing (column-major design matrix).
pub struct Rebalanced {
    pub x: Vec<f64>,
    pub rows: usize,
    pub y: Vec<f64>,
    pub weights: Vec<f64>,
    pub summary: RebalanceSummary,
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Rows kept by majority downsampling (`training.downsample_majority`), or None when it is off.
/// Runs on the labels alone so the design matrix is only built for the kept rows.
pub fn downsample_plan(y: &[f64], t: &TrainingConfig) -> Option<Vec<usize>> {
    if !t.downsample_majority {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(t.random_state ^ DOWNSAMPLE_SALT);
    Some(downsample_majority(
        y,
        minority_class(y),
        t.downsample_ratio,
        &mut rng,
    ))
}

/// The rarer label (1 = default unless defaults are the majority).
fn minority_class(y: &[f64]) -> f64 {
    let defaults = y.iter().filter(|v| **v == 1.0).count();
    if defaults * 2 <= y.len() { 1.0 } else { 0.0 }
}

/// SMOTE and class weights on the learner's rows `x` (column-major, `rows` × `cols`), after
/// any downsampling. `original` is the labels of all training rows before downsampling, so the
/// summary and the prior shift refer to the true base rate. `columns` says how SMOTE
/// treats each design column.
#[allow(clippy::too_many_arguments)]
pub fn rebalance(
    x: Vec<f64>,
    rows: usize,
    cols: usize,
    y: Vec<f64>,
    original: &[f64],
    t: &TrainingConfig,
    columns: &[SmoteColumn],
) -> Result<Rebalanced> {
    let mut rng = ChaCha8Rng::seed_from_u64(t.random_state ^ REBALANCE_SALT);
    let rows_in = original.len();
    let defaults_in = original.iter().filter(|v| **v == 1.0).count();
    let base_rate = defaults_in as f64 / rows_in.max(1) as f64;
    let minority = minority_class(original);
    let majority_dropped = rows_in - rows;
    let (mut x, mut rows, mut y) = (x, rows, y);

    let mut synthetic_minority = 0;
    if t.use_smote {
        let min_idx: Vec<usize> = (0..rows).filter(|&i| y[i] == minority).collect();
        let n_major = rows - min_idx.len();
        let wanted = (t.smote_sampling_strategy * n_major as f64).ceil() as usize;
        let n_new = wanted.saturating_sub(min_idx.len());
        if n_new > 0 {
            if min_idx.len() < 2 {
                return Err(Error::input(format!(
                    "SMOTE needs at least 2 minority rows in the training split, found {}; \
                     set training.use_smote: false",
                    min_idx.len()
                )));
            }
            let synthetic = smote(
                &x,
                rows,
                cols,
                &min_idx,
                n_new,
                t.smote_k_neighbors,
                columns,
                &mut rng,
            );
            x = append_rows(&x, rows, cols, &synthetic, n_new);
            y.extend(std::iter::repeat_n(minority, n_new));
            rows += n_new;
            synthetic_minority = n_new;
        }
    }

    let positives = y.iter().filter(|v| **v == 1.0).count();
    let class_weights = match t.class_weight {
        ClassWeight::None => [1.0, 1.0],
        // sklearn's "balanced": n / (classes × n_class).
        ClassWeight::Balanced => [
            rows as f64 / (2.0 * (rows - positives).max(1) as f64),
            rows as f64 / (2.0 * positives.max(1) as f64),
        ],
    };
    let weights: Vec<f64> = y.iter().map(|v| class_weights[*v as usize]).collect();
    let weighted_pos: f64 = y.iter().zip(&weights).map(|(y, w)| y * w).sum();
    let effective_rate = weighted_pos / weights.iter().sum::<f64>();
    let log_odds_shift = if base_rate > 0.0 && base_rate < 1.0 {
        logit(effective_rate) - logit(base_rate)
    } else {
        0.0
    };
    Ok(Rebalanced {
        x,
        rows,
        y,
        weights,
        summary: RebalanceSummary {
            rows_in,
            defaults_in,
            majority_dropped,
            synthetic_minority,
            class_weights,
            base_rate,
            effective_rate,
            log_odds_shift,
        },
    })
}

/// Rows kept when the majority class is cut to `ratio` rows per minority row (sorted).
pub fn downsample_majority(
    y: &[f64],
    minority: f64,
    ratio: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let (minor, mut major): (Vec<usize>, Vec<usize>) =
        (0..y.len()).partition(|&i| y[i] == minority);
    let keep_major = ((ratio * minor.len() as f64).ceil() as usize).min(major.len());
    major.shuffle(rng);
    major.truncate(keep_major);
    let mut keep = minor;
    keep.extend(major);
    keep.sort_unstable();
    keep
}

/// Append `n_new` row-major rows to a column-major matrix.
fn append_rows(x: &[f64], rows: usize, cols: usize, new_rows: &[f64], n_new: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity((rows + n_new) * cols);
    for c in 0..cols {
        out.extend_from_slice(&x[c * rows..(c + 1) * rows]);
        out.extend((0..n_new).map(|r| new_rows[r * cols + c]));
    }
    out
}

/// How SMOTE treats one design column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmoteColumn {
    /// Numeric: interpolated between the two rows (copied from the base row when either is NaN).
    Interpolate,
    /// Category codes and missing indicators: copied from the base row.
    Copy,
    /// A numeric column imputed where the indicator column (this index) marks a missing value:
    /// interpolated only when both rows observed it, else copied together with its indicator.
    /// Indicators are standardised, so "missing" is a value above 0 (the centre lies in (0, 1)).
    Imputed(usize),
}

/// SMOTE (Chawla et al. 2002): each synthetic point lies on the segment between a random
/// minority row and one of its `k` nearest minority neighbours, found in standardised numeric
/// space (NaN counts as the mean there). Columns are interpolated or copied as `columns` says;
/// values missing at either end are copied from the base row. Returns `n_new` rows, row-major.
#[allow(clippy::too_many_arguments)]
pub fn smote(
    x: &[f64],
    rows: usize,
    cols: usize,
    minority: &[usize],
    n_new: usize,
    k: usize,
    columns: &[SmoteColumn],
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let m = minority.len();
    let numeric: Vec<usize> = (0..cols)
        .filter(|&c| columns.get(c) != Some(&SmoteColumn::Copy))
        .collect();
    let z = standardised(x, rows, minority, &numeric);
    let neighbours = nearest_neighbours(&z, m, numeric.len(), k.min(m - 1));
    let mut out = Vec::with_capacity(n_new * cols);
    for _ in 0..n_new {
        let a = rng.random_range(0..m);
        let b = neighbours[a][rng.random_range(0..neighbours[a].len())] as usize;
        let gap: f64 = rng.random();
        let (ra, rb) = (minority[a], minority[b]);
        for c in 0..cols {
            let (va, vb) = (x[c * rows + ra], x[c * rows + rb]);
            let interpolate = match columns.get(c).copied().unwrap_or(SmoteColumn::Interpolate) {
                SmoteColumn::Copy => false,
                SmoteColumn::Interpolate => !va.is_nan() && !vb.is_nan(),
                SmoteColumn::Imputed(ind) => x[ind * rows + ra] <= 0.0 && x[ind * rows + rb] <= 0.0,
            };
            out.push(if interpolate {
                va + gap * (vb - va)
            } else {
                va
            });
        }
    }
    out
}

/// Minority rows standardised on the numeric columns, row-major f32 (NaN → 0, the mean).
fn standardised(x: &[f64], rows: usize, minority: &[usize], numeric: &[usize]) -> Vec<f32> {
    let (m, d) = (minority.len(), numeric.len());
    let mut z = vec![0f32; m * d];
    for (j, &c) in numeric.iter().enumerate() {
        let col = &x[c * rows..(c + 1) * rows];
        let present: Vec<f64> = minority
            .iter()
            .map(|&i| col[i])
            .filter(|v| !v.is_nan())
            .collect();
        let n = present.len().max(1) as f64;
        let mean = present.iter().sum::<f64>() / n;
        let sd = (present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        for (r, &i) in minority.iter().enumerate() {
            let v = col[i];
            z[r * d + j] = if v.is_nan() {
                0.0
            } else {
                ((v - mean) / sd) as f32
            };
        }
    }
    z
}

/// Squared distance with 8 independent accumulators so the loop vectorises.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// The `k` nearest other rows of each row (brute force, parallel over rows; ties keep the lower
/// index so the result does not depend on threads).
fn nearest_neighbours(z: &[f32], m: usize, d: usize, k: usize) -> Vec<Vec<u32>> {
    (0..m)
        .into_par_iter()
        .map(|i| {
            let zi = &z[i * d..(i + 1) * d];
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
            for j in 0..m {
                if j == i {
                    continue;
                }
                let dist = squared_distance(zi, &z[j * d..(j + 1) * d]);
                if best.len() < k || dist < best[best.len() - 1].0 {
                    let pos = best.partition_point(|b| b.0 <= dist);
                    best.insert(pos, (dist, j as u32));
                    best.truncate(k);
                }
            }
            best.into_iter().map(|b| b.1).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smote_points_lie_on_segments_between_minority_neighbours() {
        // Minority rows: two far-apart clusters; 1-NN pairs stay inside a cluster.
        let pts = [(0.0, 0.0), (1.0, 0.0), (100.0, 100.0), (101.0, 100.0)];
        let rows = pts.len();
        let mut x = vec![0.0; rows * 2];
        for (i, (a, b)) in pts.iter().enumerate() {
            x[i] = *a;
            x[rows + i] = *b;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let out = smote(
            &x,
            rows,
            2,
            &[0, 1, 2, 3],
            50,
            1,
            &[SmoteColumn::Interpolate; 2],
            &mut rng,
        );
        assert_eq!(out.len(), 100);
        for p in out.chunks(2) {
            let in_low = (0.0..=1.0).contains(&p[0]) && p[1] == 0.0;
            let in_high = (100.0..=101.0).contains(&p[0]) && p[1] == 100.0;
            assert!(in_low || in_high, "{p:?} is not between neighbours");
        }
    }

    #[test]
    fn smote_copies_categorical_columns_from_the_base_row() {
        let rows = 3;
        let x = vec![0.0, 1.0, 2.0, 5.0, 6.0, 7.0];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let columns = [SmoteColumn::Interpolate, SmoteColumn::Copy];
        let out = smote(&x, rows, 2, &[0, 1, 2], 30, 2, &columns, &mut rng);
        for p in out.chunks(2) {
            assert!([5.0, 6.0, 7.0].contains(&p[1]));
            assert!((0.0..=2.0).contains(&p[0]));
        }
    }

    #[test]
    fn smote_never_blends_an_imputed_value() {
        // Column 0 is a value imputed (median 9.0) where its standardised indicator (column 1) is
        // above 0. Rows 0 and 1 observed it; row 2 did not.
        let rows = 3;
        let x = vec![1.0, 2.0, 9.0, -0.7, -0.7, 1.4];
        let columns = [SmoteColumn::Imputed(1), SmoteColumn::Copy];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let out = smote(&x, rows, 2, &[0, 1, 2], 60, 2, &columns, &mut rng);
        let mut blended = 0;
        for p in out.chunks(2) {
            if p[1] > 0.0 {
                assert_eq!(p[0], 9.0, "a row missing the value keeps the imputed one");
            } else {
                assert!((1.0..=2.0).contains(&p[0]), "{p:?} blends an imputed value");
                blended += usize::from(p[0] != 1.0 && p[0] != 2.0);
            }
        }
        assert!(blended > 0, "observed pairs are still interpolated");
    }

    #[test]
    fn rebalancing_records_the_prior_shift() {
        let rows = 100;
        let y: Vec<f64> = (0..rows)
            .map(|i| f64::from(u8::from(i % 10 == 0)))
            .collect();
        let x: Vec<f64> = (0..rows).map(|i| i as f64).collect();
        let cfg = creditrisk_base::Config::load_with_overrides(
            &std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join("configs/baseline.yaml"),
            &[],
        )
        .unwrap();
        let mut t = cfg.training.clone();
        t.downsample_majority = true;
        t.downsample_ratio = 3.0;
        let keep = downsample_plan(&y, &t).unwrap();
        let xk: Vec<f64> = keep.iter().map(|&i| x[i]).collect();
        let yk: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
        let r = rebalance(xk, keep.len(), 1, yk, &y, &t, &[SmoteColumn::Interpolate]).unwrap();
        assert_eq!(r.summary.majority_dropped, 60);
        assert_eq!(r.rows, 40);
        assert!((r.summary.effective_rate - 0.25).abs() < 1e-12);
        let expected = (0.25f64 / 0.75).ln() - (0.1f64 / 0.9).ln();
        assert!((r.summary.log_odds_shift - expected).abs() < 1e-12);

        t.downsample_majority = false;
        t.class_weight = ClassWeight::Balanced;
        assert!(downsample_plan(&y, &t).is_none());
        let r = rebalance(x, rows, 1, y.clone(), &y, &t, &[SmoteColumn::Interpolate]).unwrap();
        assert!((r.summary.effective_rate - 0.5).abs() < 1e-12);
    }
}
