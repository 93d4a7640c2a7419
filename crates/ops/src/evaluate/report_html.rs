//! One self-contained HTML report per split: inline CSS, inline SVG plots, no network access.

use std::fmt::Write;

use super::DrawnPlot;
use super::segments::{SegmentsReport, Stability};
use creditrisk_model::metrics::Metrics;

/// What the report is about, besides the metrics.
pub struct ReportContext<'a> {
    pub split: &'a str,
    pub model_name: &'a str,
    pub run_id: &'a str,
    pub learner: &'a str,
    pub calibration: &'a str,
    pub data_file: &'a str,
    pub bundle_sha256: &'a str,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub const CSS: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;\
max-width:1340px;color:#222}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.3rem .8rem;border-bottom:1px solid #eee;text-align:right}\
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}.meta td{text-align:left}\
.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots figure{margin:0}.note{color:#666;font-size:.9rem}\
.flag{color:#b00020;font-weight:bold}";

/// Render the report with its plots inlined.
pub fn render(
    ctx: &ReportContext,
    m: &Metrics,
    segments: &SegmentsReport,
    plots: &[DrawnPlot],
) -> String {
    let mut h = String::new();
    let title = format!("creditrisk evaluation — {} split", ctx.split);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>",
        escape(&title)
    );
    let _ = write!(h, "<h1>{}</h1><table class=\"meta\">", escape(&title));
    for (k, v) in [
        ("Model", ctx.model_name),
        ("Run", ctx.run_id),
        ("Learner", ctx.learner),
        ("Calibration", ctx.calibration),
        ("Data", ctx.data_file),
        ("Bundle sha256", ctx.bundle_sha256),
    ] {
        let _ = write!(
            h,
            "<tr><td>{k}</td><td><code>{}</code></td></tr>",
            escape(v)
        );
    }
    h.push_str("</table><h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>");
    let rows: [(&str, String); 15] = [
        ("Rows", m.rows.to_string()),
        (
            "Defaults",
            format!("{} ({:.2} %)", m.defaults, 100.0 * m.default_rate),
        ),
        ("Mean PD", format!("{:.4}", m.mean_pd)),
        ("ROC AUC", format!("{:.4}", m.roc_auc)),
        ("Gini (2·AUC − 1)", format!("{:.4}", m.gini)),
        ("KS", format!("{:.4}", m.ks)),
        ("Brier score", format!("{:.5}", m.brier)),
        (
            "Brier of the base rate",
            format!("{:.5}", m.brier_base_rate),
        ),
        ("Log loss", format!("{:.5}", m.log_loss)),
        ("Expected calibration error", format!("{:.5}", m.ece)),
        (
            "Decision threshold (decline at PD ≥)",
            format!("{}", m.decision_threshold),
        ),
        ("Accuracy", format!("{:.4}", m.accuracy)),
        (
            "Precision (defaults among declines)",
            format!("{:.4}", m.precision),
        ),
        ("Recall (defaults declined)", format!("{:.4}", m.recall)),
        ("F1", format!("{:.4}", m.f1)),
    ];
    for (k, v) in rows {
        let _ = write!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    }
    let _ = write!(
        h,
        "<tr><td>Approval rate</td><td>{:.4}</td></tr></table><p class=\"note\">ECE uses {} \
         equal-width PD bins: Σ (bin share) × |mean PD − observed default rate|. A default is the \
         positive class.</p>",
        m.approval_rate, m.ece_bins
    );
    h.push_str(
        "<h2>PD bands</h2><table><tr><th>band</th><th>PD range</th><th>count</th><th>share</th>\
         <th>mean PD</th><th>observed default rate</th></tr>",
    );
    for b in &m.pd_bands {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>[{:.2}, {:.2})</td><td>{}</td><td>{:.2} %</td><td>{}</td><td>{}</td></tr>",
            b.band,
            b.pd_from,
            b.pd_to,
            b.count,
            100.0 * b.share,
            opt(b.mean_pd),
            opt(b.observed_default_rate)
        );
    }
    h.push_str("</table>");
    h.push_str(&segments_html(segments));
    h.push_str("<h2>Plots</h2><div class=\"plots\">");
    for plot in plots {
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            escape(plot.title),
            strip_xml_header(&plot.svg)
        );
    }
    h.push_str("</div></body></html>\n");
    h
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.4}"))
}

/// The segment tables and the period table under their headings (the evaluation report).
fn segments_html(r: &SegmentsReport) -> String {
    let mut h = String::from("<h2>Segments and adverse impact</h2>");
    h.push_str(&attributes_html(r));
    if let Some(st) = &r.stability {
        let _ = write!(h, "<h2>Stability by {}</h2>", escape(&st.column));
        h.push_str(&periods_html(st));
    }
    h
}

/// One table per analysed attribute, flagged adverse-impact ratios marked.
fn attributes_html(r: &SegmentsReport) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<p class=\"note\">Per segment on the {} split: approval at PD &lt; {}; the \
         adverse-impact ratio is the approval rate over the most-approved segment's, flagged \
         below {} (segments under {} rows are not judged). Protected attributes are analysed \
         here although the model does not use them.</p>",
        r.split.name(),
        r.decision_threshold,
        r.adverse_impact_ratio,
        r.min_segment_rows
    );
    for a in &r.attributes {
        let _ = write!(
            h,
            "<h3>{} (<code>{}</code>)</h3><table><tr><th>segment</th><th>rows</th>\
             <th>default rate</th><th>mean PD</th><th>AUC</th><th>ECE</th><th>approval rate</th>\
             <th>adverse-impact ratio</th><th>flag</th></tr>",
            escape(&a.name),
            escape(&a.column)
        );
        for s in &a.segments {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{:.4}</td>\
                 <td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.value),
                s.rows,
                s.default_rate,
                s.mean_pd,
                opt(s.roc_auc),
                s.ece,
                s.approval_rate,
                opt(s.adverse_impact_ratio),
                if s.flagged {
                    "<span class=\"flag\">below ratio</span>"
                } else {
                    ""
                }
            );
        }
        h.push_str("</table>");
    }
    h
}

/// AUC, default rate and mean PD per period.
fn periods_html(st: &Stability) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<p class=\"note\">Periods of <code>{}</code> from {}.</p><table><tr><th>period</th>\
         <th>rows</th><th>default rate</th><th>mean PD</th><th>AUC</th></tr>",
        escape(&st.column),
        escape(&st.source)
    );
    for p in &st.periods {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(&p.period),
            p.rows,
            p.default_rate,
            p.mean_pd,
            opt(p.roc_auc)
        );
    }
    h.push_str("</table>");
    h
}

/// Inline SVG must not carry an XML declaration.
pub fn strip_xml_header(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}
