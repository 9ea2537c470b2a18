//! The run report: one self-contained HTML file (inline CSS and SVG, nothing fetched at view
//! time) with the leaderboard, the figures and the run manifest.

use std::path::Path;

use crate::atomic::write_atomically;
use crate::comparison_figures::{
    dot_plot_svg, layer_panels_svg, matrix_html, rule_legend, significance_matrix_svg,
};
use crate::error::Result;
use crate::geometry::{
    GeometryMeasure, GeometryRow, JacobianRow, geometry_by_layer, jacobian_alignment_curves,
};
use crate::leaderboard::Leaderboard;
use crate::plots::{RdmPanel, rdm_heatmap};
use crate::rows::ScoreRow;
use crate::spectral::SpectralRow;

/// What goes into a report.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    /// Title at the top.
    pub title: String,
    /// Every scored row.
    pub rows: Vec<ScoreRow>,
    /// The leaderboard with intervals and tests (default: built from `rows`, without them).
    pub leaderboard: Option<Leaderboard>,
    /// Model and brain RDMs to show, in pairs or alone.
    pub rdms: Vec<RdmPanel>,
    /// Capacity and dimensionality per layer (empty: no geometry section).
    pub geometry: Vec<GeometryRow>,
    /// Jacobian–manifold alignment per layer and k.
    pub jacobian: Vec<JacobianRow>,
    /// The spectral theory of neural prediction per model layer and response target.
    pub spectral: Vec<SpectralRow>,
    /// The run manifest (YAML), shown verbatim.
    pub manifest: String,
}

/// Renders the report.
pub fn render(inputs: &ReportInputs) -> Result<String> {
    let board = inputs
        .leaderboard
        .clone()
        .unwrap_or_else(|| Leaderboard::from_rows(&inputs.rows));
    let mut body = String::new();
    body.push_str(&format!("<h1>{}</h1>\n", escape(&inputs.title)));
    let rules: Vec<&str> = board.entries.iter().map(|e| e.row.rule.as_str()).collect();
    body.push_str(&rule_legend(&rules));
    body.push_str("<h2 id=\"matrix\">Models × benchmarks</h2>\n");
    body.push_str(&matrix_html(&board));
    body.push_str(
        "<p class=\"note\">Score of each model's chosen layer (normalised where the benchmark has \
         a ceiling, raw otherwise; the mean over training seeds), its 95 % bootstrap interval \
         below it, shaded by rank within the column. ★ not distinguishable from the \
         benchmark's best; ▽ not significantly above the untrained network of the same \
         architecture. Region and overall columns average the scores over benchmarks.</p>\n",
    );
    let mut benchmarks: Vec<&str> = board
        .entries
        .iter()
        .map(|e| e.row.benchmark.as_str())
        .collect();
    benchmarks.sort_unstable();
    benchmarks.dedup();
    body.push_str("<h2 id=\"intervals\">Scores with 95 % intervals</h2>\n<div class=\"grid\">");
    for b in &benchmarks {
        body.push_str(&format!("<figure>{}</figure>", dot_plot_svg(&board, b)));
    }
    body.push_str(
        "</div>\n<p class=\"note\">Best first; whiskers are the bootstrap intervals; dashed \
         lines mark the untrained (grey) and pretrained (black) models.</p>\n",
    );
    if !board.pairwise.is_empty() {
        body.push_str("<h2 id=\"pairwise\">Which differences are real</h2>\n<div class=\"grid\">");
        for b in &benchmarks {
            body.push_str(&format!(
                "<figure>{}</figure>",
                significance_matrix_svg(&board, b)
            ));
        }
        body.push_str("</div>\n");
    }
    body.push_str("<h2 id=\"leaderboard\">Leaderboard</h2>\n");
    body.push_str(&leaderboard_html(&board));
    body.push_str("<h2 id=\"layers\">Scores by layer</h2>\n<div class=\"grid\">");
    for b in &benchmarks {
        for panel in layer_panels_svg(&inputs.rows, b) {
            body.push_str(&format!("<figure>{panel}</figure>"));
        }
    }
    body.push_str(
        "</div>\n<p class=\"note\">One line per model (the mean over its training seeds), \
         coloured by rule; one panel per architecture.</p>\n",
    );
    if !inputs.rdms.is_empty() {
        body.push_str(
            "<h2 id=\"rdms\">Representational dissimilarity matrices</h2>\n<div class=\"grid\">",
        );
        for panel in &inputs.rdms {
            body.push_str("<figure>");
            body.push_str(&rdm_heatmap(panel)?);
            body.push_str("</figure>");
        }
        body.push_str(
            "</div>\n<p class=\"note\">Dissimilarities are shown as ranks (dark: similar, \
             yellow: dissimilar), in the stimuli's order.</p>\n",
        );
    }
    body.push_str(&geometry_html(&inputs.geometry, &inputs.jacobian)?);
    body.push_str(&spectral_html(&inputs.spectral)?);
    body.push_str("<h2 id=\"all-layers\">All layers</h2>\n");
    body.push_str(&rows_html(&inputs.rows));
    body.push_str("<h2 id=\"manifest\">Run manifest</h2>\n<pre>");
    body.push_str(&escape(&inputs.manifest));
    body.push_str("</pre>\n");
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(&inputs.title)
    ))
}

/// The population-geometry section: capacity and dimension by layer per stimulus set and
/// architecture, and Jacobian alignment curves per architecture and layer.
fn geometry_html(geometry: &[GeometryRow], jacobian: &[JacobianRow]) -> Result<String> {
    let mut html = String::new();
    if geometry.is_empty() && jacobian.is_empty() {
        return Ok(html);
    }
    html.push_str("<h2 id=\"geometry\">Population geometry</h2>\n<div class=\"grid\">");
    let mut panels: Vec<(&str, &str)> = geometry
        .iter()
        .map(|r| (r.stimuli.as_str(), r.architecture.as_str()))
        .collect();
    panels.sort_unstable();
    panels.dedup();
    for (stimuli, architecture) in panels {
        for measure in [GeometryMeasure::Capacity, GeometryMeasure::Dimension] {
            html.push_str("<figure>");
            html.push_str(&geometry_by_layer(
                geometry,
                stimuli,
                architecture,
                measure,
            )?);
            html.push_str("</figure>");
        }
    }
    let mut layers: Vec<(&str, usize, &str)> = jacobian
        .iter()
        .map(|r| (r.architecture.as_str(), r.layer_index, r.layer.as_str()))
        .collect();
    layers.sort_unstable();
    layers.dedup();
    for (architecture, _, layer) in layers {
        html.push_str("<figure>");
        html.push_str(&jacobian_alignment_curves(jacobian, architecture, layer)?);
        html.push_str("</figure>");
    }
    html.push_str(
        "</div>\n<p class=\"note\">Manifold capacity and anchor dimension (mean-field theory, \
         κ = 0) of each layer's class manifolds; Jacobian alignment is the share of \
         |∂logits/∂activity|² within the top-k principal components of the layer's activity, \
         against k / units for a random subspace (dashed). Tables: geometry.csv, \
         jacobian_alignment.csv.</p>\n",
    );
    Ok(html)
}

/// The spectral-theory section: per response target, the error-mode geometry of every
/// layer and the learning curves of each model's best layer.
fn spectral_html(rows: &[SpectralRow]) -> Result<String> {
    let mut html = String::new();
    if rows.is_empty() {
        return Ok(html);
    }
    html.push_str(
        "<h2 id=\"spectral\">Spectral theory of neural prediction</h2>\n<div class=\"grid\">",
    );
    for target in crate::plots::distinct(rows.iter().map(|r| r.target.as_str())) {
        for figure in [
            crate::spectral::radius_dimension_figure(rows, target)?,
            crate::spectral::learning_curves_figure(rows, target)?,
        ] {
            html.push_str("<figure>");
            html.push_str(&figure);
            html.push_str("</figure>");
        }
    }
    html.push_str(
        "</div>\n<p class=\"note\">Ridge regression from each layer to the responses, decomposed \
         over the eigenvectors of the layer's Gram matrix (Canatar, Feather, Wakhloo &amp; Chung \
         2023): E_g(p), the normalised error with p training stimuli, is the sum of the error \
         modes; their radius R_em and dimension D_em give E_g = R_em √D_em (grey: iso-error \
         lines). Layers with equal error can differ in geometry. Table: spectral.csv.</p>\n",
    );
    Ok(html)
}

/// Renders and writes the report atomically.
pub fn write_report(path: &Path, inputs: &ReportInputs) -> Result<()> {
    write_atomically(path, render(inputs)?.as_bytes())
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}\
th{background:#f0f0f0}.grid{display:flex;flex-wrap:wrap;gap:1em}\
figure{margin:0}.legend span{margin-right:1.2em;white-space:nowrap}\
.legend i,i.swatch{display:inline-block;width:0.9em;height:0.9em;margin-right:0.3em;vertical-align:middle}\
table.matrix td{min-width:5em}td.num{white-space:nowrap}figcaption,.note{font-size:0.85em;color:#555}\
pre{background:#f7f7f7;padding:1em;overflow-x:auto;font-size:0.8em}";

fn leaderboard_html(board: &Leaderboard) -> String {
    let mut html = String::from(
        "<table><tr><th>benchmark</th><th>region</th><th>metric</th><th>model</th><th>rule</th><th>layer</th><th>seeds</th><th>score</th><th>95 % CI</th><th>raw</th><th>ceiling</th><th>normalisation</th><th>tied with best</th><th>above untrained</th></tr>\n",
    );
    let flag = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    };
    for e in &board.entries {
        let r = &e.row;
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td>{}<td>{}</td><td>{}</td></tr>\n",
            escape(&r.benchmark),
            escape(&r.region),
            escape(&r.metric),
            escape(&r.model),
            escape(&r.rule),
            escape(&r.layer),
            e.n_seeds,
            e.headline(),
            e.ci95
                .map_or("–".into(), |[lo, hi]| format!("[{lo:.3}, {hi:.3}]")),
            r.raw,
            num(r.ceiling),
            normalization_cell(r),
            flag(e.tied_with_best),
            flag(e.above_untrained),
        ));
    }
    html.push_str("</table>\n");
    if let Some(note) = &board.statistics {
        html.push_str(&format!(
            "<p class=\"note\">{} {}</p>\n",
            escape(&note.method),
            escape(&note.family)
        ));
    }
    html
}

/// The normalisation, or "none" with the reason on hover.
fn normalization_cell(row: &ScoreRow) -> String {
    match &row.normalization {
        Some(formula) => format!("<td>{}</td>", escape(formula)),
        None => format!(
            "<td title=\"{}\">none</td>",
            escape(
                row.ceiling_method
                    .trim_start_matches("none")
                    .trim_start_matches([' ', '(', ':'])
                    .trim_end_matches(')')
            )
        ),
    }
}

fn rows_html(rows: &[ScoreRow]) -> String {
    let mut html = String::from(
        "<table><tr><th>model</th><th>benchmark</th><th>layer</th><th>selection score</th><th>raw</th><th>normalised</th><th>chosen</th></tr>\n",
    );
    for r in rows {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            escape(&r.model),
            escape(&r.benchmark),
            escape(&r.layer),
            r.selection_score,
            r.raw,
            num(r.normalized),
            if r.selected { "✔" } else { "" }
        ));
    }
    html.push_str("</table>\n");
    html
}

fn num(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.4}"))
}

/// Escapes text for HTML (and SVG).
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
