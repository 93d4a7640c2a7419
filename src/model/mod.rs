//! The PD model: preprocessing fitted on the training split, a learner (gradient-boosted trees
//! by default, L2 logistic regression as the transparent challenger), optional rebalancing,
//! calibration back to the true base rate, explanations, and the verified bundle that carries
//! all of it to batch scoring and the API.
//!
//! `train` is the stage entry; [`ModelBundle::load`] / [`ModelBundle::score`] are what scoring
//! paths reuse.

pub mod bundle;
pub mod calibrate;
pub mod explain;
pub mod frame;
pub mod gbm;
pub mod io;
pub mod logistic;
pub mod preprocess;
pub mod rebalance;
mod train;

pub use bundle::ModelBundle;
pub use explain::{Decision, Outcome, Reason};
pub use train::{TrainSummary, train};

/// Applicant key of the feature store.
pub const ID_COLUMN: &str = "SK_ID_CURR";
/// Label column (1 = default), NULL for unlabelled applicants.
pub const TARGET_COLUMN: &str = "TARGET";
