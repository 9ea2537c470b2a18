//! The report's figures as SVG strings, drawn with plotters' SVG backend.

use plotters::prelude::*;

use crate::error::{ReportError, Result};
use crate::rows::ScoreRow;

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

/// Mean headline score of each rule's chosen layers in each region: one group of bars per
/// rule, one bar per region.
pub fn scores_by_rule_and_region(rows: &[ScoreRow]) -> Result<String> {
    let selected: Vec<&ScoreRow> = rows.iter().filter(|r| r.selected).collect();
    let rules = distinct(selected.iter().map(|r| r.rule.as_str()));
    let regions = distinct(selected.iter().map(|r| r.region.as_str()));
    let mean = |rule: &str, region: &str| {
        let v: Vec<f64> = selected
            .iter()
            .filter(|r| r.rule == rule && r.region == region)
            .map(|r| r.headline())
            .filter(|v| v.is_finite())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let top = selected
        .iter()
        .map(|r| r.headline())
        .filter(|v| v.is_finite())
        .fold(0.1f64, f64::max)
        * 1.1;
    let bottom = selected
        .iter()
        .map(|r| r.headline())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::min);
    let mut svg = String::new();
    let err = plot_error("scores by rule and region");
    {
        let width = (120 + 90 * rules.len().max(1)) as u32;
        let root = SVGBackend::with_string(&mut svg, (width.max(480), 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let groups = rules.len().max(1);
        // Group i is centred on x = i, so the mesh's integer key points carry the rule names.
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Chosen layer's score by rule and region",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..groups as f64 - 0.5, bottom..top)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups + 1)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    rules
                        .get(i as usize)
                        .map_or(String::new(), |s| s.to_string())
                } else {
                    String::new()
                }
            })
            .y_desc("score (normalised where a ceiling exists)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let bar = 0.8 / regions.len().max(1) as f64;
        for (k, region) in regions.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let bars: Vec<_> = rules
                .iter()
                .enumerate()
                .filter_map(|(i, rule)| {
                    let v = mean(rule, region)?;
                    let x0 = i as f64 - 0.4 + k as f64 * bar;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + bar * 0.9, v)],
                        color.filled(),
                    ))
                })
                .collect();
            chart
                .draw_series(bars)
                .map_err(|e| err(e.to_string()))?
                .label(region.to_string())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}

/// Raw score against relative depth (layer index / deepest index) for every model on one
/// benchmark.
pub fn layer_curves(rows: &[ScoreRow], benchmark: &str) -> Result<String> {
    let rows: Vec<&ScoreRow> = rows.iter().filter(|r| r.benchmark == benchmark).collect();
    let points: Vec<(&str, usize, f64)> = rows
        .iter()
        .map(|r| (r.model.as_str(), r.layer_index, r.raw))
        .collect();
    depth_curves(
        &format!("{benchmark}: score by layer"),
        "raw score",
        &points,
    )
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
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
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
    let err = plot_error(&panel.title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (280, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 12))
            .margin(8)
            .build_cartesian_2d(0..cells, cells..0)
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(
                (0..cells)
                    .flat_map(|i| (0..cells).map(move |j| (i, j)))
                    .map(|(i, j)| {
                        let cell = i * cells + j;
                        let v = sums[cell] / counts[cell].max(1) as f64;
                        let color = ViridisRGB::get_color(v);
                        Rectangle::new([(j, i), (j + 1, i + 1)], color.filled())
                    }),
            )
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
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

    #[test]
    fn large_rdms_are_drawn_in_blocks() {
        let panel = |n: usize| RdmPanel {
            title: "model".into(),
            n,
            condensed: (0..n * (n - 1) / 2).map(|k| k as f64).collect(),
        };
        let small = rdm_heatmap(&panel(10)).unwrap();
        assert_eq!(small.matches("<rect").count() - 1, 100); // one rect is the background
        let large = rdm_heatmap(&panel(300)).unwrap();
        assert_eq!(large.matches("<rect").count() - 1, MAX_CELLS * MAX_CELLS);
        assert!(large.contains("96×96 blocks"));
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
