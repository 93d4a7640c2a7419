//! The naming rules MLflow enforces (keys, model names, aliases), checked before anything is
//! written or sent: in the file store a key becomes a path, so a bad key must never reach the
//! filesystem, and over REST a clear local error beats a server's 400. Also the ids and clock
//! both backends share.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use creditrisk_base::error::{Error, Result};

/// MLflow's limit on metric, param and tag keys (`MAX_ENTITY_KEY_LENGTH`).
pub(crate) const MAX_KEY_LEN: usize = 250;
/// Longer param values are silently truncated by an MLflow server; refusing them keeps the file
/// store and the server identical and loses nothing unnoticed.
pub(crate) const MAX_PARAM_VALUE_LEN: usize = 6000;
/// Same for run tag values.
pub(crate) const MAX_TAG_VALUE_LEN: usize = 8000;
/// MLflow's limit on alias names.
const MAX_ALIAS_LEN: usize = 255;

/// A metric, param or tag key: MLflow's `[/\w.\- :]`, at most 250 characters, and a normalised
/// relative path (no empty, `.` or `..` segment, no leading or trailing `/`), because the file
/// store nests `a/b` into folders. `what` names the kind of key in the message.
pub(crate) fn check_key(what: &str, key: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::input(format!("invalid {what} key {key:?}: {why}")));
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.chars().count() > MAX_KEY_LEN {
        return bad("longer than 250 characters");
    }
    if let Some(c) = key
        .chars()
        .find(|&c| !(c.is_alphanumeric() || "_-. :/".contains(c)))
    {
        return bad(&format!(
            "character {c:?} is not allowed (alphanumerics, _ - . space : / only)"
        ));
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad(
            "it must be a normalised relative path (no leading, trailing or double '/', no '.' or '..' segment)",
        );
    }
    Ok(())
}

/// Param values: at most 6000 characters (see [`MAX_PARAM_VALUE_LEN`]).
pub(crate) fn check_param_value(key: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_PARAM_VALUE_LEN {
        return Err(Error::input(format!(
            "param {key:?}: value is longer than {MAX_PARAM_VALUE_LEN} characters, which MLflow would truncate"
        )));
    }
    Ok(())
}

/// Run tag values: at most 8000 characters (see [`MAX_TAG_VALUE_LEN`]).
pub(crate) fn check_tag_value(key: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TAG_VALUE_LEN {
        return Err(Error::input(format!(
            "tag {key:?}: value is longer than {MAX_TAG_VALUE_LEN} characters, which MLflow would truncate"
        )));
    }
    Ok(())
}

/// A registered model name: non-empty, no `/`, `\`, `:` or `%` (the file store uses it as a folder
/// name and MLflow refuses these), and not `.` or `..`.
pub(crate) fn check_model_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::input(format!(
            "invalid registered model name {name:?}: {why}"
        )))
    };
    if name.trim().is_empty() {
        return bad("it is empty");
    }
    if let Some(c) = name
        .chars()
        .find(|c| "/\\:%".contains(*c) || c.is_control())
    {
        return bad(&format!("character {c:?} is not allowed"));
    }
    if name == "." || name == ".." || name.starts_with(".tmp-") {
        return bad("reserved name");
    }
    Ok(())
}

/// An alias: `^[\w\-]+$`, at most 255 characters, not `latest` (any case) nor `v<digits>`, which
/// MLflow reserves for version references.
pub(crate) fn check_alias(alias: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::input(format!("invalid alias {alias:?}: {why}")));
    if alias.is_empty() {
        return bad("it is empty");
    }
    if alias.chars().count() > MAX_ALIAS_LEN {
        return bad("longer than 255 characters");
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return bad("only letters, digits, '_' and '-' are allowed");
    }
    if alias.eq_ignore_ascii_case("latest") {
        return bad("'latest' is reserved");
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && !chars.as_str().is_empty()
        && chars.all(|c| c.is_ascii_digit())
    {
        return bad("'v<number>' is reserved for versions");
    }
    Ok(())
}

/// A run id as MLflow makes them: uuid4 as 32 lowercase hex digits.
pub(crate) fn new_run_id() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    hex::encode(bytes)
}

/// A file-store experiment id: a random 18-digit integer, as MLflow's file store makes them.
pub(crate) fn new_experiment_id() -> String {
    rand::rng()
        .random_range(100_000_000_000_000_000u64..1_000_000_000_000_000_000)
        .to_string()
}

/// A run id is 32 lowercase hex digits (MLflow's `_RUN_ID_REGEX` is looser, but anything else
/// here would be a path component we did not make).
pub(crate) fn check_run_id(run_id: &str) -> Result<()> {
    if run_id.is_empty()
        || run_id.len() > 256
        || !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::input(format!("invalid run id {run_id:?}")));
    }
    Ok(())
}

/// Unix epoch milliseconds, MLflow's unit for every timestamp.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A relative artifact path (`model`, `reports/plots`): `/`-separated, no empty, `.` or `..`
/// segment. The empty string means the artifact root.
pub(crate) fn check_artifact_path(path: &str) -> Result<()> {
    if path.is_empty() {
        return Ok(());
    }
    if path.contains('\\')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(Error::input(format!(
            "invalid artifact path {path:?}: use a relative path like 'model' or 'reports/plots'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for ok in ["auc", "val/auc", "a b:c.d-e_f", "é"] {
            assert!(check_key("metric", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "../a",
            "a/./b",
            "a=b",
            "a\nb",
            &"x".repeat(251),
        ] {
            assert!(check_key("metric", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn aliases_and_names() {
        assert!(check_alias("champion").is_ok());
        assert!(check_alias("v2x").is_ok());
        for bad in ["", "latest", "LATEST", "v1", "V12", "a b", "a/b"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
        assert!(check_model_name("credit-model").is_ok());
        for bad in ["", " ", "a/b", "a:b", "a%b", ".."] {
            assert!(check_model_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_have_mlflow_shapes() {
        let r = new_run_id();
        assert_eq!(r.len(), 32);
        assert_eq!(&r[12..13], "4");
        assert_eq!(new_experiment_id().len(), 18);
    }
}
