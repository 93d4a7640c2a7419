//! Loading: YAML → JSON value → `CREDITRISK__…` environment overrides → the typed [`Config`],
//! then the checks across keys that types alone cannot express.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Config, MAX_MONITORING_SAMPLE_ROWS};
use crate::error::{Error, Result};

const ENV_PREFIX: &str = "CREDITRISK__";

impl Config {
    /// Load a config file, apply `CREDITRISK__…` environment overrides and check every key.
    pub fn load(path: &Path) -> Result<Config> {
        let overrides: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        Self::load_with_overrides(path, &overrides)
    }

    /// As [`Config::load`], with the overrides given explicitly (`CREDITRISK__A__B`, value).
    pub fn load_with_overrides(path: &Path, overrides: &[(String, String)]) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config_from(format!("cannot read config file {}", path.display()), e)
        })?;
        let mut value: Value = serde_saphyr::from_str(&text)
            .map_err(|e| Error::config_from(format!("{}: invalid YAML", path.display()), e))?;
        for (key, raw) in overrides {
            apply_override(&mut value, key, raw)
                .map_err(|e| Error::config(format!("environment variable {key}: {e}")))?;
        }
        let mut config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            Error::config(format!("{}: key `{key}`: {}", path.display(), e.inner()))
        })?;
        config.source = path.to_path_buf();
        config.root = project_root(path);
        config.check()?;
        Ok(config)
    }

    /// Semantic checks serde cannot express; each names the key to fix.
    // `!(x > 0.0)` rather than `x <= 0.0`: the negated form also rejects NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn check(&self) -> Result<()> {
        let bad = |key: &str, why: &str| {
            Err(Error::config(format!(
                "{}: key `{key}`: {why}",
                self.source.display()
            )))
        };
        let t = &self.training;
        if !(t.test_size > 0.0 && t.test_size < 1.0) {
            return bad("training.test_size", "must be strictly between 0 and 1");
        }
        if !(t.validation_size > 0.0 && t.validation_size < 1.0) {
            return bad(
                "training.validation_size",
                "must be strictly between 0 and 1",
            );
        }
        if !(t.smote_sampling_strategy > 0.0 && t.smote_sampling_strategy <= 1.0) {
            return bad("training.smote_sampling_strategy", "must be in (0, 1]");
        }
        if t.smote_k_neighbors == 0 {
            return bad("training.smote_k_neighbors", "must be at least 1");
        }
        if !(t.downsample_ratio >= 1.0) {
            return bad("training.downsample_ratio", "must be at least 1");
        }
        let th = self.inference.decision_threshold;
        if !(th > 0.0 && th < 1.0) {
            return bad(
                "inference.decision_threshold",
                "must be strictly between 0 and 1",
            );
        }
        let bands = &self.inference.pd_bands;
        // Written so that NaN fails too (every comparison with NaN is false).
        let increasing = bands.windows(2).all(|w| w[0] < w[1]);
        if bands.is_empty() || !increasing || !(bands[0] > 0.0) {
            return bad("inference.pd_bands", "must be increasing PDs in (0, 1)");
        }
        if bands.last().is_some_and(|b| !(*b < 1.0)) {
            return bad("inference.pd_bands", "must be increasing PDs in (0, 1)");
        }
        for (feature, sign) in &self.model.monotone_constraints {
            if !matches!(sign, -1 | 1) {
                return bad(
                    &format!("model.monotone_constraints.{feature}"),
                    "must be 1 or -1",
                );
            }
        }
        let share = self.features.cache_fill_share;
        if !(share > 0.0 && share <= 1.0) {
            return bad("features.cache_fill_share", "must be in (0, 1]");
        }
        if !(0.0..=1.0).contains(&self.validation.max_orphan_share) {
            return bad("validation.max_orphan_share", "must be within [0, 1]");
        }
        let sv = &self.serving;
        if sv.max_body_bytes < 64 {
            return bad("serving.max_body_bytes", "must be at least 64");
        }
        if sv.max_records == 0 {
            return bad("serving.max_records", "must be at least 1");
        }
        if sv.request_timeout_ms == 0 {
            return bad("serving.request_timeout_ms", "must be at least 1");
        }
        if sv.audit_log.as_os_str().is_empty() {
            return bad("serving.audit_log", "must be a file path");
        }
        if sv.header_timeout_ms == 0 || sv.body_timeout_ms == 0 {
            return bad(
                "serving.header_timeout_ms / serving.body_timeout_ms",
                "must be at least 1",
            );
        }
        if !(sv.plausibility_factor.is_finite() && sv.plausibility_factor >= 0.0) {
            return bad(
                "serving.plausibility_factor",
                "must be a number >= 0 (0 turns the check off)",
            );
        }
        for (i, key) in self.signing.trusted_keys.iter().enumerate() {
            let hex64 = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex64 {
                return bad(
                    &format!("signing.trusted_keys[{i}]"),
                    "must be an ed25519 public key as 64 hex digits (creditrisk keygen prints it)",
                );
            }
        }
        self.check_monitoring()?;
        self.check_governance()?;
        for (i, source) in self.ingestion.sources.iter().enumerate() {
            if crate::catalog::RawTable::from_name(&source.table).is_none() {
                return bad(
                    &format!("ingestion.sources[{i}].table"),
                    &format!("unknown table `{}`", source.table),
                );
            }
            // Two sources for one table would race for the same file in raw_dir.
            if let Some(first) = self.ingestion.sources[..i]
                .iter()
                .position(|s| s.table == source.table)
            {
                return bad(
                    &format!("ingestion.sources[{i}].table"),
                    &format!(
                        "table `{}` is already the table of ingestion.sources[{first}]; \
                         keep one source per table",
                        source.table
                    ),
                );
            }
        }
        Ok(())
    }

    /// The `monitoring` keys: shares and p-values in range, positive thresholds and sizes.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn check_monitoring(&self) -> Result<()> {
        let m = &self.monitoring;
        let bad = |key: &str, why: &str| {
            Err(Error::config(format!(
                "{}: key `monitoring.{key}`: {why}",
                self.source.display()
            )))
        };
        let unit = |v: f64| v > 0.0 && v <= 1.0;
        let open_unit = |v: f64| v > 0.0 && v < 1.0;
        if !unit(m.drift_share) {
            return bad("drift_share", "must be in (0, 1]");
        }
        if !unit(m.retrain_drift_threshold) {
            return bad("retrain_drift_threshold", "must be in (0, 1]");
        }
        if !open_unit(m.ks_p_value) {
            return bad("ks_p_value", "must be strictly between 0 and 1");
        }
        if !open_unit(m.chi_squared_p_value) {
            return bad("chi_squared_p_value", "must be strictly between 0 and 1");
        }
        if !(m.psi_threshold > 0.0 && m.psi_threshold.is_finite()) {
            return bad("psi_threshold", "must be a positive number");
        }
        if !(m.wasserstein_threshold > 0.0 && m.wasserstein_threshold.is_finite()) {
            return bad("wasserstein_threshold", "must be a positive number");
        }
        // The Jensen-Shannon distance (natural log) lies in [0, sqrt(ln 2)].
        if !(m.jensen_shannon_threshold > 0.0 && m.jensen_shannon_threshold < 1.0) {
            return bad(
                "jensen_shannon_threshold",
                "must be strictly between 0 and 1",
            );
        }
        if m.large_sample_rows == 0 {
            return bad("large_sample_rows", "must be at least 1");
        }
        if m.psi_bins < 2 {
            return bad("psi_bins", "must be at least 2");
        }
        if !(1..=MAX_MONITORING_SAMPLE_ROWS).contains(&m.sample_rows) {
            return bad(
                "sample_rows",
                &format!(
                    "must be between 1 and {MAX_MONITORING_SAMPLE_ROWS} (above that scipy's \
                     ks_2samp no longer uses its exact p-value)"
                ),
            );
        }
        if m.retrain_command.split_whitespace().next().is_none() {
            return bad("retrain_command", "must name a command");
        }
        Ok(())
    }

    /// The `governance` keys: a ratio in (0, 1], named segments with increasing bands.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    fn check_governance(&self) -> Result<()> {
        let g = &self.governance;
        let bad = |key: &str, why: &str| {
            Err(Error::config(format!(
                "{}: key `governance.{key}`: {why}",
                self.source.display()
            )))
        };
        if !(g.adverse_impact_ratio > 0.0 && g.adverse_impact_ratio <= 1.0) {
            return bad("adverse_impact_ratio", "must be in (0, 1]");
        }
        if g.vintages < 2 {
            return bad("vintages", "must be at least 2");
        }
        if g.reason_statements.as_os_str().is_empty() {
            return bad("reason_statements", "must be a file path");
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in g.segments.iter().enumerate() {
            if s.name.is_empty() || s.column.is_empty() {
                return bad(&format!("segments[{i}]"), "needs a name and a column");
            }
            if !names.insert(&s.name) {
                return bad(&format!("segments[{i}].name"), "is used twice");
            }
            if !s.bands.windows(2).all(|w| w[0] < w[1]) || s.bands.iter().any(|b| !b.is_finite()) {
                return bad(
                    &format!("segments[{i}].bands"),
                    "must be increasing numbers",
                );
            }
        }
        Ok(())
    }

    /// Resolve a configured path against the project root.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.root.join(path)
        }
    }
}

/// The project root: the folder holding `configs/`, else the config file's own folder.
fn project_root(config_path: &Path) -> PathBuf {
    let abs = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("configs") => dir.parent().map(Path::to_path_buf).unwrap_or(dir),
        _ => dir,
    }
}

/// Set `section.key` (from `CREDITRISK__SECTION__KEY`) to the YAML scalar `raw`.
fn apply_override(root: &mut Value, env_key: &str, raw: &str) -> std::result::Result<(), String> {
    let path: Vec<String> = env_key[ENV_PREFIX.len()..]
        .split("__")
        .map(|s| s.to_ascii_lowercase())
        .collect();
    if path.iter().any(String::is_empty) {
        return Err("expected CREDITRISK__SECTION__KEY".into());
    }
    let parsed: Value =
        serde_saphyr::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let mut node = root;
    for (i, part) in path.iter().enumerate() {
        let Value::Object(map) = node else {
            return Err(format!("`{}` is not a section", path[..i].join(".")));
        };
        if i + 1 == path.len() {
            map.insert(part.clone(), parsed);
            return Ok(());
        }
        node = map
            .entry(part.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}
