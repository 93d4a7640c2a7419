//! What the model card shows, in order: a title, a preamble and one titled section per
//! [`Section`], each a list of headings, paragraphs, tables, lists and figures. The HTML and the
//! Markdown renderings both walk this one value, so they carry the same sections, the same
//! figures and the same words.

use super::document::ModelCardDoc;
use crate::evaluate::DrawnPlot;
use crate::evaluate::segments::Stability as PeriodStability;
use creditrisk_model::metrics::Metrics;
use creditrisk_model::metrics::segments::SegmentAnalysis;

/// The card's sections, in order; each is one `##` / `<h2>` of both renderings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Purpose,
    TrainingData,
    Features,
    Learner,
    MonotoneConstraints,
    Calibration,
    Performance,
    Segments,
    Stability,
    Limitations,
    Gates,
    RegistryHistory,
}

impl Section {
    pub const ALL: [Section; 12] = [
        Section::Purpose,
        Section::TrainingData,
        Section::Features,
        Section::Learner,
        Section::MonotoneConstraints,
        Section::Calibration,
        Section::Performance,
        Section::Segments,
        Section::Stability,
        Section::Limitations,
        Section::Gates,
        Section::RegistryHistory,
    ];

    pub const fn title(self) -> &'static str {
        match self {
            Section::Purpose => "Purpose and intended use",
            Section::TrainingData => "Training data",
            Section::Features => "Features",
            Section::Learner => "Learner and hyperparameters",
            Section::MonotoneConstraints => "Monotone constraints",
            Section::Calibration => "Calibration",
            Section::Performance => "Performance on test",
            Section::Segments => "Segment analysis",
            Section::Stability => "Stability",
            Section::Limitations => "Limitations",
            Section::Gates => "Gates passed",
            Section::RegistryHistory => "Registry history",
        }
    }
}

/// A run of text with its inline markup.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Text(pub Vec<Span>);

#[derive(Clone, Debug, PartialEq)]
pub enum Span {
    Plain(String),
    /// A name to be read literally: a column, a file.
    Code(String),
    /// Something a reviewer must look at (a segment below the adverse-impact ratio).
    Flag(String),
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text(vec![Span::Plain(text)])
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text::from(text.to_string())
    }
}

/// A table; an empty `head` means the table has no header row (a key-value list).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<Text>>,
}

/// A plot: inlined as SVG in HTML, linked as `<stem>.png` from Markdown.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub caption: String,
    pub stem: String,
    pub svg: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A heading below the section's.
    Subheading(Text),
    Paragraph(Text),
    /// How to read what follows (set smaller in HTML).
    Note(Text),
    Table(Table),
    List(Vec<Text>),
    Figures(Vec<Figure>),
}

/// What a table without rows says instead, in both renderings.
pub const NONE_RECORDED: &str = "None recorded.";

impl Block {
    /// A table, or [`NONE_RECORDED`] when it has no rows: a bare header row tells a reader
    /// nothing.
    fn table(head: Vec<&'static str>, rows: Vec<Vec<Text>>) -> Block {
        if rows.is_empty() {
            Block::Paragraph(NONE_RECORDED.into())
        } else {
            Block::Table(Table { head, rows })
        }
    }
}

/// The whole card.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub title: String,
    /// Before the first section: when it was generated and which model it is.
    pub preamble: Vec<Block>,
    pub sections: Vec<(Section, Vec<Block>)>,
}

/// Lay the card out; `plots` are the test evaluation's, drawn beside the card.
pub fn page(d: &ModelCardDoc, plots: &[DrawnPlot]) -> Page {
    let title = match d.identity.version {
        Some(v) => format!("Model card — {} version {v}", d.identity.name),
        None => format!("Model card — {}", d.identity.name),
    };
    Page {
        title,
        preamble: preamble(d),
        sections: Section::ALL
            .into_iter()
            .map(|s| (s, section(d, plots, s)))
            .collect(),
    }
}

fn section(d: &ModelCardDoc, plots: &[DrawnPlot], s: Section) -> Vec<Block> {
    match s {
        Section::Purpose => d.purpose.iter().map(|p| paragraph(p)).collect(),
        Section::TrainingData => training_data(d),
        Section::Features => vec![features(d)],
        Section::Learner => vec![learner(d)],
        Section::MonotoneConstraints => vec![monotone_constraints(d)],
        Section::Calibration => vec![calibration(d)],
        Section::Performance => performance(d, plots),
        Section::Segments => segments(d),
        Section::Stability => stability(d),
        Section::Limitations => vec![Block::List(
            d.limitations.iter().map(|l| l.as_str().into()).collect(),
        )],
        Section::Gates => vec![gates(d)],
        Section::RegistryHistory => vec![registry_history(d)],
    }
}

fn paragraph(text: &str) -> Block {
    Block::Paragraph(text.into())
}

/// A row of plain cells.
fn row(cells: impl IntoIterator<Item = String>) -> Vec<Text> {
    cells.into_iter().map(Text::from).collect()
}

/// A figure that does not exist (no registry version, one class only) is shown as a dash.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_string(), |v| v.to_string())
}

fn four_places(v: Option<f64>) -> String {
    or_dash(v.map(|v| format!("{v:.4}")))
}

fn preamble(d: &ModelCardDoc) -> Vec<Block> {
    let id = &d.identity;
    let identity = vec![
        row(["Reference".into(), id.reference.clone()]),
        row([
            "Version".into(),
            id.version
                .map_or("(bundle folder)".into(), |v| v.to_string()),
        ]),
        row(["Stage".into(), or_dash(id.stage.as_ref())]),
        row(["Aliases".into(), id.aliases.join(", ")]),
        row(["Bundle".into(), id.bundle_run_id.clone()]),
        row(["Bundle sha256".into(), id.bundle_sha256.clone()]),
        row(["Tracking run".into(), or_dash(id.tracking_run_id.as_ref())]),
        row(["Trained at".into(), id.trained_at.clone()]),
        row(["Git commit".into(), id.git_commit.clone()]),
        row(["Config hash".into(), id.config_hash.clone()]),
    ];
    vec![
        Block::Note(
            format!(
                "Generated {} by creditrisk from the model's own artifacts.",
                d.generated_at
            )
            .into(),
        ),
        Block::table(vec![], identity),
    ]
}

fn training_data(d: &ModelCardDoc) -> Vec<Block> {
    let t = &d.training_data;
    let summary = format!(
        "{} training rows, default rate {:.4}; {} rows fitted, {} held out for early stopping and \
         calibration. Period: {}.",
        t.train_rows, t.train_default_rate, t.rows_fit, t.rows_validation, t.period
    );
    let mut files: Vec<Vec<Text>> = t
        .sources
        .iter()
        .map(|s| {
            row([
                s.table.clone(),
                s.path.clone(),
                s.rows.to_string(),
                s.sha256.clone(),
            ])
        })
        .collect();
    files.extend(
        t.split_files
            .iter()
            .map(|(path, sha)| row(["split".into(), path.clone(), "".into(), sha.clone()])),
    );
    vec![
        paragraph(&summary),
        Block::table(vec!["table", "file", "rows", "sha256"], files),
    ]
}

fn features(d: &ModelCardDoc) -> Block {
    let rows = d
        .features
        .iter()
        .map(|f| {
            row([
                f.name.clone(),
                f.kind.clone(),
                f.definition.clone(),
                f.unit.clone(),
                f.statement.clone(),
            ])
        })
        .collect();
    let head = vec![
        "feature",
        "kind",
        "definition",
        "unit",
        "adverse-action statement",
    ];
    Block::table(head, rows)
}

fn learner(d: &ModelCardDoc) -> Block {
    let l = &d.learner;
    let mut rows = vec![
        row(["Learner".into(), l.learner.clone()]),
        row(["Trees kept".into(), or_dash(l.trees)]),
        row([
            "Decision threshold".into(),
            l.decision_threshold.to_string(),
        ]),
        row([
            "PD bands (upper bounds)".into(),
            format!("{:?}", l.pd_bands),
        ]),
        row([
            "Reason codes per decision".into(),
            l.reason_codes.to_string(),
        ]),
    ];
    rows.extend(
        l.hyperparameters
            .iter()
            .map(|(k, v)| row([k.clone(), v.clone()])),
    );
    Block::table(vec!["setting", "value"], rows)
}

fn monotone_constraints(d: &ModelCardDoc) -> Block {
    let rows = d
        .learner
        .monotone_constraints
        .iter()
        .map(|(f, s)| {
            let direction = if *s > 0 {
                "PD rises with it"
            } else {
                "PD falls with it"
            };
            row([f.clone(), s.to_string(), direction.into()])
        })
        .collect();
    Block::table(vec!["feature", "sign", "meaning"], rows)
}

fn calibration(d: &ModelCardDoc) -> Block {
    let l = &d.learner;
    let rows = vec![
        row(["Method".into(), l.calibration.clone()]),
        row(["Rebalancing".into(), l.rebalance.to_string()]),
    ];
    Block::table(vec!["", ""], rows)
}

/// Headline metrics as (label, value) rows.
fn metric_rows(m: &Metrics) -> Vec<Vec<Text>> {
    [
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
    .into_iter()
    .map(|(k, v)| row([k.to_string(), v]))
    .collect()
}

/// The test metrics (and whether the metrics file agrees), the PD bands and the plots.
fn performance(d: &ModelCardDoc, plots: &[DrawnPlot]) -> Vec<Block> {
    let agreement = match d.metrics_file_matches {
        Some(true) => "equal to these figures",
        Some(false) => "written by another bundle or evaluation; these figures are this bundle's",
        None => "absent; these figures are this bundle's",
    };
    let m = &d.test_metrics;
    let bands = m
        .pd_bands
        .iter()
        .map(|b| {
            row([
                b.band.clone(),
                format!("[{:.2}, {:.2})", b.pd_from, b.pd_to),
                b.count.to_string(),
                four_places(b.mean_pd),
                four_places(b.observed_default_rate),
            ])
        })
        .collect();
    let bands_head = vec![
        "band",
        "PD range",
        "count",
        "mean PD",
        "observed default rate",
    ];
    let figures = plots
        .iter()
        .map(|p| Figure {
            caption: p.title.to_string(),
            stem: p.stem.to_string(),
            svg: p.svg.clone(),
        })
        .collect();
    vec![
        Block::Note(Text(vec![
            Span::Plain("Metrics file ".into()),
            Span::Code(d.metrics_file.clone()),
            Span::Plain(format!(": {agreement}.")),
        ])),
        Block::table(vec!["metric", "value"], metric_rows(m)),
        Block::Subheading("PD bands".into()),
        Block::table(bands_head, bands),
        Block::Subheading("Plots".into()),
        Block::Figures(figures),
    ]
}

/// One table per analysed attribute, below a note on how approval and the ratio are judged.
fn segments(d: &ModelCardDoc) -> Vec<Block> {
    let s = &d.segments;
    let note = format!(
        "Per segment on the {} split: approval at PD < {}; the adverse-impact ratio is the \
         approval rate over the most-approved segment's, flagged below {} (segments under {} rows \
         are not judged). Protected attributes are analysed here although the model does not use \
         them.",
        s.split.name(),
        s.decision_threshold,
        s.adverse_impact_ratio,
        s.min_segment_rows
    );
    let mut out = vec![Block::Note(note.into())];
    for a in &s.attributes {
        out.extend(attribute(a));
    }
    out
}

fn attribute(a: &SegmentAnalysis) -> [Block; 2] {
    let heading = Text(vec![
        Span::Plain(format!("{} (", a.name)),
        Span::Code(a.column.clone()),
        Span::Plain(")".into()),
    ]);
    let rows = a
        .segments
        .iter()
        .map(|r| {
            let mut cells = row([
                r.value.clone(),
                r.rows.to_string(),
                format!("{:.4}", r.default_rate),
                format!("{:.4}", r.mean_pd),
                four_places(r.roc_auc),
                format!("{:.4}", r.ece),
                format!("{:.4}", r.approval_rate),
                four_places(r.adverse_impact_ratio),
            ]);
            cells.push(match r.flagged {
                true => Text(vec![Span::Flag("below ratio".into())]),
                false => Text::default(),
            });
            cells
        })
        .collect();
    let head = vec![
        "segment",
        "rows",
        "default rate",
        "mean PD",
        "AUC",
        "ECE",
        "approval rate",
        "adverse-impact ratio",
        "flag",
    ];
    [Block::Subheading(heading), Block::table(head, rows)]
}

/// The PD's shift between train and test, then the figures per period when there are periods.
fn stability(d: &ModelCardDoc) -> Vec<Block> {
    let s = &d.stability;
    let rows = vec![
        row([
            format!("PSI of the PD, train vs test ({} bins)", s.psi_bins),
            format!("{:.4}", s.pd_psi_train_vs_test),
        ]),
        row(["Mean PD, train".into(), format!("{:.4}", s.train_mean_pd)]),
        row(["Mean PD, test".into(), format!("{:.4}", s.test_mean_pd)]),
    ];
    let mut out = vec![Block::table(vec!["figure", "value"], rows)];
    if let Some(st) = &d.segments.stability {
        out.extend(periods(st));
    }
    out
}

fn periods(st: &PeriodStability) -> [Block; 3] {
    let note = Text(vec![
        Span::Plain("Periods of ".into()),
        Span::Code(st.column.clone()),
        Span::Plain(format!(" from {}.", st.source)),
    ]);
    let rows = st
        .periods
        .iter()
        .map(|p| {
            row([
                p.period.clone(),
                p.rows.to_string(),
                format!("{:.4}", p.default_rate),
                format!("{:.4}", p.mean_pd),
                four_places(p.roc_auc),
            ])
        })
        .collect();
    [
        Block::Subheading(format!("By {}", st.column).into()),
        Block::Note(note),
        Block::table(
            vec!["period", "rows", "default rate", "mean PD", "AUC"],
            rows,
        ),
    ]
}

fn gates(d: &ModelCardDoc) -> Block {
    let rows = d
        .gates
        .iter()
        .map(|g| {
            row([
                g.gate.clone(),
                if g.passed { "passed" } else { "FAILED" }.into(),
                g.detail.clone(),
                g.checked_at.clone(),
            ])
        })
        .collect();
    Block::table(vec!["gate", "outcome", "detail", "checked at"], rows)
}

fn registry_history(d: &ModelCardDoc) -> Block {
    let rows = d
        .registry_history
        .iter()
        .map(|e| {
            row([
                e.at.clone(),
                e.event.clone(),
                e.by.clone(),
                e.note.clone(),
                e.status.clone(),
            ])
        })
        .collect();
    Block::table(vec!["at", "event", "by", "why", "status"], rows)
}
