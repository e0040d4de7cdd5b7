//! The bulletin as one self-contained HTML page: styles and charts inline, no script,
//! no external font or CDN (the machines that read it may have no internet).

use html_escape::encode_text as text;

use super::{Document, RenderError, charts};

const STYLE: &str = "body{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC','Microsoft YaHei',sans-serif;\
max-width:60em;margin:2em auto;padding:0 1em;color:#222;line-height:1.6}\
h1{text-align:center;margin-bottom:0}.subtitle{text-align:center;color:#555}\
h2{border-bottom:2px solid #c0392b;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;min-width:50%}caption{font-weight:bold;text-align:left;padding:.3em 0}\
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}td.n{text-align:right}th{background:#f3f3f3}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{text-align:center;color:#555}\
footer{margin-top:3em;border-top:1px solid #ccc;color:#666;font-size:.9em}";

/// The page, with every chart drawn inline.
pub fn render(doc: &Document) -> Result<String, RenderError> {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"");
    out.push_str(doc.language.tag());
    out.push_str("\">\n<head><meta charset=\"utf-8\"><title>");
    out.push_str(&text(&doc.title));
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head>\n<body>\n<h1>");
    out.push_str(&text(&doc.title));
    out.push_str("</h1>\n<p class=\"subtitle\">");
    out.push_str(&text(&doc.subtitle));
    out.push_str("</p>\n");
    for (i, section) in doc.sections.iter().enumerate() {
        out.push_str(&format!(
            "<section id=\"s{}\">\n<h2>{}</h2>\n",
            i + 1,
            text(&section.title)
        ));
        for p in &section.paragraphs {
            out.push_str(&format!("<p>{}</p>\n", text(p)));
        }
        for chart in &section.charts {
            let svg = charts::svg(chart)?;
            // The SVG's own XML prolog, if any, does not belong inside HTML.
            let svg = svg.find("<svg").map_or(svg.as_str(), |at| &svg[at..]);
            out.push_str("<figure>");
            out.push_str(svg);
            out.push_str(&format!(
                "<figcaption>{}</figcaption></figure>\n",
                text(&chart.caption)
            ));
        }
        for table in &section.tables {
            out.push_str(&format!(
                "<table>\n<caption>{}</caption>\n<tr>",
                text(&table.caption)
            ));
            for h in &table.header {
                out.push_str(&format!("<th>{}</th>", text(h)));
            }
            out.push_str("</tr>\n");
            for row in &table.rows {
                out.push_str("<tr>");
                for cell in row {
                    let numeric = cell
                        .chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '%' | '–' | '-'));
                    out.push_str(&format!(
                        "<td{}>{}</td>",
                        if numeric { " class=\"n\"" } else { "" },
                        text(cell)
                    ));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!(
        "<footer>{}</footer>\n</body>\n</html>\n",
        text(&doc.footer)
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained_and_escapes_what_it_is_given() {
        let mut doc = super::super::sample::document();
        doc.sections[0]
            .paragraphs
            .push("<script>alert(1)</script>".into());
        let page = render(&doc).unwrap();
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
        for external in [
            "<link",
            "<script",
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
        ] {
            assert!(!page.contains(external), "no external resource: {external}");
        }
        assert_eq!(
            page.matches("<svg").count(),
            doc.sections.iter().map(|s| s.charts.len()).sum::<usize>()
        );
        assert!(page.contains(&doc.title));
    }
}
