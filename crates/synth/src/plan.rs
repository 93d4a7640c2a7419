//! The population plan: who is a train or test applicant, each applicant's latent risk, and how
//! many bureau lines and previous applications they have, so that SK_ID_BUREAU and SK_ID_PREV can
//! be numbered consecutively before the rows are generated in parallel.

use super::draw::{Stream, StreamFactory, chance, normal, overdispersed};

/// First SK_ID_CURR, as in Kaggle.
pub const FIRST_CURR_ID: i64 = 100_002;
/// First SK_ID_BUREAU, as in Kaggle.
pub const FIRST_BUREAU_ID: i64 = 5_000_000;
/// First SK_ID_PREV, as in Kaggle.
pub const FIRST_PREV_ID: i64 = 1_000_000;

/// Share of applicants with any bureau line (Kaggle: 305,811 of 356,255).
const HAS_BUREAU: f64 = 0.858;
/// Mean bureau lines of those who have any (1,716,428 / 305,811).
const BUREAU_LINES: f64 = 5.61;
/// Share of applicants with any previous application (338,857 of 356,255).
const HAS_PREVIOUS: f64 = 0.951;
/// Mean previous applications of those who have any (1,670,214 / 338,857).
const PREVIOUS_APPS: f64 = 4.93;

/// One applicant's place in the population.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub sk_id_curr: i64,
    pub is_train: bool,
    /// General credit risk (standard normal; higher is riskier). It shapes the application
    /// fields and the history, which is how the tables become correlated.
    pub risk: f64,
    /// Payment discipline on past loans (standard normal; higher is worse), partly independent of
    /// `risk` so that the history tables carry information the application does not.
    pub discipline: f64,
    pub bureau_lines: u32,
    pub first_bureau_id: i64,
    pub previous_apps: u32,
    pub first_prev_id: i64,
}

/// Whether applicant `i` of `total` belongs to the test file: test applicants are spread evenly
/// through the id range, like Kaggle's interleaved train/test ids, with exact counts.
pub fn is_test(i: u64, total: u64, test: u64) -> bool {
    if total == 0 {
        return false;
    }
    let (i, total, test) = (i as u128, total as u128, test as u128);
    (i + 1) * test / total > i * test / total
}

/// Draw every applicant's profile (sequential and cheap: a few draws each).
pub fn plan(streams: &StreamFactory, train: usize, test: usize) -> Vec<Profile> {
    let total = (train + test) as u64;
    let mut bureau_id = FIRST_BUREAU_ID;
    let mut prev_id = FIRST_PREV_ID;
    (0..total)
        .map(|i| {
            let mut rng = streams.stream(i, Stream::Profile);
            let risk = normal(&mut rng);
            let discipline = 0.6 * risk + 0.8 * normal(&mut rng);
            let bureau_lines = if chance(&mut rng, HAS_BUREAU) {
                1 + overdispersed(&mut rng, BUREAU_LINES - 1.0, 1.6)
            } else {
                0
            };
            let previous_apps = if chance(&mut rng, HAS_PREVIOUS) {
                1 + overdispersed(&mut rng, PREVIOUS_APPS - 1.0, 1.3)
            } else {
                0
            };
            let profile = Profile {
                sk_id_curr: FIRST_CURR_ID + i as i64,
                is_train: !is_test(i, total, test as u64),
                risk,
                discipline,
                bureau_lines,
                first_bureau_id: bureau_id,
                previous_apps,
                first_prev_id: prev_id,
            };
            bureau_id += bureau_lines as i64;
            prev_id += previous_apps as i64;
            profile
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_share_is_exact_and_spread() {
        let total = 1000;
        let test: Vec<u64> = (0..total).filter(|&i| is_test(i, total, 137)).collect();
        assert_eq!(test.len(), 137);
        assert!(test[0] < 20 && *test.last().unwrap() > 980);
    }

    #[test]
    fn ids_are_consecutive_and_unique() {
        let p = plan(&StreamFactory::new(1), 900, 100);
        assert_eq!(p.len(), 1000);
        assert_eq!(p.iter().filter(|x| x.is_train).count(), 900);
        for w in p.windows(2) {
            assert_eq!(
                w[1].first_bureau_id,
                w[0].first_bureau_id + w[0].bureau_lines as i64
            );
            assert_eq!(
                w[1].first_prev_id,
                w[0].first_prev_id + w[0].previous_apps as i64
            );
            assert_eq!(w[1].sk_id_curr, w[0].sk_id_curr + 1);
        }
        let with_bureau = p.iter().filter(|x| x.bureau_lines > 0).count();
        assert!((800..910).contains(&with_bureau), "{with_bureau}");
    }
}
