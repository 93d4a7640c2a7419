//! Structural checks of a loaded bundle. The manifest proves the files are the ones it lists, not
//! that they are sane: a bundle edited by hand (or by an attacker who recomputed the checksums)
//! must be refused with an error naming the file and the field, never panic, abort or hang the
//! process that scores with it.

use forust_ml::GradientBooster;

use creditrisk_base::error::{Error, Result};

use crate::calibrate::Calibrator;
use crate::frame::ColumnKind;
use crate::preprocess::{Encoding, Preprocessor, Transform};

/// More reason codes than this is not an explanation anyone reads; the bound keeps a hostile
/// `reason_codes` from allocating without limit.
pub const MAX_REASON_CODES: usize = 100;

/// The learner's parameters against the design width.
pub fn check_logistic(coefficients: &[f64], intercept: f64, design: usize) -> Result<()> {
    if coefficients.len() != design {
        return Err(invalid(
            "learner.json",
            "coefficients",
            format!("{} values for {design} design columns", coefficients.len()),
        ));
    }
    finite("learner.json", "intercept", intercept)?;
    all_finite("learner.json", "coefficients", coefficients)
}

fn invalid(file: &str, field: &str, problem: impl std::fmt::Display) -> Error {
    Error::check(format!(
        "model bundle file {file}: field `{field}` is invalid ({problem}); the bundle was edited \
         after training: restore it or retrain the model"
    ))
}

fn finite(file: &str, field: &str, value: f64) -> Result<()> {
    match value.is_finite() {
        true => Ok(()),
        false => Err(invalid(
            file,
            field,
            format!("{value} is not a finite number"),
        )),
    }
}

fn all_finite(file: &str, field: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(invalid(
            file,
            &format!("{field}[{i}]"),
            format!("{} is not a finite number", values[i]),
        )),
    }
}

/// What `model.json` says about scoring: the threshold, the reason codes and the PD bands.
pub fn check_card(threshold: f64, reason_codes: usize, pd_bands: &[f64]) -> Result<()> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(invalid(
            "model.json",
            "decision_threshold",
            format!("{threshold} is not a probability"),
        ));
    }
    if reason_codes > MAX_REASON_CODES {
        return Err(invalid(
            "model.json",
            "reason_codes",
            format!("{reason_codes} is more than {MAX_REASON_CODES}"),
        ));
    }
    all_finite("model.json", "pd_bands", pd_bands)?;
    match pd_bands.windows(2).any(|w| w[0] >= w[1]) {
        true => Err(invalid(
            "model.json",
            "pd_bands",
            "cut points must increase",
        )),
        false => Ok(()),
    }
}

/// A mismatch between two files of the bundle.
pub fn inconsistent(file: &str, field: &str, problem: impl std::fmt::Display) -> Error {
    invalid(file, field, problem)
}

/// The design columns each transform emits, as `Preprocessor::transform` writes them.
fn width(t: &Transform, encoding: Encoding) -> usize {
    match (t, encoding) {
        (_, Encoding::Trees) => 1,
        (Transform::Numeric { indicator, .. }, Encoding::Linear) => 1 + usize::from(*indicator),
        (
            Transform::Categorical {
                levels, indicator, ..
            },
            Encoding::Linear,
        ) => levels.len() + usize::from(*indicator),
    }
}

pub fn check_preprocessor(p: &Preprocessor) -> Result<()> {
    const FILE: &str = "preprocessing.json";
    for (i, t) in p.transforms.iter().enumerate() {
        let (feature, kind) = match t {
            Transform::Numeric {
                feature,
                median,
                range,
                ..
            } => {
                finite(FILE, &format!("transforms[{i}].median"), *median)?;
                if let Some([lo, hi]) = range {
                    finite(FILE, &format!("transforms[{i}].range[0]"), *lo)?;
                    finite(FILE, &format!("transforms[{i}].range[1]"), *hi)?;
                    if lo > hi {
                        return Err(invalid(
                            FILE,
                            &format!("transforms[{i}].range"),
                            format!("[{lo}, {hi}] is not increasing"),
                        ));
                    }
                }
                (*feature, ColumnKind::Numeric)
            }
            Transform::Categorical {
                feature,
                other_code,
                ..
            } => {
                finite(FILE, &format!("transforms[{i}].other_code"), *other_code)?;
                (*feature, ColumnKind::Categorical)
            }
        };
        match p.features.get(feature) {
            None => {
                return Err(invalid(
                    FILE,
                    &format!("transforms[{i}].feature"),
                    format!("{feature} is not one of the {} features", p.features.len()),
                ));
            }
            Some(spec) if spec.kind != kind => {
                return Err(invalid(
                    FILE,
                    &format!("transforms[{i}]"),
                    format!("its kind does not match feature `{}`", spec.name),
                ));
            }
            Some(_) => {}
        }
    }
    let emitted: usize = p.transforms.iter().map(|t| width(t, p.encoding)).sum();
    if emitted != p.design.len() {
        return Err(invalid(
            FILE,
            "design",
            format!(
                "{} columns, but the transforms emit {emitted}",
                p.design.len()
            ),
        ));
    }
    for (i, d) in p.design.iter().enumerate() {
        if d.feature >= p.features.len() {
            return Err(invalid(
                FILE,
                &format!("design[{i}].feature"),
                format!(
                    "{} is not one of the {} features",
                    d.feature,
                    p.features.len()
                ),
            ));
        }
        finite(FILE, &format!("design[{i}].center"), d.center)?;
        finite(FILE, &format!("design[{i}].scale"), d.scale)?;
        if d.scale == 0.0 {
            return Err(invalid(FILE, &format!("design[{i}].scale"), "it is zero"));
        }
    }
    Ok(())
}

/// Every index in range and every child after its parent, so a walk from the root always ends at
/// a leaf (no cycle, no node that is its own child).
pub fn check_trees(booster: &GradientBooster, design: usize) -> Result<()> {
    const FILE: &str = "learner.json";
    finite(FILE, "base_score", booster.base_score)?;
    for (t, tree) in booster.trees.iter().enumerate() {
        if tree.nodes.is_empty() {
            return Err(invalid(
                FILE,
                &format!("trees[{t}].nodes"),
                "the tree is empty",
            ));
        }
        for (n, node) in tree.nodes.iter().enumerate() {
            let field = |name: &str| format!("trees[{t}].nodes[{n}].{name}");
            if node.num != n {
                return Err(invalid(
                    FILE,
                    &field("num"),
                    format!("{} at position {n}", node.num),
                ));
            }
            finite(FILE, &field("weight_value"), f64::from(node.weight_value))?;
            if node.is_leaf {
                continue;
            }
            if node.split_feature >= design {
                return Err(invalid(
                    FILE,
                    &field("split_feature"),
                    format!(
                        "{} is not one of the {design} design columns",
                        node.split_feature
                    ),
                ));
            }
            if node.split_value.is_nan() {
                return Err(invalid(FILE, &field("split_value"), "it is NaN"));
            }
            for (name, child) in [
                ("left_child", node.left_child),
                ("right_child", node.right_child),
                ("missing_node", node.missing_node),
            ] {
                if child <= n || child >= tree.nodes.len() {
                    return Err(invalid(
                        FILE,
                        &field(name),
                        format!(
                            "{child} must name a later node of the tree's {}",
                            tree.nodes.len()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn check_calibrator(c: &Calibrator) -> Result<()> {
    const FILE: &str = "calibration.json";
    match c {
        Calibrator::None => Ok(()),
        Calibrator::PriorCorrection { log_odds_shift } => {
            finite(FILE, "log_odds_shift", *log_odds_shift)
        }
        Calibrator::Platt { slope, intercept } => {
            finite(FILE, "slope", *slope)?;
            finite(FILE, "intercept", *intercept)
        }
        Calibrator::Isotonic {
            knots_logit,
            knots_pd,
        } => {
            if knots_logit.is_empty() || knots_logit.len() != knots_pd.len() {
                return Err(invalid(
                    FILE,
                    "knots_logit",
                    format!(
                        "{} knots for {} PDs; both must be non-empty and of one length",
                        knots_logit.len(),
                        knots_pd.len()
                    ),
                ));
            }
            all_finite(FILE, "knots_logit", knots_logit)?;
            all_finite(FILE, "knots_pd", knots_pd)?;
            if knots_logit.windows(2).any(|w| w[0] > w[1]) {
                return Err(invalid(FILE, "knots_logit", "knots must be sorted"));
            }
            match knots_pd.iter().position(|p| !(0.0..=1.0).contains(p)) {
                None => Ok(()),
                Some(i) => Err(invalid(
                    FILE,
                    &format!("knots_pd[{i}]"),
                    format!("{} is not a probability", knots_pd[i]),
                )),
            }
        }
    }
}
