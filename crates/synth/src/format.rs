//! CSV cell formatting that reproduces Kaggle's byte layout without per-row allocations.
//!
//! Kaggle's files come from two writers: `application_*`, `bureau` and `previous_application`
//! print integral floats bare (`202500`, `-153`), while `installments_payments`,
//! `credit_card_balance` and `POS_CASH_balance` print them Python-style (`36.0`, `0.0`). Decimals
//! are rounded to a fixed number of places and printed without trailing zeros (`406597.5`,
//! `0.083036967`), which is what both writers produce for values of that precision. Text is
//! quoted only when it contains a comma or a quote (`"Spouse, partner"`), like Python's csv module.

/// How a table prints floats that happen to be whole numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatStyle {
    /// `202500`
    Bare,
    /// `202500.0`
    PointZero,
}

const POW10: [i64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Encode a text value as a CSV field (quoted when it holds a comma, quote or newline).
pub fn encode_text(value: &str) -> Vec<u8> {
    if value
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        let mut out = Vec::with_capacity(value.len() + 2);
        out.push(b'"');
        for b in value.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
        out
    } else {
        value.as_bytes().to_vec()
    }
}

/// Appends the cells of one CSV line to a table's buffer.
pub struct Row<'a> {
    buf: &'a mut Vec<u8>,
    style: FloatStyle,
    first: bool,
}

impl<'a> Row<'a> {
    pub fn new(buf: &'a mut Vec<u8>, style: FloatStyle) -> Self {
        Row {
            buf,
            style,
            first: true,
        }
    }

    #[inline]
    fn sep(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.buf.push(b',');
        }
    }

    /// An integer cell (`Kind::Int`).
    #[inline]
    pub fn int(&mut self, value: i64) -> &mut Self {
        self.sep();
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(value).as_bytes());
        self
    }

    /// A float cell rounded to `places` decimals (at most 9), trailing zeros trimmed.
    #[inline]
    pub fn float(&mut self, value: f64, places: usize) -> &mut Self {
        self.sep();
        write_decimal(self.buf, value, places, self.style);
        self
    }

    /// A float cell that may be missing.
    #[inline]
    pub fn opt_float(&mut self, value: Option<f64>, places: usize) -> &mut Self {
        match value {
            Some(v) => self.float(v, places),
            None => self.null(),
        }
    }

    /// A pre-encoded text cell (see [`encode_text`]).
    #[inline]
    pub fn text(&mut self, encoded: &[u8]) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(encoded);
        self
    }

    /// An empty (missing) cell.
    #[inline]
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self
    }

    /// Terminates the line.
    #[inline]
    pub fn end(&mut self) {
        self.buf.push(b'\n');
    }
}

/// Fixed-point decimal printing: exact, fast and identical on every platform (no float-to-text
/// shortest-representation search, which is where most CSV writers spend their time).
pub fn write_decimal(buf: &mut Vec<u8>, value: f64, places: usize, style: FloatStyle) {
    let places = places.min(9);
    let scale = POW10[places];
    let scaled = (value * scale as f64).round();
    // Values beyond i64 cannot come from the generator; clamp instead of wrapping.
    let scaled = scaled.clamp(i64::MIN as f64 / 2.0, i64::MAX as f64 / 2.0) as i64;
    let magnitude = scaled.unsigned_abs();
    if scaled < 0 {
        buf.push(b'-');
    }
    let whole = magnitude / scale as u64;
    let mut frac = magnitude % scale as u64;
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(whole).as_bytes());
    if frac == 0 {
        if style == FloatStyle::PointZero {
            buf.extend_from_slice(b".0");
        }
        return;
    }
    let mut digits = places;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    buf.push(b'.');
    let text = b.format(frac).as_bytes();
    buf.extend(std::iter::repeat_n(b'0', digits - text.len()));
    buf.extend_from_slice(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(v: f64, places: usize, style: FloatStyle) -> String {
        let mut buf = Vec::new();
        write_decimal(&mut buf, v, places, style);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn decimals_look_like_kaggle() {
        assert_eq!(fmt(202500.0, 3, FloatStyle::Bare), "202500");
        assert_eq!(fmt(406597.5, 3, FloatStyle::Bare), "406597.5");
        assert_eq!(fmt(0.13937578, 9, FloatStyle::Bare), "0.13937578");
        assert_eq!(fmt(0.083036967, 9, FloatStyle::Bare), "0.083036967");
        assert_eq!(fmt(0.0, 4, FloatStyle::Bare), "0");
        assert_eq!(fmt(36.0, 0, FloatStyle::PointZero), "36.0");
        assert_eq!(fmt(-725.0, 0, FloatStyle::PointZero), "-725.0");
        assert_eq!(fmt(0.0, 3, FloatStyle::PointZero), "0.0");
        assert_eq!(fmt(-411.615, 3, FloatStyle::Bare), "-411.615");
        assert_eq!(fmt(-0.5, 3, FloatStyle::Bare), "-0.5");
        assert_eq!(fmt(0.0005, 4, FloatStyle::Bare), "0.0005");
        assert_eq!(fmt(-0.0001, 3, FloatStyle::Bare), "0");
    }

    #[test]
    fn text_with_commas_is_quoted() {
        assert_eq!(encode_text("Spouse, partner"), b"\"Spouse, partner\"");
        assert_eq!(encode_text("Stone, brick"), b"\"Stone, brick\"");
        assert_eq!(encode_text("Cash loans"), b"Cash loans");
        assert_eq!(encode_text("a\"b"), b"\"a\"\"b\"");
    }

    #[test]
    fn row_separates_cells() {
        let mut buf = Vec::new();
        Row::new(&mut buf, FloatStyle::PointZero)
            .int(1136716)
            .float(36.0, 0)
            .null()
            .text(b"Active")
            .end();
        assert_eq!(buf, b"1136716,36.0,,Active\n");
    }
}
