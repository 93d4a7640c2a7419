//! What the binary shows: progress bars on stderr and the closing summaries on stdout.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use creditrisk_base::progress::Reporter;
use creditrisk_data::features::{FeatureStoreSummary, TypedCopy};
use creditrisk_ops::monitor::DriftReport;
use creditrisk_ops::pipeline::{Outcome, RunSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
pub fn print_run(s: &RunSummary) {
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

pub fn print_feature_store(s: &FeatureStoreSummary) {
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

pub fn print_evaluation(s: &creditrisk_ops::evaluate::EvalSummary) {
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

pub fn print_drift(r: &DriftReport, json: &std::path::Path, html: &std::path::Path) {
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
