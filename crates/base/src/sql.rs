//! The feature SQL texts (`sql/*.sql`), versioned as one [`SqlSet`]: the feature store records
//! its sha256 in the lineage, and every model bundle carries the exact texts it was trained on, so
//! scoring computes the features the model saw even after `sql/` changes. Running them is the data
//! crate's `feature_sql`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The applicant key every per-table result carries and the store joins on.
pub const KEY: &str = "SK_ID_CURR";

/// A feature SQL file and the table its result is registered as.
#[derive(Clone, Copy, Debug)]
pub struct FeatureSql {
    pub file: &'static str,
    pub result: &'static str,
    builtin: &'static str,
}

impl FeatureSql {
    /// Every file: the per-table statements, then the store join.
    pub fn all() -> impl Iterator<Item = FeatureSql> {
        TABLE_SQL.into_iter().chain([STORE_SQL])
    }
}

/// The application features: one row per applicant of the `application` view.
pub const APPLICATION_SQL: FeatureSql = FeatureSql {
    file: "application.sql",
    result: "application_features",
    builtin: include_str!("../../../sql/application.sql"),
};

/// The per-table files over the credit history ([`RawTable::HISTORY`](crate::catalog::RawTable)),
/// in the order they can run.
pub const HISTORY_SQL: [FeatureSql; 6] = [
    FeatureSql {
        file: "bureau.sql",
        result: "bureau_features",
        builtin: include_str!("../../../sql/bureau.sql"),
    },
    FeatureSql {
        file: "bureau_balance.sql",
        result: "bureau_balance_features",
        builtin: include_str!("../../../sql/bureau_balance.sql"),
    },
    FeatureSql {
        file: "previous_application.sql",
        result: "previous_application_features",
        builtin: include_str!("../../../sql/previous_application.sql"),
    },
    FeatureSql {
        file: "installments_payments.sql",
        result: "installments_payments_features",
        builtin: include_str!("../../../sql/installments_payments.sql"),
    },
    FeatureSql {
        file: "credit_card_balance.sql",
        result: "credit_card_balance_features",
        builtin: include_str!("../../../sql/credit_card_balance.sql"),
    },
    FeatureSql {
        file: "pos_cash_balance.sql",
        result: "pos_cash_balance_features",
        builtin: include_str!("../../../sql/pos_cash_balance.sql"),
    },
];

/// Per-table feature files, in the order they can run: the application's, then the history's.
pub const TABLE_SQL: [FeatureSql; 7] = [
    APPLICATION_SQL,
    HISTORY_SQL[0],
    HISTORY_SQL[1],
    HISTORY_SQL[2],
    HISTORY_SQL[3],
    HISTORY_SQL[4],
    HISTORY_SQL[5],
];

/// The join of all per-table results into the store.
pub const STORE_SQL: FeatureSql = FeatureSql {
    file: "feature_store.sql",
    result: "feature_store",
    builtin: include_str!("../../../sql/feature_store.sql"),
};

/// The texts of every feature SQL file (file name → statement), versioned as one unit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SqlSet {
    pub files: BTreeMap<String, String>,
}

impl SqlSet {
    /// The statements compiled into the binary.
    pub fn builtin() -> SqlSet {
        SqlSet {
            files: FeatureSql::all()
                .map(|f| (f.file.to_string(), f.builtin.to_string()))
                .collect(),
        }
    }

    /// The statements of `sql_dir` when the folder exists (it must then hold every file), else
    /// the copies compiled into the binary (so an installed binary or a test in a temp folder
    /// still has its definitions).
    pub fn load(sql_dir: &Path) -> Result<SqlSet> {
        if !sql_dir.is_dir() {
            return Ok(SqlSet::builtin());
        }
        let mut files = BTreeMap::new();
        for sql in FeatureSql::all() {
            let path = sql_dir.join(sql.file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::input(format!(
                    "{}: {e}; paths.sql_dir must hold every feature SQL file",
                    path.display()
                ))
            })?;
            files.insert(sql.file.to_string(), text);
        }
        Ok(SqlSet { files })
    }

    /// sha256 of each file's text.
    pub fn file_sha256s(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(name, text)| (name.clone(), hex::encode(Sha256::digest(text.as_bytes()))))
            .collect()
    }

    /// One digest of the whole set (`name  sha256` lines in name order, like `sha256sum`).
    pub fn sha256(&self) -> String {
        let mut lines = String::new();
        for (name, sha) in self.file_sha256s() {
            lines.push_str(&format!("{sha}  {name}\n"));
        }
        hex::encode(Sha256::digest(lines.as_bytes()))
    }

    /// The text of one file of the set.
    pub fn text(&self, sql: FeatureSql) -> Result<&str> {
        self.files.get(sql.file).map(String::as_str).ok_or_else(|| {
            Error::input(format!("feature SQL {} is missing from the set", sql.file))
        })
    }
}
