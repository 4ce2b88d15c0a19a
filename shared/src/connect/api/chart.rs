//! Charts for the operator console, drawn on the server as SVG: no script, no stylesheet
//! (presentation attributes only, which the pages' Content-Security-Policy allows), and
//! nothing in them but numbers and dates we format, so nothing needs escaping. Each chart
//! is an image with a text alternative; the page shows the same numbers as a table.

use std::fmt::Write;

const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 120.0;
/// Room for the axis labels.
const TOP: f64 = 18.0;
const BOTTOM: f64 = 18.0;
const BAR_COLOUR: &str = "#2457c5";
const TEXT_COLOUR: &str = "#4a4f57";
/// Up to this many bars each carry their label; more, only the first and the last.
const EACH_LABELLED: usize = 4;

/// One bar: its label (a date, `MM-DD`) and value.
pub struct Bar {
    pub label: String,
    pub value: f64,
}

/// A bar chart of `bars`, oldest first; `unit` follows values in the labels ("", " %",
/// " ms"). `summary` is its text alternative.
pub fn bars(bars: &[Bar], unit: &str, summary: &str) -> String {
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let count = bars.len().max(1) as f64;
    let slot = WIDTH / count;
    let gap = (slot * 0.2).min(4.0);
    let plot = HEIGHT - TOP - BOTTOM;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}" focusable="false">"#,
        attribute(summary)
    );
    let _ = write!(
        svg,
        r#"<text x="0" y="12" font-size="11" fill="{TEXT_COLOUR}">max {}{unit}</text>"#,
        number(max)
    );
    for (i, b) in bars.iter().enumerate() {
        let h = if max > 0.0 { b.value / max * plot } else { 0.0 };
        // a zero shows as a hairline, so an empty day reads as a day
        let h = h.max(1.0);
        let x = i as f64 * slot + gap / 2.0;
        let y = TOP + plot - h;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{BAR_COLOUR}"><title>{}: {}{unit}</title></rect>"#,
            (slot - gap).max(1.0),
            attribute(&b.label),
            number(b.value)
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="0" y1="{0:.1}" x2="{WIDTH}" y2="{0:.1}" stroke="#c9ced6"/>"##,
        TOP + plot
    );
    if bars.len() <= EACH_LABELLED {
        for (i, b) in bars.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{HEIGHT}" font-size="11" text-anchor="middle" fill="{TEXT_COLOUR}">{}</text>"#,
                i as f64 * slot + slot / 2.0,
                attribute(&b.label)
            );
        }
    } else if let (Some(first), Some(last)) = (bars.first(), bars.last()) {
        let _ = write!(
            svg,
            r#"<text x="0" y="{HEIGHT}" font-size="11" fill="{TEXT_COLOUR}">{}</text><text x="{WIDTH}" y="{HEIGHT}" font-size="11" text-anchor="end" fill="{TEXT_COLOUR}">{}</text>"#,
            attribute(&first.label),
            attribute(&last.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Whole numbers as such, others to one decimal.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Text for an attribute or element: only what we write goes in, but it is escaped anyway.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(label: &str, value: f64) -> Bar {
        Bar {
            label: label.into(),
            value,
        }
    }

    #[test]
    fn bars_scale_to_the_largest_and_say_what_they_show() {
        let svg = bars(
            &[day("12-01", 2.0), day("12-02", 4.0), day("12-03", 0.0)],
            "",
            "Links created: 6 in 3 days",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img" aria-label="Links created: 6 in 3 days""#));
        assert_eq!(svg.matches("<rect").count(), 3);
        // the tallest fills the plot; half of it, half the height; zero, a hairline
        let plot = HEIGHT - TOP - BOTTOM;
        assert!(svg.contains(&format!(r#"height="{plot:.1}""#)), "{svg}");
        assert!(
            svg.contains(&format!(r#"height="{:.1}""#, plot / 2.0)),
            "{svg}"
        );
        assert!(svg.contains(r#"height="1.0""#), "{svg}");
        assert!(svg.contains("<title>12-02: 4</title>"));
        assert!(svg.contains(">12-01</text>") && svg.contains(">12-03</text>"));
        // a few bars are each labelled, many only at the ends
        assert!(svg.contains(">12-02</text>"));
        let week: Vec<Bar> = (1..=7).map(|d| day(&format!("12-0{d}"), 1.0)).collect();
        let svg = bars(&week, "", "a week");
        assert!(svg.contains(">12-01</text>") && svg.contains(">12-07</text>"));
        assert!(!svg.contains(">12-04</text>"));
        assert!(!svg.contains("style"), "presentation attributes only");
    }

    #[test]
    fn an_empty_chart_draws_no_bar_taller_than_a_hairline() {
        let svg = bars(&[day("12-01", 0.0), day("12-02", 0.0)], " ms", "none");
        assert_eq!(svg.matches(r#"height="1.0""#).count(), 2);
        assert!(svg.contains("max 0 ms"));
        assert_eq!(number(97.24), "97.2");
        assert_eq!(number(3.0), "3");
        assert_eq!(
            attribute(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
