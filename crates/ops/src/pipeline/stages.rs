//! The stages of `creditrisk run`, in order: one [`StageDef`] each, saying what the stage reads
//! (config sections, feature SQL, files, the registry) and writes, and how to run it. Adding a
//! stage is adding one entry to [`STAGES`]; the runner and the fingerprints need nothing else.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use super::fingerprint::RegistryKey;
use crate::gates::{self, CanaryStatus, GateOptions};
use crate::ingest::IngestOptions;
use crate::monitor::{DriftRequest, MonitorOptions};
use crate::registry::Target;
use crate::split::SplitOptions;
use crate::train::TrainOptions;
use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::{Config, Section, Stage};
use creditrisk_base::error::Result;
use creditrisk_base::layout::{BundleFile, Layout, Split};
use creditrisk_base::progress::Reporter;
use creditrisk_data::features::FeatureStoreOptions;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_mlflow::{ModelRef, ModelVersion};
use creditrisk_model::ModelBundle;
use creditrisk_model::bundle::TrainingMetadata;

/// What a stage runs with.
pub struct StageContext<'a> {
    pub cfg: &'a Config,
    pub layout: &'a Layout,
    pub reporter: &'a dyn Reporter,
}

/// A stage's work (its result: the headline figure for the closing table).
pub type StageFuture<'a> = Pin<Box<dyn Future<Output = Result<String>> + Send + 'a>>;
type Paths = fn(&StageContext<'_>) -> Vec<PathBuf>;
type Work = for<'a> fn(&'a StageContext<'a>) -> StageFuture<'a>;
/// Reading the registered version a stage acts on.
pub type RegistryFuture<'a> = Pin<Box<dyn Future<Output = Result<RegistryKey>> + Send + 'a>>;
type RegistryRead = for<'a> fn(&'a StageContext<'a>) -> RegistryFuture<'a>;

/// One stage of the pipeline.
pub struct StageDef {
    /// The subcommand that runs it alone (and its name in `dvc.yaml`, `--from`, `--to`).
    pub name: &'static str,
    /// Config sections whose change reruns it.
    pub sections: &'static [Section],
    /// Whether it reads the feature SQL in `paths.sql_dir`.
    pub reads_feature_sql: bool,
    /// Files (or folders) it reads.
    pub inputs: Paths,
    /// Files (or folders) it writes; a missing or modified one reruns it.
    pub outputs: Paths,
    /// The registered version it acts on; `None` for stages that do not touch the registry.
    /// Compared with the key saved after the stage's last success.
    pub registry: Option<RegistryRead>,
    pub run: Work,
}

/// train reads the store's columns (features), the learner settings, the decision threshold, and
/// records and registers the run (tracking, registry).
const TRAIN_SECTIONS: [Section; 7] = [
    Section::Features,
    Section::Training,
    Section::Model,
    Section::Inference,
    Section::Tracking,
    Section::Registry,
    Section::Governance,
];
/// evaluate loads the latest bundle of `model.name` and adds its figures to the bundle's run;
/// `governance` names its segments.
const EVALUATE_SECTIONS: [Section; 4] = [
    Section::Model,
    Section::Tracking,
    Section::Registry,
    Section::Governance,
];

/// The pipeline, in order.
pub const STAGES: &[StageDef] = &[
    StageDef {
        name: "ingest",
        sections: &IngestOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| crate::ingest::source_files(c.layout, &IngestOptions::from_config(c.cfg)),
        // The summary, and each source's verified copy in the raw folder.
        outputs: |c| {
            let mut out = vec![c.layout.ingestion_summary()];
            let sources = &c.cfg.ingestion.sources;
            let tables = sources.iter().filter_map(|s| RawTable::from_name(&s.table));
            // Objects in a store are not fingerprinted (no local file to hash): `--force`.
            let local = tables.map(|t| c.layout.raw_file(t));
            out.extend(local.filter(|p| creditrisk_base::location::remote(p).is_none()));
            out
        },
        registry: None,
        run: ingest,
    },
    StageDef {
        name: "build-feature-store",
        sections: &FeatureStoreOptions::SECTIONS,
        reads_feature_sql: true,
        inputs: |c| {
            RawTable::ALL
                .iter()
                .map(|t| c.layout.raw_file(*t))
                .filter(|p| creditrisk_base::location::remote(p).is_none())
                .collect()
        },
        outputs: |c| {
            let l = c.layout;
            let mut out = vec![l.store_file.clone(), l.lineage_file()];
            out.extend(
                RawTable::ALL
                    .iter()
                    .map(|t| l.validation_report(&format!("raw_{}", t.name()))),
            );
            out.push(l.validation_report("feature_store"));
            out
        },
        registry: None,
        run: build_feature_store,
    },
    StageDef {
        name: "split-data",
        sections: &SplitOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| vec![c.layout.store_file.clone()],
        outputs: |c| {
            let l = c.layout;
            vec![
                l.split_file(Split::Train),
                l.split_file(Split::Test),
                l.validation_report("splits"),
            ]
        },
        registry: None,
        run: split_data,
    },
    StageDef {
        name: "train",
        sections: &TRAIN_SECTIONS,
        reads_feature_sql: true,
        inputs: |c| {
            let l = c.layout;
            vec![
                l.split_file(Split::Train),
                l.split_file(Split::Test),
                l.lineage_file(),
                l.validation_report("feature_store"),
                l.validation_report("splits"),
                // The reviewed statements are copied into the bundle.
                c.cfg.resolve(&c.cfg.governance.reason_statements),
            ]
        },
        outputs: latest_bundle,
        registry: Some(registered_bundle),
        run: train,
    },
    StageDef {
        name: "evaluate-train",
        sections: &EVALUATE_SECTIONS,
        reads_feature_sql: false,
        inputs: |c| evaluate_inputs(c, Split::Train),
        outputs: |c| evaluate_outputs(c, Split::Train),
        registry: None,
        run: |c| Box::pin(evaluate(c, Split::Train)),
    },
    StageDef {
        name: "evaluate-test",
        sections: &EVALUATE_SECTIONS,
        reads_feature_sql: false,
        inputs: |c| evaluate_inputs(c, Split::Test),
        outputs: |c| evaluate_outputs(c, Split::Test),
        registry: None,
        run: |c| Box::pin(evaluate(c, Split::Test)),
    },
    StageDef {
        name: "validate-model",
        sections: &GateOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| {
            let l = c.layout;
            vec![
                l.metrics_file(Split::Test),
                l.predictions_file(Split::Test),
                l.evaluation_report(Split::Test),
                l.lineage_file(),
            ]
        },
        outputs: |c| vec![c.layout.post_training_validation()],
        registry: Some(newest_version),
        run: validate_model,
    },
    StageDef {
        name: "canary",
        sections: &GateOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| vec![c.layout.split_file(Split::Test)],
        outputs: |c| vec![c.layout.canary_report()],
        // Keyed on the candidate only: auto-promote then makes it the production model, and a
        // canary of a version against itself says nothing.
        registry: Some(newest_version),
        run: canary,
    },
    StageDef {
        name: "monitor-drift",
        sections: &MonitorOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| {
            vec![
                c.layout.split_file(Split::Train),
                c.layout.split_file(Split::Test),
            ]
        },
        outputs: |c| vec![c.layout.drift_report(), c.layout.drift_report_html()],
        // Prediction drift scores the newest registered version.
        registry: Some(newest_version),
        run: monitor_drift,
    },
    StageDef {
        name: "auto-promote",
        sections: &GateOptions::SECTIONS,
        reads_feature_sql: false,
        inputs: |c| {
            vec![
                c.layout.post_training_validation(),
                c.layout.canary_report(),
            ]
        },
        outputs: |c| vec![c.layout.registry_transition()],
        // With the stage: the promotion it made is what its last success left behind.
        registry: Some(newest_version_and_stage),
        run: auto_promote,
    },
];

/// The stage `run` promotes a version to when its gates passed (as `auto-promote --stage`).
pub const PROMOTE_TO: Stage = Stage::Production;

fn ingest<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let s = crate::ingest::run(c.layout, &IngestOptions::from_config(c.cfg))?;
        let rows: u64 = s.sources.iter().map(|f| f.rows).sum();
        Ok(format!("{} files, {rows} rows", s.sources.len()))
    })
}

fn build_feature_store<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let opts = FeatureStoreOptions::from_config(c.cfg);
        let s = creditrisk_data::features::build_feature_store(c.layout, &opts, c.reporter).await?;
        Ok(format!("{} rows × {} columns", s.rows, s.columns))
    })
}

fn split_data<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let s = crate::split::run(c.layout, &SplitOptions::from_config(c.cfg))?;
        Ok(format!(
            "train {} / test {} rows",
            s.train_rows, s.test_rows
        ))
    })
}

fn train<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let s = crate::train::run(c.layout, &TrainOptions::from_config(c.cfg)).await?;
        let version = s
            .registered_version
            .map_or(String::new(), |v| format!(", version {v}"));
        Ok(format!(
            "validation AUC {:.4}{version}",
            s.validation.roc_auc
        ))
    })
}

async fn evaluate(c: &StageContext<'_>, split: Split) -> Result<String> {
    let opts = crate::evaluate::EvaluateOptions::from_config(c.cfg);
    let s = crate::evaluate::run(c.layout, &opts, split).await?;
    let flagged = match s.segments.flagged.len() {
        0 => String::new(),
        n => format!(", {n} segment(s) below the adverse-impact ratio"),
    };
    Ok(format!("AUC {:.4}{flagged}", s.metrics.roc_auc))
}

fn validate_model<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let v = gates::validate_model(c.layout, &GateOptions::from_config(c.cfg), None).await?;
        Ok(format!(
            "pass: {} gates, version {}",
            v.gates.len(),
            v.version
        ))
    })
}

fn canary<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let opts = GateOptions::from_config(c.cfg);
        let production = ModelRef::Stage {
            name: opts.tracking.registry.model_name.clone(),
            stage: PROMOTE_TO,
        };
        let r = gates::canary(
            c.layout,
            &opts,
            &opts.latest(),
            &production,
            None,
            gates::DEFAULT_MAX_METRIC_DELTA,
        )
        .await?;
        Ok(match r.status {
            CanaryStatus::Skipped => "skipped: no production model yet".to_string(),
            status @ (CanaryStatus::Passed | CanaryStatus::Failed) => {
                let largest = r.deltas.values().fold(0.0_f64, |a, b| a.max(*b));
                format!("{status}: largest Δ {largest:.4}")
            }
        })
    })
}

fn monitor_drift<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let opts = MonitorOptions::from_config(c.cfg);
        let r = crate::monitor::monitor_drift(c.layout, &opts, &DriftRequest::default()).await?;
        let s = &r.summary;
        Ok(format!(
            "{}/{} drifted{}",
            s.drifted,
            s.features,
            if s.dataset_drift {
                ", dataset drift"
            } else {
                ""
            }
        ))
    })
}

fn auto_promote<'a>(c: &'a StageContext<'a>) -> StageFuture<'a> {
    Box::pin(async move {
        let target = Target::Stage {
            stage: PROMOTE_TO,
            archive_existing: false,
        };
        let a = gates::auto_promote(c.layout, &GateOptions::from_config(c.cfg), target).await?;
        Ok(format!(
            "version {} → {}",
            a.version.unwrap_or_default(),
            PROMOTE_TO.as_str()
        ))
    })
}

/// The latest bundle of `model.name`: its `latest` pointer and every file of its folder.
fn latest_bundle(c: &StageContext<'_>) -> Vec<PathBuf> {
    let name = &c.cfg.model.name;
    let mut out = vec![c.layout.latest_pointer(name)];
    if let Ok(dir) = ModelBundle::latest_dir(c.layout, name) {
        out.push(dir);
    }
    out
}

fn evaluate_inputs(c: &StageContext<'_>, split: Split) -> Vec<PathBuf> {
    let mut out = vec![c.layout.split_file(split)];
    out.extend(latest_bundle(c));
    out
}

fn evaluate_outputs(c: &StageContext<'_>, split: Split) -> Vec<PathBuf> {
    let l = c.layout;
    vec![
        l.metrics_file(split),
        l.predictions_file(split),
        l.evaluation_dir(split),
        l.segments_file(split),
    ]
}

/// The version the latest bundle was registered as: train's registry output. A wiped or other
/// registry no longer holds it, and train runs again.
fn registered_bundle<'a>(c: &'a StageContext<'a>) -> RegistryFuture<'a> {
    Box::pin(async move {
        let name = &c.cfg.model.name;
        let Ok(dir) = ModelBundle::latest_dir(c.layout, name) else {
            return Ok(RegistryKey::NoBundle);
        };
        let metadata = std::fs::read(dir.join(BundleFile::Metadata.name()))
            .ok()
            .and_then(|b| serde_json::from_slice::<TrainingMetadata>(&b).ok());
        let Some(run_id) = metadata.and_then(|m| m.tracking_run_id) else {
            return Ok(RegistryKey::UntrackedBundle {
                bundle: dir.display().to_string(),
            });
        };
        let registered = versions(c)
            .await?
            .into_iter()
            .find(|v| v.run_id.as_deref() == Some(run_id.as_str()));
        Ok(match registered {
            Some(v) => key(Some(&v), false),
            None => RegistryKey::UnregisteredRun { run_id },
        })
    })
}

async fn versions(c: &StageContext<'_>) -> Result<Vec<ModelVersion>> {
    let tracking = TrackingOptions::from_config(c.cfg);
    let tracker = tracking.tracker(c.layout)?;
    // A registry without the model yet lists nothing (the stage then runs and says more).
    Ok(tracker
        .list_model_versions(&tracking.registry.model_name)
        .await
        .unwrap_or_default())
}

/// The newest registered version of `registry.model_name`.
async fn newest(c: &StageContext<'_>) -> Result<Option<ModelVersion>> {
    Ok(versions(c).await?.into_iter().max_by_key(|v| v.version))
}

fn newest_version<'a>(c: &'a StageContext<'a>) -> RegistryFuture<'a> {
    Box::pin(async move { Ok(key(newest(c).await?.as_ref(), false)) })
}

fn newest_version_and_stage<'a>(c: &'a StageContext<'a>) -> RegistryFuture<'a> {
    Box::pin(async move { Ok(key(newest(c).await?.as_ref(), true)) })
}

/// The key of a registered version (or of none); its stage only when asked for.
fn key(v: Option<&ModelVersion>, with_stage: bool) -> RegistryKey {
    match v {
        None => RegistryKey::NoVersion,
        Some(v) => RegistryKey::Version {
            model: v.name.clone(),
            version: v.version,
            run_id: v.run_id.clone(),
            stage: with_stage.then_some(v.stage),
        },
    }
}
