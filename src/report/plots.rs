//! Every chart the workbench draws. Charts render into memory and are written atomically as PNG.
//! Text needs a font: DejaVuSans is vendored (assets/fonts) and registered once.

use crate::artifacts;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: cannot draw the chart: {message}")]
    Draw { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in, so registration can only fail if plotters changes its API.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Renders with `draw` on a `width`×`height` canvas and writes a PNG to `path` atomically.
pub fn render_png<F>(path: &Path, width: u32, height: u32, draw: F) -> Result<(), PlotError>
where
    F: FnOnce(
        &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), Box<dyn std::error::Error>>,
{
    ensure_font();
    let shown = path.display().to_string();
    let draw_err = |message: String| PlotError::Draw {
        path: shown.clone(),
        message,
    };
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(e.to_string()))?;
        draw(&root).map_err(|e| draw_err(e.to_string()))?;
        root.present().map_err(|e| draw_err(e.to_string()))?;
    }
    let img =
        image::RgbImage::from_raw(width, height, pixels).expect("buffer sized for the canvas");
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageOutputFormat::Png)
        .map_err(|e| draw_err(e.to_string()))?;
    artifacts::write_atomic(path, png.get_ref()).map_err(|source| PlotError::Io {
        path: shown.clone(),
        source,
    })
}

/// One named series of (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
    pub colour: RGBColor,
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE_: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const PALETTE: [RGBColor; 10] = [
    BLUE_,
    ORANGE_,
    GREEN_,
    RED_,
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A line chart of several series sharing axes, drawn into `area`.
pub fn line_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()?;
    for s in series {
        let colour = s.colour;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

/// A square heatmap of `values` in 0..=1 with each cell's value printed, rows labelled
/// `row_labels` (true class), columns `col_labels` (predicted class).
pub fn heatmap(
    path: &Path,
    title: &str,
    values: &[Vec<f64>],
    row_labels: &[String],
    col_labels: &[String],
    x_desc: &str,
    y_desc: &str,
) -> Result<(), PlotError> {
    let rows = values.len();
    let cols = values.first().map_or(0, |r| r.len());
    render_png(path, 720, 660, |root| {
        use plotters::coord::ranged1d::SegmentValue::{CenterOf, Exact};
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (0..cols - 1).into_segmented(),
                (0..rows - 1).into_segmented(),
            )?;
        // Row 0 is drawn at the top, as in a printed matrix.
        let label = |labels: &[String],
                     v: &plotters::coord::ranged1d::SegmentValue<usize>,
                     flip: bool| match v {
            CenterOf(i) => {
                let i = if flip {
                    rows.saturating_sub(1 + *i)
                } else {
                    *i
                };
                labels.get(i).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(cols + 1)
            .y_labels(rows + 1)
            .x_label_formatter(&|v| label(col_labels, v, false))
            .y_label_formatter(&|v| label(row_labels, v, true))
            .label_style(("sans-serif", 14))
            .draw()?;
        for (r, row) in values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let y = rows - 1 - r;
                let shade = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
                let fill = RGBColor(shade, shade, 255);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(Exact(c), Exact(y)), (Exact(c + 1), Exact(y + 1))],
                    fill.filled(),
                )))?;
                let text_colour = if v > 0.55 { WHITE } else { BLACK };
                chart.draw_series(std::iter::once(Text::new(
                    format!("{v:.2}"),
                    (CenterOf(c), CenterOf(y)),
                    ("sans-serif", 16)
                        .into_font()
                        .color(&text_colour)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )))?;
            }
        }
        Ok(())
    })
}
