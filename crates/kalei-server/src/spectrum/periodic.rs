//! The weekly and monthly Spectrum jobs and the hourly fan-out that enqueues
//! them when a user's local week (Monday–Sunday in their profile's zone) or
//! month has just ended. Each run is idempotent: the row is upserted on
//! (user, period), and the scheduled job carries the unique key
//! `weekly:{user}:{iso-week}` / `monthly:{user}:{month}`, so an interrupted
//! and restarted run never duplicates an insight. Recomputes (after an
//! exclusion or a late analysis) use keys of their own.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use kalei_store::jobs::{JobKind, JobOutcome, JobResult, NewJob, Registry, Scheduler};
use serde::{Deserialize, Serialize};

use super::aggregate::{self, iso_week, month_bounds, week_start, ymd, Aggregates};
use super::insight::{self, Shingles};
use crate::app::AppState;

pub struct WeeklySpectrum;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeeklyPayload {
    pub user_id: String,
    /// The local Monday, `YYYY-MM-DD`.
    pub week_start: String,
}

impl JobKind for WeeklySpectrum {
    const KIND: &'static str = "spectrum.weekly";
    const QUEUE: &'static str = "spectrum";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(120);
    type Payload = WeeklyPayload;
    fn unique_key(p: &WeeklyPayload) -> Option<String> {
        let week = NaiveDate::parse_from_str(&p.week_start, "%Y-%m-%d")
            .map(iso_week)
            .unwrap_or_else(|_| p.week_start.clone());
        Some(format!("weekly:{}:{week}", p.user_id))
    }
    fn user_id(p: &WeeklyPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

pub struct MonthlySpectrum;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonthlyPayload {
    pub user_id: String,
    /// `YYYY-MM`.
    pub month: String,
}

impl JobKind for MonthlySpectrum {
    const KIND: &'static str = "spectrum.monthly";
    const QUEUE: &'static str = "spectrum";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(120);
    type Payload = MonthlyPayload;
    fn unique_key(p: &MonthlyPayload) -> Option<String> {
        Some(format!("monthly:{}:{}", p.user_id, p.month))
    }
    fn user_id(p: &MonthlyPayload) -> Option<String> {
        Some(p.user_id.clone())
    }
}

/// Hourly: enqueue the weekly (and, for prism_plus, monthly) jobs of every
/// user whose local week (month) has ended.
pub struct SpectrumFanOut;

impl JobKind for SpectrumFanOut {
    const KIND: &'static str = "spectrum.fan_out";
    const QUEUE: &'static str = "spectrum";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(600);
    type Payload = crate::jobs::NoPayload;
}

pub fn register(registry: &mut Registry, state: &AppState) {
    let s = state.clone();
    registry.register::<WeeklySpectrum, _, _>(move |_ctx, p| {
        let s = s.clone();
        async move {
            let Ok(start) = NaiveDate::parse_from_str(&p.week_start, "%Y-%m-%d") else {
                return Ok(JobOutcome::Cancel("bad week_start".into()));
            };
            run_weekly(&s, &p.user_id, start).await?;
            // The week's brief (and its push) follow the aggregate; both are
            // idempotent, so a retry of this job duplicates neither.
            crate::briefs::generate::after_weekly(&s, &p.user_id, start).await?;
            Ok(JobOutcome::Completed)
        }
    });
    let s = state.clone();
    registry.register::<MonthlySpectrum, _, _>(move |_ctx, p| {
        let s = s.clone();
        async move {
            let Some((y, m)) = parse_month(&p.month) else {
                return Ok(JobOutcome::Cancel("bad month".into()));
            };
            run_monthly(&s, &p.user_id, y, m).await?;
            Ok(JobOutcome::Completed)
        }
    });
    let s = state.clone();
    registry.register::<SpectrumFanOut, _, _>(move |_ctx, _p| {
        let s = s.clone();
        async move {
            fan_out(&s, s.clock.now_ms()).await?;
            Ok(JobOutcome::Completed)
        }
    });
}

pub fn schedule(scheduler: &mut Scheduler) -> anyhow::Result<()> {
    scheduler.add::<SpectrumFanOut>(
        "spectrum-fan-out",
        "0 5 * * * *",
        crate::jobs::NoPayload {},
    )?;
    Ok(())
}

pub fn parse_month(s: &str) -> Option<(i32, u32)> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    month_bounds(y, m).map(|_| (y, m))
}

fn local_today(tz: Tz, now_ms: i64) -> NaiveDate {
    tz.timestamp_millis_opt(now_ms)
        .single()
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// Enqueues the jobs that are due at `now_ms`: for users whose local day is a
/// Monday, the week that just ended; for prism_plus users whose local day is
/// the 1st, the month that just ended. Unique keys make every repeat within
/// the day a no-op. Returns the number of new jobs.
pub async fn fan_out(state: &AppState, now_ms: i64) -> anyhow::Result<usize> {
    let zones: Vec<String> = sqlx::query_scalar("SELECT DISTINCT timezone FROM profiles")
        .fetch_all(state.db.pool())
        .await?;
    let mut jobs = Vec::new();
    for zone in zones {
        let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
        let today = local_today(tz, now_ms);
        let monday = today.weekday() == chrono::Weekday::Mon;
        let first = today.day() == 1;
        if !monday && !first {
            continue;
        }
        if monday {
            let start = ymd(week_start(today) - chrono::Duration::days(7));
            let users: Vec<String> =
                sqlx::query_scalar("SELECT user_id FROM profiles WHERE timezone = $1")
                    .bind(&zone)
                    .fetch_all(state.db.pool())
                    .await?;
            for user_id in users {
                jobs.push(NewJob::of::<WeeklySpectrum>(&WeeklyPayload {
                    user_id,
                    week_start: start.clone(),
                })?);
            }
        }
        if first {
            let last = today.pred_opt().unwrap_or(today);
            let month = format!("{:04}-{:02}", last.year(), last.month());
            let users: Vec<String> = sqlx::query_scalar(
                "SELECT p.user_id FROM profiles p JOIN subscriptions s ON s.user_id = p.user_id \
                 WHERE p.timezone = $1 AND s.plan = 'prism_plus' AND s.status = 'active'",
            )
            .bind(&zone)
            .fetch_all(state.db.pool())
            .await?;
            for user_id in users {
                jobs.push(NewJob::of::<MonthlySpectrum>(&MonthlyPayload {
                    user_id,
                    month: month.clone(),
                })?);
            }
        }
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    Ok(state.jobs.insert_many(&jobs).await?.inserted.len())
}

/// UTC bounds `[from, to)` in ms of local days `first..=last`.
fn utc_bounds(tz: Tz, first: NaiveDate, last: NaiveDate) -> (i64, i64) {
    let at = |d: NaiveDate| kalei_store::jobs::tz::local_to_utc_ms(tz, d.and_time(NaiveTime::MIN));
    (at(first), at(last.succ_opt().unwrap_or(last)))
}

/// The user's own writing of the period (Mirror messages and Turn thoughts),
/// decrypted in memory for the overlap check only.
async fn raw_shingles(
    state: &AppState,
    user_id: &str,
    tz: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> anyhow::Result<Shingles> {
    let (from, to) = utc_bounds(tz, first, last);
    let messages: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT content_sealed FROM mirror_messages WHERE user_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(state.db.pool())
    .await?;
    let thoughts: Vec<Vec<u8>> = sqlx::query_scalar(
        "SELECT thought_sealed FROM turns WHERE user_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(state.db.pool())
    .await?;
    let mut texts = Vec::with_capacity(messages.len() + thoughts.len());
    let m_aad = crate::mirror::content_aad(user_id);
    let t_aad = crate::turn::thought_aad(user_id);
    for m in &messages {
        texts.push(state.cipher.open_string(m, &m_aad)?);
    }
    for t in &thoughts {
        texts.push(state.cipher.open_string(t, &t_aad)?);
    }
    Ok(Shingles::of(texts.iter().map(String::as_str)))
}

/// Numbers only (never six words of anyone's writing): the last resort.
fn headline(period: &str, a: &Aggregates) -> String {
    format!(
        "Your {period}: {} sessions, {} turns.",
        a.activity.sessions, a.activity.turns
    )
}

/// Aggregates a week, writes its insight and stores both.
pub async fn run_weekly(state: &AppState, user_id: &str, start: NaiveDate) -> anyhow::Result<()> {
    let start = week_start(start);
    let end = start + chrono::Duration::days(6);
    let prev = start - chrono::Duration::days(7);
    let (s, t) = aggregate::load(state, user_id, prev, end).await?;
    let prev_hi = ymd(start - chrono::Duration::days(1));
    let (ps, cs): (Vec<_>, Vec<_>) = s.into_iter().partition(|r| r.local_date <= prev_hi);
    let (pt, ct): (Vec<_>, Vec<_>) = t.into_iter().partition(|r| r.local_date <= prev_hi);
    let agg = aggregate::summarise(start, end, &cs, &ct, Some((&ps, &pt)));
    let summary = aggregate::period_summary(&agg, aggregate::previous_mean(&agg));
    let tz = super::user_tz(state, user_id).await?;
    let shingles = raw_shingles(state, user_id, tz, start, end).await?;
    let seed = crate::generation::seed(&[user_id, &ymd(start), "weekly"]);
    let insight = insight::write(
        state,
        user_id,
        "spectrum_weekly",
        &shingles,
        seed,
        &headline("week", &agg),
        |s| insight::weekly(&summary, s),
    )
    .await?;
    drop(shingles);
    store(
        state,
        "spectrum_weekly",
        "week_start",
        user_id,
        &ymd(start),
        Some(&iso_week(start)),
        &agg,
        &insight,
    )
    .await
}

/// Aggregates a month, writes its narrative and stores both.
pub async fn run_monthly(
    state: &AppState,
    user_id: &str,
    year: i32,
    month: u32,
) -> anyhow::Result<()> {
    let (first, last) = month_bounds(year, month).ok_or_else(|| anyhow::anyhow!("bad month"))?;
    let (py, pm) = if month == 1 {
        (year - 1, 12)
    } else {
        (year, month - 1)
    };
    let (pfirst, _) = month_bounds(py, pm).ok_or_else(|| anyhow::anyhow!("bad month"))?;
    let (s, t) = aggregate::load(state, user_id, pfirst, last).await?;
    let lo = ymd(first);
    let (cs, ps): (Vec<_>, Vec<_>) = s.into_iter().partition(|r| r.local_date >= lo);
    let (ct, pt): (Vec<_>, Vec<_>) = t.into_iter().partition(|r| r.local_date >= lo);
    let agg = aggregate::summarise(first, last, &cs, &ct, Some((&ps, &pt)));
    let summary = aggregate::period_summary(&agg, aggregate::previous_mean(&agg));
    let tz = super::user_tz(state, user_id).await?;
    let shingles = raw_shingles(state, user_id, tz, first, last).await?;
    let key = format!("{year:04}-{month:02}");
    let seed = crate::generation::seed(&[user_id, &key, "monthly"]);
    let insight = insight::write(
        state,
        user_id,
        "spectrum_monthly",
        &shingles,
        seed,
        &headline("month", &agg),
        |s| insight::monthly(&summary, s),
    )
    .await?;
    drop(shingles);
    store(
        state,
        "spectrum_monthly",
        "month",
        user_id,
        &key,
        None,
        &agg,
        &insight,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn store(
    state: &AppState,
    table: &str,
    key_col: &str,
    user_id: &str,
    key: &str,
    iso: Option<&str>,
    agg: &Aggregates,
    insight: &insight::Insight,
) -> anyhow::Result<()> {
    // Placeholders in order: iso_week ($12) only for weeks, computed_at last.
    let (iso_col, iso_val, iso_set, at) = match iso {
        Some(_) => (", iso_week", ", $12", ", iso_week = excluded.iso_week", 13),
        None => ("", "", "", 12),
    };
    let sql = format!(
        "INSERT INTO {table} (id, user_id, {key_col}, sessions, turns, aggregates, insight, insight_status, model, \
           prompt_version, attempts{iso_col}, computed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11{iso_val}, ${at}) \
         ON CONFLICT (user_id, {key_col}) DO UPDATE SET sessions = excluded.sessions, turns = excluded.turns, \
           aggregates = excluded.aggregates, insight = excluded.insight, insight_status = excluded.insight_status, \
           model = excluded.model, prompt_version = excluded.prompt_version, attempts = excluded.attempts, \
           computed_at = excluded.computed_at{iso_set}"
    );
    let mut q = sqlx::query(&sql)
        .bind(kalei_store::new_id())
        .bind(user_id)
        .bind(key)
        .bind(agg.activity.sessions)
        .bind(agg.activity.turns)
        .bind(serde_json::to_string(agg)?)
        .bind(&insight.text)
        .bind(insight.status)
        .bind(&insight.provenance.model)
        .bind(&insight.provenance.prompt_version)
        .bind(insight.attempts);
    if let Some(iso) = iso {
        q = q.bind(iso);
    }
    q.bind(state.clock.now_ms())
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// After an item of `local_date` changed (analysed, excluded, restored):
/// recompute the week (and month) it belongs to when those were already
/// aggregated, so the change shows without waiting for the next run.
pub async fn recompute_for(state: &AppState, user_id: &str, local_date: &str) -> JobResult {
    let Ok(date) = NaiveDate::parse_from_str(local_date, "%Y-%m-%d") else {
        return Ok(JobOutcome::Completed);
    };
    let week = ymd(week_start(date));
    let month = format!("{:04}-{:02}", date.year(), date.month());
    let now = state.clock.now_ms();
    let has_week: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM spectrum_weekly WHERE user_id = $1 AND week_start = $2")
            .bind(user_id)
            .bind(&week)
            .fetch_optional(state.db.pool())
            .await?;
    if has_week.is_some() {
        let p = WeeklyPayload {
            user_id: user_id.into(),
            week_start: week.clone(),
        };
        state
            .jobs
            .insert(NewJob::of::<WeeklySpectrum>(&p)?.unique_key(format!(
                "weekly:{user_id}:{}:recompute:{now}",
                iso_week(week_start(date))
            )))
            .await?;
    }
    let has_month: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM spectrum_monthly WHERE user_id = $1 AND month = $2")
            .bind(user_id)
            .bind(&month)
            .fetch_optional(state.db.pool())
            .await?;
    if has_month.is_some() {
        let p = MonthlyPayload {
            user_id: user_id.into(),
            month: month.clone(),
        };
        state
            .jobs
            .insert(
                NewJob::of::<MonthlySpectrum>(&p)?
                    .unique_key(format!("monthly:{user_id}:{month}:recompute:{now}")),
            )
            .await?;
    }
    Ok(JobOutcome::Completed)
}
