//! Model governance (issue 13): segment and adverse-impact analysis, stability by period,
//! adverse-action statements checked at training, and the model card rendered in a real browser.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use creditrisk_base::catalog::RawTable;
use creditrisk_base::config::SegmentConfig;
use creditrisk_base::parquet_io;
use creditrisk_base::{Config, Layout, Split};
use creditrisk_mlflow::ModelRef;
use creditrisk_mlflow::TrackingOptions;
use creditrisk_model::metrics::Metrics;
use creditrisk_model::metrics::segments::{SegmentRule, segment_table};
use creditrisk_ops::evaluate::EvaluateOptions;
use creditrisk_ops::evaluate::segments::SegmentsReport;
use creditrisk_ops::model_card::document::ModelCardDoc;
use creditrisk_ops::model_card::{self, ModelCardOptions, render};
use creditrisk_ops::registry::{self, Promotion, Target};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use rand::{Rng, SeedableRng};

use crate::support;

/// A trained synthetic project with its test split evaluated (default governance settings).
struct Project {
    cfg: Config,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let (_root, cfg, _model_dir) = support::trained_project(2500, 29);
        support::evaluate(&cfg, Split::Test).unwrap();
        Project { cfg }
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Segment A approves ~60 %; segment B the same (balanced) or ~40 % (skewed: its PDs are
/// shifted up), with labels drawn from the PD.
fn synthetic(skewed: bool) -> (Vec<String>, Vec<f64>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut labels, mut y, mut pd) = (vec![], vec![], vec![]);
    for i in 0..4000 {
        let b = i % 2 == 1;
        let shift = if b && skewed { 0.05 } else { 0.0 };
        let p: f64 = shift + rng.random_range(0.0..0.25);
        labels.push(if b { "B" } else { "A" }.to_string());
        y.push(if rng.random_bool(p) { 1.0 } else { 0.0 });
        pd.push(p);
    }
    (labels, y, pd)
}

#[test]
fn a_skewed_approval_rate_is_flagged_and_a_balanced_one_is_not() {
    let rule = SegmentRule {
        threshold: 0.15,
        min_ratio: 0.8,
        min_rows: 30,
    };
    let (labels, y, pd) = synthetic(false);
    let balanced = segment_table("group", "GROUP", &labels, &y, &pd, rule);
    assert!(balanced.flagged.is_empty(), "{balanced:?}");
    let (labels, y, pd) = synthetic(true);
    let skewed = segment_table("group", "GROUP", &labels, &y, &pd, rule);
    assert_eq!(skewed.flagged, ["B"], "{skewed:?}");
    let b = &skewed.segments[1];
    // B approves ~(0.15 − 0.05)/0.25 = 40 % against A's 60 %: ratio ~2/3.
    assert!(
        (b.adverse_impact_ratio.unwrap() - 2.0 / 3.0).abs() < 0.08,
        "{b:?}"
    );
}

#[test]
fn evaluate_writes_segments_equal_to_a_recount_of_the_predictions() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let report: SegmentsReport =
        serde_json::from_slice(&std::fs::read(layout.segments_file(Split::Test)).unwrap()).unwrap();
    let names: Vec<&str> = report.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "age_band",
            "gender",
            "income_type",
            "contract_type",
            "has_bureau_history"
        ]
    );
    // Gender is not in the store: it comes from the raw application file by SK_ID_CURR.
    let mut reader = csv::Reader::from_path(layout.raw_file(RawTable::ApplicationTrain)).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id_at, gender_at) = (at("SK_ID_CURR"), at("CODE_GENDER"));
    let gender: HashMap<i64, String> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[id_at].parse().unwrap(), r[gender_at].to_string())
        })
        .collect();
    let predictions = parquet_io::read_parquet(&layout.predictions_file(Split::Test), "").unwrap();
    let ids = predictions
        .column_by_name("SK_ID_CURR")
        .unwrap()
        .as_primitive::<Int64Type>();
    let y = predictions
        .column_by_name("y_true")
        .unwrap()
        .as_primitive::<Int64Type>();
    let pd = predictions
        .column_by_name("PD")
        .unwrap()
        .as_primitive::<Float64Type>();
    let decision = predictions
        .column_by_name("decision")
        .unwrap()
        .as_string::<i32>();
    // (rows, defaults, approved, PD sum) per gender.
    let mut tally: HashMap<&str, (usize, f64, f64, f64)> = HashMap::new();
    for i in 0..ids.len() {
        let t = tally.entry(gender[&ids.value(i)].as_str()).or_default();
        t.0 += 1;
        t.1 += y.value(i) as f64;
        t.2 += f64::from(u8::from(decision.value(i) == "approve"));
        t.3 += pd.value(i);
    }
    let g = &report.attributes[1];
    assert_eq!(g.segments.len(), tally.len());
    let best = g
        .segments
        .iter()
        .filter(|s| s.rows >= report.min_segment_rows)
        .map(|s| s.approval_rate)
        .fold(0.0, f64::max);
    for s in &g.segments {
        let (n, d, a, sum) = tally[s.value.as_str()];
        assert_eq!(s.rows, n, "{}", s.value);
        assert!(close(s.default_rate, d / n as f64), "{}", s.value);
        assert!(close(s.approval_rate, a / n as f64), "{}", s.value);
        assert!((s.mean_pd - sum / n as f64).abs() < 1e-12, "{}", s.value);
        assert!(close(
            s.adverse_impact_ratio.unwrap(),
            s.approval_rate / best
        ));
        assert_eq!(
            s.flagged,
            n >= report.min_segment_rows && s.approval_rate / best < report.adverse_impact_ratio
        );
    }
    let html = std::fs::read_to_string(layout.evaluation_report(Split::Test)).unwrap();
    assert!(html.contains("Segments and adverse impact") && html.contains("CODE_GENDER"));
}

/// Evaluate into a reports folder of its own, so the default reports other tests read stay put.
fn evaluate_with(cfg: &Config, opts: EvaluateOptions) -> creditrisk_base::Result<SegmentsReport> {
    let mut cfg = cfg.clone();
    cfg.paths.reports_dir = cfg.root.join("reports-custom");
    let layout = Layout::new(&cfg);
    support::runtime()
        .block_on(creditrisk_ops::evaluate::run(&layout, &opts, Split::Test))
        .map(|s| s.segments)
}

#[test]
fn a_segment_the_model_disfavours_is_flagged_and_periods_cover_the_split() {
    let p = project();
    let mut opts = EvaluateOptions::from_config(&p.cfg);
    opts.tracking = None;
    // Low external scores mean high PDs: that segment is approved far less often.
    opts.governance.segments = vec![SegmentConfig {
        name: "external_score".into(),
        column: "EXT_SOURCE_MEAN".into(),
        bands: vec![0.35],
    }];
    opts.by = Some("vintage".into());
    let report = evaluate_with(&p.cfg, opts.clone()).unwrap();
    assert_eq!(report.flagged, ["external_score=<0.35"], "{report:?}");
    let st = report.stability.unwrap();
    assert_eq!(st.periods.len(), p.cfg.governance.vintages);
    let rows: usize = st.periods.iter().map(|r| r.rows).sum();
    assert_eq!(
        rows,
        report.attributes[0]
            .segments
            .iter()
            .map(|s| s.rows)
            .sum::<usize>()
    );
    assert!(st.periods.iter().all(|r| r.roc_auc.is_some()));

    // A period column the data does not have is named in the error.
    opts.by = Some("APPLICATION_MONTH".into());
    let err = evaluate_with(&p.cfg, opts.clone()).unwrap_err().to_string();
    assert!(
        err.contains("--by APPLICATION_MONTH") && err.contains("vintage"),
        "{err}"
    );
    // So is a segment column.
    opts.by = None;
    opts.governance.segments[0].column = "NO_SUCH_COLUMN".into();
    let err = evaluate_with(&p.cfg, opts).unwrap_err().to_string();
    assert!(
        err.contains("external_score") && err.contains("NO_SUCH_COLUMN"),
        "{err}"
    );
}

#[test]
fn training_refuses_features_without_a_reason_statement() {
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("statements.csv");
    std::fs::write(
        &table,
        "feature,statement,unit\nAMT_CREDIT,The credit amount raised the estimated risk,currency units\n",
    )
    .unwrap();
    let mut cfg = p.cfg.clone();
    cfg.governance.reason_statements = table.clone();
    let err = support::train(&cfg).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("statements.csv"), "{text}");
    assert!(text.contains("EXT_SOURCE_MEAN") && text.contains("NAME_INCOME_TYPE"));
    assert!(!text.contains("AMT_CREDIT,"), "{text}");
}

/// Run Chromium headless on `html` into a PNG, within a minute.
fn screenshot(html: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,3000")
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start /usr/bin/chromium");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_model_card_has_every_section_equals_the_metric_files_and_renders() {
    let p = project();
    let layout = Layout::new(&p.cfg);
    let tracking = TrackingOptions::from_config(&p.cfg);
    let name = tracking.registry.model_name.clone();
    let promotion = Promotion {
        version: 1,
        target: Target::Alias {
            alias: "champion".into(),
        },
        reviewer: Some("model-risk@lender".into()),
        note: Some("validated for the card".into()),
    };
    support::runtime()
        .block_on(registry::promote(&layout, &tracking, &promotion))
        .unwrap();
    let reference = ModelRef::Version { name, version: 1 };
    let s = support::runtime()
        .block_on(model_card::run(
            &layout,
            &ModelCardOptions::from_config(&p.cfg),
            &reference,
        ))
        .unwrap();
    let html = std::fs::read_to_string(&s.html).unwrap();
    let markdown = std::fs::read_to_string(&s.markdown).unwrap();
    for section in render::SECTIONS {
        assert!(
            html.contains(&format!(">{section}<")),
            "HTML lacks {section}"
        );
        assert!(
            markdown.contains(&format!("## {section}")),
            "Markdown lacks {section}"
        );
    }
    // Self-contained: nothing loaded from elsewhere (SVG namespaces are names, not requests).
    assert!(!html.contains("src=\"") && !html.contains("<link") && !html.contains("url("));
    let doc: ModelCardDoc = serde_json::from_slice(&std::fs::read(&s.json).unwrap()).unwrap();
    let metrics: Metrics =
        serde_json::from_slice(&std::fs::read(layout.metrics_file(Split::Test)).unwrap()).unwrap();
    assert_eq!(doc.test_metrics, metrics);
    assert_eq!(doc.metrics_file_matches, Some(true));
    let segments: SegmentsReport =
        serde_json::from_slice(&std::fs::read(layout.segments_file(Split::Test)).unwrap()).unwrap();
    assert_eq!(doc.segments.attributes, segments.attributes);
    assert!(html.contains(&format!("{:.4}", metrics.roc_auc)));
    assert!(markdown.contains(&format!("| ROC AUC | {:.4} |", metrics.roc_auc)));
    assert!(doc.features.iter().all(|f| !f.statement.is_empty()));
    assert!(doc.stability.pd_psi_train_vs_test.is_finite());
    assert!(doc.segments.stability.is_some());
    let promoted = doc
        .registry_history
        .iter()
        .find(|e| e.event.contains("alias champion"))
        .unwrap();
    assert_eq!(promoted.by, "model-risk@lender");
    assert_eq!(promoted.note, "validated for the card");
    assert!(s.logged_to_run.is_some());

    // A real browser renders it: a non-blank screenshot.
    if !Path::new("/usr/bin/chromium").exists() {
        assert!(
            std::env::var_os("CREDITRISK_SKIP_BROWSER").is_some(),
            "/usr/bin/chromium is missing: run scripts/debian-packages.sh (scripts/test.sh does), or \
             set CREDITRISK_SKIP_BROWSER=1 to skip the rendering check"
        );
        return;
    }
    let png: PathBuf = s.html.with_extension("png");
    screenshot(&s.html, &png);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank 1200×3000 page compresses to a few KB; a rendered card with tables and plots is
    // far larger.
    assert!(
        bytes.len() > 40_000,
        "screenshot looks blank: {} bytes",
        bytes.len()
    );
}
