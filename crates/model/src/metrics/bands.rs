//! PD bands: `inference.pd_bands` are the upper PD bounds of bands A, B, … (A is safest); a PD
//! equal to a bound belongs to the next band, and the last band takes the rest up to 1.

use serde::{Deserialize, Serialize};

/// Band index of a PD: 0 for A.
pub fn pd_band(pd: f64, upper_bounds: &[f64]) -> usize {
    upper_bounds.partition_point(|b| *b <= pd)
}

/// "A", "B", … for band 0, 1, ….
pub fn band_name(index: usize) -> String {
    char::from(b'A' + (index.min(25) as u8)).to_string()
}

/// One row of the PD-band table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BandRow {
    pub band: String,
    /// PD range [pd_from, pd_to).
    pub pd_from: f64,
    pub pd_to: f64,
    pub count: usize,
    pub share: f64,
    pub defaults: usize,
    /// None for an empty band.
    pub mean_pd: Option<f64>,
    pub observed_default_rate: Option<f64>,
}

/// Count, mean PD and observed default rate per band.
pub fn band_table(y: &[f64], pd: &[f64], upper_bounds: &[f64]) -> Vec<BandRow> {
    let n_bands = upper_bounds.len() + 1;
    let mut count = vec![0usize; n_bands];
    let mut defaults = vec![0usize; n_bands];
    let mut pd_sum = vec![0.0; n_bands];
    for (t, p) in y.iter().zip(pd) {
        let b = pd_band(*p, upper_bounds);
        count[b] += 1;
        defaults[b] += usize::from(*t == 1.0);
        pd_sum[b] += p;
    }
    let total = y.len().max(1) as f64;
    (0..n_bands)
        .map(|b| BandRow {
            band: band_name(b),
            pd_from: if b == 0 { 0.0 } else { upper_bounds[b - 1] },
            pd_to: upper_bounds.get(b).copied().unwrap_or(1.0),
            count: count[b],
            share: count[b] as f64 / total,
            defaults: defaults[b],
            mean_pd: (count[b] > 0).then(|| pd_sum[b] / count[b] as f64),
            observed_default_rate: (count[b] > 0).then(|| defaults[b] as f64 / count[b] as f64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_use_upper_bounds_exclusively() {
        let bounds = [0.02, 0.05, 0.10];
        assert_eq!(pd_band(0.0, &bounds), 0);
        assert_eq!(pd_band(0.02, &bounds), 1);
        assert_eq!(pd_band(0.07, &bounds), 2);
        assert_eq!(pd_band(0.5, &bounds), 3);
        assert_eq!(band_name(3), "D");
        let table = band_table(&[0.0, 1.0, 1.0], &[0.01, 0.03, 0.5], &bounds);
        assert_eq!(table.len(), 4);
        assert_eq!(table[0].count, 1);
        assert_eq!(table[2].mean_pd, None);
        assert_eq!(table[3].observed_default_rate, Some(1.0));
    }
}
