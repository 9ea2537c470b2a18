//! The report's figures as SVG strings, drawn with plotters' SVG backend.

use base64::Engine;
use plotters::prelude::*;

use crate::error::{ReportError, Result};
use crate::html::escape;

/// A condensed RDM to draw as a heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct RdmPanel {
    /// Title above the heatmap.
    pub title: String,
    /// Stimuli.
    pub n: usize,
    /// Upper triangle, row-major, diagonal excluded.
    pub condensed: Vec<f64>,
}

pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

pub(crate) fn plot_error(plot: &str) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Plot {
        plot: plot.to_string(),
        message,
    }
}

/// Draws a chart's legend (boxed, at `position`) and writes the drawing out: how every
/// figure with series labels ends.
pub(crate) fn finish_chart<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    position: SeriesLabelPosition,
    err: &impl Fn(String) -> ReportError,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// One line per model of `(model, layer index, value)` points against relative depth (layer
/// index / the model's deepest index), non-finite values left out.
pub(crate) fn depth_curves(
    caption: &str,
    y_label: &str,
    points: &[(&str, usize, f64)],
) -> Result<String> {
    let models = distinct(points.iter().map(|p| p.0));
    let (lo, hi) = points
        .iter()
        .map(|p| p.2)
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0.1f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let err = plot_error(caption);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, lo..hi * 1.1)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("relative depth (layer index / last)")
            .y_desc(y_label)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (k, model) in models.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let mut layer_values: Vec<(usize, f64)> = points
                .iter()
                .filter(|p| p.0 == *model && p.2.is_finite())
                .map(|p| (p.1, p.2))
                .collect();
            layer_values.sort_by_key(|p| p.0);
            let last = layer_values.iter().map(|p| p.0).max().unwrap_or(0).max(1) as f64;
            let series: Vec<(f64, f64)> = layer_values
                .iter()
                .map(|&(i, v)| (i as f64 / last, v))
                .collect();
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(model.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
            chart
                .draw_series(series.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        finish_chart(&mut chart, &root, SeriesLabelPosition::UpperLeft, &err)?;
    }
    Ok(svg)
}

/// Largest number of cells a side of an RDM heatmap.
const MAX_CELLS: usize = 96;

/// An RDM as a heatmap, dissimilarities rank-scaled to [0, 1] (as RSA compares ranks), in
/// blocks of stimuli when there are more than [`MAX_CELLS`].
pub fn rdm_heatmap(panel: &RdmPanel) -> Result<String> {
    let n = panel.n;
    if panel.condensed.len() != n * n.saturating_sub(1) / 2 {
        return Err(ReportError::Plot {
            plot: panel.title.clone(),
            message: format!("{} entries for {n} stimuli", panel.condensed.len()),
        });
    }
    let ranks = rank_scale(&panel.condensed);
    let at = |i: usize, j: usize| -> f64 {
        if i == j {
            return 0.0;
        }
        let (i, j) = if i < j { (i, j) } else { (j, i) };
        ranks[i * n - i * (i + 1) / 2 + (j - i - 1)]
    };
    // Large RDMs are shown as the mean rank over blocks of stimuli, at most MAX_CELLS a side,
    // which keeps the report small (a 640-stimulus RDM would be 409,600 SVG rectangles).
    let cells = n.min(MAX_CELLS);
    let mut sums = vec![0.0f64; cells * cells];
    let mut counts = vec![0usize; cells * cells];
    for i in 0..n {
        for j in 0..n {
            let cell = (i * cells / n) * cells + j * cells / n;
            sums[cell] += at(i, j);
            counts[cell] += 1;
        }
    }
    let title = if cells < n {
        format!("{} ({cells}×{cells} blocks)", short_title(&panel.title, 28))
    } else {
        short_title(&panel.title, 40)
    };
    // One pixel per cell in an embedded PNG, scaled up without smoothing: a few kilobytes,
    // where SVG rectangles took about 80 bytes per cell (0.7 MB per heatmap).
    let mut image = image::RgbImage::new(cells as u32, cells as u32);
    for i in 0..cells {
        for j in 0..cells {
            let cell = i * cells + j;
            let RGBColor(r, g, b) = ViridisRGB::get_color(sums[cell] / counts[cell].max(1) as f64);
            image.put_pixel(j as u32, i as u32, image::Rgb([r, g, b]));
        }
    }
    let mut png = std::io::Cursor::new(vec![]);
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| ReportError::Plot {
            plot: panel.title.clone(),
            message: e.to_string(),
        })?;
    let data = base64::engine::general_purpose::STANDARD.encode(png.into_inner());
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"280\" height=\"300\" viewBox=\"0 0 280 300\" font-family=\"sans-serif\"><rect width=\"280\" height=\"300\" fill=\"white\"/><text x=\"140\" y=\"16\" font-size=\"12\" text-anchor=\"middle\">{}</text><image x=\"14\" y=\"30\" width=\"252\" height=\"252\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{data}\"/></svg>",
        escape(&title)
    ))
}

/// `title` cut to its last `max` characters behind an ellipsis.
fn short_title(title: &str, max: usize) -> String {
    let chars: Vec<char> = title.chars().collect();
    if chars.len() <= max {
        title.to_string()
    } else {
        format!(
            "…{}",
            chars[chars.len() - (max - 1)..].iter().collect::<String>()
        )
    }
}

/// Values replaced by their ranks scaled to [0, 1] (ties share the mean rank).
fn rank_scale(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        let mean = (start + end - 1) as f64 / 2.0;
        for &k in &order[start..end] {
            ranks[k] = mean;
        }
        start = end;
    }
    let top = (values.len().max(2) - 1) as f64;
    ranks.iter().map(|r| r / top).collect()
}

/// Distinct values in order of first appearance.
pub(crate) fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = vec![];
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::{MAX_CELLS, RdmPanel, rank_scale, rdm_heatmap};
    use base64::Engine;

    #[test]
    fn large_rdms_are_drawn_in_blocks() {
        let panel = |n: usize| RdmPanel {
            title: "model".into(),
            n,
            condensed: (0..n * (n - 1) / 2).map(|k| k as f64).collect(),
        };
        let pixels = |svg: &str| {
            let data = svg
                .split("base64,")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let png = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
            let image = image::load_from_memory(&png).unwrap();
            (image.width() as usize, image.height() as usize)
        };
        let small = rdm_heatmap(&panel(10)).unwrap();
        assert_eq!(pixels(&small), (10, 10));
        let large = rdm_heatmap(&panel(300)).unwrap();
        assert_eq!(pixels(&large), (MAX_CELLS, MAX_CELLS));
        assert!(large.contains("96×96 blocks") && large.len() < 40_000);
        assert!(
            rdm_heatmap(&RdmPanel {
                condensed: vec![1.0],
                ..panel(10)
            })
            .is_err()
        );
    }

    #[test]
    fn ranks_are_scaled_and_ties_share_them() {
        assert_eq!(
            rank_scale(&[3.0, 1.0, 2.0, 2.0, 5.0]),
            vec![0.75, 0.0, 0.375, 0.375, 1.0]
        );
    }
}
