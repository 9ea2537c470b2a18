//! Population-geometry tables and figures: manifold capacity and dimensionality per layer, and
//! the alignment of each layer's Jacobian with its activity manifold.

use std::path::Path;

use plotters::prelude::*;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ReportError, Result};
use crate::plots::{PALETTE, depth_curves, distinct, finish_chart, plot_error};
use crate::table::write_table;

/// Geometry of one layer of one model on one labelled stimulus set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeometryRow {
    /// Model name.
    pub model: String,
    /// Learning rule.
    pub rule: String,
    /// Architecture.
    pub architecture: String,
    /// Layer.
    pub layer: String,
    /// Position of the layer from the input (0-based).
    pub layer_index: usize,
    /// The stimuli and what labels their manifolds.
    pub stimuli: String,
    /// Stimuli.
    pub n_stimuli: usize,
    /// Manifolds (classes).
    pub n_classes: usize,
    /// Mean-field manifold capacity at κ = 0.
    pub capacity: f64,
    /// Mean manifold anchor radius.
    pub radius: f64,
    /// Mean manifold anchor dimension.
    pub dimension: f64,
    /// Mean absolute correlation between class centres.
    pub center_correlation: f64,
    /// Rank of the centres' shared structure projected out before the capacity is measured.
    pub center_rank: usize,
    /// Mean absolute correlation between class centres once that structure is projected out.
    pub residual_center_correlation: f64,
    /// Participation ratio of the whole representation.
    pub participation_ratio: f64,
    /// Principal components for 90 % of the variance.
    pub dimension_90: usize,
    /// Two-NN intrinsic dimension.
    pub two_nn_dimension: f64,
    /// Seed of the capacity samples.
    pub seed: u64,
}

/// Alignment of one layer's Jacobian with its activity's top-k principal subspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JacobianRow {
    /// Model name.
    pub model: String,
    /// Learning rule.
    pub rule: String,
    /// Architecture.
    pub architecture: String,
    /// Layer.
    pub layer: String,
    /// Position of the layer from the input (0-based).
    pub layer_index: usize,
    /// Size of the principal subspace.
    pub k: usize,
    /// Fraction of |∂output/∂activity|²_F in that subspace.
    pub captured: f64,
    /// The fraction a random k-dimensional subspace captures on average: k / units.
    pub random: f64,
}

/// Writes `geometry.{parquet,csv,json}` and `jacobian_alignment.{parquet,csv,json}` into `dir`
/// (nothing for an empty table), each atomically.
pub fn write_geometry(
    dir: &Path,
    geometry: &[GeometryRow],
    jacobian: &[JacobianRow],
) -> Result<()> {
    if !geometry.is_empty() {
        let text = |f: fn(&GeometryRow) -> &str| {
            geometry
                .iter()
                .map(|r| f(r).to_string())
                .collect::<Vec<_>>()
        };
        let float = |f: fn(&GeometryRow) -> f64| geometry.iter().map(f).collect::<Vec<_>>();
        let count =
            |f: fn(&GeometryRow) -> usize| geometry.iter().map(|r| f(r) as u32).collect::<Vec<_>>();
        let columns = vec![
            Column::new("model".into(), text(|r| &r.model)),
            Column::new("rule".into(), text(|r| &r.rule)),
            Column::new("architecture".into(), text(|r| &r.architecture)),
            Column::new("layer".into(), text(|r| &r.layer)),
            Column::new("layer_index".into(), count(|r| r.layer_index)),
            Column::new("stimuli".into(), text(|r| &r.stimuli)),
            Column::new("n_stimuli".into(), count(|r| r.n_stimuli)),
            Column::new("n_classes".into(), count(|r| r.n_classes)),
            Column::new("capacity".into(), float(|r| r.capacity)),
            Column::new("radius".into(), float(|r| r.radius)),
            Column::new("dimension".into(), float(|r| r.dimension)),
            Column::new("center_correlation".into(), float(|r| r.center_correlation)),
            Column::new("center_rank".into(), count(|r| r.center_rank)),
            Column::new(
                "residual_center_correlation".into(),
                float(|r| r.residual_center_correlation),
            ),
            Column::new(
                "participation_ratio".into(),
                float(|r| r.participation_ratio),
            ),
            Column::new("dimension_90".into(), count(|r| r.dimension_90)),
            Column::new("two_nn_dimension".into(), float(|r| r.two_nn_dimension)),
            Column::new(
                "seed".into(),
                geometry.iter().map(|r| r.seed).collect::<Vec<_>>(),
            ),
        ];
        let df = DataFrame::new(geometry.len(), columns)
            .map_err(|e| ReportError::Table(e.to_string()))?;
        write_table(dir, "geometry", df, geometry)?;
    }
    if !jacobian.is_empty() {
        let text = |f: fn(&JacobianRow) -> &str| {
            jacobian
                .iter()
                .map(|r| f(r).to_string())
                .collect::<Vec<_>>()
        };
        let columns = vec![
            Column::new("model".into(), text(|r| &r.model)),
            Column::new("rule".into(), text(|r| &r.rule)),
            Column::new("architecture".into(), text(|r| &r.architecture)),
            Column::new("layer".into(), text(|r| &r.layer)),
            Column::new(
                "layer_index".into(),
                jacobian
                    .iter()
                    .map(|r| r.layer_index as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "k".into(),
                jacobian.iter().map(|r| r.k as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "captured".into(),
                jacobian.iter().map(|r| r.captured).collect::<Vec<_>>(),
            ),
            Column::new(
                "random".into(),
                jacobian.iter().map(|r| r.random).collect::<Vec<_>>(),
            ),
        ];
        let df = DataFrame::new(jacobian.len(), columns)
            .map_err(|e| ReportError::Table(e.to_string()))?;
        write_table(dir, "jacobian_alignment", df, jacobian)?;
    }
    Ok(())
}

/// One measure of the geometry table against relative depth, one line per model, for the
/// rows of one stimulus set and architecture.
pub fn geometry_by_layer(
    rows: &[GeometryRow],
    stimuli: &str,
    architecture: &str,
    measure: GeometryMeasure,
) -> Result<String> {
    let points: Vec<(&str, usize, f64)> = rows
        .iter()
        .filter(|r| r.stimuli == stimuli && r.architecture == architecture)
        .map(|r| {
            let value = match measure {
                GeometryMeasure::Capacity => r.capacity,
                GeometryMeasure::Dimension => r.dimension,
            };
            (r.model.as_str(), r.layer_index, value)
        })
        .collect();
    let caption = format!("{} by layer: {architecture} on {stimuli}", measure.name());
    depth_curves(&caption, measure.axis(), &points)
}

/// Which geometry measure a figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryMeasure {
    /// Manifold capacity α_M.
    Capacity,
    /// Manifold anchor dimension D_M.
    Dimension,
}

impl GeometryMeasure {
    fn name(self) -> &'static str {
        match self {
            GeometryMeasure::Capacity => "manifold capacity",
            GeometryMeasure::Dimension => "manifold dimension",
        }
    }

    fn axis(self) -> &'static str {
        match self {
            GeometryMeasure::Capacity => "capacity α_M (κ = 0)",
            GeometryMeasure::Dimension => "anchor dimension D_M",
        }
    }
}

/// Captured Jacobian fraction against k for one layer of every model of an architecture, with
/// the random-subspace expectation as a dashed line.
pub fn jacobian_alignment_curves(
    rows: &[JacobianRow],
    architecture: &str,
    layer: &str,
) -> Result<String> {
    let rows: Vec<&JacobianRow> = rows
        .iter()
        .filter(|r| r.architecture == architecture && r.layer == layer)
        .collect();
    let max_k = rows.iter().map(|r| r.k).max().unwrap_or(1).max(2) as f64;
    let title = format!("Jacobian–manifold alignment: {architecture} {layer}");
    let err = plot_error(&title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 340)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((1f64..max_k).log_scale(), 0f64..1.05f64)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("k (top principal components of the layer's activity)")
            .y_desc("fraction of |J|²_F captured")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let models = distinct(rows.iter().map(|r| r.model.as_str()));
        for (c, model) in models.iter().enumerate() {
            let color = PALETTE[c % PALETTE.len()];
            let mut points: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.model == *model)
                .map(|r| (r.k as f64, r.captured))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(model.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        if let Some(first) = models.first() {
            let mut baseline: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.model == *first)
                .map(|r| (r.k as f64, r.random))
                .collect();
            baseline.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(DashedLineSeries::new(baseline, 6, 4, BLACK.stroke_width(1)))
                .map_err(|e| err(e.to_string()))?
                .label("random subspace (k / units)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK));
        }
        finish_chart(&mut chart, &root, SeriesLabelPosition::LowerRight, &err)?;
    }
    Ok(svg)
}
