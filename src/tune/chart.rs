//! Draws `tune`'s chart as a self-contained SVG by hand: wall time and CPU utilization
//! against the thread setting. A chart of a few points and two axes does not justify a
//! plotting crate, and plain SVG opens in any browser and renders on GitHub.

use std::fmt::Write as _;

use super::analysis::TuneReport;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;
const WALL: &str = "#1f77b4";
const CPU: &str = "#d62728";
const PICK: &str = "#2ca02c";

/// Escapes text for an SVG text node or attribute.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A round step for about five ticks up to `max`: 1, 2 or 5 times a power of ten.
pub fn tick_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().find(|m| m * power >= raw).unwrap_or(10.0);
    step * power
}

// Long on purpose: one SVG drawn in order (axes, grid, series, legend), which reads
// best as the picture it draws; the pieces share the scales set at the top.
/// The chart. The settings are spaced evenly along the x axis, in the report's order,
/// since the default sweep doubles the count at each step.
pub fn svg(report: &TuneReport) -> String {
    let rows = &report.rows;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max_wall = rows.iter().map(|r| r.max_wall_s).fold(0.0, f64::max);
    let step = tick_step(max_wall);
    let top_wall = (max_wall / step).ceil().max(1.0) * step;
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / rows.len().max(1) as f64;
    let y_wall = |s: f64| TOP + plot_h * (1.0 - s / top_wall);
    let y_cpu = |u: f64| TOP + plot_h * (1.0 - u.clamp(0.0, 1.0));
    let bottom = TOP + plot_h;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
    let title = format!(
        "cargo tempo tune: {} tests, profile {} ({}, {} cores)",
        report.tests, report.profile, report.engine, report.cores
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(&title)
    );

    // Grid and the left axis (wall time).
    let mut v = 0.0;
    while v <= top_wall + step / 2.0 {
        let y = y_wall(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{WALL}">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            format_seconds(v, step)
        );
        v += step;
    }
    // The right axis (CPU utilization), 0 to 100%.
    for pct in (0..=100).step_by(20) {
        let y = y_cpu(f64::from(pct) / 100.0);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" fill="{CPU}">{pct}%</text>"#, LEFT + plot_w + 6.0, y + 4.0);
    }
    let _ =
        writeln!(s, r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##);
    let _ = writeln!(
        s,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" fill="{WALL}">median wall time (s), min to max</text>"#,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="{CPU}">CPU utilization</text>"#,
        WIDTH - 18.0,
        TOP + plot_h / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">test threads</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 24.0
    );

    // The x labels, the min-max whiskers, and both lines.
    let mut wall_points = Vec::new();
    let mut cpu_points = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let cx = x(i);
        let _ = writeln!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            bottom + 18.0,
            escape(&row.setting)
        );
        let _ = writeln!(
            s,
            r#"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="{WALL}" stroke-width="2" opacity="0.5"/>"#,
            y_wall(row.min_wall_s),
            y_wall(row.max_wall_s)
        );
        wall_points.push(format!("{cx:.1},{:.1}", y_wall(row.median_wall_s)));
        cpu_points.push(format!("{cx:.1},{:.1}", y_cpu(row.cpu_utilization)));
    }
    let _ =
        writeln!(s, r#"<polyline points="{}" fill="none" stroke="{WALL}" stroke-width="2.5"/>"#, wall_points.join(" "));
    let _ = writeln!(
        s,
        r#"<polyline points="{}" fill="none" stroke="{CPU}" stroke-width="2" stroke-dasharray="6 4"/>"#,
        cpu_points.join(" ")
    );
    for (i, row) in rows.iter().enumerate() {
        let cx = x(i);
        let _ = writeln!(
            s,
            r#"<circle cx="{cx:.1}" cy="{:.1}" r="4" fill="{WALL}"><title>{} threads: median {:.3}s (min {:.3}s, max {:.3}s)</title></circle>"#,
            y_wall(row.median_wall_s),
            escape(&row.setting),
            row.median_wall_s,
            row.min_wall_s,
            row.max_wall_s
        );
        let cy = y_cpu(row.cpu_utilization);
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{CPU}"><title>{} threads: {:.0}% CPU utilization, {:.2} busy cores</title></rect>"#,
            cx - 3.5,
            cy - 3.5,
            escape(&row.setting),
            100.0 * row.cpu_utilization,
            row.busy_cores
        );
    }

    // The recommendation.
    if let Some(rec) = &report.recommendation
        && let Some(i) = rows.iter().position(|r| r.threads == Some(rec.threads))
    {
        let (cx, cy) = (x(i), y_wall(rows[i].median_wall_s));
        let _ =
            writeln!(s, r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="9" fill="none" stroke="{PICK}" stroke-width="2.5"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" fill="{PICK}">recommended: {}</text>"#,
            (cy - 14.0).max(TOP + 12.0),
            rec.threads
        );
    }

    // The legend.
    let ly = HEIGHT - 8.0;
    let _ = writeln!(
        s,
        r#"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{WALL}" stroke-width="2.5"/><text x="{:.1}" y="{ly:.1}">median wall time</text>"#,
        ly - 4.0,
        LEFT + 24.0,
        ly - 4.0,
        LEFT + 30.0
    );
    let _ = writeln!(
        s,
        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{CPU}" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{ly:.1}">CPU utilization (CPU ÷ (wall × cores))</text>"#,
        LEFT + 180.0,
        ly - 4.0,
        LEFT + 204.0,
        ly - 4.0,
        LEFT + 210.0
    );
    s.push_str("</svg>\n");
    s
}

/// A tick label: as many decimals as the step needs.
fn format_seconds(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::super::{Sample, Setting};
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(10.0), 2.0);
        assert_eq!(tick_step(1.3), 0.5);
        assert_eq!(tick_step(0.0), 1.0);
        assert!((tick_step(0.27) - 0.1).abs() < 1e-12);
        assert_eq!(format_seconds(0.5, 0.1), "0.5");
        assert_eq!(format_seconds(4.0, 2.0), "4");
    }

    #[test]
    fn the_chart_is_one_svg_element_with_a_point_per_setting() {
        let samples = [(1, 2.0), (2, 1.0), (4, 1.02)]
            .map(|(n, w)| (Setting::Threads(n), vec![Sample { wall_s: w, cpu_s: 0.2 }]))
            .to_vec();
        let report = TuneReport::new("tempo", "a<b", 2, 8, 1, 0.05, samples);
        let svg = svg(&report);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 4, "three medians and the recommendation ring");
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"), "text is escaped");
        assert!(svg.contains("recommended: 2"), "{svg}");
    }
}
