//! The raw-table catalog: every column of the eight Kaggle files, in Kaggle's order, with its type,
//! nullability and value domain. Synth, contracts, ingestion and the feature SQL all read this one
//! declaration, so a schema change happens here and nowhere else.
//!
//! Sources: `../shared/kaggle/HomeCredit_columns_description.csv` for names and meaning, the real rows
//! in `../shared/kaggle/samples/` for header order and formatting, and the dtypes of the full Kaggle
//! files for `Kind`: a column is `Int` only where Kaggle's file holds integers without gaps (pandas
//! int64); everything with missing values or decimals in Kaggle is `Float`, so real files parse.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

mod columns;
pub mod feature_store;
use columns::*;

pub use feature_store::{FEATURES, FeatureType, KEY_COLUMNS};

/// Kaggle's "not applicable" day count (about 1,000 years), used in `DAYS_*` columns.
pub const DAYS_SENTINEL: i64 = 365_243;

/// Physical type of a raw column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Text,
}

/// The values a raw column may take (checked by the contracts, respected by synth).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Domain {
    /// Surrogate key: > 0.
    Id,
    /// 0 or 1 (TARGET and the FLAG_/REG_/LIVE_ indicator columns).
    Binary,
    /// Days before the application: ≤ 0.
    Days,
    /// Days before the application (≤ 0) or the 365243 "not applicable" sentinel.
    DaysOrSentinel,
    /// Months before the application: ≤ 0.
    Months,
    /// Amounts and counts: ≥ 0.
    NonNegative,
    /// Normalised scores and shares: within [0, 1].
    UnitInterval,
    /// Inclusive range.
    Range(f64, f64),
    /// One of a fixed vocabulary (Kaggle's full set of codes).
    Categories(&'static [&'static str]),
    /// No constraint beyond the type (signed balances, future-dated plans).
    Any,
}

/// One raw column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    pub domain: Domain,
}

pub(crate) const fn col(name: &'static str, kind: Kind, nullable: bool, domain: Domain) -> Column {
    Column {
        name,
        kind,
        nullable,
        domain,
    }
}

/// The eight raw files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RawTable {
    ApplicationTrain,
    ApplicationTest,
    Bureau,
    BureauBalance,
    PreviousApplication,
    InstallmentsPayments,
    CreditCardBalance,
    PosCashBalance,
}

/// A child table's link to its parent, for referential-integrity (orphan) checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentLink {
    pub column: &'static str,
    pub parent: RawTable,
    pub parent_column: &'static str,
}

impl RawTable {
    pub const ALL: [RawTable; 8] = [
        RawTable::ApplicationTrain,
        RawTable::ApplicationTest,
        RawTable::Bureau,
        RawTable::BureauBalance,
        RawTable::PreviousApplication,
        RawTable::InstallmentsPayments,
        RawTable::CreditCardBalance,
        RawTable::PosCashBalance,
    ];

    /// The credit-history tables: every raw table but the two application files.
    pub const HISTORY: [RawTable; 6] = [
        RawTable::Bureau,
        RawTable::BureauBalance,
        RawTable::PreviousApplication,
        RawTable::InstallmentsPayments,
        RawTable::CreditCardBalance,
        RawTable::PosCashBalance,
    ];

    /// Short name used in SQL, reports and config keys.
    pub fn name(self) -> &'static str {
        match self {
            RawTable::ApplicationTrain => "application_train",
            RawTable::ApplicationTest => "application_test",
            RawTable::Bureau => "bureau",
            RawTable::BureauBalance => "bureau_balance",
            RawTable::PreviousApplication => "previous_application",
            RawTable::InstallmentsPayments => "installments_payments",
            RawTable::CreditCardBalance => "credit_card_balance",
            RawTable::PosCashBalance => "pos_cash_balance",
        }
    }

    /// File name exactly as Kaggle ships it.
    pub fn file_name(self) -> &'static str {
        match self {
            RawTable::ApplicationTrain => "application_train.csv",
            RawTable::ApplicationTest => "application_test.csv",
            RawTable::Bureau => "bureau.csv",
            RawTable::BureauBalance => "bureau_balance.csv",
            RawTable::PreviousApplication => "previous_application.csv",
            RawTable::InstallmentsPayments => "installments_payments.csv",
            RawTable::CreditCardBalance => "credit_card_balance.csv",
            RawTable::PosCashBalance => "POS_CASH_balance.csv",
        }
    }

    pub fn from_name(name: &str) -> Option<RawTable> {
        RawTable::ALL
            .into_iter()
            .find(|t| t.name() == name || t.file_name() == name)
    }

    /// Columns in file order. `application_test` is `application_train` without TARGET.
    pub fn columns(self) -> Vec<Column> {
        let all: &[Column] = match self {
            RawTable::ApplicationTrain | RawTable::ApplicationTest => APPLICATION_COLUMNS,
            RawTable::Bureau => BUREAU_COLUMNS,
            RawTable::BureauBalance => BUREAU_BALANCE_COLUMNS,
            RawTable::PreviousApplication => PREVIOUS_APPLICATION_COLUMNS,
            RawTable::InstallmentsPayments => INSTALLMENTS_PAYMENTS_COLUMNS,
            RawTable::CreditCardBalance => CREDIT_CARD_BALANCE_COLUMNS,
            RawTable::PosCashBalance => POS_CASH_BALANCE_COLUMNS,
        };
        all.iter()
            .copied()
            .filter(|c| !(self == RawTable::ApplicationTest && c.name == "TARGET"))
            .collect()
    }

    pub fn column(self, name: &str) -> Option<Column> {
        self.columns().into_iter().find(|c| c.name == name)
    }

    /// The exact header line (without newline) of the Kaggle file.
    pub fn header_line(self) -> String {
        self.columns()
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Column that must be unique, if any.
    pub fn primary_key(self) -> Option<&'static str> {
        match self {
            RawTable::ApplicationTrain | RawTable::ApplicationTest => Some("SK_ID_CURR"),
            RawTable::Bureau => Some("SK_ID_BUREAU"),
            RawTable::PreviousApplication => Some("SK_ID_PREV"),
            _ => None,
        }
    }

    /// Parent links measured as orphan rates. Applicant links point at application_train; the
    /// contracts count an id as known when it is in either application file.
    pub fn parents(self) -> Vec<ParentLink> {
        let applicant = ParentLink {
            column: "SK_ID_CURR",
            parent: RawTable::ApplicationTrain,
            parent_column: "SK_ID_CURR",
        };
        let prev = ParentLink {
            column: "SK_ID_PREV",
            parent: RawTable::PreviousApplication,
            parent_column: "SK_ID_PREV",
        };
        match self {
            RawTable::ApplicationTrain | RawTable::ApplicationTest => vec![],
            RawTable::Bureau | RawTable::PreviousApplication => vec![applicant],
            RawTable::BureauBalance => vec![ParentLink {
                column: "SK_ID_BUREAU",
                parent: RawTable::Bureau,
                parent_column: "SK_ID_BUREAU",
            }],
            RawTable::InstallmentsPayments
            | RawTable::CreditCardBalance
            | RawTable::PosCashBalance => vec![applicant, prev],
        }
    }

    /// Arrow schema used to read the CSV: explicit, never inferred.
    pub fn arrow_schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            // Read every column as nullable: a missing value then becomes a contract failure with a
            // count and sample rows instead of a reader error without context.
            .map(|c| Field::new(c.name, c.kind.arrow_type(), true))
            .collect();
        Arc::new(Schema::new(fields))
    }
}

impl Kind {
    pub fn arrow_type(self) -> DataType {
        match self {
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Text => DataType::Utf8,
        }
    }
}
