//! What is known of a raw table beyond its rows in the engine: for rows parsed into memory, the
//! measures the contracts would otherwise query (see [`TableFacts`]). The typed cache records
//! them in its copy's footer, so a warm build reads them too.

use std::collections::BTreeMap;
use std::path::Path;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use serde::{Deserialize, Serialize};

use super::value_counts::{both_counts, value_counts};
use creditrisk_base::parquet_io::ParquetSink;

/// Footer key of a cached copy: its [`Measured`] as JSON.
const MEASURED_KEY: &str = "creditrisk.measured";

/// What is known of a table beyond its rows in the engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableFacts {
    /// Exact measures of the rows, taken as they were parsed (and recorded with a cached copy):
    /// the contracts' first pass reads them instead of scanning the table again. None when the
    /// rows were not parsed by the typed reader.
    pub measured: Option<Measured>,
}

/// Row count and per-column measures of a table in memory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub rows: u64,
    pub columns: BTreeMap<String, ColumnMeasure>,
    /// For each text column, the rows holding each non-NULL value (compared byte for byte); None
    /// past `value_counts::MAX_DISTINCT` values. The domain checks read these: counting their
    /// misses row by row (`NOT IN`, a string hash per row and check) was the costliest part of a
    /// cold build's contracts. Counted as rows are parsed, on the parse's own cores.
    pub values: BTreeMap<String, Option<BTreeMap<String, u64>>>,
}

impl Measured {
    /// Rows of text `column` whose value is not in `vocabulary` (NULL passes), when counted.
    pub fn outside(&self, column: &str, vocabulary: &[&str]) -> Option<u64> {
        let counts = self.values.get(column)?.as_ref()?;
        let outside = counts
            .iter()
            .filter(|(v, _)| !vocabulary.contains(&v.as_str()));
        Some(outside.map(|(_, n)| n).sum())
    }
}

/// What the contracts' first pass asks of one column, as SQL's aggregates would answer it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnMeasure {
    pub nulls: u64,
    /// MIN and MAX of the non-NULL values of a numeric column in total order (-0.0 < 0.0),
    /// None when there is none. Both are NaN when any value is NaN, so that no bound is proved.
    /// (Recorded as their bits: JSON has no NaN or infinity.)
    #[serde(with = "bits")]
    pub min: Option<f64>,
    #[serde(with = "bits")]
    pub max: Option<f64>,
}

/// An optional f64 as the u64 of its bits.
mod bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&v.to_bits()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(f64::from_bits))
    }
}

impl ColumnMeasure {
    /// The measure of two parts of one column.
    fn both(self, other: ColumnMeasure) -> ColumnMeasure {
        let pick = |a: Option<f64>, b: Option<f64>, first: std::cmp::Ordering| match (a, b) {
            (Some(a), Some(b)) if a.is_nan() || b.is_nan() => Some(f64::NAN),
            (Some(a), Some(b)) => Some(if a.total_cmp(&b) == first { a } else { b }),
            (a, b) => a.or(b),
        };
        ColumnMeasure {
            nulls: self.nulls + other.nulls,
            min: pick(self.min, other.min, std::cmp::Ordering::Less),
            max: pick(self.max, other.max, std::cmp::Ordering::Greater),
        }
    }
}

impl TableFacts {
    /// The facts of `batches` (all of one table, with `schema`), with their measures.
    pub fn of<'a>(schema: &SchemaRef, batches: impl Iterator<Item = &'a RecordBatch>) -> Self {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::{Float64Type, Int64Type};
        let width = schema.fields().len();
        let mut measures = vec![ColumnMeasure::default(); width];
        let mut texts: Vec<Option<BTreeMap<String, u64>>> = vec![Some(BTreeMap::new()); width];
        let (mut floats, mut ints) = (vec![], vec![]);
        let mut rows = 0;
        for batch in batches {
            rows += batch.num_rows() as u64;
            for (i, column) in batch.columns().iter().enumerate() {
                let mut part = ColumnMeasure {
                    nulls: column.null_count() as u64,
                    ..Default::default()
                };
                match column.data_type() {
                    DataType::Float64 => {
                        let values = column.as_primitive::<Float64Type>();
                        let values = without_nulls(values.values(), values.nulls(), &mut floats);
                        (part.min, part.max) = values
                            .map(FloatScan::of)
                            .map_or((None, None), |s| s.bounds());
                    }
                    DataType::Int64 => {
                        let values = column.as_primitive::<Int64Type>();
                        let values = without_nulls(values.values(), values.nulls(), &mut ints);
                        (part.min, part.max) = values.map_or((None, None), int_bounds);
                    }
                    DataType::Utf8 => {
                        let batch_counts = value_counts(column.as_string::<i32>());
                        texts[i] = both_counts(texts[i].take(), batch_counts);
                    }
                    _ => {}
                }
                measures[i] = measures[i].both(part);
            }
        }
        let name = |i: usize| schema.field(i).name().clone();
        let columns = (0..width).map(|i| (name(i), measures[i])).collect();
        let values = (0..width)
            .filter(|i| schema.field(*i).data_type() == &DataType::Utf8)
            .map(|i| (name(i), texts[i].take()))
            .collect();
        TableFacts {
            measured: Some(Measured {
                rows,
                columns,
                values,
            }),
        }
    }

    /// The facts of both parts of one table.
    pub fn both(mut self, other: &TableFacts) -> Self {
        self.measured = match (self.measured, &other.measured) {
            (Some(mut a), Some(b)) => {
                a.rows += b.rows;
                for (name, m) in &b.columns {
                    let merged = a.columns.get(name).map(|x| x.both(*m));
                    a.columns.insert(name.clone(), merged.unwrap_or(*m));
                }
                for (name, counts) in &b.values {
                    let merged = match a.values.remove(name) {
                        Some(mine) => both_counts(mine, counts.clone()),
                        None => counts.clone(),
                    };
                    a.values.insert(name.clone(), merged);
                }
                Some(a)
            }
            _ => None,
        };
        self
    }

    /// The facts a cached copy's footer records; None when it records no
    /// measures (a copy written by an earlier version, to be made again).
    pub fn recorded_in(file: &Path) -> Option<Self> {
        let [measured] = creditrisk_base::parquet_io::footer_values(file, [MEASURED_KEY]);
        let measured = serde_json::from_str(&measured?).ok()?;
        Some(TableFacts {
            measured: Some(measured),
        })
    }

    /// Record these facts in the footer of a Parquet file being written.
    pub fn annotate(&self, sink: &mut ParquetSink) -> creditrisk_base::error::Result<()> {
        let Some(measured) = &self.measured else {
            return Err(creditrisk_base::error::Error::internal(
                "a cached copy needs the measures of its rows",
            ));
        };
        let json = serde_json::to_string(measured)
            .map_err(|e| creditrisk_base::error::Error::internal_from("measures as JSON", e))?;
        sink.annotate(MEASURED_KEY, json);
        Ok(())
    }
}

/// A column's values with each NULL slot (which holds an arbitrary value) set to its first valid
/// value, which changes no extreme and no flag of a scan; in `scratch` when there are NULLs.
/// None when every slot is NULL. (Collecting the valid values instead cost a branch and a push
/// per value, and a growing vector per batch.)
fn without_nulls<'a, T: Copy>(
    values: &'a [T],
    nulls: Option<&NullBuffer>,
    scratch: &'a mut Vec<T>,
) -> Option<&'a [T]> {
    let Some(nulls) = nulls.filter(|n| n.null_count() > 0) else {
        return (!values.is_empty()).then_some(values);
    };
    let fill = values[nulls.valid_indices().next()?];
    scratch.clear();
    scratch.resize(values.len(), fill);
    // 64 slots per word of the validity bitmap: a select the compiler vectorises.
    let words = nulls
        .inner()
        .inner()
        .bit_chunks(nulls.offset(), nulls.len());
    let whole = words.chunk_len() * 64;
    let slots = scratch[..whole]
        .chunks_exact_mut(64)
        .zip(values[..whole].chunks_exact(64));
    for (word, (out, values)) in words.iter().zip(slots) {
        for (j, (out, value)) in out.iter_mut().zip(values).enumerate() {
            if word >> j & 1 == 1 {
                *out = *value;
            }
        }
    }
    let rest = words.remainder_bits();
    for (j, value) in values[whole..].iter().enumerate() {
        if rest >> j & 1 == 1 {
            scratch[whole + j] = *value;
        }
    }
    Some(scratch)
}

/// Lanes of the scans below: independent accumulators the compiler keeps in vector registers.
const LANES: usize = 8;

/// One pass over a float column's values.
struct FloatScan {
    nan: bool,
    negative_zero: bool,
    /// Extremes of the non-NaN values (±inf when there are none).
    min: f64,
    max: f64,
}

impl FloatScan {
    fn of(values: &[f64]) -> FloatScan {
        const NEGATIVE_ZERO: u64 = 1 << 63;
        let (mut min, mut max) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let (mut nan, mut zero) = ([false; LANES], [false; LANES]);
        let chunks = values.chunks_exact(LANES);
        let rest = chunks.remainder();
        let mut step = |lane: usize, v: f64| {
            // NaN compares false both ways, so it never becomes an extreme.
            min[lane] = if v < min[lane] { v } else { min[lane] };
            max[lane] = if v > max[lane] { v } else { max[lane] };
            nan[lane] |= v.is_nan();
            zero[lane] |= v.to_bits() == NEGATIVE_ZERO;
        };
        for chunk in chunks {
            for (lane, v) in chunk.iter().enumerate() {
                step(lane, *v);
            }
        }
        for (lane, v) in rest.iter().enumerate() {
            step(lane, *v);
        }
        FloatScan {
            nan: nan.iter().any(|x| *x),
            negative_zero: zero.iter().any(|x| *x),
            min: min.iter().fold(f64::INFINITY, |a, b| a.min(*b)),
            max: max.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b)),
        }
    }

    /// MIN and MAX as [`ColumnMeasure`] holds them (total order; NaN when NaN is present).
    fn bounds(&self) -> (Option<f64>, Option<f64>) {
        if self.nan {
            return (Some(f64::NAN), Some(f64::NAN));
        }
        if self.min > self.max {
            return (None, None); // no value
        }
        // A zero extreme of either sign, widened: -0.0 < 0.0 in total order.
        let min = if self.min == 0.0 && self.negative_zero {
            -0.0
        } else {
            self.min
        };
        let max = if self.max == 0.0 { 0.0 } else { self.max };
        (Some(min), Some(max))
    }
}

/// MIN and MAX of integer values, as f64 (as the engine casts them), None when there are none.
fn int_bounds(values: &[i64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let (mut min, mut max) = ([i64::MAX; LANES], [i64::MIN; LANES]);
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    let mut step = |lane: usize, v: i64| {
        min[lane] = min[lane].min(v);
        max[lane] = max[lane].max(v);
    };
    for chunk in chunks {
        for (lane, v) in chunk.iter().enumerate() {
            step(lane, *v);
        }
    }
    for (lane, v) in rest.iter().enumerate() {
        step(lane, *v);
    }
    let min = min.iter().min().copied().unwrap_or(i64::MAX);
    let max = max.iter().max().copied().unwrap_or(i64::MIN);
    (Some(min as f64), Some(max as f64))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};

    use std::sync::Arc;

    use datafusion::arrow::datatypes::{Field, Schema};

    use super::super::value_counts::MAX_DISTINCT;

    use super::*;
    use crate::raw::{register_batches, session};

    /// The measures the contracts read instead of a scan agree with the engine's MIN, MAX and
    /// NULL counts over the same rows (split over batches, with NULLs, -0.0, infinities), and
    /// are NaN — proving no bound — where a value is NaN.
    #[tokio::test]
    async fn measures_agree_with_the_engines_aggregates() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("z", DataType::Float64, true),
            Field::new("n", DataType::Float64, true),
            Field::new("e", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let f = |v: Vec<Option<f64>>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let batch = |cols: Vec<ArrayRef>| RecordBatch::try_new(schema.clone(), cols).unwrap();
        let first = batch(vec![
            f(vec![Some(1.5), Some(-0.0), None, Some(f64::INFINITY)]),
            f(vec![Some(0.0), Some(-0.0), Some(0.0), Some(2.0)]),
            f(vec![Some(f64::NAN), Some(1.0), None, Some(-4.0)]),
            f(vec![None, None, None, None]),
            Arc::new(Int64Array::from(vec![Some(5), None, Some(-2), Some(9)])),
            Arc::new(StringArray::from(vec![Some("a"), None, None, Some("b")])),
        ]);
        let second = batch(vec![
            f((0..20).map(|k| Some(-3.25 + k as f64)).collect()),
            f((0..20).map(|k| Some(k as f64)).collect()),
            f((0..20).map(|_| Some(0.5)).collect()),
            f((0..20).map(|_| None).collect()),
            Arc::new(Int64Array::from_iter((0..20).map(|k| Some(k * 1000 - 7)))),
            Arc::new(StringArray::from_iter((0..20).map(|_| Some("c")))),
        ]);
        let batches = [first, second];
        let facts = TableFacts::of(&schema, batches.iter());
        let both = TableFacts::of(&schema, batches[..1].iter())
            .both(&TableFacts::of(&schema, batches[1..].iter()));
        // (NaN is not equal to itself: compared as text.)
        assert_eq!(
            format!("{:?}", facts.measured),
            format!("{:?}", both.measured)
        );
        let measured = facts.measured.unwrap();
        assert_eq!(measured.rows, 24);
        let counts = BTreeMap::from([("a".into(), 1), ("b".into(), 1), ("c".into(), 20)]);
        assert_eq!(
            measured.values,
            BTreeMap::from([("s".into(), Some(counts))])
        );
        // As `s NOT IN ('a')` counts: NULL passes.
        assert_eq!(measured.outside("s", &["a"]), Some(21));
        assert_eq!(measured.outside("s", &["a", "b", "c"]), Some(0));
        assert_eq!(measured.outside("x", &["a"]), None);

        let ctx = session();
        let parts = vec![batches.to_vec()];
        register_batches(&ctx, "t", schema.clone(), parts).unwrap();
        for field in schema.fields() {
            let c = field.name();
            let m = measured.columns[c];
            let sql = format!("SELECT COUNT(*) - COUNT({c}) FROM t");
            let row = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let nulls = row[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(m.nulls, nulls.value(0) as u64, "{c}");
            if field.data_type() == &DataType::Utf8 {
                continue;
            }
            let sql = format!("SELECT CAST(MIN({c}) AS DOUBLE), CAST(MAX({c}) AS DOUBLE) FROM t");
            let row = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let value = |i: usize| {
                let a = row[0].column(i).as_any().downcast_ref::<Float64Array>();
                let a = a.unwrap();
                (!a.is_null(0)).then(|| a.value(0))
            };
            if c == "n" {
                assert!(m.min.unwrap().is_nan() && m.max.unwrap().is_nan());
                continue;
            }
            // Equal values; a zero extreme may be widened (-0.0 for MIN, 0.0 for MAX).
            assert_eq!(m.min, value(0), "{c} min");
            assert_eq!(m.max, value(1), "{c} max");
        }
        let z = measured.columns["z"];
        assert_eq!(z.min.unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(measured.columns["e"].min, None);

        // A cached copy's footer gives them back bit for bit (NaN, -0.0, no value); a copy
        // without them (an earlier version's) is not taken.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.parquet");
        let mut sink = ParquetSink::create(
            &copy,
            &schema,
            creditrisk_base::parquet_io::ParquetOptions::RAW_CACHE,
        )
        .unwrap();
        let facts = TableFacts::of(&schema, batches.iter());
        facts.annotate(&mut sink).unwrap();
        sink.finish().unwrap().persist().unwrap();
        let recorded = TableFacts::recorded_in(&copy).unwrap();
        assert_eq!(
            format!("{:?}", recorded.measured),
            format!("{:?}", facts.measured)
        );
        let z = recorded.measured.unwrap().columns["z"];
        assert_eq!(z.min.unwrap().to_bits(), (-0.0f64).to_bits());
        let older = dir.path().join("older.parquet");
        creditrisk_base::parquet_io::write_parquet(
            &older,
            &schema,
            &batches,
            creditrisk_base::parquet_io::ParquetOptions::RAW_CACHE,
        )
        .unwrap();
        assert_eq!(TableFacts::recorded_in(&older), None);
    }

    /// Past MAX_DISTINCT values (in one batch, or only once parts are merged) a column's values
    /// are not counted, and its domain checks go to SQL.
    #[test]
    fn text_values_are_counted_up_to_a_limit() {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let text = |range: std::ops::Range<usize>| {
            let values: Vec<String> = range.map(|k| format!("v{k}")).collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(values))]).unwrap()
        };
        let values = |facts: TableFacts| facts.measured.unwrap().values["s"].clone();
        let at_limit = text(0..MAX_DISTINCT);
        assert_eq!(
            values(TableFacts::of(&schema, [&at_limit].into_iter())).map(|c| c.len()),
            Some(MAX_DISTINCT)
        );
        let over = text(0..MAX_DISTINCT + 1);
        assert_eq!(values(TableFacts::of(&schema, [&over].into_iter())), None);
        // One-byte values (counted apart) count towards the limit too, before and after the others.
        let bytes: Vec<String> = (b'0'..=b'9').map(|b| char::from(b).to_string()).collect();
        let strings = |head: &[String], tail: &[String]| {
            let all: Vec<&str> = head.iter().chain(tail).map(String::as_str).collect();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(all))]).unwrap()
        };
        let words: Vec<String> = (0..MAX_DISTINCT - 10).map(|k| format!("v{k}")).collect();
        for batch in [strings(&bytes, &words), strings(&words, &bytes)] {
            let counts = values(TableFacts::of(&schema, [&batch].into_iter())).unwrap();
            assert_eq!(
                (counts.len(), counts["7"], counts["v7"]),
                (MAX_DISTINCT, 1, 1)
            );
        }
        for extra in ["x", "vx"] {
            let one_more = [words.clone(), vec![extra.into()]].concat();
            for batch in [strings(&bytes, &one_more), strings(&one_more, &bytes)] {
                assert_eq!(values(TableFacts::of(&schema, [&batch].into_iter())), None);
            }
        }
        let (low, high) = (text(0..600), text(600..1200));
        let merged = TableFacts::of(&schema, [&low].into_iter())
            .both(&TableFacts::of(&schema, [&high].into_iter()));
        assert_eq!(values(merged), None);
        // Empty values, and values longer than 16 bytes that share their first and last 8 bytes
        // and their length.
        let (a, b) = ("01234567-a-89abcdef", "01234567-b-89abcdef");
        // Runs of one value, and a run broken by a one-byte value.
        let odd = vec![
            "", a, "X", "", b, b, a, "", "X", "Y", "ab", "ab", "Z", "ab", a, b,
        ];
        let odd = StringArray::from(odd);
        let odd = RecordBatch::try_new(schema.clone(), vec![Arc::new(odd)]).unwrap();
        let counts = values(TableFacts::of(&schema, [&odd].into_iter())).unwrap();
        assert_eq!(counts.len(), 7);
        assert_eq!(
            (counts[""], counts[a], counts[b], counts["ab"]),
            (3, 3, 3, 3)
        );
        assert_eq!((counts["X"], counts["Y"], counts["Z"]), (2, 1, 1));
        assert_eq!(
            values(TableFacts::of(&schema, [&low, &low].into_iter())).map(|c| c["v1"]),
            Some(2)
        );
    }

    /// A NULL slot holds an arbitrary value (here extremes and NaN): it must not reach the
    /// measures, in whole 64-slot words of the validity bitmap, in the rest, and in a slice whose
    /// bitmap starts mid-word.
    #[test]
    fn null_slots_never_become_extremes() {
        use datafusion::arrow::buffer::ScalarBuffer;
        let slots = 200;
        let valid = |i: usize| !i.is_multiple_of(3);
        let nulls = NullBuffer::from((0..slots).map(valid).collect::<Vec<bool>>());
        let junk = |i: usize| [f64::NAN, 1e300, -1e300][i % 2 + i.is_multiple_of(9) as usize];
        let floats: Vec<f64> = (0..slots)
            .map(|i| if valid(i) { i as f64 } else { junk(i) })
            .collect();
        let ints: Vec<i64> = (0..slots)
            .map(|i| if valid(i) { i as i64 } else { i64::MIN })
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::new(
                ScalarBuffer::from(floats),
                Some(nulls.clone()),
            )),
            Arc::new(Int64Array::new(ScalarBuffer::from(ints), Some(nulls))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        for (batch, low, high) in [
            (batch.clone(), 1.0, 199.0),
            (batch.slice(5, 150), 5.0, 154.0),
        ] {
            let measured = TableFacts::of(&schema, [&batch].into_iter())
                .measured
                .unwrap();
            for column in ["f", "i"] {
                let m = measured.columns[column];
                assert_eq!((m.min, m.max), (Some(low), Some(high)), "{column}");
                assert_eq!(m.nulls, batch.column(0).null_count() as u64);
            }
        }
    }
}
