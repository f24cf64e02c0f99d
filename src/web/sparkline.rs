//! Sparklines as inline SVG drawn on the server: a polyline over a fixed time span, no script, no
//! chart library. Owns only the geometry; the numbers come from the wallboard's history.

use maud::{html, Markup};

/// Width and height of a sparkline, px.
const W: f64 = 120.0;
const H: f64 = 24.0;

/// A sparkline of `points` (time ms, value) over `[from_ms, to_ms]`, values scaled to
/// `[0, max]` (values above `max` are drawn at the top). `None` values break the line.
pub fn sparkline(
    points: &[(i64, Option<f64>)],
    from_ms: i64,
    to_ms: i64,
    max: f64,
    class: &str,
    label: &str,
) -> Markup {
    let span = (to_ms - from_ms).max(1) as f64;
    let max = if max > 0.0 { max } else { 1.0 };
    let mut runs: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (t, v) in points {
        match v {
            Some(v) if v.is_finite() => {
                let x = ((*t - from_ms) as f64 / span).clamp(0.0, 1.0) * W;
                let y = H - (v / max).clamp(0.0, 1.0) * (H - 2.0) - 1.0;
                cur.push_str(&format!("{x:.1},{y:.1} "));
            }
            _ => {
                if !cur.is_empty() {
                    runs.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    html! {
        svg.spark class=(class) width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(label) {
            title { (label) }
            rect x="0" y="0" width=(W) height=(H) fill="#f0f2f5" {}
            @for r in &runs {
                polyline points=(r.trim_end()) fill="none" stroke="currentColor" stroke-width="1.5" {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_scale_into_the_box_and_gaps_split_the_line() {
        let svg = sparkline(
            &[
                (0, Some(0.0)),
                (50, Some(1.0)),
                (60, None),
                (100, Some(2.0)),
            ],
            0,
            100,
            1.0,
            "occ",
            "occupancy",
        )
        .into_string();
        assert!(svg.contains("points=\"0.0,23.0 60.0,1.0\""), "{svg}");
        // The value above max is drawn at the top, as its own run after the gap.
        assert!(svg.contains("points=\"120.0,1.0\""), "{svg}");
    }
}
