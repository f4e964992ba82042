//! Written templates for the local (offline) provider: reframes,
//! micro-actions, affirmations, session reflections and period insights.
//!
//! Every function is deterministic given its inputs: a caller-provided `seed`
//! picks among variants. No template ever quotes the user's text; they are
//! parameterised only by the distortion type and the emotional vector (or,
//! for reflections and insights, aggregates). Written for a reader who may be
//! vulnerable: warm, concrete, never dismissive, never diagnostic.

use serde::{Deserialize, Serialize};

use crate::{DistortionType as D, Emotions};

/// Calm, fixed crisis response. The server appends region-specific resources.
pub const CRISIS_MESSAGE: &str = "It sounds like you are carrying something really heavy right now, and I'm glad you put it into words. This is more than an app should hold on its own: you deserve to talk with a real person who can help. If you are in danger or might act on these thoughts, please call your local emergency number now. The people at the lines below are there for exactly this, any time, for free and in confidence. You don't have to get through this alone.";

/// Style of a reframe. Every call to [`reframes`] returns three distinct styles.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ReframeStyle {
    EvidenceCheck,
    CompassionateFriend,
    BalancedAlternative,
    Decatastrophising,
    Perspective,
    Curiosity,
    Responsibility,
    Flexibility,
}

impl ReframeStyle {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReframeStyle::EvidenceCheck => "evidence_check",
            ReframeStyle::CompassionateFriend => "compassionate_friend",
            ReframeStyle::BalancedAlternative => "balanced_alternative",
            ReframeStyle::Decatastrophising => "decatastrophising",
            ReframeStyle::Perspective => "perspective",
            ReframeStyle::Curiosity => "curiosity",
            ReframeStyle::Responsibility => "responsibility",
            ReframeStyle::Flexibility => "flexibility",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Reframe {
    pub style: ReframeStyle,
    pub text: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MicroAction {
    pub text: String,
    pub minutes: u32,
}

/// Aggregates of one Mirror session (no raw text).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct SessionSummary {
    pub message_count: u32,
    /// How often each distortion type was detected in the session.
    pub distortion_counts: Vec<(D, u32)>,
    /// Mean emotional vector over the session's messages.
    pub mean_emotions: Emotions,
}

/// Aggregates of a week or a month (no raw text).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct PeriodSummary {
    pub sessions: u32,
    pub turns: u32,
    pub mean_emotions: Emotions,
    /// The previous period's mean, to describe a change.
    pub previous_mean: Option<Emotions>,
    pub distortion_counts: Vec<(D, u32)>,
    /// Mean belief change of saved turns (after − before, -100..100).
    pub turn_impact: Option<f32>,
}

/// SplitMix64: a stable mixing function so the same seed always picks the
/// same variant, on every platform and version.
fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a>(v: &[&'a str], seed: u64, salt: u64) -> &'a str {
    v[(mix(seed, salt) % v.len() as u64) as usize]
}

/// Plain word for the strongest difficult feeling, for "it makes sense to feel …".
fn feeling_word(e: &Emotions) -> &'static str {
    let cands = [
        (e.fear, "anxious"),
        (e.sadness, "low"),
        (e.anger, "frustrated"),
        (e.disgust, "uncomfortable"),
    ];
    let (v, w) = cands
        .iter()
        .copied()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("non-empty");
    if v >= 0.15 {
        w
    } else if e.valence < -0.2 {
        "weighed down"
    } else {
        "unsettled"
    }
}

fn styles_for(d: Option<D>) -> [ReframeStyle; 4] {
    use ReframeStyle::*;
    match d {
        Some(D::AllOrNothing) => [
            BalancedAlternative,
            EvidenceCheck,
            CompassionateFriend,
            Flexibility,
        ],
        Some(D::Overgeneralization) => [
            EvidenceCheck,
            BalancedAlternative,
            CompassionateFriend,
            Perspective,
        ],
        Some(D::MentalFilter) => [
            BalancedAlternative,
            Perspective,
            CompassionateFriend,
            EvidenceCheck,
        ],
        Some(D::DisqualifyingPositive) => [
            EvidenceCheck,
            CompassionateFriend,
            BalancedAlternative,
            Curiosity,
        ],
        Some(D::MindReading) => [
            EvidenceCheck,
            Curiosity,
            CompassionateFriend,
            BalancedAlternative,
        ],
        Some(D::FortuneTelling) => [
            Decatastrophising,
            EvidenceCheck,
            CompassionateFriend,
            Perspective,
        ],
        Some(D::Magnification) => [
            Decatastrophising,
            Perspective,
            CompassionateFriend,
            EvidenceCheck,
        ],
        Some(D::EmotionalReasoning) => [
            EvidenceCheck,
            CompassionateFriend,
            Curiosity,
            BalancedAlternative,
        ],
        Some(D::ShouldStatements) => [
            Flexibility,
            CompassionateFriend,
            BalancedAlternative,
            EvidenceCheck,
        ],
        Some(D::Labeling) => [
            BalancedAlternative,
            CompassionateFriend,
            EvidenceCheck,
            Perspective,
        ],
        Some(D::Personalization) => [
            Responsibility,
            CompassionateFriend,
            EvidenceCheck,
            BalancedAlternative,
        ],
        Some(D::Blaming) => [
            Responsibility,
            Curiosity,
            BalancedAlternative,
            CompassionateFriend,
        ],
        None => [
            EvidenceCheck,
            CompassionateFriend,
            BalancedAlternative,
            Perspective,
        ],
    }
}

/// Type-specific text for a (distortion, style) pair, if written.
fn specific(d: D, s: ReframeStyle) -> Option<&'static [&'static str]> {
    use ReframeStyle::*;
    Some(match (d, s) {
        (D::AllOrNothing, BalancedAlternative) => &[
            "Between total success and total failure there is a lot of room. Where on a scale from 0 to 100 would this honestly land, and what would a 60 look like?",
            "Something can be partly wrong and partly right at the same time. What went at least a little bit okay here?",
        ],
        (D::AllOrNothing, EvidenceCheck) => &[
            "Words like 'completely' and 'nothing' are doing a lot of work here. Is there even one small exception you can think of?",
        ],
        (D::AllOrNothing, Flexibility) => &[
            "What if 'good enough for today' were the goal instead of perfect? What would change about how this feels?",
        ],
        (D::Overgeneralization, EvidenceCheck) => &[
            "This thought says 'always' or 'never'. Can you remember one time, even a small one, when it went differently?",
            "One painful experience can feel like a pattern. How many times has this really happened, and how many times has it not?",
        ],
        (D::Overgeneralization, BalancedAlternative) => &[
            "A more accurate version might be: 'This happened, and it hurt. It doesn't decide what happens every time.'",
        ],
        (D::Overgeneralization, Perspective) => &[
            "If you look back over the last year instead of the last few days, does the 'always' still hold up?",
        ],
        (D::MentalFilter, BalancedAlternative) => &[
            "The hard part is real. If you widened the frame, what else happened today that also deserves a place in the picture?",
            "Try writing down one thing that went wrong and two things that were neutral or okay. All three are true.",
        ],
        (D::MentalFilter, Perspective) => &[
            "When one detail takes up the whole view, it helps to step back. How would you describe the whole day to someone who only heard the facts?",
        ],
        (D::DisqualifyingPositive, EvidenceCheck) => &[
            "If a friend had this same good moment, would you tell them it didn't count? What makes yours different?",
            "Luck and kindness can play a part, and your effort can still be real. What did you actually do that helped?",
        ],
        (D::DisqualifyingPositive, Curiosity) => &[
            "What might happen if you let this good thing count, just for today?",
        ],
        (D::MindReading, EvidenceCheck) => &[
            "You might be right, and you might not be. What do you actually know about what they think, and what is a guess?",
            "What did they say or do that points to this, and is there another way to read it?",
        ],
        (D::MindReading, Curiosity) => &[
            "People are often caught up in their own worries. What else could be going on for them that has nothing to do with you?",
        ],
        (D::FortuneTelling, Decatastrophising) => &[
            "What is the worst that could realistically happen, the best, and the most likely? And if the hard version came, how would you cope?",
            "Your mind is writing the ending before the story has happened. What is one other way this could turn out?",
        ],
        (D::FortuneTelling, EvidenceCheck) => &[
            "Have you predicted things like this before? How often did they turn out exactly as feared?",
        ],
        (D::FortuneTelling, Perspective) => &[
            "Imagine yourself a year from now looking back at this moment. What would you want to tell yourself?",
        ],
        (D::Magnification, Decatastrophising) => &[
            "This feels enormous right now. On a scale from 1 to 10, how big will it likely feel in a week, or in a month?",
            "Hard and unbearable are not the same thing. You have come through difficult things before; what helped then?",
        ],
        (D::Magnification, Perspective) => &[
            "If this were happening to someone you care about, how big would you say it is?",
        ],
        (D::EmotionalReasoning, EvidenceCheck) => &[
            "The feeling is real and it matters. What facts, apart from the feeling itself, support this thought, and what facts don't?",
            "Feeling like something is true can be very convincing. What would someone who only saw the facts conclude?",
        ],
        (D::EmotionalReasoning, Curiosity) => &[
            "What is this feeling trying to tell you you need, rather than what it says about you?",
        ],
        (D::ShouldStatements, Flexibility) => &[
            "Try swapping 'should' for 'I would like to' or 'it would help if'. How does the thought feel then?",
            "Rules like 'must' and 'should' can turn into pressure. What would a kinder, more flexible version of this rule be?",
        ],
        (D::ShouldStatements, BalancedAlternative) => &[
            "You can hold a standard and still allow yourself to be human. What is reasonable to expect of yourself today?",
        ],
        (D::Labeling, BalancedAlternative) => &[
            "A label sums up a whole person in one word. What happened, specifically, without the label?",
            "Doing something you regret is different from being a bad person. What is a fairer description of this moment?",
        ],
        (D::Labeling, EvidenceCheck) => &[
            "What would the people who know you best say about this label? What qualities would they add?",
        ],
        (D::Personalization, Responsibility) => &[
            "Many things shaped what happened: other people, timing, circumstances. If you drew a pie chart of causes, how big would your slice honestly be?",
            "Caring about what happened doesn't mean it was all on you. Which parts were within your control, and which were not?",
        ],
        (D::Blaming, Responsibility) => &[
            "Others may well have played a part. What is one small thing within your own control that you could do next?",
            "Holding someone accountable and finding your own next step can both be true. What would help you move forward?",
        ],
        (D::Blaming, Curiosity) => &[
            "What might have been going on for the other person? Understanding isn't the same as excusing.",
        ],
        _ => return None,
    })
}

fn generic(s: ReframeStyle) -> &'static [&'static str] {
    use ReframeStyle::*;
    match s {
        EvidenceCheck => &[
            "Let's look at this thought like a fair judge: what supports it, what doesn't, and what might be missing?",
            "Thoughts are not always facts. What would you need to see to know whether this one is fully true?",
        ],
        CompassionateFriend => &[
            "It makes sense to feel {feel} right now. If a close friend told you this, what would you say to them? You deserve that same kindness.",
            "You're going through something hard, and feeling {feel} is understandable. What would a caring friend remind you of right now?",
        ],
        BalancedAlternative => &[
            "A more balanced version might be: 'This is hard, and I'm doing what I can. One moment doesn't define the whole picture.'",
            "What is a thought that is both honest about the difficulty and fair to you?",
        ],
        Decatastrophising => &[
            "What is the most likely way this turns out, rather than the worst? And what would help you cope either way?",
        ],
        Perspective => &[
            "How might this look a month from now? Sometimes distance shows what really matters.",
            "If you zoomed out and saw your whole life, where would this moment fit?",
        ],
        Curiosity => &[
            "Instead of deciding what this means, what if you got curious about it? What is one question you could ask?",
        ],
        Responsibility => &[
            "What part of this was truly yours, and what part belonged to other people or to circumstances?",
        ],
        Flexibility => &[
            "Is there room for a gentler rule here, one you'd be willing to apply to someone you love?",
        ],
    }
}

/// Three reframes in three distinct styles for a thought showing `distortion`
/// (or a general negative thought when `None`).
pub fn reframes(distortion: Option<D>, emotions: &Emotions, seed: u64) -> [Reframe; 3] {
    let styles = styles_for(distortion);
    // keep the two most suitable styles, pick the third from the rest
    let coin = mix(seed, 7) % 2;
    let third = if coin == 0 { styles[2] } else { styles[3] };
    let chosen = [styles[0], styles[1], third];
    let feel = feeling_word(emotions);
    let mut out: Vec<Reframe> = Vec::with_capacity(3);
    for (i, st) in chosen.iter().enumerate() {
        let salt = 100 + i as u64;
        let text = match distortion.and_then(|d| specific(d, *st)) {
            Some(list) if mix(seed, salt) % 4 != 3 => pick(list, seed, salt + 10),
            _ => pick(generic(*st), seed, salt + 20),
        };
        out.push(Reframe {
            style: *st,
            text: text.replace("{feel}", feel),
        });
    }
    let mut it = out.into_iter();
    [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
}

/// One small, concrete action (2–10 minutes).
pub fn micro_action(distortion: Option<D>, emotions: &Emotions, seed: u64) -> MicroAction {
    let by_type: &[(&str, u32)] = match distortion {
        Some(D::AllOrNothing) => &[
            ("Write down three shades between 'total success' and 'total failure' for this situation.", 3),
            ("Pick one part of the task and do just 10 minutes of it, imperfectly on purpose.", 10),
        ],
        Some(D::Overgeneralization) => &[
            ("Write down one time this did not happen, however small.", 3),
            ("List three recent moments that went okay, even a little.", 4),
        ],
        Some(D::MentalFilter) => &[
            ("Note one thing that went wrong today and two that were neutral or good.", 3),
            ("Take a photo of one small thing you like around you right now.", 2),
        ],
        Some(D::DisqualifyingPositive) => &[
            ("Write down one thing you did well this week and let it stand without a 'but'.", 3),
            ("Next time someone thanks you, just say 'thank you' and notice how it feels.", 2),
        ],
        Some(D::MindReading) => &[
            ("Write two other explanations for what the other person might be thinking.", 4),
            ("If it feels safe, ask one gentle, open question instead of guessing.", 5),
        ],
        Some(D::FortuneTelling) => &[
            ("Write the worst, best and most likely outcome, then one step you'd take in each case.", 5),
            ("Set a 5-minute timer for worry, then gently move to something in front of you.", 5),
        ],
        Some(D::Magnification) => &[
            ("Rate how big this feels from 1 to 10, then rate how big it will likely feel next week.", 2),
            ("Take five slow breaths, with the out-breath a little longer than the in-breath.", 2),
        ],
        Some(D::EmotionalReasoning) => &[
            ("Name the feeling, then write one fact that supports the thought and one that doesn't.", 4),
            ("Put a hand on your chest and say to yourself: 'This is a feeling, and it will pass.'", 1),
        ],
        Some(D::ShouldStatements) => &[
            ("Rewrite one 'should' from today as 'I'd like to' and notice the difference.", 2),
            ("Choose one 'should' you can let go of for today.", 2),
        ],
        Some(D::Labeling) => &[
            ("Describe what happened in one sentence without any label, just the facts.", 3),
            ("Write three qualities a friend would use to describe you.", 4),
        ],
        Some(D::Personalization) => &[
            ("Draw a quick pie chart of everything that contributed to what happened.", 5),
            ("Write down what was in your control and what wasn't, in two columns.", 5),
        ],
        Some(D::Blaming) => &[
            ("Write one small step that is within your control today.", 3),
            ("Before responding to anyone, take a 10-minute walk and let the heat settle.", 10),
        ],
        None => &[],
    };
    let by_emotion: &[(&str, u32)] =
        if emotions.fear >= 0.3 || emotions.arousal >= 0.65 {
            &[
            ("Try box breathing: in for 4, hold for 4, out for 4, hold for 4, for two minutes.", 2),
            ("Name 5 things you can see, 4 you can hear and 3 you can touch.", 3),
        ]
        } else if emotions.sadness >= 0.3 || emotions.valence <= -0.3 {
            &[
                (
                    "Step outside or to a window for five minutes of daylight and fresh air.",
                    5,
                ),
                (
                    "Send a short message to someone you trust, even just to say hello.",
                    3,
                ),
            ]
        } else if emotions.anger >= 0.3 {
            &[
                (
                    "Splash cold water on your face or hold something cold for a minute.",
                    2,
                ),
                (
                    "Go for a brisk ten-minute walk before deciding anything.",
                    10,
                ),
            ]
        } else {
            &[
                (
                    "Write one sentence about something you're looking forward to.",
                    2,
                ),
                ("Stretch your shoulders and neck slowly for two minutes.", 2),
            ]
        };
    let r = mix(seed, 31) % 3;
    let use_type = !by_type.is_empty() && r != 0;
    let list = if use_type { by_type } else { by_emotion };
    let (t, m) = list[(mix(seed, 37) % list.len() as u64) as usize];
    MicroAction {
        text: t.to_string(),
        minutes: m,
    }
}

/// A daily affirmation, optionally tuned to recent emotions.
pub fn affirmation(emotions: Option<&Emotions>, seed: u64) -> String {
    const GENERAL: &[&str] = &[
        "I can take today one step at a time.",
        "I am allowed to be a work in progress.",
        "My worth is not measured by my productivity.",
        "I can be kind to myself, even on hard days.",
        "Small steps still move me forward.",
        "I have made it through difficult days before.",
        "I deserve the same patience I give to others.",
        "It's okay to rest; rest is part of growing.",
        "I can notice my thoughts without believing every one of them.",
        "Today I will look for one good moment and let it count.",
    ];
    const ANXIOUS: &[&str] = &[
        "I can breathe slowly and meet this moment as it is.",
        "Not every worry is a prediction. I can take this one step at a time.",
        "I have coped with uncertainty before, and I can do it again.",
    ];
    const LOW: &[&str] = &[
        "My feelings are valid, and they will not last forever.",
        "I am worthy of care, especially on heavy days.",
        "Reaching out is a strength, not a burden.",
    ];
    const ANGRY: &[&str] = &[
        "I can feel strongly and still choose how I respond.",
        "My needs matter, and I can express them calmly.",
    ];
    const GOOD: &[&str] = &[
        "I can let this good feeling count.",
        "I notice what's going well and I let myself enjoy it.",
    ];
    let list = match emotions {
        Some(e) if e.fear >= 0.3 => ANXIOUS,
        Some(e) if e.sadness >= 0.3 || e.valence <= -0.3 => LOW,
        Some(e) if e.anger >= 0.3 => ANGRY,
        Some(e) if e.valence >= 0.3 => GOOD,
        _ => GENERAL,
    };
    // mostly the tuned list, sometimes a general one for variety
    let r = mix(seed, 53) % 3;
    let list = if list.len() < GENERAL.len() && r == 0 {
        GENERAL
    } else {
        list
    };
    pick(list, seed, 59).to_string()
}

fn tone(e: &Emotions) -> &'static str {
    if e.valence <= -0.35 {
        "heavy"
    } else if e.valence < -0.1 {
        "a little heavy"
    } else if e.valence <= 0.15 {
        "mixed"
    } else {
        "lighter"
    }
}

fn pattern_phrase(d: D) -> &'static str {
    match d {
        D::AllOrNothing => "seeing things as all good or all bad",
        D::Overgeneralization => "turning one moment into an 'always' or 'never'",
        D::MentalFilter => "focusing on the one painful detail",
        D::DisqualifyingPositive => "setting aside the good things as if they don't count",
        D::MindReading => "guessing what others think",
        D::FortuneTelling => "predicting how things will go",
        D::Magnification => "making hard moments feel bigger than they may be",
        D::EmotionalReasoning => "treating feelings as facts",
        D::ShouldStatements => "holding yourself to strict 'shoulds'",
        D::Labeling => "summing yourself up with a harsh label",
        D::Personalization => "taking on more of the blame than is yours",
        D::Blaming => "putting the whole weight on someone else",
    }
}

fn top_pattern(counts: &[(D, u32)]) -> Option<(D, u32)> {
    counts
        .iter()
        .copied()
        .filter(|(_, n)| *n > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// A short reflection for the end of a Mirror session, from aggregates only.
pub fn session_reflection(summary: &SessionSummary, seed: u64) -> String {
    let n = summary.message_count;
    let open = pick(
        &[
            "Thank you for taking this time to write.",
            "You showed up for yourself today by writing this down.",
            "Taking a moment to put things into words is worth something.",
        ],
        seed,
        71,
    );
    let mut s = String::with_capacity(320);
    s.push_str(open);
    s.push(' ');
    let msgs = if n == 1 {
        "one message".to_string()
    } else {
        format!("{n} messages")
    };
    s.push_str(&format!(
        "Across {msgs}, the overall tone felt {}.",
        tone(&summary.mean_emotions)
    ));
    if let Some((d, c)) = top_pattern(&summary.distortion_counts) {
        let freq = if c >= 3 { "a few times" } else { "at times" };
        s.push_str(&format!(
            " Your thoughts leaned {freq} toward {}; noticing that is already a step.",
            pattern_phrase(d)
        ));
    } else {
        s.push_str(" No strong thinking traps stood out this time.");
    }
    let close = pick(
        &[
            " Before you go, what is one small thing you'd like to carry into the rest of your day?",
            " Be gentle with yourself for the rest of today.",
            " Whatever you're carrying, you don't have to sort it all out at once.",
        ],
        seed,
        73,
    );
    s.push_str(close);
    s
}

fn change_phrase(now: &Emotions, before: Option<&Emotions>) -> Option<&'static str> {
    let b = before?;
    let d = now.valence - b.valence;
    Some(if d >= 0.1 {
        "a little lighter than the period before"
    } else if d <= -0.1 {
        "a bit heavier than the period before"
    } else {
        "about as steady as the period before"
    })
}

fn insight(p: &PeriodSummary, seed: u64, period: &str) -> String {
    let mut s = String::with_capacity(400);
    let total = p.sessions + p.turns;
    if total == 0 {
        return format!(
            "There's nothing to reflect on for this {period} yet. Whenever you're ready, even a few lines of writing can help you notice what's going on."
        );
    }
    s.push_str(&format!(
        "This {period} you wrote {} session{} and worked through {} thought{}.",
        p.sessions,
        if p.sessions == 1 { "" } else { "s" },
        p.turns,
        if p.turns == 1 { "" } else { "s" }
    ));
    s.push_str(&format!(
        " Overall your writing felt {}",
        tone(&p.mean_emotions)
    ));
    match change_phrase(&p.mean_emotions, p.previous_mean.as_ref()) {
        Some(c) => s.push_str(&format!(", {c}.")),
        None => s.push('.'),
    }
    if let Some((name, v)) = p.mean_emotions.dominant() {
        if v >= 0.15 {
            s.push_str(&format!(" The feeling that showed up most was {name}."));
        }
    }
    if let Some((d, _)) = top_pattern(&p.distortion_counts) {
        s.push_str(&format!(
            " The thinking pattern that came up most often was {}.",
            pattern_phrase(d)
        ));
    }
    if let Some(i) = p.turn_impact {
        if i <= -5.0 {
            s.push_str(" Reframing seemed to loosen the grip of difficult thoughts.");
        } else if i >= 5.0 {
            s.push_str(" Some thoughts felt stickier after reframing; that happens, and it's okay to come back to them.");
        }
    }
    s.push_str(pick(
        &[
            " What is one thing you'd like to keep doing next time?",
            " Remember to notice the small things that helped.",
            " Whatever comes next, you've already shown you can pause and reflect.",
        ],
        seed,
        91,
    ));
    s
}

/// Weekly Spectrum insight from aggregates only.
pub fn weekly_insight(p: &PeriodSummary, seed: u64) -> String {
    insight(p, seed, "week")
}

/// Monthly Spectrum narrative from aggregates only.
pub fn monthly_insight(p: &PeriodSummary, seed: u64) -> String {
    insight(p, seed, "month")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sad() -> Emotions {
        Emotions {
            valence: -0.6,
            sadness: 0.6,
            ..Emotions::default()
        }
    }

    #[test]
    fn reframes_have_three_distinct_styles_for_every_type() {
        let mut types: Vec<Option<D>> = D::ALL.iter().copied().map(Some).collect();
        types.push(None);
        for d in types {
            for seed in 0..20u64 {
                let r = reframes(d, &sad(), seed);
                assert_ne!(r[0].style, r[1].style);
                assert_ne!(r[0].style, r[2].style);
                assert_ne!(r[1].style, r[2].style);
                for x in &r {
                    assert!(!x.text.contains('{'), "{}", x.text);
                    assert!(x.text.len() > 20);
                }
                assert_eq!(r, reframes(d, &sad(), seed), "deterministic");
            }
        }
    }

    #[test]
    fn micro_actions_and_affirmations() {
        for d in D::ALL {
            let m = micro_action(Some(d), &sad(), 3);
            assert!(m.minutes >= 1 && m.minutes <= 10);
            assert_eq!(m, micro_action(Some(d), &sad(), 3));
        }
        let a = affirmation(Some(&sad()), 1);
        assert_eq!(a, affirmation(Some(&sad()), 1));
        assert!(!affirmation(None, 9).is_empty());
    }

    #[test]
    fn reflection_and_insights_from_aggregates() {
        let s = SessionSummary {
            message_count: 4,
            distortion_counts: vec![(D::FortuneTelling, 3), (D::Labeling, 1)],
            mean_emotions: sad(),
        };
        let r = session_reflection(&s, 5);
        assert!(r.contains("4 messages") && r.contains("predicting"), "{r}");
        let p = PeriodSummary {
            sessions: 3,
            turns: 2,
            mean_emotions: sad(),
            previous_mean: Some(Emotions::default()),
            distortion_counts: vec![(D::MindReading, 2)],
            turn_impact: Some(-12.0),
        };
        let w = weekly_insight(&p, 1);
        assert!(w.contains("heavier") && w.contains("guessing"), "{w}");
        assert!(monthly_insight(&PeriodSummary::default(), 1).contains("nothing"));
    }
}
