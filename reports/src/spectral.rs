//! The spectral theory of neural prediction per model layer: the table (theory and simulated
//! learning curves, error-mode radius and dimension) and the paper's two figures, error-mode
//! radius against √dimension with iso-error lines, and learning curves.

use std::path::Path;

use plotters::prelude::*;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ReportError, Result};
use crate::plots::{distinct, finish_chart, plot_error};
use crate::table::write_table;

/// One layer of one model against one set of responses, at one training-set size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralRow {
    /// Model name.
    pub model: String,
    /// Learning rule.
    pub rule: String,
    /// Architecture.
    pub architecture: String,
    /// Training seed of the network.
    pub seed: u64,
    /// Layer.
    pub layer: String,
    /// Position of the layer from the input (0-based).
    pub layer_index: usize,
    /// The responses (benchmark target) regressed onto.
    pub target: String,
    /// Stimuli in the analysis.
    pub n_stimuli: usize,
    /// Training stimuli.
    pub p: usize,
    /// Ridge penalty per training stimulus.
    pub alpha: f64,
    /// E_g(p) in theory (normalised error).
    pub theory: f64,
    /// E_g(p) by simulation (mean over trials; `None` without trials).
    pub empirical: Option<f64>,
    /// Its standard error over trials.
    pub empirical_sem: Option<f64>,
    /// Error-mode radius R_em.
    pub radius: f64,
    /// Error-mode dimension D_em.
    pub dimension: f64,
}

/// Writes `spectral.{parquet,csv,json}` into `dir` (nothing for an empty table), atomically.
pub fn write_spectral(dir: &Path, rows: &[SpectralRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let text =
        |f: fn(&SpectralRow) -> &str| rows.iter().map(|r| f(r).to_string()).collect::<Vec<_>>();
    let float = |f: fn(&SpectralRow) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let count = |f: fn(&SpectralRow) -> usize| rows.iter().map(|r| f(r) as u32).collect::<Vec<_>>();
    let columns = vec![
        Column::new("model".into(), text(|r| &r.model)),
        Column::new("rule".into(), text(|r| &r.rule)),
        Column::new("architecture".into(), text(|r| &r.architecture)),
        Column::new(
            "seed".into(),
            rows.iter().map(|r| r.seed).collect::<Vec<_>>(),
        ),
        Column::new("layer".into(), text(|r| &r.layer)),
        Column::new("layer_index".into(), count(|r| r.layer_index)),
        Column::new("target".into(), text(|r| &r.target)),
        Column::new("n_stimuli".into(), count(|r| r.n_stimuli)),
        Column::new("p".into(), count(|r| r.p)),
        Column::new("alpha".into(), float(|r| r.alpha)),
        Column::new("theory".into(), float(|r| r.theory)),
        Column::new(
            "empirical".into(),
            rows.iter().map(|r| r.empirical).collect::<Vec<_>>(),
        ),
        Column::new(
            "empirical_sem".into(),
            rows.iter().map(|r| r.empirical_sem).collect::<Vec<_>>(),
        ),
        Column::new("radius".into(), float(|r| r.radius)),
        Column::new("dimension".into(), float(|r| r.dimension)),
    ];
    let df = DataFrame::new(rows.len(), columns).map_err(|e| ReportError::Table(e.to_string()))?;
    write_table(dir, "spectral", df, rows)
}

/// A model's colour: its rule's, as in every other figure of the report.
fn model_color(rows: &[SpectralRow], model: &str) -> RGBColor {
    let rule = rows
        .iter()
        .find(|r| r.model == model)
        .map_or("", |r| r.rule.as_str());
    let hex = crate::comparison_figures::rule_color(rule).trim_start_matches('#');
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(128);
    RGBColor(channel(0), channel(2), channel(4))
}

/// The rows of `target` at its largest training-set size.
fn at_largest_p<'a>(rows: &'a [SpectralRow], target: &str) -> Vec<&'a SpectralRow> {
    let of_target = || rows.iter().filter(move |r| r.target == target);
    let Some(p) = of_target().map(|r| r.p).max() else {
        return vec![];
    };
    of_target().filter(|r| r.p == p).collect()
}

/// The paper's geometry figure: every layer of every model as a point (R_em, √D_em) at the
/// largest training-set size, coloured by model, over iso-error lines R_em √D_em = E_g.
pub fn radius_dimension_figure(rows: &[SpectralRow], target: &str) -> Result<String> {
    let points = at_largest_p(rows, target);
    let caption = format!(
        "{target}: error-mode geometry at p = {}",
        points.first().map_or(0, |r| r.p)
    );
    let err = plot_error(&caption);
    let finite = |v: f64| v.is_finite();
    let x_max = points
        .iter()
        .map(|r| r.radius)
        .filter(|v| finite(*v))
        .fold(0.0f64, f64::max)
        * 1.1
        + 1e-3;
    let y_max = points
        .iter()
        .map(|r| r.dimension.sqrt())
        .filter(|v| finite(*v))
        .fold(1.0f64, f64::max)
        * 1.1;
    let models = distinct(points.iter().map(|r| r.model.as_str()));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&caption, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(|e| err(e.to_string()))?;
        // Iso-error lines √D = E / R at five levels spanning the layers' errors.
        let errors: Vec<f64> = points
            .iter()
            .map(|r| r.theory)
            .filter(|v| finite(*v))
            .collect();
        let (lo, hi) = errors.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &e| {
            (lo.min(e), hi.max(e))
        });
        let levels: Vec<f64> = if lo.is_finite() && hi > 0.0 {
            (0..5)
                .map(|k| lo + (hi - lo) * k as f64 / 4.0)
                .filter(|&l| l > 0.0)
                .collect()
        } else {
            vec![]
        };
        let level_names: Vec<String> = levels.iter().map(|l| format!("{l:.2}")).collect();
        chart
            .configure_mesh()
            .x_desc(format!(
                "error-mode radius R_em (grey: E_g = R_em √D_em = {})",
                level_names.join(", ")
            ))
            .y_desc("√ error-mode dimension D_em")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for level in levels {
            let line: Vec<(f64, f64)> = (1..=400)
                .map(|i| x_max * i as f64 / 400.0)
                .map(|r| (r, level / r))
                .filter(|&(_, d)| d <= y_max)
                .collect();
            chart
                .draw_series(LineSeries::new(line, BLACK.mix(0.25).stroke_width(1)))
                .map_err(|e| err(e.to_string()))?;
        }
        for model in &models {
            let color = model_color(rows, model);
            let series: Vec<(f64, f64)> = points
                .iter()
                .filter(|r| r.model == *model && finite(r.radius) && finite(r.dimension))
                .map(|r| (r.radius, r.dimension.sqrt()))
                .collect();
            chart
                .draw_series(series.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(|e| err(e.to_string()))?
                .label(model.to_string())
                .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
        }
        finish_chart(&mut chart, &root, SeriesLabelPosition::UpperRight, &err)?;
    }
    Ok(svg)
}

/// Learning curves: for each model, the layer with the lowest theoretical error at the
/// largest training-set size, its theory curve (line) and simulation (points) against p.
pub fn learning_curves_figure(rows: &[SpectralRow], target: &str) -> Result<String> {
    let caption = format!("{target}: learning curves of each model's best layer");
    let err = plot_error(&caption);
    let last = at_largest_p(rows, target);
    let models = distinct(last.iter().map(|r| r.model.as_str()));
    let best: Vec<(&str, &str)> = models
        .iter()
        .filter_map(|m| {
            last.iter()
                .filter(|r| r.model == *m && r.theory.is_finite())
                .min_by(|a, b| a.theory.total_cmp(&b.theory))
                .map(|r| (*m, r.layer.as_str()))
        })
        .collect();
    let curve = |model: &str, layer: &str| {
        let mut c: Vec<&SpectralRow> = rows
            .iter()
            .filter(|r| r.target == target && r.model == model && r.layer == layer)
            .collect();
        c.sort_by_key(|r| r.p);
        c
    };
    let p_max = last.first().map_or(1, |r| r.p).max(1) as f64;
    let y_max = best
        .iter()
        .flat_map(|(m, l)| curve(m, l))
        .flat_map(|r| [Some(r.theory), r.empirical])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.1f64, f64::max)
        .min(2.0)
        * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&caption, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..p_max * 1.02, 0f64..y_max)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("training stimuli p")
            .y_desc("E_g(p): theory (line), simulation (points)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (model, layer) in &best {
            let color = model_color(rows, model);
            let points = curve(model, layer);
            let theory: Vec<(f64, f64)> = points
                .iter()
                .map(|r| (r.p as f64, r.theory.min(y_max)))
                .collect();
            chart
                .draw_series(LineSeries::new(theory, color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(format!("{model} {layer}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .iter()
                        .filter_map(|r| Some((r.p as f64, r.empirical?.min(y_max))))
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| err(e.to_string()))?;
        }
        finish_chart(&mut chart, &root, SeriesLabelPosition::UpperRight, &err)?;
    }
    Ok(svg)
}
