//! Categorical columns: Kaggle-like frequencies checked against the catalog's vocabulary.
//!
//! The catalog owns the set of codes; this module only adds weights. Every weighted code must be
//! in the column's `Domain::Categories`, so a vocabulary change in the catalog fails the build of
//! the generator's tables (and its unit test) instead of silently producing invalid rows.

use rand::Rng;

use super::format::encode_text;
use creditrisk_base::catalog::{Domain, RawTable};
use creditrisk_base::error::{Error, Result};

/// A weighted choice among a column's codes, with each code pre-encoded as a CSV field.
#[derive(Clone, Debug)]
pub struct Vocab {
    codes: Vec<&'static str>,
    encoded: Vec<Vec<u8>>,
    cumulative: Vec<f64>,
}

impl Vocab {
    /// Weights by code for `table.column`; codes not listed are never drawn.
    pub fn new(table: RawTable, column: &str, weights: &[(&str, f64)]) -> Result<Vocab> {
        let col = table.column(column).ok_or_else(|| {
            Error::input(format!(
                "synth: catalog has no column {}.{column}",
                table.name()
            ))
        })?;
        let Domain::Categories(domain) = col.domain else {
            return Err(Error::input(format!(
                "synth: catalog column {}.{column} is not categorical",
                table.name()
            )));
        };
        let mut codes = Vec::with_capacity(weights.len());
        let mut cumulative = Vec::with_capacity(weights.len());
        let mut total = 0.0;
        for &(code, weight) in weights {
            let known = domain.iter().find(|c| **c == code).ok_or_else(|| {
                Error::input(format!(
                    "synth: code {code:?} is not in the catalog vocabulary of {}.{column}",
                    table.name()
                ))
            })?;
            total += weight.max(0.0);
            codes.push(*known);
            cumulative.push(total);
        }
        if total <= 0.0 {
            return Err(Error::input(format!(
                "synth: no positive weight for {}.{column}",
                table.name()
            )));
        }
        let encoded = codes.iter().map(|c| encode_text(c)).collect();
        Ok(Vocab {
            codes,
            encoded,
            cumulative,
        })
    }

    /// Index of a random code.
    #[inline]
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u = rng.random::<f64>() * total;
        self.cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.cumulative.len() - 1)
    }

    /// Index of `code`; codes are fixed at start-up, so a miss is a programming error caught by
    /// the unit tests and mapped to the first code rather than a panic.
    pub fn index(&self, code: &str) -> usize {
        self.codes.iter().position(|c| *c == code).unwrap_or(0)
    }

    #[inline]
    pub fn code(&self, i: usize) -> &'static str {
        self.codes[i]
    }

    #[inline]
    pub fn field(&self, i: usize) -> &[u8] {
        &self.encoded[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rejects_codes_outside_the_catalog() {
        let err = Vocab::new(RawTable::Bureau, "CREDIT_ACTIVE", &[("Open", 1.0)]).unwrap_err();
        assert!(err.to_string().contains("CREDIT_ACTIVE"));
        assert!(Vocab::new(RawTable::Bureau, "NOPE", &[("Closed", 1.0)]).is_err());
    }

    #[test]
    fn frequencies_follow_weights() {
        let v = Vocab::new(
            RawTable::Bureau,
            "CREDIT_ACTIVE",
            &[("Closed", 3.0), ("Active", 1.0)],
        )
        .unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let closed = (0..10_000).filter(|_| v.pick(&mut rng) == 0).count();
        assert!((7_200..7_800).contains(&closed), "{closed}");
        assert_eq!(v.code(v.index("Active")), "Active");
    }
}
