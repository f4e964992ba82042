//! The synthetic writer behind `kalei demo`: plans eight weeks of entries
//! for one person and composes their text. It follows a mood arc (a hard
//! stretch around the third week, then a slow recovery) so the weekly feed
//! has something to show, and mixes its own small phrase banks with the
//! engine's templates (micro-actions and affirmations the person "tried").
//! Nothing here comes from the evaluation data set; every phrase is checked
//! to be free of crisis language (see the tests), so the demo never trips the
//! safety gate.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use kalei_analysis::templates;
use kalei_analysis::{DistortionType, Emotions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

/// How a day feels to the writer, from the arc plus noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayMood {
    Hard,
    Mixed,
    Good,
}

/// One Mirror session: its local start and its messages.
#[derive(Debug, Clone)]
pub struct PlannedSession {
    pub at: NaiveDateTime,
    pub messages: Vec<String>,
}

/// One Turn: the thought, how much it was believed before and after, and
/// which of the three reframes helped.
#[derive(Debug, Clone)]
pub struct PlannedTurn {
    pub at: NaiveDateTime,
    pub thought: String,
    pub belief_before: i64,
    pub belief_after: i64,
    pub chosen_reframe: i64,
}

/// A Lens goal, set on a day, with actions completed (or not) later.
#[derive(Debug, Clone)]
pub struct PlannedGoal {
    pub at: NaiveDateTime,
    pub title: &'static str,
    /// (action title, local time it was completed, if it was).
    pub actions: Vec<(&'static str, Option<NaiveDateTime>)>,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub sessions: Vec<PlannedSession>,
    pub turns: Vec<PlannedTurn>,
    pub goals: Vec<PlannedGoal>,
}

/// Weeks the demo covers.
pub const WEEKS: i64 = 8;

/// Valence the writer drifts around on day `day` of `days`: about −0.25 at
/// the start, a low near −0.45 around day 17, about +0.35 at the end.
pub fn arc(day: i64, days: i64) -> f64 {
    let t = day as f64 / (days - 1).max(1) as f64;
    let dip = -0.25 * (-((t - 0.3) * (t - 0.3)) / 0.01).exp();
    -0.25 + 0.6 * t * t + dip
}

fn mood(valence: f64) -> DayMood {
    if valence < -0.15 {
        DayMood::Hard
    } else if valence < 0.12 {
        DayMood::Mixed
    } else {
        DayMood::Good
    }
}

const MOMENTS: &[&str] = &[
    "This morning",
    "At lunch",
    "This afternoon",
    "Tonight",
    "After work",
];

const SITUATIONS: &[&str] = &[
    "the team meeting ran over again and my part got squeezed into five minutes",
    "I had a long phone call with my sister about our parents",
    "my manager sent back the report with a lot of comments",
    "the train was late and I walked into the workshop twenty minutes behind",
    "I worked through the budget spreadsheet for the flat",
    "the landlord still has not fixed the heating",
    "I presented the quarterly numbers to the whole department",
    "a friend cancelled our plans at the last minute",
    "I spent most of the day answering emails I had been putting off",
    "I tried the new pottery class on the other side of town",
    "we had the first proper conversation about the move",
    "I cooked a real dinner instead of ordering in",
];

const HARD_FEELINGS: &[&str] = &[
    "My shoulders are tight and I feel worn out.",
    "I feel low and a bit lonely tonight.",
    "I was irritated for most of the afternoon and snapped at Sam.",
    "I keep worrying about next week and cannot settle.",
    "I feel anxious and my stomach is in knots.",
    "Everything felt heavy and slow today.",
];

const MIXED_FEELINGS: &[&str] = &[
    "It was a mixed day, a little tense but mostly fine.",
    "Not great, not terrible, somewhere in between.",
    "I felt flat for a while and then it lifted a bit in the evening.",
    "I was nervous at first and calmer by the end.",
];

const GOOD_FEELINGS: &[&str] = &[
    "I felt calm and grateful for once.",
    "I laughed a lot and felt light.",
    "I am proud of myself for speaking up.",
    "I am really looking forward to the weekend trip.",
    "It was a good, steady day and I enjoyed the quiet.",
    "I felt hopeful about the next few weeks.",
];

const GOOD_DETAILS: &[&str] = &[
    "We cooked together and the kitchen smelled wonderful.",
    "The walk home in the sun helped a lot.",
    "Priya sent me a kind message out of nowhere.",
    "I slept well and woke up rested.",
    "The feedback on the draft was better than I expected.",
];

/// Thoughts with a typical distortion, for messages and for Turns.
const THOUGHTS: &[(DistortionType, &str)] = &[
    (
        DistortionType::Overgeneralization,
        "I always mess everything up when it matters.",
    ),
    (
        DistortionType::Overgeneralization,
        "Nothing ever works out for me at work.",
    ),
    (
        DistortionType::MindReading,
        "She probably thinks I'm annoying and just puts up with me.",
    ),
    (
        DistortionType::MindReading,
        "Everyone in the meeting could tell I had no idea what I was doing.",
    ),
    (
        DistortionType::FortuneTelling,
        "This project is going to fail and it will be my fault.",
    ),
    (
        DistortionType::Magnification,
        "If I miss this deadline it will be a complete disaster.",
    ),
    (
        DistortionType::ShouldStatements,
        "I should be much further along by now.",
    ),
    (
        DistortionType::Labeling,
        "I'm such an idiot for forgetting the call.",
    ),
    (
        DistortionType::Personalization,
        "It's my fault the evening went badly for everyone.",
    ),
    (
        DistortionType::AllOrNothing,
        "If the talk isn't perfect it's a total failure.",
    ),
    (
        DistortionType::EmotionalReasoning,
        "I feel like a failure, so I must be one.",
    ),
    (
        DistortionType::DisqualifyingPositive,
        "They only said it went well to be nice to me.",
    ),
];

const GOALS: &[(&str, &[&str])] = &[
    (
        "Sleep before midnight on weeknights",
        &[
            "Phone out of the bedroom",
            "Read for 15 minutes before bed",
            "Lights out by 23:30",
        ],
    ),
    (
        "Walk outside for 20 minutes a day",
        &[
            "Walk after lunch",
            "Take the long way home",
            "Sunday walk by the river",
        ],
    ),
    (
        "Stay in touch with friends",
        &["Call Priya", "Reply to the group chat", "Plan a dinner"],
    ),
];

fn at(day: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time"))
}

fn one<'a>(rng: &mut StdRng, bank: &[&'a str]) -> &'a str {
    bank.choose(rng).copied().expect("non-empty bank")
}

/// An emotional vector in the neighbourhood of `valence`, only to pick a
/// fitting template (the real analysis runs on the text later).
fn rough_emotions(valence: f64) -> Emotions {
    let v = valence as f32;
    Emotions {
        valence: v,
        arousal: 0.4,
        joy: v.max(0.0),
        sadness: (-v).max(0.0),
        fear: (-v * 0.6).max(0.0),
        ..Emotions::default()
    }
}

/// One message of a session on a day of `mood`.
fn message(rng: &mut StdRng, mood: DayMood, valence: f64, first: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    if first {
        parts.push(format!("{} {}.", one(rng, MOMENTS), one(rng, SITUATIONS)));
    }
    match mood {
        DayMood::Hard => {
            parts.push(one(rng, HARD_FEELINGS).to_string());
            parts.push(THOUGHTS.choose(rng).expect("thoughts").1.to_string());
        }
        DayMood::Mixed => {
            parts.push(one(rng, MIXED_FEELINGS).to_string());
            if rng.gen_bool(0.5) {
                parts.push(THOUGHTS.choose(rng).expect("thoughts").1.to_string());
            } else {
                parts.push(one(rng, GOOD_DETAILS).to_string());
            }
        }
        DayMood::Good => {
            parts.push(one(rng, GOOD_FEELINGS).to_string());
            parts.push(one(rng, GOOD_DETAILS).to_string());
        }
    }
    // Now and then the writer mentions something the app suggested.
    let seed: u64 = rng.gen();
    match rng.gen_range(0..6) {
        0 => {
            let a = templates::micro_action(None, &rough_emotions(valence), seed);
            parts.push(format!("I tried the suggestion from last time: {}", a.text));
        }
        1 if mood != DayMood::Hard => {
            let a = templates::affirmation(Some(&rough_emotions(valence)), seed);
            parts.push(format!("Today's note to self: {a}"));
        }
        _ => {}
    }
    parts.join(" ")
}

/// Picks `n` distinct days of a week (0 = Monday).
fn days_of_week(rng: &mut StdRng, n: usize) -> Vec<i64> {
    let mut days: Vec<i64> = (0..7).collect();
    days.shuffle(rng);
    days.truncate(n.min(7));
    days.sort_unstable();
    days
}

/// Eight weeks of entries, the first week starting on `first_monday`
/// (local dates and times). Every week gets at least three sessions and one
/// Turn, so every week of the feed has numbers.
pub fn plan(rng: &mut StdRng, first_monday: NaiveDate) -> Plan {
    let days = WEEKS * 7;
    let mut plan = Plan::default();
    for week in 0..WEEKS {
        let monday = first_monday + Duration::days(week * 7);
        let n_sessions = rng.gen_range(3..=5);
        let session_days = days_of_week(rng, n_sessions);
        // Harder weeks bring more thoughts to work through.
        let hard_week = arc(week * 7 + 3, days) < -0.15;
        let n_turns = if hard_week {
            rng.gen_range(2..=3)
        } else {
            rng.gen_range(1..=2)
        };
        let turn_days = days_of_week(rng, n_turns);
        for d in session_days {
            let index = week * 7 + d;
            let valence = arc(index, days) + rng.gen_range(-0.2..0.2);
            let mood = mood(valence);
            let n = rng.gen_range(2..=4);
            let messages = (0..n)
                .map(|i| message(rng, mood, valence, i == 0))
                .collect();
            plan.sessions.push(PlannedSession {
                at: at(
                    monday + Duration::days(d),
                    rng.gen_range(19..=22),
                    rng.gen_range(0..60),
                ),
                messages,
            });
        }
        for d in turn_days {
            let progress = (week * 7 + d) as f64 / (days - 1) as f64;
            let before = rng.gen_range(60..=95);
            // Reframes loosen their grip more as the weeks go on.
            let drop = (10.0 + 40.0 * progress + rng.gen_range(-8.0..8.0)).round() as i64;
            plan.turns.push(PlannedTurn {
                at: at(
                    monday + Duration::days(d),
                    rng.gen_range(8..=18),
                    rng.gen_range(0..60),
                ),
                thought: THOUGHTS.choose(rng).expect("thoughts").1.to_string(),
                belief_before: before,
                belief_after: (before - drop).clamp(5, 100),
                chosen_reframe: rng.gen_range(0..3),
            });
        }
    }
    // Two goals: one in the first week, one when things start to turn.
    for (goal, start_week) in GOALS.choose_multiple(rng, 2).zip([0, 3]) {
        let start = first_monday + Duration::days(start_week * 7 + rng.gen_range(0..3));
        let actions = goal
            .1
            .iter()
            .enumerate()
            .map(|(i, title)| {
                let done = rng.gen_bool(0.7);
                let when = start + Duration::days(3 + 4 * i as i64);
                (*title, done.then(|| at(when, 21, rng.gen_range(0..60))))
            })
            .collect();
        plan.goals.push(PlannedGoal {
            at: at(start, 12, rng.gen_range(0..60)),
            title: goal.0,
            actions,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use kalei_analysis::CrisisLevel;
    use rand::SeedableRng;

    #[test]
    fn no_phrase_is_crisis_language() {
        let banks = [
            MOMENTS,
            SITUATIONS,
            HARD_FEELINGS,
            MIXED_FEELINGS,
            GOOD_FEELINGS,
            GOOD_DETAILS,
        ];
        let phrases = banks
            .iter()
            .flat_map(|b| b.iter().copied())
            .chain(THOUGHTS.iter().map(|t| t.1));
        for p in phrases {
            let c = kalei_analysis::detect_crisis(p);
            assert_eq!(c.level, CrisisLevel::None, "{p}");
        }
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            for mood in [DayMood::Hard, DayMood::Mixed, DayMood::Good] {
                let m = message(&mut rng, mood, -0.4, true);
                assert_eq!(
                    kalei_analysis::detect_crisis(&m).level,
                    CrisisLevel::None,
                    "{m}"
                );
            }
        }
    }

    #[test]
    fn thoughts_show_their_distortion() {
        let found = THOUGHTS
            .iter()
            .filter(|(d, t)| {
                kalei_analysis::analyze(t)
                    .fragments
                    .iter()
                    .any(|f| f.r#type == *d)
            })
            .count();
        // The engine is a heuristic: most, not all, must be recognised.
        assert!(found * 2 >= THOUGHTS.len(), "{found} of {}", THOUGHTS.len());
    }

    #[test]
    fn eight_weeks_with_entries_every_week_and_a_recovery() {
        let monday = NaiveDate::from_ymd_opt(2026, 9, 21).unwrap();
        let plan = plan(&mut StdRng::seed_from_u64(7), monday);
        for week in 0..WEEKS {
            let from = monday + Duration::days(week * 7);
            let to = from + Duration::days(7);
            let in_week = |t: &NaiveDateTime| t.date() >= from && t.date() < to;
            assert!(plan.sessions.iter().filter(|s| in_week(&s.at)).count() >= 3);
            assert!(plan.turns.iter().any(|t| in_week(&t.at)));
        }
        assert!(plan
            .sessions
            .iter()
            .all(|s| (2..=4).contains(&s.messages.len())));
        assert!(plan
            .turns
            .iter()
            .all(|t| t.belief_after < t.belief_before || t.belief_after == 5));
        assert_eq!(plan.goals.len(), 2);
        let low = (0..56).map(|d| arc(d, 56)).fold(f64::MAX, f64::min);
        assert!(
            low < arc(0, 56) && arc(55, 56) > 0.2,
            "the arc dips, then recovers"
        );
    }
}
