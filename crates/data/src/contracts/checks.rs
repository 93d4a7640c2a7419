//! Declarative checks: a check is data — a column, a name, a group (the `validation.enforce_*`
//! toggle that governs it) and either a SQL predicate that is true for a failing row, a key that
//! must be unique, or a parent id set — generated here from the catalog's columns and run by
//! `runner`. Most carry a [`Shortcut`] that lets the runner prove them without looking at every
//! row.

use crate::raw::ident;
use creditrisk_base::catalog::{Column, DAYS_SENTINEL, Domain, Kind};

/// The `validation.enforce_*` toggle a check belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Schema,
    Nulls,
    Keys,
    Ranges,
    Domains,
    Referential,
}

/// What makes a row (or the table) fail.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Rows for which this SQL predicate is true fail (NULL counts as passing).
    Failing(String),
    /// Every non-NULL value of the column appears once.
    Unique,
    /// Non-NULL values of the column must appear in the `id` column of this query.
    KnownIn(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    pub column: Option<String>,
    /// `not_null`, `range`, `domain`, `finite`, `type`, `unique`, `orphans`, ...
    pub name: String,
    pub group: Group,
    pub rule: Rule,
    /// What passing means, in words ("DAYS_BIRTH <= 0").
    pub expectation: String,
    /// A cheaper way to prove the check passes (or to count it), if the rule allows one.
    pub shortcut: Option<Shortcut>,
}

/// A cheap stand-in for a `Rule::Failing` predicate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shortcut {
    /// The predicate is exactly `<column> IS NULL`: its count is `COUNT(*) - COUNT(<column>)`.
    Null,
    /// No row whose (non-NULL) value lies in this interval fails. When the column's MIN and MAX
    /// both lie in it, the check passes; otherwise its rows are counted exactly. Compared in
    /// Arrow's total order for floats (like the predicates themselves: -0.0 < 0.0), and only used
    /// on columns that MAX(ABS(..)) shows free of NaN and infinities.
    Within { lo: Limit, hi: Limit },
    /// The predicate is exactly "a non-NULL value outside this vocabulary": when the parse counted
    /// the column's values (`TableFacts`), the failing rows are summed from those counts.
    Among(&'static [&'static str]),
}

/// One end of a [`Shortcut::Within`] interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Open,
    /// Values equal to the limit pass.
    Inclusive(f64),
    /// Values equal to the limit may fail.
    Exclusive(f64),
}

impl Limit {
    /// Whether `v` is on the passing side of this limit (`below`: it is the upper limit).
    pub(super) fn admits(self, v: f64, below: bool) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let order = |limit: f64| {
            if below {
                v.total_cmp(&limit)
            } else {
                limit.total_cmp(&v)
            }
        };
        match self {
            Limit::Open => true,
            Limit::Inclusive(limit) => order(limit) != Greater,
            Limit::Exclusive(limit) => order(limit) == Less,
        }
    }
}

impl Check {
    pub fn failing(
        column: &str,
        name: &str,
        group: Group,
        sql: String,
        expectation: String,
    ) -> Self {
        Check {
            column: Some(column.to_string()),
            name: name.to_string(),
            group,
            rule: Rule::Failing(sql),
            expectation,
            shortcut: None,
        }
    }

    fn with(mut self, shortcut: Shortcut) -> Self {
        self.shortcut = Some(shortcut);
        self
    }
}

/// The checks implied by one catalog column: not_null, finite (floats) and its value domain.
pub fn column_checks(column: &Column) -> Vec<Check> {
    let name = column.name;
    let mut checks = vec![];
    if !column.nullable {
        let sql = format!("{} IS NULL", ident(name));
        checks.push(
            Check::failing(
                name,
                "not_null",
                Group::Nulls,
                sql,
                format!("{name} is never NULL"),
            )
            .with(Shortcut::Null),
        );
    }
    if column.kind == Kind::Float {
        checks.push(finite_check(name));
    }
    checks.extend(domain_check(column));
    checks
}

/// The check of a column's value domain (`range` or `domain`), if its domain restricts values.
fn domain_check(column: &Column) -> Option<Check> {
    let name = column.name;
    let c = ident(name);
    // Each range check carries the interval its predicate lets pass (see `Shortcut::Within`).
    let range = |sql: String, words: String, lo: Limit, hi: Limit| {
        Check::failing(name, "range", Group::Ranges, sql, words).with(Shortcut::Within { lo, hi })
    };
    let (open, at_most, at_least) = (Limit::Open, Limit::Inclusive, Limit::Inclusive);
    Some(match column.domain {
        Domain::Id => range(
            format!("{c} <= 0"),
            format!("{name} > 0"),
            Limit::Exclusive(0.0),
            open,
        ),
        Domain::Binary => binary_check(column),
        Domain::Days | Domain::Months => range(
            format!("{c} > 0"),
            format!("{name} <= 0"),
            open,
            at_most(0.0),
        ),
        // No shortcut: real data holds the sentinel, so the bounds would rarely prove it.
        Domain::DaysOrSentinel => Check::failing(
            name,
            "range",
            Group::Ranges,
            format!("{c} > 0 AND {c} <> {DAYS_SENTINEL}"),
            format!("{name} <= 0 or {DAYS_SENTINEL}"),
        ),
        Domain::NonNegative => range(
            format!("{c} < 0"),
            format!("{name} >= 0"),
            at_least(0.0),
            open,
        ),
        Domain::UnitInterval => range(
            format!("{c} < 0 OR {c} > 1"),
            format!("{name} in [0, 1]"),
            at_least(0.0),
            at_most(1.0),
        ),
        Domain::Range(lo, hi) => range(
            format!("{c} < {lo:?} OR {c} > {hi:?}"),
            format!("{name} in [{lo}, {hi}]"),
            at_least(lo),
            at_most(hi),
        ),
        Domain::Categories(vocabulary) => {
            let list: Vec<String> = vocabulary.iter().map(|v| sql_string(v)).collect();
            Check::failing(
                name,
                "domain",
                Group::Domains,
                format!("{c} NOT IN ({})", list.join(", ")),
                format!("{name} in {{{}}}", vocabulary.join(", ")),
            )
            .with(Shortcut::Among(vocabulary))
        }
        Domain::Any => return None,
    })
}

/// A 0/1 flag. [0, 1] holds only 0 and 1 for integers, so the bounds may prove it; a float 0.5
/// would fail, so a float flag gets no shortcut.
fn binary_check(column: &Column) -> Check {
    let name = column.name;
    let c = ident(name);
    let check = Check::failing(
        name,
        "range",
        Group::Ranges,
        format!("{c} NOT IN (0, 1)"),
        format!("{name} in {{0, 1}}"),
    );
    if column.kind == Kind::Int {
        check.with(Shortcut::Within {
            lo: Limit::Inclusive(0.0),
            hi: Limit::Inclusive(1.0),
        })
    } else {
        check
    }
}

/// No NaN or ±infinity in a float column. Arrow compares floats by total order (NaN above +inf,
/// -NaN below -inf), so one range test outside ±f64::MAX catches all four.
pub fn finite_check(name: &str) -> Check {
    let c = ident(name);
    Check::failing(
        name,
        "finite",
        Group::Ranges,
        format!("({c} < -1.7976931348623157e308 OR {c} > 1.7976931348623157e308)"),
        format!("{name} is finite (no NaN, no ±inf)"),
    )
    .with(Shortcut::Within {
        lo: Limit::Inclusive(-f64::MAX),
        hi: Limit::Inclusive(f64::MAX),
    })
}

/// A text column holding values that do not parse as `kind` (`TRY_CAST` on the text reading).
pub fn type_check(name: &str, kind: Kind) -> Option<Check> {
    let sql_type = match kind {
        Kind::Int => "BIGINT",
        Kind::Float => "DOUBLE",
        Kind::Text => return None,
    };
    let c = ident(name);
    Some(Check::failing(
        name,
        "type",
        Group::Schema,
        format!("{c} IS NOT NULL AND TRY_CAST({c} AS {sql_type}) IS NULL"),
        format!("{name} parses as {sql_type}"),
    ))
}

pub fn sql_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_checks_cover_every_domain() {
        let checks = column_checks(
            &creditrisk_base::catalog::RawTable::BureauBalance
                .column("STATUS")
                .unwrap(),
        );
        assert_eq!(checks.len(), 2); // not_null + domain
        assert!(matches!(&checks[1].rule, Rule::Failing(sql) if sql.contains("'C'")));
        let days = creditrisk_base::catalog::RawTable::ApplicationTrain
            .column("DAYS_EMPLOYED")
            .unwrap();
        let range = &column_checks(&days)[1];
        assert!(matches!(&range.rule, Rule::Failing(sql) if sql.contains("365243")));
    }
}
