//! The monthly bulletin (2009 reporting measures Art. 19): a document of sections, each
//! with its text, tables and charts, rendered as one self-contained HTML page and as a
//! PDF. This module lays out what it is given; which figures a month's bulletin carries
//! is decided where the statistics are read.

pub mod charts;
pub mod check;
pub mod figures;
pub mod html;
pub mod pdf;
pub mod publish;
pub mod source;

use serde::Serialize;

/// The bulletin's language: zh-CN by default (the reader is a Chinese regulator or unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Language {
    #[default]
    #[serde(rename = "zh")]
    Chinese,
    #[serde(rename = "en")]
    English,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::Chinese, Language::English];

    pub fn tag(self) -> &'static str {
        match self {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }
    }

    /// The language of a tag as [`Language::tag`] writes it ("zh-CN", "en"), exactly.
    pub fn from_tag(tag: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.tag() == tag)
    }

    /// The text in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Language::Chinese => zh,
            Language::English => en,
        }
    }
}

/// A whole bulletin, in one language.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub language: Language,
    pub title: String,
    /// Who publishes it and for which month, under the title.
    pub subtitle: String,
    /// Shown at the foot of every PDF page and of the HTML page.
    pub footer: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    /// Paragraphs of text, in order.
    pub paragraphs: Vec<String>,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    /// Each row has as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

/// A chart of labelled values.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub kind: ChartKind,
    pub caption: String,
    /// The axis or unit the values are counted in ("events", "起").
    pub unit: String,
    pub points: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChartKind {
    /// Values per category.
    Bar,
    /// Values over time, in the order given (days of the month).
    Line,
    /// Each value's share of the whole, as one stacked bar with a legend (no pie, no map).
    Share,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("drawing chart {caption:?} failed: {reason}")]
    Chart { caption: String, reason: String },
    #[error(
        "no font with Chinese characters was found under {searched}: install one (Debian: \
         apt-get install fonts-wqy-microhei or fonts-noto-cjk) or set bulletin.font_dirs; a \
         bulletin is never rendered with missing glyphs"
    )]
    NoChineseFont { searched: String },
    #[error("typesetting the PDF failed: {0}")]
    Typeset(String),
}

impl Table {
    /// A two-column table of a chart's points, with percentages of the total when asked.
    pub fn of(chart: &Chart, label: &str, value: &str, share: Option<&str>) -> Table {
        let total: f64 = chart.points.iter().map(|(_, v)| v).sum();
        let mut header = vec![label.to_owned(), value.to_owned()];
        header.extend(share.map(str::to_owned));
        Table {
            caption: chart.caption.clone(),
            header,
            rows: chart
                .points
                .iter()
                .map(|(l, v)| {
                    let mut row = vec![l.clone(), number(*v)];
                    if share.is_some() {
                        row.push(percent(*v, total));
                    }
                    row
                })
                .collect(),
        }
    }
}

/// A count as printed: whole numbers without decimals, grouped by thousands.
pub fn number(v: f64) -> String {
    if v.fract() != 0.0 {
        return format!("{v:.2}");
    }
    let digits = format!("{}", v.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

/// `part` of `whole` as a percentage with one decimal; "–" of nothing.
pub fn percent(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        "–".into()
    } else {
        format!("{:.1}%", part * 100.0 / whole)
    }
}

#[cfg(test)]
pub(crate) mod sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_is_read_back_from_its_tag_only() {
        for l in Language::ALL {
            assert_eq!(Language::from_tag(l.tag()), Some(l));
        }
        assert_eq!(Language::from_tag("zh"), None);
        assert_eq!(Language::from_tag("EN"), None);
    }

    #[test]
    fn numbers_are_grouped_and_shares_never_divide_by_zero() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(999.0), "999");
        assert_eq!(number(12.5), "12.50");
        assert_eq!(percent(1.0, 3.0), "33.3%");
        assert_eq!(percent(0.0, 0.0), "–");
    }
}
