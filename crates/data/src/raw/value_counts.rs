//! Rows per value of a text column, counted while the CSV is parsed: the contracts' domain
//! checks sum the counts of values outside each vocabulary instead of scanning rows in SQL.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, StringArray};

/// Most distinct values counted in one text column. The catalog's text columns are categories
/// (at most 58 values); a column with more (corrupt data) is left to the SQL checks.
pub(super) const MAX_DISTINCT: usize = 1024;

/// Rows per non-NULL value of one batch's text column; None past [`MAX_DISTINCT`] values.
pub(super) fn value_counts(column: &StringArray) -> Option<BTreeMap<String, u64>> {
    let (bytes, offsets) = (column.value_data(), column.value_offsets());
    let mut table = ValueTable::default();
    for (i, range) in offsets.windows(2).enumerate() {
        if column.is_valid(i) {
            table.add(bytes, range[0] as usize, range[1] as usize)?;
        }
    }
    Some(table.counts())
}

/// log2 of the slots of a [`ValueTable`]: 4 × MAX_DISTINCT, so probes stay short.
const SLOT_BITS: u32 = 12;

/// A value's first and last 8 bytes (zero-padded; 0 for the last when it has at most 8) and its
/// length: all of a value of up to 16 bytes, which most categories are.
type ValueKey = (u64, u64, usize);

/// The distinct values of one batch's column and their rows, in an open-addressing table keyed
/// by [`ValueKey`]: bytes are compared only for values longer than 16 bytes. A row costs ~90
/// instructions (a general string hash map: ~110; the `NOT IN` count this replaces: ~150 with
/// its CASE and SUM). One-byte values are counted by their byte instead, in a few: they are a
/// third of the text values at full scale (bureau_balance's 27 M STATUS codes).
struct ValueTable<'a> {
    /// Index + 1 into `values` (0: empty).
    slots: Vec<u32>,
    values: Vec<(ValueKey, &'a [u8], u64)>,
    /// Rows of each one-byte value, and how many of those are distinct.
    single: [u64; 256],
    distinct_single: usize,
    /// Index into `values` of the previous row's value: runs of one value (a loan's status
    /// month after month, one currency) skip the probe.
    last: usize,
}

impl Default for ValueTable<'_> {
    fn default() -> Self {
        ValueTable {
            slots: vec![0; 1 << SLOT_BITS],
            values: vec![],
            single: [0; 256],
            distinct_single: 0,
            last: usize::MAX,
        }
    }
}

impl<'a> ValueTable<'a> {
    /// Count one row of the value `bytes[start..end]`; None past MAX_DISTINCT values.
    #[inline]
    fn add(&mut self, bytes: &'a [u8], start: usize, end: usize) -> Option<()> {
        let n = end - start;
        if n == 1 {
            let byte = usize::from(bytes[start]);
            if self.single[byte] == 0 {
                if self.full() {
                    return None;
                }
                self.distinct_single += 1;
            }
            self.single[byte] += 1;
            return Some(());
        }
        let head =
            word(bytes, start) & u64::MAX.checked_shr(8 * (8 - n.min(8)) as u32).unwrap_or(0);
        let tail = if n > 8 { word(bytes, end - 8) } else { 0 };
        let key = (head, tail, n);
        let same = |entry: &(ValueKey, &[u8], u64)| {
            entry.0 == key && (n <= 16 || entry.1 == &bytes[start..end])
        };
        if let Some(entry) = self.values.get_mut(self.last)
            && same(entry)
        {
            entry.2 += 1;
            return Some(());
        }
        let mask = self.slots.len() - 1;
        let mixed = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The product's top bits depend on every bit of the key (Fibonacci hashing).
        let mut slot = (mixed >> (64 - SLOT_BITS)) as usize;
        loop {
            match self.slots[slot] {
                0 => {
                    if self.full() {
                        return None;
                    }
                    self.values.push((key, &bytes[start..end], 1));
                    self.slots[slot] = self.values.len() as u32;
                    self.last = self.values.len() - 1;
                    return Some(());
                }
                at => {
                    let entry = &mut self.values[at as usize - 1];
                    if same(entry) {
                        entry.2 += 1;
                        self.last = at as usize - 1;
                        return Some(());
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Whether MAX_DISTINCT values are counted already (one-byte ones included).
    fn full(&self) -> bool {
        self.values.len() + self.distinct_single == MAX_DISTINCT
    }

    fn counts(self) -> BTreeMap<String, u64> {
        // Each value is a whole string of a StringArray: valid UTF-8 (a one-byte one is ASCII).
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let single = (0..=u8::MAX).zip(self.single).filter(|(_, n)| *n > 0);
        let single = single.map(|(byte, n)| (char::from(byte).to_string(), n));
        let values = self.values.into_iter().map(|(_, v, n)| (text(v), n));
        values.chain(single).collect()
    }
}

/// The 8 bytes of `bytes` from `at` as a little-endian word, zero past the end of `bytes`.
#[inline]
fn word(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        Some(eight) => u64::from_le_bytes(*eight),
        None => (bytes.get(at..).unwrap_or_default().iter().rev())
            .fold(0, |w, b| (w << 8) | u64::from(*b)),
    }
}

/// The counts of two parts of one column.
pub(super) fn both_counts(
    a: Option<BTreeMap<String, u64>>,
    b: Option<BTreeMap<String, u64>>,
) -> Option<BTreeMap<String, u64>> {
    let (mut a, b) = (a?, b?);
    for (value, n) in b {
        *a.entry(value).or_default() += n;
    }
    (a.len() <= MAX_DISTINCT).then_some(a)
}
