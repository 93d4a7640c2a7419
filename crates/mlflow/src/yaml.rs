//! MLflow's `meta.yaml` files, written byte for byte as PyYAML writes them
//! (`yaml.safe_dump(d, default_flow_style=False, allow_unicode=True, sort_keys=True)`), and read
//! with `serde-saphyr`.
//!
//! Why hand-write the writer: the files are flat maps of strings, integers and nulls (plus one
//! nested `aliases` map), and MLflow's readers care about YAML types: `experiment_id: '123'` must
//! stay a string and `current_stage: None` must stay the string None. A port of PyYAML's scalar
//! style choice (`analyze_scalar`, the implicit resolvers, the plain / single / double-quoted
//! writers with their folding at 80 columns) gives exactly MLflow's bytes, which the integration
//! tests check against PyYAML itself; no YAML writer crate promises that.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;
use serde::de::DeserializeOwned;

use creditrisk_base::error::{Error, Result};

/// A value in a meta.yaml file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Str(String),
    /// A nested map (`aliases`); written as `{}` when empty.
    Map(Vec<(String, Value)>),
    /// `[]` (the legacy `tags: []` of a run's meta.yaml).
    EmptyList,
}

impl Value {
    pub(crate) fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub(crate) fn opt_str(s: Option<&str>) -> Value {
        s.map_or(Value::Null, Value::str)
    }

    pub(crate) fn opt_int(i: Option<i64>) -> Value {
        i.map_or(Value::Null, Value::Int)
    }
}

/// PyYAML's `best_width` and `best_indent`.
const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

/// The YAML text of a top-level map, keys sorted as Python sorts them (by code point).
pub(crate) fn to_string(entries: Vec<(String, Value)>) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: 0,
    };
    e.block_map(entries, 0);
    e.write_indent(); // document end
    e.out
}

/// Read a meta.yaml file into `T`.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_saphyr::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: not a valid MLflow meta.yaml: {e}",
            path.display()
        ))
    })
}

/// What PyYAML's `analyze_scalar` decides about a string.
struct Analysis {
    empty: bool,
    multiline: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_space_or_break(c: Option<char>) -> bool {
    matches!(c, None | Some('\0' | ' ' | '\t' | '\r')) || c.is_some_and(is_break)
}

/// A port of PyYAML 6's `Emitter.analyze_scalar` (block context, `allow_unicode=True`).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let mut followed_by_whitespace = chars.len() == 1 || is_space_or_break(chars.get(1).copied());
    let (mut previous_space, mut previous_break) = (false, false);
    for (index, &ch) in chars.iter().enumerate() {
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if (ch == '?' || ch == ':' || ch == '-') && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if is_break(ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let printable = ch == '\u{85}'
                || ('\u{A0}'..='\u{D7FF}').contains(&ch)
                || ('\u{E000}'..='\u{FFFD}').contains(&ch)
                || ('\u{10000}'..'\u{10FFFF}').contains(&ch);
            if !printable || ch == '\u{FEFF}' {
                special = true;
            }
        }
        if ch == ' ' {
            if index == 0 {
                leading_space = true;
            }
            if index == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(ch) {
            if index == 0 {
                leading_break = true;
            }
            if index == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_space_or_break(Some(ch));
        followed_by_whitespace = is_space_or_break(chars.get(index + 2).copied());
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks || block_indicators {
        allow_block_plain = false;
    }
    Analysis {
        empty: false,
        multiline: line_breaks,
        allow_block_plain,
        allow_single_quoted,
    }
}

/// PyYAML's implicit resolvers (YAML 1.1): a string matching one of them would read back as a
/// bool, int, float, null or timestamp, so it must be quoted.
fn resolves_to_non_string(s: &str) -> bool {
    static RESOLVERS: OnceLock<Vec<Regex>> = OnceLock::new();
    let resolvers = RESOLVERS.get_or_init(|| {
        [
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
            r"^(?:<<)$",
            r"^(?:~|null|Null|NULL|)$",
            r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            r"^(?:=)$",
            r"^(?:!|&|\*)$",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    });
    resolvers.iter().any(|r| r.is_match(s))
}

/// The subset of PyYAML's emitter state that block maps of scalars use.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Emitter {
    fn write(&mut self, data: &str) {
        self.column += data.chars().count();
        self.out.push_str(data);
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        whitespace: bool,
        indention: bool,
    ) {
        if !self.whitespace && need_whitespace {
            self.write(" ");
        }
        self.write(indicator);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
    }

    fn write_line_break(&mut self, data: char) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(data);
    }

    fn write_indent(&mut self) {
        if !self.indention
            || self.column > self.indent
            || (self.column == self.indent && !self.whitespace)
        {
            self.write_line_break('\n');
        }
        if self.column < self.indent {
            self.whitespace = true;
            let pad = " ".repeat(self.indent - self.column);
            self.write(&pad);
        }
    }

    /// A block mapping at `indent` (`expect_block_mapping`), keys sorted.
    fn block_map(&mut self, mut entries: Vec<(String, Value)>, indent: usize) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let outer = self.indent;
        self.indent = indent;
        for (key, value) in entries {
            self.write_indent();
            let analysis = analyze(&key);
            // `check_simple_key`: PyYAML counts the implicit `!!str` tag (5 characters) too.
            let simple = key.chars().count() + 5 < 128 && !analysis.empty && !analysis.multiline;
            if simple {
                self.scalar(&key, true);
                self.write_indicator(":", false, false, false);
            } else {
                // A long key: `? key` then `: value` on the next line.
                self.write_indicator("?", true, false, true);
                self.scalar(&key, false);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.value(value, indent);
        }
        self.indent = outer;
    }

    fn value(&mut self, value: Value, indent: usize) {
        match value {
            Value::Null => self.scalar_styled("null", Style::Plain, true),
            Value::Int(i) => self.scalar_styled(&i.to_string(), Style::Plain, true),
            Value::Str(s) => self.scalar(&s, false),
            Value::EmptyList => self.write_indicator("[]", true, false, false),
            Value::Map(m) if m.is_empty() => self.write_indicator("{}", true, false, false),
            Value::Map(m) => self.block_map(m, indent + BEST_INDENT),
        }
    }

    /// A string scalar: `choose_scalar_style`, then the writer (`process_scalar`).
    fn scalar(&mut self, s: &str, simple_key: bool) {
        let a = analyze(s);
        let implicit_plain = !resolves_to_non_string(s);
        let style =
            if implicit_plain && !(simple_key && (a.empty || a.multiline)) && a.allow_block_plain {
                Style::Plain
            } else if a.allow_single_quoted && !(simple_key && a.multiline) {
                Style::Single
            } else {
                Style::Double
            };
        self.scalar_styled(s, style, !simple_key);
    }

    /// `expect_scalar`: the scalar is written one indent step deeper (`increase_indent(flow=True)`).
    fn scalar_styled(&mut self, s: &str, style: Style, split: bool) {
        let outer = self.indent;
        self.indent += BEST_INDENT;
        match style {
            Style::Plain => self.write_plain(s, split),
            Style::Single => self.write_single_quoted(s, split),
            Style::Double => self.write_double_quoted(s, split),
        }
        self.indent = outer;
    }

    fn write_plain(&mut self, text: &str, split: bool) {
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let chars: Vec<char> = text.chars().collect();
        let mut spaces = false;
        let (mut start, mut end) = (0, 0);
        // Plain scalars never hold line breaks (analysis forbids it), so only spaces fold.
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if ch.is_none() || ch == Some(' ') {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
            }
            end += 1;
        }
    }

    fn write_single_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > BEST_WIDTH
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent();
                    } else {
                        let data: String = chars[start..end].iter().collect();
                        self.write(&data);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(is_break) {
                    if chars[start] == '\n' {
                        self.write_line_break('\n');
                    }
                    for &br in &chars[start..end] {
                        self.write_line_break(br);
                    }
                    self.write_indent();
                    start = end;
                }
            } else if (ch.is_none()
                || ch == Some(' ')
                || ch.is_some_and(is_break)
                || ch == Some('\''))
                && start < end
            {
                let data: String = chars[start..end].iter().collect();
                self.write(&data);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = is_break(c);
            }
            end += 1;
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &str, split: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut end) = (0, 0);
        while end <= chars.len() {
            let ch = chars.get(end).copied();
            let needs_escape = match ch {
                None => true,
                Some(c) => {
                    "\"\\\u{85}\u{2028}\u{2029}\u{FEFF}".contains(c)
                        || !((' '..='~').contains(&c)
                            || ('\u{A0}'..='\u{D7FF}').contains(&c)
                            || ('\u{E000}'..='\u{FFFD}').contains(&c))
                }
            };
            if needs_escape {
                if start < end {
                    let data: String = chars[start..end].iter().collect();
                    self.write(&data);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\u{07}' => "\\a".to_string(),
                        '\u{08}' => "\\b".to_string(),
                        '\t' => "\\t".to_string(),
                        '\n' => "\\n".to_string(),
                        '\u{0B}' => "\\v".to_string(),
                        '\u{0C}' => "\\f".to_string(),
                        '\r' => "\\r".to_string(),
                        '\u{1B}' => "\\e".to_string(),
                        '"' => "\\\"".to_string(),
                        '\\' => "\\\\".to_string(),
                        '\u{85}' => "\\N".to_string(),
                        '\u{A0}' => "\\_".to_string(),
                        '\u{2028}' => "\\L".to_string(),
                        '\u{2029}' => "\\P".to_string(),
                        c if (c as u32) <= 0xFF => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xFFFF => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&data);
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < chars.len()
                && (ch == Some(' ') || start >= end)
                && self.column as isize + end as isize - start as isize > BEST_WIDTH as isize
                && split
            {
                let mut data: String = chars[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
            end += 1;
        }
        self.write_indicator("\"", false, false, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Value) -> String {
        to_string(vec![("k".to_string(), v)])
    }

    #[test]
    fn scalars_are_styled_like_pyyaml() {
        assert_eq!(one(Value::str("abc")), "k: abc\n");
        assert_eq!(one(Value::str("")), "k: ''\n");
        assert_eq!(one(Value::str("123")), "k: '123'\n");
        assert_eq!(one(Value::str("None")), "k: None\n");
        assert_eq!(one(Value::str("null")), "k: 'null'\n");
        assert_eq!(one(Value::str("yes")), "k: 'yes'\n");
        assert_eq!(one(Value::str("1.5")), "k: '1.5'\n");
        assert_eq!(one(Value::str("1e3")), "k: 1e3\n");
        assert_eq!(one(Value::str("it's")), "k: it's\n");
        assert_eq!(one(Value::str("'q")), "k: '''q'\n");
        assert_eq!(one(Value::str("a: b")), "k: 'a: b'\n");
        assert_eq!(one(Value::str("x\ty")), "k: \"x\\ty\"\n");
        assert_eq!(one(Value::str("a\nb")), "k: 'a\n\n  b'\n");
        assert_eq!(one(Value::str("é😀")), "k: é😀\n");
        assert_eq!(
            one(Value::str("file:///tmp/x/mlruns/1/artifacts")),
            "k: file:///tmp/x/mlruns/1/artifacts\n"
        );
        assert_eq!(one(Value::Null), "k: null\n");
        assert_eq!(one(Value::Int(-3)), "k: -3\n");
        assert_eq!(one(Value::EmptyList), "k: []\n");
        assert_eq!(one(Value::Map(vec![])), "k: {}\n");
    }

    #[test]
    fn long_values_fold_at_80_columns() {
        let words = "word ".repeat(30);
        assert_eq!(
            to_string(vec![("d".to_string(), Value::str(words))]),
            "d: 'word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word word '\n"
        );
    }

    #[test]
    fn nested_maps_and_long_keys() {
        let text = to_string(vec![
            ("name".into(), Value::str("m")),
            (
                "aliases".into(),
                Value::Map(vec![
                    ("champion".into(), Value::str("2")),
                    ("2024".into(), Value::str("3")),
                ]),
            ),
        ]);
        assert_eq!(text, "aliases:\n  '2024': '3'\n  champion: '2'\nname: m\n");
        let long = "a".repeat(123);
        assert_eq!(
            to_string(vec![(long.clone(), Value::str("3"))]),
            format!("? {long}\n: '3'\n")
        );
    }

    #[derive(serde::Deserialize)]
    struct Probe {
        a: String,
        b: Option<String>,
        c: Option<String>,
        d: i64,
        e: String,
    }

    #[test]
    fn reads_back_what_it_writes() {
        let text = to_string(vec![
            ("a".into(), Value::str("123")),
            ("b".into(), Value::Null),
            ("c".into(), Value::str("null")),
            ("d".into(), Value::Int(7)),
            ("e".into(), Value::str("None")),
        ]);
        let p: Probe = serde_saphyr::from_str(&text).expect("parse");
        assert_eq!(p.a, "123");
        assert_eq!(p.b, None);
        assert_eq!(p.c.as_deref(), Some("null"));
        assert_eq!(p.d, 7);
        assert_eq!(p.e, "None");
    }
}
