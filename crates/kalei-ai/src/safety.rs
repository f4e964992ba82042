//! Safety rules on generated output. They live in code (not in prompts
//! alone) and are tested: a model answer that breaks one is repaired once
//! with the rule fed back, then the next target is tried, finally `local`.
//!
//! 1. No crisis content: an output the crisis detector would bypass on.
//! 2. No medical or harmful advice: medication dosing or changes, diagnoses,
//!    self-harm or overdose methods, substances as coping, invented contact
//!    details (the crisis resources are fixed text added by the server).
//! 3. Tone, per feature: no minimising ("just relax"), no toxic positivity
//!    ("everything happens for a reason"), no blame ("it's your fault").
//! 4. Spectrum insights never quote the user's writing: no run of more than
//!    [`MAX_QUOTED_WORDS`] consecutive words from the period's texts.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::types::Feature;

/// Longest run of consecutive words an insight may share with the user's texts.
pub const MAX_QUOTED_WORDS: usize = 5;

/// A broken rule: `rule` is a stable name (safe to log); `detail` may contain
/// generated text and is only fed back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "safety rule `{}` broken: {}", self.rule, self.detail)
    }
}

struct RuleSet {
    name: &'static str,
    hint: &'static str,
    set: RegexSet,
    res: Vec<Regex>,
}

impl RuleSet {
    fn new(name: &'static str, hint: &'static str, pats: &[&str]) -> Self {
        let pats: Vec<String> = pats.iter().map(|p| format!("(?i){p}")).collect();
        Self {
            name,
            hint,
            set: RegexSet::new(&pats).expect("safety pattern"),
            res: pats
                .iter()
                .map(|p| Regex::new(p).expect("safety pattern"))
                .collect(),
        }
    }

    fn check(&self, text: &str) -> Option<Violation> {
        let m = self.set.matches(text);
        let i = m.iter().next()?;
        let found = self.res[i].find(text).map(|m| m.as_str()).unwrap_or("");
        Some(Violation {
            rule: self.name,
            detail: format!("{} (found \"{found}\")", self.hint),
        })
    }
}

static MEDICAL: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        "medical_advice",
        "never give medication, dosing or diagnostic advice",
        &[
            // dosing
            r"\b\d+(\.\d+)?\s?(mg|mcg|milligrams?|micrograms?|ml|millilit(er|re)s?)\b",
            r"\b(take|taking|try|increase|double|raise|lower|reduce|cut|skip|halve)\b[^.!?]{0,30}\b(dose|dosage|pills?|tablets?|meds|medications?|medicines?|antidepressants?|ssris?|benzos?)\b",
            r"\b(stop|stopping|quit|quitting|come off|coming off|go off|wean off)\b[^.!?]{0,20}\b(meds|medications?|medicines?|antidepressants?|pills|lithium|ssris?|benzos?|therapy)\b",
            r"\b(you don'?t|you do not|no need to) (need|take)\b[^.!?]{0,20}\b(meds|medications?|medicines?|antidepressants?|therapy|a therapist|a doctor)\b",
            r"\b(xanax|valium|klonopin|ativan|prozac|zoloft|lexapro|sertraline|fluoxetine|benzodiazepines?|lithium|seroquel|adderall|ambien|melatonin)\b",
            // diagnoses
            r"\byou (have|suffer from|are suffering from|probably have|might have|may have|clearly have|likely have|seem to have|could have)\b[^.!?]{0,25}\b(depression|bipolar|ptsd|adhd|ocd|bpd|schizophrenia|psychosis|autism|(anxiety|personality|eating|panic|mood|mental) disorder|disorder)\b",
            r"\byou('re| are) (clinically )?(depressed|bipolar|psychotic|schizophrenic|autistic|anorexic|a narcissist|mentally ill)\b",
            r"\b(sounds|looks) like (clinical depression|bipolar|ptsd|adhd|ocd|a disorder|an? (anxiety|personality|eating|panic|mood) disorder)\b",
            r"\bdiagnos(e|is|ed)\b",
        ],
    )
});

static HARMFUL: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        "harmful_content",
        "never mention methods of self-harm, substances as coping, or contact details",
        &[
            r"\b(cut|cutting|burn|burning|hurt|hurting|harm|harming|kill|killing|starve|starving)\s+(yourself|myself)\b",
            r"\b(overdose|lethal dose|noose|hang yourself|razor blades?|slit|jump off|end (your|it all|my) life)\b",
            r"\b(have|grab|pour|take|try)\s+(a|some|another|an?)?\s*(drink|drinks|shots?|beers?|wine|joint|edible|hit|weed|cannabis|alcohol)\b",
            r"\b(drink|smoke|get high|get drunk)\b[^.!?]{0,15}\b(to (relax|cope|calm|feel better|take the edge off|forget))\b",
            r"\b(starve|skip(ping)? meals|stop eating|purge|purging|fasting to)\b",
            r"https?://|www\.",
            r"\+?\d[\d\-\s().]{6,}\d",
        ],
    )
});

static TOXIC_POSITIVITY: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        "toxic_positivity",
        "do not dismiss the feeling with forced positivity",
        &[
            r"\beverything happens for a reason\b",
            r"\blook on the bright side\b",
            r"\bgood vibes only\b",
            r"\b(it|things) could (always )?be worse\b",
            r"\b(others|other people|some people) have it (much |so |far )?worse\b",
            r"\b(just )?(stay|be|think) positive\b",
            r"\bcheer up\b",
            r"\bdon'?t be (sad|upset|so hard|negative|dramatic)\b",
            r"\b(be|you should be) grateful (that|for what)\b",
            r"\bno reason to (feel|be) (sad|upset|anxious|down)\b",
            r"\bget over it\b",
            r"\bsnap out of it\b",
            r"\bman up\b",
            r"\bhappiness is a choice\b",
            r"\bsmile more\b",
        ],
    )
});

static MINIMISING: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        "minimising",
        "do not minimise with 'just' or 'only' (e.g. 'just relax', 'it's just in your head')",
        &[
            r"\bjust (relax|calm down|stop|get over|move on|let (it|go)|ignore|forget|smile|try harder|don'?t (think|worry|feel)|be happy|breathe and|think about something else|toughen)\b",
            r"\b(it'?s|it is|that'?s|that is|you'?re|you are) (just|only|simply) (in your head|overthinking|being|a bad day|nothing|silly|stress)\b",
            r"\bnot (a|that) big (a )?deal\b",
            r"\byou'?re overreacting\b",
            r"\bstop (worrying|complaining|whining|overthinking)\b",
        ],
    )
});

static BLAME: LazyLock<RuleSet> = LazyLock::new(|| {
    RuleSet::new(
        "blame",
        "never blame the person",
        &[
            r"\b(it'?s|it is|it was|that'?s|that is|this is) (all )?your (own )?fault\b",
            r"\byou brought (this|it) on yourself\b",
            r"\byou (deserved (this|it|that)|had it coming)\b",
            r"\byou deserve (this|the pain|to (suffer|feel bad|be alone|be hurt))\b",
            r"\byou should have known\b",
            r"\bwhat did you expect\b",
            r"\byou only have yourself to blame\b",
            r"\byou'?re (being )?(lazy|weak|selfish|pathetic|dramatic)\b",
        ],
    )
});

fn crisis_check(text: &str) -> Option<Violation> {
    let c = kalei_analysis::detect_crisis(text);
    c.level.bypasses().then(|| Violation {
        rule: "crisis_content",
        detail: "the text contains crisis language; write calmly about the thought itself".into(),
    })
}

/// Checks every text of one output for `feature`. `check_against` are the
/// user's raw texts an insight must not quote.
pub fn check_output(
    feature: Feature,
    texts: &[&str],
    check_against: &[String],
) -> Result<(), Violation> {
    for t in texts {
        screen(t)?;
        for rules in [&*TOXIC_POSITIVITY, &*MINIMISING, &*BLAME] {
            if let Some(v) = rules.check(t) {
                return Err(v);
            }
        }
    }
    if matches!(feature, Feature::SpectrumWeekly | Feature::SpectrumMonthly) {
        let joined = texts.join(" ");
        quote_check(&joined, check_against)?;
    }
    Ok(())
}

/// The rules that apply to partial text too (stream deltas): crisis content
/// and medical/harmful advice.
pub fn screen(text: &str) -> Result<(), Violation> {
    if let Some(v) = MEDICAL.check(text) {
        return Err(v);
    }
    if let Some(v) = HARMFUL.check(text) {
        return Err(v);
    }
    if let Some(v) = crisis_check(text) {
        return Err(v);
    }
    Ok(())
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// Fails when `output` shares a run of more than [`MAX_QUOTED_WORDS`]
/// consecutive words with any of `sources`.
pub fn quote_check(output: &str, sources: &[String]) -> Result<(), Violation> {
    let n = MAX_QUOTED_WORDS + 1;
    let out = words(output);
    if out.len() < n || sources.is_empty() {
        return Ok(());
    }
    let mut grams: HashSet<&[String]> = HashSet::new();
    let src_words: Vec<Vec<String>> = sources.iter().map(|s| words(s)).collect();
    for w in &src_words {
        for g in w.windows(n) {
            grams.insert(g);
        }
    }
    if out.windows(n).any(|g| grams.contains(g)) {
        return Err(Violation {
            rule: "quotes_user_text",
            detail: format!(
                "never quote the user's writing (more than {MAX_QUOTED_WORDS} consecutive words match); describe patterns in your own words"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kalei_analysis::templates as t;
    use kalei_analysis::{DistortionType, Emotions};

    fn rule(text: &str) -> Option<&'static str> {
        check_output(Feature::Turn, &[text], &[])
            .err()
            .map(|v| v.rule)
    }

    #[test]
    fn medical_and_harmful_advice_is_refused() {
        for (text, want) in [
            (
                "Maybe try taking 50 mg of sertraline tonight.",
                "medical_advice",
            ),
            (
                "You could stop taking your meds for a while and see.",
                "medical_advice",
            ),
            (
                "It might help to increase your dose a little.",
                "medical_advice",
            ),
            (
                "It sounds like you have an anxiety disorder.",
                "medical_advice",
            ),
            (
                "You are clinically depressed, and that's okay.",
                "medical_advice",
            ),
            (
                "Have a drink to take the edge off tonight.",
                "harmful_content",
            ),
            (
                "Skipping meals can give you a sense of control.",
                "harmful_content",
            ),
            ("Call 555-123-4567 whenever you need to.", "harmful_content"),
            (
                "Read more at https://example.com/help today.",
                "harmful_content",
            ),
            (
                "Some people cut themselves, but you could hurt yourself less.",
                "harmful_content",
            ),
        ] {
            assert_eq!(rule(text), Some(want), "{text}");
        }
    }

    #[test]
    fn crisis_content_in_output_is_refused() {
        assert_eq!(
            rule("Maybe you should kill yourself, the plan sounds reasonable."),
            Some("harmful_content")
        );
        assert_eq!(
            rule("You want to die and nobody would miss you if you were gone."),
            Some("crisis_content")
        );
    }

    #[test]
    fn tone_rules() {
        for (text, want) in [
            (
                "Everything happens for a reason, so try to see the lesson.",
                "toxic_positivity",
            ),
            (
                "Look on the bright side: tomorrow is another day.",
                "toxic_positivity",
            ),
            ("Others have it much worse than you do.", "toxic_positivity"),
            ("Just relax and the feeling will pass.", "minimising"),
            ("It's just in your head, nothing more.", "minimising"),
            ("Honestly, it's your own fault this happened.", "blame"),
            ("You brought this on yourself by waiting.", "blame"),
        ] {
            assert_eq!(rule(text), Some(want), "{text}");
        }
    }

    #[test]
    fn kind_reframes_pass() {
        for text in [
            "It makes sense to feel anxious after a hard day; one mistake does not define the whole week.",
            "What would you say to a friend who told you this? You might offer them patience, just for today.",
            "Try writing down three things that went okay, even small ones.",
            "The medication question is one to bring to your doctor, who knows your history.",
        ] {
            assert_eq!(rule(text), None, "{text}");
        }
    }

    #[test]
    fn every_local_template_passes_the_rules() {
        let emotions = [
            Emotions::default(),
            Emotions {
                fear: 0.6,
                valence: -0.5,
                ..Default::default()
            },
            Emotions {
                sadness: 0.7,
                valence: -0.7,
                ..Default::default()
            },
            Emotions {
                anger: 0.6,
                valence: -0.4,
                ..Default::default()
            },
            Emotions {
                joy: 0.6,
                valence: 0.6,
                ..Default::default()
            },
        ];
        let mut ds: Vec<Option<DistortionType>> =
            DistortionType::ALL.iter().copied().map(Some).collect();
        ds.push(None);
        for seed in 0..40u64 {
            for e in &emotions {
                for d in &ds {
                    for r in t::reframes(*d, e, seed) {
                        assert_eq!(rule(&r.text), None, "{d:?}: {}", r.text);
                    }
                    let m = t::micro_action(*d, e, seed);
                    assert_eq!(rule(&m.text), None, "{}", m.text);
                }
                let a = t::affirmation(Some(e), seed);
                assert_eq!(rule(&a), None, "{a}");
                let p = t::PeriodSummary {
                    sessions: 3,
                    turns: 2,
                    mean_emotions: *e,
                    previous_mean: Some(Emotions::default()),
                    distortion_counts: vec![(DistortionType::Labeling, 3)],
                    turn_impact: Some(-12.0),
                };
                for s in [t::weekly_insight(&p, seed), t::monthly_insight(&p, seed)] {
                    assert!(
                        check_output(Feature::SpectrumWeekly, &[&s], &[]).is_ok(),
                        "{s}"
                    );
                }
                let s = t::session_reflection(
                    &t::SessionSummary {
                        message_count: 4,
                        distortion_counts: vec![(DistortionType::MindReading, 2)],
                        mean_emotions: *e,
                    },
                    seed,
                );
                assert_eq!(rule(&s), None, "{s}");
            }
        }
    }

    #[test]
    fn insights_do_not_quote_the_user() {
        let src =
            vec!["Today I felt like nobody at work even noticed I was there at all.".to_string()];
        let ok = "This week you wrote more often about work, and the feeling of being unseen came up twice.";
        assert!(check_output(Feature::SpectrumWeekly, &[ok], &src).is_ok());
        let bad = "You said that nobody at work even noticed you were there.";
        assert!(
            check_output(Feature::SpectrumWeekly, &[bad], &src).is_ok(),
            "5 words may match"
        );
        let bad = "You wrote: nobody at work even noticed I was there.";
        assert_eq!(
            check_output(Feature::SpectrumWeekly, &[bad], &src)
                .unwrap_err()
                .rule,
            "quotes_user_text"
        );
        // Turn does not apply the quote rule (it answers the thought itself).
        assert!(check_output(Feature::Turn, &[bad], &src).is_ok());
    }
}
