//! L2-regularised logistic regression, the transparent challenger. Fitted with L-BFGS on the
//! standardised design matrix; the penalty follows scikit-learn (`l2` = 1/C): minimise
//! Σ wᵢ·logloss(yᵢ, σ(zᵢ)) + l2/2·‖β‖² (intercept unpenalised), divided by Σ w for scale.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use creditrisk_base::error::{Error, Result};

/// L-BFGS memory.
const HISTORY: usize = 10;
const GRADIENT_TOLERANCE: f64 = 1e-7;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogisticModel {
    pub intercept: f64,
    /// One per design column.
    pub coefficients: Vec<f64>,
    pub l2: f64,
    pub iterations: usize,
    pub converged: bool,
}

impl LogisticModel {
    /// Log-odds of every row of `x` (column-major, `rows` × coefficients).
    pub fn decision_function(&self, x: &[f64], rows: usize) -> Vec<f64> {
        linear_predictor(x, rows, self.intercept, &self.coefficients)
    }
}

fn linear_predictor(x: &[f64], rows: usize, intercept: f64, beta: &[f64]) -> Vec<f64> {
    const CHUNK: usize = 8192;
    let mut z = vec![intercept; rows];
    z.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(block, out)| {
            let start = block * CHUNK;
            for (c, b) in beta.iter().enumerate() {
                if *b == 0.0 {
                    continue;
                }
                let col = &x[c * rows + start..c * rows + start + out.len()];
                out.iter_mut().zip(col).for_each(|(z, v)| *z += b * v);
            }
        });
    z
}

/// Loss and gradient at `theta` = [intercept, β…].
fn loss_and_gradient(
    x: &[f64],
    rows: usize,
    y: &[f64],
    w: &[f64],
    l2: f64,
    theta: &[f64],
) -> (f64, Vec<f64>) {
    let total_w: f64 = w.iter().sum();
    let z = linear_predictor(x, rows, theta[0], &theta[1..]);
    let mut loss = 0.0;
    let mut residual = vec![0.0; rows];
    for i in 0..rows {
        // log(1 + e^z) − y·z, computed stably.
        let zi = z[i];
        let softplus = if zi > 0.0 {
            zi + (-zi).exp().ln_1p()
        } else {
            zi.exp().ln_1p()
        };
        loss += w[i] * (softplus - y[i] * zi);
        let p = 1.0 / (1.0 + (-zi).exp());
        residual[i] = w[i] * (p - y[i]);
    }
    let beta = &theta[1..];
    let mut grad = vec![0.0; theta.len()];
    grad[0] = residual.iter().sum::<f64>() / total_w;
    grad[1..].par_iter_mut().enumerate().for_each(|(c, g)| {
        let col = &x[c * rows..(c + 1) * rows];
        let dot: f64 = col.iter().zip(&residual).map(|(v, r)| v * r).sum();
        *g = (dot + l2 * beta[c]) / total_w;
    });
    let penalty = 0.5 * l2 * beta.iter().map(|b| b * b).sum::<f64>();
    ((loss + penalty) / total_w, grad)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fit on `x` (column-major, rows × cols) with labels `y` and weights `w`.
pub fn fit(
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    w: &[f64],
    l2: f64,
    max_iter: usize,
) -> Result<LogisticModel> {
    if rows == 0 || x.len() != rows * cols {
        return Err(Error::model(format!(
            "logistic regression: bad design matrix ({rows} rows, {cols} columns)"
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::model(
            "logistic regression: the design matrix has non-finite values",
        ));
    }
    let n = cols + 1;
    let mut theta = vec![0.0; n];
    // Start at the base rate so the first steps fit the signal, not the prior.
    let total_w: f64 = w.iter().sum();
    let rate = (y.iter().zip(w).map(|(y, w)| y * w).sum::<f64>() / total_w).clamp(1e-6, 1.0 - 1e-6);
    theta[0] = (rate / (1.0 - rate)).ln();
    let (mut f, mut g) = loss_and_gradient(x, rows, y, w, l2, &theta);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut converged = false;
    let mut iterations = 0;
    for _ in 0..max_iter {
        iterations += 1;
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < GRADIENT_TOLERANCE {
            converged = true;
            break;
        }
        let direction = two_loop(&g, &s_hist, &y_hist);
        let slope = dot(&direction, &g);
        let direction = if slope < 0.0 {
            direction
        } else {
            g.iter().map(|v| -v).collect()
        };
        let slope = dot(&direction, &g);
        // Backtracking line search (Armijo).
        let mut step = 1.0;
        let (mut theta_new, mut f_new, mut g_new);
        loop {
            theta_new = theta
                .iter()
                .zip(&direction)
                .map(|(t, d)| t + step * d)
                .collect::<Vec<_>>();
            (f_new, g_new) = loss_and_gradient(x, rows, y, w, l2, &theta_new);
            if f_new <= f + 1e-4 * step * slope || step < 1e-10 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f64> = theta_new.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let improvement = f - f_new;
        if dot(&s, &yv) > 1e-12 {
            s_hist.push(s);
            y_hist.push(yv);
            if s_hist.len() > HISTORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
        }
        theta = theta_new;
        f = f_new;
        g = g_new;
        if improvement.abs() <= 1e-12 * f.abs().max(1.0) {
            converged = true;
            break;
        }
    }
    Ok(LogisticModel {
        intercept: theta[0],
        coefficients: theta[1..].to_vec(),
        l2,
        iterations,
        converged,
    })
}

/// L-BFGS two-loop recursion: approximate −H⁻¹·g.
fn two_loop(g: &[f64], s_hist: &[Vec<f64>], y_hist: &[Vec<f64>]) -> Vec<f64> {
    let mut q = g.to_vec();
    let mut alphas = vec![0.0; s_hist.len()];
    for i in (0..s_hist.len()).rev() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        alphas[i] = rho * dot(&s_hist[i], &q);
        q.iter_mut()
            .zip(&y_hist[i])
            .for_each(|(q, y)| *q -= alphas[i] * y);
    }
    if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
        let gamma = dot(s, y) / dot(y, y);
        q.iter_mut().for_each(|v| *v *= gamma);
    }
    for i in 0..s_hist.len() {
        let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
        let beta = rho * dot(&y_hist[i], &q);
        q.iter_mut()
            .zip(&s_hist[i])
            .for_each(|(q, s)| *q += (alphas[i] - beta) * s);
    }
    q.iter_mut().for_each(|v| *v = -*v);
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn recovers_coefficients_of_a_logistic_signal() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let rows = 20_000;
        let a: Vec<f64> = (0..rows).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
        let b: Vec<f64> = (0..rows).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
        let y: Vec<f64> = (0..rows)
            .map(|i| {
                let p = 1.0 / (1.0 + (-(-1.0 + 2.0 * a[i] - 1.0 * b[i])).exp());
                f64::from(u8::from(rng.random::<f64>() < p))
            })
            .collect();
        let mut x = a.clone();
        x.extend(&b);
        let m = fit(&x, rows, 2, &y, &vec![1.0; rows], 1e-3, 200).unwrap();
        assert!(m.converged);
        assert!((m.intercept + 1.0).abs() < 0.1, "{m:?}");
        assert!((m.coefficients[0] - 2.0).abs() < 0.15, "{m:?}");
        assert!((m.coefficients[1] + 1.0).abs() < 0.15, "{m:?}");
    }
}
