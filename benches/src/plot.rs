//! The scaling study's figure: speedup against the number of threads, one line with markers per
//! measured configuration, the ideal (linear) speedup dashed, with title, axis labels, grid and
//! legend.
//!
//! Drawn with `plotters` into an SVG document. The SVG backend writes text as `<text>` elements
//! that the viewer renders with its own fonts, so no font file or system library is needed.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::ops::Range;

/// Why the figure could not be drawn.
pub type PlotError = DrawingAreaErrorKind<std::io::Error>;

/// One measured configuration: its legend entry and its `(threads, speedup)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub label: String,
    /// `(threads, speedup)`, in increasing thread count.
    pub points: Vec<(usize, f64)>,
}

/// The figure's size in pixels.
pub const SIZE: (u32, u32) = (720, 480);

/// The colours of successive series (the usual ten-colour qualitative cycle).
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The ideal line's colour.
const IDEAL: RGBColor = RGBColor(110, 110, 110);

/// The legend entry of the ideal line.
pub const IDEAL_LABEL: &str = "ideal (linear)";

/// The colour of the `i`-th series.
pub fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// The thread axis: linear over `range`, with a tick and a grid line at each measured thread
/// count and nowhere else.
struct ThreadAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for ThreadAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (lo, hi): (i32, i32)) -> i32 {
        let Range { start, end } = self.range;
        let t = (value - start) / (end - start);
        (f64::from(lo) + t * f64::from(hi - lo)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A tick label: at most two decimals, trailing zeros dropped (`1`, `1.5`, `0.25`).
fn tick(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// The speedup figure as an SVG document, titled `title`. The x axis has a tick at every
/// measured thread count; both axes start at zero, and the y axis reaches past both the highest
/// measured speedup and the ideal speedup at the highest thread count.
///
/// # Errors
/// When plotters fails to lay out or draw the figure.
pub fn speedup_svg(title: &str, series: &[Series]) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, title, series)?;
        root.present()?;
    }
    Ok(svg)
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    let mut threads: Vec<usize> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    threads.sort_unstable();
    threads.dedup();
    let max_threads = threads.last().copied().unwrap_or(1).max(2) as f64;
    let max_speedup = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(max_threads, f64::max);
    let x_axis = ThreadAxis {
        range: 0.0..max_threads * 1.06,
        ticks: threads.iter().map(|&t| t as f64).collect(),
    };

    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(x_axis, 0.0..max_speedup * 1.08)?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("speedup")
        .x_label_formatter(&|x| tick(*x))
        .y_label_formatter(&|y| tick(*y))
        .axis_desc_style(("sans-serif", 20))
        .label_style(("sans-serif", 16))
        .bold_line_style(BLACK.mix(0.15))
        .light_line_style(TRANSPARENT)
        .draw()?;

    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (max_threads, max_threads)],
            8,
            5,
            IDEAL.stroke_width(2),
        ))?
        .label(IDEAL_LABEL)
        .legend(|(x, y)| {
            DashedPathElement::new([(x, y), (x + 20, y)], 5, 3, IDEAL.stroke_width(2))
        });

    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(t, v)| (t as f64, v)).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (20, 0)], c.stroke_width(2))
                    + Circle::new((10, 0), 4, c.filled())
            });
        chart.draw_series(PointSeries::of_element(
            points,
            4,
            c.filled(),
            &|coord, size, style| EmptyElement::at(coord) + Circle::new((0, 0), size, style),
        ))?;
    }

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, points: &[(usize, f64)]) -> Series {
        Series {
            label: label.to_owned(),
            points: points.to_vec(),
        }
    }

    /// The text of every `<text>` element, in document order.
    fn texts(svg: &str) -> Vec<String> {
        text_elements(svg).into_iter().map(|(_, t)| t).collect()
    }

    /// Every `<text>` element: its attributes and its text.
    fn text_elements(svg: &str) -> Vec<(String, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let open = t.find('>')?;
                let body = &t[open + 1..t.find("</text>")?];
                Some((t[..open].to_owned(), body.trim().to_owned()))
            })
            .collect()
    }

    /// The x axis's tick labels: the numbers set centred under their tick.
    fn x_ticks(svg: &str) -> Vec<String> {
        text_elements(svg)
            .into_iter()
            .filter(|(attrs, t)| {
                attrs.contains("text-anchor=\"middle\"") && t.parse::<f64>().is_ok()
            })
            .map(|(_, t)| t)
            .collect()
    }

    /// The `points` attribute of every `<polyline>` drawn in `rgb(r,g,b)`, parsed.
    fn polylines(svg: &str, colour: RGBColor) -> Vec<Vec<(f64, f64)>> {
        let stroke = format!(
            "stroke=\"#{:02X}{:02X}{:02X}\"",
            colour.0, colour.1, colour.2
        );
        svg.split("<polyline")
            .skip(1)
            .map(|p| &p[..p.find("/>").unwrap_or(p.len())])
            .filter(|p| p.contains(&stroke))
            .map(|p| {
                let start = p.find("points=\"").unwrap_or_else(|| panic!("{p}")) + 8;
                let end = start + p[start..].find('"').unwrap_or_else(|| panic!("{p}"));
                p[start..end]
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap_or_else(|| panic!("{xy}"));
                        (
                            x.parse().unwrap_or_else(|e| panic!("{x}: {e}")),
                            y.parse().unwrap_or_else(|e| panic!("{y}: {e}")),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(1.5), "1.5");
        assert_eq!(tick(0.250_000_000_1), "0.25");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(-0.001), "0");
    }

    #[test]
    fn the_figure_has_title_axes_ticks_and_legend() {
        let svg = speedup_svg(
            "Thread scaling",
            &[
                series("population 8", &[(1, 1.0), (2, 1.9), (4, 3.5)]),
                series("population 32", &[(1, 1.0), (2, 1.95), (4, 3.8)]),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        let t = texts(&svg);
        for want in [
            "Thread scaling",
            "threads",
            "speedup",
            "population 8",
            "population 32",
            IDEAL_LABEL,
        ] {
            assert!(t.iter().any(|s| s == want), "no `{want}` in {t:?}");
        }
        // A tick at every measured thread count, and none between them.
        assert_eq!(x_ticks(&svg), ["1", "2", "4"], "{t:?}");
        // The speedup axis is rotated.
        assert!(svg.contains("rotate(270"), "the y label is not rotated");
    }

    #[test]
    fn each_series_is_a_line_with_a_marker_per_point() {
        let svg = speedup_svg(
            "t",
            &[
                series("a", &[(1, 1.0), (2, 1.9), (4, 3.5)]),
                series("b", &[(1, 1.0), (2, 1.5), (4, 2.0)]),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let a = polylines(&svg, colour(0));
        let b = polylines(&svg, colour(1));
        // The data line and the legend's sample line.
        assert_eq!(a.len(), 2, "{svg}");
        assert_eq!(b.len(), 2, "{svg}");
        let (a, b) = (&a[0], &b[0]);
        assert_eq!((a.len(), b.len()), (3, 3));
        // Same thread counts, so same x; a's speedups are higher, so (SVG's y grows
        // downwards) its points are higher up from the second on, and its line rises.
        for i in 0..3 {
            assert!((a[i].0 - b[i].0).abs() < 1.0);
        }
        assert!((a[0].1 - b[0].1).abs() < 1.0);
        assert!(a[1].1 < b[1].1 && a[2].1 < b[2].1);
        assert!(a[0].1 > a[1].1 && a[1].1 > a[2].1);
        // Three markers per series and one in each series' legend entry.
        let fill = |c: RGBColor| format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        let circles = |c: RGBColor| {
            svg.split("<circle")
                .skip(1)
                .filter(|e| e[..e.find("/>").unwrap_or(e.len())].contains(&fill(c)))
                .count()
        };
        assert_eq!((circles(colour(0)), circles(colour(1))), (4, 4));
    }

    #[test]
    fn the_ideal_line_is_drawn_and_the_axis_holds_it() {
        // Measured speedups far below the ideal: the y axis still reaches the ideal 8 at 8
        // threads, so its ticks go past 8.
        let svg = speedup_svg("t", &[series("a", &[(1, 1.0), (8, 2.0)])])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!polylines(&svg, IDEAL).is_empty(), "no ideal line");
        assert_eq!(x_ticks(&svg), ["1", "8"]);
        let highest = texts(&svg)
            .iter()
            .filter_map(|s| s.parse::<f64>().ok())
            .fold(0.0, f64::max);
        assert!(highest >= 8.0, "{svg}");
    }

    #[test]
    fn an_empty_figure_still_draws() {
        let svg = speedup_svg("nothing measured", &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(texts(&svg).iter().any(|s| s == "nothing measured"));
    }
}
