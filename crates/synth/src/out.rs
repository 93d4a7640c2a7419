//! A chunk's output: one byte buffer per raw table plus the truth rows. Every generator writes
//! into it; the writer appends it to the files. A leaf: it imports no generator.

use super::format::{FloatStyle, Row};
use creditrisk_base::catalog::RawTable;

/// Bytes and row count of one table's part of a chunk.
#[derive(Default)]
pub struct TableOut {
    pub bytes: Vec<u8>,
    pub rows: u64,
}

/// The truth about one applicant.
#[derive(Clone, Copy, Debug)]
pub struct Truth {
    pub sk_id_curr: i64,
    pub pd: f64,
    pub target: bool,
    pub is_train: bool,
}

/// A chunk's output, one buffer per table in `RawTable::ALL` order.
#[derive(Default)]
pub struct ChunkOut {
    pub tables: [TableOut; 8],
    pub truth: Vec<Truth>,
}

/// Position of a table in `RawTable::ALL` (and in `ChunkOut::tables`).
pub fn slot(table: RawTable) -> usize {
    RawTable::ALL.iter().position(|t| *t == table).unwrap_or(0)
}

/// How each Kaggle file prints whole floats (see `format`).
pub fn float_style(table: RawTable) -> FloatStyle {
    match table {
        RawTable::InstallmentsPayments | RawTable::CreditCardBalance | RawTable::PosCashBalance => {
            FloatStyle::PointZero
        }
        _ => FloatStyle::Bare,
    }
}

impl ChunkOut {
    /// Empties the buffers but keeps their capacity, so a recycled chunk does not reallocate.
    pub fn clear(&mut self) {
        for t in &mut self.tables {
            t.bytes.clear();
            t.rows = 0;
        }
        self.truth.clear();
    }

    /// Starts a new row of `table`.
    #[inline]
    pub fn row(&mut self, table: RawTable) -> Row<'_> {
        let out = &mut self.tables[slot(table)];
        out.rows += 1;
        Row::new(&mut out.bytes, float_style(table))
    }
}
