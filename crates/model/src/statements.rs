//! Adverse-action statements: the plain-language sentence an applicant reads for each reason
//! code. The table (`governance.reason_statements`, a CSV reviewed and signed off like code) maps
//! every model feature to the sentence saying that it raised the PD and to the unit its value is
//! shown in. `train` refuses a model with a feature the table lacks (a blank reason would reach
//! an applicant otherwise) and copies the model's rows into the bundle, so scoring never reads
//! the repository's table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use creditrisk_base::error::{Error, Result};

/// The sentence and unit of one feature.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Statement {
    /// Says that this factor raised the estimated risk, e.g. "Your external credit scores are
    /// low, which raised the estimated risk of default".
    pub text: String,
    /// Unit the value is shown in ("years", "currency units"); empty for categories and codes.
    pub unit: String,
}

/// Feature → statement (the bundle's `reason_statements.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReasonStatements {
    pub statements: BTreeMap<String, Statement>,
}

const HEADER: [&str; 3] = ["feature", "statement", "unit"];

/// The repository's reviewed table, compiled in: a project without its own `configs/` copy (a
/// container image, a test project) trains with the table of the binary's release.
pub const BUILTIN_CSV: &str = include_str!("../../../configs/reason_statements.csv");

impl ReasonStatements {
    /// Read the reviewed table: header `feature,statement,unit`, one row per feature.
    pub fn load_csv(path: &Path) -> Result<ReasonStatements> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::input(format!(
                "{}: cannot read the reason statements ({e}); set governance.reason_statements \
                 to the reviewed table",
                path.display()
            ))
        })?;
        Self::parse_csv(&bytes, &path.display().to_string())
    }

    /// Parse the table's CSV text; `shown` names it in errors.
    pub fn parse_csv(bytes: &[u8], shown: &str) -> Result<ReasonStatements> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| Error::input_from(shown.to_string(), e))?
            .iter()
            .map(str::to_string)
            .collect();
        if header != HEADER {
            return Err(Error::input(format!(
                "{shown}: header is {header:?}; expected feature,statement,unit"
            )));
        }
        let mut statements = BTreeMap::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record =
                record.map_err(|e| Error::input_from(format!("{shown}: line {line}"), e))?;
            let field = |k: usize| record.get(k).unwrap_or("").trim().to_string();
            let (feature, text, unit) = (field(0), field(1), field(2));
            if feature.is_empty() || text.is_empty() {
                return Err(Error::input(format!(
                    "{shown}: line {line}: a feature needs a name and a statement"
                )));
            }
            if statements
                .insert(feature.clone(), Statement { text, unit })
                .is_some()
            {
                return Err(Error::input(format!(
                    "{shown}: line {line}: feature {feature} is listed twice; keep one row"
                )));
            }
        }
        Ok(ReasonStatements { statements })
    }

    /// The rows of `features` only (what a bundle carries); an error names every feature without
    /// a statement, so a model can never give a blank reason.
    pub fn for_features<'a>(
        &self,
        features: impl IntoIterator<Item = &'a str>,
        source: &str,
    ) -> Result<ReasonStatements> {
        let mut out = BTreeMap::new();
        let mut missing = Vec::new();
        for f in features {
            match self.statements.get(f) {
                Some(s) => {
                    out.insert(f.to_string(), s.clone());
                }
                None => missing.push(f.to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::check(format!(
                "{}: no adverse-action statement for model feature(s) {}; add a reviewed row \
                 (feature,statement,unit) for each, or exclude them with features.exclude",
                source,
                missing.join(", ")
            )));
        }
        Ok(ReasonStatements { statements: out })
    }

    /// The applicant-facing sentence of a reason: the statement and the value with its unit.
    /// A feature outside the table (never, for a bundle checked at training) still gets a sentence.
    pub fn render(&self, feature: &str, value: &serde_json::Value) -> String {
        let shown = match value {
            serde_json::Value::Null => "not provided".to_string(),
            serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), number),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self.statements.get(feature) {
            Some(s) if s.unit.is_empty() || value.is_null() || value.is_string() => {
                format!("{}. Your value: {shown}.", s.text)
            }
            Some(s) => format!("{}. Your value: {shown} {}.", s.text, s.unit),
            None => format!("{feature} raised the estimated risk. Your value: {shown}."),
        }
    }
}

/// A number as a person reads it: at most 4 decimals, no trailing zeros.
fn number(v: f64) -> String {
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_render_values_with_units_and_name_missing_features() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(
            &path,
            "feature,statement,unit\nAGE_YEARS,\"Your age, as a factor, raised the risk\",years\nNAME_INCOME_TYPE,Your income type raised the risk,\n",
        )
        .unwrap();
        let table = ReasonStatements::load_csv(&path).unwrap();
        assert_eq!(
            table.render("AGE_YEARS", &serde_json::json!(23.50001)),
            "Your age, as a factor, raised the risk. Your value: 23.5 years."
        );
        assert_eq!(
            table.render("NAME_INCOME_TYPE", &serde_json::json!("Working")),
            "Your income type raised the risk. Your value: Working."
        );
        assert_eq!(
            table.render("AGE_YEARS", &serde_json::Value::Null),
            "Your age, as a factor, raised the risk. Your value: not provided."
        );
        let err = table
            .for_features(["AGE_YEARS", "X1", "X2"], "s.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("X1, X2") && err.contains("s.csv"), "{err}");
        let kept = table.for_features(["AGE_YEARS"], "s.csv").unwrap();
        assert_eq!(kept.statements.len(), 1);
        // The shipped table parses.
        assert!(ReasonStatements::parse_csv(BUILTIN_CSV.as_bytes(), "built-in").is_ok());
    }
}
