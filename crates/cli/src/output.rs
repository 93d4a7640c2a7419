//! Everything the binary prints, in one place: progress bars and stage summaries on stderr, the
//! answers a script reads (the `run` table, `demo`'s closing lines, `models`) on stdout, and the
//! error chain.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::Path;

use creditrisk_base::progress::Reporter;
use creditrisk_base::{Error, Layout};
use creditrisk_data::features::{FeatureStoreSummary, TypedCopy};
use creditrisk_mlflow::{ModelVersion, Run};
use creditrisk_ops::deploy::DeployManifest;
use creditrisk_ops::evaluate::EvalSummary;
use creditrisk_ops::gates::{AutoPromotion, CanaryReport, ValidationOutcome};
use creditrisk_ops::gc::GcReport;
use creditrisk_ops::ingest::IngestionSummary;
use creditrisk_ops::monitor::DriftReport;
use creditrisk_ops::monitor::freshness::FreshnessReport;
use creditrisk_ops::monitor::production::ProductionOutcome;
use creditrisk_ops::pipeline::{DemoSummary, Outcome, RunSummary};
use creditrisk_ops::predict::PredictSummary;
use creditrisk_ops::registry::Transition;
use creditrisk_ops::split::SplitSummary;
use creditrisk_ops::train::TrainSummary;
use creditrisk_synth::SynthSummary;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `error: …` and then each cause the message does not already contain, one per line.
pub fn error(e: &Error) {
    let mut shown = e.to_string();
    eprintln!("error: {shown}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
            shown.push_str(&text);
        }
        cause = c.source();
    }
}

/// One line of a summary.
pub fn line(text: &str) {
    eprintln!("{text}");
}

/// Progress bars on stderr; indicatif hides them when stderr is not a terminal.
pub struct Bars {
    bar: ProgressBar,
}

impl Bars {
    pub fn new() -> Bars {
        Bars {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        }
    }
}

impl Reporter for Bars {
    fn start(&self, phase: &str, total: u64) {
        self.bar.reset();
        self.bar.set_length(total);
        self.bar.set_position(0);
        let template = format!("{phase} {{bar:40}} {{pos}}/{{len}} {{msg}} ({{elapsed}})");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style);
        }
    }
    fn advance(&self, units: u64) {
        self.bar.inc(units);
    }
    fn message(&self, text: &str) {
        self.bar.set_message(text.to_string());
    }
    fn note(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The closing table of `run`: one line per stage.
pub fn run(s: &RunSummary) {
    println!("{:<20} {:<8} {:>8}  figure", "stage", "", "seconds");
    for stage in &s.stages {
        let outcome = match stage.outcome {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
        };
        println!(
            "{:<20} {:<8} {:>8.2}  {}",
            stage.stage, outcome, stage.seconds, stage.figure
        );
    }
    println!(
        "{} ran, {} skipped in {:.2} s",
        s.ran().len(),
        s.skipped().len(),
        s.seconds
    );
}

pub fn feature_store(s: &FeatureStoreSummary) {
    eprintln!(
        "feature store: {} rows × {} columns → {} in {:.1} s (peak RSS {:.0} MB)",
        s.rows, s.columns, s.output, s.seconds, s.peak_rss_mb
    );
    for t in &s.tables {
        let copy = match t.copy {
            TypedCopy::None => String::new(),
            TypedCopy::Written { seconds } => format!("  copy {seconds:>5.2} s"),
            TypedCopy::Deferred => "  copy left for a later build".into(),
        };
        eprintln!(
            "  {:<24} {:>10} rows  load {:>5.2} s ({:?})  contracts {:>5.2} s{}  features {:>5.2} s{copy}",
            t.table,
            t.rows,
            t.load_seconds,
            t.from,
            t.contracts_seconds,
            if t.contracts_reused { " (reused)" } else { "" },
            t.features_seconds
        );
    }
    eprintln!(
        "  store query and write {:.2} s, store contracts {:.2} s, lineage (waiting for sha256) {:.2} s",
        s.store_seconds, s.store_contracts_seconds, s.lineage_seconds
    );
}

pub fn evaluation(s: &EvalSummary) {
    let m = &s.metrics;
    eprintln!(
        "{} split, {} rows: AUC {:.4}  Gini {:.4}  KS {:.4}  ECE {:.4}  Brier {:.4} (base rate {:.4})  mean PD {:.4} vs default rate {:.4}",
        s.split.name(),
        m.rows,
        m.roc_auc,
        m.gini,
        m.ks,
        m.ece,
        m.brier,
        m.brier_base_rate,
        m.mean_pd,
        m.default_rate
    );
    eprintln!(
        "metrics: {}\nsegments: {}\nreport:  {}",
        s.metrics_file.display(),
        s.segments_file.display(),
        s.html_report.display()
    );
    if !s.segments.flagged.is_empty() {
        eprintln!(
            "segments below governance.adverse_impact_ratio: {}",
            s.segments.flagged.join(", ")
        );
    }
}

pub fn drift(r: &DriftReport, json: &Path, html: &Path) {
    for f in r.features.iter().filter(|f| f.drifted) {
        eprintln!(
            "drifted  {:<36} {:?} {} (threshold {}), PSI {:.4}",
            f.column,
            f.test,
            f.p_value
                .map(|p| format!("p {p:.4}"))
                .or(f.statistic.map(|s| format!("{s:.4}")))
                .unwrap_or_else(|| "∞".into()),
            f.threshold,
            f.psi
        );
    }
    let s = &r.summary;
    eprintln!(
        "models:/{}/{}: {} of {} features drifted ({:.1} %), dataset drift: {}; prediction PSI {:.4}{}",
        r.model.name,
        r.model.version.map_or("(folder)".into(), |v| v.to_string()),
        s.drifted,
        s.features,
        100.0 * s.drifted_share,
        if s.dataset_drift { "YES" } else { "no" },
        s.prediction_psi,
        s.target_drift
            .map(|t| format!(", target drift: {}", if t { "yes" } else { "no" }))
            .unwrap_or_default()
    );
    eprintln!(
        "report:  {}
html:    {}",
        json.display(),
        html.display()
    );
}

pub fn synth(s: &SynthSummary) {
    for f in &s.files {
        eprintln!(
            "{:<22} {:>11} rows {:>14} bytes  {}",
            f.table,
            f.rows,
            f.bytes,
            f.path.display()
        );
    }
    eprintln!(
        "default rate {:.4}, {:.1} s",
        s.train_default_rate, s.seconds
    );
}

pub fn ingest(s: &IngestionSummary) {
    for f in &s.sources {
        eprintln!(
            "{:<22} {:>11} rows {:>14} bytes  {}",
            f.table, f.rows, f.bytes, f.status
        );
    }
    eprintln!("ingestion summary: {}", s.report.display());
}

pub fn split(s: &SplitSummary) {
    eprintln!(
        "train {} rows (default rate {:.4}) → {}\ntest {} rows (default rate {:.4}) → {}",
        s.train_rows,
        s.train_default_rate,
        s.train_file.display(),
        s.test_rows,
        s.test_default_rate,
        s.test_file.display()
    );
}

pub fn train(s: &TrainSummary) {
    let v = &s.validation;
    eprintln!(
        "{:?} on {} rows × {} features, {:.1} s; validation slice (calibration in-sample) AUC {:.4}, ECE {:.4}, Brier {:.4}\nbundle: {}",
        s.learner,
        s.rows_fit,
        s.features,
        s.seconds,
        v.roc_auc,
        v.ece,
        v.brier,
        s.model_dir.display()
    );
    if let (Some(run), Some(version)) = (&s.tracking_run_id, s.registered_version) {
        eprintln!(
            "tracked run {run}; registered version {version} ({}); tracking took {:.2} s",
            s.registered_stage.map_or("None", |st| st.as_str()),
            s.tracking_seconds
        );
    }
}

pub fn demo(s: &DemoSummary, synth_rows: usize) {
    if let Some(seconds) = s.synth_seconds {
        eprintln!("synthesised {synth_rows} applicants in {seconds:.1} s");
    }
    run(&s.run);
    let m = &s.test;
    println!(
        "test AUC {:.4}  Gini {:.4}  KS {:.4}  ECE {:.4}  Brier {:.4} on {} rows",
        m.roc_auc, m.gini, m.ks, m.ece, m.brier, m.rows
    );
    println!("reports: {}", s.reports_dir.display());
    println!("metrics: {}", s.test_metrics_file.display());
    println!("report:  {}", s.html_report.display());
    println!("next:");
    for command in &s.next_commands {
        println!("  {command}");
    }
}

pub fn deploy_manifest(m: &DeployManifest) {
    eprintln!(
        "{} → version {} (bundle sha256 {}); manifest: {}",
        m.model_reference,
        m.resolved_version
            .map_or_else(|| "-".to_string(), |v| v.to_string()),
        m.bundle_sha256,
        m.manifest.display()
    );
}

pub fn validation(v: &ValidationOutcome, report: &Path) {
    for g in &v.gates {
        eprintln!(
            "{:<6} {:<32} {}",
            if g.passed { "pass" } else { "FAIL" },
            g.gate,
            g.detail
        );
    }
    eprintln!(
        "models:/{}/{} passed every gate; report: {}",
        v.model_name,
        v.version,
        report.display()
    );
}

pub fn canary(r: &CanaryReport, report: &Path) {
    eprintln!(
        "canary {}: {}; report: {}",
        r.status,
        r.reason,
        report.display()
    );
}

pub fn auto_promotion(a: &AutoPromotion) {
    eprintln!(
        "promoted models:/{}/{}: {}; report: {}",
        a.model_name,
        a.version.unwrap_or_default(),
        a.reasons.join("; "),
        a.report.display()
    );
}

pub fn promotion(t: &Transition) {
    eprintln!(
        "models:/{}/{} → stage {}, aliases [{}] (before: {:?}); report: {}",
        t.model_name,
        t.version,
        t.stage_after.as_str(),
        t.aliases_after.join(", "),
        t.previous,
        t.report.display()
    );
}

pub fn batch_predict(s: &PredictSummary) {
    eprintln!(
        "model {} version {} (bundle sha256 {})",
        s.model_name, s.model_version, s.bundle_sha256
    );
    eprintln!(
        "rows read {}, scored {}, rejected {} ({} problems), {:.2} s",
        s.rows_read, s.rows_scored, s.rows_rejected, s.problems, s.seconds
    );
    eprintln!("output:  {}", s.output.display());
    eprintln!("rejects: {}", s.rejects.display());
}

pub fn production_monitoring(o: &ProductionOutcome, layout: &Layout) {
    drift(
        &o.report,
        &layout.production_drift_report(),
        &layout.production_drift_report_html(),
    );
    let t = &o.trigger;
    eprintln!(
        "retrain trigger {}: {}{}; {}",
        if t.fired { "FIRED" } else { "not fired" },
        t.reason,
        t.command
            .as_ref()
            .map(|c| format!("; ran `{c}` (exit code {:?})", t.exit_code))
            .unwrap_or_default(),
        layout.retrain_trigger().display()
    );
}

pub fn freshness(r: &FreshnessReport, report: &Path) {
    for f in &r.files {
        eprintln!(
            "{:<6} {:<22} {:>10}  {}",
            if f.stale { "STALE" } else { "fresh" },
            f.table,
            f.age_hours.map_or("–".into(), |h| format!("{h:.1} h")),
            f.problem.as_deref().unwrap_or(&f.path)
        );
    }
    eprintln!(
        "{} of {} files older than {} h; report: {}",
        r.stale.len(),
        r.files.len(),
        r.max_age_hours,
        report.display()
    );
}

pub fn model_versions(versions: &[ModelVersion]) {
    println!(
        "{:<8} {:<11} {:<24} {:<34} source",
        "version", "stage", "aliases", "run"
    );
    for v in versions {
        println!(
            "{:<8} {:<11} {:<24} {:<34} {}",
            v.version,
            v.stage.as_str(),
            v.aliases.join(","),
            v.run_id.as_deref().unwrap_or("-"),
            v.source
        );
    }
}

pub fn model_version(version: &ModelVersion, run: Option<&Run>) {
    let shown = serde_json::json!({
        "version": version,
        "run": run.map(|r| serde_json::json!({
            "run_id": r.info.run_id,
            "status": r.info.status.as_str(),
            "metrics": r.metrics.iter().map(|(k, m)| (k.clone(), m.value)).collect::<BTreeMap<_, _>>(),
            "tags": r.tags,
        })),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    );
}

pub fn gc(r: &GcReport) {
    for u in &r.unreferenced {
        eprintln!(
            "{} {} ({:.1} MB): {}",
            if r.deleted { "removed" } else { "unreferenced" },
            u.dir.display(),
            u.bytes as f64 / 1e6,
            u.why
        );
    }
    let bytes: u64 = r.unreferenced.iter().map(|u| u.bytes).sum();
    eprintln!(
        "{}: {} bundles kept, {} unreferenced ({:.1} MB){}",
        r.model_name,
        r.kept.len(),
        r.unreferenced.len(),
        bytes as f64 / 1e6,
        if r.deleted || r.unreferenced.is_empty() {
            ""
        } else {
            "; remove them with --delete"
        }
    );
}

pub fn keygen(out: &Path, public: &str) {
    eprintln!(
        "private key written to {} (mode 0600): set signing.private_key_file to it",
        out.display()
    );
    eprintln!("public key (for signing.trusted_keys):");
    println!("{public}");
}

pub fn signed(bundle: &Path, public: &str) {
    eprintln!(
        "signed {} (manifest.sig) with the key whose public half is {public}",
        bundle.display()
    );
}

/// An intact audit log: what a later `audit verify` compares against (stdout), and why.
pub fn audit_verified(path: &Path, v: &creditrisk_serve::audit::Verified) {
    eprintln!(
        "{}: hash chain intact: every line complete, seq consecutive, each line linked to the \
         one before and matching its sha256",
        path.display()
    );
    println!("lines: {}", v.lines);
    println!("last seq: {}", v.last_seq);
    println!("last sha256: {}", v.last_sha256);
    eprintln!(
        "A removed tail (the last lines deleted) leaves a valid chain: it shows only against a \
         last seq and sha256 recorded earlier; keep these two outside the server and compare."
    );
}
