//! Evaluation plots, each drawn once per backend: SVG (inlined into the HTML report) and PNG.
//! Text is rendered with the DejaVu Sans font shipped in `assets/` (registered with plotters'
//! ab_glyph backend), so plots work on machines without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use creditrisk_base::error::{Error, Result};
use creditrisk_model::metrics;

const SIZE: (u32, u32) = (640, 480);
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../../../assets/DejaVuSans.ttf");
/// Curves are thinned to about this many points: enough for the eye, small in the HTML.
const CURVE_POINTS: usize = 400;

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped with the crate; failure would only drop text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// A plot drawable on any plotters backend.
pub trait Plot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// Draw `plot` as SVG text of `size` pixels (for inlining into an HTML report).
pub fn svg<P: Plot>(plot: &P, size: (u32, u32), what: &str) -> Result<String> {
    register_font();
    let failed = |e: Box<dyn std::error::Error>| Error::model(format!("drawing {what}: {e}"));
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        plot.draw(&area).map_err(failed)?;
        area.present().map_err(|e| failed(Box::new(e)))?;
    }
    Ok(svg)
}

/// Draw `plot` to `<dir>/<stem>.png` and `<dir>/<stem>.svg` (both atomically); returns the SVG.
pub fn render<P: Plot>(plot: &P, dir: &Path, stem: &str) -> Result<String> {
    let failed = |e: Box<dyn std::error::Error>| Error::model(format!("drawing {stem}: {e}"));
    let svg = svg(plot, SIZE, stem)?;
    creditrisk_base::io::write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    // The bitmap backend picks the format from the extension, so the temp file ends in .png.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{stem}-"))
        .suffix(".png")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    {
        let area = BitMapBackend::new(tmp.path(), SIZE).into_drawing_area();
        plot.draw(&area).map_err(failed)?;
        area.present().map_err(|e| failed(Box::new(e)))?;
    }
    let png = dir.join(format!("{stem}.png"));
    // Temp files are created 0600; a report is meant to be shared.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(&png).map_err(|e| Error::io(&png, e.error))?;
    Ok(svg)
}

/// Keep about `n` points of a curve, always the first and the last.
fn thin(points: &[(f64, f64)], n: usize) -> Vec<(f64, f64)> {
    let step = (points.len() / n.max(1)).max(1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if let Some(last) = points.last().filter(|l| out.last() != Some(*l)) {
        out.push(*last);
    }
    out
}

/// Text in the shipped font at `size` pixels.
pub fn style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().into()
}

/// A unit-square chart with labelled axes.
macro_rules! unit_chart {
    ($area:expr, $caption:expr, $x:expr, $y:expr, $xr:expr, $yr:expr) => {{
        $area.fill(&WHITE)?;
        let mut chart = ChartBuilder::on($area)
            .caption($caption, style(20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d($xr, $yr)?;
        chart
            .configure_mesh()
            .x_desc($x)
            .y_desc($y)
            .label_style(style(13))
            .axis_desc_style(style(15))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        chart
    }};
}

pub struct RocPlot {
    pub points: Vec<(f64, f64)>,
    pub auc: f64,
}

impl Plot for RocPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let caption = format!("ROC curve (AUC {:.4})", self.auc);
        let mut chart = unit_chart!(
            area,
            caption,
            "False positive rate",
            "True positive rate",
            0f64..1f64,
            0f64..1f64
        );
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            6,
            4,
            RGBColor(150, 150, 150).into(),
        ))?;
        chart.draw_series(LineSeries::new(
            thin(&self.points, CURVE_POINTS),
            BLUE.stroke_width(2),
        ))?;
        Ok(())
    }
}

pub struct PrPlot {
    pub points: Vec<(f64, f64)>,
    pub base_rate: f64,
}

impl Plot for PrPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let caption = format!("Precision-recall (base rate {:.3})", self.base_rate);
        let mut chart = unit_chart!(area, caption, "Recall", "Precision", 0f64..1f64, 0f64..1f64);
        let base = vec![(0.0, self.base_rate), (1.0, self.base_rate)];
        chart.draw_series(DashedLineSeries::new(
            base,
            6,
            4,
            RGBColor(150, 150, 150).into(),
        ))?;
        chart.draw_series(LineSeries::new(
            thin(&self.points, CURVE_POINTS),
            BLUE.stroke_width(2),
        ))?;
        Ok(())
    }
}

/// Reliability diagram on equal-count bins (more informative than equal-width bins when
/// most PDs are small).
pub struct CalibrationPlot {
    /// (mean PD, observed default rate, count) per bin.
    pub bins: Vec<(f64, f64, usize)>,
}

impl CalibrationPlot {
    pub fn equal_count(y: &[f64], pd: &[f64], bins: usize) -> CalibrationPlot {
        let mut order: Vec<usize> = (0..pd.len()).collect();
        order.sort_by(|&a, &b| pd[a].total_cmp(&pd[b]));
        let per = order.len().div_ceil(bins.max(1)).max(1);
        let bins = order
            .chunks(per)
            .map(|c| {
                let n = c.len() as f64;
                (
                    c.iter().map(|&i| pd[i]).sum::<f64>() / n,
                    c.iter().map(|&i| y[i]).sum::<f64>() / n,
                    c.len(),
                )
            })
            .collect();
        CalibrationPlot { bins }
    }
}

impl Plot for CalibrationPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let top = self
            .bins
            .iter()
            .map(|b| b.0.max(b.1))
            .fold(0.05f64, f64::max)
            .min(1.0)
            * 1.1;
        let top = top.min(1.0);
        let caption = format!("Calibration ({} equal-count bins)", self.bins.len());
        let mut chart = unit_chart!(
            area,
            caption,
            "Mean predicted PD",
            "Observed default rate",
            0f64..top,
            0f64..top
        );
        chart.draw_series(DashedLineSeries::new(
            vec![(0.0, 0.0), (top, top)],
            6,
            4,
            RGBColor(150, 150, 150).into(),
        ))?;
        let pts: Vec<(f64, f64)> = self.bins.iter().map(|b| (b.0, b.1)).collect();
        chart.draw_series(LineSeries::new(pts.clone(), BLUE.stroke_width(2)))?;
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, BLUE.filled())))?;
        Ok(())
    }
}

pub struct ConfusionPlot {
    pub confusion: metrics::Confusion,
    pub threshold: f64,
}

impl Plot for ConfusionPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        let c = &self.confusion;
        let caption = format!("Confusion matrix at PD >= {}", self.threshold);
        let mut chart = ChartBuilder::on(area)
            .caption(caption, style(20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..2f64, 0f64..2f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .x_desc("Predicted: approve | decline")
            .y_desc("Actual: default | repaid")
            .axis_desc_style(style(15))
            .draw()?;
        // (x, y) cell → (label, count): x 0 approve / 1 decline, y 1 repaid (top) / 0 default.
        let cells = [
            (0.0, 1.0, "TN (repaid, approved)", c.true_negative),
            (1.0, 1.0, "FP (repaid, declined)", c.false_positive),
            (0.0, 0.0, "FN (default, approved)", c.false_negative),
            (1.0, 0.0, "TP (default, declined)", c.true_positive),
        ];
        let max = cells.iter().map(|c| c.3).max().unwrap_or(1).max(1) as f64;
        for (x, y, label, count) in cells {
            let shade = 255 - (180.0 * (count as f64 / max).sqrt()) as u8;
            let fill = RGBColor(shade, shade, 255);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                fill.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                BLACK.stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (x + 0.08, y + 0.62),
                style(14),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                count.to_string(),
                (x + 0.08, y + 0.42),
                style(22),
            )))?;
        }
        Ok(())
    }
}

/// PD histograms of defaults and non-defaults, each normalised to its class size.
pub struct ScoreDistributionPlot {
    pub edges: Vec<f64>,
    pub repaid: Vec<f64>,
    pub defaulted: Vec<f64>,
}

impl ScoreDistributionPlot {
    pub fn new(y: &[f64], pd: &[f64], bins: usize) -> ScoreDistributionPlot {
        let mut sorted = pd.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Up to the 99.5th percentile so a long tail does not squash the picture.
        let hi = sorted
            .get(((sorted.len() as f64 * 0.995) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or(1.0);
        let hi = if hi > 0.0 { hi } else { 1.0 };
        let width = hi / bins as f64;
        let edges: Vec<f64> = (0..=bins).map(|i| i as f64 * width).collect();
        let (mut repaid, mut defaulted) = (vec![0.0; bins], vec![0.0; bins]);
        let (n_def, n_rep) = (
            y.iter().filter(|v| **v == 1.0).count().max(1) as f64,
            y.iter().filter(|v| **v != 1.0).count().max(1) as f64,
        );
        for (t, p) in y.iter().zip(pd) {
            let b = ((p / width) as usize).min(bins - 1);
            if *t == 1.0 {
                defaulted[b] += 1.0 / n_def
            } else {
                repaid[b] += 1.0 / n_rep
            }
        }
        ScoreDistributionPlot {
            edges,
            repaid,
            defaulted,
        }
    }
}

impl Plot for ScoreDistributionPlot {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let hi = *self.edges.last().unwrap_or(&1.0);
        let top = self
            .repaid
            .iter()
            .chain(&self.defaulted)
            .fold(0.01f64, |m, v| m.max(*v))
            * 1.1;
        let mut chart = unit_chart!(
            area,
            "PD distribution by outcome",
            "Predicted PD",
            "Share of class",
            0f64..hi,
            0f64..top
        );
        let series = [
            (&self.repaid, RGBColor(31, 119, 180), "repaid"),
            (&self.defaulted, RGBColor(214, 39, 40), "defaulted"),
        ];
        for (values, color, label) in series {
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    Rectangle::new(
                        [(self.edges[i], 0.0), (self.edges[i + 1], *v)],
                        color.mix(0.45).filled(),
                    )
                }))?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .label_font(style(14))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}
