//! The report's comparison figures, built around the leaderboard's intervals and tests: the
//! model × benchmark matrix (HTML), per-benchmark dot plots with interval whiskers, pairwise
//! significance matrices, and layer curves as small multiples, all in plain SVG. Every
//! figure colours a model by its rule with [`rule_color`]; legends sit outside the data.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::html::escape;
use crate::leaderboard::{Entry, Leaderboard};
use crate::rows::ScoreRow;

/// Rules in the order the report lists them; others follow alphabetically.
const RULE_ORDER: [&str; 11] = [
    "bp",
    "ss",
    "fa",
    "dfa",
    "nc",
    "nmnc",
    "dfc",
    "gevb",
    "pretrained",
    "untrained",
    "external",
];

/// One colour per rule, the same in every figure (colour-blind-safe hues for the rules, grey
/// for untrained, black for pretrained).
pub fn rule_color(rule: &str) -> &'static str {
    match rule {
        "bp" => "#0072b2",
        "ss" => "#56b4e9",
        "fa" => "#e69f00",
        "dfa" => "#d55e00",
        "nc" => "#cc79a7",
        "nmnc" => "#882255",
        "dfc" => "#009e73",
        "gevb" => "#44aa99",
        "pretrained" => "#000000",
        "untrained" => "#999999",
        _ => "#8c564b",
    }
}

fn rule_rank(rule: &str) -> usize {
    RULE_ORDER
        .iter()
        .position(|r| *r == rule)
        .unwrap_or(RULE_ORDER.len())
}

/// The rules of the run as a colour key (HTML), shared by every figure.
pub fn rule_legend(rules: &[&str]) -> String {
    let mut rules = rules.to_vec();
    rules.sort_by_key(|r| (rule_rank(r), r.to_string()));
    rules.dedup();
    let mut html = String::from("<p class=\"legend\">");
    for r in rules {
        let _ = write!(
            html,
            "<span><i style=\"background:{}\"></i>{}</span>",
            rule_color(r),
            escape(r)
        );
    }
    html.push_str("</p>\n");
    html
}

/// Models in report order: by rule, then name.
fn model_order(board: &Leaderboard) -> Vec<(String, String)> {
    let mut models: Vec<(String, String)> = board
        .entries
        .iter()
        .map(|e| (e.row.rule.clone(), e.row.model.clone()))
        .collect();
    models.sort_by(|a, b| (rule_rank(&a.0), &a.0, &a.1).cmp(&(rule_rank(&b.0), &b.0, &b.1)));
    models.dedup();
    models
}

fn benchmarks(board: &Leaderboard) -> Vec<(String, String)> {
    let mut b: Vec<(String, String)> = board
        .entries
        .iter()
        .map(|e| (e.row.benchmark.clone(), e.row.region.clone()))
        .collect();
    b.sort();
    b.dedup();
    b
}

/// The model × benchmark matrix: rows are models grouped by rule, columns the benchmarks,
/// then each region's mean and the overall mean of the headline scores; cells are shaded by
/// their rank within the column and show the interval; ★ marks "tied with the best",
/// ▽ "not above the untrained network".
pub fn matrix_html(board: &Leaderboard) -> String {
    let models = model_order(board);
    let benchmarks = benchmarks(board);
    let mut regions: Vec<&str> = benchmarks.iter().map(|b| b.1.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    let entry = |model: &str, bench: &str| {
        board
            .entries
            .iter()
            .find(|e| e.row.model == model && e.row.benchmark == bench)
    };
    let range = |values: &[f64]| {
        values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let mean_over = |model: &str, benches: &[&str]| -> Option<f64> {
        let v: Vec<f64> = benches
            .iter()
            .filter_map(|b| entry(model, b).map(Entry::headline))
            .filter(|v| v.is_finite())
            .collect();
        (v.len() == benches.len() && !v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut html = String::from("<table class=\"matrix\"><tr><th>rule</th><th>model</th>");
    for (b, region) in &benchmarks {
        let _ = write!(
            html,
            "<th>{}<br><small>{}</small></th>",
            escape(b),
            escape(region)
        );
    }
    for r in &regions {
        let _ = write!(html, "<th>{} mean</th>", escape(r));
    }
    html.push_str("<th>overall mean</th></tr>\n");
    let column_ranges: Vec<(f64, f64)> = benchmarks
        .iter()
        .map(|(b, _)| {
            range(
                &models
                    .iter()
                    .filter_map(|(_, m)| entry(m, b).map(Entry::headline))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let region_benches = |region: &str| -> Vec<&str> {
        benchmarks
            .iter()
            .filter(|b| b.1 == region)
            .map(|b| b.0.as_str())
            .collect()
    };
    let all: Vec<&str> = benchmarks.iter().map(|b| b.0.as_str()).collect();
    let summary_ranges: Vec<(f64, f64)> = regions
        .iter()
        .map(|r| region_benches(r))
        .chain(std::iter::once(all.clone()))
        .map(|benches| {
            range(
                &models
                    .iter()
                    .filter_map(|(_, m)| mean_over(m, &benches))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    for (rule, model) in &models {
        let _ = write!(
            html,
            "<tr><td><i class=\"swatch\" style=\"background:{}\"></i>{}</td><td>{}</td>",
            rule_color(rule),
            escape(rule),
            escape(model)
        );
        for ((b, _), &(lo, hi)) in benchmarks.iter().zip(&column_ranges) {
            match entry(model, b) {
                Some(e) => {
                    let mut marks = String::new();
                    if e.tied_with_best == Some(true) {
                        marks.push_str(" ★");
                    }
                    if e.above_untrained == Some(false) {
                        marks.push_str(" ▽");
                    }
                    let ci = e.ci95.map_or(String::new(), |[l, h]| {
                        format!("<br><small>[{l:.3}, {h:.3}]</small>")
                    });
                    let _ = write!(
                        html,
                        "<td class=\"num\" style=\"background:{}\">{:.3}{marks}{ci}</td>",
                        shade(e.headline(), lo, hi),
                        e.headline()
                    );
                }
                None => html.push_str("<td></td>"),
            }
        }
        for (benches, &(lo, hi)) in regions
            .iter()
            .map(|r| region_benches(r))
            .chain(std::iter::once(all.clone()))
            .zip(&summary_ranges)
        {
            match mean_over(model, &benches) {
                Some(v) => {
                    let _ = write!(
                        html,
                        "<td class=\"num\" style=\"background:{}\">{v:.3}</td>",
                        shade(v, lo, hi)
                    );
                }
                None => html.push_str("<td></td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    html
}

/// A light-to-dark blue background for `v` within `[lo, hi]`.
fn shade(v: f64, lo: f64, hi: f64) -> String {
    let t = if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    };
    // From #f7fbff (t = 0) to #6baed6 (t = 1): dark enough to rank, light enough to read.
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 107.0),
        mix(251.0, 174.0),
        mix(255.0, 214.0)
    )
}

/// A benchmark's entries as dots with interval whiskers, best at the top; dashed vertical
/// lines mark the untrained (grey) and pretrained (black) models' scores, each with its own
/// dash pattern, named in a legend below the axis.
pub fn dot_plot_svg(board: &Leaderboard, benchmark: &str) -> String {
    let mut entries: Vec<&Entry> = board
        .entries
        .iter()
        .filter(|e| e.row.benchmark == benchmark)
        .collect();
    entries.sort_by(|a, b| b.headline().total_cmp(&a.headline()));
    let references: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|e| matches!(e.row.rule.as_str(), "untrained" | "pretrained"))
        .collect();
    let (label_w, plot_w, row_h, top, legend_h) = (170.0, 300.0, 18.0, 34.0, 14.0);
    let height = top + row_h * entries.len() as f64 + 40.0 + legend_h * references.len() as f64;
    let values: Vec<f64> = entries
        .iter()
        .flat_map(|e| {
            let [l, h] = e.ci95.unwrap_or([e.headline(), e.headline()]);
            [l, h, e.headline()]
        })
        .filter(|v| v.is_finite())
        .collect();
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(0.01);
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * plot_w;
    let mut svg = svg_open(label_w + plot_w + 20.0, height);
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"16\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
        label_w + plot_w / 2.0,
        escape(benchmark)
    );
    let bottom = top + row_h * entries.len() as f64;
    for (i, e) in references.iter().enumerate() {
        let (color, dashes) = (rule_color(&e.row.rule), reference_dashes(i));
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"{color}\" stroke-dasharray=\"{dashes}\"><title>{3}</title></line>",
            x(e.headline()),
            top - 6.0,
            bottom,
            escape(&e.row.model)
        );
        let y = bottom + 40.0 + legend_h * (i as f64 + 0.5);
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" x2=\"{1:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"{dashes}\"/><text x=\"{2:.1}\" y=\"{3:.1}\" font-size=\"10\">{4}</text>",
            label_w,
            label_w + 30.0,
            label_w + 36.0,
            y + 3.5,
            escape(&e.row.model)
        );
    }
    for (i, e) in entries.iter().enumerate() {
        let y = top + row_h * (i as f64 + 0.5);
        let color = rule_color(&e.row.rule);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}{}</text>",
            label_w - 6.0,
            y + 4.0,
            escape(&e.row.model),
            if e.tied_with_best == Some(true) {
                " ★"
            } else {
                ""
            }
        );
        if let Some([l, h]) = e.ci95 {
            let _ = write!(
                svg,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>",
                x(l),
                x(h)
            );
        }
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>",
            x(e.headline())
        );
    }
    axis(
        &mut svg,
        lo,
        hi,
        label_w,
        plot_w,
        bottom,
        "score (normalised where a ceiling exists)",
    );
    svg.push_str("</svg>");
    svg
}

/// The dash pattern of the `i`-th reference line of a dot plot: the lines of several untrained
/// (or pretrained) models stay apart.
fn reference_dashes(i: usize) -> &'static str {
    const PATTERNS: [&str; 4] = ["4 3", "1 2", "8 3 2 3", "10 4"];
    PATTERNS[i % PATTERNS.len()]
}

/// A benchmark's pairwise tests as a matrix, models in score order: green where the row's
/// model is significantly above the column's, red where below, grey where no test separates
/// them (Holm-adjusted).
pub fn significance_matrix_svg(board: &Leaderboard, benchmark: &str) -> String {
    let mut entries: Vec<&Entry> = board
        .entries
        .iter()
        .filter(|e| e.row.benchmark == benchmark)
        .collect();
    entries.sort_by(|a, b| b.headline().total_cmp(&a.headline()));
    let n = entries.len();
    let (label_w, cell, top) = (170.0, 16.0, 120.0);
    // Room on the right for the last rotated column label, and for the key below.
    let width = (label_w + cell * n as f64 + 90.0).max(420.0);
    let mut svg = svg_open(width, top + cell * n as f64 + 54.0);
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"14\" font-size=\"13\">{}: pairwise tests</text>",
        escape(benchmark)
    );
    let status = |a: &str, b: &str| -> Option<i8> {
        board
            .pairwise
            .iter()
            .find(|p| {
                p.benchmark == benchmark && ((p.a == a && p.b == b) || (p.a == b && p.b == a))
            })
            .map(|p| match (p.significant, p.a == a) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => -1,
            })
    };
    for (i, e) in entries.iter().enumerate() {
        let y = top + cell * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            label_w - 4.0,
            y + cell * 0.75,
            escape(&e.row.model)
        );
        let cx = label_w + cell * (i as f64 + 0.6);
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(-60 {cx:.1} {:.1})\">{}</text>",
            top - 4.0,
            top - 4.0,
            escape(&e.row.model)
        );
        for (j, f) in entries.iter().enumerate() {
            let fill = if i == j {
                "#ffffff"
            } else {
                match status(&e.row.model, &f.row.model) {
                    Some(1) => "#1b9e77",
                    Some(-1) => "#d95f02",
                    Some(_) => "#e0e0e0",
                    None => "#ffffff",
                }
            };
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\"/>",
                label_w + cell * j as f64
            );
        }
    }
    let y = top + cell * n as f64 + 20.0;
    let mut lx = 4.0;
    for (fill, text) in [
        ("#1b9e77", "row above column"),
        ("#d95f02", "row below column"),
        ("#e0e0e0", "not distinguishable (Holm)"),
    ] {
        let _ = write!(
            svg,
            "<rect x=\"{lx}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{fill}\"/><text x=\"{}\" y=\"{y:.1}\" font-size=\"10\">{text}</text>",
            y - 9.0,
            lx + 14.0
        );
        lx += 120.0;
    }
    svg.push_str("</svg>");
    svg
}

/// Raw score against relative depth, one panel per architecture on one benchmark: one line
/// per model (the mean over its seeds), coloured by rule.
pub fn layer_panels_svg(rows: &[ScoreRow], benchmark: &str) -> Vec<String> {
    let rows: Vec<&ScoreRow> = rows.iter().filter(|r| r.benchmark == benchmark).collect();
    let mut by_arch: BTreeMap<&str, Vec<&ScoreRow>> = BTreeMap::new();
    for r in &rows {
        by_arch.entry(r.architecture.as_str()).or_default().push(r);
    }
    let (lo, hi) = rows
        .iter()
        .map(|r| r.raw)
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0.05f64), |(a, b), v| (a.min(v), b.max(v)));
    let hi = hi * 1.08;
    by_arch
        .into_iter()
        .map(|(arch, rows)| {
            let (left, plot_w, plot_h, top) = (46.0, 230.0, 150.0, 24.0);
            let mut svg = svg_open(left + plot_w + 12.0, top + plot_h + 40.0);
            let _ = write!(
                svg,
                "<text x=\"{}\" y=\"15\" font-size=\"12\" text-anchor=\"middle\">{} · {}</text>",
                left + plot_w / 2.0,
                escape(benchmark),
                escape(arch)
            );
            let mut models: Vec<(&str, &str)> = rows
                .iter()
                .map(|r| (r.rule.as_str(), r.model.as_str()))
                .collect();
            models.sort_by_key(|m| (rule_rank(m.0), m.0, m.1));
            models.dedup();
            let y = |v: f64| top + plot_h - (v - lo) / (hi - lo) * plot_h;
            for &(rule, model) in &models {
                // The mean over the model's seeds, layer by layer.
                let mut by_layer: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
                for r in rows.iter().filter(|r| r.model == model && r.raw.is_finite()) {
                    let e = by_layer.entry(r.layer_index).or_default();
                    e.0 += r.raw;
                    e.1 += 1;
                }
                let last = by_layer.keys().max().copied().unwrap_or(0).max(1) as f64;
                let path: Vec<String> = by_layer
                    .iter()
                    .map(|(&i, &(sum, n))| {
                        format!(
                            "{:.1},{:.1}",
                            left + i as f64 / last * plot_w,
                            y(sum / n as f64)
                        )
                    })
                    .collect();
                let _ = write!(
                    svg,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"><title>{}</title></polyline>",
                    path.join(" "),
                    rule_color(rule),
                    escape(model)
                );
            }
            let _ = write!(
                svg,
                "<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#444\"/>",
                top + plot_h
            );
            for t in ticks(lo, hi) {
                let _ = write!(
                    svg,
                    "<text x=\"{}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"end\">{t:.2}</text>",
                    left - 4.0,
                    y(t) + 3.0
                );
            }
            let _ = write!(
                svg,
                "<line x1=\"{left}\" x2=\"{right:.1}\" y1=\"{base:.1}\" y2=\"{base:.1}\" stroke=\"#444\"/><text x=\"{mid:.1}\" y=\"{label:.1}\" font-size=\"10\" text-anchor=\"middle\">relative depth (input → output); raw score</text>",
                right = left + plot_w,
                base = top + plot_h,
                mid = left + plot_w / 2.0,
                label = top + plot_h + 18.0
            );
            svg.push_str("</svg>");
            svg
        })
        .collect()
}

fn svg_open(width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\">"
    )
}

/// A horizontal axis under a dot plot with about five ticks.
fn axis(svg: &mut String, lo: f64, hi: f64, left: f64, width: f64, y: f64, label: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#444\"/>",
        left + width
    );
    for t in ticks(lo, hi) {
        let x = left + (t - lo) / (hi - lo) * width;
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{t:.2}</text>",
            y + 4.0,
            y + 14.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
        left + width / 2.0,
        y + 28.0,
        escape(label)
    );
}

/// Round tick values spanning `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * magnitude);
    let mut t = (lo / step).ceil() * step;
    let mut out = vec![];
    while t <= hi + 1e-12 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 1.0),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        let t = ticks(0.12, 0.57);
        assert!(t.first().unwrap() >= &0.12 && t.last().unwrap() <= &0.57 && t.len() >= 3);
    }

    fn entry(model: &str, rule: &str, raw: f64) -> Entry {
        Entry {
            row: crate::rows::synthetic_row(model, rule, "fc1", 1, raw),
            ci95: Some([raw - 0.02, raw + 0.02]),
            n_seeds: 1,
            seeds: vec![1],
            tied_with_best: None,
            above_untrained: None,
        }
    }

    /// With two untrained models, each reference line has its own dash pattern and the
    /// legend names the model drawn with it.
    #[test]
    fn every_reference_line_is_named_in_the_legend_with_its_own_dashes() {
        let board = Leaderboard {
            format: "test".into(),
            entries: vec![
                entry("bp-cifar-cnn", "bp", 0.36),
                entry("untrained-cifar-cnn", "untrained", 0.34),
                entry("untrained-cifar-vnn-mlp", "untrained", 0.28),
                entry("efficientnet_lite0", "pretrained", 0.45),
            ],
            statistics: None,
            pairwise: vec![],
            groups: vec![],
        };
        let svg = dot_plot_svg(&board, "cowley2023.V4-pls");
        let dashes: Vec<&str> = svg
            .split("stroke-dasharray=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        // Plot line and legend sample per reference model, in score order.
        assert_eq!(dashes.len(), 6, "{svg}");
        assert_eq!(dashes[0], dashes[1]);
        assert_eq!(dashes[2], dashes[3]);
        assert_eq!(dashes[4], dashes[5]);
        assert!(dashes[0] != dashes[2] && dashes[2] != dashes[4] && dashes[0] != dashes[4]);
        for name in [
            "efficientnet_lite0",
            "untrained-cifar-cnn",
            "untrained-cifar-vnn-mlp",
        ] {
            assert!(
                svg.contains(&format!("<title>{name}</title>"))
                    && svg.contains(&format!("font-size=\"10\">{name}</text>")),
                "{name} is not named by its line"
            );
        }
        let height: f64 = svg
            .split("height=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(height, 34.0 + 18.0 * 4.0 + 40.0 + 14.0 * 3.0);
    }

    #[test]
    fn every_rule_keeps_its_colour_and_rules_differ() {
        let rules = [
            "bp",
            "ss",
            "fa",
            "dfa",
            "nc",
            "nmnc",
            "dfc",
            "untrained",
            "pretrained",
        ];
        let mut colours: Vec<&str> = rules.iter().map(|r| rule_color(r)).collect();
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), rules.len());
    }
}
