//! The model card as a self-contained HTML page (inline CSS and SVG, no network) and as
//! Markdown (for a repository or a wiki). Both carry every section, in the same order.

use std::fmt::Write;

use super::document::ModelCardDoc;
use crate::evaluate::report_html::{CSS, attributes_html, escape, periods_html, strip_xml_header};
use creditrisk_model::metrics::Metrics;

/// Section titles, in order; a test checks each is present in both renderings.
pub const SECTIONS: [&str; 12] = [
    "Purpose and intended use",
    "Training data",
    "Features",
    "Learner and hyperparameters",
    "Monotone constraints",
    "Calibration",
    "Performance on test",
    "Segment analysis",
    "Stability",
    "Limitations",
    "Gates passed",
    "Registry history",
];

/// The card's tables are mostly text: left-aligned, long digests wrapped.
const CARD_CSS: &str = "td,th{text-align:left;overflow-wrap:anywhere}";

fn opt(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.4}"))
}

/// Headline metrics as (label, value) rows, formatted once for both renderings.
fn metric_rows(m: &Metrics) -> Vec<(&'static str, String)> {
    vec![
        ("Rows", m.rows.to_string()),
        ("Default rate", format!("{:.4}", m.default_rate)),
        ("Mean PD", format!("{:.4}", m.mean_pd)),
        ("ROC AUC", format!("{:.4}", m.roc_auc)),
        ("Gini", format!("{:.4}", m.gini)),
        ("KS", format!("{:.4}", m.ks)),
        ("Brier score", format!("{:.5}", m.brier)),
        ("Log loss", format!("{:.5}", m.log_loss)),
        ("Expected calibration error", format!("{:.5}", m.ece)),
        ("Decision threshold", format!("{}", m.decision_threshold)),
        ("Approval rate", format!("{:.4}", m.approval_rate)),
        ("Precision", format!("{:.4}", m.precision)),
        ("Recall", format!("{:.4}", m.recall)),
        ("F1", format!("{:.4}", m.f1)),
    ]
}

fn title(d: &ModelCardDoc) -> String {
    match d.identity.version {
        Some(v) => format!("Model card — {} version {v}", d.identity.name),
        None => format!("Model card — {}", d.identity.name),
    }
}

fn table_html(h: &mut String, head: &[&str], rows: &[Vec<String>]) {
    h.push_str("<table><tr>");
    for c in head {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{}</td>", escape(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

/// The tables of the card, shared by both renderings.
/// One titled table of the card: (section, header, rows).
type Table = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

fn tables(d: &ModelCardDoc) -> Vec<Table> {
    let id = &d.identity;
    let identity = vec![
        vec!["Reference".into(), id.reference.clone()],
        vec![
            "Version".into(),
            id.version
                .map_or("(bundle folder)".into(), |v| v.to_string()),
        ],
        vec!["Stage".into(), id.stage.clone().unwrap_or("–".into())],
        vec!["Aliases".into(), id.aliases.join(", ")],
        vec!["Bundle".into(), id.bundle_run_id.clone()],
        vec!["Bundle sha256".into(), id.bundle_sha256.clone()],
        vec![
            "Tracking run".into(),
            id.tracking_run_id.clone().unwrap_or("–".into()),
        ],
        vec!["Trained at".into(), id.trained_at.clone()],
        vec!["Git commit".into(), id.git_commit.clone()],
        vec!["Config hash".into(), id.config_hash.clone()],
    ];
    let t = &d.training_data;
    let mut data: Vec<Vec<String>> = t
        .sources
        .iter()
        .map(|s| {
            vec![
                s.table.clone(),
                s.path.clone(),
                s.rows.to_string(),
                s.sha256.clone(),
            ]
        })
        .collect();
    for (path, sha) in &t.split_files {
        data.push(vec!["split".into(), path.clone(), "".into(), sha.clone()]);
    }
    let features = d
        .features
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                f.kind.clone(),
                f.definition.clone(),
                f.unit.clone(),
                f.statement.clone(),
            ]
        })
        .collect();
    let l = &d.learner;
    let mut learner = vec![
        vec!["Learner".into(), l.learner.clone()],
        vec![
            "Trees kept".into(),
            l.trees.map_or("–".into(), |t| t.to_string()),
        ],
        vec![
            "Decision threshold".into(),
            l.decision_threshold.to_string(),
        ],
        vec![
            "PD bands (upper bounds)".into(),
            format!("{:?}", l.pd_bands),
        ],
        vec![
            "Reason codes per decision".into(),
            l.reason_codes.to_string(),
        ],
    ];
    learner.extend(
        l.hyperparameters
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()]),
    );
    let monotone = l
        .monotone_constraints
        .iter()
        .map(|(f, s)| {
            let direction = if *s > 0 {
                "PD rises with it"
            } else {
                "PD falls with it"
            };
            vec![f.clone(), s.to_string(), direction.into()]
        })
        .collect();
    let calibration = vec![
        vec!["Method".into(), l.calibration.clone()],
        vec!["Rebalancing".into(), l.rebalance.to_string()],
    ];
    let m = &d.test_metrics;
    let performance = metric_rows(m)
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    let bands = m
        .pd_bands
        .iter()
        .map(|b| {
            vec![
                b.band.clone(),
                format!("[{:.2}, {:.2})", b.pd_from, b.pd_to),
                b.count.to_string(),
                opt(b.mean_pd),
                opt(b.observed_default_rate),
            ]
        })
        .collect();
    let s = &d.stability;
    let stability = vec![
        vec![
            format!("PSI of the PD, train vs test ({} bins)", s.psi_bins),
            format!("{:.4}", s.pd_psi_train_vs_test),
        ],
        vec!["Mean PD, train".into(), format!("{:.4}", s.train_mean_pd)],
        vec!["Mean PD, test".into(), format!("{:.4}", s.test_mean_pd)],
    ];
    let gates = d
        .gates
        .iter()
        .map(|g| {
            vec![
                g.gate.clone(),
                if g.passed { "passed" } else { "FAILED" }.into(),
                g.detail.clone(),
                g.checked_at.clone(),
            ]
        })
        .collect();
    let history = d
        .registry_history
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.event.clone(),
                e.by.clone(),
                e.note.clone(),
                e.status.clone(),
            ]
        })
        .collect();
    vec![
        ("Model", vec!["", ""], identity),
        (
            "Training data",
            vec!["table", "file", "rows", "sha256"],
            data,
        ),
        (
            "Features",
            vec![
                "feature",
                "kind",
                "definition",
                "unit",
                "adverse-action statement",
            ],
            features,
        ),
        (
            "Learner and hyperparameters",
            vec!["setting", "value"],
            learner,
        ),
        (
            "Monotone constraints",
            vec!["feature", "sign", "meaning"],
            monotone,
        ),
        ("Calibration", vec!["", ""], calibration),
        ("Performance on test", vec!["metric", "value"], performance),
        (
            "PD bands",
            vec![
                "band",
                "PD range",
                "count",
                "mean PD",
                "observed default rate",
            ],
            bands,
        ),
        ("Stability", vec!["figure", "value"], stability),
        (
            "Gates passed",
            vec!["gate", "outcome", "detail", "checked at"],
            gates,
        ),
        (
            "Registry history",
            vec!["at", "event", "by", "why", "status"],
            history,
        ),
    ]
}

fn section<'a>(all: &'a [Table], name: &str) -> &'a Table {
    // Every name looked up is one `tables` builds.
    all.iter().find(|t| t.0 == name).unwrap_or(&all[0])
}

/// The HTML document; `plots` are (title, SVG text) of the test evaluation.
pub fn html(d: &ModelCardDoc, plots: &[(&str, String)]) -> String {
    let all = tables(d);
    let mut h = String::new();
    let title = title(d);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{CSS}{CARD_CSS}</style></head><body><h1>{t}</h1><p class=\"note\">Generated {} by \
         creditrisk from the model's own artifacts.</p>",
        escape(&d.generated_at),
        t = escape(&title)
    );
    let t = section(&all, "Model");
    table_html(&mut h, &[], &t.2);
    h.push_str("<h2>Purpose and intended use</h2>");
    for p in &d.purpose {
        let _ = write!(h, "<p>{}</p>", escape(p));
    }
    let td = &d.training_data;
    let _ = write!(
        h,
        "<h2>Training data</h2><p>{} training rows, default rate {:.4}; {} rows fitted, {} held \
         out for early stopping and calibration. Period: {}.</p>",
        td.train_rows,
        td.train_default_rate,
        td.rows_fit,
        td.rows_validation,
        escape(&td.period)
    );
    let t = section(&all, "Training data");
    table_html(&mut h, &t.1, &t.2);
    for name in [
        "Features",
        "Learner and hyperparameters",
        "Monotone constraints",
        "Calibration",
        "Performance on test",
    ] {
        let t = section(&all, name);
        let _ = write!(h, "<h2>{name}</h2>");
        if name == "Performance on test" {
            let _ = write!(
                h,
                "<p class=\"note\">Metrics file <code>{}</code>: {}.</p>",
                escape(&d.metrics_file),
                match d.metrics_file_matches {
                    Some(true) => "equal to these figures",
                    Some(false) =>
                        "written by another bundle or evaluation; these figures are this bundle's",
                    None => "absent; these figures are this bundle's",
                }
            );
        }
        table_html(&mut h, &t.1, &t.2);
    }
    let t = section(&all, "PD bands");
    h.push_str("<h3>PD bands</h3>");
    table_html(&mut h, &t.1, &t.2);
    h.push_str("<h3>Plots</h3><div class=\"plots\">");
    for (name, svg) in plots {
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            escape(name),
            strip_xml_header(svg)
        );
    }
    h.push_str("</div><h2>Segment analysis</h2>");
    h.push_str(&attributes_html(&d.segments));
    h.push_str("<h2>Stability</h2>");
    let t = section(&all, "Stability");
    table_html(&mut h, &t.1, &t.2);
    if let Some(st) = &d.segments.stability {
        let _ = write!(h, "<h3>By {}</h3>", escape(&st.column));
        h.push_str(&periods_html(st));
    }
    h.push_str("<h2>Limitations</h2><ul>");
    for l in &d.limitations {
        let _ = write!(h, "<li>{}</li>", escape(l));
    }
    h.push_str("</ul>");
    for name in ["Gates passed", "Registry history"] {
        let t = section(&all, name);
        let _ = write!(h, "<h2>{name}</h2>");
        if t.2.is_empty() {
            h.push_str("<p>None recorded.</p>");
        } else {
            table_html(&mut h, &t.1, &t.2);
        }
    }
    h.push_str("</body></html>\n");
    h
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn table_md(m: &mut String, head: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        m.push_str("None recorded.\n\n");
        return;
    }
    let head: Vec<String> = head
        .iter()
        .map(|c| if c.is_empty() { " ".into() } else { md_cell(c) })
        .collect();
    let _ = writeln!(m, "| {} |", head.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(head.len()));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(m, "| {} |", cells.join(" | "));
    }
    m.push('\n');
}

/// The Markdown document (plots are referenced by file name beside it).
pub fn markdown(d: &ModelCardDoc, plot_dir: &str) -> String {
    let all = tables(d);
    let mut m = String::new();
    let _ = writeln!(
        m,
        "# {}\n\nGenerated {} by creditrisk from the model's own artifacts.\n",
        title(d),
        d.generated_at
    );
    let t = section(&all, "Model");
    table_md(&mut m, &["", ""], &t.2);
    m.push_str("## Purpose and intended use\n\n");
    for p in &d.purpose {
        let _ = writeln!(m, "{p}\n");
    }
    let td = &d.training_data;
    let _ = writeln!(
        m,
        "## Training data\n\n{} training rows, default rate {:.4}; {} rows fitted, {} held out \
         for early stopping and calibration. Period: {}.\n",
        td.train_rows, td.train_default_rate, td.rows_fit, td.rows_validation, td.period
    );
    let t = section(&all, "Training data");
    table_md(&mut m, &t.1, &t.2);
    for name in [
        "Features",
        "Learner and hyperparameters",
        "Monotone constraints",
        "Calibration",
        "Performance on test",
    ] {
        let t = section(&all, name);
        let _ = writeln!(m, "## {name}\n");
        table_md(&mut m, &t.1, &t.2);
    }
    let t = section(&all, "PD bands");
    m.push_str("### PD bands\n\n");
    table_md(&mut m, &t.1, &t.2);
    for stem in ["roc", "calibration", "score_distribution"] {
        let _ = writeln!(m, "![{stem}]({plot_dir}/{stem}.png)\n");
    }
    let s = &d.segments;
    let _ = writeln!(
        m,
        "## Segment analysis\n\nApproval at PD < {}; adverse-impact ratio = approval rate / the \
         most-approved segment's, flagged below {} (segments under {} rows are not judged).\n",
        s.decision_threshold, s.adverse_impact_ratio, s.min_segment_rows
    );
    for a in &s.attributes {
        let _ = writeln!(m, "### {} (`{}`)\n", a.name, a.column);
        let rows: Vec<Vec<String>> = a
            .segments
            .iter()
            .map(|r| {
                vec![
                    r.value.clone(),
                    r.rows.to_string(),
                    format!("{:.4}", r.default_rate),
                    format!("{:.4}", r.mean_pd),
                    opt(r.roc_auc),
                    format!("{:.4}", r.ece),
                    format!("{:.4}", r.approval_rate),
                    opt(r.adverse_impact_ratio),
                    if r.flagged { "below ratio" } else { "" }.into(),
                ]
            })
            .collect();
        table_md(
            &mut m,
            &[
                "segment",
                "rows",
                "default rate",
                "mean PD",
                "AUC",
                "ECE",
                "approval rate",
                "adverse-impact ratio",
                "flag",
            ],
            &rows,
        );
    }
    m.push_str("## Stability\n\n");
    let t = section(&all, "Stability");
    table_md(&mut m, &t.1, &t.2);
    if let Some(st) = &s.stability {
        let _ = writeln!(m, "### By {} ({})\n", st.column, st.source);
        let rows: Vec<Vec<String>> = st
            .periods
            .iter()
            .map(|p| {
                vec![
                    p.period.clone(),
                    p.rows.to_string(),
                    format!("{:.4}", p.default_rate),
                    format!("{:.4}", p.mean_pd),
                    opt(p.roc_auc),
                ]
            })
            .collect();
        table_md(
            &mut m,
            &["period", "rows", "default rate", "mean PD", "AUC"],
            &rows,
        );
    }
    m.push_str("## Limitations\n\n");
    for l in &d.limitations {
        let _ = writeln!(m, "- {l}");
    }
    m.push('\n');
    for name in ["Gates passed", "Registry history"] {
        let t = section(&all, name);
        let _ = writeln!(m, "## {name}\n");
        table_md(&mut m, &t.1, &t.2);
    }
    m
}
