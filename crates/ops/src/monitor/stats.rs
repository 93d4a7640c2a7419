//! The two-sample drift statistics, computed as Evidently computes them (scipy underneath), so a
//! user comparing our report with Evidently's sees the same numbers. Pure functions on values
//! that are already free of NULLs (Evidently drops NULL and ±inf before every test).
//!
//! * KS: scipy's `ks_2samp(a, b)` two-sided statistic and p-value, by scipy's exact method (the
//!   one its default `method='auto'` picks when both samples have at most 10,000 values, which
//!   `monitoring.sample_rows` guarantees): equal sizes by the closed form
//!   `_compute_prob_outside_square`, unequal sizes by the lattice-path recursion of
//!   `_compute_outer_prob_inside_method` (Hodges 1958, in the numerically stable 1 − p form of
//!   Viehmann 2021).
//! * Wasserstein: scipy's `wasserstein_distance` (area between the two empirical CDFs), divided
//!   by `max(np.std(reference), 0.001)` (population std) as Evidently's `wasserstein` test does.
//! * Chi-squared: scipy's `chisquare(f_obs, f_exp)` with the current counts observed and the
//!   reference proportions × the current size expected, over the union of categories; the
//!   survival function of χ²(k − 1) from statrs.
//! * Z-test: Evidently's `z` test of two proportions for columns with at most two values (the
//!   share of the first category on each side, pooled variance), p = 2·(1 − Φ(|z|)).
//! * Jensen-Shannon: scipy's `distance.jensenshannon(p, q)` (natural log, so the distance lies in
//!   [0, √ln 2]) on category shares, without zero filling (Evidently's `jensenshannon` test).
//! * PSI: Σ (r − c)·ln(r / c) over bins, with Evidently's zero filling (an empty bin counts as
//!   0.0001, or a millionth of the smallest non-empty share when that is ≤ 0.0001); numeric
//!   columns on the quantile bins of the reference, categorical ones per category.

use std::collections::BTreeMap;

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// A test statistic with its p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tested {
    pub statistic: f64,
    pub p_value: f64,
}

/// Two-sided two-sample Kolmogorov-Smirnov test (scipy `ks_2samp`, exact method). Both samples
/// must be non-empty. The statistic is scipy's: the largest ECDF gap, rounded to the lattice
/// `h / lcm(n1, n2)` the exact distribution lives on.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Tested {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n1, n2) = (a.len(), b.len());
    // The largest |ECDF_a − ECDF_b|, evaluated right after every value of either sample.
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < n1 || j < n2 {
        let x = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < n1 && a[i] <= x {
            i += 1;
        }
        while j < n2 && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n1 as f64 - j as f64 / n2 as f64).abs());
    }
    let g = gcd(n1 as u64, n2 as u64);
    let lcm = (n1 as u64 / g) * n2 as u64;
    // numpy rounds half to even.
    let h = (d * lcm as f64).round_ties_even() as u64;
    let statistic = h as f64 / lcm as f64;
    if h == 0 {
        return Tested {
            statistic,
            p_value: 1.0,
        };
    }
    let p = if n1 == n2 {
        prob_outside_square(n1 as u64, h)
    } else {
        outer_prob_inside(n1 as u64, n2 as u64, g, h)
    };
    Tested {
        statistic,
        p_value: p.clamp(0.0, 1.0),
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// P(D_{n,n} ≥ h/n): 2 Σ_k (−1)^(k−1) C(2n, n − kh) / C(2n, n), evaluated Horner-style from the
/// innermost term so no large binomial is ever formed (scipy `_compute_prob_outside_square`).
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as f64);
    let mut p = 0.0;
    let mut k = (n / h).floor();
    while k >= 0.0 {
        let mut p1 = 1.0;
        let mut j = 0.0;
        while j < h {
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1.0);
            j += 1.0;
        }
        p = p1 * (1.0 - p);
        k -= 1.0;
    }
    2.0 * p
}

/// P(D_{m,n} ≥ h/lcm) for m ≠ n: the share of monotone lattice paths from (0, 0) to (m, n) that
/// leave the band |x/m − y/n| < h/lcm, computed column by column as 1 − (share inside), over a
/// sliding window of the column (scipy `_compute_outer_prob_inside_method`).
fn outer_prob_inside(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let (mg, ng) = (m / g, n / g);
    let ceil_div = |x: i64, y: i64| -(-x).div_euclid(y);
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n + 1);
    let mut curlen = maxj - minj;
    // scipy sizes the buffer min(2·maxj + 2, n + 1); slots it never writes stay 1, so a longer
    // buffer of ones gives the same values.
    let mut a = vec![1.0f64; (n + 2) as usize];
    for slot in a.iter_mut().take(maxj as usize) {
        *slot = 0.0;
    }
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((ng * i - h).div_euclid(mg) + 1).max(0).min(n);
        maxj = ceil_div(ng * i + h, mg).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = (jj + minj) as f64;
            let fi = i as f64;
            val = (a[(jj + minj - lastminj) as usize] * fi + val * j) / (fi + j);
            a[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            for slot in &mut a[from..to] {
                *slot = 1.0;
            }
        }
    }
    a[(maxj - minj - 1) as usize]
}

/// scipy `wasserstein_distance(u, v)`: ∫ |U(x) − V(x)| dx between the empirical CDFs.
pub fn wasserstein(u: &[f64], v: &[f64]) -> f64 {
    let (mut u, mut v) = (u.to_vec(), v.to_vec());
    u.sort_by(f64::total_cmp);
    v.sort_by(f64::total_cmp);
    let mut all: Vec<f64> = u.iter().chain(&v).copied().collect();
    all.sort_by(f64::total_cmp);
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    let (mut i, mut j, mut total) = (0usize, 0usize, 0.0);
    for w in all.windows(2) {
        while i < u.len() && u[i] <= w[0] {
            i += 1;
        }
        while j < v.len() && v[j] <= w[0] {
            j += 1;
        }
        total += (i as f64 / nu - j as f64 / nv).abs() * (w[1] - w[0]);
    }
    total
}

/// Population standard deviation (numpy `np.std`, ddof 0).
pub fn population_std(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// Evidently's normalised Wasserstein distance: W(reference, current) / max(std(reference), 0.001).
pub fn wasserstein_normed(reference: &[f64], current: &[f64]) -> f64 {
    wasserstein(reference, current) / population_std(reference).max(0.001)
}

/// Counts of each category on both sides, over the union of categories (sorted by name).
#[derive(Clone, Debug, PartialEq)]
pub struct CategoryCounts {
    pub categories: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

impl CategoryCounts {
    pub fn of<'a>(
        reference: impl IntoIterator<Item = &'a str>,
        current: impl IntoIterator<Item = &'a str>,
    ) -> CategoryCounts {
        let mut counts: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for r in reference {
            counts.entry(r).or_default().0 += 1.0;
        }
        for c in current {
            counts.entry(c).or_default().1 += 1.0;
        }
        CategoryCounts {
            categories: counts.keys().map(|k| k.to_string()).collect(),
            reference: counts.values().map(|c| c.0).collect(),
            current: counts.values().map(|c| c.1).collect(),
        }
    }
}

/// scipy `chisquare(current counts, reference counts × n_current / n_reference)`: Pearson's
/// statistic and the χ²(k − 1) survival function. A category the reference never had gives an
/// infinite statistic and p = 0 (as scipy); a single category in all gives statistic 0 and
/// p = 1 (scipy: NaN, i.e. no evidence of drift either way).
pub fn chi_squared(reference: &[f64], current: &[f64]) -> Tested {
    let k_norm = current.iter().sum::<f64>() / reference.iter().sum::<f64>();
    let statistic: f64 = reference
        .iter()
        .zip(current)
        .map(|(r, o)| {
            let e = r * k_norm;
            (o - e).powi(2) / e
        })
        .sum();
    let dof = reference.len().saturating_sub(1);
    let p_value = if dof == 0 {
        1.0
    } else if statistic.is_infinite() {
        0.0
    } else {
        // dof ≥ 1 is a valid shape, so the constructor cannot fail.
        ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(statistic))
    };
    Tested { statistic, p_value }
}

/// Evidently's two-proportion z-test on two-category counts (`proportions_diff_z_test`): the share
/// of the first category on each side, pooled; p = 2·(1 − Φ(|z|)). Both sides holding the same
/// single category is no evidence of drift (p = 1), as in Evidently.
pub fn z_test(reference: &[f64], current: &[f64]) -> Tested {
    let (n1, n2) = (reference.iter().sum::<f64>(), current.iter().sum::<f64>());
    let single = |counts: &[f64], n: f64| counts.iter().position(|c| *c == n);
    if let (Some(a), Some(b)) = (single(reference, n1), single(current, n2))
        && a == b
    {
        return Tested {
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let (p1, p2) = (reference[0] / n1, current[0] / n2);
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    // N(0, 1) is a valid distribution, so the constructor cannot fail.
    let phi = Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.cdf(z.abs()));
    Tested {
        statistic: z,
        p_value: 2.0 * (1.0 - phi),
    }
}

/// scipy `distance.jensenshannon(p, q)` (natural log): √((KL(p‖m) + KL(q‖m)) / 2) with
/// m = (p + q)/2, after normalising p and q to sum to 1.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> f64 {
    let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
    let rel_entr = |x: f64, y: f64| if x > 0.0 { x * (x / y).ln() } else { 0.0 };
    let (mut left, mut right) = (0.0, 0.0);
    for (a, b) in p.iter().zip(q) {
        let (a, b) = (a / sp, b / sq);
        let m = (a + b) / 2.0;
        left += rel_entr(a, m);
        right += rel_entr(b, m);
    }
    ((left + right) / 2.0).sqrt()
}

/// Shares of counts (count / total).
pub fn shares(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| c / total).collect()
}

/// Evidently's `feel_zeroes`: an empty bin gets 0.0001, or a millionth of the smallest non-empty
/// share when that is itself ≤ 0.0001, so PSI's logarithm stays finite.
pub fn fill_zeroes(shares: &mut [f64]) {
    let smallest = shares
        .iter()
        .copied()
        .filter(|s| *s != 0.0)
        .fold(f64::INFINITY, f64::min);
    let fill = if smallest <= 0.0001 {
        smallest / 1e6
    } else {
        0.0001
    };
    for s in shares.iter_mut().filter(|s| **s == 0.0) {
        *s = fill;
    }
}

/// Population stability index of two count vectors over the same bins (zero-filled shares).
pub fn psi(reference_counts: &[f64], current_counts: &[f64]) -> f64 {
    let (mut r, mut c) = (shares(reference_counts), shares(current_counts));
    fill_zeroes(&mut r);
    fill_zeroes(&mut c);
    r.iter().zip(&c).map(|(r, c)| (r - c) * (r / c).ln()).sum()
}

/// Interior edges of `bins` quantile bins of `reference` (numpy `quantile`, linear
/// interpolation), duplicates dropped (a heavy tie makes fewer, wider bins).
pub fn quantile_edges(reference: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted = reference.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = sorted.len() - 1;
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| {
            let pos = k as f64 / bins as f64 * last as f64;
            let lo = pos.floor() as usize;
            let t = pos - lo as f64;
            let (a, b) = (sorted[lo], sorted[(lo + 1).min(last)]);
            // numpy's `_lerp`: from the nearer end, so an edge never overshoots its neighbours.
            if t >= 0.5 {
                b - (b - a) * (1.0 - t)
            } else {
                a + (b - a) * t
            }
        })
        .collect();
    edges.dedup();
    edges
}

/// Counts per bin: bin `i` holds values v with edges[i−1] ≤ v < edges[i] (numpy
/// `searchsorted(edges, v, side='right')`), so there are `edges.len() + 1` bins.
pub fn bin_counts(values: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 1];
    for v in values {
        counts[edges.partition_point(|e| e <= v)] += 1.0;
    }
    counts
}

/// PSI of a numeric column on the `bins` quantile bins of the reference.
pub fn psi_numeric(reference: &[f64], current: &[f64], bins: usize) -> f64 {
    let edges = quantile_edges(reference, bins);
    psi(&bin_counts(reference, &edges), &bin_counts(current, &edges))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn ks_of_disjoint_samples_of_three_is_two_paths_in_twenty() {
        // D = 1; only the two paths hugging the corners reach it: 2 / C(6, 3) = 0.1.
        let t = ks_2samp(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert_eq!(t.statistic, 1.0);
        assert!(close(t.p_value, 0.1), "{t:?}");
    }

    #[test]
    fn ks_of_identical_samples_is_zero_with_p_one() {
        let a = [0.5, 1.5, 2.5, 2.5, 9.0];
        let t = ks_2samp(&a, &a);
        assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    }

    #[test]
    fn ks_unequal_sizes_counts_lattice_paths() {
        // a = {1, 2}, b = {3}: D = 1; of the C(3, 1) = 3 orderings, "a a b" and "b a a" reach
        // it ("a b a" peaks at 1/2).
        let t = ks_2samp(&[1.0, 2.0], &[3.0]);
        assert_eq!(t.statistic, 1.0);
        assert!(close(t.p_value, 2.0 / 3.0), "{t:?}");
    }

    #[test]
    fn wasserstein_is_the_area_between_cdfs() {
        assert!(close(wasserstein(&[0.0, 1.0], &[1.0, 2.0]), 1.0));
        // std([0, 1]) = 0.5.
        assert!(close(wasserstein_normed(&[0.0, 1.0], &[1.0, 2.0]), 2.0));
        // A constant reference divides by 0.001, not by zero.
        assert!(close(wasserstein_normed(&[1.0, 1.0], &[1.5, 1.5]), 500.0));
    }

    #[test]
    fn chi_squared_of_a_shifted_coin() {
        // Expected 50/50, observed 30/70: (20² + 20²)/50 = 16 on 1 dof; sf = erfc(√8).
        let t = chi_squared(&[50.0, 50.0], &[30.0, 70.0]);
        assert!(close(t.statistic, 16.0));
        let erfc = statrs::function::erf::erfc(8f64.sqrt());
        assert!(close(t.p_value, erfc), "{t:?} vs {erfc}");
        let new_category = chi_squared(&[10.0, 0.0], &[5.0, 5.0]);
        assert!(new_category.statistic.is_infinite() && new_category.p_value == 0.0);
    }

    #[test]
    fn z_test_of_half_against_seventy_percent() {
        // p1 = 0.5, p2 = 0.7, pooled 0.6: z = −0.2 / √(0.24 · 0.02); p = erfc(|z| / √2).
        let t = z_test(&[50.0, 50.0], &[70.0, 30.0]);
        let z = -0.2 / (0.24f64 * 0.02).sqrt();
        assert!(close(t.statistic, z), "{t:?}");
        let p = statrs::function::erf::erfc(z.abs() / 2f64.sqrt());
        assert!((t.p_value - p).abs() < 1e-12, "{t:?} vs {p}");
        assert_eq!(z_test(&[10.0, 0.0], &[7.0, 0.0]).p_value, 1.0);
    }

    #[test]
    fn jensen_shannon_of_disjoint_supports_is_root_ln2() {
        assert!(close(
            jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]),
            2f64.ln().sqrt()
        ));
        assert_eq!(jensen_shannon(&[3.0, 1.0], &[6.0, 2.0]), 0.0);
    }

    #[test]
    fn psi_of_half_half_against_quarter_three_quarters() {
        // (0.25)·ln 2 + (−0.25)·ln(2/3) = 0.25·ln 3.
        assert!(close(psi(&[5.0, 5.0], &[1.0, 3.0]), 0.25 * 3f64.ln()));
        // An empty current bin is filled with 0.0001.
        let filled = psi(&[1.0, 1.0], &[1.0, 0.0]);
        let expected = (0.5 - 1.0) * 0.5f64.ln() + (0.5 - 0.0001) * (0.5f64 / 0.0001).ln();
        assert!(close(filled, expected), "{filled} vs {expected}");
    }

    #[test]
    fn quantile_edges_interpolate_and_bins_take_the_right_side() {
        let reference: Vec<f64> = (0..=10).map(f64::from).collect();
        let edges = quantile_edges(&reference, 10);
        assert_eq!(edges, (1..10).map(f64::from).collect::<Vec<_>>());
        let counts = bin_counts(&reference, &edges);
        assert_eq!(counts, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0]);
        // A constant reference has one edge: two bins.
        assert_eq!(quantile_edges(&[3.0; 7], 10), vec![3.0]);
    }
}
