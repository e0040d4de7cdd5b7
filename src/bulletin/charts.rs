//! Charts as SVG, drawn in Rust with plotters: the same SVG goes inline into the HTML
//! page and as an image into the PDF (whose typesetter draws its text with the
//! bulletin's Chinese font).

use plotters::prelude::*;

use super::{Chart, ChartKind, RenderError};

const WIDTH: u32 = 800;
const HEIGHT: u32 = 360;
/// The family named in the SVG text: the PDF's typesetter and browsers resolve it, with
/// fallbacks that carry Chinese glyphs.
pub const FONT: &str = "WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif";

const PALETTE: [RGBColor; 8] = [
    RGBColor(0xc0, 0x39, 0x2b),
    RGBColor(0x29, 0x80, 0xb9),
    RGBColor(0x27, 0xae, 0x60),
    RGBColor(0xf3, 0x9c, 0x12),
    RGBColor(0x8e, 0x44, 0xad),
    RGBColor(0x16, 0xa0, 0x85),
    RGBColor(0x7f, 0x8c, 0x8d),
    RGBColor(0xd3, 0x54, 0x00),
];

/// The chart as a standalone SVG document.
pub fn svg(chart: &Chart) -> Result<String, RenderError> {
    let mut out = String::new();
    {
        let height = match chart.kind {
            // The bar and a legend of two columns.
            ChartKind::Share => 150 + 26 * chart.points.len().div_ceil(2) as u32,
            ChartKind::Bar | ChartKind::Line => HEIGHT,
        };
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        let drawn = match chart.kind {
            ChartKind::Bar => bar(&root, chart),
            ChartKind::Line => line(&root, chart),
            ChartKind::Share => share(&root, chart),
        };
        drawn
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|reason| RenderError::Chart {
                caption: chart.caption.clone(),
                reason,
            })?;
    }
    Ok(out)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn top(chart: &Chart) -> f64 {
    let max = chart.points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    if max <= 0.0 {
        1.0
    } else if max < 10.0 {
        // Small counts: whole numbers on the axis, one step of headroom.
        max.ceil() + 1.0
    } else {
        max * 1.1
    }
}

/// How many labels the value axis gets: one per whole number while the axis is short
/// (never "0, 0, 1, 1" from rounding), else ten.
fn y_labels(chart: &Chart) -> usize {
    let top = top(chart);
    if top <= 10.0 { top as usize + 1 } else { 10 }
}

fn bar(root: &Area<'_>, chart: &Chart) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = chart.points.len().max(1);
    let mut ctx = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(if n > 8 { 70 } else { 40 })
        .y_label_area_size(70)
        // n segments: the range's end is the last category's index (at least 1: an empty
        // range draws no bar at all, so a lone category gets a second, empty segment).
        .build_cartesian_2d((0..(n - 1).max(1)).into_segmented(), 0.0..top(chart))
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = chart.points.iter().map(|(l, _)| l.clone()).collect();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc(chart.unit.as_str())
        .y_labels(y_labels(chart))
        .y_label_formatter(&|v| super::number(v.round()))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    ctx.draw_series(chart.points.iter().enumerate().map(|(i, (_, v))| {
        let x0 = SegmentValue::Exact(i);
        let x1 = SegmentValue::Exact(i + 1);
        let mut r = Rectangle::new([(x0, 0.0), (x1, *v)], PALETTE[1].filled());
        r.set_margin(0, 0, 6, 6);
        r
    }))
    .map_err(|e| e.to_string())?;
    Ok(())
}

fn line(root: &Area<'_>, chart: &Chart) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = chart.points.len().max(2);
    let mut ctx = ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n - 1, 0.0..top(chart))
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = chart.points.iter().map(|(l, _)| l.clone()).collect();
    ctx.configure_mesh()
        .x_labels(n.min(16))
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_desc(chart.unit.as_str())
        .y_labels(y_labels(chart))
        .y_label_formatter(&|v| super::number(v.round()))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    ctx.draw_series(LineSeries::new(
        chart.points.iter().enumerate().map(|(i, (_, v))| (i, *v)),
        PALETTE[0].stroke_width(2),
    ))
    .map_err(|e| e.to_string())?;
    ctx.draw_series(
        chart
            .points
            .iter()
            .enumerate()
            .map(|(i, (_, v))| Circle::new((i, *v), 3, PALETTE[0].filled())),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// One bar across the width, cut in proportion to each value, with a legend below.
fn share(root: &Area<'_>, chart: &Chart) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let total: f64 = chart.points.iter().map(|(_, v)| v.max(0.0)).sum();
    let (left, right, bar_top, bar_bottom) = (20i32, WIDTH as i32 - 20, 30i32, 110i32);
    let span = f64::from(right - left);
    let mut x = f64::from(left);
    for (i, (_, v)) in chart.points.iter().enumerate() {
        if total <= 0.0 {
            break;
        }
        let w = span * v.max(0.0) / total;
        let colour = PALETTE[i % PALETTE.len()];
        root.draw(&Rectangle::new(
            [
                (x.round() as i32, bar_top),
                ((x + w).round() as i32, bar_bottom),
            ],
            colour.filled(),
        ))
        .map_err(|e| e.to_string())?;
        x += w;
    }
    if total <= 0.0 {
        root.draw(&Rectangle::new(
            [(left, bar_top), (right, bar_bottom)],
            RGBColor(0xdd, 0xdd, 0xdd).filled(),
        ))
        .map_err(|e| e.to_string())?;
    }
    // The legend: two columns under the bar.
    for (i, (label, v)) in chart.points.iter().enumerate() {
        let (col, row) = ((i % 2) as i32, (i / 2) as i32);
        let (lx, ly) = (left + col * 380, bar_bottom + 30 + row * 26);
        let colour = PALETTE[i % PALETTE.len()];
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + 16, ly + 16)],
            colour.filled(),
        ))
        .map_err(|e| e.to_string())?;
        let text = format!(
            "{label}  {}  ({})",
            super::number(*v),
            super::percent(*v, total)
        );
        root.draw(&Text::new(text, (lx + 24, ly + 1), (FONT, 14)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_draws_its_labels_into_the_svg() {
        for kind in [ChartKind::Bar, ChartKind::Line, ChartKind::Share] {
            let chart = Chart {
                kind,
                caption: "按类别".into(),
                unit: "起".into(),
                points: vec![("木马".into(), 12.0), ("僵尸网络".into(), 30.0)],
            };
            let svg = svg(&chart).unwrap();
            assert!(svg.starts_with("<svg"), "{kind:?}: {svg:.60}");
            assert!(svg.contains("僵尸网络"), "{kind:?} lost a label");
        }
    }

    #[test]
    fn an_empty_chart_still_draws() {
        for kind in [ChartKind::Bar, ChartKind::Line, ChartKind::Share] {
            let chart = Chart {
                kind,
                caption: "empty".into(),
                unit: "events".into(),
                points: Vec::new(),
            };
            assert!(svg(&chart).unwrap().contains("<svg"));
        }
    }
}
