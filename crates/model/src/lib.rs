//! The PD model: preprocessing fitted on the training split, a learner (gradient-boosted trees
//! by default, L2 logistic regression as the transparent challenger), optional rebalancing,
//! calibration back to the true base rate, explanations, the verified bundle that carries all of
//! it, and the one scoring core ([`score`]) that batch scoring, the API and `evaluate` share.
//!
//! Also here: model metrics ([`metrics`]), stratified sampling ([`sampling`]) and what a raw row
//! to score must look like ([`serving_contract`]). The `train` stage fits these pieces; this crate
//! holds no stage and no DataFusion.

pub mod bundle;
pub mod calibrate;
pub mod explain;
pub mod frame;
pub mod gbm;
pub mod logistic;
pub mod metrics;
pub mod preprocess;
pub mod rebalance;
#[cfg(feature = "registry")]
pub mod registry;
pub mod sampling;
pub mod score;
pub mod serving_contract;
pub mod signature;
pub mod statements;
pub mod validate;

pub use bundle::ModelBundle;
pub use explain::{Decision, Outcome, Reason};
pub use score::{Cancel, ScoreOptions, Scored, score, score_until};

/// Applicant key of the feature store.
pub const ID_COLUMN: &str = "SK_ID_CURR";
/// Label column (1 = default), NULL for unlabelled applicants.
pub const TARGET_COLUMN: &str = "TARGET";
