//! Every chart the workbench draws. Charts render into memory and are written atomically as PNG.
//! Text needs a font: DejaVuSans is vendored (assets/fonts) and registered once.

use crate::artifacts;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
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

/// A point plotters can draw: both coordinates finite. Non-finite numbers make plotters' tick
/// computation loop forever, so every chart keeps only these (an undefined value is a gap).
fn drawable(&(x, y): &(f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// The box around the drawable points (a unit box when there are none). Spans that overflow
/// (values near f64::MAX) are refused, since no axis can be ticked across them.
fn bounds<'a>(
    points: impl Iterator<Item = &'a (f64, f64)>,
) -> Result<(f64, f64, f64, f64), Box<dyn std::error::Error>> {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points.filter(|p| drawable(p)) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Ok((0.0, 1.0, 0.0, 1.0));
    }
    if !((x1 - x0) * 2.0).is_finite() || !((y1 - y0) * 2.0).is_finite() {
        return Err(
            format!("values too large to chart (x {x0:e}..{x1:e}, y {y0:e}..{y1:e})").into(),
        );
    }
    Ok((x0, x1, y0, y1))
}

/// A line chart of several series sharing axes, drawn into `area`. Points that are not finite
/// (an undefined metric) are left out.
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
    let (x0, mut x1, y0, y1) = bounds(series.iter().flat_map(|s| s.points.iter()))?;
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
    let whole_x = series
        .iter()
        .flat_map(|s| s.points.iter())
        .all(|&(x, _)| x.fract() == 0.0);
    let x_format = |x: &f64| {
        if whole_x {
            format!("{x:.0}")
        } else {
            format!("{x}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&x_format)
        .label_style(("sans-serif", 14))
        .draw()?;
    for s in series {
        let colour = s.colour;
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(drawable).collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        // Markers only while they stay readable.
        if points.len() <= 60 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    if series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
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
    let shade_of = |v: f64| {
        let shade = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
        (RGBColor(shade, shade, 255), v > 0.55)
    };
    grid(
        path,
        (720, 660),
        title,
        values,
        row_labels,
        col_labels,
        (x_desc, y_desc),
        &shade_of,
    )
}

/// A heatmap of z-scores: blue below the average, red above, white at 0; values printed.
pub fn zscore_heatmap(
    path: &Path,
    title: &str,
    values: &[Vec<f64>],
    row_labels: &[String],
    col_labels: &[String],
) -> Result<(), PlotError> {
    let top = values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(1e-9f64, |m, v| m.max(v.abs()));
    let shade_of = move |v: f64| {
        let t = (v / top).clamp(-1.0, 1.0);
        let fade = (255.0 * (1.0 - t.abs())) as u8;
        let colour = if t >= 0.0 {
            RGBColor(255, fade, fade)
        } else {
            RGBColor(fade, fade, 255)
        };
        (colour, t.abs() > 0.6)
    };
    let width = 140 + 90 * col_labels.len() as u32;
    let height = 160 + 60 * row_labels.len() as u32;
    grid(
        path,
        (width, height),
        title,
        values,
        row_labels,
        col_labels,
        ("", ""),
        &shade_of,
    )
}

/// Coloured cells with their values printed; row 0 at the top, as in a printed table.
/// `shade_of` gives each value's fill and whether its text should be white.
#[allow(clippy::too_many_arguments)]
fn grid(
    path: &Path,
    size: (u32, u32),
    title: &str,
    values: &[Vec<f64>],
    row_labels: &[String],
    col_labels: &[String],
    (x_desc, y_desc): (&str, &str),
    shade_of: &dyn Fn(f64) -> (RGBColor, bool),
) -> Result<(), PlotError> {
    let rows = values.len();
    let cols = values.first().map_or(0, |r| r.len());
    render_png(path, size.0, size.1, |root| {
        use plotters::coord::ranged1d::SegmentValue::{CenterOf, Exact};
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(60)
            .y_label_area_size(110)
            .build_cartesian_2d(
                (0..cols - 1).into_segmented(),
                (0..rows - 1).into_segmented(),
            )?;
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
                // An undefined cell is grey and says so.
                let (fill, white_text) = if v.is_finite() {
                    shade_of(v)
                } else {
                    (RGBColor(200, 200, 200), false)
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(Exact(c), Exact(y)), (Exact(c + 1), Exact(y + 1))],
                    fill.filled(),
                )))?;
                let text_colour = if white_text { WHITE } else { BLACK };
                let text = if v.is_finite() {
                    format!("{v:.2}")
                } else {
                    "n/a".into()
                };
                chart.draw_series(std::iter::once(Text::new(
                    text,
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

/// Points coloured by group (`groups[i]` indexes `PALETTE` and `group_names`).
pub fn scatter(
    path: &Path,
    title: &str,
    (x_label, y_label): (&str, &str),
    points: &[(f64, f64)],
    groups: &[usize],
    group_names: &[String],
) -> Result<(), PlotError> {
    render_png(path, 900, 700, |root| {
        let (mut x0, mut x1, mut y0, mut y1) = bounds(points.iter())?;
        if x1 <= x0 || y1 <= y0 {
            (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
        }
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 14))
            .draw()?;
        for (g, name) in group_names.iter().enumerate() {
            let colour = PALETTE[g % PALETTE.len()];
            chart
                .draw_series(
                    points
                        .iter()
                        .zip(groups)
                        .filter(|(p, &pg)| pg == g && drawable(p))
                        .map(|(&p, _)| Circle::new(p, 2, colour.mix(0.5).filled())),
                )?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    })
}

/// A bar chart: one bar per label, its value printed above it.
pub fn bar_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    labels: &[String],
    values: &[f64],
    colours: &[RGBColor],
) -> Result<(), PlotError> {
    let n = labels.len();
    let top = values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, &v| m.max(v))
        .max(1e-9)
        * 1.15;
    if !top.is_finite() {
        return Err(PlotError::Draw {
            path: path.display().to_string(),
            message: "values too large to chart".into(),
        });
    }
    let width = (160 + 90 * n as u32).max(480);
    render_png(path, width, 420, |root| {
        use plotters::coord::ranged1d::SegmentValue::{CenterOf, Exact};
        use plotters::style::text_anchor::{HPos, Pos, VPos};
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n.max(1) - 1).into_segmented(), 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_label)
            .x_labels(n + 1)
            .x_label_formatter(&|v| match v {
                CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style(("sans-serif", 14))
            .draw()?;
        for (i, &v) in values.iter().enumerate() {
            if !v.is_finite() {
                chart.draw_series(std::iter::once(Text::new(
                    "n/a".to_string(),
                    (CenterOf(i), top * 0.02),
                    ("sans-serif", 14)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )))?;
                continue;
            }
            let colour = colours.get(i).copied().unwrap_or(BLUE_);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(Exact(i), 0.0), (Exact(i + 1), v)],
                colour.filled(),
            )))?;
            let text = if v >= 10.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            };
            chart.draw_series(std::iter::once(Text::new(
                text,
                (CenterOf(i), v + top * 0.02),
                ("sans-serif", 14)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )))?;
        }
        Ok(())
    })
}

/// A labelled point on the valence–arousal plane.
pub struct Marked<'a> {
    pub label: &'a str,
    pub point: (f64, f64),
    pub colour: RGBColor,
    /// Drawn large and filled (the point aimed at, a centroid) or as a small ring (a reference).
    pub emphasis: bool,
}

/// The valence–arousal plane, −1..1 on both axes: `background` (songs) as faint dots, then
/// `marked` points with their labels (an empty label draws the point alone).
pub fn affect_plane(
    path: &Path,
    title: &str,
    background: &[(f64, f64)],
    marked: &[Marked<'_>],
) -> Result<(), PlotError> {
    render_png(path, 760, 700, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-1.05f64..1.05f64, -1.05f64..1.05f64)?;
        chart
            .configure_mesh()
            .x_desc("valence (unpleasant → pleasant)")
            .y_desc("arousal (calm → activated)")
            .light_line_style(TRANSPARENT)
            .label_style(("sans-serif", 13))
            .draw()?;
        let axis = BLACK.mix(0.35);
        chart.draw_series(LineSeries::new([(-1.0, 0.0), (1.0, 0.0)], axis))?;
        chart.draw_series(LineSeries::new([(0.0, -1.0), (0.0, 1.0)], axis))?;
        chart.draw_series(
            background
                .iter()
                .filter(|p| drawable(p))
                .map(|&p| Circle::new(p, 1, BLACK.mix(0.12).filled())),
        )?;
        for m in marked.iter().filter(|m| drawable(&m.point)) {
            let style = if m.emphasis {
                m.colour.filled()
            } else {
                m.colour.stroke_width(2)
            };
            let size = if m.emphasis { 7 } else { 5 };
            chart.draw_series(std::iter::once(Circle::new(m.point, size, style)))?;
            if m.label.is_empty() {
                continue;
            }
            // Labels right of the point, or left of it near the right edge.
            let (dx, anchor) = if m.point.0 > 0.5 {
                (-0.03, HPos::Right)
            } else {
                (0.03, HPos::Left)
            };
            let style = ("sans-serif", 14)
                .into_font()
                .color(&m.colour)
                .pos(Pos::new(anchor, VPos::Bottom));
            chart.draw_series(std::iter::once(Text::new(
                m.label.to_string(),
                (m.point.0 + dx, m.point.1 + 0.03),
                style,
            )))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before these guards, a NaN or infinite point made plotters loop forever; every case
    /// here must return (drawn, or refused with an error).
    #[test]
    fn charts_of_non_finite_numbers_terminate() {
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<Vec<(f64, f64)>> = vec![
            vec![(0.0, f64::NAN), (1.0, 0.5)],
            vec![(0.0, f64::INFINITY), (1.0, 2.0), (2.0, 3.0)],
            vec![(f64::NAN, f64::NAN)],
            vec![(0.0, f64::NEG_INFINITY)],
            vec![(0.0, -f64::MAX), (1.0, f64::MAX)],
            vec![],
        ];
        for (i, points) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("line-{i}.png"));
            let _ = render_png(&path, 400, 300, |root| {
                line_chart(
                    root,
                    "t",
                    "x",
                    "y",
                    &[Series {
                        name: "s",
                        points: points.clone(),
                        colour: BLUE_,
                    }],
                )
            });
            let groups = vec![0; points.len()];
            let _ = scatter(
                &dir.path().join(format!("scatter-{i}.png")),
                "t",
                ("x", "y"),
                &points,
                &groups,
                &["g".into()],
            );
        }
        let labels = vec!["a".to_string(), "b".to_string()];
        bar_chart(
            &dir.path().join("bar.png"),
            "t",
            "y",
            &labels,
            &[f64::NAN, 1.0],
            &[],
        )
        .unwrap();
        heatmap(
            &dir.path().join("heat.png"),
            "t",
            &[vec![f64::NAN, 0.5], vec![0.2, f64::INFINITY]],
            &labels,
            &labels,
            "x",
            "y",
        )
        .unwrap();
        zscore_heatmap(
            &dir.path().join("z.png"),
            "t",
            &[vec![f64::NAN, 1.0]],
            &labels[..1],
            &labels,
        )
        .unwrap();
        // A finite chart with a gap still draws.
        render_png(&dir.path().join("gap.png"), 400, 300, |root| {
            line_chart(
                root,
                "t",
                "k",
                "CH",
                &[Series {
                    name: "s",
                    points: vec![(2.0, 1.0), (3.0, f64::INFINITY), (4.0, 2.0)],
                    colour: BLUE_,
                }],
            )
        })
        .unwrap();
    }
}
