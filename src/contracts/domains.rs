//! Domain checks of text columns counted on the typed Parquet copy, read as dictionaries.
//!
//! Text columns are dictionary-encoded in the copy, so reading them as Arrow dictionaries yields
//! each distinct value once plus one integer key per row: a value's membership in the
//! vocabulary is decided once per dictionary, and rows are counted by key. In SQL over the
//! registered copy every row's string is first rebuilt from the dictionary, then hashed against
//! the vocabulary (at full scale ~2 of a warm build's 12 CPU-seconds). The count is the SQL one:
//! non-NULL values not in the vocabulary, compared byte for byte.

use std::path::Path;

use datafusion::arrow::array::{AsArray, DictionaryArray};
use datafusion::arrow::datatypes::Int32Type;

use crate::error::{Error, Result};
use crate::io::read_text_as_dictionaries;

/// For each (column, vocabulary), the non-NULL values of the Utf8 `column` of the Parquet `file`
/// that are not in `vocabulary`. One pass over those columns only.
pub fn misses(file: &Path, checks: &[(String, &'static [&'static str])]) -> Result<Vec<u64>> {
    let columns: Vec<&str> = checks.iter().map(|(c, _)| c.as_str()).collect();
    let mut counts = vec![0u64; checks.len()];
    for batch in read_text_as_dictionaries(file, &columns)? {
        let batch = batch?;
        for ((column, vocabulary), count) in checks.iter().zip(counts.iter_mut()) {
            let Some(values) = batch.column_by_name(column) else {
                return Err(Error::Internal(format!("{column} was not read")));
            };
            let values: &DictionaryArray<Int32Type> = values.as_dictionary();
            let outside: Vec<bool> = values
                .values()
                .as_string::<i32>()
                .iter()
                .map(|v| v.is_some_and(|v| !vocabulary.contains(&v)))
                .collect();
            let keys = values.keys().iter().flatten();
            *count += keys.filter(|k| outside[*k as usize]).count() as u64;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::io::{ParquetOptions, write_parquet};

    #[test]
    fn counts_values_outside_the_vocabulary_like_the_sql_predicate() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("S", DataType::Utf8, true),
            Field::new("T", DataType::Utf8, true),
        ]));
        let s = StringArray::from(vec![
            Some("a"),
            Some("b"),
            None,
            Some("x"),
            Some("a "),
            Some("x"),
        ]);
        let t = StringArray::from(vec![
            Some("Y"),
            Some("N"),
            Some("N"),
            None,
            Some("y"),
            Some("Y"),
        ]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(s), Arc::new(t)]).unwrap();
        write_parquet(&file, &schema, [&batch], ParquetOptions::RAW_CACHE).unwrap();
        const AB: &[&str] = &["a", "b"];
        const YN: &[&str] = &["Y", "N"];
        let checks = [("S".to_string(), AB), ("T".to_string(), YN)];
        // S: "x" twice and "a " (NULL passes); T: "y" (case matters).
        assert_eq!(misses(&file, &checks).unwrap(), vec![3, 1]);
    }

    /// Corrupt data can hold so many distinct values that the writer's dictionary overflows and
    /// later pages are plain: those rows must be counted too.
    #[test]
    fn counts_rows_of_pages_past_a_dictionary_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new("S", DataType::Utf8, true)]));
        let rows = 200_000;
        let values: Vec<String> = (0..rows)
            .map(|i| {
                if i % 2 == 0 {
                    "ok".to_string()
                } else {
                    format!("bad value number {i:>12}")
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(values))])
            .unwrap();
        write_parquet(&file, &schema, [&batch], ParquetOptions::RAW_CACHE).unwrap();
        const OK: &[&str] = &["ok"];
        let checks = [("S".to_string(), OK)];
        assert_eq!(misses(&file, &checks).unwrap(), vec![rows as u64 / 2]);
    }
}
