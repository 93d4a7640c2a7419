//! The model card's [`Page`] as a self-contained HTML page (inline CSS and SVG, no network) and
//! as Markdown (for a repository or a wiki). Both walk the same page, so they carry every
//! section, block and figure in the same order; only the markup differs.

use std::fmt::Write;

use super::page::{Block, Figure, Page, Section, Span, Table, Text};
use crate::evaluate::report_html::{CSS, escape, strip_xml_header};

/// Section titles, in order; a test checks each is present in both renderings.
pub const SECTIONS: [&str; 12] = {
    let mut titles = [""; 12];
    let mut i = 0;
    while i < titles.len() {
        titles[i] = Section::ALL[i].title();
        i += 1;
    }
    titles
};

/// The card's tables are mostly text: left-aligned, long digests wrapped.
const CARD_CSS: &str = "td,th{text-align:left;overflow-wrap:anywhere}";

/// The HTML document, plots inlined as SVG.
pub fn html(page: &Page) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{CSS}{CARD_CSS}</style></head><body><h1>{t}</h1>",
        t = escape(&page.title)
    );
    blocks_html(&mut h, &page.preamble);
    for (section, blocks) in &page.sections {
        let _ = write!(h, "<h2>{}</h2>", escape(section.title()));
        blocks_html(&mut h, blocks);
    }
    h.push_str("</body></html>\n");
    h
}

fn blocks_html(h: &mut String, blocks: &[Block]) {
    for block in blocks {
        match block {
            Block::Subheading(t) => {
                let _ = write!(h, "<h3>{}</h3>", text_html(t));
            }
            Block::Paragraph(t) => {
                let _ = write!(h, "<p>{}</p>", text_html(t));
            }
            Block::Note(t) => {
                let _ = write!(h, "<p class=\"note\">{}</p>", text_html(t));
            }
            Block::Table(t) => table_html(h, t),
            Block::List(items) => {
                h.push_str("<ul>");
                for item in items {
                    let _ = write!(h, "<li>{}</li>", text_html(item));
                }
                h.push_str("</ul>");
            }
            Block::Figures(figures) => figures_html(h, figures),
        }
    }
}

fn text_html(t: &Text) -> String {
    t.0.iter()
        .map(|span| match span {
            Span::Plain(s) => escape(s),
            Span::Code(s) => format!("<code>{}</code>", escape(s)),
            Span::Flag(s) => format!("<span class=\"flag\">{}</span>", escape(s)),
        })
        .collect()
}

fn table_html(h: &mut String, t: &Table) {
    h.push_str("<table><tr>");
    for c in &t.head {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>");
    for r in &t.rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{}</td>", text_html(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}

fn figures_html(h: &mut String, figures: &[Figure]) {
    h.push_str("<div class=\"plots\">");
    for f in figures {
        let _ = write!(
            h,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            escape(&f.caption),
            strip_xml_header(&f.svg)
        );
    }
    h.push_str("</div>");
}

/// The Markdown document; plots are linked as `<plot_dir>/<stem>.png`, beside it.
pub fn markdown(page: &Page, plot_dir: &str) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# {}\n", page.title);
    blocks_md(&mut m, &page.preamble, plot_dir);
    for (section, blocks) in &page.sections {
        let _ = writeln!(m, "## {}\n", section.title());
        blocks_md(&mut m, blocks, plot_dir);
    }
    m
}

fn blocks_md(m: &mut String, blocks: &[Block], plot_dir: &str) {
    for block in blocks {
        match block {
            Block::Subheading(t) => {
                let _ = writeln!(m, "### {}\n", text_md(t));
            }
            Block::Paragraph(t) | Block::Note(t) => {
                let _ = writeln!(m, "{}\n", text_md(t));
            }
            Block::Table(t) => table_md(m, t),
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(m, "- {}", text_md(item));
                }
                m.push('\n');
            }
            Block::Figures(figures) => {
                for f in figures {
                    let _ = writeln!(m, "![{}]({plot_dir}/{}.png)\n", f.caption, f.stem);
                }
            }
        }
    }
}

/// Markdown has no flag style: a flag is its words.
fn text_md(t: &Text) -> String {
    t.0.iter()
        .map(|span| match span {
            Span::Plain(s) | Span::Flag(s) => s.clone(),
            Span::Code(s) => format!("`{s}`"),
        })
        .collect()
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table needs a header row: a table without one gets blank header cells.
fn table_md(m: &mut String, t: &Table) {
    let width = t.rows.first().map_or(t.head.len(), Vec::len);
    let head: Vec<String> = match t.head.is_empty() {
        true => vec![" ".to_string(); width],
        false => t
            .head
            .iter()
            .map(|c| if c.is_empty() { " ".into() } else { md_cell(c) })
            .collect(),
    };
    let _ = writeln!(m, "| {} |", head.join(" | "));
    let _ = writeln!(m, "|{}", "---|".repeat(head.len()));
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|c| md_cell(&text_md(c))).collect();
        let _ = writeln!(m, "| {} |", cells.join(" | "));
    }
    m.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_card::page::NONE_RECORDED;

    fn sample() -> Page {
        let table = Table {
            head: vec!["a", ""],
            rows: vec![vec![
                Text::from("x|y"),
                Text(vec![Span::Code("c".into()), Span::Flag("<flag>".into())]),
            ]],
        };
        Page {
            title: "T & co".into(),
            preamble: vec![Block::Table(Table {
                head: vec![],
                rows: vec![vec![Text::from("k"), Text::from("v")]],
            })],
            sections: Section::ALL
                .into_iter()
                .map(|s| match s {
                    Section::RegistryHistory => (s, vec![Block::Paragraph(NONE_RECORDED.into())]),
                    _ => (s, vec![Block::Table(table.clone())]),
                })
                .collect(),
        }
    }

    #[test]
    fn both_renderings_walk_the_same_blocks() {
        let page = sample();
        let html = html(&page);
        let md = markdown(&page, "plots");
        for title in SECTIONS {
            assert!(html.contains(&format!("<h2>{title}</h2>")), "{title}");
            assert!(md.contains(&format!("## {title}\n")), "{title}");
        }
        assert!(html.contains("<title>T &amp; co</title>"));
        assert!(html.contains("<table><tr></tr><tr><td>k</td><td>v</td></tr></table>"));
        assert!(html.contains(
            "<td>x|y</td><td><code>c</code><span class=\"flag\">&lt;flag&gt;</span></td>"
        ));
        assert!(html.contains("<p>None recorded.</p>"));
        assert!(md.starts_with("# T & co\n\n|   |   |\n|---|---|\n| k | v |\n\n"));
        assert!(md.contains("| a |   |\n|---|---|\n| x\\|y | `c`<flag> |\n"));
        assert!(md.ends_with("## Registry history\n\nNone recorded.\n\n"));
    }
}
