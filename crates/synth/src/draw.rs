//! Random draws shared by the table generators, and the per-applicant random streams.
//!
//! Every applicant owns two ChaCha8 streams derived from (seed, applicant index): one for its
//! profile (latent risk and history sizes, drawn up front so ids can be numbered) and one for its
//! rows. The output therefore depends only on the seed and the applicant, never on how the work
//! was split across threads or chunks.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

pub type SynthRng = ChaCha8Rng;

/// Which of an applicant's two streams.
#[derive(Clone, Copy)]
pub enum Stream {
    Profile = 0,
    Rows = 1,
}

/// Builds the stream of one applicant from a seeded root (cheap: a clone and a counter reset).
#[derive(Clone)]
pub struct StreamFactory {
    root: SynthRng,
}

impl StreamFactory {
    pub fn new(seed: u64) -> Self {
        StreamFactory {
            root: SynthRng::seed_from_u64(seed),
        }
    }

    pub fn stream(&self, applicant: u64, which: Stream) -> SynthRng {
        let mut rng = self.root.clone();
        rng.set_stream(applicant.wrapping_mul(2).wrapping_add(which as u64));
        rng.set_word_pos(0);
        rng
    }
}

#[inline]
pub fn normal(rng: &mut SynthRng) -> f64 {
    StandardNormal.sample(rng)
}

#[inline]
pub fn exp1(rng: &mut SynthRng) -> f64 {
    Exp1.sample(rng)
}

#[inline]
pub fn unit(rng: &mut SynthRng) -> f64 {
    rng.random::<f64>()
}

#[inline]
pub fn chance(rng: &mut SynthRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform integer in `lo..=hi`.
#[inline]
pub fn int_in(rng: &mut SynthRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[inline]
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Round to a multiple of `step` (Kaggle amounts sit on grids such as 4.5 or 2250).
#[inline]
pub fn snap(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

/// Poisson count; Knuth's product method for small means, a rounded normal above 30.
pub fn poisson(rng: &mut SynthRng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        return (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32;
    }
    let limit = (-lambda).exp();
    let mut k = 0u32;
    let mut p = unit(rng);
    while p > limit {
        k += 1;
        p *= unit(rng);
    }
    k
}

/// Gamma draw with integer-or-fractional shape via Marsaglia–Tsang (shape ≥ 1) or boosting.
pub fn gamma(rng: &mut SynthRng, shape: f64, scale: f64) -> f64 {
    if shape < 1.0 {
        let u = unit(rng).max(f64::MIN_POSITIVE);
        return gamma(rng, shape + 1.0, scale) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = unit(rng);
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v * scale;
        }
    }
}

/// Over-dispersed count (negative binomial as a gamma–Poisson mixture) with the given mean.
pub fn overdispersed(rng: &mut SynthRng, mean: f64, shape: f64) -> u32 {
    let lambda = gamma(rng, shape, mean / shape);
    poisson(rng, lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let f = StreamFactory::new(7);
        let a: u64 = f.stream(3, Stream::Rows).random();
        let b: u64 = f.stream(3, Stream::Rows).random();
        let c: u64 = f.stream(3, Stream::Profile).random();
        let d: u64 = f.stream(4, Stream::Rows).random();
        let e: u64 = StreamFactory::new(8).stream(3, Stream::Rows).random();
        assert_eq!(a, b);
        assert!(a != c && a != d && a != e);
    }

    #[test]
    fn count_means_match() {
        let mut rng = SynthRng::seed_from_u64(1);
        let n = 20_000;
        let p: f64 = (0..n).map(|_| poisson(&mut rng, 4.0) as f64).sum::<f64>() / n as f64;
        assert!((p - 4.0).abs() < 0.1, "{p}");
        let g: f64 = (0..n).map(|_| gamma(&mut rng, 0.5, 2.0)).sum::<f64>() / n as f64;
        assert!((g - 1.0).abs() < 0.05, "{g}");
        let o: f64 = (0..n)
            .map(|_| overdispersed(&mut rng, 3.0, 1.5) as f64)
            .sum::<f64>()
            / n as f64;
        assert!((o - 3.0).abs() < 0.1, "{o}");
    }
}
