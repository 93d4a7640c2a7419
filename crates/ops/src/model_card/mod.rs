//! `creditrisk model-card --model REF`: one self-contained document per model version for a
//! model-risk review (SR 11-7 style): purpose, training data, features, learner, constraints,
//! calibration, test performance, segment analysis, stability, limitations, gates and registry
//! history. Everything comes from artifacts creditrisk already has (the verified bundle, the
//! lineage, the splits, the gate reports, the registry's version tags); the test figures are
//! recomputed from the bundle with `evaluate`'s own code, so the card describes this version even
//! when the latest evaluation was of another. Written as HTML, Markdown and JSON under
//! `reports/model_card/` and logged as artifacts of the version's run.

pub mod document;
pub mod page;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::evaluate::{self, EvaluateOptions};
use crate::gates::{CanaryReport, ValidationOutcome};
use crate::monitor::stats::psi_numeric;
use creditrisk_base::config::Config;
use creditrisk_base::error::{Error, Result};
use creditrisk_base::io;
use creditrisk_base::layout::{Layout, Split};
use creditrisk_base::parquet_io;
use creditrisk_data::features::lineage::DataLineage;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_mlflow::{ModelRef, ModelVersion, Tracker};
use creditrisk_model::bundle::TrainedLearner;
use creditrisk_model::metrics::Metrics;
use creditrisk_model::{ModelBundle, ScoreOptions, score};
use document::{
    Feature, GateRecord, Identity, Learner, ModelCardDoc, RegistryEvent, Source, Stability,
    TrainingData,
};

/// Bins of the PD's population stability index (the monitoring default).
const PSI_BINS: usize = 10;

/// What `model-card` reads from the configuration.
#[derive(Clone, Debug)]
pub struct ModelCardOptions {
    pub evaluate: EvaluateOptions,
    pub tracking: TrackingOptions,
    /// `tracking.tags`: owner and stated purpose of the model.
    pub tags: BTreeMap<String, String>,
}

impl ModelCardOptions {
    pub fn from_config(cfg: &Config) -> ModelCardOptions {
        ModelCardOptions {
            evaluate: EvaluateOptions {
                tracking: None,
                ..EvaluateOptions::from_config(cfg)
            },
            tracking: TrackingOptions::from_config(cfg),
            tags: cfg.tracking.tags.clone(),
        }
    }
}

/// Where the card went.
#[derive(Clone, Debug, Serialize)]
pub struct ModelCardSummary {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub logged_to_run: Option<String>,
    pub flagged_segments: Vec<String>,
}

impl ModelCardSummary {
    /// What the CLI tells the user: where the card is and what needs review.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "model card: {}\n            {}\n            {}",
            self.html.display(),
            self.markdown.display(),
            self.json.display()
        );
        if let Some(run) = &self.logged_to_run {
            text.push_str(&format!("\nlogged to run {run} (artifacts model_card/)"));
        }
        if !self.flagged_segments.is_empty() {
            text.push_str(&format!(
                "\nsegments below the adverse-impact ratio: {}",
                self.flagged_segments.join(", ")
            ));
        }
        text
    }
}

/// Build, write and log the model card of `reference`.
pub async fn run(
    layout: &Layout,
    opts: &ModelCardOptions,
    reference: &ModelRef,
) -> Result<ModelCardSummary> {
    let tracker = opts.tracking.tracker(layout)?;
    let loaded = creditrisk_model::registry::load(layout, &opts.tracking, reference).await?;
    let bundle = loaded.bundle;
    let mut eval_opts = opts.evaluate.clone();
    // Stability over time is part of every card: the synthetic vintage unless a column is named.
    if eval_opts.by.is_none() {
        eval_opts.by = Some(evaluate::segments::SYNTHETIC_VINTAGE.to_string());
    }
    let test = evaluate::assess(layout, &eval_opts, Split::Test, bundle.clone()).await?;
    let train_file = layout.split_file(Split::Train);
    let train = parquet_io::read_parquet(&train_file, "run `creditrisk split-data` first")?;
    let train_y = creditrisk_model::frame::target_column(
        &train,
        creditrisk_model::TARGET_COLUMN,
        &train_file.display().to_string(),
    )?;
    let train_pd = score(bundle.clone(), train, ScoreOptions::default())
        .await?
        .pd;
    let stability = Stability {
        pd_psi_train_vs_test: psi_numeric(&train_pd, &test.scored.pd, PSI_BINS),
        psi_bins: PSI_BINS,
        train_mean_pd: mean(&train_pd),
        test_mean_pd: test.metrics.mean_pd,
    };
    let version = loaded.label.registered().cloned();
    let run = match &bundle.metadata.tracking_run_id {
        Some(id) => tracker.get_run(id).await.ok(),
        None => None,
    };
    let metrics_file = layout.metrics_file(Split::Test);
    let metrics_file_matches = read_json::<Metrics>(&metrics_file).map(|m| m == test.metrics);
    let doc = ModelCardDoc {
        generated_at: chrono::Utc::now().to_rfc3339(),
        identity: identity(&bundle, reference, version.as_ref()),
        purpose: purpose(opts, &bundle),
        training_data: training_data(layout, &bundle, &train_y),
        features: features(layout, &bundle),
        learner: learner(&bundle, run.as_ref().map(|r| &r.params)),
        limitations: limitations(&bundle, &test.segments.flagged, &stability),
        gates: gates(layout, version.as_ref()),
        registry_history: history(version.as_ref()),
        test_metrics: test.metrics,
        metrics_file: metrics_file.display().to_string(),
        metrics_file_matches,
        segments: test.segments,
        stability,
    };
    write(layout, &tracker, &bundle, &doc, &test.y, &test.scored.pd).await
}

async fn write(
    layout: &Layout,
    tracker: &Tracker,
    bundle: &ModelBundle,
    doc: &ModelCardDoc,
    y: &[f64],
    pd: &[f64],
) -> Result<ModelCardSummary> {
    let stem = match doc.identity.version {
        Some(v) => format!("{}-v{v}", doc.identity.name),
        None => format!("{}-{}", doc.identity.name, doc.identity.bundle_run_id),
    };
    // One folder per card, so logging it as an artifact carries its plots along.
    let dir = layout.model_card_dir().join(&stem);
    let plots_dir = dir.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(|e| Error::io(&plots_dir, e))?;
    let plots = evaluate::draw_plots(&plots_dir, y, pd, &doc.test_metrics)?;
    let page = page::page(doc, &plots);
    let html = dir.join(format!("{stem}.html"));
    io::write_atomic(&html, render::html(&page).as_bytes())?;
    let markdown = dir.join(format!("{stem}.md"));
    io::write_atomic(&markdown, render::markdown(&page, "plots").as_bytes())?;
    let json = dir.join(format!("{stem}.json"));
    io::write_json(&json, doc)?;
    let logged_to_run = match &bundle.metadata.tracking_run_id {
        Some(run_id) => {
            tracker
                .log_artifact(run_id, &dir, &format!("model_card/{stem}"))
                .await?;
            Some(run_id.clone())
        }
        None => None,
    };
    Ok(ModelCardSummary {
        html,
        markdown,
        json,
        logged_to_run,
        flagged_segments: doc.segments.flagged.clone(),
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// A JSON report, when present and readable (the card shows what exists).
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

fn identity(bundle: &ModelBundle, reference: &ModelRef, v: Option<&ModelVersion>) -> Identity {
    let m = &bundle.metadata;
    Identity {
        name: bundle.card.name.clone(),
        reference: reference.to_string(),
        version: v.map(|v| v.version),
        stage: v.map(|v| v.stage.as_str().to_string()),
        aliases: v.map(|v| v.aliases.clone()).unwrap_or_default(),
        bundle_run_id: m.run_id.clone(),
        bundle_sha256: bundle.bundle_sha256.clone(),
        tracking_run_id: m.tracking_run_id.clone(),
        git_commit: m.git_commit.clone(),
        crate_version: m.crate_version.clone(),
        config_hash: m.config_hash.clone(),
        trained_at: m.finished_at.clone(),
    }
}

fn purpose(opts: &ModelCardOptions, bundle: &ModelBundle) -> Vec<String> {
    let mut out = vec![
        format!(
            "Estimates the probability that a consumer-loan applicant defaults (payment \
             difficulties on the first instalments), calibrated to the observed base rate. \
             Applications are declined at PD ≥ {}; each decision carries up to {} reason codes \
             with reviewed adverse-action statements.",
            bundle.card.decision_threshold, bundle.card.reason_codes
        ),
        "Intended use: application scoring of new consumer-credit applicants of the same \
         population and product mix as the training data, with a credit officer able to review \
         decisions. Not intended for pricing, collections, behavioural scoring or populations \
         outside the training data."
            .to_string(),
    ];
    if !opts.tags.is_empty() {
        let tags: Vec<String> = opts.tags.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        out.push(format!(
            "Declared in the tracking tags: {}.",
            tags.join("; ")
        ));
    }
    out
}

fn training_data(layout: &Layout, bundle: &ModelBundle, train_y: &[f64]) -> TrainingData {
    let lineage: Option<DataLineage> = read_json(&layout.lineage_file());
    let sources = lineage
        .map(|l| {
            l.sources
                .into_iter()
                .map(|s| Source {
                    table: s.table,
                    path: s.path,
                    sha256: s.sha256,
                    rows: s.rows,
                })
                .collect()
        })
        .unwrap_or_default();
    let m = &bundle.metadata;
    TrainingData {
        sources,
        split_files: m.input_files.clone(),
        train_rows: train_y.len(),
        train_default_rate: mean(train_y),
        rows_fit: m.rows_fit,
        rows_validation: m.rows_validation,
        period: "not recorded: the Home Credit extract carries no application date (the \
                 stability section uses a vintage by SK_ID_CURR order instead)"
            .to_string(),
    }
}

/// The feature dictionary of the binary's release, for projects without their own `docs/`.
const BUILTIN_DICTIONARY: &str = include_str!("../../../../docs/features.md");

/// Definition and unit of each store column from the feature dictionary's tables (the
/// project's `docs/features.md`, else the built-in copy).
fn dictionary(path: &Path) -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| BUILTIN_DICTIONARY.to_string());
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| column"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split(" | ").collect();
            (cells.len() == 5).then(|| {
                (
                    cells[0].trim().to_string(),
                    (cells[2].trim().to_string(), cells[4].trim().to_string()),
                )
            })
        })
        .collect()
}

fn features(layout: &Layout, bundle: &ModelBundle) -> Vec<Feature> {
    let dict = dictionary(&layout.root.join("docs/features.md"));
    bundle
        .card
        .features
        .iter()
        .map(|f| {
            let (definition, unit) = dict
                .get(&f.name)
                .cloned()
                .unwrap_or_else(|| ("(not in docs/features.md)".to_string(), String::new()));
            let statement = bundle
                .reason_statements
                .statements
                .get(&f.name)
                .map(|s| s.text.clone())
                .unwrap_or_default();
            Feature {
                name: f.name.clone(),
                kind: format!("{:?}", f.kind).to_lowercase(),
                arrow_type: f.arrow_type.clone(),
                definition,
                unit,
                statement,
            }
        })
        .collect()
}

fn learner(bundle: &ModelBundle, params: Option<&BTreeMap<String, String>>) -> Learner {
    let mut hyperparameters: BTreeMap<String, String> = params
        .map(|p| {
            p.iter()
                .filter(|(k, _)| k.starts_with("learner.") || k.starts_with("model."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if hyperparameters.is_empty() {
        // Untracked bundle: the fitted learner's own scalar settings.
        let value = match &bundle.learner {
            TrainedLearner::Trees(b) => serde_json::to_value(b.as_ref()).ok(),
            TrainedLearner::Logistic(m) => Some(serde_json::json!({
                "converged": m.converged,
                "coefficients": m.coefficients.len(),
            })),
        };
        if let Some(serde_json::Value::Object(fields)) = value {
            for (k, v) in fields {
                if !v.is_array() && !v.is_object() {
                    hyperparameters.insert(format!("learner.{k}"), v.to_string());
                }
            }
        }
    }
    let m = &bundle.metadata;
    Learner {
        learner: format!("{:?}", bundle.card.learner),
        trees: bundle.card.trees,
        hyperparameters,
        monotone_constraints: m.monotone_constraints.clone(),
        calibration: m.calibration.clone(),
        rebalance: serde_json::to_value(&m.rebalance).unwrap_or_default(),
        decision_threshold: bundle.card.decision_threshold,
        pd_bands: bundle.card.pd_bands.clone(),
        reason_codes: bundle.card.reason_codes,
    }
}

fn limitations(bundle: &ModelBundle, flagged: &[String], stability: &Stability) -> Vec<String> {
    let mut out = vec![
        "Trained on one extract; performance holds for applicants like those in it. Monitor \
         drift (`creditrisk monitor-production`) and revalidate when the population or \
         product mix changes."
            .to_string(),
        "Reason codes are TreeSHAP (or coefficient × value) contributions to the uncalibrated \
         log-odds; they rank the factors that raised the PD, not causes."
            .to_string(),
        "Protected attributes are not model features, but correlated features can still carry \
         their effect: read the segment analysis."
            .to_string(),
    ];
    if !flagged.is_empty() {
        out.push(format!(
            "Segments below the adverse-impact ratio on the test split: {}. Review before use.",
            flagged.join(", ")
        ));
    }
    if stability.pd_psi_train_vs_test >= 0.1 {
        out.push(format!(
            "The PD distribution shifts between train and test (PSI {:.4}).",
            stability.pd_psi_train_vs_test
        ));
    }
    out.extend(bundle.metadata.notes.iter().cloned());
    out
}

/// validate-model and canary verdicts recorded for this version.
fn gates(layout: &Layout, version: Option<&ModelVersion>) -> Vec<GateRecord> {
    let Some(v) = version else {
        return vec![];
    };
    let mut out = Vec::new();
    if let Some(r) = read_json::<ValidationOutcome>(&layout.post_training_validation())
        && r.version == v.version
        && r.model_name == v.name
    {
        out.extend(r.gates.into_iter().map(|g| GateRecord {
            gate: format!("validate-model: {}", g.gate),
            passed: g.passed,
            detail: g.detail,
            checked_at: r.checked_at.clone(),
        }));
    }
    if let Some(c) = read_json::<CanaryReport>(&layout.canary_report())
        && c.candidate.as_ref().and_then(|s| s.version) == Some(v.version)
    {
        out.push(GateRecord {
            gate: "canary".into(),
            passed: c.passed,
            detail: format!("{}: {}", c.status, c.reason),
            checked_at: c.checked_at,
        });
    }
    out
}

/// Registration, then every promotion recorded in the version's tags, oldest first.
fn history(version: Option<&ModelVersion>) -> Vec<RegistryEvent> {
    let Some(v) = version else {
        return vec![];
    };
    let registered = chrono::DateTime::from_timestamp_millis(v.creation_timestamp)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut out = vec![RegistryEvent {
        event: format!("registered as version {}", v.version),
        at: registered,
        by: "creditrisk train".into(),
        note: v
            .run_id
            .as_ref()
            .map_or(String::new(), |r| format!("run {r}")),
        status: String::new(),
    }];
    let mut groups: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for (key, value) in &v.tags {
        if let Some((group, field)) = key
            .strip_prefix("creditrisk.promotion.")
            .and_then(|rest| rest.rsplit_once('.'))
        {
            groups.entry(group).or_default().insert(field, value);
        }
    }
    for (group, fields) in groups {
        let get = |f: &str| fields.get(f).copied().unwrap_or("").to_string();
        let target = group.replacen('.', " ", 1);
        let previous = get("previous_versions");
        out.push(RegistryEvent {
            event: if previous.is_empty() {
                format!("promoted to {target}")
            } else {
                format!("promoted to {target} (held by {previous} before)")
            },
            at: get("at"),
            by: get("reviewer"),
            note: get("note"),
            status: get("approval_status"),
        });
    }
    out.sort_by(|a, b| a.at.cmp(&b.at));
    out
}
