//! Gradient-boosted trees with forust-ml. Every key of `model.params` is a field of forust's
//! `GradientBooster` (its serde names), set by merging the keys into the booster's own JSON, so
//! any forust setting can be tuned from the config without code here.

use std::collections::BTreeMap;
use std::collections::HashMap;

use forust_ml::GradientBooster;
use forust_ml::Matrix;
use forust_ml::constraints::Constraint;
use forust_ml::gradientbooster::ContributionsMethod;
use forust_ml::metric::Metric;
use serde_json::Value;

use creditrisk_base::error::{Error, Result};

/// Booster fields that are results or have their own config key, not hyperparameters.
const RESERVED: [(&str, &str); 7] = [
    ("trees", "it is the fitted model"),
    ("metadata", "it is internal to forust"),
    ("evaluation_history", "it is a training result"),
    ("best_iteration", "it is a training result"),
    ("prediction_iteration", "it is a training result"),
    (
        "monotone_constraints",
        "use model.monotone_constraints (feature names) instead",
    ),
    ("objective_type", "a PD model is always fitted with LogLoss"),
];

/// Build the booster from `model.params` and the monotone constraints (design-column index →
/// ±1). `rebalanced`: the training prior differs from the validation prior, so early stopping
/// watches AUC (rank-based) unless `evaluation_metric` is set.
pub fn booster(
    params: &BTreeMap<String, Value>,
    monotone: &BTreeMap<usize, i8>,
    rebalanced: bool,
) -> Result<GradientBooster> {
    let defaults = GradientBooster::default()
        .set_initialize_base_score(true)
        .set_parallel(true);
    let Value::Object(mut fields) =
        serde_json::to_value(&defaults).map_err(|e| Error::model_from("forust defaults", e))?
    else {
        return Err(Error::model("forust booster is not a JSON object"));
    };
    for (key, value) in params {
        if let Some((_, why)) = RESERVED.iter().find(|(k, _)| k == key) {
            return Err(Error::config(format!(
                "key `model.params.{key}` cannot be set: {why}"
            )));
        }
        if !fields.contains_key(key) {
            let mut known: Vec<&String> = fields
                .keys()
                .filter(|k| !RESERVED.iter().any(|(r, _)| r == k))
                .collect();
            known.sort();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            return Err(Error::config(format!(
                "key `model.params.{key}` is not a forust-ml GradientBooster setting; known settings: {}",
                known.join(", ")
            )));
        }
        fields.insert(key.clone(), value.clone());
    }
    if !params.contains_key("evaluation_metric") && rebalanced {
        fields.insert(
            "evaluation_metric".into(),
            serde_json::to_value(Metric::AUC).unwrap_or(Value::Null),
        );
    }
    let mut booster: GradientBooster = serde_path_to_error::deserialize(Value::Object(fields))
        .map_err(|e| Error::config(format!("key `model.params.{}`: {}", e.path(), e.inner())))?;
    booster.monotone_constraints = (!monotone.is_empty()).then(|| {
        monotone
            .iter()
            .map(|(c, s)| {
                (
                    *c,
                    if *s > 0 {
                        Constraint::Positive
                    } else {
                        Constraint::Negative
                    },
                )
            })
            .collect::<HashMap<_, _>>()
    });
    Ok(booster)
}

/// Fit on (x, y, w) with early stopping on the validation slice; trees past the best
/// iteration are dropped so the saved model is exactly what predicts.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    booster: &mut GradientBooster,
    x: &[f64],
    rows: usize,
    cols: usize,
    y: &[f64],
    w: &[f64],
    val_x: &[f64],
    val_y: &[f64],
) -> Result<()> {
    let data = Matrix::new(x, rows, cols);
    let val = Matrix::new(val_x, val_y.len(), cols);
    let val_w = vec![1.0; val_y.len()];
    booster
        .fit(&data, y, w, Some(vec![(val, val_y, &val_w)]))
        .map_err(|e| match e {
            forust_ml::errors::ForustError::InvalidParameter(name, expected, got) => Error::config(
                format!("key `model.params.{name}`: expected {expected}, got {got}"),
            ),
            other => Error::model(format!("gradient boosting: {other}")),
        })?;
    if let Some(n) = booster.prediction_iteration {
        booster.trees.truncate(n);
    }
    Ok(())
}

/// Fewer rows than this are scored on the calling thread: handing a request's few rows to the
/// thread pool costs more than it saves (`serve` scores one applicant per request).
const PARALLEL_ROWS: usize = 256;

/// Log-odds of every row.
pub fn raw_scores(booster: &GradientBooster, x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    booster.predict(&Matrix::new(x, rows, cols), rows >= PARALLEL_ROWS)
}

/// TreeSHAP contributions, rows × (cols + 1) row-major, bias last.
pub fn contributions(booster: &GradientBooster, x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    booster.predict_contributions(
        &Matrix::new(x, rows, cols),
        ContributionsMethod::Shapley,
        rows >= PARALLEL_ROWS,
    )
}

/// The booster as JSON with object keys sorted, so the same model always gives the same bytes
/// (forust keeps constraints and metadata in hash maps).
pub fn to_canonical_json(booster: &GradientBooster) -> Result<String> {
    let text = booster
        .json_dump()
        .map_err(|e| Error::model_from("saving the booster", e))?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| Error::model_from("saving the booster", e))?;
    if let Some(Value::Array(set)) = value.get_mut("terminate_missing_features") {
        set.sort_by_key(|v| v.as_u64());
    }
    // serde_json's Map is a BTreeMap here (no preserve_order), so keys come out sorted.
    serde_json::to_string(&value).map_err(|e| Error::model_from("saving the booster", e))
}

pub fn from_json(text: &str) -> Result<GradientBooster> {
    GradientBooster::from_json(text).map_err(|e| Error::model_from("loading the booster", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_reserved_params_name_the_key() {
        let mut params = BTreeMap::new();
        params.insert("max_dept".to_string(), Value::from(3));
        let err = booster(&params, &BTreeMap::new(), false)
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            err.contains("model.params.max_dept") && err.contains("max_depth"),
            "{err}"
        );

        let mut params = BTreeMap::new();
        params.insert("trees".to_string(), Value::from(3));
        let err = booster(&params, &BTreeMap::new(), false)
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("model.params.trees"), "{err}");

        let mut params = BTreeMap::new();
        params.insert("max_depth".to_string(), Value::from("deep"));
        let err = booster(&params, &BTreeMap::new(), false)
            .err()
            .expect("must fail")
            .to_string();
        assert!(err.contains("model.params.max_depth"), "{err}");
    }

    #[test]
    fn params_reach_the_booster() {
        let mut params = BTreeMap::new();
        params.insert("max_depth".to_string(), Value::from(3));
        params.insert("sample_method".to_string(), Value::from("Goss"));
        let b = booster(&params, &BTreeMap::from([(1usize, -1i8)]), true).unwrap();
        assert_eq!(b.max_depth, 3);
        assert!(matches!(b.evaluation_metric, Some(Metric::AUC)));
        assert!(b.monotone_constraints.is_some());
    }
}
