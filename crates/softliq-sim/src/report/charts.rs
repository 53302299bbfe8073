//! SVG charts for the report, drawn with plotters' SVG backend into strings (no fonts, no
//! files, no scripts), then inlined into the HTML.

use plotters::prelude::*;

use crate::stats::Stats;

const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn finish(svg: String, drawn: Drawn, title: &str) -> String {
    match drawn {
        Ok(()) => svg,
        Err(e) => format!("<p class=\"error\">chart {title:?} could not be drawn: {e}</p>"),
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(1e-9);
    (lo - pad, hi + pad)
}

/// A line chart of several series over a common x axis.
#[must_use]
pub fn lines(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x: &[f64],
    series: &[(String, Vec<f64>)],
) -> String {
    let bands: Vec<Band> = series
        .iter()
        .map(|(name, v)| Band::over(name, std::slice::from_ref(v)))
        .collect();
    banded(title, x_desc, y_desc, x, &bands)
}

/// One series of a banded chart: its name, and per x its mean over seeds and the lowest and
/// highest seed's value.
pub struct Band {
    pub name: String,
    pub mean: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

impl Band {
    /// The band of `name` over seeds' series (all of one length).
    #[must_use]
    pub fn over(name: &str, seeds: &[Vec<f64>]) -> Self {
        let len = seeds.iter().map(Vec::len).min().unwrap_or(0);
        let n = seeds.len().max(1) as f64;
        let at = |k: usize| seeds.iter().map(move |s| s[k]);
        Self {
            name: name.to_owned(),
            mean: (0..len).map(|k| at(k).sum::<f64>() / n).collect(),
            lo: (0..len)
                .map(|k| at(k).fold(f64::INFINITY, f64::min))
                .collect(),
            hi: (0..len)
                .map(|k| at(k).fold(f64::NEG_INFINITY, f64::max))
                .collect(),
        }
    }
}

/// A line chart of means over seeds, each in a shaded band from the lowest to the highest
/// seed (no band where they agree: one seed, or a plain line chart).
#[must_use]
pub fn banded(title: &str, x_desc: &str, y_desc: &str, x: &[f64], bands: &[Band]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut svg, (760, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let (x0, x1) = range(x.iter().copied());
        let (y0, y1) = range(bands.iter().flat_map(|b| b.lo.iter().chain(&b.hi).copied()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        for (k, b) in bands.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let outline: Vec<(f64, f64)> = x
                .iter()
                .copied()
                .zip(b.lo.iter().copied())
                .chain(x.iter().copied().zip(b.hi.iter().copied()).rev())
                .collect();
            if b.lo != b.hi {
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    color.mix(0.15).filled(),
                )))?;
            }
            chart
                .draw_series(LineSeries::new(
                    x.iter().copied().zip(b.mean.iter().copied()),
                    color.stroke_width(2),
                ))?
                .label(b.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, drawn, title)
}

/// Bars of means with p5–p95 whiskers, one per mechanism.
#[must_use]
pub fn bars(title: &str, y_desc: &str, items: &[(String, Stats)]) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Drawn {
        let root = SVGBackend::with_string(&mut svg, (760, 300)).into_drawing_area();
        root.fill(&WHITE)?;
        let hi = items
            .iter()
            .map(|(_, s)| s.p95.max(s.mean))
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.1;
        let lo = items.iter().map(|(_, s)| s.p5.min(0.0)).fold(0.0, f64::min);
        let n = items.len();
        let labels: Vec<String> = items.iter().map(|(n, _)| n.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..n as f64, lo..hi)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1) * 2 + 1)
            .x_label_formatter(&|v| {
                let centre = v - v.floor();
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let i = v.floor() as usize;
                if (centre - 0.5).abs() < 1e-6 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(y_desc)
            .draw()?;
        for (k, (_, s)) in items.iter().enumerate() {
            let x = k as f64;
            let color = PALETTE[k % PALETTE.len()];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x + 0.2, 0.0), (x + 0.8, s.mean)],
                color.filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x + 0.5, s.p5), (x + 0.5, s.p95)],
                BLACK.stroke_width(2),
            )))?;
        }
        root.present()?;
        Ok(())
    })();
    finish(svg, drawn, title)
}

/// A heatmap of `values[y][x]` (None: a skipped point); greener is better.
#[must_use]
pub fn heatmap(
    title: &str,
    (x_desc, x_labels): (&str, &[String]),
    (y_desc, y_labels): (&str, &[String]),
    values: &[Vec<Option<f64>>],
    lower_is_better: bool,
) -> String {
    let mut svg = String::new();
    let drawn = (|| -> Drawn {
        let (nx, ny) = (x_labels.len().max(1), y_labels.len().max(1));
        let root =
            SVGBackend::with_string(&mut svg, (560, 120 + 44 * u32::try_from(ny).unwrap_or(10)))
                .into_drawing_area();
        root.fill(&WHITE)?;
        let (lo, hi) = range(values.iter().flatten().flatten().copied());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 15))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)?;
        let label = |labels: &[String], v: f64| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 1e-6 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nx * 2 + 1)
            .y_labels(ny * 2 + 1)
            .x_label_formatter(&|v| label(x_labels, *v))
            .y_label_formatter(&|v| label(y_labels, *v))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        for (yi, row) in values.iter().enumerate() {
            for (xi, v) in row.iter().enumerate() {
                let (x, y) = (xi as f64, yi as f64);
                let (fill, text) = match v {
                    Some(v) => {
                        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                        let good = if lower_is_better { 1.0 - t } else { t };
                        (shade(good), compact(*v))
                    }
                    None => (RGBColor(220, 220, 220), "skipped".to_owned()),
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    fill.filled(),
                )))?;
                chart.draw_series(std::iter::once(Text::new(
                    text,
                    (x + 0.35, y + 0.55),
                    ("sans-serif", 13),
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    finish(svg, drawn, title)
}

/// Red (0) to green (1).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn shade(good: f64) -> RGBColor {
    let g = good.clamp(0.0, 1.0);
    RGBColor((230.0 - 150.0 * g) as u8, (120.0 + 100.0 * g) as u8, 110)
}

/// A short human number: 1.2M, 35k, 0.034.
#[must_use]
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_spans_the_seeds_around_their_mean() {
        let b = Band::over("m", &[vec![1.0, 4.0], vec![3.0, 0.0], vec![2.0, 2.0]]);
        assert_eq!(b.mean, vec![2.0, 2.0]);
        assert_eq!(b.lo, vec![1.0, 0.0]);
        assert_eq!(b.hi, vec![3.0, 4.0]);
        let svg = banded("t", "x", "y", &[0.0, 1.0], &[b]);
        assert!(svg.contains("<svg") && svg.contains("<polygon"), "{svg}");
    }
}
