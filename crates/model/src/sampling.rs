//! Seeded, stratified sampling shared by the train/test split and the validation slice.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Stratified, seeded partition of row positions: within each label, `share` of the rows
/// (rounded, at least one and never all when the label has two or more rows) go to the second
/// list. Both lists are sorted so the splits keep the input order.
pub fn stratified_partition(labels: &[i64], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let (mut keep, mut held) = (Vec::new(), Vec::new());
    for class in classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len();
        let mut n_held = (n as f64 * share).round() as usize;
        if n >= 2 {
            n_held = n_held.clamp(1, n - 1);
        }
        held.extend_from_slice(&rows[..n_held]);
        keep.extend_from_slice(&rows[n_held..]);
    }
    keep.sort_unstable();
    held.sort_unstable();
    (keep, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_stratified_seeded_and_complete() {
        let labels: Vec<i64> = (0..1000).map(|i| i64::from(i % 10 == 0)).collect();
        let (a, b) = stratified_partition(&labels, 0.2, 42);
        assert_eq!((a.len(), b.len()), (800, 200));
        assert_eq!(b.iter().filter(|&&i| labels[i] == 1).count(), 20);
        let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(
            stratified_partition(&labels, 0.2, 42),
            (a.clone(), b.clone())
        );
        assert_ne!(stratified_partition(&labels, 0.2, 43).1, b);
    }
}
