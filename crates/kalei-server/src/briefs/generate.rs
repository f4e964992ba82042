//! Building briefs from the stored weekly aggregate and insight (never from
//! raw writing), the hook after the weekly Spectrum job, and the
//! verification pass that regenerates missing or stale briefs.
//!
//! A brief is upserted on (user, week): regenerating keeps the overlay state
//! (shown, dismissed, impressions, engagement) and only replaces the content,
//! so a retried or restarted job never duplicates a brief or resets what the
//! user already did with it.

use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use kalei_store::jobs::{JobKind, JobOutcome, Registry, Scheduler};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::spectrum::aggregate::{week_start, ymd, Aggregates, PatternCount};
use crate::spectrum::api::InsightView;

/// `ready`: the week has sessions or turns. `empty`: a quiet week, answered
/// with a friendly brief instead of an error.
pub const READY: &str = "ready";
pub const EMPTY: &str = "empty";

/// What a brief shows, snapshotted from `spectrum_weekly` (numbers, pattern
/// names and the validated insight; no user text).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BriefContent {
    /// The local Sunday that ends the week.
    #[schema(example = "2026-03-08")]
    pub week_end: String,
    #[schema(example = "Your week: 3 sessions and 2 turns.")]
    pub headline: String,
    #[schema(example = 3)]
    pub sessions: i64,
    #[schema(example = 2)]
    pub turns: i64,
    #[schema(example = 4)]
    pub active_days: i64,
    /// Up to three most frequent thinking patterns.
    pub top_patterns: Vec<PatternCount>,
    /// Mean valence of the week (−1…1); null for a week without sessions.
    #[schema(example = 0.12)]
    pub mean_valence: Option<f64>,
    /// Valence change against the week before; null without a comparison.
    #[schema(example = 0.1)]
    pub valence_change: Option<f64>,
    pub insight: InsightView,
}

#[derive(sqlx::FromRow)]
struct WeeklyRow {
    aggregates: String,
    insight: String,
    insight_status: String,
    prompt_version: String,
    computed_at: i64,
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The brief of one week from its aggregate row.
fn build(agg: &Aggregates, row: &WeeklyRow) -> (&'static str, BriefContent) {
    let (sessions, turns) = (agg.activity.sessions, agg.activity.turns);
    let empty = sessions == 0 && turns == 0;
    let headline = if empty {
        "A quiet week. Whenever you feel like writing, a few lines are enough.".to_string()
    } else {
        format!(
            "Your week: {} and {}.",
            plural(sessions, "session", "sessions"),
            plural(turns, "turn", "turns")
        )
    };
    let content = BriefContent {
        week_end: agg.end.clone(),
        headline,
        sessions,
        turns,
        active_days: agg.activity.active_days,
        top_patterns: agg.patterns.iter().take(3).cloned().collect(),
        mean_valence: (agg.vector.samples > 0).then_some(agg.vector.mean.valence),
        valence_change: agg.change.as_ref().map(|c| c.valence),
        insight: InsightView {
            text: row.insight.clone(),
            status: row.insight_status.clone(),
            prompt_version: row.prompt_version.clone(),
        },
    };
    (if empty { EMPTY } else { READY }, content)
}

/// A stored brief's identity and status.
#[derive(Debug, Clone)]
pub struct Generated {
    pub id: String,
    pub status: &'static str,
}

/// (Re)builds the brief of the week starting `monday` from its stored
/// aggregate. `None` when the week has no aggregate (never ran, or the user
/// reset Spectrum).
pub async fn generate(
    state: &AppState,
    user_id: &str,
    monday: NaiveDate,
) -> anyhow::Result<Option<Generated>> {
    let week = ymd(monday);
    let row: Option<WeeklyRow> = sqlx::query_as(
        "SELECT aggregates, insight, insight_status, prompt_version, computed_at FROM spectrum_weekly \
         WHERE user_id = $1 AND week_start = $2",
    )
    .bind(user_id)
    .bind(&week)
    .fetch_optional(state.db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let agg: Aggregates = serde_json::from_str(&row.aggregates)?;
    let (status, content) = build(&agg, &row);
    let now = state.clock.now_ms();
    sqlx::query(
        "INSERT INTO weekly_briefs (id, user_id, week_start, status, content, source_computed_at, generated_at, refreshed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (user_id, week_start) DO UPDATE SET status = excluded.status, content = excluded.content, \
           source_computed_at = excluded.source_computed_at, refreshed_at = excluded.refreshed_at",
    )
    .bind(kalei_store::new_id())
    .bind(user_id)
    .bind(&week)
    .bind(status)
    .bind(serde_json::to_string(&content)?)
    .bind(row.computed_at)
    .bind(now)
    .execute(state.db.pool())
    .await?;
    let id: String =
        sqlx::query_scalar("SELECT id FROM weekly_briefs WHERE user_id = $1 AND week_start = $2")
            .bind(user_id)
            .bind(&week)
            .fetch_one(state.db.pool())
            .await?;
    Ok(Some(Generated { id, status }))
}

/// The Monday of the user's last complete local week at `now_ms`.
pub fn last_complete_week(tz: Tz, now_ms: i64) -> NaiveDate {
    let today: NaiveDate = crate::spectrum::local_date(now_ms, tz)
        .parse()
        .unwrap_or_default();
    week_start(today) - chrono::Duration::days(7)
}

/// After the weekly Spectrum job stored a week: build its brief and, when
/// it is the user's newest complete week, offer the "your week is ready"
/// notification (which applies the preferences and is unique per week).
pub async fn after_weekly(
    state: &AppState,
    user_id: &str,
    monday: NaiveDate,
) -> anyhow::Result<()> {
    let monday = week_start(monday);
    let Some(brief) = generate(state, user_id, monday).await? else {
        return Ok(());
    };
    let tz = crate::spectrum::user_tz(state, user_id).await?;
    let now = state.clock.now_ms();
    if brief.status == READY && monday == last_complete_week(tz, now) {
        crate::notifications::weekly::offer(state, user_id, monday, now).await?;
    }
    Ok(())
}

/// Finds briefs of recent weeks (the last complete week of every time zone
/// lies within the last 15 days) that are missing or older than their
/// aggregate, and regenerates them through [`after_weekly`]. Returns how
/// many were regenerated.
pub async fn verify(state: &AppState, now_ms: i64) -> anyhow::Result<usize> {
    let since = ymd(crate::spectrum::local_date(now_ms, Tz::UTC)
        .parse::<NaiveDate>()
        .unwrap_or_default()
        - chrono::Duration::days(15));
    let due: Vec<(String, String)> = sqlx::query_as(
        "SELECT w.user_id, w.week_start FROM spectrum_weekly w \
         LEFT JOIN weekly_briefs b ON b.user_id = w.user_id AND b.week_start = w.week_start \
         WHERE w.week_start >= $1 AND (b.id IS NULL OR b.source_computed_at < w.computed_at)",
    )
    .bind(&since)
    .fetch_all(state.db.pool())
    .await?;
    let mut done = 0;
    for (user_id, week) in due {
        let Ok(monday) = NaiveDate::parse_from_str(&week, "%Y-%m-%d") else {
            continue;
        };
        after_weekly(state, &user_id, monday).await?;
        done += 1;
    }
    if done > 0 {
        tracing::info!(regenerated = done, "weekly brief verification pass");
    }
    Ok(done)
}

/// Hourly, half an hour after the Spectrum fan-out: the verification pass.
pub struct VerifyBriefs;

impl JobKind for VerifyBriefs {
    const KIND: &'static str = "briefs.verify";
    const QUEUE: &'static str = "spectrum";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(600);
    type Payload = crate::jobs::NoPayload;
}

pub fn register(registry: &mut Registry, state: &AppState) {
    let s = state.clone();
    registry.register::<VerifyBriefs, _, _>(move |_ctx, _p| {
        let s = s.clone();
        async move {
            verify(&s, s.clock.now_ms()).await?;
            Ok(JobOutcome::Completed)
        }
    });
}

pub fn schedule(scheduler: &mut Scheduler) -> anyhow::Result<()> {
    scheduler.add::<VerifyBriefs>("briefs-verify", "0 35 * * * *", crate::jobs::NoPayload {})?;
    Ok(())
}
