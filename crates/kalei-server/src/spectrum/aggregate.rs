//! Period aggregates (a local week or a local month) built from the derived
//! per-item tables only (`spectrum_session_vectors`, `spectrum_turn_impacts`):
//! mean and spread of the emotional vector, a day-by-day landscape, the
//! pattern distribution, turn impact, activity and streaks, and the change
//! against the previous period. No text is read here.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use kalei_analysis::templates::PeriodSummary;
use kalei_analysis::{DistortionType, Emotions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;

/// The ten dimensions of an emotional vector (valence and arousal −1..1,
/// the eight Plutchik intensities 0..1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmotionVector {
    #[schema(example = 0.12)]
    pub valence: f64,
    #[schema(example = 0.34)]
    pub arousal: f64,
    pub joy: f64,
    pub trust: f64,
    pub fear: f64,
    pub surprise: f64,
    pub sadness: f64,
    pub disgust: f64,
    pub anger: f64,
    pub anticipation: f64,
}

impl EmotionVector {
    fn dims(&self) -> [f64; 10] {
        [
            self.valence,
            self.arousal,
            self.joy,
            self.trust,
            self.fear,
            self.surprise,
            self.sadness,
            self.disgust,
            self.anger,
            self.anticipation,
        ]
    }
    fn from_dims(d: [f64; 10]) -> Self {
        EmotionVector {
            valence: d[0],
            arousal: d[1],
            joy: d[2],
            trust: d[3],
            fear: d[4],
            surprise: d[5],
            sadness: d[6],
            disgust: d[7],
            anger: d[8],
            anticipation: d[9],
        }
    }
    fn from_emotions(e: &Emotions) -> Self {
        Self::from_dims([
            e.valence as f64,
            e.arousal as f64,
            e.joy as f64,
            e.trust as f64,
            e.fear as f64,
            e.surprise as f64,
            e.sadness as f64,
            e.disgust as f64,
            e.anger as f64,
            e.anticipation as f64,
        ])
    }
    pub fn to_emotions(&self) -> Emotions {
        let d = self.dims().map(|x| x as f32);
        Emotions {
            valence: d[0],
            arousal: d[1],
            joy: d[2],
            trust: d[3],
            fear: d[4],
            surprise: d[5],
            sadness: d[6],
            disgust: d[7],
            anger: d[8],
            anticipation: d[9],
        }
    }
    fn round(&self) -> Self {
        Self::from_dims(self.dims().map(round3))
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Mean and spread (population standard deviation) over the period's sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VectorStats {
    pub mean: EmotionVector,
    pub spread: EmotionVector,
    /// Sessions the vector is computed from.
    #[schema(example = 4)]
    pub samples: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PatternCount {
    /// Distortion type, e.g. overgeneralization.
    #[serde(rename = "type")]
    #[schema(example = "catastrophizing")]
    pub type_: String,
    #[schema(example = 3)]
    pub count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TurnImpact {
    /// Turns with a belief rating before and after.
    #[schema(example = 2)]
    pub rated_turns: i64,
    /// Mean of belief after − before (−100..100; negative = the thought lost grip).
    #[schema(example = -35.0)]
    pub mean_belief_change: Option<f64>,
    /// Turns whose chosen reframe was scored.
    pub shifted_turns: i64,
    /// Mean sentiment shift from the thought to the chosen reframe (−2..2).
    #[schema(example = 0.8)]
    pub mean_sentiment_shift: Option<f64>,
    pub saved_turns: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    pub sessions: i64,
    pub turns: i64,
    pub messages: i64,
    pub words: i64,
    /// Days with at least one session or turn.
    pub active_days: i64,
    /// Longest run of consecutive active days inside the period.
    pub longest_streak_days: i64,
}

/// One day of the landscape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DayPoint {
    #[schema(example = "2026-03-02")]
    pub date: String,
    pub sessions: i64,
    pub turns: i64,
    /// Mean valence of the day's sessions; null without sessions.
    pub valence: Option<f64>,
    pub arousal: Option<f64>,
    /// The strongest of the eight emotions that day (when clear).
    #[schema(example = "joy")]
    pub dominant: Option<String>,
}

/// Against the previous period (null when that period had no entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Change {
    pub valence: f64,
    pub arousal: f64,
    pub sessions: i64,
    pub turns: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Aggregates {
    #[schema(example = "2026-03-02")]
    pub start: String,
    /// Last day of the period (inclusive).
    #[schema(example = "2026-03-08")]
    pub end: String,
    pub vector: VectorStats,
    pub patterns: Vec<PatternCount>,
    pub turn_impact: TurnImpact,
    pub activity: Activity,
    pub landscape: Vec<DayPoint>,
    pub change: Option<Change>,
}

/// A session vector row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub local_date: String,
    pub emotions: String,
    pub distortion_counts: String,
    pub message_count: i64,
    pub word_count: i64,
}

/// A turn impact row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TurnRow {
    pub local_date: String,
    pub distortions: String,
    pub belief_before: Option<i64>,
    pub belief_after: Option<i64>,
    pub polarity_before: f64,
    pub polarity_after: Option<f64>,
    pub saved: i64,
}

pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The Monday of `d`'s week.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// `2026-W10` for the week starting `monday`.
pub fn iso_week(monday: NaiveDate) -> String {
    let w = monday.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// First and last day of a month.
pub fn month_bounds(year: i32, month: u32) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some((first, next.pred_opt()?))
}

/// Loads the derived rows of `[from, to]` (local dates, inclusive).
pub async fn load(
    state: &AppState,
    user_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<(Vec<SessionRow>, Vec<TurnRow>)> {
    let sessions: Vec<SessionRow> = sqlx::query_as(
        "SELECT local_date, emotions, distortion_counts, message_count, word_count FROM spectrum_session_vectors \
         WHERE user_id = $1 AND local_date >= $2 AND local_date <= $3",
    )
    .bind(user_id)
    .bind(ymd(from))
    .bind(ymd(to))
    .fetch_all(state.db.pool())
    .await?;
    let turns: Vec<TurnRow> = sqlx::query_as(
        "SELECT local_date, distortions, belief_before, belief_after, polarity_before, polarity_after, saved \
         FROM spectrum_turn_impacts WHERE user_id = $1 AND local_date >= $2 AND local_date <= $3",
    )
    .bind(user_id)
    .bind(ymd(from))
    .bind(ymd(to))
    .fetch_all(state.db.pool())
    .await?;
    Ok((sessions, turns))
}

fn mean_and_spread(vs: &[EmotionVector]) -> (EmotionVector, EmotionVector) {
    if vs.is_empty() {
        return Default::default();
    }
    let n = vs.len() as f64;
    let mut mean = [0.0; 10];
    for v in vs {
        for (m, x) in mean.iter_mut().zip(v.dims()) {
            *m += x / n;
        }
    }
    let mut var = [0.0; 10];
    for v in vs {
        for ((s, x), m) in var.iter_mut().zip(v.dims()).zip(mean) {
            *s += (x - m) * (x - m) / n;
        }
    }
    (
        EmotionVector::from_dims(mean),
        EmotionVector::from_dims(var.map(f64::sqrt)),
    )
}

fn dominant(v: &EmotionVector) -> Option<String> {
    v.to_emotions()
        .dominant()
        .filter(|(_, x)| *x >= 0.15)
        .map(|(n, _)| n.to_string())
}

/// Aggregates of `[from, to]` from the rows of that period and of the
/// previous one (for the change). Pure: rows outside `[from, to]` are ignored.
pub fn summarise(
    from: NaiveDate,
    to: NaiveDate,
    sessions: &[SessionRow],
    turns: &[TurnRow],
    previous: Option<(&[SessionRow], &[TurnRow])>,
) -> Aggregates {
    let (lo, hi) = (ymd(from), ymd(to));
    let in_range = |d: &str| d >= lo.as_str() && d <= hi.as_str();
    let sessions: Vec<&SessionRow> = sessions
        .iter()
        .filter(|s| in_range(&s.local_date))
        .collect();
    let turns: Vec<&TurnRow> = turns.iter().filter(|t| in_range(&t.local_date)).collect();

    let vectors: Vec<(String, EmotionVector)> = sessions
        .iter()
        .map(|s| {
            let e: Emotions = serde_json::from_str(&s.emotions).unwrap_or_default();
            (s.local_date.clone(), EmotionVector::from_emotions(&e))
        })
        .collect();
    let all: Vec<EmotionVector> = vectors.iter().map(|(_, v)| v.clone()).collect();
    let (mean, spread) = mean_and_spread(&all);

    let mut patterns: BTreeMap<String, i64> = BTreeMap::new();
    for s in &sessions {
        let counts: BTreeMap<String, i64> =
            serde_json::from_str(&s.distortion_counts).unwrap_or_default();
        for (k, v) in counts {
            *patterns.entry(k).or_default() += v;
        }
    }
    for t in &turns {
        let types: Vec<String> = serde_json::from_str(&t.distortions).unwrap_or_default();
        for k in types {
            *patterns.entry(k).or_default() += 1;
        }
    }
    let mut patterns: Vec<PatternCount> = patterns
        .into_iter()
        .map(|(type_, count)| PatternCount { type_, count })
        .collect();
    patterns.sort_by(|a, b| b.count.cmp(&a.count).then(a.type_.cmp(&b.type_)));

    let belief: Vec<f64> = turns
        .iter()
        .filter_map(|t| Some((t.belief_after? - t.belief_before?) as f64))
        .collect();
    let shifts: Vec<f64> = turns
        .iter()
        .filter_map(|t| Some(t.polarity_after? - t.polarity_before))
        .collect();
    let avg = |v: &[f64]| (!v.is_empty()).then(|| round3(v.iter().sum::<f64>() / v.len() as f64));
    let turn_impact = TurnImpact {
        rated_turns: belief.len() as i64,
        mean_belief_change: avg(&belief),
        shifted_turns: shifts.len() as i64,
        mean_sentiment_shift: avg(&shifts),
        saved_turns: turns.iter().filter(|t| t.saved != 0).count() as i64,
    };

    let mut landscape = Vec::new();
    let (mut active_days, mut streak, mut longest) = (0, 0, 0);
    let mut day = from;
    while day <= to {
        let d = ymd(day);
        let day_vectors: Vec<EmotionVector> = vectors
            .iter()
            .filter(|(date, _)| *date == d)
            .map(|(_, v)| v.clone())
            .collect();
        let n_turns = turns.iter().filter(|t| t.local_date == d).count() as i64;
        let (m, _) = mean_and_spread(&day_vectors);
        let has_sessions = !day_vectors.is_empty();
        if has_sessions || n_turns > 0 {
            active_days += 1;
            streak += 1;
            longest = longest.max(streak);
        } else {
            streak = 0;
        }
        landscape.push(DayPoint {
            date: d,
            sessions: day_vectors.len() as i64,
            turns: n_turns,
            valence: has_sessions.then(|| round3(m.valence)),
            arousal: has_sessions.then(|| round3(m.arousal)),
            dominant: if has_sessions { dominant(&m) } else { None },
        });
        day += Duration::days(1);
    }

    let activity = Activity {
        sessions: sessions.len() as i64,
        turns: turns.len() as i64,
        messages: sessions.iter().map(|s| s.message_count).sum(),
        words: sessions.iter().map(|s| s.word_count).sum(),
        active_days,
        longest_streak_days: longest,
    };

    let change = previous.and_then(|(ps, pt)| {
        if ps.is_empty() && pt.is_empty() {
            return None;
        }
        let pv: Vec<EmotionVector> = ps
            .iter()
            .map(|s| {
                EmotionVector::from_emotions(&serde_json::from_str(&s.emotions).unwrap_or_default())
            })
            .collect();
        let (pm, _) = mean_and_spread(&pv);
        Some(Change {
            valence: round3(mean.valence - pm.valence),
            arousal: round3(mean.arousal - pm.arousal),
            sessions: activity.sessions - ps.len() as i64,
            turns: activity.turns - pt.len() as i64,
        })
    });

    Aggregates {
        start: lo,
        end: hi,
        vector: VectorStats {
            mean: mean.round(),
            spread: spread.round(),
            samples: all.len() as i64,
        },
        patterns,
        turn_impact,
        activity,
        landscape,
        change,
    }
}

/// The template input: aggregates only.
pub fn period_summary(a: &Aggregates, previous_mean: Option<Emotions>) -> PeriodSummary {
    PeriodSummary {
        sessions: a.activity.sessions as u32,
        turns: a.activity.turns as u32,
        mean_emotions: a.vector.mean.to_emotions(),
        previous_mean,
        distortion_counts: a
            .patterns
            .iter()
            .filter_map(|p| Some((p.type_.parse::<DistortionType>().ok()?, p.count as u32)))
            .collect(),
        turn_impact: a.turn_impact.mean_belief_change.map(|x| x as f32),
    }
}

/// Previous period's mean (for the "lighter / heavier" wording).
pub fn previous_mean(a: &Aggregates) -> Option<Emotions> {
    let c = a.change.as_ref()?;
    let mut e = a.vector.mean.to_emotions();
    e.valence -= c.valence as f32;
    e.arousal -= c.arousal as f32;
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(date: &str, valence: f32, d: &str) -> SessionRow {
        SessionRow {
            local_date: date.into(),
            emotions: serde_json::to_string(&Emotions {
                valence,
                joy: valence.max(0.0),
                ..Emotions::default()
            })
            .unwrap(),
            distortion_counts: d.into(),
            message_count: 2,
            word_count: 10,
        }
    }

    #[test]
    fn a_constructed_week() {
        let from = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let to = from + Duration::days(6);
        let sessions = vec![
            s("2026-03-02", 0.5, r#"{"catastrophizing":2}"#),
            s("2026-03-03", -0.5, r#"{"catastrophizing":1,"labeling":1}"#),
            s("2026-03-09", 0.9, "{}"), // next week: ignored
        ];
        let turns = vec![TurnRow {
            local_date: "2026-03-03".into(),
            distortions: r#"["labeling"]"#.into(),
            belief_before: Some(80),
            belief_after: Some(30),
            polarity_before: -0.5,
            polarity_after: Some(0.25),
            saved: 1,
        }];
        let prev = [s("2026-02-25", -0.5, "{}")];
        let a = summarise(from, to, &sessions, &turns, Some((&prev, &[])));
        assert_eq!(a.vector.samples, 2);
        assert_eq!(a.vector.mean.valence, 0.0);
        assert_eq!(a.vector.spread.valence, 0.5);
        assert_eq!(
            a.patterns[0],
            PatternCount {
                type_: "catastrophizing".into(),
                count: 3
            }
        );
        assert_eq!(
            a.patterns[1],
            PatternCount {
                type_: "labeling".into(),
                count: 2
            }
        );
        assert_eq!(a.turn_impact.mean_belief_change, Some(-50.0));
        assert_eq!(a.turn_impact.mean_sentiment_shift, Some(0.75));
        assert_eq!(a.landscape.len(), 7);
        assert_eq!(a.landscape[0].valence, Some(0.5));
        assert_eq!(a.landscape[2].valence, None);
        assert_eq!(a.activity.active_days, 2);
        assert_eq!(a.activity.longest_streak_days, 2);
        assert_eq!(a.activity.words, 20);
        let c = a.change.unwrap();
        assert_eq!((c.valence, c.sessions, c.turns), (0.5, 1, 1));
    }

    #[test]
    fn weeks_and_months() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(); // a Sunday
        assert_eq!(ymd(week_start(d)), "2026-03-02");
        assert_eq!(iso_week(week_start(d)), "2026-W10");
        let (a, b) = month_bounds(2024, 2).unwrap();
        assert_eq!((ymd(a), ymd(b)), ("2024-02-01".into(), "2024-02-29".into()));
    }
}
