//! The raw-table catalog: every column of the eight Kaggle files, in Kaggle's order, with its type,
//! nullability and value domain. Synth, contracts, ingestion and the feature SQL all read this one
//! declaration, so a schema change happens here and nowhere else.
//!
//! Sources: `../shared/kaggle/HomeCredit_columns_description.csv` for names and meaning, the real rows
//! in `../shared/kaggle/samples/` for header order and formatting, and the dtypes of the full Kaggle
//! files for `Kind`: a column is `Int` only where Kaggle's file holds integers without gaps (pandas
//! int64); everything with missing values or decimals in Kaggle is `Float`, so real files parse.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

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

const fn col(name: &'static str, kind: Kind, nullable: bool, domain: Domain) -> Column {
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

const CONTRACT_TYPE_APP: &[&str] = &["Cash loans", "Revolving loans"];
const GENDER: &[&str] = &["F", "M", "XNA"];
const YN: &[&str] = &["N", "Y"];
const SUITE: &[&str] = &[
    "Unaccompanied",
    "Family",
    "Spouse, partner",
    "Children",
    "Other_A",
    "Other_B",
    "Group of people",
];
const INCOME_TYPE: &[&str] = &[
    "Working",
    "State servant",
    "Commercial associate",
    "Pensioner",
    "Unemployed",
    "Student",
    "Businessman",
    "Maternity leave",
];
const EDUCATION: &[&str] = &[
    "Secondary / secondary special",
    "Higher education",
    "Incomplete higher",
    "Lower secondary",
    "Academic degree",
];
const FAMILY: &[&str] = &[
    "Single / not married",
    "Married",
    "Civil marriage",
    "Widow",
    "Separated",
    "Unknown",
];
const HOUSING: &[&str] = &[
    "House / apartment",
    "Rented apartment",
    "With parents",
    "Municipal apartment",
    "Office apartment",
    "Co-op apartment",
];
const OCCUPATION: &[&str] = &[
    "Laborers",
    "Core staff",
    "Accountants",
    "Managers",
    "Drivers",
    "Sales staff",
    "Cleaning staff",
    "Cooking staff",
    "Private service staff",
    "Medicine staff",
    "Security staff",
    "High skill tech staff",
    "Waiters/barmen staff",
    "Low-skill Laborers",
    "Realty agents",
    "Secretaries",
    "IT staff",
    "HR staff",
];
const WEEKDAY: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const ORGANIZATION: &[&str] = &[
    "Business Entity Type 3",
    "XNA",
    "Self-employed",
    "Other",
    "Medicine",
    "Business Entity Type 2",
    "Government",
    "School",
    "Trade: type 7",
    "Kindergarten",
    "Construction",
    "Business Entity Type 1",
    "Transport: type 4",
    "Trade: type 3",
    "Industry: type 9",
    "Industry: type 3",
    "Security",
    "Housing",
    "Industry: type 11",
    "Military",
    "Bank",
    "Agriculture",
    "Police",
    "Transport: type 2",
    "Postal",
    "Security Ministries",
    "Trade: type 2",
    "Restaurant",
    "Services",
    "University",
    "Industry: type 7",
    "Transport: type 3",
    "Industry: type 1",
    "Hotel",
    "Electricity",
    "Industry: type 4",
    "Trade: type 6",
    "Industry: type 5",
    "Insurance",
    "Telecom",
    "Emergency",
    "Industry: type 2",
    "Advertising",
    "Realtor",
    "Culture",
    "Industry: type 12",
    "Trade: type 1",
    "Mobile",
    "Legal Services",
    "Cleaning",
    "Transport: type 1",
    "Industry: type 6",
    "Industry: type 10",
    "Religion",
    "Industry: type 13",
    "Trade: type 4",
    "Trade: type 5",
    "Industry: type 8",
];
const FONDKAPREMONT: &[&str] = &[
    "reg oper account",
    "org spec account",
    "reg oper spec account",
    "not specified",
];
const HOUSETYPE: &[&str] = &["block of flats", "specific housing", "terraced house"];
const WALLS: &[&str] = &[
    "Panel",
    "Stone, brick",
    "Block",
    "Wooden",
    "Mixed",
    "Monolithic",
    "Others",
];
const EMERGENCY: &[&str] = &["No", "Yes"];
const CREDIT_ACTIVE: &[&str] = &["Closed", "Active", "Sold", "Bad debt"];
const CURRENCY: &[&str] = &["currency 1", "currency 2", "currency 3", "currency 4"];
const CREDIT_TYPE: &[&str] = &[
    "Consumer credit",
    "Credit card",
    "Car loan",
    "Mortgage",
    "Microloan",
    "Loan for business development",
    "Another type of loan",
    "Unknown type of loan",
    "Loan for working capital replenishment",
    "Cash loan (non-earmarked)",
    "Real estate loan",
    "Loan for the purchase of equipment",
    "Loan for purchase of shares (margin lending)",
    "Interbank credit",
    "Mobile operator loan",
];
const BB_STATUS: &[&str] = &["0", "1", "2", "3", "4", "5", "C", "X"];
const CONTRACT_TYPE_PREV: &[&str] = &["Consumer loans", "Cash loans", "Revolving loans", "XNA"];
const CASH_PURPOSE: &[&str] = &[
    "XAP",
    "XNA",
    "Repairs",
    "Other",
    "Urgent needs",
    "Buying a used car",
    "Building a house or an annex",
    "Everyday expenses",
    "Medicine",
    "Payments on other loans",
    "Education",
    "Journey",
    "Purchase of electronic equipment",
    "Buying a new car",
    "Wedding / gift / holiday",
    "Buying a home",
    "Car repairs",
    "Furniture",
    "Buying a holiday home / land",
    "Business development",
    "Gasification / water supply",
    "Buying a garage",
    "Hobby",
    "Money for a third person",
    "Refusal to name the goal",
];
const PREV_STATUS: &[&str] = &["Approved", "Canceled", "Refused", "Unused offer"];
const PAYMENT_TYPE: &[&str] = &[
    "Cash through the bank",
    "XNA",
    "Non-cash from your account",
    "Cashless from the account of the employer",
];
const REJECT: &[&str] = &[
    "XAP", "HC", "LIMIT", "SCO", "CLIENT", "SCOFR", "XNA", "VERIF", "SYSTEM",
];
const CLIENT_TYPE: &[&str] = &["Repeater", "New", "Refreshed", "XNA"];
const GOODS: &[&str] = &[
    "XNA",
    "Mobile",
    "Consumer Electronics",
    "Computers",
    "Audio/Video",
    "Furniture",
    "Photo / Cinema Equipment",
    "Construction Materials",
    "Clothing and Accessories",
    "Auto Accessories",
    "Jewelry",
    "Homewares",
    "Medical Supplies",
    "Vehicles",
    "Sport and Leisure",
    "Gardening",
    "Other",
    "Office Appliances",
    "Tourism",
    "Medicine",
    "Direct Sales",
    "Fitness",
    "Additional Service",
    "Education",
    "Weapon",
    "Insurance",
    "House Construction",
    "Animals",
];
const PORTFOLIO: &[&str] = &["POS", "Cash", "XNA", "Cards", "Cars"];
const PRODUCT_TYPE: &[&str] = &["XNA", "x-sell", "walk-in"];
const CHANNEL: &[&str] = &[
    "Credit and cash offices",
    "Country-wide",
    "Stone",
    "Regional / Local",
    "Contact center",
    "AP+ (Cash loan)",
    "Channel of corporate sales",
    "Car dealer",
];
const SELLER_INDUSTRY: &[&str] = &[
    "XNA",
    "Consumer electronics",
    "Connectivity",
    "Furniture",
    "Construction",
    "Clothing",
    "Industry",
    "Auto technology",
    "Jewelry",
    "MLM partners",
    "Tourism",
];
const YIELD: &[&str] = &["XNA", "middle", "high", "low_normal", "low_action"];
const PRODUCT_COMBINATION: &[&str] = &[
    "Cash",
    "POS household with interest",
    "POS mobile with interest",
    "Cash X-Sell: middle",
    "Cash X-Sell: low",
    "Card Street",
    "POS industry with interest",
    "POS household without interest",
    "Card X-Sell",
    "Cash Street: high",
    "Cash X-Sell: high",
    "Cash Street: middle",
    "Cash Street: low",
    "POS mobile without interest",
    "POS other with interest",
    "POS industry without interest",
    "POS others without interest",
];
const POS_STATUS: &[&str] = &[
    "Active",
    "Completed",
    "Signed",
    "Demand",
    "Returned to the store",
    "Approved",
    "Amortized debt",
    "Canceled",
    "XNA",
];
const CC_STATUS: &[&str] = &[
    "Active",
    "Completed",
    "Signed",
    "Demand",
    "Sent proposal",
    "Refused",
    "Approved",
];

/// `application_train.csv`, in Kaggle's column order.
pub const APPLICATION_COLUMNS: &[Column] = &[
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col("TARGET", Kind::Int, false, Domain::Binary),
    col(
        "NAME_CONTRACT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(CONTRACT_TYPE_APP),
    ),
    col("CODE_GENDER", Kind::Text, false, Domain::Categories(GENDER)),
    col("FLAG_OWN_CAR", Kind::Text, false, Domain::Categories(YN)),
    col("FLAG_OWN_REALTY", Kind::Text, false, Domain::Categories(YN)),
    col("CNT_CHILDREN", Kind::Int, false, Domain::NonNegative),
    col("AMT_INCOME_TOTAL", Kind::Float, false, Domain::NonNegative),
    col("AMT_CREDIT", Kind::Float, false, Domain::NonNegative),
    col("AMT_ANNUITY", Kind::Float, true, Domain::NonNegative),
    col("AMT_GOODS_PRICE", Kind::Float, true, Domain::NonNegative),
    col(
        "NAME_TYPE_SUITE",
        Kind::Text,
        true,
        Domain::Categories(SUITE),
    ),
    col(
        "NAME_INCOME_TYPE",
        Kind::Text,
        false,
        Domain::Categories(INCOME_TYPE),
    ),
    col(
        "NAME_EDUCATION_TYPE",
        Kind::Text,
        false,
        Domain::Categories(EDUCATION),
    ),
    col(
        "NAME_FAMILY_STATUS",
        Kind::Text,
        false,
        Domain::Categories(FAMILY),
    ),
    col(
        "NAME_HOUSING_TYPE",
        Kind::Text,
        false,
        Domain::Categories(HOUSING),
    ),
    col(
        "REGION_POPULATION_RELATIVE",
        Kind::Float,
        false,
        Domain::UnitInterval,
    ),
    col("DAYS_BIRTH", Kind::Int, false, Domain::Days),
    col("DAYS_EMPLOYED", Kind::Int, false, Domain::DaysOrSentinel),
    col("DAYS_REGISTRATION", Kind::Float, false, Domain::Days),
    col("DAYS_ID_PUBLISH", Kind::Int, false, Domain::Days),
    col("OWN_CAR_AGE", Kind::Float, true, Domain::NonNegative),
    col("FLAG_MOBIL", Kind::Int, false, Domain::Binary),
    col("FLAG_EMP_PHONE", Kind::Int, false, Domain::Binary),
    col("FLAG_WORK_PHONE", Kind::Int, false, Domain::Binary),
    col("FLAG_CONT_MOBILE", Kind::Int, false, Domain::Binary),
    col("FLAG_PHONE", Kind::Int, false, Domain::Binary),
    col("FLAG_EMAIL", Kind::Int, false, Domain::Binary),
    col(
        "OCCUPATION_TYPE",
        Kind::Text,
        true,
        Domain::Categories(OCCUPATION),
    ),
    col("CNT_FAM_MEMBERS", Kind::Float, true, Domain::NonNegative),
    col(
        "REGION_RATING_CLIENT",
        Kind::Int,
        false,
        Domain::Range(1.0, 3.0),
    ),
    col(
        "REGION_RATING_CLIENT_W_CITY",
        Kind::Int,
        false,
        Domain::Range(1.0, 3.0),
    ),
    col(
        "WEEKDAY_APPR_PROCESS_START",
        Kind::Text,
        false,
        Domain::Categories(WEEKDAY),
    ),
    col(
        "HOUR_APPR_PROCESS_START",
        Kind::Int,
        false,
        Domain::Range(0.0, 23.0),
    ),
    col(
        "REG_REGION_NOT_LIVE_REGION",
        Kind::Int,
        false,
        Domain::Binary,
    ),
    col(
        "REG_REGION_NOT_WORK_REGION",
        Kind::Int,
        false,
        Domain::Binary,
    ),
    col(
        "LIVE_REGION_NOT_WORK_REGION",
        Kind::Int,
        false,
        Domain::Binary,
    ),
    col("REG_CITY_NOT_LIVE_CITY", Kind::Int, false, Domain::Binary),
    col("REG_CITY_NOT_WORK_CITY", Kind::Int, false, Domain::Binary),
    col("LIVE_CITY_NOT_WORK_CITY", Kind::Int, false, Domain::Binary),
    col(
        "ORGANIZATION_TYPE",
        Kind::Text,
        false,
        Domain::Categories(ORGANIZATION),
    ),
    col("EXT_SOURCE_1", Kind::Float, true, Domain::UnitInterval),
    col("EXT_SOURCE_2", Kind::Float, true, Domain::UnitInterval),
    col("EXT_SOURCE_3", Kind::Float, true, Domain::UnitInterval),
    col("APARTMENTS_AVG", Kind::Float, true, Domain::UnitInterval),
    col("BASEMENTAREA_AVG", Kind::Float, true, Domain::UnitInterval),
    col(
        "YEARS_BEGINEXPLUATATION_AVG",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("YEARS_BUILD_AVG", Kind::Float, true, Domain::UnitInterval),
    col("COMMONAREA_AVG", Kind::Float, true, Domain::UnitInterval),
    col("ELEVATORS_AVG", Kind::Float, true, Domain::UnitInterval),
    col("ENTRANCES_AVG", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMAX_AVG", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMIN_AVG", Kind::Float, true, Domain::UnitInterval),
    col("LANDAREA_AVG", Kind::Float, true, Domain::UnitInterval),
    col(
        "LIVINGAPARTMENTS_AVG",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("LIVINGAREA_AVG", Kind::Float, true, Domain::UnitInterval),
    col(
        "NONLIVINGAPARTMENTS_AVG",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("NONLIVINGAREA_AVG", Kind::Float, true, Domain::UnitInterval),
    col("APARTMENTS_MODE", Kind::Float, true, Domain::UnitInterval),
    col("BASEMENTAREA_MODE", Kind::Float, true, Domain::UnitInterval),
    col(
        "YEARS_BEGINEXPLUATATION_MODE",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("YEARS_BUILD_MODE", Kind::Float, true, Domain::UnitInterval),
    col("COMMONAREA_MODE", Kind::Float, true, Domain::UnitInterval),
    col("ELEVATORS_MODE", Kind::Float, true, Domain::UnitInterval),
    col("ENTRANCES_MODE", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMAX_MODE", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMIN_MODE", Kind::Float, true, Domain::UnitInterval),
    col("LANDAREA_MODE", Kind::Float, true, Domain::UnitInterval),
    col(
        "LIVINGAPARTMENTS_MODE",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("LIVINGAREA_MODE", Kind::Float, true, Domain::UnitInterval),
    col(
        "NONLIVINGAPARTMENTS_MODE",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col(
        "NONLIVINGAREA_MODE",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("APARTMENTS_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("BASEMENTAREA_MEDI", Kind::Float, true, Domain::UnitInterval),
    col(
        "YEARS_BEGINEXPLUATATION_MEDI",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("YEARS_BUILD_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("COMMONAREA_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("ELEVATORS_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("ENTRANCES_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMAX_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("FLOORSMIN_MEDI", Kind::Float, true, Domain::UnitInterval),
    col("LANDAREA_MEDI", Kind::Float, true, Domain::UnitInterval),
    col(
        "LIVINGAPARTMENTS_MEDI",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col("LIVINGAREA_MEDI", Kind::Float, true, Domain::UnitInterval),
    col(
        "NONLIVINGAPARTMENTS_MEDI",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col(
        "NONLIVINGAREA_MEDI",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col(
        "FONDKAPREMONT_MODE",
        Kind::Text,
        true,
        Domain::Categories(FONDKAPREMONT),
    ),
    col(
        "HOUSETYPE_MODE",
        Kind::Text,
        true,
        Domain::Categories(HOUSETYPE),
    ),
    col("TOTALAREA_MODE", Kind::Float, true, Domain::UnitInterval),
    col(
        "WALLSMATERIAL_MODE",
        Kind::Text,
        true,
        Domain::Categories(WALLS),
    ),
    col(
        "EMERGENCYSTATE_MODE",
        Kind::Text,
        true,
        Domain::Categories(EMERGENCY),
    ),
    col(
        "OBS_30_CNT_SOCIAL_CIRCLE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "DEF_30_CNT_SOCIAL_CIRCLE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "OBS_60_CNT_SOCIAL_CIRCLE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "DEF_60_CNT_SOCIAL_CIRCLE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col("DAYS_LAST_PHONE_CHANGE", Kind::Float, true, Domain::Days),
    col("FLAG_DOCUMENT_2", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_3", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_4", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_5", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_6", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_7", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_8", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_9", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_10", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_11", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_12", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_13", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_14", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_15", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_16", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_17", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_18", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_19", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_20", Kind::Int, false, Domain::Binary),
    col("FLAG_DOCUMENT_21", Kind::Int, false, Domain::Binary),
    col(
        "AMT_REQ_CREDIT_BUREAU_HOUR",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_REQ_CREDIT_BUREAU_DAY",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_REQ_CREDIT_BUREAU_WEEK",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_REQ_CREDIT_BUREAU_MON",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_REQ_CREDIT_BUREAU_QRT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_REQ_CREDIT_BUREAU_YEAR",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
];

/// `bureau.csv`, in Kaggle's column order.
pub const BUREAU_COLUMNS: &[Column] = &[
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col("SK_ID_BUREAU", Kind::Int, false, Domain::Id),
    col(
        "CREDIT_ACTIVE",
        Kind::Text,
        false,
        Domain::Categories(CREDIT_ACTIVE),
    ),
    col(
        "CREDIT_CURRENCY",
        Kind::Text,
        false,
        Domain::Categories(CURRENCY),
    ),
    col("DAYS_CREDIT", Kind::Int, false, Domain::Days),
    col("CREDIT_DAY_OVERDUE", Kind::Int, false, Domain::NonNegative),
    col("DAYS_CREDIT_ENDDATE", Kind::Float, true, Domain::Any),
    col("DAYS_ENDDATE_FACT", Kind::Float, true, Domain::Days),
    col(
        "AMT_CREDIT_MAX_OVERDUE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col("CNT_CREDIT_PROLONG", Kind::Int, false, Domain::NonNegative),
    col("AMT_CREDIT_SUM", Kind::Float, true, Domain::NonNegative),
    col("AMT_CREDIT_SUM_DEBT", Kind::Float, true, Domain::Any),
    col("AMT_CREDIT_SUM_LIMIT", Kind::Float, true, Domain::Any),
    col(
        "AMT_CREDIT_SUM_OVERDUE",
        Kind::Float,
        false,
        Domain::NonNegative,
    ),
    col(
        "CREDIT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(CREDIT_TYPE),
    ),
    col("DAYS_CREDIT_UPDATE", Kind::Int, false, Domain::Any),
    col("AMT_ANNUITY", Kind::Float, true, Domain::NonNegative),
];

/// `bureau_balance.csv`, in Kaggle's column order.
pub const BUREAU_BALANCE_COLUMNS: &[Column] = &[
    col("SK_ID_BUREAU", Kind::Int, false, Domain::Id),
    col("MONTHS_BALANCE", Kind::Int, false, Domain::Months),
    col("STATUS", Kind::Text, false, Domain::Categories(BB_STATUS)),
];

/// `previous_application.csv`, in Kaggle's column order.
pub const PREVIOUS_APPLICATION_COLUMNS: &[Column] = &[
    col("SK_ID_PREV", Kind::Int, false, Domain::Id),
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col(
        "NAME_CONTRACT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(CONTRACT_TYPE_PREV),
    ),
    col("AMT_ANNUITY", Kind::Float, true, Domain::NonNegative),
    col("AMT_APPLICATION", Kind::Float, false, Domain::NonNegative),
    col("AMT_CREDIT", Kind::Float, true, Domain::NonNegative),
    col("AMT_DOWN_PAYMENT", Kind::Float, true, Domain::Any),
    col("AMT_GOODS_PRICE", Kind::Float, true, Domain::NonNegative),
    col(
        "WEEKDAY_APPR_PROCESS_START",
        Kind::Text,
        false,
        Domain::Categories(WEEKDAY),
    ),
    col(
        "HOUR_APPR_PROCESS_START",
        Kind::Int,
        false,
        Domain::Range(0.0, 23.0),
    ),
    col(
        "FLAG_LAST_APPL_PER_CONTRACT",
        Kind::Text,
        false,
        Domain::Categories(YN),
    ),
    col("NFLAG_LAST_APPL_IN_DAY", Kind::Int, false, Domain::Binary),
    col("RATE_DOWN_PAYMENT", Kind::Float, true, Domain::Any),
    col(
        "RATE_INTEREST_PRIMARY",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col(
        "RATE_INTEREST_PRIVILEGED",
        Kind::Float,
        true,
        Domain::UnitInterval,
    ),
    col(
        "NAME_CASH_LOAN_PURPOSE",
        Kind::Text,
        false,
        Domain::Categories(CASH_PURPOSE),
    ),
    col(
        "NAME_CONTRACT_STATUS",
        Kind::Text,
        false,
        Domain::Categories(PREV_STATUS),
    ),
    col("DAYS_DECISION", Kind::Int, false, Domain::Days),
    col(
        "NAME_PAYMENT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(PAYMENT_TYPE),
    ),
    col(
        "CODE_REJECT_REASON",
        Kind::Text,
        false,
        Domain::Categories(REJECT),
    ),
    col(
        "NAME_TYPE_SUITE",
        Kind::Text,
        true,
        Domain::Categories(SUITE),
    ),
    col(
        "NAME_CLIENT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(CLIENT_TYPE),
    ),
    col(
        "NAME_GOODS_CATEGORY",
        Kind::Text,
        false,
        Domain::Categories(GOODS),
    ),
    col(
        "NAME_PORTFOLIO",
        Kind::Text,
        false,
        Domain::Categories(PORTFOLIO),
    ),
    col(
        "NAME_PRODUCT_TYPE",
        Kind::Text,
        false,
        Domain::Categories(PRODUCT_TYPE),
    ),
    col(
        "CHANNEL_TYPE",
        Kind::Text,
        false,
        Domain::Categories(CHANNEL),
    ),
    col("SELLERPLACE_AREA", Kind::Int, false, Domain::Any),
    col(
        "NAME_SELLER_INDUSTRY",
        Kind::Text,
        false,
        Domain::Categories(SELLER_INDUSTRY),
    ),
    col("CNT_PAYMENT", Kind::Float, true, Domain::NonNegative),
    col(
        "NAME_YIELD_GROUP",
        Kind::Text,
        false,
        Domain::Categories(YIELD),
    ),
    col(
        "PRODUCT_COMBINATION",
        Kind::Text,
        true,
        Domain::Categories(PRODUCT_COMBINATION),
    ),
    col(
        "DAYS_FIRST_DRAWING",
        Kind::Float,
        true,
        Domain::DaysOrSentinel,
    ),
    col("DAYS_FIRST_DUE", Kind::Float, true, Domain::DaysOrSentinel),
    col("DAYS_LAST_DUE_1ST_VERSION", Kind::Float, true, Domain::Any),
    col("DAYS_LAST_DUE", Kind::Float, true, Domain::DaysOrSentinel),
    col(
        "DAYS_TERMINATION",
        Kind::Float,
        true,
        Domain::DaysOrSentinel,
    ),
    col(
        "NFLAG_INSURED_ON_APPROVAL",
        Kind::Float,
        true,
        Domain::Binary,
    ),
];

/// `installments_payments.csv`, in Kaggle's column order.
pub const INSTALLMENTS_PAYMENTS_COLUMNS: &[Column] = &[
    col("SK_ID_PREV", Kind::Int, false, Domain::Id),
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col(
        "NUM_INSTALMENT_VERSION",
        Kind::Float,
        false,
        Domain::NonNegative,
    ),
    col(
        "NUM_INSTALMENT_NUMBER",
        Kind::Int,
        false,
        Domain::NonNegative,
    ),
    col("DAYS_INSTALMENT", Kind::Float, false, Domain::Days),
    col("DAYS_ENTRY_PAYMENT", Kind::Float, true, Domain::Days),
    col("AMT_INSTALMENT", Kind::Float, false, Domain::NonNegative),
    col("AMT_PAYMENT", Kind::Float, true, Domain::NonNegative),
];

/// `credit_card_balance.csv`, in Kaggle's column order.
pub const CREDIT_CARD_BALANCE_COLUMNS: &[Column] = &[
    col("SK_ID_PREV", Kind::Int, false, Domain::Id),
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col("MONTHS_BALANCE", Kind::Int, false, Domain::Months),
    col("AMT_BALANCE", Kind::Float, false, Domain::Any),
    col(
        "AMT_CREDIT_LIMIT_ACTUAL",
        Kind::Int,
        false,
        Domain::NonNegative,
    ),
    col("AMT_DRAWINGS_ATM_CURRENT", Kind::Float, true, Domain::Any),
    col("AMT_DRAWINGS_CURRENT", Kind::Float, false, Domain::Any),
    col(
        "AMT_DRAWINGS_OTHER_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_DRAWINGS_POS_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_INST_MIN_REGULARITY",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_PAYMENT_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "AMT_PAYMENT_TOTAL_CURRENT",
        Kind::Float,
        false,
        Domain::NonNegative,
    ),
    col("AMT_RECEIVABLE_PRINCIPAL", Kind::Float, false, Domain::Any),
    col("AMT_RECIVABLE", Kind::Float, false, Domain::Any),
    col("AMT_TOTAL_RECEIVABLE", Kind::Float, false, Domain::Any),
    col(
        "CNT_DRAWINGS_ATM_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "CNT_DRAWINGS_CURRENT",
        Kind::Int,
        false,
        Domain::NonNegative,
    ),
    col(
        "CNT_DRAWINGS_OTHER_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "CNT_DRAWINGS_POS_CURRENT",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "CNT_INSTALMENT_MATURE_CUM",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "NAME_CONTRACT_STATUS",
        Kind::Text,
        false,
        Domain::Categories(CC_STATUS),
    ),
    col("SK_DPD", Kind::Int, false, Domain::NonNegative),
    col("SK_DPD_DEF", Kind::Int, false, Domain::NonNegative),
];

/// `POS_CASH_balance.csv`, in Kaggle's column order.
pub const POS_CASH_BALANCE_COLUMNS: &[Column] = &[
    col("SK_ID_PREV", Kind::Int, false, Domain::Id),
    col("SK_ID_CURR", Kind::Int, false, Domain::Id),
    col("MONTHS_BALANCE", Kind::Int, false, Domain::Months),
    col("CNT_INSTALMENT", Kind::Float, true, Domain::NonNegative),
    col(
        "CNT_INSTALMENT_FUTURE",
        Kind::Float,
        true,
        Domain::NonNegative,
    ),
    col(
        "NAME_CONTRACT_STATUS",
        Kind::Text,
        false,
        Domain::Categories(POS_STATUS),
    ),
    col("SK_DPD", Kind::Int, false, Domain::NonNegative),
    col("SK_DPD_DEF", Kind::Int, false, Domain::NonNegative),
];
