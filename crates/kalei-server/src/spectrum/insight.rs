//! Spectrum insights: written from aggregates only, then validated before
//! they are stored. Validation: no 6-word shingle of the user's own writing of
//! the period appears in the insight (the raw text is decrypted in memory for
//! the check and dropped), and the output safety gate passes. A failure gets
//! one regeneration with another seed; then the template insight with every
//! offending sentence removed is stored, marked `partial`.
//!
//! [`weekly`] and [`monthly`] are the generation points (`spectrum_weekly` /
//! `spectrum_monthly` routes): today the built-in `local` provider answers; a
//! remote model plugs in here without changing the callers.

use std::collections::HashSet;

use kalei_analysis::templates::{self, PeriodSummary};

use crate::app::AppState;
use crate::generation::{Generated, Provenance};

/// Length of the shingles compared against the user's text.
pub const SHINGLE_WORDS: usize = 6;

pub const WEEKLY_PROMPT_VERSION: &str = concat!(
    "spectrum-weekly/local-templates@",
    env!("CARGO_PKG_VERSION")
);
pub const MONTHLY_PROMPT_VERSION: &str = concat!(
    "spectrum-monthly/local-templates@",
    env!("CARGO_PKG_VERSION")
);

fn local(output: String, prompt_version: &str) -> Generated<String> {
    Generated {
        output,
        provenance: Provenance {
            model: "local".into(),
            provider: "local".into(),
            prompt_version: prompt_version.into(),
        },
    }
}

/// The weekly insight from aggregates.
pub fn weekly(summary: &PeriodSummary, seed: u64) -> Generated<String> {
    local(
        templates::weekly_insight(summary, seed),
        WEEKLY_PROMPT_VERSION,
    )
}

/// The monthly narrative from aggregates.
pub fn monthly(summary: &PeriodSummary, seed: u64) -> Generated<String> {
    local(
        templates::monthly_insight(summary, seed),
        MONTHLY_PROMPT_VERSION,
    )
}

/// Lower-cased words (letters, digits and inner apostrophes).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| {
            w.trim_matches(|c| c == '\'' || c == '’')
                .replace('’', "'")
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Every 6-word shingle of the user's texts.
pub struct Shingles(HashSet<String>);

impl Shingles {
    pub fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = HashSet::new();
        for t in texts {
            let w = words(t);
            for win in w.windows(SHINGLE_WORDS) {
                set.insert(win.join(" "));
            }
        }
        Shingles(set)
    }

    /// Whether `text` contains any of the shingles.
    pub fn quoted_in(&self, text: &str) -> bool {
        !self.0.is_empty()
            && words(text)
                .windows(SHINGLE_WORDS)
                .any(|w| self.0.contains(&w.join(" ")))
    }

    /// `text` without the sentences that quote.
    pub fn strip(&self, text: &str) -> String {
        sentences(text)
            .into_iter()
            .filter(|s| !self.quoted_in(s))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Sentences (ending in . ! ?), trimmed.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?') {
            let s = text[start..i + c.len_utf8()].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + c.len_utf8();
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// A stored insight.
#[derive(Debug, Clone)]
pub struct Insight {
    pub text: String,
    /// `complete` or `partial`.
    pub status: &'static str,
    pub provenance: Provenance,
    /// Generations tried (1 or 2).
    pub attempts: i64,
}

/// Generates and validates an insight (see the module docs). `feature` names
/// the route for safety events.
pub async fn write(
    state: &AppState,
    user_id: &str,
    feature: &str,
    shingles: &Shingles,
    seed: u64,
    headline: &str,
    generate: impl Fn(u64) -> Generated<String>,
) -> anyhow::Result<Insight> {
    let seeds = [seed, seed.rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15];
    let mut first = None;
    for (i, s) in seeds.into_iter().enumerate() {
        let g = generate(s);
        let ok = !shingles.quoted_in(&g.output)
            && crate::safety::output_is_safe(state, user_id, feature, &g.output)
                .await
                .map_err(|e| anyhow::anyhow!("safety gate: {}", e.detail))?;
        if ok {
            return Ok(Insight {
                text: g.output,
                status: "complete",
                provenance: g.provenance,
                attempts: i as i64 + 1,
            });
        }
        first.get_or_insert(g);
    }
    // The template insight, minus what failed.
    let g = first.expect("one attempt ran");
    let mut text = shingles.strip(&g.output);
    if text.is_empty()
        || !crate::safety::output_is_safe(state, user_id, feature, &text)
            .await
            .map_err(|e| anyhow::anyhow!("safety gate: {}", e.detail))?
    {
        text = headline.to_string();
    }
    Ok(Insight {
        text,
        status: "partial",
        provenance: g.provenance,
        attempts: 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shingles_catch_quotes_across_case_and_punctuation() {
        let s = Shingles::of(["Honestly, I ALWAYS mess everything up at work; every single day."]);
        assert!(s.quoted_in("you said i always mess everything up at work."));
        assert!(!s.quoted_in("You always mess things up at work sometimes."));
        assert!(!Shingles::of(["too short to count"]).quoted_in("too short to count"));
    }

    #[test]
    fn strip_keeps_the_clean_sentences() {
        let s = Shingles::of(["What is one thing you'd like to keep doing next time?"]);
        let text =
            "This week you wrote 2 sessions. What is one thing you’d like to keep doing next time?";
        assert_eq!(s.strip(text), "This week you wrote 2 sessions.");
        assert_eq!(sentences("A. B? C"), vec!["A.", "B?", "C"]);
    }
}
