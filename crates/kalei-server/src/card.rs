//! The "kaleidoscope card": deterministic SVG art from an emotional vector.
//! Same vector (and caption), same picture, byte for byte. The caption is the
//! only text ever drawn, and only when the user chose to include it.

use std::fmt::Write;

use kalei_analysis::Emotions;

/// Plutchik's colours, in wheel order: joy, trust, fear, surprise, sadness,
/// disgust, anger, anticipation.
const PETAL_COLOURS: [&str; 8] = [
    "#F9D84A", "#8CC63F", "#2E9E5B", "#3BA7D9", "#3B6FD9", "#8E5BC2", "#E2463F", "#F39A2E",
];
const SIZE: f32 = 400.0;

fn clamp01(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Escapes text for an SVG text node.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Splits a caption into lines of at most `width` characters.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            if lines.len() == max_lines {
                break;
            }
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() && lines.len() < max_lines {
        lines.push(line);
    }
    lines
}

pub fn render(emotions: &Emotions, caption: Option<&str>) -> String {
    let petals = emotions.plutchik().map(clamp01);
    let valence = if emotions.valence.is_finite() {
        emotions.valence.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let arousal = clamp01(emotions.arousal);
    // Folds of symmetry grow with arousal: calm 6, intense 12.
    let folds = 6 + (arousal * 6.0).round() as usize;
    // Background: cool and dim for negative valence, warm and light for positive.
    let hue = 230.0 - (valence + 1.0) * 95.0;
    let light = 18.0 + (valence + 1.0) * 10.0;
    let (cx, cy) = (
        SIZE / 2.0,
        if caption.is_some() {
            SIZE / 2.0 - 30.0
        } else {
            SIZE / 2.0
        },
    );

    let mut svg = String::with_capacity(8 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}" role="img" aria-label="Kaleidoscope card">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="100%" height="100%" fill="hsl({hue:.0},45%,{light:.0}%)"/><g transform="translate({cx:.1},{cy:.1})">"#
    );
    for fold in 0..folds {
        let angle = 360.0 * fold as f32 / folds as f32;
        let _ = write!(svg, r#"<g transform="rotate({angle:.2})">"#);
        for (i, &intensity) in petals.iter().enumerate() {
            // Each emotion is one petal of the fold; stronger = longer, more opaque.
            let length = 30.0 + intensity * 120.0;
            let width = 6.0 + intensity * 22.0;
            let tilt = (i as f32 - 3.5) * (180.0 / folds as f32 / 8.0);
            let opacity = 0.25 + intensity * 0.65;
            let _ = write!(
                svg,
                r#"<ellipse cx="0" cy="{:.1}" rx="{width:.1}" ry="{:.1}" transform="rotate({tilt:.2})" fill="{}" fill-opacity="{opacity:.2}"/>"#,
                -length / 2.0,
                length / 2.0,
                PETAL_COLOURS[i]
            );
        }
        svg.push_str("</g>");
    }
    let core = 10.0 + arousal * 18.0;
    let _ = write!(
        svg,
        r##"<circle r="{core:.1}" fill="#FFFFFF" fill-opacity="0.85"/></g>"##
    );
    if let Some(text) = caption {
        for (i, line) in wrap(text, 44, 3).iter().enumerate() {
            let y = SIZE - 62.0 + i as f32 * 20.0;
            let _ = write!(
                svg,
                r##"<text x="{:.0}" y="{y:.0}" text-anchor="middle" font-family="sans-serif" font-size="15" fill="#FFFFFF">{}</text>"##,
                SIZE / 2.0,
                escape(line)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sad() -> Emotions {
        Emotions {
            valence: -0.6,
            arousal: 0.4,
            sadness: 0.7,
            fear: 0.3,
            ..Emotions::default()
        }
    }

    #[test]
    fn same_input_same_picture() {
        assert_eq!(render(&sad(), None), render(&sad(), None));
        assert_ne!(
            render(&sad(), None),
            render(
                &Emotions {
                    joy: 0.8,
                    valence: 0.7,
                    ..Emotions::default()
                },
                None
            )
        );
    }

    #[test]
    fn text_only_when_chosen_and_escaped() {
        let plain = render(&sad(), None);
        assert!(!plain.contains("<text"));
        let with = render(&sad(), Some("It's <not> \"all\" & always"));
        assert!(with.contains("It&apos;s &lt;not&gt; &quot;all&quot; &amp; always"));
        assert!(!with.contains("<not>"));
    }

    #[test]
    fn output_is_well_formed_xml() {
        let svg = render(
            &Emotions {
                arousal: f32::NAN,
                valence: 9.0,
                ..sad()
            },
            Some("a & b"),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Balanced elements: every opened <g> closes.
        assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
