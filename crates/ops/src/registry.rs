//! `creditrisk promote-model`: move a registered version to a stage or point an alias at it, and
//! record the governance facts (who, when, why, what held the stage or alias before) as version
//! tags, so the registry alone answers who promoted what, when and why. The same facts go to
//! `reports/registry_transition.json`.

use serde::Serialize;

use creditrisk_base::config::Stage;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::layout::Layout;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_mlflow::{ModelVersion, Tracker};

/// Where a version goes.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Stage {
        stage: Stage,
        archive_existing: bool,
    },
    Alias {
        alias: String,
    },
}

/// A promotion request.
#[derive(Clone, Debug, Serialize)]
pub struct Promotion {
    pub version: u64,
    pub target: Target,
    pub reviewer: Option<String>,
    pub note: Option<String>,
}

/// What happened, as written to `reports/registry_transition.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    pub model_name: String,
    pub version: u64,
    pub target: Target,
    /// Versions that held the stage (now archived when `archive_existing`) or the alias before.
    pub previous: Vec<u64>,
    pub stage_after: Stage,
    pub aliases_after: Vec<String>,
    pub reviewer: String,
    pub note: String,
    pub approval_status: String,
    pub at: String,
    pub report: std::path::PathBuf,
}

/// Promote a version of `registry.model_name`.
pub async fn promote(
    layout: &Layout,
    tracking: &TrackingOptions,
    request: &Promotion,
) -> Result<Transition> {
    let tracker = tracking.tracker(layout)?;
    let name = &tracking.registry.model_name;
    let reference = format!("models:/{name}/{}", request.version);
    let versions = tracker
        .list_model_versions(name)
        .await
        .map_err(|e| e.about(&reference))?;
    if !versions.iter().any(|v| v.version == request.version) {
        let known: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
        return Err(Error::input(format!(
            "{reference}: no such version (registered: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    }
    let (after, previous) = apply(&tracker, name, request, &versions).await?;
    let at = chrono::Utc::now().to_rfc3339();
    let reviewer = request
        .reviewer
        .clone()
        .unwrap_or_else(|| "unreviewed".into());
    let note = request.note.clone().unwrap_or_default();
    let approval_status = if request.reviewer.is_some() {
        "approved"
    } else {
        "pending_review"
    };
    let what = match &request.target {
        Target::Stage { stage, .. } => format!("stage {}", stage.as_str()),
        Target::Alias { alias } => format!("alias {alias}"),
    };
    let previous_text = previous
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // One tag group per target (`creditrisk.promotion.stage.Production.*`,
    // `creditrisk.promotion.alias.champion.*`), so a later promotion never erases an earlier one.
    let prefix = format!("creditrisk.promotion.{}", what.replace(' ', "."));
    for (key, value) in [
        ("reviewer", reviewer.as_str()),
        ("note", note.as_str()),
        ("approval_status", approval_status),
        ("at", at.as_str()),
        ("previous_versions", previous_text.as_str()),
    ] {
        let key = format!("{prefix}.{key}");
        tracker
            .set_model_version_tag(name, request.version, &key, value)
            .await?;
    }
    let transition = Transition {
        model_name: name.clone(),
        version: request.version,
        target: request.target.clone(),
        previous,
        stage_after: after.stage,
        aliases_after: after.aliases,
        reviewer,
        note,
        approval_status: approval_status.into(),
        at,
        report: layout.registry_transition(),
    };
    creditrisk_base::io::write_json(&transition.report, &transition)?;
    Ok(transition)
}

/// Make the transition; returns the version after it and the versions that held the target
/// before it (for a stage, read under the registry's lock, so concurrent promotions each name
/// the holder they replaced).
async fn apply(
    tracker: &Tracker,
    name: &str,
    request: &Promotion,
    versions: &[ModelVersion],
) -> Result<(ModelVersion, Vec<u64>)> {
    match &request.target {
        Target::Stage {
            stage,
            archive_existing,
        } => {
            if *archive_existing && !matches!(stage, Stage::Staging | Stage::Production) {
                return Err(Error::config(format!(
                    "--archive-existing applies to Staging or Production, not {}",
                    stage.as_str()
                )));
            }
            tracker
                .transition_stage_from(name, request.version, *stage, *archive_existing)
                .await
        }
        Target::Alias { alias } => {
            let previous = versions
                .iter()
                .filter(|v| v.aliases.contains(alias) && v.version != request.version)
                .map(|v| v.version)
                .collect();
            tracker.set_alias(name, alias, request.version).await?;
            let after = tracker.get_model_version(name, request.version).await?;
            Ok((after, previous))
        }
    }
}
