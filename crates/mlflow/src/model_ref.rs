//! Model references as MLflow spells them — `models:/<name>/<version>`,
//! `models:/<name>@<alias>`, `models:/<name>/<Stage>`, `models:/<name>/latest` — or a local bundle
//! folder. Parsing is strict: a reference that looks like a registry URI but is malformed is a
//! usage error naming it, never silently taken for a path.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::names::{check_alias, check_model_name};
use super::types::parse_stage;
use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};

/// Where a model comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelRef {
    /// `models:/<name>/<version>`
    Version { name: String, version: u64 },
    /// `models:/<name>@<alias>`
    Alias { name: String, alias: String },
    /// `models:/<name>/<Stage>`: the newest version in that stage.
    Stage { name: String, stage: Stage },
    /// `models:/<name>/latest` (or `@latest`): the newest version.
    Latest { name: String },
    /// A local bundle folder (a path, or a `file://` URL).
    Path(PathBuf),
}

const FORMS: &str = "expected models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/<stage> \
                     (None, Staging, Production, Archived) or a local bundle path";

impl ModelRef {
    pub fn parse(text: &str) -> Result<ModelRef> {
        let bad = |why: String| {
            Error::config(format!(
                "malformed model reference {text:?}: {why}; {FORMS}"
            ))
        };
        if text.trim().is_empty() {
            return Err(bad("it is empty".into()));
        }
        if let Some(rest) = text.strip_prefix("models:") {
            let Some(rest) = rest.strip_prefix('/').filter(|r| !r.starts_with('/')) else {
                return Err(bad(
                    "a registry reference starts with models:/ (one slash)".into()
                ));
            };
            if let Some((name, alias)) = rest.split_once('@') {
                check_model_name(name).map_err(|e| bad(message(e)))?;
                if alias.eq_ignore_ascii_case("latest") {
                    return Ok(ModelRef::Latest { name: name.into() });
                }
                check_alias(alias).map_err(|e| bad(message(e)))?;
                return Ok(ModelRef::Alias {
                    name: name.into(),
                    alias: alias.into(),
                });
            }
            let Some((name, selector)) = rest.split_once('/') else {
                return Err(bad(
                    "no version, stage or @alias after the model name".into()
                ));
            };
            check_model_name(name).map_err(|e| bad(message(e)))?;
            let name = name.to_string();
            if !selector.is_empty() && selector.chars().all(|c| c.is_ascii_digit()) {
                return match selector.parse::<u64>() {
                    Ok(version) if version > 0 => Ok(ModelRef::Version { name, version }),
                    _ => Err(bad(format!("version {selector} is not a positive number"))),
                };
            }
            if selector.eq_ignore_ascii_case("latest") {
                return Ok(ModelRef::Latest { name });
            }
            return match parse_stage(selector) {
                Some(stage) => Ok(ModelRef::Stage { name, stage }),
                None => Err(bad(format!(
                    "{selector:?} is neither a version number nor a stage"
                ))),
            };
        }
        if text.starts_with("file:") {
            return url::Url::parse(text)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .map(ModelRef::Path)
                .ok_or_else(|| bad("a file: URL must be absolute (file:///path)".into()));
        }
        if let Some((scheme, _)) = text.split_once(':') {
            let looks_like_scheme = scheme.len() >= 2
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if looks_like_scheme && !std::path::Path::new(text).exists() {
                return Err(bad(format!("unsupported scheme {scheme}:")));
            }
        }
        Ok(ModelRef::Path(PathBuf::from(text)))
    }

    /// The registered model's name (`None` for a path).
    pub fn name(&self) -> Option<&str> {
        match self {
            ModelRef::Version { name, .. }
            | ModelRef::Alias { name, .. }
            | ModelRef::Stage { name, .. }
            | ModelRef::Latest { name } => Some(name),
            ModelRef::Path(_) => None,
        }
    }
}

/// The text of a validation error, without its kind prefix.
fn message(e: Error) -> String {
    match e {
        Error::Input { message: m, .. } | Error::Config { message: m, .. } => m,
        other => other.to_string(),
    }
}

impl FromStr for ModelRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<ModelRef> {
        ModelRef::parse(s)
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelRef::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelRef::Stage { name, stage } => write!(f, "models:/{name}/{}", stage.as_str()),
            ModelRef::Latest { name } => write!(f, "models:/{name}/latest"),
            ModelRef::Path(p) => write!(f, "{}", p.display()),
        }
    }
}
