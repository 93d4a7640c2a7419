//! The self-contained HTML drift report: inline CSS and inline SVG (the evaluate stage's plot
//! machinery and font), no network access. Summary first, then one table row and one
//! distribution plot per feature, drifted features first.

use std::fmt::Write;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::drift::{ColumnDrift, ColumnPair, Values};
use super::report::DriftReport;
use crate::evaluate::plots::{self, Plot};
use creditrisk_base::error::Result;

const PLOT_SIZE: (u32, u32) = (560, 300);
/// Equal-width bins of a numeric distribution plot.
const NUMERIC_BINS: usize = 30;
/// Most frequent categories drawn; the rest are summed into "(other)".
const TOP_CATEGORIES: usize = 12;
const REFERENCE_COLOR: RGBColor = RGBColor(31, 119, 180);
const CURRENT_COLOR: RGBColor = RGBColor(255, 127, 14);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;\
max-width:1240px;color:#222}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .7rem;border-bottom:1px solid #eee;text-align:right}\
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}.meta td{text-align:left}\
.drift{color:#b00020;font-weight:600}.plots{display:flex;flex-wrap:wrap;gap:1rem}.plots figure{margin:0}\
.note{color:#666;font-size:.9rem}";

/// Share of each side's values per bin, with the bins' labels (numeric: lower edges).
struct Distribution {
    title: String,
    labels: Vec<String>,
    reference: Vec<f64>,
    current: Vec<f64>,
}

impl Distribution {
    fn of(pair: &ColumnPair) -> Distribution {
        let verdict = if pair.drift.drifted {
            "drifted"
        } else {
            "stable"
        };
        let title = format!("{} ({verdict})", pair.drift.column);
        match (&pair.reference, &pair.current) {
            (Values::Numeric(r), Values::Numeric(c)) => numeric(title, r, c),
            (Values::Categorical(r), Values::Categorical(c)) => categorical(title, r, c),
            _ => Distribution {
                title,
                labels: vec![],
                reference: vec![],
                current: vec![],
            },
        }
    }
}

fn numeric(title: String, r: &[f64], c: &[f64]) -> Distribution {
    let (lo, hi) = r
        .iter()
        .chain(c)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let width = if hi > lo {
        (hi - lo) / NUMERIC_BINS as f64
    } else {
        1.0
    };
    let share = |values: &[f64]| {
        let mut bins = vec![0.0; NUMERIC_BINS];
        for v in values {
            let b = (((v - lo) / width) as usize).min(NUMERIC_BINS - 1);
            bins[b] += 1.0 / values.len() as f64;
        }
        bins
    };
    Distribution {
        title,
        labels: (0..NUMERIC_BINS)
            .map(|i| format!("{:.3}", lo + i as f64 * width))
            .collect(),
        reference: share(r),
        current: share(c),
    }
}

fn categorical(title: String, r: &[String], c: &[String]) -> Distribution {
    let counts = super::stats::CategoryCounts::of(
        r.iter().map(String::as_str),
        c.iter().map(String::as_str),
    );
    let mut order: Vec<usize> = (0..counts.categories.len()).collect();
    order.sort_by(|a, b| {
        let total = |i: usize| counts.reference[i] + counts.current[i];
        total(*b).total_cmp(&total(*a))
    });
    let (nr, nc) = (r.len() as f64, c.len() as f64);
    let mut d = Distribution {
        title,
        labels: vec![],
        reference: vec![],
        current: vec![],
    };
    for (rank, i) in order.iter().enumerate() {
        if rank < TOP_CATEGORIES {
            d.labels.push(counts.categories[*i].clone());
            d.reference.push(counts.reference[*i] / nr);
            d.current.push(counts.current[*i] / nc);
        } else if rank == TOP_CATEGORIES {
            d.labels.push("(other)".into());
            d.reference.push(counts.reference[*i] / nr);
            d.current.push(counts.current[*i] / nc);
        } else {
            let last = d.labels.len() - 1;
            d.reference[last] += counts.reference[*i] / nr;
            d.current[last] += counts.current[*i] / nc;
        }
    }
    d
}

impl Plot for Distribution {
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        let bins = self.labels.len().max(1);
        let top = self
            .reference
            .iter()
            .chain(&self.current)
            .fold(0.01f64, |m, v| m.max(*v))
            * 1.1;
        let labels = self.labels.clone();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, plots::style(16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..bins as f64, 0f64..top)?;
        chart
            .configure_mesh()
            .x_labels(bins.min(8))
            .x_label_formatter(&|x| {
                labels
                    .get(x.floor().max(0.0) as usize)
                    .map(|l| l.chars().take(14).collect())
                    .unwrap_or_default()
            })
            .y_desc("share of rows")
            .label_style(plots::style(11))
            .axis_desc_style(plots::style(12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        let series = [
            (&self.reference, REFERENCE_COLOR, "reference", 0.0),
            (&self.current, CURRENT_COLOR, "current", 0.5),
        ];
        for (values, color, label, offset) in series {
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x = i as f64 + 0.05 + offset * 0.9;
                    Rectangle::new([(x, 0.0), (x + 0.45, *v)], color.mix(0.8).filled())
                }))?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .label_font(plots::style(12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

fn optional(v: Option<f64>) -> String {
    v.map_or_else(|| "∞ / –".to_string(), |v| format!("{v:.4}"))
}

fn column_row(h: &mut String, c: &ColumnDrift) {
    let class = if c.drifted { " class=\"drift\"" } else { "" };
    let _ = write!(
        h,
        "<tr><td{class}>{}</td><td>{:?}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td{class}>{}</td><td>{:.4}</td><td>{:.1} % / {:.1} %</td></tr>",
        escape(&c.column),
        c.kind,
        c.test,
        optional(c.statistic),
        c.p_value.map_or("–".into(), |p| format!("{p:.4}")),
        c.threshold,
        if c.drifted { "yes" } else { "no" },
        c.psi,
        100.0 * c.reference_null_share,
        100.0 * c.current_null_share,
    );
}

/// Render the report; `pairs` are the tested features in report order (drifted first), with the
/// PD (and the label) after them.
pub fn render(report: &DriftReport, pairs: &[&ColumnPair]) -> Result<String> {
    let mut h = String::new();
    let title = format!("creditrisk {} report", report.kind);
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{CSS}</style></head><body><h1>{}</h1><table class=\"meta\">",
        escape(&title),
        escape(&title)
    );
    let s = &report.summary;
    let model = format!(
        "{} version {} ({})",
        report.model.name,
        report
            .model
            .version
            .map_or("(bundle folder)".into(), |v| v.to_string()),
        report.model.reference
    );
    for (k, v) in [
        ("Reference", report.reference.describe()),
        ("Current", report.current.describe()),
        ("Model", model),
        ("Bundle sha256", report.model.bundle_sha256.clone()),
        ("Generated", report.generated_at.clone()),
    ] {
        let _ = write!(
            h,
            "<tr><td>{k}</td><td><code>{}</code></td></tr>",
            escape(&v)
        );
    }
    let verdict = if s.dataset_drift {
        "<span class=\"drift\">dataset drift</span>"
    } else {
        "no dataset drift"
    };
    let _ = write!(
        h,
        "</table><h2>Summary</h2><p>{verdict}: {} of {} features drifted ({:.1} %; dataset drift \
         at ≥ {:.1} %). Prediction PSI {:.4} ({}). Target drift: {}.</p>",
        s.drifted,
        s.features,
        100.0 * s.drifted_share,
        100.0 * s.drift_share,
        s.prediction_psi,
        if s.prediction_drift {
            "drifted"
        } else {
            "stable"
        },
        match s.target_drift {
            None => "no labels on both sides",
            Some(true) => "drifted",
            Some(false) => "stable",
        }
    );
    h.push_str(
        "<p class=\"note\">Evidently's data drift rules: NULLs left out; reference columns of at \
         most <code>monitoring.large_sample_rows</code> values get KS (numeric) or chi-squared \
         (categorical; z-test with two values) p-values, drifted at p ≤ threshold; larger ones \
         Wasserstein distance / reference std or Jensen-Shannon distance, drifted at ≥ \
         threshold. Numeric columns with at most five distinct values are tested as \
         categorical. PSI on quantile bins of the reference is shown beside every test.</p>",
    );
    h.push_str(
        "<h2>Columns</h2><table><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th>\
         <th>p-value</th><th>threshold</th><th>drifted</th><th>PSI</th>\
         <th>NULL ref / cur</th></tr>",
    );
    for c in report.features.iter().chain([&report.prediction]) {
        column_row(&mut h, c);
    }
    if let Some(t) = &report.target {
        column_row(&mut h, t);
    }
    h.push_str("</table><h2>Distributions</h2><div class=\"plots\">");
    for pair in pairs {
        let svg = plots::svg(&Distribution::of(pair), PLOT_SIZE, &pair.drift.column)?;
        let svg = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = write!(h, "<figure>{svg}</figure>");
    }
    h.push_str("</div></body></html>\n");
    Ok(h)
}
