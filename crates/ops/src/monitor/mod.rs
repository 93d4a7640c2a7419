//! Drift monitoring, with Evidently's data drift rules (see [`drift`] and [`stats`]):
//!
//! * `monitor-drift` ([`monitor_drift`]): two sets of feature rows (default the train and test
//!   splits) over every feature the watched model reads, the model's PD on both (prediction
//!   drift, by PSI) and the label when both sides have one; `reports/drift_report.{json,html}`,
//!   logged to the tracker as a monitoring run tagged with the model version it watched.
//! * `monitor-production` ([`production::monitor_production`]): a production extract (raw
//!   application rows, featurised with the model's own SQL as batch-predict does, or feature
//!   rows) against the training split the model was trained on, and the retrain trigger.
//! * `check-freshness` ([`freshness::check_freshness`]): age of every ingested raw file.
//!
//! Both sides are sampled to at most `monitoring.sample_rows` rows (seeded) before anything is
//! tested or scored, so full-scale splits cost the same as small ones.

pub mod drift;
pub mod freshness;
pub mod html;
pub mod production;
pub mod publish;
pub mod report;
pub mod stats;

use std::path::PathBuf;

use creditrisk_base::config::{Config, MonitoringConfig, Section};
use creditrisk_base::error::Result;
use creditrisk_base::layout::{Layout, Split};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;

pub use drift::{ColumnDrift, DriftSummary, DriftTest};
pub use report::DriftReport;

/// What the monitoring commands read from the configuration.
#[derive(Clone, Debug)]
pub struct MonitorOptions {
    pub monitoring: MonitoringConfig,
    pub tracking: TrackingOptions,
    /// The config file, passed on to `creditrisk` retrain commands.
    pub config_file: PathBuf,
}

impl MonitorOptions {
    pub const SECTIONS: [Section; 3] = [Section::Monitoring, Section::Tracking, Section::Registry];

    pub fn from_config(cfg: &Config) -> MonitorOptions {
        MonitorOptions {
            monitoring: cfg.monitoring.clone(),
            tracking: TrackingOptions::from_config(cfg),
            config_file: cfg.source.clone(),
        }
    }
}

/// One `monitor-drift` call; `Default` is the pipeline's: train split vs test split, the
/// Production version of `registry.model_name` (else its newest).
#[derive(Clone, Debug, Default)]
pub struct DriftRequest {
    /// Feature rows (Parquet or CSV); default the train split.
    pub reference: Option<PathBuf>,
    /// Feature rows (Parquet or CSV); default the test split.
    pub current: Option<PathBuf>,
    pub model: Option<ModelRef>,
}

/// `creditrisk monitor-drift`: test every model feature, the PD and the label between the two
/// sets, write `reports/drift_report.{json,html}` and log a monitoring run.
pub async fn monitor_drift(
    layout: &Layout,
    opts: &MonitorOptions,
    request: &DriftRequest,
) -> Result<DriftReport> {
    let tracker = opts.tracking.tracker(layout)?;
    let (bundle, model) =
        report::watched_model(&tracker, layout, opts, request.model.as_ref()).await?;
    let hint = "run `creditrisk split-data`, or pass --reference/--current";
    let ref_path = request
        .reference
        .clone()
        .unwrap_or_else(|| layout.split_file(Split::Train));
    let cur_path = request
        .current
        .clone()
        .unwrap_or_else(|| layout.split_file(Split::Test));
    let reference = report::Dataset::new(&ref_path, report::read_feature_rows(&ref_path, hint)?);
    let current = report::Dataset::new(&cur_path, report::read_feature_rows(&cur_path, hint)?);
    let mut analysis = report::analyse(
        "monitor-drift",
        bundle,
        model,
        reference,
        current,
        &opts.monitoring,
    )
    .await?;
    let outputs = publish::Outputs {
        json: layout.drift_report(),
        html: layout.drift_report_html(),
    };
    publish::publish(&tracker, opts, &mut analysis, &outputs).await?;
    Ok(analysis.report)
}
